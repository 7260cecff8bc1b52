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

#include "kernels/parallel.h"
#include "kernels/recurrence.h"
#include "kernels/team.h"
#include "kernels/vec_math.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

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

// x̂ = (x − μ)·rstd in place for every row of a [rows, n] matrix; each row's rstd goes to
// rstd[row · rstd_stride].
template <typename scalar_t>
void normalize_rows(scalar_t* matrix, int64_t rows, int64_t n, scalar_t eps, scalar_t* rstd,
                    int64_t rstd_stride) {
  using V = Vec<scalar_t>;
  for_each_row_block(rows, n, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      scalar_t* x = matrix + row * n;
      const Moments<scalar_t> m = moments(x, n);
      const scalar_t row_rstd = m.rstd(eps);
      rstd[row * rstd_stride] = row_rstd;
      const V mean(m.mean);
      const V scale(row_rstd);
      for (int64_t j = 0; j < n; j += V::size()) {
        const int64_t c = std::min<int64_t>(V::size(), n - j);
        store((load(x + j, c) - mean) * scale, x + j, c);
      }
    }
  });
}

// Adds a layer norm's parameter gradients over `rows` rows for the columns `columns`:
// Σ dy ⊙ x̂ to grad_weight and Σ dy to grad_bias (dy rows `grad_stride` apart, x̂ rows
// `xhat_stride` apart), summed down each column in registers.
template <typename scalar_t>
void add_norm_parameter_grads(int64_t rows, const scalar_t* grad, int64_t grad_stride,
                              const scalar_t* xhat, int64_t xhat_stride, Share columns,
                              scalar_t* grad_weight, scalar_t* grad_bias) {
  using V = Vec<scalar_t>;
  for (int64_t j = columns.begin; j < columns.end; j += V::size()) {
    const int64_t c = std::min<int64_t>(V::size(), columns.end - j);
    V weight_sum = load(grad_weight + j, c);
    V bias_sum = load(grad_bias + j, c);
    for (int64_t row = 0; row < rows; ++row) {
      const V d = load(grad + row * grad_stride + j, c);
      weight_sum = weight_sum + d * load(xhat + row * xhat_stride + j, c);
      bias_sum = bias_sum + d;
    }
    store(weight_sum, grad_weight + j, c);
    store(bias_sum, grad_bias + j, c);
  }
}

// The same for a gate-blocked row of `gates` blocks of `hidden_size` columns (rows
// gates · hidden_size apart), over a thread's `units` of every block.
template <typename scalar_t>
void add_gate_norm_parameter_grads(int64_t rows, const scalar_t* grad, const scalar_t* xhat,
                                   int64_t gates, int64_t hidden_size, Share units,
                                   scalar_t* grad_weight, scalar_t* grad_bias) {
  const int64_t stride = gates * hidden_size;
  for (int64_t gate = 0; gate < gates; ++gate) {
    const int64_t offset = gate * hidden_size;
    add_norm_parameter_grads(rows, grad, stride, xhat, stride,
                             Share{offset + units.begin, offset + units.end}, grad_weight,
                             grad_bias);
  }
}

