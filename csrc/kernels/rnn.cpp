// Vanilla RNN layer, forward and backward over a whole sequence. The equations are in rnn.h; the
// threading is the LSTM's (lstm.cpp): a team per direction, hidden units split in panels, one
// barrier per step.
//
// This file is compiled once per CPU capability (CPU_CAPABILITY names the namespace).
#include "kernels/rnn.h"

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

template <RnnNonlinearity Act, typename scalar_t>
Vec<scalar_t> activate(const Vec<scalar_t>& x) {
  if constexpr (Act == RnnNonlinearity::Tanh) {
    return tanh(x);
  } else {
    // Zero where x < 0, x elsewhere: a NaN fails the comparison and stays NaN, as in torch.relu.
    const Vec<scalar_t> zero(scalar_t(0));
    return Vec<scalar_t>::blendv(x, zero, x < zero);
  }
}

// act'(pre) from the activation's output h.
template <RnnNonlinearity Act, typename scalar_t>
Vec<scalar_t> derivative_from_output(const Vec<scalar_t>& h) {
  const Vec<scalar_t> one(scalar_t(1));
  if constexpr (Act == RnnNonlinearity::Tanh) {
    return one - h * h;
  } else {
    return Vec<scalar_t>::blendv(Vec<scalar_t>(scalar_t(0)), one, h > Vec<scalar_t>(scalar_t(0)));
  }
}

template <RnnNonlinearity Act, typename scalar_t>
void forward_row(int64_t begin, int64_t end, const scalar_t* bias, const scalar_t* gates,
                 const OutputRows<scalar_t>& h_out, scalar_t* h_state) {
  using V = Vec<scalar_t>;
  for (int64_t j = begin; j < end; j += V::size()) {
    const int64_t c = std::min<int64_t>(V::size(), end - j);
    const V h = activate<Act>(load(gates + j, c) + load(bias + j, c));
    h_out.store(h, j, c);
    store(h, h_state + j, c);
  }
}

template <RnnNonlinearity Act, typename scalar_t>
void backward_row(int64_t begin, int64_t end, const scalar_t* h, const scalar_t* grad_hidden,
                  const scalar_t* grad_output, const OutputRows<scalar_t>& grad_gates) {
  using V = Vec<scalar_t>;
  for (int64_t j = begin; j < end; j += V::size()) {
    const int64_t c = std::min<int64_t>(V::size(), end - j);
    V dh = load(grad_hidden + j, c);
    if (grad_output != nullptr) {
      dh = dh + load(grad_output + j, c);
    }
    grad_gates.store(dh * derivative_from_output<Act>(load(h + j, c)), j, c);
  }
}

template <RnnNonlinearity Act, typename scalar_t>
void forward_direction(const RnnForwardArgs<scalar_t>& args, const Team& team, PanelPool* pool) {
  const SequenceLayout& seq = args.sequence;
  const int64_t H = args.sizes.hidden_size;
  const Share units = unit_share(team, H);
  PackedMatrix<scalar_t> w_hh(args.weights.w_hh, H, 1, H, /*stride_k=*/1, /*stride_n=*/H,
                              units.begin, units.end, args.products, pool);
  w_hh.pack(0, units.begin, units.end);
  const OutputRows<scalar_t> out{args.output, args.output_bf16, args.output_stride};
  const StateSource<scalar_t> states{out.operand(), args.output_stride, args.h0, H};
  InputProjection<scalar_t> projection(seq, args.reverse, args.input, args.input_stride,
                                       args.weights.w_ih, args.sizes.input_size, 1, H, units,
                                       args.gates, args.gates_rows, args.products, pool);

  for (int64_t position = 0; position < seq.steps && !team.failed(); ++position) {
    const int64_t t = seq.step_at(position, args.reverse);
    const int64_t row0 = seq.offset(t);
    scalar_t* gates = projection.rows(position, t);
    multiply_previous_state(w_hh, seq, t, args.reverse, states, 0, units.begin, units.end,
                            gates + units.begin, H, /*accumulate=*/true);
    for (int64_t b = 0; b < seq.batch_size(t) && !units.empty(); ++b) {
      forward_row<Act>(units.begin, units.end, args.weights.bias, gates + b * H,
                       out.row(row0 + b), args.h_state + b * H);
    }
    team.sync();  // h_t complete
  }
}

