// LSTM layer, forward and backward over a whole sequence. The equations are in lstm.h.
//
// Both passes run in one parallel region per layer call (team.h): a team per direction, whose
// threads split the hidden units in blocks of kPanelWidth. Per step, a thread multiplies the
// previous state by its own panels of W_hh and runs the fused pointwise pass on its own units;
// the team meets at one barrier per step (two with a projection). A small cell runs instead as
// independent slices of its batch, one thread each and no barrier (recurrence.h run_directions).
// The whole-sequence products (input projection; after the backward loop, dX, dW_ih, dW_hh,
// dW_hr) are BLAS calls across all threads.
//
// This file is compiled once per CPU capability (CPU_CAPABILITY names the namespace).
#include "kernels/lstm.h"

#include "kernels/gemm.h"
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

constexpr int64_t kGates = 4;

// Forward pointwise pass for units [begin, end) of one row. `gates` holds x·W_ihᵀ + h·W_hhᵀ; with
// SaveForBackward the activated i, f, g, o go to `saved` (`gates` itself, or a bfloat16 row). The
// new hidden value goes to `hidden` and to `hidden_copy` (an output row, or none).
template <bool SaveForBackward, typename scalar_t>
void forward_row(int64_t H, int64_t begin, int64_t end, const scalar_t* bias,
                 const scalar_t* gates, const OutputRows<scalar_t>& saved, scalar_t* c_state,
                 scalar_t* cell_saved, scalar_t* hidden, const OutputRows<scalar_t>& hidden_copy) {
  using V = Vec<scalar_t>;
  for (int64_t j = begin; j < end; j += V::size()) {
    const int64_t n = std::min<int64_t>(V::size(), end - j);
    const V i = sigmoid(load(gates + j, n) + load(bias + j, n));
    const V f = sigmoid(load(gates + H + j, n) + load(bias + H + j, n));
    const V g = tanh(load(gates + 2 * H + j, n) + load(bias + 2 * H + j, n));
    const V o = sigmoid(load(gates + 3 * H + j, n) + load(bias + 3 * H + j, n));
    const V c = f * load(c_state + j, n) + i * g;
    const V h = o * tanh(c);
    store(c, c_state + j, n);
    store(h, hidden + j, n);
    hidden_copy.store(h, j, n);
    if constexpr (SaveForBackward) {
      store(c, cell_saved + j, n);
      saved.store(i, j, n);
      saved.store(f, H + j, n);
      saved.store(g, 2 * H + j, n);
      saved.store(o, 3 * H + j, n);
    }
  }
}

// Backward pointwise pass for units [begin, end) of one row: from the saved gates and cells and
// the incoming dh (+ dy when not null) and dc, writes dG and replaces dc by dc_{t-1}. With
// `projection_in` not null it also stores r_t = o ⊙ tanh(c_t), the projection's input.
template <typename scalar_t>
void backward_row(int64_t H, int64_t begin, int64_t end, Operand<scalar_t> gates,
                  const scalar_t* cell, const scalar_t* cell_previous,
                  const scalar_t* grad_hidden, const scalar_t* grad_output, scalar_t* grad_cell,
                  const OutputRows<scalar_t>& grad_gates, scalar_t* projection_in) {
  using V = Vec<scalar_t>;
  const V one(scalar_t(1));
  for (int64_t j = begin; j < end; j += V::size()) {
    const int64_t n = std::min<int64_t>(V::size(), end - j);
    const V i = load(gates + j, n);
    const V f = load(gates + H + j, n);
    const V g = load(gates + 2 * H + j, n);
    const V o = load(gates + 3 * H + j, n);
    const V tanh_c = tanh(load(cell + j, n));
    V dh = load(grad_hidden + j, n);
    if (grad_output != nullptr) {
      dh = dh + load(grad_output + j, n);
    }
    const V dc = load(grad_cell + j, n) + dh * o * (one - tanh_c * tanh_c);
    store(dc * f, grad_cell + j, n);
    grad_gates.store(dc * g * i * (one - i), j, n);
    grad_gates.store(dc * load(cell_previous + j, n) * f * (one - f), H + j, n);
    grad_gates.store(dc * i * (one - g * g), 2 * H + j, n);
    grad_gates.store(dh * tanh_c * o * (one - o), 3 * H + j, n);
    if (projection_in != nullptr) {
      store(o * tanh_c, projection_in + j, n);
    }
  }
}