// Through y = x̂ ⊙ w + b over rows of a [rows, n] matrix whose x̂ was saved: dy (`grad`) becomes
// dx in place, and ∂w = Σ dy ⊙ x̂, ∂b = Σ dy are written, or added to them when `accumulate`
// (threads sum their rows separately, then the parts are added).
template <typename scalar_t>
void layer_norm_backward_saved(scalar_t* grad, const scalar_t* xhat, int64_t rows, int64_t n,
                               const scalar_t* rstd, int64_t rstd_stride, const scalar_t* weight,
                               scalar_t* grad_weight, scalar_t* grad_bias,
                               bool accumulate = false) {
  using V = Vec<scalar_t>;
  const int64_t blocks = std::max<int64_t>(
      1, std::min<int64_t>(at::get_num_threads(), rows * n / kValuesPerTask));
  std::vector<scalar_t> partial(static_cast<size_t>(blocks * 2 * n), scalar_t(0));
  const scalar_t inverse_n = scalar_t(1) / static_cast<scalar_t>(std::max<int64_t>(n, 1));
  at::parallel_for(0, blocks, 1, [&](int64_t first, int64_t last) {
    for (int64_t block = first; block < last; ++block) {
      const Share share = share_of(rows, block, blocks);
      scalar_t* weight_sum = partial.data() + block * 2 * n;
      scalar_t* bias_sum = weight_sum + n;
      for (int64_t row = share.begin; row < share.end; ++row) {
        scalar_t* dy = grad + row * n;
        const scalar_t* x = xhat + row * n;
        V g_total(scalar_t(0));
        V g_xhat_total(scalar_t(0));
        for (int64_t j = 0; j < n; j += V::size()) {
          const int64_t c = std::min<int64_t>(V::size(), n - j);
          const V d = load(dy + j, c);
          const V xh = load(x + j, c);
          store(load(weight_sum + j, c) + d * xh, weight_sum + j, c);
          store(load(bias_sum + j, c) + d, bias_sum + j, c);
          const V g = d * load(weight + j, c);
          g_total = g_total + g;
          g_xhat_total = g_xhat_total + g * xh;
        }
        const V mean_g(horizontal_sum(g_total) * inverse_n);
        const V mean_g_xhat(horizontal_sum(g_xhat_total) * inverse_n);
        const V row_rstd(rstd[row * rstd_stride]);
        for (int64_t j = 0; j < n; j += V::size()) {
          const int64_t c = std::min<int64_t>(V::size(), n - j);
          const V g = load(dy + j, c) * load(weight + j, c);
          store(row_rstd * (g - mean_g - load(x + j, c) * mean_g_xhat), dy + j, c);
        }
      }
    }
  });
  for (int64_t j = 0; j < n; ++j) {
    scalar_t weight_total = 0;
    scalar_t bias_total = 0;
    for (int64_t block = 0; block < blocks; ++block) {
      weight_total += partial[static_cast<size_t>(block * 2 * n + j)];
      bias_total += partial[static_cast<size_t>(block * 2 * n + n + j)];
    }
    grad_weight[j] = accumulate ? grad_weight[j] + weight_total : weight_total;
    grad_bias[j] = accumulate ? grad_bias[j] + bias_total : bias_total;
  }
}

// Row statistics when a team's threads each hold some features of every row: a thread publishes
// its part of row `row`, the team syncs, then every thread merges all parts of the rows it needs.
// `storage` has room for (team size) × rows parts.
template <typename Part>
class TeamRowParts {
 public:
  TeamRowParts(Part* storage, int64_t rows) : storage_(storage), rows_(rows) {}

  void publish(const Team& team, int64_t row, const Part& part) const {
    storage_[team.rank() * rows_ + row] = part;
  }

  template <typename Merge>
  Part merged(const Team& team, int64_t row, const Merge& merge) const {
    Part result = storage_[row];
    for (int64_t rank = 1; rank < team.size(); ++rank) {
      result = merge(result, storage_[rank * rows_ + row]);
    }
    return result;
  }

 private:
  Part* storage_;
  int64_t rows_;
};

// Two sums published together (Σ g and Σ g ⊙ x̂ of a row's part).
template <typename scalar_t>
struct SumPair {
  scalar_t first = 0;
  scalar_t second = 0;
  SumPair operator+(const SumPair& other) const {
    return {first + other.first, second + other.second};
  }
};

template <typename scalar_t>
Moments<scalar_t> merge_moments(const Moments<scalar_t>& a, const Moments<scalar_t>& b) {
  return a.combined(b);
}

template <typename scalar_t>
SumPair<scalar_t> merge_sums(const SumPair<scalar_t>& a, const SumPair<scalar_t>& b) {
  return a + b;
}

// Moments of a thread's columns of a gates row: units [begin, end) of each of the gates.
template <typename scalar_t>
Moments<scalar_t> gate_moments(const scalar_t* row, int64_t gates, int64_t hidden_size,
                               Share units) {
  Moments<scalar_t> total;
  for (int64_t gate = 0; gate < gates; ++gate) {
    total = total.combined(moments(row + gate * hidden_size + units.begin, units.end - units.begin));
  }
  return total;
}