template <RnnNonlinearity Act, typename scalar_t>
void backward_direction(const RnnBackwardArgs<scalar_t>& args, const Team& team,
                        PanelPool* pool) {
  const SequenceLayout& seq = args.sequence;
  const int64_t H = args.sizes.hidden_size;
  const Share units = unit_share(team, H);
  PackedMatrix<scalar_t> w_hh(args.weights.w_hh, H, 1, H, /*stride_k=*/H, /*stride_n=*/1,
                              units.begin, units.end, args.products, pool);
  w_hh.pack(0, units.begin, units.end);

  // Back through the window's steps; the workspace holds its rows from workspace_first_row.
  const StepWindow& window = args.window;
  const OutputRows<scalar_t> grad_rows{args.grad_gates, args.grad_gates_bf16, H};
  for (int64_t position = 0; position < window.steps() && !team.failed(); ++position) {
    const int64_t t = window.step_at(position, !args.reverse);
    const int64_t batch = seq.batch_size(t);
    const int64_t row0 = seq.offset(t);
    const OutputRows<scalar_t> grad_gates = grad_rows.row(row0 - args.workspace_first_row);
    const scalar_t* grad_output =
        step_output_gradient(args.grad_output + row0 * args.grad_output_stride,
                             args.grad_output_stride, batch, units.begin, units.end,
                             args.grad_h_state, H);
    for (int64_t b = 0; b < batch && !units.empty(); ++b) {
      const int64_t row = row0 + b;
      backward_row<Act>(units.begin, units.end,
                        float_columns(args.output + row * args.output_stride, units.begin,
                                      units.end, offset_rows(args.state_rows, b, H)),
                        args.grad_h_state + b * H,
                        grad_output != nullptr ? grad_output + b * args.grad_output_stride
                                               : nullptr,
                        grad_gates.row(b));
    }
    team.sync();  // dG_t complete
    w_hh.multiply(batch, grad_gates.operand(), H, 0, units.begin, units.end,
                  args.grad_h_state + units.begin, H, /*accumulate=*/false);
  }
}

// The products of a window's rows after its backward loop: its rows of dX, and its terms of the
// weight and bias gradients, added to the earlier windows' unless `first`.
template <typename scalar_t>
void backward_products(const RnnBackwardArgs<scalar_t>& args, bool first) {
  const SequenceLayout& seq = args.sequence;
  const int64_t row0 = args.workspace_first_row;
  const int64_t N = args.window.rows(seq);
  const int64_t H = args.sizes.hidden_size;
  const int64_t I = args.sizes.input_size;
  // The window's dG rows, float or bfloat16 (RnnBackwardArgs).
  const Operand<scalar_t> grad_gates =
      OutputRows<scalar_t>{args.grad_gates, args.grad_gates_bf16, H}.operand();
  // The product packing the most first (recurrence.h, "The order of a window's products").
  const StateSource<scalar_t> states{args.output, args.output_stride, args.h0, H};
  grad_weight_hh(seq, args.window, args.reverse, states, grad_gates, H, H, args.previous_h,
                 OutputRows<scalar_t>{args.grad_w_hh, args.grad_w_hh_bf16, H},
                 /*accumulate=*/!first, args.products);
  weight_gradient(args.products, H, I,
                  {{N, grad_gates, H, args.input + row0 * args.input_stride, args.input_stride}},
                  OutputRows<scalar_t>{args.grad_w_ih, args.grad_w_ih_bf16, I},
                  /*accumulate=*/!first);
  write_input_gradient(args, row0, N, I, {{H, grad_gates, H, args.weights.w_ih, I}});
  if (args.grad_bias != nullptr) {
    sum_rows(grad_gates, N, H, H, args.grad_bias, /*accumulate=*/!first);
  }
}

template <typename Args>
TeamPlan plan_for(const Args& args) {
  return recurrence_plan(args.sequence, 1, args.sizes.hidden_size,
                              args.sizes.hidden_size);
}

// A batch slice's thread packs W_ih and W_hh whole.
template <typename Args>
int64_t slice_count(const Args& args, int64_t count, const TeamPlan& plan) {
  const RnnSizes& sizes = args.sizes;
  const int64_t values = sizes.hidden_size * (sizes.input_size + sizes.hidden_size);
  return batch_slice_count(args.sequence, count,
                           values * static_cast<int64_t>(sizeof(*args.h0)), plan.work);
}