template <bool SaveForBackward, typename scalar_t>
void forward_direction(const LstmForwardArgs<scalar_t>& args, const Team& team, PanelPool* pool) {
  const SequenceLayout& seq = args.sequence;
  const LstmSizes& sizes = args.sizes;
  const int64_t H = sizes.hidden_size;
  const int64_t P = sizes.proj_size;
  const int64_t R = sizes.state_size();
  const int64_t G = sizes.gate_size();

  // W_hhᵀ (R × 4H, a group per gate) and, with a projection, W_hrᵀ (H × P): this thread's columns.
  const Share units = unit_share(team, H);
  const Share projected = unit_share(team, P);
  PackedMatrix<scalar_t> w_hh(args.weights.w_hh, R, kGates, H, /*stride_k=*/1, /*stride_n=*/R,
                              units.begin, units.end, args.products, pool);
  PackedMatrix<scalar_t> w_hr(args.weights.w_hr, H, 1, P, /*stride_k=*/1, /*stride_n=*/H,
                              projected.begin, projected.end, args.products, pool);
  const OutputRows<scalar_t> out{args.output, args.output_bf16, args.output_stride};
  const StateSource<scalar_t> states{out.operand(), args.output_stride, args.h0, R};
  for (int64_t gate = 0; gate < kGates; ++gate) {
    w_hh.pack(gate, units.begin, units.end);
  }
  InputProjection<scalar_t> input_gates(seq, args.reverse, args.input, args.input_stride,
                                        args.weights.w_ih, sizes.input_size, kGates, H, units,
                                        args.gates, args.gates_rows, args.products, pool);
  if (P > 0) {
    w_hr.pack(0, projected.begin, projected.end);
  }

  for (int64_t position = 0; position < seq.steps && !team.failed(); ++position) {
    const int64_t t = seq.step_at(position, args.reverse);
    const int64_t batch = seq.batch_size(t);
    const int64_t row0 = seq.offset(t);
    scalar_t* gates = input_gates.rows(position, t);

    if (!units.empty()) {
      // gates += h_{t-1} · W_hhᵀ for this thread's units.
      for (int64_t gate = 0; gate < kGates; ++gate) {
        multiply_previous_state(w_hh, seq, t, args.reverse, states, gate, units.begin, units.end,
                                gates + gate * H + units.begin, G, /*accumulate=*/true);
      }
      for (int64_t b = 0; b < batch; ++b) {
        scalar_t* cell_saved = SaveForBackward ? args.cells + (row0 + b) * H : nullptr;
        // Where a training step saves the row's activated gates: in place, or the bfloat16 row.
        const OutputRows<scalar_t> saved =
            args.saved_gates_bf16 != nullptr
                ? OutputRows<scalar_t>{nullptr, args.saved_gates_bf16 + (row0 + b) * G, G}
                : OutputRows<scalar_t>{gates + b * G, nullptr, G};
        if (P > 0) {
          forward_row<SaveForBackward>(H, units.begin, units.end, args.weights.bias,
                                       gates + b * G, saved, args.c_state + b * H, cell_saved,
                                       args.projection_in + b * H, OutputRows<scalar_t>{});
        } else {
          forward_row<SaveForBackward>(H, units.begin, units.end, args.weights.bias,
                                       gates + b * G, saved, args.c_state + b * H, cell_saved,
                                       args.h_state + b * R, out.row(row0 + b));
        }
      }
    }

    if (P > 0) {
      team.sync();  // r_t complete
      if (!projected.empty()) {
        // r_t into the state rows (float), then into the output rows.
        w_hr.multiply(batch, args.projection_in, H, 0, projected.begin, projected.end,
                      args.h_state + projected.begin, R, /*accumulate=*/false);
        for (int64_t b = 0; b < batch; ++b) {
          out.row(row0 + b).copy(args.h_state + b * R, projected.begin, projected.end);
        }
      }
    }
    team.sync();  // h_t complete
  }
}

