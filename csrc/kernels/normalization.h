// Row primitives of layer normalisation, shared by the layer_norm op and the fused layer-norm
// cells. For a row x of n features:
//
//   forward:  μ = Σx / n,  σ² = Σ(x − μ)² / n,  rstd = 1 / √(σ² + eps),  x̂ = (x − μ)·rstd,
//             y = x̂ ⊙ w + b
//   backward: g = dy ⊙ w,  dx = rstd · (g − Σg / n − x̂ · Σ(g ⊙ x̂) / n),
//             dw += dy ⊙ x̂,  db += dy
//
// Moments are taken in two passes (the mean, then squares of deviations from it), so a large mean
// costs no precision, and a row split between threads is merged with Chan's formula for M2.
//
// Included only by kernel files (compiled once per CPU capability).
#pragma once

#include "kernels/vec_math.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace torch_ext::kernels {
namespace CPU_CAPABILITY {

// The count, mean and sum of squared deviations of some features of a row.
template <typename scalar_t>
struct Moments {
  scalar_t count = 0;
  scalar_t mean = 0;
  scalar_t m2 = 0;

  // Merges two disjoint parts (Chan et al.).
  Moments combined(const Moments& other) const {
    const scalar_t total = count + other.count;
    if (total == scalar_t(0)) {
      return {};
    }
    const scalar_t delta = other.mean - mean;
    Moments result;
    result.count = total;
    result.mean = mean + delta * other.count / total;
    result.m2 = m2 + other.m2 + delta * delta * count * other.count / total;
    return result;
  }

  scalar_t rstd(scalar_t eps) const {
    return scalar_t(1) / std::sqrt((count > 0 ? m2 / count : scalar_t(0)) + eps);
  }
};

// Σ x[j] for j < n, vectorised.
template <typename scalar_t>
scalar_t sum(const scalar_t* x, int64_t n) {
  using V = Vec<scalar_t>;
  V accumulator(scalar_t(0));
  for (int64_t j = 0; j < n; j += V::size()) {
    accumulator = accumulator + load(x + j, std::min<int64_t>(V::size(), n - j));
  }
  return horizontal_sum(accumulator);
}

// Moments of x[0..n): a first pass for the mean, a second for the deviations from it, corrected
// by their own sum (the corrected two-pass algorithm: the rounding of the first mean cancels).
template <typename scalar_t>
Moments<scalar_t> moments(const scalar_t* x, int64_t n) {
  using V = Vec<scalar_t>;
  Moments<scalar_t> result;
  if (n <= 0) {
    return result;
  }
  result.count = static_cast<scalar_t>(n);
  const scalar_t first_mean = sum(x, n) / result.count;
  const V mean(first_mean);
  V deviations(scalar_t(0));
  V squares(scalar_t(0));
  for (int64_t j = 0; j < n; j += V::size()) {
    const int64_t c = std::min<int64_t>(V::size(), n - j);
    // Lanes past c load zeros: their deviation is −μ, so mask them out.
    const V deviation = c == V::size() ? load(x + j, c) - mean
                                       : V::set(V(scalar_t(0)), load(x + j, c) - mean, c);
    deviations = deviations + deviation;
    squares = squares + deviation * deviation;
  }
  const scalar_t deviation_sum = horizontal_sum(deviations);
  result.mean = first_mean + deviation_sum / result.count;
  result.m2 = std::max(scalar_t(0),
                       horizontal_sum(squares) - deviation_sum * deviation_sum / result.count);
  return result;
}

// (Σ g, Σ g ⊙ x̂) with g = dy ⊙ w (dy when w is null) and x̂ = (x − μ)·rstd, over n features.
template <typename scalar_t>
void backward_sums(const scalar_t* grad_output, const scalar_t* x, const scalar_t* weight,
                   scalar_t mean, scalar_t rstd, int64_t n, scalar_t& sum_g,
                   scalar_t& sum_g_xhat) {
  using V = Vec<scalar_t>;
  V g_total(scalar_t(0));
  V g_xhat_total(scalar_t(0));
  const V mean_v(mean);
  const V rstd_v(rstd);
  for (int64_t j = 0; j < n; j += V::size()) {
    const int64_t c = std::min<int64_t>(V::size(), n - j);
    V g = load(grad_output + j, c);
    if (weight != nullptr) {
      g = g * load(weight + j, c);
    }
    const V xhat = (load(x + j, c) - mean_v) * rstd_v;
    g_total = g_total + g;
    // Lanes past c hold g = 0, so their products vanish.
    g_xhat_total = g_xhat_total + g * (c == V::size() ? xhat : V::set(V(scalar_t(0)), xhat, c));
  }
  sum_g = horizontal_sum(g_total);
  sum_g_xhat = horizontal_sum(g_xhat_total);
}

}  // namespace CPU_CAPABILITY
}  // namespace torch_ext::kernels
