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

// e^x for float, inline: the library's (Sleef's expf) is a call, and around it the compiler
// spills every live vector of a pointwise pass to the stack. Cody and Waite's reduction
// x = n·ln 2 + r (ln 2 in two parts, so r is exact), e^r by Cephes's degree-7 polynomial
// (≤ 1 ulp on |r| ≤ ln 2 / 2), then 2^n applied (AVX-512: vscalefps; else as 2^⌊n/2⌋ ·
// 2^(n − ⌊n/2⌋)), so n from −150 to 128 needs no special case: past 88.72 the product overflows
// to +inf, below −103.9 it underflows to 0, and between the two the result is correctly scaled,
// subnormals included. NaN stays NaN.
inline Vec<float> exp_float(const Vec<float>& x) {
  using V = Vec<float>;
#if defined(CPU_CAPABILITY_AVX512)
  // The masked forms, with every lane set: the unmasked intrinsics pass GCC an undefined source
  // vector that GCC 12 reports under -Wmaybe-uninitialized (its bug 105593) once inlined here.
  // vmaxps/vminps return their second operand when either is NaN: x's NaN survives.
  constexpr __mmask16 kAll = 0xFFFF;
  const V clamped(_mm512_mask_min_ps(x, kAll, V(89.0f), _mm512_mask_max_ps(x, kAll, V(-104.0f), x)));
  const V scaled = clamped * V(1.44269504088896341f);
  V n(_mm512_mask_roundscale_ps(scaled, kAll, scaled, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
#else
  const V clamped = at::vec::minimum(at::vec::maximum(x, V(-104.0f)), V(89.0f));  // keep NaN
  V n = (clamped * V(1.44269504088896341f)).round();
#endif
  V r = at::vec::fnmadd(n, V(0.693359375f), clamped);
  r = at::vec::fnmadd(n, V(-2.12194440e-4f), r);
  V p(1.9875691500e-4f);
  p = at::vec::fmadd(p, r, V(1.3981999507e-3f));
  p = at::vec::fmadd(p, r, V(8.3334519073e-3f));
  p = at::vec::fmadd(p, r, V(4.1665795894e-2f));
  p = at::vec::fmadd(p, r, V(1.6666665459e-1f));
  p = at::vec::fmadd(p, r, V(5.0000001201e-1f));
  p = at::vec::fmadd(p, r * r, r + V(1.0f));
#if defined(CPU_CAPABILITY_AVX512)
  // vscalefps: p · 2^n in one instruction, with the overflow, gradual underflow and NaN above.
  return V(_mm512_mask_scalef_ps(p, kAll, p, n));
#else
  using Int = at::vec::Vectorized<int32_t>;
  n = V::blendv(n, V(0.0f), n != n);  // a NaN's p is NaN already; its n must convert cleanly
  const V half = (n * V(0.5f)).floor();
  const Int bias(127);
  const Int shift(23);
  const V scale_1 =
      at::vec::cast<float>((at::vec::convert_to_int_of_same_size(half) + bias) << shift);
  const V scale_2 =
      at::vec::cast<float>((at::vec::convert_to_int_of_same_size(n - half) + bias) << shift);
  return p * scale_1 * scale_2;
#endif
}

// σ(x) for float with the inline e^x (the generic σ's division stays: ≤ 2 ulp in all).
template <>
inline Vec<float> sigmoid(const Vec<float>& x) {
  const Vec<float> one(1.0f);
  return one / (one + exp_float(x.neg()));
}

// float: the library tanh (Sleef's 1-ulp tanhf) costs as much as ten exps and was a fifth of an
// LSTM step at small sizes. Below |x| = 0.75, tanh x = x + x³·p(x²), p of degree 5 fitted to the
// relative error (≤ 0.8 ulp); above, tanh |x| = 1 − 2 / (e^{2|x|} + 1) with the sign of x put
// back (≤ 1.5 ulp; e^{2|x|} overflows to +inf past |x| ≈ 44, giving exactly ±1). NaN stays NaN.
// e^{2|x|} is exp_float (declared above: no call in the middle of a pointwise pass).
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
  const V far = one - V(2.0f) / (exp_float(magnitude + magnitude) + one);
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

// `count` ≤ Vec<float>::size() lanes rounded to bfloat16 (to nearest, ties to even: as ATen's
// conversion of a float tensor rounds them).
inline void store(const Vec<float>& value, c10::BFloat16* ptr, int64_t count) {
  const at::vec::Vectorized<c10::BFloat16> rounded = at::vec::convert_float_bfloat16(value, value);
  rounded.store(ptr, static_cast<int>(count));
}

}  // namespace CPU_CAPABILITY
}  // namespace torch_ext::kernels