template <typename scalar_t>
void backward_direction(const LstmBackwardArgs<scalar_t>& args, const Team& team,
                        PanelPool* pool) {
  const SequenceLayout& seq = args.sequence;
  const LstmSizes& sizes = args.sizes;
  const int64_t H = sizes.hidden_size;
  const int64_t P = sizes.proj_size;
  const int64_t R = sizes.state_size();
  const int64_t G = sizes.gate_size();

  // W_hh (4H × R) for dh_{t-1} = dG · W_hh, split by state columns; with a projection, W_hr
  // (P × H) for dr = dh · W_hr, split by hidden units.
  const Share units = unit_share(team, H);
  const Share state_columns = P > 0 ? unit_share(team, P) : units;
  PackedMatrix<scalar_t> w_hh(args.weights.w_hh, G, 1, R, /*stride_k=*/R, /*stride_n=*/1,
                              state_columns.begin, state_columns.end, args.products, pool);
  PackedMatrix<scalar_t> w_hr(args.weights.w_hr, P, 1, H, /*stride_k=*/H, /*stride_n=*/1,
                              units.begin, units.end, args.products, pool);
  w_hh.pack(0, state_columns.begin, state_columns.end);
  if (P > 0) {
    w_hr.pack(0, units.begin, units.end);
  }

  // Back through the window's steps: the reverse of the order the forward pass took. The
  // workspaces hold the window's rows from args.workspace_first_row.
  const StepWindow& window = args.window;
  const OutputRows<scalar_t> grad_rows{args.grad_gates, args.grad_gates_bf16, G};
  for (int64_t position = 0; position < window.steps() && !team.failed(); ++position) {
    const int64_t t = window.step_at(position, !args.reverse);
    const int64_t batch = seq.batch_size(t);
    const int64_t row0 = seq.offset(t);
    const int64_t work_row0 = row0 - args.workspace_first_row;
    const Operand<scalar_t> grad_output = args.grad_output + row0 * args.grad_output_stride;
    const OutputRows<scalar_t> grad_gates = grad_rows.row(work_row0);

    const auto cell_previous = [&](int64_t b) {
      const int64_t previous = seq.previous_step(t, b, args.reverse);
      return previous >= 0 ? args.cells + (seq.offset(previous) + b) * H : args.c0 + b * H;
    };

    if (P > 0) {
      // dh_t = dy_t + dh carried (this thread's state columns), kept for dW_hr.
      scalar_t* grad_h_rows = args.grad_h_rows + work_row0 * P;
      for (int64_t b = 0; b < batch; ++b) {
        std::copy(args.grad_h_state + b * P + state_columns.begin,
                  args.grad_h_state + b * P + state_columns.end,
                  grad_h_rows + b * P + state_columns.begin);
      }
      if (!grad_output.empty()) {
        add_rows(batch, state_columns.begin, state_columns.end, grad_output,
                 args.grad_output_stride, grad_h_rows, P);
      }
      team.sync();  // dh_t complete
      // dr = dh_t · W_hr for this thread's units, then the pointwise pass on them.
      w_hr.multiply(batch, grad_h_rows, P, 0, units.begin, units.end,
                    args.grad_projection_in + units.begin, H, /*accumulate=*/false);
      for (int64_t b = 0; b < batch; ++b) {
        const int64_t row = row0 + b;
        backward_row(H, units.begin, units.end, args.gates + row * G, args.cells + row * H,
                     cell_previous(b), args.grad_projection_in + b * H,
                     static_cast<const scalar_t*>(nullptr), args.grad_c_state + b * H,
                     grad_gates.row(b), args.projection_in + (work_row0 + b) * H);
      }
    } else {
      const scalar_t* dy_rows =
          step_output_gradient(grad_output, args.grad_output_stride, batch, units.begin,
                               units.end, args.grad_h_state, R);
      for (int64_t b = 0; b < batch; ++b) {
        const int64_t row = row0 + b;
        const scalar_t* dy =
            dy_rows != nullptr ? dy_rows + b * args.grad_output_stride : nullptr;
        backward_row(H, units.begin, units.end, args.gates + row * G, args.cells + row * H,
                     cell_previous(b), args.grad_h_state + b * R, dy, args.grad_c_state + b * H,
                     grad_gates.row(b), static_cast<scalar_t*>(nullptr));
      }
    }
    team.sync();  // dG_t complete
    // dh_{t-1} = dG_t · W_hh for this thread's state columns: the next step reads only those.
    w_hh.multiply(batch, grad_gates.operand(), G, 0, state_columns.begin, state_columns.end,
                  args.grad_h_state + state_columns.begin, R, /*accumulate=*/false);
  }
}