// Scratch a team of a layer-norm cell shares: the parts of its per-row statistics, one set per
// normalisation, so that a set is rewritten only after every thread has passed the barrier that
// follows its merge.
template <typename scalar_t>
struct TeamNormScratch {
  std::vector<Moments<scalar_t>> hidden_moments, cell_moments;
  std::vector<SumPair<scalar_t>> hidden_sums, cell_sums;
  TeamNormScratch(int64_t team_size, int64_t batch)
      : hidden_moments(static_cast<size_t>(team_size * batch)),
        cell_moments(static_cast<size_t>(team_size * batch)),
        hidden_sums(static_cast<size_t>(team_size * batch)),
        cell_sums(static_cast<size_t>(team_size * batch)) {}
};

// Parameter gradients a layer-norm cell sums inside its time loop, when each direction runs as
// `parts` batch slices (recurrence.h): the first slice of a direction sums into the result, every
// other slice into a copy of its own (`width` values per slice, gradients at fixed offsets in it),
// added to the result after the loop.
template <typename scalar_t>
class SliceGradients {
 public:
  SliceGradients(int64_t directions, int64_t parts, int64_t width)
      : parts_(std::max<int64_t>(1, parts)),
        width_(width),
        copies_(static_cast<size_t>(parts_ > 1 ? directions * parts_ * width : 0)) {}

  // Where slice number `index` (direction·parts + slice) sums the gradient whose result is
  // `result`, stored `offset` values into a slice's copy.
  scalar_t* target(scalar_t* result, int64_t index, int64_t offset) {
    return index % parts_ == 0 ? result : copies_.data() + index * width_ + offset;
  }

  // result[0, n) += the other slices' sums of direction `direction`.
  void add_to(scalar_t* result, int64_t direction, int64_t offset, int64_t n) const {
    for (int64_t part = 1; part < parts_; ++part) {
      const scalar_t* copy = copies_.data() + (direction * parts_ + part) * width_ + offset;
      for (int64_t j = 0; j < n; ++j) {
        result[j] += copy[j];
      }
    }
  }

 private:
  int64_t parts_;
  int64_t width_;
  std::vector<scalar_t> copies_;
};

// The products of a layer-norm cell's backward window after its loop (layer_norm_lstm.cpp,
// layer_norm_gru.cpp): through the input norm (`grad_input_gates`, the window's ∂ of the
// normalised input gates, becomes ∂(x·W_ihᵀ) in place; `gates` columns, `stats` saved values per
// row), then the window's rows of dX and its terms of ∂W_ih and ∂W_hh, added to the earlier
// windows' unless `first`.
template <typename Args, typename scalar_t>
void layer_norm_window_products(const Args& args, scalar_t* grad_input_gates, int64_t gates,
                                int64_t stats, bool first) {
  const SequenceLayout& seq = args.sequence;
  const int64_t row0 = args.workspace_first_row;
  const int64_t rows = args.window.rows(seq);
  const int64_t H = args.hidden_size;
  const int64_t I = args.input_size;
  const int64_t G = gates * H;
  layer_norm_backward_saved(grad_input_gates, args.input_gates + row0 * G, rows, G,
                            args.rstd + row0 * stats, stats, args.weights.ln_ih_weight,
                            args.grad_ln_ih_weight, args.grad_ln_ih_bias, /*accumulate=*/!first);
  if (args.grad_input != nullptr && rows > 0) {
    sequence_gemm(rows, I, G, grad_input_gates, G, args.weights.w_ih, I, 1,
                  args.grad_input + row0 * args.grad_input_stride, args.grad_input_stride,
                  args.accumulate_grad_input);
  }
  gemm(Transpose::Yes, Transpose::No, G, I, rows, scalar_t(1), grad_input_gates, G,
       args.input + row0 * args.input_stride, args.input_stride, first ? scalar_t(0) : scalar_t(1),
       args.grad_w_ih, I);
  const StateSource<scalar_t> states{args.output, args.output_stride, args.h0, H};
  grad_weight_hh(seq, args.window, args.reverse, states, args.grad_hidden_raw, G, G,
                 args.previous_h, OutputRows<scalar_t>{args.grad_w_hh, nullptr, H},
                 /*accumulate=*/!first);
}

}  // namespace CPU_CAPABILITY
}  // namespace torch_ext::kernels
