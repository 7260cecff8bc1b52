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