// The products of a window's rows after its backward loop: its rows of dX, and its terms of the
// weight gradients, added to those of the windows before it unless `first`.
template <typename scalar_t>
void backward_products(const LstmBackwardArgs<scalar_t>& args, bool first) {
  const SequenceLayout& seq = args.sequence;
  const LstmSizes& sizes = args.sizes;
  const int64_t G = sizes.gate_size();
  const int64_t row0 = args.workspace_first_row;
  const int64_t rows = args.window.rows(seq);
  // The window's dG rows, float or bfloat16 (LstmBackwardArgs).
  const Operand<scalar_t> grad_gates =
      OutputRows<scalar_t>{args.grad_gates, args.grad_gates_bf16, G}.operand();
  // The product packing the most first (recurrence.h, "The order of a window's products").
  const StateSource<scalar_t> states{args.output, args.output_stride, args.h0,
                                     sizes.state_size()};
  grad_weight_hh(seq, args.window, args.reverse, states, grad_gates, G, G, args.previous_h,
                 OutputRows<scalar_t>{args.grad_w_hh, args.grad_w_hh_bf16, sizes.state_size()},
                 /*accumulate=*/!first, args.products);
  weight_gradient(args.products, G, sizes.input_size,
                  {{rows, grad_gates, G, args.input + row0 * args.input_stride, args.input_stride}},
                  OutputRows<scalar_t>{args.grad_w_ih, args.grad_w_ih_bf16, sizes.input_size},
                  /*accumulate=*/!first);
  write_input_gradient(args, row0, rows, sizes.input_size,
                       {{G, grad_gates, G, args.weights.w_ih, sizes.input_size}});
  if (args.grad_bias != nullptr) {
    sum_rows(grad_gates, rows, G, G, args.grad_bias, /*accumulate=*/!first);
  }
  if (sizes.proj_size > 0) {
    weight_gradient(
        args.products, sizes.proj_size, sizes.hidden_size,
        {{rows, args.grad_h_rows, sizes.proj_size, args.projection_in, sizes.hidden_size}},
        OutputRows<scalar_t>{args.grad_w_hr, args.grad_w_hr_bf16, sizes.hidden_size},
        /*accumulate=*/!first);
  }
}

template <typename Args>
TeamPlan plan_for(const Args& args) {
  return recurrence_plan(args.sequence, kGates, args.sizes.hidden_size,
                              args.sizes.state_size());
}

// A batch slice's thread packs W_ih and W_hh (and W_hr) whole.
template <typename Args>
int64_t slice_count(const Args& args, int64_t count, const TeamPlan& plan) {
  const LstmSizes& sizes = args.sizes;
  const int64_t values = sizes.gate_size() * (sizes.input_size + sizes.state_size()) +
                         sizes.proj_size * sizes.hidden_size;
  return batch_slice_count(args.sequence, count,
                           values * static_cast<int64_t>(sizeof(*args.h0)), plan.work);
}

// The arguments of a batch slice: its layout, and its rows of the [B, ·] buffers. The gate
// buffer's row 0 is the slice's first row (InputProjection addresses it from offset(0)).
template <typename scalar_t>
LstmForwardArgs<scalar_t> slice_of(const LstmForwardArgs<scalar_t>& args, const BatchSlice& slice) {
  const int64_t b = slice.begin();
  const int64_t H = args.sizes.hidden_size;
  const int64_t R = args.sizes.state_size();
  LstmForwardArgs<scalar_t> result = args;
  result.sequence = slice.layout();
  result.h0 = offset_rows(args.h0, b, R);
  result.h_state = offset_rows(args.h_state, b, R);
  result.c_state = offset_rows(args.c_state, b, H);
  result.gates = offset_rows(args.gates, b, args.sizes.gate_size());
  result.gates_rows = args.gates_rows - b;
  result.projection_in = offset_rows(args.projection_in, b, H);
  return result;
}

