// Layer-normalised GRU layer, forward and backward over a whole sequence. The equations are in
// layer_norm_gru.h; the threading is layer_norm_lstm.cpp's.
//
// This file is compiled once per CPU capability (CPU_CAPABILITY names the namespace).
#include "kernels/layer_norm_gru.h"

#include "kernels/gemm.h"
#include "kernels/normalization.h"
#include "kernels/packed_matrix.h"
#include "kernels/parallel.h"
#include "kernels/recurrence.h"
#include "kernels/team.h"
#include "kernels/vec_math.h"

#include <algorithm>
#include <vector>

namespace torch_ext::kernels {
namespace CPU_CAPABILITY {
namespace {

constexpr int64_t kGates = 3;

// The gates of the columns [j, j + c) of one row from ĝi and ĝh: gi = ĝi ⊙ w_ih_ln + (b_ih_ln +
// b_ih), gh = ĝh ⊙ w_hh_ln + (b_hh_ln + b_hh), the constants summed once per call; r, z, n as in
// layer_norm_gru.h; gh_n is kept for the backward's dr. The forward forms them once; training
// saves ĝi and ĝh, not r, z, n, and the backward forms them again (a few FMAs and three σ/tanh
// per unit cost less than writing, and faulting in, a third [N, 3H] buffer at every call).
template <typename scalar_t>
struct GruGates {
  Vec<scalar_t> r, z, n, gh_n;
};

template <typename scalar_t>
C10_ALWAYS_INLINE GruGates<scalar_t> gru_gates(int64_t H, const LayerNormGruWeights<scalar_t>& w,
                                               const scalar_t* gi_hat,
                                               const Vec<scalar_t> (&gh_hat)[kGates], int64_t j,
                                               int64_t c) {
  using V = Vec<scalar_t>;
  V input_part[kGates];
  V hidden_part[kGates];
  for (int64_t gate = 0; gate < kGates; ++gate) {
    const int64_t col = gate * H + j;
    input_part[gate] = at::vec::fmadd(load(gi_hat + col, c), load(w.ln_ih_weight + col, c),
                                      load(w.input_bias + col, c));
    hidden_part[gate] = at::vec::fmadd(gh_hat[gate], load(w.ln_hh_weight + col, c),
                                       load(w.hidden_bias + col, c));
  }
  const V r = sigmoid(input_part[0] + hidden_part[0]);
  const V z = sigmoid(input_part[1] + hidden_part[1]);
  const V n = tanh(input_part[2] + r * hidden_part[2]);
  return {r, z, n, hidden_part[2]};
}

// h_t for units [begin, end) of one row, ĝh = (gh − μ)·rstd formed on the way; with Save, ĝh
// replaces gh.
template <bool Save, typename scalar_t>
void forward_row(int64_t H, Share units, const LayerNormGruWeights<scalar_t>& w,
                 const scalar_t* gi_hat, scalar_t* gh, scalar_t mean_h, scalar_t rstd_h,
                 const scalar_t* h_previous, scalar_t* h_out, scalar_t* h_state) {
  using V = Vec<scalar_t>;
  const V mean(mean_h);
  const V rstd(rstd_h);
  for (int64_t j = units.begin; j < units.end; j += V::size()) {
    const int64_t c = std::min<int64_t>(V::size(), units.end - j);
    V gh_hat[kGates];
    for (int64_t gate = 0; gate < kGates; ++gate) {
      const int64_t col = gate * H + j;
      gh_hat[gate] = (load(gh + col, c) - mean) * rstd;
      if constexpr (Save) {
        store(gh_hat[gate], gh + col, c);
      }
    }
    const GruGates<scalar_t> gates = gru_gates(H, w, gi_hat, gh_hat, j, c);
    const V h = gates.n + gates.z * (load(h_previous + j, c) - gates.n);
    store(h, h_out + j, c);
    store(h, h_state + j, c);
  }
}

template <bool Save, typename scalar_t>
void forward_direction(const LayerNormGruForwardArgs<scalar_t>& args, const Team& team,
                       TeamNormScratch<scalar_t>& scratch, PanelPool* pool) {
  const SequenceLayout& seq = args.sequence;
  const int64_t H = args.hidden_size;
  const int64_t G = kGates * H;

  const Share units = unit_share(team, H);
  PackedMatrix<scalar_t> w_hh(args.weights.w_hh, H, kGates, H, /*stride_k=*/1, /*stride_n=*/H,
                              units.begin, units.end, Products::Native, pool);
  for (int64_t gate = 0; gate < kGates; ++gate) {
    w_hh.pack(gate, units.begin, units.end);
  }
  const StateSource<scalar_t> states{args.output, args.output_stride, args.h0, H};
  const TeamRowParts<Moments<scalar_t>> hidden_moments(scratch.hidden_moments.data(), seq.batch);

  for (int64_t position = 0; position < seq.steps && !team.failed(); ++position) {
    const int64_t t = seq.step_at(position, args.reverse);
    const int64_t batch = seq.batch_size(t);
    const int64_t row0 = seq.offset(t);
    scalar_t* hidden = args.hidden_gates + row0 * G;

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
        args.rstd[row * kLayerNormGruStats + 1] = rstd_h;
      }
      forward_row<Save>(H, units, args.weights, args.input_gates + row * G, hidden + b * G, m.mean,
                        rstd_h, states.previous(seq, t, b, args.reverse),
                        args.output + row * args.output_stride, args.h_state + b * H);
    }
    team.sync();  // h_t complete
  }
}

// From dh (+ dy): ∂gi, ∂gh (in place of the row's ∂(h·W_hhᵀ): the step sums the hidden norm's
// parameter gradients from it, then finish_hidden_row makes it ∂(h·W_hhᵀ)) and the direct part
// dh ⊙ z of dh_{t-1}; returns this thread's part of (Σ ∂gh⊙w_hh_ln, Σ ∂gh⊙w_hh_ln⊙ĝh).
template <typename scalar_t>
SumPair<scalar_t> backward_row(int64_t H, Share units, const LayerNormGruWeights<scalar_t>& w,
                               const scalar_t* gi_hat, const scalar_t* gh_hat,
                               const scalar_t* h_previous, scalar_t* grad_hidden,
                               const scalar_t* grad_output, scalar_t* grad_input_gates,
                               scalar_t* grad_hidden_raw) {
  using V = Vec<scalar_t>;
  const V one(scalar_t(1));
  V sum_g(scalar_t(0));
  V sum_g_xhat(scalar_t(0));
  for (int64_t j = units.begin; j < units.end; j += V::size()) {
    const int64_t c = std::min<int64_t>(V::size(), units.end - j);
    V saved_gh_hat[kGates];
    for (int64_t gate = 0; gate < kGates; ++gate) {
      saved_gh_hat[gate] = load(gh_hat + gate * H + j, c);
    }
    const auto [r, z, n, gh_n] = gru_gates(H, w, gi_hat, saved_gh_hat, j, c);
    V dh = load(grad_hidden + j, c);
    if (grad_output != nullptr) {
      dh = dh + load(grad_output + j, c);
    }
    const V dn = dh * (one - z) * (one - n * n);
    const V dz = dh * (load(h_previous + j, c) - n) * z * (one - z);
    const V dr = dn * gh_n * r * (one - r);
    store(dh * z, grad_hidden + j, c);
    store(dr, grad_input_gates + j, c);
    store(dz, grad_input_gates + H + j, c);
    store(dn, grad_input_gates + 2 * H + j, c);
    const V grad_gh[kGates] = {dr, dz, dn * r};
    for (int64_t gate = 0; gate < kGates; ++gate) {
      const int64_t col = gate * H + j;
      const V xhat = saved_gh_hat[gate];
      store(grad_gh[gate], grad_hidden_raw + col, c);
      const V g = grad_gh[gate] * load(w.ln_hh_weight + col, c);
      sum_g = sum_g + g;
      sum_g_xhat = sum_g_xhat + g * xhat;
    }
  }
  return {horizontal_sum(sum_g), horizontal_sum(sum_g_xhat)};
}

// ∂(h·W_hhᵀ) = rstd · (g − Σg/3H − ĝh · Σ(g⊙ĝh)/3H), g = ∂gh ⊙ w_hh_ln, for this thread's
// columns, in place of ∂gh.
template <typename scalar_t>
void finish_hidden_row(int64_t H, Share units, const LayerNormGruWeights<scalar_t>& w,
                       const scalar_t* gh_hat, SumPair<scalar_t> sums, scalar_t rstd_h,
                       scalar_t* grad_hidden_raw) {
  using V = Vec<scalar_t>;
  const scalar_t inverse = scalar_t(1) / static_cast<scalar_t>(kGates * H);
  const V mean_g(sums.first * inverse);
  const V mean_g_xhat(sums.second * inverse);
  const V rstd(rstd_h);
  for (int64_t gate = 0; gate < kGates; ++gate) {
    for (int64_t j = units.begin; j < units.end; j += V::size()) {
      const int64_t c = std::min<int64_t>(V::size(), units.end - j);
      const int64_t col = gate * H + j;
      const V g = load(grad_hidden_raw + col, c) * load(w.ln_hh_weight + col, c);
      store(rstd * (g - mean_g - load(gh_hat + col, c) * mean_g_xhat), grad_hidden_raw + col, c);
    }
  }
}

template <typename scalar_t>
void backward_direction(const LayerNormGruBackwardArgs<scalar_t>& args, const Team& team,
                        TeamNormScratch<scalar_t>& scratch, PanelPool* pool) {
  const SequenceLayout& seq = args.sequence;
  const int64_t H = args.hidden_size;
  const int64_t G = kGates * H;

  const Share units = unit_share(team, H);
  PackedMatrix<scalar_t> w_hh(args.weights.w_hh, G, 1, H, /*stride_k=*/H, /*stride_n=*/1,
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
  }
  const StateSource<scalar_t> states{args.output, args.output_stride, args.h0, H};
  const TeamRowParts<SumPair<scalar_t>> hidden_sums(scratch.hidden_sums.data(), seq.batch);

  // Back through the window's steps; the workspaces hold its rows from workspace_first_row.
  const StepWindow& window = args.window;
  const auto grad_input_gates = [&](int64_t row) {
    return args.grad_input_gates + (row - args.workspace_first_row) * G;
  };
  const auto grad_hidden_raw = [&](int64_t row) {
    return args.grad_hidden_raw + (row - args.workspace_first_row) * G;
  };
  for (int64_t position = 0; position < window.steps() && !team.failed(); ++position) {
    const int64_t t = window.step_at(position, !args.reverse);
    const int64_t batch = seq.batch_size(t);
    const int64_t row0 = seq.offset(t);
    for (int64_t b = 0; b < batch; ++b) {
      const int64_t row = row0 + b;
      hidden_sums.publish(
          team, b,
          backward_row(H, units, args.weights, args.input_gates + row * G,
                       args.hidden_gates + row * G, states.previous(seq, t, b, args.reverse),
                       args.grad_h_state + b * H,
                       args.grad_output != nullptr
                           ? args.grad_output + row * args.grad_output_stride
                           : nullptr,
                       grad_input_gates(row), grad_hidden_raw(row)));
    }
    // The hidden norm's parameter gradients of the step, summed down this thread's columns.
    add_gate_norm_parameter_grads(batch, grad_hidden_raw(row0), args.hidden_gates + row0 * G,
                                  kGates, H, units, args.grad_ln_hh_weight,
                                  args.grad_ln_hh_bias);
    team.sync();
    for (int64_t b = 0; b < batch; ++b) {
      const int64_t row = row0 + b;
      finish_hidden_row(H, units, args.weights, args.hidden_gates + row * G,
                        hidden_sums.merged(team, b, merge_sums<scalar_t>),
                        args.rstd[row * kLayerNormGruStats + 1], grad_hidden_raw(row));
    }
    team.sync();  // ∂(h·W_hhᵀ) of the step complete
    w_hh.multiply(batch, grad_hidden_raw(row0), G, 0, units.begin, units.end,
                  args.grad_h_state + units.begin, H, /*accumulate=*/true);
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
void layer_norm_gru_layer_forward(const LayerNormGruForwardArgs<scalar_t>* directions,
                                  int64_t count) {
  for (int64_t d = 0; d < count; ++d) {
    const LayerNormGruForwardArgs<scalar_t>& args = directions[d];
    const int64_t G = kGates * args.hidden_size;
    sequence_gemm(args.sequence.rows, G, args.input_size, args.input, args.input_stride,
                  args.weights.w_ih, 1, args.input_size, args.input_gates, G,
                  /*accumulate=*/false);
    normalize_rows(args.input_gates, args.sequence.rows, G, args.eps, args.rstd,
                   kLayerNormGruStats);
  }
  const TeamPlan plan = plan_for(directions[0]);
  const bool save = directions[0].training;
  const int64_t parts = slice_count(directions[0], count, plan);
  // W_hh of each direction, packed by its threads (the input product is one GEMM, above).
  const int64_t hidden_size = directions[0].hidden_size;
  PanelPool pool(forward_pool_bytes(
      {PackedMatrix<scalar_t>::whole_bytes(hidden_size, kGates, hidden_size, Products::Native)},
      count, parts, plan.team_size));
  using Args = LayerNormGruForwardArgs<scalar_t>;
  run_directions_with_scratch<TeamNormScratch<scalar_t>>(
      directions, count, parts, plan,
      [](const Args& args, const BatchSlice& slice, int64_t) {
        const int64_t b = slice.begin();
        Args result = args;
        result.sequence = slice.layout();
        result.h0 = offset_rows(args.h0, b, args.hidden_size);
        result.h_state = offset_rows(args.h_state, b, args.hidden_size);
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
void layer_norm_gru_layer_backward(const LayerNormGruBackwardArgs<scalar_t>* directions,
                                   int64_t count) {
  const TeamPlan plan = plan_for(directions[0]);
  const int64_t parts = slice_count(directions[0], count, plan);
  const int64_t H = directions[0].hidden_size;
  const int64_t G = kGates * H;
  // The parameter gradients the backward loop sums: ∂w_hh_ln and ∂b_hh_ln, [3H] each.
  SliceGradients<scalar_t> sums(count, parts, 2 * G);
  using Args = LayerNormGruBackwardArgs<scalar_t>;
  run_backward_rounds(
      directions, count, "layer-norm GRU",
      [&](std::vector<Args>& round) {
        LoopPools pools(round, G * H);
        run_directions_with_scratch<TeamNormScratch<scalar_t>>(
            round.data(), count, parts, plan,
            [&](const Args& args, const BatchSlice& slice, int64_t index) {
              const int64_t b = slice.begin();
              Args result = args;
              result.sequence = slice.layout();
              result.h0 = offset_rows(args.h0, b, H);
              result.grad_h_state = offset_rows(args.grad_h_state, b, H);
              result.grad_ln_hh_weight = sums.target(args.grad_ln_hh_weight, index, 0);
              result.grad_ln_hh_bias = sums.target(args.grad_ln_hh_bias, index, G);
              return result;
            },
            [&](const Args& args, const Team& team, TeamNormScratch<scalar_t>& scratch) {
              backward_direction(args, team, scratch, pools.of(args));
            });
      },
      [](const Args& args, bool first) {
        layer_norm_window_products(args, args.grad_input_gates, kGates, kLayerNormGruStats, first);
      });
  for (int64_t d = 0; d < count; ++d) {
    sums.add_to(directions[d].grad_ln_hh_weight, d, 0, G);
    sums.add_to(directions[d].grad_ln_hh_bias, d, G, G);
  }
}

template void layer_norm_gru_layer_forward<float>(const LayerNormGruForwardArgs<float>*, int64_t);
template void layer_norm_gru_layer_forward<double>(const LayerNormGruForwardArgs<double>*, int64_t);
template void layer_norm_gru_layer_backward<float>(const LayerNormGruBackwardArgs<float>*,
                                                   int64_t);
template void layer_norm_gru_layer_backward<double>(const LayerNormGruBackwardArgs<double>*,
                                                    int64_t);

}  // namespace CPU_CAPABILITY
}  // namespace torch_ext::kernels
