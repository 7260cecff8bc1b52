// GRU layer, forward and backward over a whole sequence, in both forms. The equations are in
// gru.h; the threading is the LSTM's (lstm.cpp): a team per direction, hidden units split in
// panels, one barrier per step (two in the reset-before form, whose candidate needs the whole
// reset state r ⊙ h before its product).
//
// This file is compiled once per CPU capability (CPU_CAPABILITY names the namespace).
#include "kernels/gru.h"

#include "kernels/gemm.h"
#include "kernels/packed_matrix.h"
#include "kernels/parallel.h"
#include "kernels/recurrence.h"
#include "kernels/team.h"
#include "kernels/vec_math.h"

#include <algorithm>

namespace torch_ext::kernels {
namespace CPU_CAPABILITY {
namespace {

constexpr int64_t kGates = 3;

// --- pointwise passes, for units [begin, end) of one row ------------------------------------------

// Reset after. `input_gates` holds gi (x·W_ihᵀ), `hidden_gates` gh without bias; with Save, r, z, n
// go to `saved` (gi's own row, or a bfloat16 row) and gh_n + b_hn to `saved_hidden_n`.
template <bool Save, typename scalar_t>
void forward_row_reset_after(int64_t H, int64_t begin, int64_t end, const scalar_t* b_ih,
                             const scalar_t* b_hh, const scalar_t* input_gates,
                             const scalar_t* hidden_gates, const scalar_t* h_previous,
                             const OutputRows<scalar_t>& saved,
                             const OutputRows<scalar_t>& saved_hidden_n,
                             const OutputRows<scalar_t>& h_out, scalar_t* h_state) {
  using V = Vec<scalar_t>;
  for (int64_t j = begin; j < end; j += V::size()) {
    const int64_t c = std::min<int64_t>(V::size(), end - j);
    const V r = sigmoid(load(input_gates + j, c) + load(b_ih + j, c) + load(hidden_gates + j, c) +
                        load(b_hh + j, c));
    const V z = sigmoid(load(input_gates + H + j, c) + load(b_ih + H + j, c) +
                        load(hidden_gates + H + j, c) + load(b_hh + H + j, c));
    const V gh_n = load(hidden_gates + 2 * H + j, c) + load(b_hh + 2 * H + j, c);
    const V n = tanh(load(input_gates + 2 * H + j, c) + load(b_ih + 2 * H + j, c) + r * gh_n);
    const V h = n + z * (load(h_previous + j, c) - n);
    h_out.store(h, j, c);
    store(h, h_state + j, c);
    if constexpr (Save) {
      saved.store(r, j, c);
      saved.store(z, H + j, c);
      saved.store(n, 2 * H + j, c);
      saved_hidden_n.store(gh_n, j, c);
    }
  }
}

// Reset before, first half: r and z from gi and h·W_h{r,z}ᵀ; writes r ⊙ h_{t-1} for the candidate's
// product, keeps z in `hidden_gates`, and with Save r, z in `saved` (as above).
template <bool Save, typename scalar_t>
void forward_row_gates_reset_before(int64_t H, int64_t begin, int64_t end, const scalar_t* b_ih,
                                    const scalar_t* b_hh, const scalar_t* input_gates,
                                    scalar_t* hidden_gates, const scalar_t* h_previous,
                                    const OutputRows<scalar_t>& saved, scalar_t* reset_state) {
  using V = Vec<scalar_t>;
  for (int64_t j = begin; j < end; j += V::size()) {
    const int64_t c = std::min<int64_t>(V::size(), end - j);
    const V r = sigmoid(load(input_gates + j, c) + load(b_ih + j, c) + load(hidden_gates + j, c) +
                        load(b_hh + j, c));
    const V z = sigmoid(load(input_gates + H + j, c) + load(b_ih + H + j, c) +
                        load(hidden_gates + H + j, c) + load(b_hh + H + j, c));
    store(r * load(h_previous + j, c), reset_state + j, c);
    store(z, hidden_gates + H + j, c);
    if constexpr (Save) {
      saved.store(r, j, c);
      saved.store(z, H + j, c);
    }
  }
}

// Reset before, second half: n from gi_n and (r ⊙ h)·W_hnᵀ (in `hidden_gates`' n block), then h_t;
// with Save n in `saved`.
template <bool Save, typename scalar_t>
void forward_row_state_reset_before(int64_t H, int64_t begin, int64_t end, const scalar_t* b_ih,
                                    const scalar_t* b_hh, const scalar_t* input_gates,
                                    const scalar_t* hidden_gates, const scalar_t* h_previous,
                                    const OutputRows<scalar_t>& saved,
                                    const OutputRows<scalar_t>& h_out, scalar_t* h_state) {
  using V = Vec<scalar_t>;
  for (int64_t j = begin; j < end; j += V::size()) {
    const int64_t c = std::min<int64_t>(V::size(), end - j);
    const V z = load(hidden_gates + H + j, c);
    const V n = tanh(load(input_gates + 2 * H + j, c) + load(b_ih + 2 * H + j, c) +
                     load(hidden_gates + 2 * H + j, c) + load(b_hh + 2 * H + j, c));
    const V h = n + z * (load(h_previous + j, c) - n);
    h_out.store(h, j, c);
    store(h, h_state + j, c);
    if constexpr (Save) {
      saved.store(n, 2 * H + j, c);
    }
  }
}

// Reset after, backward: from dh (+ dy when not null) writes ∂gh = [dr, dz, dn ⊙ r], ∂gi_n = dn,
// and the direct part dh ⊙ z of dh_{t-1} in place of dh.
template <typename scalar_t>
void backward_row_reset_after(int64_t H, int64_t begin, int64_t end, Operand<scalar_t> gates,
                              Operand<scalar_t> hidden_n, const scalar_t* h_previous,
                              scalar_t* grad_hidden, const scalar_t* grad_output,
                              const OutputRows<scalar_t>& grad_gates,
                              const OutputRows<scalar_t>& grad_input_n) {
  using V = Vec<scalar_t>;
  const V one(scalar_t(1));
  for (int64_t j = begin; j < end; j += V::size()) {
    const int64_t c = std::min<int64_t>(V::size(), end - j);
    const V r = load(gates + j, c);
    const V z = load(gates + H + j, c);
    const V n = load(gates + 2 * H + j, c);
    V dh = load(grad_hidden + j, c);
    if (grad_output != nullptr) {
      dh = dh + load(grad_output + j, c);
    }
    const V dn = dh * (one - z) * (one - n * n);
    const V dr = dn * load(hidden_n + j, c) * r * (one - r);
    const V dz = dh * (load(h_previous + j, c) - n) * z * (one - z);
    grad_gates.store(dr, j, c);
    grad_gates.store(dz, H + j, c);
    grad_gates.store(dn * r, 2 * H + j, c);
    grad_input_n.store(dn, j, c);
    store(dh * z, grad_hidden + j, c);
  }
}

// Reset before, backward, first half: dz and dn, the direct part dh ⊙ z of dh_{t-1}, and
// r ⊙ h_{t-1} kept for ∂W_hn.
template <typename scalar_t>
void backward_row_gates_reset_before(int64_t H, int64_t begin, int64_t end,
                                     Operand<scalar_t> gates, const scalar_t* h_previous,
                                     scalar_t* grad_hidden, const scalar_t* grad_output,
                                     const OutputRows<scalar_t>& grad_gates,
                                     scalar_t* reset_state) {
  using V = Vec<scalar_t>;
  const V one(scalar_t(1));
  for (int64_t j = begin; j < end; j += V::size()) {
    const int64_t c = std::min<int64_t>(V::size(), end - j);
    const V r = load(gates + j, c);
    const V z = load(gates + H + j, c);
    const V n = load(gates + 2 * H + j, c);
    const V h_prev = load(h_previous + j, c);
    V dh = load(grad_hidden + j, c);
    if (grad_output != nullptr) {
      dh = dh + load(grad_output + j, c);
    }
    grad_gates.store(dh * (h_prev - n) * z * (one - z), H + j, c);
    grad_gates.store(dh * (one - z) * (one - n * n), 2 * H + j, c);
    store(dh * z, grad_hidden + j, c);
    store(r * h_prev, reset_state + j, c);
  }
}

// Reset before, backward, second half: from d(r ⊙ h) = dn · W_hn, dr and the part d(r ⊙ h) ⊙ r of
// dh_{t-1}.
template <typename scalar_t>
void backward_row_reset_reset_before(int64_t begin, int64_t end, Operand<scalar_t> gates,
                                     const scalar_t* h_previous, const scalar_t* grad_reset_state,
                                     scalar_t* grad_hidden,
                                     const OutputRows<scalar_t>& grad_gates) {
  using V = Vec<scalar_t>;
  const V one(scalar_t(1));
  for (int64_t j = begin; j < end; j += V::size()) {
    const int64_t c = std::min<int64_t>(V::size(), end - j);
    const V r = load(gates + j, c);
    const V d_reset = load(grad_reset_state + j, c);
    grad_gates.store(d_reset * load(h_previous + j, c) * r * (one - r), j, c);
    store(load(grad_hidden + j, c) + d_reset * r, grad_hidden + j, c);
  }
}

// --- the time loops ---------------------------------------------------------------------------------

template <bool Save, typename scalar_t>
void forward_direction(const GruForwardArgs<scalar_t>& args, const Team& team, PanelPool* pool) {
  const SequenceLayout& seq = args.sequence;
  const int64_t H = args.sizes.hidden_size;
  const int64_t G = args.sizes.gate_size();
  const GruWeights<scalar_t>& w = args.weights;
  const bool reset_after = args.sizes.reset_after;

  const Share units = unit_share(team, H);
  PackedMatrix<scalar_t> w_hh(w.w_hh, H, kGates, H, /*stride_k=*/1, /*stride_n=*/H,  // W_hhᵀ
                              units.begin, units.end, args.products, pool);
  for (int64_t gate = 0; gate < kGates; ++gate) {
    w_hh.pack(gate, units.begin, units.end);
  }
  const OutputRows<scalar_t> out{args.output, args.output_bf16, args.output_stride};
  const StateSource<scalar_t> states{out.operand(), args.output_stride, args.h0, H};
  const OutputRows<scalar_t> hidden_n_rows{args.hidden_n, args.hidden_n_bf16, H};  // gh_n, saved
  InputProjection<scalar_t> projection(seq, args.reverse, args.input, args.input_stride, w.w_ih,
                                       args.sizes.input_size, kGates, H, units, args.gates,
                                       args.gates_rows, args.products, pool);
  // The pointwise passes read h_{t-1} in float from h_state (the output may be bfloat16): each
  // row's state after its last step so far, h_0 before its first (a packed sequence's rows start
  // at different steps going backwards). A thread reads and writes only its own units.
  for (int64_t b = 0; b < seq.batch && !units.empty(); ++b) {
    std::copy(args.h0 + b * H + units.begin, args.h0 + b * H + units.end,
              args.h_state + b * H + units.begin);
  }

  for (int64_t position = 0; position < seq.steps && !team.failed(); ++position) {
    const int64_t t = seq.step_at(position, args.reverse);
    const int64_t batch = seq.batch_size(t);
    const int64_t row0 = seq.offset(t);
    scalar_t* input_gates = projection.rows(position, t);
    const auto h_previous = [&](int64_t b) -> const scalar_t* { return args.h_state + b * H; };
    // Where a training step saves row b's r, z, n: gi's own row, or the bfloat16 rows.
    const auto saved = [&](int64_t b) -> OutputRows<scalar_t> {
      if (args.saved_gates_bf16 != nullptr) {
        return {nullptr, args.saved_gates_bf16 + (row0 + b) * G, G};
      }
      return {input_gates + b * G, nullptr, G};
    };

    // h_{t-1}·W_hᵀ for this thread's units: all three gates after, r and z only before.
    for (int64_t gate = 0; gate < (reset_after ? kGates : 2); ++gate) {
      multiply_previous_state(w_hh, seq, t, args.reverse, states, gate, units.begin, units.end,
                              args.step_gates + gate * H + units.begin, G, /*accumulate=*/false);
    }
    if (reset_after) {
      for (int64_t b = 0; b < batch && !units.empty(); ++b) {
        forward_row_reset_after<Save>(H, units.begin, units.end, w.b_ih, w.b_hh,
                                      input_gates + b * G, args.step_gates + b * G, h_previous(b),
                                      saved(b), hidden_n_rows.row(row0 + b), out.row(row0 + b),
                                      args.h_state + b * H);
      }
    } else {
      for (int64_t b = 0; b < batch && !units.empty(); ++b) {
        forward_row_gates_reset_before<Save>(H, units.begin, units.end, w.b_ih, w.b_hh,
                                             input_gates + b * G, args.step_gates + b * G,
                                             h_previous(b), saved(b), args.reset_state + b * H);
      }
      team.sync();  // r ⊙ h_{t-1} complete
      w_hh.multiply(batch, args.reset_state, H, 2, units.begin, units.end,
                    args.step_gates + 2 * H + units.begin, G, /*accumulate=*/false);
      for (int64_t b = 0; b < batch && !units.empty(); ++b) {
        forward_row_state_reset_before<Save>(H, units.begin, units.end, w.b_ih, w.b_hh,
                                             input_gates + b * G, args.step_gates + b * G,
                                             h_previous(b), saved(b), out.row(row0 + b),
                                             args.h_state + b * H);
      }
    }
    team.sync();  // h_t complete
  }
}

template <typename scalar_t>
void backward_direction(const GruBackwardArgs<scalar_t>& args, const Team& team,
                        PanelPool* pool) {
  const SequenceLayout& seq = args.sequence;
  const int64_t H = args.sizes.hidden_size;
  const int64_t G = args.sizes.gate_size();
  const bool reset_after = args.sizes.reset_after;

  // W_hh as [3H, H] for dh_{t-1} = ∂gh · W_hh (after); W_hn [H, H] and W_h{r,z} [2H, H] (before).
  const Operand<scalar_t> w_hh = args.weights.w_hh;
  // Each thread holds its units' columns of the form in use, nothing of the other.
  const Share units = unit_share(team, H);
  const Share after = reset_after ? units : Share{0, 0};
  const Share before = reset_after ? Share{0, 0} : units;
  PackedMatrix<scalar_t> w_all(w_hh, G, 1, H, /*stride_k=*/H, /*stride_n=*/1, after.begin,
                               after.end, args.products, pool);
  PackedMatrix<scalar_t> w_n(w_hh + 2 * H * H, H, 1, H, /*stride_k=*/H, /*stride_n=*/1,
                             before.begin, before.end, args.products, pool);
  PackedMatrix<scalar_t> w_rz(w_hh, 2 * H, 1, H, /*stride_k=*/H, /*stride_n=*/1, before.begin,
                              before.end, args.products, pool);
  if (reset_after) {
    w_all.pack(0, units.begin, units.end);
  } else {
    w_n.pack(0, units.begin, units.end);
    w_rz.pack(0, units.begin, units.end);
  }
  const StateSource<scalar_t> states{args.output, args.output_stride, args.h0, H};
  const OutputRows<scalar_t> grad_rows{args.grad_gates, args.grad_gates_bf16, G};
  const OutputRows<scalar_t> grad_input_n_rows{args.grad_input_n, args.grad_input_n_bf16, H};

  // Back through the window's steps; the workspaces hold its rows from workspace_first_row.
  const StepWindow& window = args.window;
  for (int64_t position = 0; position < window.steps() && !team.failed(); ++position) {
    const int64_t t = window.step_at(position, !args.reverse);
    const int64_t batch = seq.batch_size(t);
    const int64_t row0 = seq.offset(t);
    const int64_t work_row0 = row0 - args.workspace_first_row;
    const scalar_t* grad_output =
        step_output_gradient(args.grad_output + row0 * args.grad_output_stride,
                             args.grad_output_stride, batch, units.begin, units.end,
                             args.grad_h_state, H);
    const auto dy = [&](int64_t b) {
      return grad_output != nullptr ? grad_output + b * args.grad_output_stride : nullptr;
    };
    const auto h_previous = [&](int64_t b) {
      return states.previous_float(seq, t, b, args.reverse, units.begin, units.end,
                                   args.state_rows);
    };
    // This step's rows of the gradient workspaces, and the products' view of them.
    const OutputRows<scalar_t> grad_gates = grad_rows.row(work_row0);
    const Operand<scalar_t> step_grad_gates = grad_gates.operand();

    if (reset_after) {
      for (int64_t b = 0; b < batch && !units.empty(); ++b) {
        const int64_t row = row0 + b;
        backward_row_reset_after(H, units.begin, units.end, args.gates + row * G,
                                 args.hidden_n + row * H, h_previous(b),
                                 args.grad_h_state + b * H, dy(b), grad_gates.row(b),
                                 grad_input_n_rows.row(work_row0 + b));
      }
      team.sync();  // ∂gh_t complete
      w_all.multiply(batch, step_grad_gates, G, 0, units.begin, units.end,
                     args.grad_h_state + units.begin, H, /*accumulate=*/true);
    } else {
      for (int64_t b = 0; b < batch && !units.empty(); ++b) {
        const int64_t row = row0 + b;
        backward_row_gates_reset_before(H, units.begin, units.end, args.gates + row * G,
                                        h_previous(b), args.grad_h_state + b * H, dy(b),
                                        grad_gates.row(b),
                                        args.reset_state + (work_row0 + b) * H);
      }
      team.sync();  // dn_t complete
      w_n.multiply(batch, step_grad_gates + 2 * H, G, 0, units.begin, units.end,
                   args.grad_reset_state + units.begin, H, /*accumulate=*/false);
      for (int64_t b = 0; b < batch && !units.empty(); ++b) {
        backward_row_reset_reset_before(units.begin, units.end, args.gates + (row0 + b) * G,
                                        h_previous(b), args.grad_reset_state + b * H,
                                        args.grad_h_state + b * H, grad_gates.row(b));
      }
      team.sync();  // dr_t complete
      w_rz.multiply(batch, step_grad_gates, G, 0, units.begin, units.end,
                    args.grad_h_state + units.begin, H, /*accumulate=*/true);
    }
  }
}

// The products of a window's rows after its backward loop: its rows of dX, and its terms of the
// weight and bias gradients, added to the earlier windows' unless `first`.
template <typename scalar_t>
void backward_products(const GruBackwardArgs<scalar_t>& args, bool first) {
  const SequenceLayout& seq = args.sequence;
  const int64_t row0 = args.workspace_first_row;
  const int64_t N = args.window.rows(seq);
  const int64_t H = args.sizes.hidden_size;
  const int64_t I = args.sizes.input_size;
  const int64_t G = args.sizes.gate_size();
  const Operand<scalar_t> w_ih = args.weights.w_ih;
  const Operand<scalar_t> input = args.input + row0 * args.input_stride;
  const StateSource<scalar_t> states{args.output, args.output_stride, args.h0, H};
  // The window's gradient rows, float or bfloat16 (GruBackwardArgs).
  const Operand<scalar_t> grad_gates =
      OutputRows<scalar_t>{args.grad_gates, args.grad_gates_bf16, G}.operand();
  const Operand<scalar_t> grad_input_n =
      OutputRows<scalar_t>{args.grad_input_n, args.grad_input_n_bf16, H}.operand();
  const OutputRows<scalar_t> grad_w_ih{args.grad_w_ih, args.grad_w_ih_bf16, I};
  const OutputRows<scalar_t> grad_w_hh{args.grad_w_hh, args.grad_w_hh_bf16, H};

  if (args.sizes.reset_after) {
    // ∂gi = [∂gh_r, ∂gh_z, ∂gi_n]: the r and z blocks of grad_gates, then grad_input_n. The
    // product packing the most first (recurrence.h, "The order of a window's products").
    grad_weight_hh(seq, args.window, args.reverse, states, grad_gates, G, G, args.previous_h,
                   grad_w_hh, /*accumulate=*/!first, args.products);
    weight_gradient(args.products, 2 * H, I, {{N, grad_gates, G, input, args.input_stride}},
                    grad_w_ih, /*accumulate=*/!first);
    weight_gradient(args.products, H, I, {{N, grad_input_n, H, input, args.input_stride}},
                    grad_w_ih.row(2 * H), /*accumulate=*/!first);
    write_input_gradient(
        args, row0, N, I,
        {{2 * H, grad_gates, G, w_ih, I}, {H, grad_input_n, H, w_ih + 2 * H * I, I}});
    if (args.grad_b_ih != nullptr) {
      sum_rows(grad_gates, N, 2 * H, G, args.grad_b_ih, /*accumulate=*/!first);
      sum_rows(grad_input_n, N, H, H, args.grad_b_ih + 2 * H, /*accumulate=*/!first);
      sum_rows(grad_gates, N, G, G, args.grad_b_hh, /*accumulate=*/!first);
    }
    return;
  }
  // Reset before: ∂gi = ∂gh = grad_gates; the candidate's rows of W_hh multiplied r ⊙ h_{t-1}.
  grad_weight_hh(seq, args.window, args.reverse, states, grad_gates, G, 2 * H,
                 args.previous_h, grad_w_hh, /*accumulate=*/!first, args.products);
  weight_gradient(args.products, H, H, {{N, grad_gates + 2 * H, G, args.reset_state, H}},
                  grad_w_hh.row(2 * H), /*accumulate=*/!first);
  weight_gradient(args.products, G, I, {{N, grad_gates, G, input, args.input_stride}}, grad_w_ih,
                  /*accumulate=*/!first);
  write_input_gradient(args, row0, N, I, {{G, grad_gates, G, w_ih, I}});
  if (args.grad_b_ih != nullptr) {
    sum_rows(grad_gates, N, G, G, args.grad_b_ih, /*accumulate=*/!first);
    sum_rows(grad_gates, N, G, G, args.grad_b_hh, /*accumulate=*/!first);
  }
}

template <typename Args>
TeamPlan plan_for(const Args& args) {
  return recurrence_plan(args.sequence, kGates, args.sizes.hidden_size,
                              args.sizes.hidden_size);
}

// A batch slice's thread packs W_ih and W_hh whole.
template <typename Args>
int64_t slice_count(const Args& args, int64_t count, const TeamPlan& plan) {
  const GruSizes& sizes = args.sizes;
  const int64_t values = kGates * sizes.hidden_size * (sizes.input_size + sizes.hidden_size);
  return batch_slice_count(args.sequence, count,
                           values * static_cast<int64_t>(sizeof(*args.h0)), plan.work);
}

// The arguments of a batch slice: its layout, and its rows of the [B, ·] buffers (the gate
// buffer's row 0 is the slice's first row, as InputProjection addresses it).
template <typename scalar_t>
GruForwardArgs<scalar_t> slice_of(const GruForwardArgs<scalar_t>& args, const BatchSlice& slice) {
  const int64_t b = slice.begin();
  const int64_t H = args.sizes.hidden_size;
  GruForwardArgs<scalar_t> result = args;
  result.sequence = slice.layout();
  result.h0 = offset_rows(args.h0, b, H);
  result.h_state = offset_rows(args.h_state, b, H);
  result.gates = offset_rows(args.gates, b, kGates * H);
  result.gates_rows = args.gates_rows - b;
  result.step_gates = offset_rows(args.step_gates, b, kGates * H);
  result.reset_state = offset_rows(args.reset_state, b, H);
  return result;
}

template <typename scalar_t>
GruBackwardArgs<scalar_t> slice_of(const GruBackwardArgs<scalar_t>& args, const BatchSlice& slice) {
  const int64_t b = slice.begin();
  const int64_t H = args.sizes.hidden_size;
  GruBackwardArgs<scalar_t> result = args;
  result.sequence = slice.layout();
  result.h0 = offset_rows(args.h0, b, H);
  result.grad_h_state = offset_rows(args.grad_h_state, b, H);
  // grad_reset_state is per batch row ([B, H]); reset_state here is per sequence row ([N, H]).
  result.grad_reset_state = offset_rows(args.grad_reset_state, b, H);
  result.state_rows = offset_rows(args.state_rows, b, H);
  return result;
}

}  // namespace

template <typename scalar_t>
void gru_layer_forward(const GruForwardArgs<scalar_t>* directions, int64_t count) {
  const bool save = directions[0].training;
  for (int64_t d = 0; d < count; ++d) {
    check_gate_rows(directions[d].gates_rows, directions[d].sequence,
                    directions[d].saves_into_gates());
  }
  const TeamPlan plan = plan_for(directions[0]);
  const int64_t parts = slice_count(directions[0], count, plan);
  // W_hh and W_ih of each direction, packed by its threads.
  const GruSizes& sizes = directions[0].sizes;
  const Products products = directions[0].products;
  using Packed = PackedMatrix<scalar_t>;
  PanelPool pool(forward_pool_bytes(
      {Packed::whole_bytes(sizes.hidden_size, kGates, sizes.hidden_size, products),
       Packed::whole_bytes(sizes.input_size, kGates, sizes.hidden_size, products)},
      count, parts, plan.team_size));
  run_directions(
      directions, count, parts, plan,
      [](const GruForwardArgs<scalar_t>& args, const BatchSlice& slice, int64_t) {
        return slice_of(args, slice);
      },
      [&](const GruForwardArgs<scalar_t>& args, const Team& team) {
        if (save) {
          forward_direction<true>(args, team, &pool);
        } else {
          forward_direction<false>(args, team, &pool);
        }
      });
}

template <typename scalar_t>
void gru_layer_backward(const GruBackwardArgs<scalar_t>* directions, int64_t count) {
  using Args = GruBackwardArgs<scalar_t>;
  const TeamPlan plan = plan_for(directions[0]);
  const int64_t parts = slice_count(directions[0], count, plan);
  run_backward_rounds(
      directions, count, "GRU",
      [&](std::vector<Args>& round) {
        LoopPools pools(round, directions[0].sizes.gate_size() * directions[0].sizes.hidden_size);
        run_directions(
            round.data(), count, parts, plan,
            [](const Args& args, const BatchSlice& slice, int64_t) { return slice_of(args, slice); },
            [&](const Args& args, const Team& team) {
              backward_direction(args, team, pools.of(args));
            });
      },
      [](const Args& args, bool first) { backward_products(args, first); });
}

template void gru_layer_forward<float>(const GruForwardArgs<float>*, int64_t);
template void gru_layer_forward<double>(const GruForwardArgs<double>*, int64_t);
template void gru_layer_backward<float>(const GruBackwardArgs<float>*, int64_t);
template void gru_layer_backward<double>(const GruBackwardArgs<double>*, int64_t);

}  // namespace CPU_CAPABILITY
}  // namespace torch_ext::kernels