template <typename scalar_t>
LstmBackwardArgs<scalar_t> slice_of(const LstmBackwardArgs<scalar_t>& args,
                                    const BatchSlice& slice) {
  const int64_t b = slice.begin();
  const int64_t H = args.sizes.hidden_size;
  const int64_t R = args.sizes.state_size();
  LstmBackwardArgs<scalar_t> result = args;
  result.sequence = slice.layout();
  result.h0 = offset_rows(args.h0, b, R);
  result.c0 = offset_rows(args.c0, b, H);
  result.grad_h_state = offset_rows(args.grad_h_state, b, R);
  result.grad_c_state = offset_rows(args.grad_c_state, b, H);
  result.grad_projection_in = offset_rows(args.grad_projection_in, b, H);
  return result;
}

}  // namespace

template <typename scalar_t>
void lstm_layer_forward(const LstmForwardArgs<scalar_t>* directions, int64_t count) {
  const bool save = directions[0].cells != nullptr;
  for (int64_t d = 0; d < count; ++d) {
    check_gate_rows(directions[d].gates_rows, directions[d].sequence,
                    directions[d].saves_into_gates());
  }
  const TeamPlan plan = plan_for(directions[0]);
  const int64_t parts = slice_count(directions[0], count, plan);
  // W_hh, W_ih and (with a projection) W_hr of each direction, packed by its threads.
  const LstmSizes& sizes = directions[0].sizes;
  const Products products = directions[0].products;
  using Packed = PackedMatrix<scalar_t>;
  PanelPool pool(forward_pool_bytes(
      {Packed::whole_bytes(sizes.state_size(), kGates, sizes.hidden_size, products),
       Packed::whole_bytes(sizes.input_size, kGates, sizes.hidden_size, products),
       Packed::whole_bytes(sizes.hidden_size, 1, sizes.proj_size, products)},
      count, parts, plan.team_size));
  run_directions(
      directions, count, parts, plan,
      [](const LstmForwardArgs<scalar_t>& args, const BatchSlice& slice, int64_t) {
        return slice_of(args, slice);
      },
      [&](const LstmForwardArgs<scalar_t>& args, const Team& team) {
        if (save) {
          forward_direction<true>(args, team, &pool);
        } else {
          forward_direction<false>(args, team, &pool);
        }
      });
}

// A window at a time (BackwardRounds): the loop back through the window's steps, both directions
// at once, then each direction's window products.
template <typename scalar_t>
void lstm_layer_backward(const LstmBackwardArgs<scalar_t>* directions, int64_t count) {
  using Args = LstmBackwardArgs<scalar_t>;
  const TeamPlan plan = plan_for(directions[0]);
  const int64_t parts = slice_count(directions[0], count, plan);
  run_backward_rounds(
      directions, count, "LSTM",
      [&](std::vector<Args>& round) {
        const LstmSizes& sizes = directions[0].sizes;
        LoopPools pools(round, sizes.gate_size() * sizes.state_size());
        run_directions(
            round.data(), count, parts, plan,
            [](const Args& args, const BatchSlice& slice, int64_t) { return slice_of(args, slice); },
            [&](const Args& args, const Team& team) {
              backward_direction(args, team, pools.of(args));
            });
      },
      [](const Args& args, bool first) { backward_products(args, first); });
}

template void lstm_layer_forward<float>(const LstmForwardArgs<float>*, int64_t);
template void lstm_layer_forward<double>(const LstmForwardArgs<double>*, int64_t);
template void lstm_layer_backward<float>(const LstmBackwardArgs<float>*, int64_t);
template void lstm_layer_backward<double>(const LstmBackwardArgs<double>*, int64_t);

}  // namespace CPU_CAPABILITY
}  // namespace torch_ext::kernels
