// LSTM operators: argument checks, the CPU and Meta kernels of the layer ops, and the public ops
// (lstm.input, lstm.data, lstm_cell) composed from the layer op. The math is in kernels/lstm.cpp;
// autograd in ops/lstm_autograd.cpp.
#include "ops/lstm.h"

#include "kernels/lstm.h"
#include "ops/checks.h"
#include "ops/precision.h"
#include "ops/recurrent.h"

#include <ATen/Dispatch.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/ops/add.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/zeros.h>
#include <c10/util/Exception.h>
#include <torch/library.h>

namespace torch_ext::ops {
namespace {

constexpr int64_t kLstmGates = 4;

// Contiguous copies (or the tensors themselves) of one direction's weights, plus the summed bias
// in the kernels' type (the matrices of a bfloat16 call stay in bfloat16: operand()).
struct LstmDirectionTensors {
  at::Tensor w_ih, w_hh, bias, w_hr;

  LstmDirectionTensors(const RnnDirectionParams& p, int64_t gate_size) {
    w_ih = p.w_ih.contiguous();
    w_hh = p.w_hh.contiguous();
    bias = summed_bias(p, gate_size);
    if (p.w_hr.defined()) {
      w_hr = p.w_hr.contiguous();
    }
  }

  template <typename scalar_t>
  kernels::LstmWeights<scalar_t> weights() const {
    kernels::LstmWeights<scalar_t> result;
    result.w_ih = operand<scalar_t>(w_ih);
    result.w_hh = operand<scalar_t>(w_hh);
    result.bias = bias.const_data_ptr<scalar_t>();
    result.w_hr = w_hr.defined() ? operand<scalar_t>(w_hr) : nullptr;
    return result;
  }
};

kernels::LstmSizes kernel_sizes(const LayerShape& shape) {
  kernels::LstmSizes sizes;
  sizes.input_size = shape.input_size.expect_int();
  sizes.hidden_size = shape.hidden_size.expect_int();
  sizes.proj_size = shape.layout.projected ? shape.state_size.expect_int() : 0;
  return sizes;
}

// The layer's forward on the CPU; saves gates (in the call's type: saved_options) and cells (in
// the kernels' type) when `training`.
// A bfloat16 call keeps its input and weights in bfloat16 where the products are bfloat16 ones,
// else widens them.
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> lstm_layer_forward_cpu_impl(
    const char* op, const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes,
    const at::Tensor& hx, const at::Tensor& cx, at::TensorList params, bool has_biases,
    bool bidirectional, bool training,
    kernels::Products widened_products = kernels::Products::Native) {
  const LayerShape shape =
      check_lstm_layer(op, input, batch_sizes, hx, cx, params, has_biases, bidirectional);
  const at::ScalarType dtype = input.scalar_type();
  if (widens_call(input)) {
    auto [output, hy, cy, gates, cells] =
        lstm_layer_forward_cpu_impl(op, widen(input), batch_sizes, widen(hx), widen(cx),
                                    widen(params), has_biases, bidirectional, training,
                                    bf16_call_products());
    return {narrow_to(output, dtype), narrow_to(hy, dtype), narrow_to(cy, dtype),
            narrow_to(gates, dtype), cells};
  }
  const kernels::Products products = call_products(input, widened_products);
  const kernels::LstmSizes sizes = kernel_sizes(shape);
  const int64_t D = shape.layout.directions;
  const int64_t H = sizes.hidden_size;
  const int64_t R = sizes.state_size();
  const int64_t G = sizes.gate_size();
  const SequenceRows rows = sequence_rows(op, input, batch_sizes, shape.batch.expect_int());
  const kernels::SequenceLayout sequence = rows.layout();
  const int64_t N = sequence.rows;
  const int64_t B = shape.batch.expect_int();

  const at::Tensor x = input.contiguous();
  const at::Tensor h0 = widen(hx).contiguous();
  const auto options = compute_options(input);
  at::Tensor output =
      at::empty_symint(layer_output_sizes(input, shape), output_options(input, products));
  at::Tensor hy = at::empty({D, B, R}, options);
  at::Tensor cy = needs_widening(cx) ? widen(cx).contiguous() : cx.clone(at::MemoryFormat::Contiguous);
  // The directions run at once: each has its own workspaces. Training saves every row's gates,
  // in place of their pre-activations in float32 and float64; a bfloat16 call rounds them into
  // bfloat16 rows of their own, the pre-activations then taking a chunk of steps at a time, as
  // in inference.
  const bool saves_bf16 = training && needs_widening(input);
  const int64_t gates_rows = !training ? inference_gate_rows(N, B)
                             : saves_bf16 ? bf16_chunk_gate_rows(N, B)
                                          : N;
  at::Tensor gates = at::empty({D, gates_rows, G}, options);
  at::Tensor saved_gates =
      saves_bf16 ? at::empty({D, N, G}, saved_options(input)) : at::empty({0}, options);
  at::Tensor cells = training ? at::empty({D, N, H}, options) : at::empty({0}, options);
  at::Tensor projection_in =
      shape.layout.projected ? at::empty({D, B, H}, options) : at::empty({0}, options);

  AT_DISPATCH_FLOATING_TYPES(options.dtype().toScalarType(), "torch_ext::lstm_layer", [&] {
    std::vector<LstmDirectionTensors> weights;
    std::vector<kernels::LstmForwardArgs<scalar_t>> directions(static_cast<size_t>(D));
    weights.reserve(static_cast<size_t>(D));
    for (int64_t direction = 0; direction < D; ++direction) {
      weights.emplace_back(direction_params(params, shape.layout, 0, direction), G);
      kernels::LstmForwardArgs<scalar_t>& args = directions[static_cast<size_t>(direction)];
      args.sequence = sequence;
      args.sizes = sizes;
      args.weights = weights.back().weights<scalar_t>();
      args.reverse = direction == 1;
      args.products = products;
      args.input = operand<scalar_t>(x);
      args.input_stride = sizes.input_size;
      args.output = kernel_result<scalar_t>(output, direction * R);
      args.output_bf16 = bfloat16_result(output, direction * R);
      args.output_stride = D * R;
      args.h0 = h0.const_data_ptr<scalar_t>() + direction * B * R;
      args.h_state = hy.mutable_data_ptr<scalar_t>() + direction * B * R;
      args.c_state = cy.mutable_data_ptr<scalar_t>() + direction * B * H;
      args.gates = gates.mutable_data_ptr<scalar_t>() + direction * gates_rows * G;
      args.gates_rows = gates_rows;
      args.cells = training ? cells.mutable_data_ptr<scalar_t>() + direction * N * H : nullptr;
      args.saves_bf16 = saves_bf16;
      args.saved_gates_bf16 = bfloat16_result(saved_gates, direction * N * G);
      args.projection_in = shape.layout.projected
                               ? projection_in.mutable_data_ptr<scalar_t>() + direction * B * H
                               : nullptr;
    }
    kernels::lstm_layer_forward(directions.data(), D);
  });
  if (!training) {
    gates = at::empty({0}, options);
  } else if (saves_bf16) {
    gates = saved_gates;
  }
  // The output is in the call's type already (output_options).
  return {output, narrow_to(hy, dtype), narrow_to(cy, dtype), gates, cells};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> lstm_layer_cpu(
    const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
    const at::Tensor& cx, at::TensorList params, bool has_biases, bool bidirectional) {
  auto [output, hy, cy, gates, cells] =
      lstm_layer_forward_cpu_impl("torch_ext::lstm_layer", input, batch_sizes, hx, cx, params,
                                  has_biases, bidirectional, /*training=*/false);
  return {output, hy, cy};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> lstm_layer_forward_cpu(
    const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
    const at::Tensor& cx, at::TensorList params, bool has_biases, bool bidirectional) {
  return lstm_layer_forward_cpu_impl("torch_ext::_lstm_layer_forward", input, batch_sizes, hx,
                                     cx, params, has_biases, bidirectional, /*training=*/true);
}

// The saved tensors and incoming gradients handed to the backward op have the forward's shapes.
void check_lstm_backward_args(const char* op, const LayerShape& shape,
                              const at::Tensor& input, const std::optional<at::Tensor>& grad_output,
                              const std::optional<at::Tensor>& grad_hy,
                              const std::optional<at::Tensor>& grad_cy, const at::Tensor& hx,
                              const at::Tensor& cx, const at::Tensor& output,
                              const at::Tensor& gates, const at::Tensor& cells) {
  const int64_t D = shape.layout.directions;
  const c10::SymInt rows = shape.packed ? input.sym_size(0) : input.sym_size(0) * input.sym_size(1);
  const std::vector<c10::SymInt> out_sizes = layer_output_sizes(input, shape);
  check_like(op, "output", output, "input", input);
  check_sizes(op, "output", output, out_sizes);
  check_workspace(op, "gates", gates, input, {D, rows, shape.hidden_size * kLstmGates},
                  saved_options(input).dtype().toScalarType());
  check_workspace(op, "cells", cells, input, {D, rows, shape.hidden_size});
  if (grad_output.has_value() && grad_output->defined()) {
    check_like(op, "grad_output", *grad_output, "input", input);
    check_sizes(op, "grad_output", *grad_output, out_sizes);
  }
  if (grad_hy.has_value() && grad_hy->defined()) {
    check_like(op, "grad_hy", *grad_hy, "input", input);
    check_sizes(op, "grad_hy", *grad_hy, hx.sym_sizes().vec());
  }
  if (grad_cy.has_value() && grad_cy->defined()) {
    check_like(op, "grad_cy", *grad_cy, "input", input);
    check_sizes(op, "grad_cy", *grad_cy, cx.sym_sizes().vec());
  }
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, std::vector<at::Tensor>> lstm_layer_backward_cpu_impl(
    const std::optional<at::Tensor>& grad_output, const std::optional<at::Tensor>& grad_hy,
    const std::optional<at::Tensor>& grad_cy, const at::Tensor& input,
    const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx, const at::Tensor& cx,
    at::TensorList params, bool has_biases, bool bidirectional, const at::Tensor& output,
    const at::Tensor& gates, const at::Tensor& cells, bool need_grad_input,
    kernels::Products widened_products = kernels::Products::Native) {
  const char* op = "torch_ext::_lstm_layer_backward";
  const LayerShape shape =
      check_lstm_layer(op, input, batch_sizes, hx, cx, params, has_biases, bidirectional);
  check_lstm_backward_args(op, shape, input, grad_output, grad_hy, grad_cy, hx, cx, output, gates,
                           cells);
  const at::ScalarType dtype = input.scalar_type();
  if (widens_call(input)) {
    auto [grad_input, grad_hx, grad_cx, grad_params] = lstm_layer_backward_cpu_impl(
        widen(grad_output), widen(grad_hy), widen(grad_cy), widen(input), batch_sizes, widen(hx),
        widen(cx), widen(params), has_biases, bidirectional, widen(output), widen(gates), cells,
        need_grad_input, bf16_call_products());
    return {narrow_to(grad_input, dtype), narrow_to(grad_hx, dtype), narrow_to(grad_cx, dtype),
            narrow_to(grad_params, dtype)};
  }
  // Where the products are bfloat16 ones, the input, output, dy and weights of a bfloat16 call
  // stay in bfloat16 (only products read them, and the LSTM's pointwise pass adds dy to its
  // float dh); its states and their gradients are widened.
  const kernels::Products products = call_products(input, widened_products);
  const kernels::LstmSizes sizes = kernel_sizes(shape);
  const int64_t D = shape.layout.directions;
  const int64_t H = sizes.hidden_size;
  const int64_t P = sizes.proj_size;
  const int64_t R = sizes.state_size();
  const int64_t G = sizes.gate_size();
  const int64_t I = sizes.input_size;
  const int64_t B = shape.batch.expect_int();
  const SequenceRows rows = sequence_rows(op, input, batch_sizes, B);
  const kernels::SequenceLayout sequence = rows.layout();
  const int64_t N = sequence.rows;
  const auto options = compute_options(input);

  const at::Tensor x = input.contiguous();
  const at::Tensor h0 = widen(hx).contiguous();
  const at::Tensor c0 = widen(cx).contiguous();
  const at::Tensor y = output.contiguous();
  const at::Tensor saved_gates = gates.contiguous();
  const at::Tensor saved_cells = cells.contiguous();
  const GradientRows dy = gradient_rows(grad_output, D * R);
  at::Tensor grad_hx = contiguous_or_zeros(widen(grad_hy), h0);
  at::Tensor grad_cx = contiguous_or_zeros(widen(grad_cy), c0);
  at::Tensor grad_input = input_gradient(input, need_grad_input, D, products);

  // The directions run at once: each has its own workspaces, of one backward window's rows
  // (a long sequence goes back a window of steps at a time; kernels/sequence.h).
  // dG's rows are the widest (4H values; in bfloat16 still wider than a float [W, R], [W, P] or
  // [W, H] row).
  const auto gradient = gradient_options(options, products);
  const kernels::BackwardWindowPlan windows = kernels::backward_window_plan(
      sequence, G * static_cast<int64_t>(gradient.dtype().itemsize()));
  const int64_t W = windows.rows;
  const auto weight_gradient = weight_gradient_options(
      input, options, products, kernels::backward_window_count(sequence, windows.steps) == 1);
  at::Tensor grad_gates = at::empty({D, W, G}, gradient);
  at::Tensor previous_h = sequence.uniform ? at::empty({0}, options) : at::empty({D, W, R}, options);
  at::Tensor grad_h_rows = P > 0 ? at::empty({D, W, P}, options) : at::empty({0}, options);
  at::Tensor projection_in = P > 0 ? at::empty({D, W, H}, options) : at::empty({0}, options);
  at::Tensor grad_projection_in = P > 0 ? at::empty({D, B, H}, options) : at::empty({0}, options);
  std::vector<at::Tensor> grad_params;
  grad_params.reserve(params.size());

  AT_DISPATCH_FLOATING_TYPES(options.dtype().toScalarType(), "torch_ext::_lstm_layer_backward", [&] {
    std::vector<LstmDirectionTensors> weights;
    std::vector<kernels::LstmBackwardArgs<scalar_t>> directions(static_cast<size_t>(D));
    weights.reserve(static_cast<size_t>(D));
    for (int64_t direction = 0; direction < D; ++direction) {
      weights.emplace_back(direction_params(params, shape.layout, 0, direction), G);
      at::Tensor grad_w_ih = at::empty({G, I}, weight_gradient);
      at::Tensor grad_w_hh = at::empty({G, R}, weight_gradient);
      const at::Tensor grad_bias = has_biases ? at::empty({G}, options) : at::Tensor();
      at::Tensor grad_w_hr = P > 0 ? at::empty({P, H}, weight_gradient) : at::Tensor();

      kernels::LstmBackwardArgs<scalar_t>& args = directions[static_cast<size_t>(direction)];
      args.sequence = sequence;
      args.sizes = sizes;
      args.weights = weights.back().weights<scalar_t>();
      args.reverse = direction == 1;
      args.products = products;
      args.input = operand<scalar_t>(x);
      args.input_stride = I;
      args.output = operand<scalar_t>(y) + direction * R;
      args.output_stride = D * R;
      args.h0 = h0.const_data_ptr<scalar_t>() + direction * B * R;
      args.c0 = c0.const_data_ptr<scalar_t>() + direction * B * H;
      args.gates = operand<scalar_t>(saved_gates) + direction * N * G;
      args.cells = saved_cells.const_data_ptr<scalar_t>() + direction * N * H;
      args.grad_output = dy.defined() ? operand<scalar_t>(dy.values) + direction * R : nullptr;
      args.grad_output_stride = dy.row_stride;
      args.grad_h_state = grad_hx.mutable_data_ptr<scalar_t>() + direction * B * R;
      args.grad_c_state = grad_cx.mutable_data_ptr<scalar_t>() + direction * B * H;
      args.grad_input = kernel_result<scalar_t>(grad_input);
      args.grad_input_bf16 = bfloat16_result(grad_input);
      args.grad_input_stride = I;
      args.accumulate_grad_input = direction > 0;
      args.grad_w_ih = kernel_result<scalar_t>(grad_w_ih);
      args.grad_w_ih_bf16 = bfloat16_result(grad_w_ih);
      args.grad_w_hh = kernel_result<scalar_t>(grad_w_hh);
      args.grad_w_hh_bf16 = bfloat16_result(grad_w_hh);
      args.grad_bias = has_biases ? grad_bias.mutable_data_ptr<scalar_t>() : nullptr;
      if (P > 0) {
        args.grad_w_hr = kernel_result<scalar_t>(grad_w_hr);
        args.grad_w_hr_bf16 = bfloat16_result(grad_w_hr);
      }
      args.window_steps = windows.steps;
      args.workspace_rows = W;
      args.grad_gates = kernel_result<scalar_t>(grad_gates, direction * W * G);
      args.grad_gates_bf16 = bfloat16_result(grad_gates, direction * W * G);
      args.previous_h =
          sequence.uniform ? nullptr : previous_h.mutable_data_ptr<scalar_t>() + direction * W * R;
      args.grad_h_rows = P > 0 ? grad_h_rows.mutable_data_ptr<scalar_t>() + direction * W * P : nullptr;
      args.projection_in =
          P > 0 ? projection_in.mutable_data_ptr<scalar_t>() + direction * W * H : nullptr;
      args.grad_projection_in =
          P > 0 ? grad_projection_in.mutable_data_ptr<scalar_t>() + direction * B * H : nullptr;

      grad_params.push_back(grad_w_ih);
      grad_params.push_back(grad_w_hh);
      if (has_biases) {
        grad_params.push_back(grad_bias);
      }
      if (has_biases) {
        grad_params.push_back(grad_bias);  // replaced by a copy once computed
      }
      if (P > 0) {
        grad_params.push_back(grad_w_hr);
      }
    }
    kernels::lstm_layer_backward(directions.data(), D);
  });
  if (has_biases) {
    // b_ih and b_hh receive the same gradient; give each its own tensor.
    const int64_t per_direction = shape.layout.per_direction();
    for (int64_t direction = 0; direction < D; ++direction) {
      at::Tensor& grad_b_hh = grad_params[static_cast<size_t>(direction * per_direction + 3)];
      grad_b_hh = grad_b_hh.clone();
    }
  }
  // A bfloat16 call's results are narrowed once the workspaces are gone, one at a time.
  for (at::Tensor* workspace :
       {&grad_gates, &previous_h, &grad_h_rows, &projection_in, &grad_projection_in}) {
    workspace->reset();
  }
  narrow_each(grad_params, dtype);
  return {narrow_to(grad_input, dtype), narrow_to(grad_hx, dtype), narrow_to(grad_cx, dtype),
          grad_params};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, std::vector<at::Tensor>> lstm_layer_backward_cpu(
    const std::optional<at::Tensor>& grad_output, const std::optional<at::Tensor>& grad_hy,
    const std::optional<at::Tensor>& grad_cy, const at::Tensor& input,
    const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx, const at::Tensor& cx,
    at::TensorList params, bool has_biases, bool bidirectional, const at::Tensor& output,
    const at::Tensor& gates, const at::Tensor& cells, bool need_grad_input) {
  return lstm_layer_backward_cpu_impl(grad_output, grad_hy, grad_cy, input, batch_sizes, hx, cx,
                                      params, has_biases, bidirectional, output, gates, cells,
                                      need_grad_input);
}

// --- Meta: shapes only -------------------------------------------------------------------------------

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> lstm_layer_forward_meta_impl(
    const char* op, const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes,
    const at::Tensor& hx, const at::Tensor& cx, at::TensorList params, bool has_biases,
    bool bidirectional, bool training) {
  const LayerShape shape =
      check_lstm_layer(op, input, batch_sizes, hx, cx, params, has_biases, bidirectional);
  const auto options = input.options();
  const c10::SymInt D = shape.layout.directions;
  at::Tensor output = at::empty_symint(layer_output_sizes(input, shape), options);
  at::Tensor hy = at::empty_symint(hx.sym_sizes(), options);
  at::Tensor cy = at::empty_symint(cx.sym_sizes(), options);
  if (!training) {
    return {output, hy, cy, at::empty({0}, options), at::empty({0}, options)};
  }
  const auto workspace = compute_options(input);
  at::Tensor gates =
      at::empty_symint({D, shape.rows, shape.hidden_size * kLstmGates}, saved_options(input));
  at::Tensor cells = at::empty_symint({D, shape.rows, shape.hidden_size}, workspace);
  return {output, hy, cy, gates, cells};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> lstm_layer_meta(
    const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
    const at::Tensor& cx, at::TensorList params, bool has_biases, bool bidirectional) {
  auto [output, hy, cy, gates, cells] =
      lstm_layer_forward_meta_impl("torch_ext::lstm_layer", input, batch_sizes, hx, cx, params,
                                   has_biases, bidirectional, /*training=*/false);
  return {output, hy, cy};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> lstm_layer_forward_meta(
    const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
    const at::Tensor& cx, at::TensorList params, bool has_biases, bool bidirectional) {
  return lstm_layer_forward_meta_impl("torch_ext::_lstm_layer_forward", input, batch_sizes, hx,
                                      cx, params, has_biases, bidirectional, /*training=*/true);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, std::vector<at::Tensor>> lstm_layer_backward_meta(
    const std::optional<at::Tensor>& grad_output, const std::optional<at::Tensor>& grad_hy,
    const std::optional<at::Tensor>& grad_cy, const at::Tensor& input,
    const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx, const at::Tensor& cx,
    at::TensorList params, bool has_biases, bool bidirectional, const at::Tensor& output,
    const at::Tensor& gates, const at::Tensor& cells, bool need_grad_input) {
  const char* op = "torch_ext::_lstm_layer_backward";
  const LayerShape shape =
      check_lstm_layer(op, input, batch_sizes, hx, cx, params, has_biases, bidirectional);
  check_lstm_backward_args(op, shape, input, grad_output, grad_hy, grad_cy, hx, cx, output, gates,
                           cells);
  const auto options = input.options();
  std::vector<at::Tensor> grad_params;
  grad_params.reserve(params.size());
  for (const at::Tensor& param : params) {
    grad_params.push_back(at::empty_symint(param.sym_sizes(), options));
  }
  return {need_grad_input ? at::empty_symint(input.sym_sizes(), options) : at::empty({0}, options),
          at::empty_symint(hx.sym_sizes(), options), at::empty_symint(cx.sym_sizes(), options),
          grad_params};
}

// --- the public ops, composed of layer ops ---------------------------------------------------------

// num_layers layers over x ([T, B, I] or packed [N, I]) from hx = (h_0, c_0).
std::tuple<at::Tensor, at::Tensor, at::Tensor> lstm_layers(
    const char* op, const at::Tensor& x, const std::optional<at::Tensor>& batch_sizes,
    at::TensorList hx, at::TensorList params, bool has_biases, int64_t num_layers, double dropout,
    bool train, bool bidirectional) {
  TORCH_CHECK(hx.size() == 2, "lstm expects two hidden states");
  const std::vector<at::Tensor> states{hx[0], hx[1]};
  check_states(op, states);
  RnnParamLayout layout;
  layout.gates = kLstmGates;
  layout.has_biases = has_biases;
  layout.num_layers = num_layers;
  layout.directions = bidirectional ? 2 : 1;
  layout.projected = hx[0].sym_size(2) != hx[1].sym_size(2);
  // As ATen, states of different widths mean a projection. Where the params say otherwise, a
  // state more likely has the wrong width: name the states, not only the params.
  RnnParamLayout other = layout;
  other.projected = !layout.projected;
  TORCH_CHECK(static_cast<int64_t>(params.size()) != other.total(), op, ": hx[0] has ",
              hx[0].sym_size(2), " features and hx[1] ", hx[1].sym_size(2), ", which means ",
              layout.projected ? "a projection" : "no projection", ": expected params to hold ",
              describe_param_count(layout), ", got ", params.size(), ", the count ",
              layout.projected ? "without" : "with",
              " one (with a projection hx[0] has proj_size features, else hidden_size as hx[1])");
  if (layout.projected && params.size() > 1 && params[1].defined() && params[1].dim() == 2) {
    // weight_hh_l0 [4H, R] reads h: its width is the projection size.
    TORCH_CHECK(params[1].sym_size(1) == hx[0].sym_size(2), op, ": hx[0] has ", hx[0].sym_size(2),
                " features but weight_hh_l0 takes ", params[1].sym_size(1),
                " (the projection size): expected hx[0] of shape ",
                format_sizes(std::vector<c10::SymInt>{hx[0].sym_size(0), hx[0].sym_size(1),
                                                      params[1].sym_size(1)}),
                ", got ", format_sizes(hx[0].sym_sizes()));
  }
  const std::vector<at::Tensor> results = run_layers(
      op, x, batch_sizes.has_value(), states, params, layout, dropout, train, hx[0].sym_size(2),
      hx[1].sym_size(2),
      [&](const at::Tensor& input, const std::vector<at::Tensor>& layer_states,
          at::TensorList layer_params) {
        auto [output, hy, cy] = call_lstm_layer(input, batch_sizes, layer_states[0],
                                                layer_states[1], layer_params, has_biases,
                                                bidirectional);
        return std::vector<at::Tensor>{output, hy, cy};
      });
  return {results[0], results[1], results[2]};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> lstm_input(
    const at::Tensor& input, at::TensorList hx, at::TensorList params, bool has_biases,
    int64_t num_layers, double dropout, bool train, bool bidirectional, bool batch_first) {
  const char* op = "torch_ext::lstm";
  const at::Tensor x = time_major_input(op, input, batch_first);
  auto [output, hy, cy] = lstm_layers(op, x, std::nullopt, hx, params, has_biases, num_layers,
                                      dropout, train, bidirectional);
  return {batch_first ? output.transpose(0, 1) : output, hy, cy};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> lstm_data(
    const at::Tensor& data, const at::Tensor& batch_sizes, at::TensorList hx,
    at::TensorList params, bool has_biases, int64_t num_layers, double dropout, bool train,
    bool bidirectional) {
  const char* op = "torch_ext::lstm";
  check_floating_tensor(op, "data", data);
  check_dim(op, "data", data, 2, "[rows, input_size] (packed)");
  return lstm_layers(op, data, batch_sizes, hx, params, has_biases, num_layers, dropout, train,
                     bidirectional);
}

// ATen's lstm_cell: input [B, I], hx = (h [B, H], c [B, H]), each bias optional.
std::tuple<at::Tensor, at::Tensor> lstm_cell(const at::Tensor& input, at::TensorList hx,
                                             const at::Tensor& w_ih, const at::Tensor& w_hh,
                                             const std::optional<at::Tensor>& b_ih,
                                             const std::optional<at::Tensor>& b_hh) {
  const char* op = "torch_ext::lstm_cell";
  TORCH_CHECK(hx.size() == 2, "lstm_cell expects two hidden states");
  check_cell_input(op, input, w_ih, w_hh);
  check_cell_state(op, input, hx[0], w_hh, 0);
  check_cell_state(op, input, hx[1], w_hh, 1);
  bool has_biases = false;
  const std::vector<at::Tensor> params = cell_params(w_ih, w_hh, b_ih, b_hh, has_biases);
  auto [output, hy, cy] =
      call_lstm_layer(input.unsqueeze(0), std::nullopt, hx[0].unsqueeze(0), hx[1].unsqueeze(0),
                      params, has_biases, /*bidirectional=*/false);
  return {hy.squeeze(0), cy.squeeze(0)};
}

}  // namespace

LayerShape check_lstm_layer(const char* op, const at::Tensor& input,
                            const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
                            const at::Tensor& cx, at::TensorList params, bool has_biases,
                            bool bidirectional) {
  RnnParamLayout layout;
  layout.gates = kLstmGates;
  layout.has_biases = has_biases;
  layout.directions = bidirectional ? 2 : 1;
  return check_layer(op, input, batch_sizes, hx, &cx, params, layout, /*may_project=*/true);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> call_lstm_layer(
    const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
    const at::Tensor& cx, at::TensorList params, bool has_biases, bool bidirectional) {
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("torch_ext::lstm_layer", "")
                             .typed<decltype(lstm_layer_cpu)>();
  return op.call(input, batch_sizes, hx, cx, params, has_biases, bidirectional);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> call_lstm_layer_forward(
    const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
    const at::Tensor& cx, at::TensorList params, bool has_biases, bool bidirectional) {
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("torch_ext::_lstm_layer_forward", "")
                             .typed<decltype(lstm_layer_forward_cpu)>();
  return op.call(input, batch_sizes, hx, cx, params, has_biases, bidirectional);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, std::vector<at::Tensor>> call_lstm_layer_backward(
    const std::optional<at::Tensor>& grad_output, const std::optional<at::Tensor>& grad_hy,
    const std::optional<at::Tensor>& grad_cy, const at::Tensor& input,
    const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx, const at::Tensor& cx,
    at::TensorList params, bool has_biases, bool bidirectional, const at::Tensor& output,
    const at::Tensor& gates, const at::Tensor& cells, bool need_grad_input) {
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("torch_ext::_lstm_layer_backward", "")
                             .typed<decltype(lstm_layer_backward_cpu)>();
  return op.call(grad_output, grad_hy, grad_cy, input, batch_sizes, hx, cx, params, has_biases,
                 bidirectional, output, gates, cells, need_grad_input);
}

TORCH_LIBRARY_IMPL(torch_ext, CPU, m) {
  m.impl("lstm_layer", &lstm_layer_cpu);
  m.impl("_lstm_layer_forward", &lstm_layer_forward_cpu);
  m.impl("_lstm_layer_backward", &lstm_layer_backward_cpu);
}

TORCH_LIBRARY_IMPL(torch_ext, Meta, m) {
  m.impl("lstm_layer", &lstm_layer_meta);
  m.impl("_lstm_layer_forward", &lstm_layer_forward_meta);
  m.impl("_lstm_layer_backward", &lstm_layer_backward_meta);
}

TORCH_LIBRARY_IMPL(torch_ext, CompositeImplicitAutograd, m) {
  m.impl("lstm.input", &lstm_input);
  m.impl("lstm.data", &lstm_data);
  m.impl("lstm_cell", &lstm_cell);
}

}  // namespace torch_ext::ops
