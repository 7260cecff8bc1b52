// Vectorised activations for the pointwise kernels. Included only by kernel files, which are
// compiled once per CPU capability: everything here lives in that capability's namespace.
#pragma once

#include <ATen/cpu/vec/vec.h>

#include <cstdint>

namespace torch_ext::kernels {
namespace CPU_CAPABILITY {

template <typename scalar_t>
using Vec = at::vec::Vectorized<scalar_t>;

// σ(x) = 1 / (1 + e^{−x}); e^{−x} overflows to +inf for very negative x, giving exactly 0.
template <typename scalar_t>
inline Vec<scalar_t> sigmoid(const Vec<scalar_t>& x) {
  const Vec<scalar_t> one(scalar_t(1));
  return one / (one + x.neg().exp());
}

template <typename scalar_t>
inline Vec<scalar_t> tanh(const Vec<scalar_t>& x) {
  return x.tanh();
}

// float: the library tanh (Sleef's 1-ulp tanhf) costs as much as ten exps and was a fifth of an
// LSTM step at small sizes. Below |x| = 0.75, tanh x = x + x³·p(x²), p of degree 5 fitted to the
// relative error (≤ 0.8 ulp); above, tanh |x| = 1 − 2 / (e^{2|x|} + 1) with the sign of x put
// back (≤ 1.5 ulp; e^{2|x|} overflows to +inf past |x| ≈ 44, giving exactly ±1). NaN stays NaN.
template <>
inline Vec<float> tanh(const Vec<float>& x) {
  using V = Vec<float>;
  const V one(1.0f);
  const V magnitude = x.abs();
  const V square = x * x;
  V p(0.0017424765974283218f);
  p = at::vec::fmadd(p, square, V(-0.0076669794507324696f));
  p = at::vec::fmadd(p, square, V(0.021458469331264496f));
  p = at::vec::fmadd(p, square, V(-0.05389469489455223f));
  p = at::vec::fmadd(p, square, V(0.13332721590995789f));
  p = at::vec::fmadd(p, square, V(-0.33333316445350647f));
  const V near_zero = at::vec::fmadd(x * square, p, x);
  const V far = one - V(2.0f) / ((magnitude + magnitude).exp() + one);
  const V signed_far = far | (x & V(-0.0f));
  return V::blendv(signed_far, near_zero, magnitude < V(0.75f));
}

// The sum of a vector's lanes.
template <typename scalar_t>
inline scalar_t horizontal_sum(const Vec<scalar_t>& v) {
  __at_align__ scalar_t lanes[Vec<scalar_t>::size()];
  v.store(lanes);
  scalar_t total = 0;
  for (int64_t i = 0; i < Vec<scalar_t>::size(); ++i) {
    total += lanes[i];
  }
  return total;
}

// Loads and stores of `count` ≤ Vec::size() lanes, the full-width form when count is the width.
template <typename scalar_t>
inline Vec<scalar_t> load(const scalar_t* ptr, int64_t count) {
  return count == Vec<scalar_t>::size() ? Vec<scalar_t>::loadu(ptr)
                                        : Vec<scalar_t>::loadu(ptr, count);
}

template <typename scalar_t>
inline void store(const Vec<scalar_t>& value, scalar_t* ptr, int64_t count) {
  if (count == Vec<scalar_t>::size()) {
    value.store(ptr);
  } else {
    value.store(ptr, static_cast<int>(count));
  }
}

}  // namespace CPU_CAPABILITY
}  // namespace torch_ext::kernels