// The arguments of a batch slice: its layout, and its rows of the [B, ·] buffers (the gate
// scratch's row 0 is the slice's first row, as InputProjection addresses it).
template <typename scalar_t>
RnnForwardArgs<scalar_t> slice_of(const RnnForwardArgs<scalar_t>& args, const BatchSlice& slice) {
  const int64_t b = slice.begin();
  const int64_t H = args.sizes.hidden_size;
  RnnForwardArgs<scalar_t> result = args;
  result.sequence = slice.layout();
  result.h0 = offset_rows(args.h0, b, H);
  result.h_state = offset_rows(args.h_state, b, H);
  result.gates = offset_rows(args.gates, b, H);
  result.gates_rows = args.gates_rows - b;
  return result;
}

template <typename scalar_t>
RnnBackwardArgs<scalar_t> slice_of(const RnnBackwardArgs<scalar_t>& args, const BatchSlice& slice) {
  const int64_t b = slice.begin();
  RnnBackwardArgs<scalar_t> result = args;
  result.sequence = slice.layout();
  result.h0 = offset_rows(args.h0, b, args.sizes.hidden_size);
  result.grad_h_state = offset_rows(args.grad_h_state, b, args.sizes.hidden_size);
  result.state_rows = offset_rows(args.state_rows, b, args.sizes.hidden_size);
  return result;
}

// Calls fn.template operator()<Act>() for the layer's nonlinearity.
template <typename Fn>
void with_nonlinearity(RnnNonlinearity nonlinearity, const Fn& fn) {
  if (nonlinearity == RnnNonlinearity::Relu) {
    fn(std::integral_constant<RnnNonlinearity, RnnNonlinearity::Relu>());
  } else {
    fn(std::integral_constant<RnnNonlinearity, RnnNonlinearity::Tanh>());
  }
}

}  // namespace

template <typename scalar_t>
void rnn_layer_forward(const RnnForwardArgs<scalar_t>* directions, int64_t count) {
  for (int64_t d = 0; d < count; ++d) {
    check_gate_rows(directions[d].gates_rows, directions[d].sequence, /*training=*/false);
  }
  const TeamPlan plan = plan_for(directions[0]);
  const int64_t parts = slice_count(directions[0], count, plan);
  // W_hh and W_ih of each direction, packed by its threads.
  const RnnSizes& sizes = directions[0].sizes;
  const Products products = directions[0].products;
  using Packed = PackedMatrix<scalar_t>;
  PanelPool pool(forward_pool_bytes(
      {Packed::whole_bytes(sizes.hidden_size, 1, sizes.hidden_size, products),
       Packed::whole_bytes(sizes.input_size, 1, sizes.hidden_size, products)},
      count, parts, plan.team_size));
  with_nonlinearity(directions[0].sizes.nonlinearity, [&](auto act) {
    run_directions(
        directions, count, parts, plan,
        [](const RnnForwardArgs<scalar_t>& args, const BatchSlice& slice, int64_t) {
          return slice_of(args, slice);
        },
        [&](const RnnForwardArgs<scalar_t>& args, const Team& team) {
          forward_direction<decltype(act)::value>(args, team, &pool);
        });
  });
}

// A window at a time (BackwardRounds): the loop back through the window's steps, both directions
// at once, then each direction's window products.
template <typename scalar_t>
void rnn_layer_backward(const RnnBackwardArgs<scalar_t>* directions, int64_t count) {
  using Args = RnnBackwardArgs<scalar_t>;
  const TeamPlan plan = plan_for(directions[0]);
  const int64_t parts = slice_count(directions[0], count, plan);
  with_nonlinearity(directions[0].sizes.nonlinearity, [&](auto act) {
    run_backward_rounds(
        directions, count, "RNN",
        [&](std::vector<Args>& round) {
          const int64_t H = directions[0].sizes.hidden_size;
          LoopPools pools(round, H * H);
          run_directions(
              round.data(), count, parts, plan,
              [](const Args& args, const BatchSlice& slice, int64_t) {
                return slice_of(args, slice);
              },
              [&](const Args& args, const Team& team) {
                backward_direction<decltype(act)::value>(args, team, pools.of(args));
              });
        },
        [](const Args& args, bool first) { backward_products(args, first); });
  });
}

template void rnn_layer_forward<float>(const RnnForwardArgs<float>*, int64_t);
template void rnn_layer_forward<double>(const RnnForwardArgs<double>*, int64_t);
template void rnn_layer_backward<float>(const RnnBackwardArgs<float>*, int64_t);
template void rnn_layer_backward<double>(const RnnBackwardArgs<double>*, int64_t);

}  // namespace CPU_CAPABILITY
}  // namespace torch_ext::kernels
