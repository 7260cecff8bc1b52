// Layer-normalised LSTM layer, forward and backward over a whole sequence. The equations are in
// layer_norm_lstm.h; the threading is lstm.cpp's (a team per direction, hidden units split in
// panels) with the row statistics merged between a team's threads at barriers.
//
// This file is compiled once per CPU capability (CPU_CAPABILITY names the namespace).
#include "kernels/layer_norm_lstm.h"

#include "kernels/gemm.h"
#include "kernels/normalization.h"
#include "kernels/packed_matrix.h"
#include "kernels/parallel.h"
#include "kernels/recurrence.h"
#include "kernels/team.h"
#include "kernels/vec_math.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace torch_ext::kernels {
namespace CPU_CAPABILITY {
namespace {

constexpr int64_t kGates = 4;

// --- forward ------------------------------------------------------------------------------------------

// A gate's pre-activation from the normalised products: ĝi ⊙ w_ih_ln + ĝh ⊙ w_hh_ln + (b_ih_ln +
// b_hh_ln + b, summed once per call), for the columns [col, col + c). The forward forms it once;
// training saves ĝi and ĝh, not the activations, and the backward forms it again (two FMAs and
// one σ or tanh per value cost less than writing, and faulting in, a third [N, 4H] buffer at
// every call).
template <typename scalar_t>
C10_ALWAYS_INLINE Vec<scalar_t> gate_pre(const LayerNormLstmWeights<scalar_t>& w,
                                         const scalar_t* gi_hat, Vec<scalar_t> gh_hat, int64_t col,
                                         int64_t c) {
  const Vec<scalar_t> hidden_part =
      at::vec::fmadd(gh_hat, load(w.ln_hh_weight + col, c), load(w.bias + col, c));
  return at::vec::fmadd(load(gi_hat + col, c), load(w.ln_ih_weight + col, c), hidden_part);
}

// pre-activations → i, f, g, o and c_t for units [begin, end) of one row; ĝh = (gh − μ)·rstd is
// formed on the way. With Save, ĝh replaces gh (h_t's o is formed again from it); without, the o
// block of gh is overwritten with o.
template <bool Save, typename scalar_t>
void forward_gates_row(int64_t H, Share units, const LayerNormLstmWeights<scalar_t>& w,
                       const scalar_t* gi_hat, scalar_t* gh, scalar_t mean_h, scalar_t rstd_h,
                       scalar_t* c_state, scalar_t* cell_saved) {
  using V = Vec<scalar_t>;
  const V mean(mean_h);
  const V rstd(rstd_h);
  for (int64_t j = units.begin; j < units.end; j += V::size()) {
    const int64_t c = std::min<int64_t>(V::size(), units.end - j);
    V pre[kGates];
    for (int64_t gate = 0; gate < kGates; ++gate) {
      const int64_t col = gate * H + j;
      const V gh_hat = (load(gh + col, c) - mean) * rstd;
      if constexpr (Save) {
        store(gh_hat, gh + col, c);
      }
      pre[gate] = gate_pre(w, gi_hat, gh_hat, col, c);
    }
    const V i = sigmoid(pre[0]);
    const V f = sigmoid(pre[1]);
    const V g = tanh(pre[2]);
    const V cell = f * load(c_state + j, c) + i * g;
    store(cell, c_state + j, c);
    if constexpr (Save) {
      store(cell, cell_saved + j, c);
    } else {
      store(sigmoid(pre[3]), gh + 3 * H + j, c);
    }
  }
}

// h_t = o ⊙ tanh(ĉ ⊙ w_c + b_c) for units [begin, end) of one row. With Save, o is formed from
// the saved ĝi and ĝh of the row; without, it is read from the o block of `hidden`.
template <bool Save, typename scalar_t>
void forward_hidden_row(int64_t H, Share units, const LayerNormLstmWeights<scalar_t>& w,
                        const scalar_t* gi_hat, const scalar_t* hidden, const scalar_t* c_state,
                        scalar_t mean_c, scalar_t rstd_c, scalar_t* cell_hat_saved,
                        scalar_t* h_out, scalar_t* h_state) {
  using V = Vec<scalar_t>;
  const V mean(mean_c);
  const V rstd(rstd_c);
  for (int64_t j = units.begin; j < units.end; j += V::size()) {
    const int64_t c = std::min<int64_t>(V::size(), units.end - j);
    const int64_t col = 3 * H + j;
    V o;
    if constexpr (Save) {
      o = sigmoid(gate_pre(w, gi_hat, load(hidden + col, c), col, c));
    } else {
      o = load(hidden + col, c);
    }
    const V cell_hat = (load(c_state + j, c) - mean) * rstd;
    const V h = o * tanh(cell_hat * load(w.ln_cell_weight + j, c) + load(w.ln_cell_bias + j, c));
    store(h, h_out + j, c);
    store(h, h_state + j, c);
    if constexpr (Save) {
      store(cell_hat, cell_hat_saved + j, c);
    }
  }
}

template <bool Save, typename scalar_t>
void forward_direction(const LayerNormLstmForwardArgs<scalar_t>& args, const Team& team,
                       TeamNormScratch<scalar_t>& scratch, PanelPool* pool) {
  const SequenceLayout& seq = args.sequence;
  const int64_t H = args.hidden_size;
  const int64_t G = kGates * H;
  const LayerNormLstmWeights<scalar_t>& w = args.weights;

  const Share units = unit_share(team, H);
  PackedMatrix<scalar_t> w_hh(w.w_hh, H, kGates, H, /*stride_k=*/1, /*stride_n=*/H,  // W_hhᵀ
                              units.begin, units.end, Products::Native, pool);
  for (int64_t gate = 0; gate < kGates; ++gate) {
    w_hh.pack(gate, units.begin, units.end);
  }
  const StateSource<scalar_t> states{args.output, args.output_stride, args.h0, H};
  const TeamRowParts<Moments<scalar_t>> hidden_moments(scratch.hidden_moments.data(), seq.batch);
  const TeamRowParts<Moments<scalar_t>> cell_moments(scratch.cell_moments.data(), seq.batch);

  for (int64_t position = 0; position < seq.steps && !team.failed(); ++position) {
    const int64_t t = seq.step_at(position, args.reverse);
    const int64_t batch = seq.batch_size(t);
    const int64_t row0 = seq.offset(t);
    scalar_t* hidden = args.hidden_gates + row0 * G;

    // h_{t-1}·W_hhᵀ for this thread's columns, and their part of each row's moments.
    for (int64_t gate = 0; gate < kGates; ++gate) {
      multiply_previous_state(w_hh, seq, t, args.reverse, states, gate, units.begin, units.end,
                              hidden + gate * H + units.begin, G, /*accumulate=*/false);
    }
    for (int64_t b = 0; b < batch; ++b) {
      hidden_moments.publish(team, b, gate_moments(hidden + b * G, kGates, H, units));
    }
    team.sync();

    for (int64_t b = 0; b < batch; ++b) {
      const int64_t row = row0 + b;
      const Moments<scalar_t> m = hidden_moments.merged(team, b, merge_moments<scalar_t>);
      const scalar_t rstd_h = m.rstd(args.eps);
      if (team.rank() == 0) {
        args.rstd[row * kLayerNormLstmStats + 1] = rstd_h;
      }
      forward_gates_row<Save>(H, units, w, args.input_gates + row * G, hidden + b * G, m.mean,
                              rstd_h, args.c_state + b * H, Save ? args.cells + row * H : nullptr);
      cell_moments.publish(team, b,
                           moments(args.c_state + b * H + units.begin, units.end - units.begin));
    }
    team.sync();

    for (int64_t b = 0; b < batch; ++b) {
      const int64_t row = row0 + b;
      const Moments<scalar_t> m = cell_moments.merged(team, b, merge_moments<scalar_t>);
      const scalar_t rstd_c = m.rstd(args.eps);
      if (team.rank() == 0) {
        args.rstd[row * kLayerNormLstmStats + 2] = rstd_c;
      }
      forward_hidden_row<Save>(H, units, w, args.input_gates + row * G, hidden + b * G,
                               args.c_state + b * H, m.mean, rstd_c,
                               Save ? args.cells_hat + row * H : nullptr,
                               args.output + row * args.output_stride, args.h_state + b * H);
    }
    team.sync();  // h_t complete
  }
}

// --- backward -----------------------------------------------------------------------------------------

// First half of a row: from dh (+ dy) the o gate's ∂pre and e (kept for the second half and for
// the cell norm's parameter gradients); returns this thread's part of (Σ e⊙w_c, Σ e⊙w_c⊙ĉ).
template <typename scalar_t>
SumPair<scalar_t> backward_output_row(Share units, const LayerNormLstmWeights<scalar_t>& w,
                                      int64_t H, const scalar_t* gi_hat, const scalar_t* gh_hat,
                                      const scalar_t* cell_hat, const scalar_t* grad_hidden,
                                      const scalar_t* grad_output, scalar_t* grad_pre,
                                      scalar_t* grad_cell_hat) {
  using V = Vec<scalar_t>;
  const V one(scalar_t(1));
  V sum_g(scalar_t(0));
  V sum_g_xhat(scalar_t(0));
  for (int64_t j = units.begin; j < units.end; j += V::size()) {
    const int64_t c = std::min<int64_t>(V::size(), units.end - j);
    const int64_t col = 3 * H + j;
    const V o = sigmoid(gate_pre(w, gi_hat, load(gh_hat + col, c), col, c));
    const V xhat = load(cell_hat + j, c);
    const V weight = load(w.ln_cell_weight + j, c);
    const V squashed = tanh(xhat * weight + load(w.ln_cell_bias + j, c));
    V dh = load(grad_hidden + j, c);
    if (grad_output != nullptr) {
      dh = dh + load(grad_output + j, c);
    }
    store(dh * squashed * o * (one - o), grad_pre + 3 * H + j, c);
    const V e = dh * o * (one - squashed * squashed);  // zero past c: o is
    store(e, grad_cell_hat + j, c);
    const V g = e * weight;
    sum_g = sum_g + g;
    sum_g_xhat = sum_g_xhat + g * xhat;
  }
  return {horizontal_sum(sum_g), horizontal_sum(sum_g_xhat)};
}

// Second half: dc (through the cell norm, plus the carried dc) → ∂pre of i, f, g and dc_{t-1};
// returns this thread's part of (Σ ∂pre⊙w_hh_ln, Σ ∂pre⊙w_hh_ln⊙ĝh) over its columns.
template <typename scalar_t>
SumPair<scalar_t> backward_gates_row(Share units, const LayerNormLstmWeights<scalar_t>& w,
                                     int64_t H, const scalar_t* gi_hat, const scalar_t* gh_hat,
                                     const scalar_t* cell_hat, const scalar_t* cell_previous,
                                     const scalar_t* grad_cell_hat, SumPair<scalar_t> cell_sums,
                                     scalar_t rstd_c, scalar_t* grad_cell, scalar_t* grad_pre) {
  using V = Vec<scalar_t>;
  const V one(scalar_t(1));
  const scalar_t inverse_h = scalar_t(1) / static_cast<scalar_t>(H);
  const V mean_g(cell_sums.first * inverse_h);
  const V mean_g_xhat(cell_sums.second * inverse_h);
  const V rstd(rstd_c);
  for (int64_t j = units.begin; j < units.end; j += V::size()) {
    const int64_t c = std::min<int64_t>(V::size(), units.end - j);
    V pre[3];
    for (int64_t gate = 0; gate < 3; ++gate) {
      const int64_t col = gate * H + j;
      pre[gate] = gate_pre(w, gi_hat, load(gh_hat + col, c), col, c);
    }
    const V i = sigmoid(pre[0]);
    const V f = sigmoid(pre[1]);
    const V g = tanh(pre[2]);
    const V e_w = load(grad_cell_hat + j, c) * load(w.ln_cell_weight + j, c);
    const V dc = load(grad_cell + j, c) +
                 rstd * (e_w - mean_g - load(cell_hat + j, c) * mean_g_xhat);
    store(dc * f, grad_cell + j, c);
    store(dc * g * i * (one - i), grad_pre + j, c);
    store(dc * load(cell_previous + j, c) * f * (one - f), grad_pre + H + j, c);
    store(dc * i * (one - g * g), grad_pre + 2 * H + j, c);
  }
  V sum_g(scalar_t(0));
  V sum_g_xhat(scalar_t(0));
  for (int64_t gate = 0; gate < kGates; ++gate) {
    for (int64_t j = units.begin; j < units.end; j += V::size()) {
      const int64_t c = std::min<int64_t>(V::size(), units.end - j);
      const int64_t col = gate * H + j;
      const V d = load(grad_pre + col, c);
      const V xhat = load(gh_hat + col, c);
      const V gw = d * load(w.ln_hh_weight + col, c);
      sum_g = sum_g + gw;
      sum_g_xhat = sum_g_xhat + gw * xhat;
    }
  }
  return {horizontal_sum(sum_g), horizontal_sum(sum_g_xhat)};
}

// ∂(h·W_hhᵀ) for this thread's columns, through the hidden norm.
template <typename scalar_t>
void backward_hidden_row(Share units, const LayerNormLstmWeights<scalar_t>& w, int64_t H,
                         const scalar_t* grad_pre, const scalar_t* gh_hat,
                         SumPair<scalar_t> hidden_sums, scalar_t rstd_h,
                         scalar_t* grad_hidden_raw) {
  using V = Vec<scalar_t>;
  const scalar_t inverse_g = scalar_t(1) / static_cast<scalar_t>(kGates * H);
  const V mean_g(hidden_sums.first * inverse_g);
  const V mean_g_xhat(hidden_sums.second * inverse_g);
  const V rstd(rstd_h);
  for (int64_t gate = 0; gate < kGates; ++gate) {
    for (int64_t j = units.begin; j < units.end; j += V::size()) {
      const int64_t c = std::min<int64_t>(V::size(), units.end - j);
      const int64_t col = gate * H + j;
      const V gw = load(grad_pre + col, c) * load(w.ln_hh_weight + col, c);
      store(rstd * (gw - mean_g - load(gh_hat + col, c) * mean_g_xhat), grad_hidden_raw + col, c);
    }
  }
}

template <typename scalar_t>
void backward_direction(const LayerNormLstmBackwardArgs<scalar_t>& args, const Team& team,
                        TeamNormScratch<scalar_t>& scratch, PanelPool* pool) {
  const SequenceLayout& seq = args.sequence;
  const int64_t H = args.hidden_size;
  const int64_t G = kGates * H;
  const LayerNormLstmWeights<scalar_t>& w = args.weights;

  const Share units = unit_share(team, H);
  PackedMatrix<scalar_t> w_hh(w.w_hh, G, 1, H, /*stride_k=*/H, /*stride_n=*/1,  // W_hh [4H, H]
                              units.begin, units.end, Products::Native, pool);
  w_hh.pack(0, units.begin, units.end);
  // The parameter gradients summed in the loop: each thread zeroes (in the first window) and
  // owns its columns.
  if (args.first_window) {
    for (int64_t gate = 0; gate < kGates; ++gate) {
      std::fill(args.grad_ln_hh_weight + gate * H + units.begin,
                args.grad_ln_hh_weight + gate * H + units.end, scalar_t(0));
      std::fill(args.grad_ln_hh_bias + gate * H + units.begin,
                args.grad_ln_hh_bias + gate * H + units.end, scalar_t(0));
    }
    std::fill(args.grad_ln_cell_weight + units.begin, args.grad_ln_cell_weight + units.end,
              scalar_t(0));
    std::fill(args.grad_ln_cell_bias + units.begin, args.grad_ln_cell_bias + units.end,
              scalar_t(0));
  }
  const TeamRowParts<SumPair<scalar_t>> cell_sums(scratch.cell_sums.data(), seq.batch);
  const TeamRowParts<SumPair<scalar_t>> hidden_sums(scratch.hidden_sums.data(), seq.batch);

  // Back through the window's steps; the workspaces hold its rows from workspace_first_row.
  const StepWindow& window = args.window;
  const auto grad_pre = [&](int64_t row) {
    return args.grad_pre + (row - args.workspace_first_row) * G;
  };
  const auto grad_hidden_raw = [&](int64_t row) {
    return args.grad_hidden_raw + (row - args.workspace_first_row) * G;
  };
  for (int64_t position = 0; position < window.steps() && !team.failed(); ++position) {
    const int64_t t = window.step_at(position, !args.reverse);
    const int64_t batch = seq.batch_size(t);
    const int64_t row0 = seq.offset(t);
    const auto cell_previous = [&](int64_t b) {
      const int64_t previous = seq.previous_step(t, b, args.reverse);
      return previous >= 0 ? args.cells + (seq.offset(previous) + b) * H : args.c0 + b * H;
    };

    for (int64_t b = 0; b < batch; ++b) {
      const int64_t row = row0 + b;
      cell_sums.publish(
          team, b,
          backward_output_row(units, w, H, args.input_gates + row * G,
                              args.hidden_gates + row * G, args.cells_hat + row * H,
                              args.grad_h_state + b * H,
                              args.grad_output != nullptr
                                  ? args.grad_output + row * args.grad_output_stride
                                  : nullptr,
                              grad_pre(row), args.grad_cell_hat + b * H));
    }
    team.sync();
    for (int64_t b = 0; b < batch; ++b) {
      const int64_t row = row0 + b;
      hidden_sums.publish(
          team, b,
          backward_gates_row(units, w, H, args.input_gates + row * G,
                             args.hidden_gates + row * G, args.cells_hat + row * H,
                             cell_previous(b),
                             args.grad_cell_hat + b * H,
                             cell_sums.merged(team, b, merge_sums<scalar_t>),
                             args.rstd[row * kLayerNormLstmStats + 2], args.grad_c_state + b * H,
                             grad_pre(row)));
    }
    // The norms' parameter gradients of the step, summed down this thread's columns.
    add_gate_norm_parameter_grads(batch, grad_pre(row0), args.hidden_gates + row0 * G, kGates, H,
                                  units, args.grad_ln_hh_weight, args.grad_ln_hh_bias);
    add_norm_parameter_grads(batch, args.grad_cell_hat, H, args.cells_hat + row0 * H, H, units,
                             args.grad_ln_cell_weight, args.grad_ln_cell_bias);
    team.sync();
    for (int64_t b = 0; b < batch; ++b) {
      const int64_t row = row0 + b;
      backward_hidden_row(units, w, H, grad_pre(row), args.hidden_gates + row * G,
                          hidden_sums.merged(team, b, merge_sums<scalar_t>),
                          args.rstd[row * kLayerNormLstmStats + 1], grad_hidden_raw(row));
    }
    team.sync();  // ∂(h·W_hhᵀ) of the step complete
    // dh_{t-1} = ∂(h·W_hhᵀ) · W_hh for this thread's units.
    w_hh.multiply(batch, grad_hidden_raw(row0), G, 0, units.begin, units.end,
                  args.grad_h_state + units.begin, H, /*accumulate=*/false);
  }
}

template <typename Args>
TeamPlan plan_for(const Args& args) {
  return recurrence_plan(args.sequence, kGates, args.hidden_size, args.hidden_size);
}

// A batch slice's thread packs W_hh whole (the input projection is computed before the loop).
template <typename Args>
int64_t slice_count(const Args& args, int64_t count, const TeamPlan& plan) {
  return batch_slice_count(args.sequence, count, kGates * args.hidden_size * args.hidden_size *
                                                     static_cast<int64_t>(sizeof(*args.weights.w_hh)),
                           plan.work);
}

}  // namespace

template <typename scalar_t>
void layer_norm_lstm_layer_forward(const LayerNormLstmForwardArgs<scalar_t>* directions,
                                   int64_t count) {
  for (int64_t d = 0; d < count; ++d) {
    const LayerNormLstmForwardArgs<scalar_t>& args = directions[d];
    const int64_t G = kGates * args.hidden_size;
    sequence_gemm(args.sequence.rows, G, args.input_size, args.input, args.input_stride,
                  args.weights.w_ih, 1, args.input_size, args.input_gates, G,
                  /*accumulate=*/false);
    normalize_rows(args.input_gates, args.sequence.rows, G, args.eps, args.rstd,
                   kLayerNormLstmStats);
  }
  const TeamPlan plan = plan_for(directions[0]);
  const bool save = directions[0].training;
  const int64_t parts = slice_count(directions[0], count, plan);
  // W_hh of each direction, packed by its threads (the input product is one GEMM, above).
  const int64_t hidden_size = directions[0].hidden_size;
  PanelPool pool(forward_pool_bytes(
      {PackedMatrix<scalar_t>::whole_bytes(hidden_size, kGates, hidden_size, Products::Native)},
      count, parts, plan.team_size));
  using Args = LayerNormLstmForwardArgs<scalar_t>;
  run_directions_with_scratch<TeamNormScratch<scalar_t>>(
      directions, count, parts, plan,
      [](const Args& args, const BatchSlice& slice, int64_t) {
        const int64_t b = slice.begin();
        const int64_t H = args.hidden_size;
        Args result = args;
        result.sequence = slice.layout();
        result.h0 = offset_rows(args.h0, b, H);
        result.h_state = offset_rows(args.h_state, b, H);
        result.c_state = offset_rows(args.c_state, b, H);
        return result;
      },
      [&](const Args& args, const Team& team, TeamNormScratch<scalar_t>& scratch) {
        if (save) {
          forward_direction<true>(args, team, scratch, &pool);
        } else {
          forward_direction<false>(args, team, scratch, &pool);
        }
      });
}

// A window at a time (BackwardRounds), as lstm.cpp's backward. The loop's parameter gradient
// sums go on over the windows; the slices' copies are added once, after the last.
template <typename scalar_t>
void layer_norm_lstm_layer_backward(const LayerNormLstmBackwardArgs<scalar_t>* directions,
                                    int64_t count) {
  const TeamPlan plan = plan_for(directions[0]);
  const int64_t parts = slice_count(directions[0], count, plan);
  const int64_t H = directions[0].hidden_size;
  const int64_t G = kGates * H;
  // The parameter gradients the backward loop sums: ∂w_hh_ln, ∂b_hh_ln ([4H] each), ∂w_c, ∂b_c.
  SliceGradients<scalar_t> sums(count, parts, 2 * G + 2 * H);
  using Args = LayerNormLstmBackwardArgs<scalar_t>;
  run_backward_rounds(
      directions, count, "layer-norm LSTM",
      [&](std::vector<Args>& round) {
        LoopPools pools(round, G * H);
        run_directions_with_scratch<TeamNormScratch<scalar_t>>(
            round.data(), count, parts, plan,
            [&](const Args& args, const BatchSlice& slice, int64_t index) {
              const int64_t b = slice.begin();
              Args result = args;
              result.sequence = slice.layout();
              result.h0 = offset_rows(args.h0, b, H);
              result.c0 = offset_rows(args.c0, b, H);
              result.grad_h_state = offset_rows(args.grad_h_state, b, H);
              result.grad_c_state = offset_rows(args.grad_c_state, b, H);
              result.grad_cell_hat = offset_rows(args.grad_cell_hat, b, H);
              result.grad_ln_hh_weight = sums.target(args.grad_ln_hh_weight, index, 0);
              result.grad_ln_hh_bias = sums.target(args.grad_ln_hh_bias, index, G);
              result.grad_ln_cell_weight = sums.target(args.grad_ln_cell_weight, index, 2 * G);
              result.grad_ln_cell_bias = sums.target(args.grad_ln_cell_bias, index, 2 * G + H);
              return result;
            },
            [&](const Args& args, const Team& team, TeamNormScratch<scalar_t>& scratch) {
              backward_direction(args, team, scratch, pools.of(args));
            });
      },
      [](const Args& args, bool first) {
        layer_norm_window_products(args, args.grad_pre, kGates, kLayerNormLstmStats, first);
      });
  for (int64_t d = 0; d < count; ++d) {
    const Args& args = directions[d];
    sums.add_to(args.grad_ln_hh_weight, d, 0, G);
    sums.add_to(args.grad_ln_hh_bias, d, G, G);
    sums.add_to(args.grad_ln_cell_weight, d, 2 * G, H);
    sums.add_to(args.grad_ln_cell_bias, d, 2 * G + H, H);
  }
}

template void layer_norm_lstm_layer_forward<float>(const LayerNormLstmForwardArgs<float>*, int64_t);
template void layer_norm_lstm_layer_forward<double>(const LayerNormLstmForwardArgs<double>*,
                                                    int64_t);
template void layer_norm_lstm_layer_backward<float>(const LayerNormLstmBackwardArgs<float>*,
                                                    int64_t);
template void layer_norm_lstm_layer_backward<double>(const LayerNormLstmBackwardArgs<double>*,
                                                     int64_t);

}  // namespace CPU_CAPABILITY
}  // namespace torch_ext::kernels
