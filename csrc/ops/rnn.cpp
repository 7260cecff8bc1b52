// Vanilla RNN operators: the CPU and Meta kernels of the layer ops, and the public ops
// (rnn_tanh / rnn_relu .input and .data, the cells) composed from the layer op. The math is in
// kernels/rnn.cpp; autograd in ops/rnn_autograd.cpp.
#include "ops/rnn.h"

#include "kernels/rnn.h"
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

#include <algorithm>
#include <string>

namespace torch_ext::ops {
namespace {

kernels::RnnNonlinearity parse_nonlinearity(const char* op, std::string_view nonlinearity) {
  if (nonlinearity == "tanh") {
    return kernels::RnnNonlinearity::Tanh;
  }
  TORCH_CHECK(nonlinearity == "relu", op, ": unknown nonlinearity '", std::string(nonlinearity),
              "', expected 'tanh' or 'relu'");
  return kernels::RnnNonlinearity::Relu;
}

// Contiguous copies (or the tensors themselves) of one direction's weights, plus the summed bias
// in the kernels' type (the matrices of a bfloat16 call stay in bfloat16: operand()).
struct RnnDirectionTensors {
  at::Tensor w_ih, w_hh, bias;

  RnnDirectionTensors(const RnnDirectionParams& p, int64_t hidden_size) {
    w_ih = p.w_ih.contiguous();
    w_hh = p.w_hh.contiguous();
    bias = summed_bias(p, hidden_size);
  }

  template <typename scalar_t>
  kernels::RnnWeights<scalar_t> weights() const {
    kernels::RnnWeights<scalar_t> result;
    result.w_ih = operand<scalar_t>(w_ih);
    result.w_hh = operand<scalar_t>(w_hh);
    result.bias = bias.const_data_ptr<scalar_t>();
    return result;
  }
};

kernels::RnnSizes kernel_sizes(const char* op, const LayerShape& shape,
                               std::string_view nonlinearity) {
  kernels::RnnSizes sizes;
  sizes.input_size = shape.input_size.expect_int();
  sizes.hidden_size = shape.hidden_size.expect_int();
  sizes.nonlinearity = parse_nonlinearity(op, nonlinearity);
  return sizes;
}

std::tuple<at::Tensor, at::Tensor> rnn_layer_cpu_impl(
    const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
    at::TensorList params, bool has_biases, bool bidirectional, std::string_view nonlinearity,
    kernels::Products widened_products = kernels::Products::Native) {
  const char* op = "torch_ext::rnn_layer";
  const LayerShape shape =
      check_rnn_layer(op, input, batch_sizes, hx, params, has_biases, bidirectional);
  const at::ScalarType dtype = input.scalar_type();
  if (widens_call(input)) {
    auto [output, hy] = rnn_layer_cpu_impl(widen(input), batch_sizes, widen(hx), widen(params),
                                           has_biases, bidirectional, nonlinearity,
                                           bf16_call_products());
    return {narrow_to(output, dtype), narrow_to(hy, dtype)};
  }
  // Where the products are bfloat16 ones, a bfloat16 call's input and weights stay in bfloat16.
  const kernels::Products products = call_products(input, widened_products);
  const kernels::RnnSizes sizes = kernel_sizes(op, shape, nonlinearity);
  const int64_t D = shape.layout.directions;
  const int64_t H = sizes.hidden_size;
  const int64_t B = shape.batch.expect_int();
  const SequenceRows rows = sequence_rows(op, input, batch_sizes, B);
  const kernels::SequenceLayout sequence = rows.layout();
  const int64_t N = sequence.rows;

  const at::Tensor x = input.contiguous();
  const at::Tensor h0 = widen(hx).contiguous();
  const auto options = compute_options(input);
  at::Tensor output =
      at::empty_symint(layer_output_sizes(input, shape), output_options(input, products));
  at::Tensor hy = at::empty({D, B, H}, options);
  // The backward reads only the output: training needs no more scratch than inference.
  const int64_t gates_rows =
      needs_widening(input) ? bf16_chunk_gate_rows(N, B) : inference_gate_rows(N, B);
  at::Tensor gates = at::empty({D, gates_rows, H}, options);

  AT_DISPATCH_FLOATING_TYPES(options.dtype().toScalarType(), "torch_ext::rnn_layer", [&] {
    std::vector<RnnDirectionTensors> weights;
    std::vector<kernels::RnnForwardArgs<scalar_t>> directions(static_cast<size_t>(D));
    weights.reserve(static_cast<size_t>(D));
    for (int64_t direction = 0; direction < D; ++direction) {
      weights.emplace_back(direction_params(params, shape.layout, 0, direction), H);
      kernels::RnnForwardArgs<scalar_t>& args = directions[static_cast<size_t>(direction)];
      args.sequence = sequence;
      args.sizes = sizes;
      args.weights = weights.back().weights<scalar_t>();
      args.reverse = direction == 1;
      args.products = products;
      args.input = operand<scalar_t>(x);
      args.input_stride = sizes.input_size;
      args.output = kernel_result<scalar_t>(output, direction * H);
      args.output_bf16 = bfloat16_result(output, direction * H);
      args.output_stride = D * H;
      args.h0 = h0.const_data_ptr<scalar_t>() + direction * B * H;
      args.h_state = hy.mutable_data_ptr<scalar_t>() + direction * B * H;
      args.gates = gates.mutable_data_ptr<scalar_t>() + direction * gates_rows * H;
      args.gates_rows = gates_rows;
    }
    kernels::rnn_layer_forward(directions.data(), D);
  });
  // The output is in the call's type already (output_options).
  return {output, narrow_to(hy, dtype)};
}

std::tuple<at::Tensor, at::Tensor> rnn_layer_cpu(const at::Tensor& input,
                                                 const std::optional<at::Tensor>& batch_sizes,
                                                 const at::Tensor& hx, at::TensorList params,
                                                 bool has_biases, bool bidirectional,
                                                 std::string_view nonlinearity) {
  return rnn_layer_cpu_impl(input, batch_sizes, hx, params, has_biases, bidirectional,
                            nonlinearity);
}

void check_rnn_backward_args(const char* op, const LayerShape& shape, const at::Tensor& input,
                             const std::optional<at::Tensor>& grad_output,
                             const std::optional<at::Tensor>& grad_hy, const at::Tensor& hx,
                             const at::Tensor& output) {
  const std::vector<c10::SymInt> out_sizes = layer_output_sizes(input, shape);
  check_like(op, "output", output, "input", input);
  check_sizes(op, "output", output, out_sizes);
  if (grad_output.has_value() && grad_output->defined()) {
    check_like(op, "grad_output", *grad_output, "input", input);
    check_sizes(op, "grad_output", *grad_output, out_sizes);
  }
  if (grad_hy.has_value() && grad_hy->defined()) {
    check_like(op, "grad_hy", *grad_hy, "input", input);
    check_sizes(op, "grad_hy", *grad_hy, hx.sym_sizes().vec());
  }
}

std::tuple<at::Tensor, at::Tensor, std::vector<at::Tensor>> rnn_layer_backward_cpu_impl(
    const std::optional<at::Tensor>& grad_output, const std::optional<at::Tensor>& grad_hy,
    const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
    at::TensorList params, bool has_biases, bool bidirectional, std::string_view nonlinearity,
    const at::Tensor& output, bool need_grad_input,
    kernels::Products widened_products = kernels::Products::Native) {
  const char* op = "torch_ext::_rnn_layer_backward";
  const LayerShape shape =
      check_rnn_layer(op, input, batch_sizes, hx, params, has_biases, bidirectional);
  check_rnn_backward_args(op, shape, input, grad_output, grad_hy, hx, output);
  const at::ScalarType dtype = input.scalar_type();
  if (widens_call(input)) {
    auto [grad_input, grad_hx, grad_params] = rnn_layer_backward_cpu_impl(
        widen(grad_output), widen(grad_hy), widen(input), batch_sizes, widen(hx), widen(params),
        has_biases, bidirectional, nonlinearity, widen(output), need_grad_input,
        bf16_call_products());
    return {narrow_to(grad_input, dtype), narrow_to(grad_hx, dtype),
            narrow_to(grad_params, dtype)};
  }
  // Where the products are bfloat16 ones, a bfloat16 call's input, output, dy and weights stay
  // in bfloat16: products read them as they are, dy is added to the float dh, and the pointwise
  // pass reads each step's rows converted (state_rows).
  const kernels::Products products = call_products(input, widened_products);
  const kernels::RnnSizes sizes = kernel_sizes(op, shape, nonlinearity);
  const int64_t D = shape.layout.directions;
  const int64_t H = sizes.hidden_size;
  const int64_t I = sizes.input_size;
  const int64_t B = shape.batch.expect_int();
  const SequenceRows rows = sequence_rows(op, input, batch_sizes, B);
  const kernels::SequenceLayout sequence = rows.layout();
  const auto options = compute_options(input);

  const at::Tensor x = input.contiguous();
  const at::Tensor h0 = widen(hx).contiguous();
  const at::Tensor y = output.contiguous();
  const GradientRows dy = gradient_rows(grad_output, D * H);
  at::Tensor grad_hx = contiguous_or_zeros(widen(grad_hy), h0);
  at::Tensor grad_input = input_gradient(input, need_grad_input, D, products);
  // The directions run at once: each has its own workspaces, of one backward window's rows
  // (a long sequence goes back a window of steps at a time; kernels/sequence.h).
  // Windows by the widest rows of a workspace: dG's, or the float previous states of a packed
  // sequence where dG is bfloat16.
  const auto gradient = gradient_options(options, products);
  const int64_t row_bytes =
      H * static_cast<int64_t>(std::max(gradient.dtype().itemsize(),
                                        sequence.uniform ? 0 : options.dtype().itemsize()));
  const kernels::BackwardWindowPlan windows = kernels::backward_window_plan(sequence, row_bytes);
  const int64_t W = windows.rows;
  const auto weight_gradient = weight_gradient_options(
      input, options, products, kernels::backward_window_count(sequence, windows.steps) == 1);
  at::Tensor grad_gates = at::empty({D, W, H}, gradient);
  at::Tensor previous_h = sequence.uniform ? at::empty({0}, options) : at::empty({D, W, H}, options);
  at::Tensor state_rows =
      needs_widening(output) ? at::empty({D, B, H}, options) : at::empty({0}, options);
  std::vector<at::Tensor> grad_params;
  grad_params.reserve(params.size());

  AT_DISPATCH_FLOATING_TYPES(options.dtype().toScalarType(), "torch_ext::_rnn_layer_backward", [&] {
    std::vector<RnnDirectionTensors> weights;
    std::vector<kernels::RnnBackwardArgs<scalar_t>> directions(static_cast<size_t>(D));
    weights.reserve(static_cast<size_t>(D));
    std::vector<at::Tensor> grad_biases;
    for (int64_t direction = 0; direction < D; ++direction) {
      weights.emplace_back(direction_params(params, shape.layout, 0, direction), H);
      at::Tensor grad_w_ih = at::empty({H, I}, weight_gradient);
      at::Tensor grad_w_hh = at::empty({H, H}, weight_gradient);
      const at::Tensor grad_bias = has_biases ? at::empty({H}, options) : at::Tensor();

      kernels::RnnBackwardArgs<scalar_t>& args = directions[static_cast<size_t>(direction)];
      args.sequence = sequence;
      args.sizes = sizes;
      args.weights = weights.back().weights<scalar_t>();
      args.reverse = direction == 1;
      args.products = products;
      args.input = operand<scalar_t>(x);
      args.input_stride = I;
      args.output = operand<scalar_t>(y) + direction * H;
      args.output_stride = D * H;
      args.h0 = h0.const_data_ptr<scalar_t>() + direction * B * H;
      args.grad_output = dy.defined() ? operand<scalar_t>(dy.values) + direction * H : nullptr;
      args.grad_output_stride = dy.row_stride;
      args.grad_h_state = grad_hx.mutable_data_ptr<scalar_t>() + direction * B * H;
      args.grad_input = kernel_result<scalar_t>(grad_input);
      args.grad_input_bf16 = bfloat16_result(grad_input);
      args.grad_input_stride = I;
      args.accumulate_grad_input = direction > 0;
      args.grad_w_ih = kernel_result<scalar_t>(grad_w_ih);
      args.grad_w_ih_bf16 = bfloat16_result(grad_w_ih);
      args.grad_w_hh = kernel_result<scalar_t>(grad_w_hh);
      args.grad_w_hh_bf16 = bfloat16_result(grad_w_hh);
      args.grad_bias = has_biases ? grad_bias.mutable_data_ptr<scalar_t>() : nullptr;
      args.window_steps = windows.steps;
      args.workspace_rows = W;
      args.grad_gates = kernel_result<scalar_t>(grad_gates, direction * W * H);
      args.grad_gates_bf16 = bfloat16_result(grad_gates, direction * W * H);
      args.previous_h =
          sequence.uniform ? nullptr : previous_h.mutable_data_ptr<scalar_t>() + direction * W * H;
      args.state_rows = state_rows.numel() > 0
                            ? state_rows.mutable_data_ptr<scalar_t>() + direction * B * H
                            : nullptr;

      grad_params.push_back(grad_w_ih);
      grad_params.push_back(grad_w_hh);
      if (has_biases) {
        grad_params.push_back(grad_bias);
        grad_biases.push_back(grad_bias);
      }
    }
    kernels::rnn_layer_backward(directions.data(), D);
    if (has_biases) {
      // b_ih and b_hh receive the same gradient; give each its own tensor.
      for (int64_t direction = 0; direction < D; ++direction) {
        const size_t index = static_cast<size_t>(direction * shape.layout.per_direction() + 3);
        grad_params.insert(grad_params.begin() + static_cast<std::ptrdiff_t>(index),
                           grad_biases[static_cast<size_t>(direction)].clone());
      }
    }
  });
  // A bfloat16 call's results are narrowed once the workspaces are gone, one at a time.
  grad_gates.reset();
  previous_h.reset();
  state_rows.reset();
  narrow_each(grad_params, dtype);
  return {narrow_to(grad_input, dtype), narrow_to(grad_hx, dtype), grad_params};
}

std::tuple<at::Tensor, at::Tensor, std::vector<at::Tensor>> rnn_layer_backward_cpu(
    const std::optional<at::Tensor>& grad_output, const std::optional<at::Tensor>& grad_hy,
    const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
    at::TensorList params, bool has_biases, bool bidirectional, std::string_view nonlinearity,
    const at::Tensor& output, bool need_grad_input) {
  return rnn_layer_backward_cpu_impl(grad_output, grad_hy, input, batch_sizes, hx, params,
                                     has_biases, bidirectional, nonlinearity, output,
                                     need_grad_input);
}

// --- Meta: shapes only -------------------------------------------------------------------------------

std::tuple<at::Tensor, at::Tensor> rnn_layer_meta(const at::Tensor& input,
                                                  const std::optional<at::Tensor>& batch_sizes,
                                                  const at::Tensor& hx, at::TensorList params,
                                                  bool has_biases, bool bidirectional,
                                                  std::string_view nonlinearity) {
  const char* op = "torch_ext::rnn_layer";
  const LayerShape shape =
      check_rnn_layer(op, input, batch_sizes, hx, params, has_biases, bidirectional);
  parse_nonlinearity(op, nonlinearity);
  return {at::empty_symint(layer_output_sizes(input, shape), input.options()),
          at::empty_symint(hx.sym_sizes(), input.options())};
}

std::tuple<at::Tensor, at::Tensor, std::vector<at::Tensor>> rnn_layer_backward_meta(
    const std::optional<at::Tensor>& grad_output, const std::optional<at::Tensor>& grad_hy,
    const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
    at::TensorList params, bool has_biases, bool bidirectional, std::string_view nonlinearity,
    const at::Tensor& output, bool need_grad_input) {
  const char* op = "torch_ext::_rnn_layer_backward";
  const LayerShape shape =
      check_rnn_layer(op, input, batch_sizes, hx, params, has_biases, bidirectional);
  check_rnn_backward_args(op, shape, input, grad_output, grad_hy, hx, output);
  parse_nonlinearity(op, nonlinearity);
  const auto options = input.options();
  std::vector<at::Tensor> grad_params;
  grad_params.reserve(params.size());
  for (const at::Tensor& param : params) {
    grad_params.push_back(at::empty_symint(param.sym_sizes(), options));
  }
  return {need_grad_input ? at::empty_symint(input.sym_sizes(), options) : at::empty({0}, options),
          at::empty_symint(hx.sym_sizes(), options), grad_params};
}

// --- the public ops, composed of layer ops ---------------------------------------------------------

std::tuple<at::Tensor, at::Tensor> rnn_layers(const char* op, const at::Tensor& x,
                                              const std::optional<at::Tensor>& batch_sizes,
                                              const at::Tensor& hx, at::TensorList params,
                                              bool has_biases, int64_t num_layers, double dropout,
                                              bool train, bool bidirectional,
                                              std::string_view nonlinearity) {
  const std::vector<at::Tensor> states{hx};
  check_states(op, states);
  RnnParamLayout layout;
  layout.gates = 1;
  layout.has_biases = has_biases;
  layout.num_layers = num_layers;
  layout.directions = bidirectional ? 2 : 1;
  const std::vector<at::Tensor> results = run_layers(
      op, x, batch_sizes.has_value(), states, params, layout, dropout, train, hx.sym_size(2),
      hx.sym_size(2),
      [&](const at::Tensor& input, const std::vector<at::Tensor>& layer_states,
          at::TensorList layer_params) {
        auto [output, hy] = call_rnn_layer(input, batch_sizes, layer_states[0], layer_params,
                                           has_biases, bidirectional, nonlinearity);
        return std::vector<at::Tensor>{output, hy};
      });
  return {results[0], results[1]};
}

// The ops of one nonlinearity: rnn_tanh.* or rnn_relu.*.
template <bool Relu>
struct RnnOps {
  static constexpr const char* kName = Relu ? "torch_ext::rnn_relu" : "torch_ext::rnn_tanh";
  static constexpr const char* kCellName =
      Relu ? "torch_ext::rnn_relu_cell" : "torch_ext::rnn_tanh_cell";
  static constexpr std::string_view kNonlinearity = Relu ? "relu" : "tanh";

  static std::tuple<at::Tensor, at::Tensor> input(const at::Tensor& input, const at::Tensor& hx,
                                                  at::TensorList params, bool has_biases,
                                                  int64_t num_layers, double dropout, bool train,
                                                  bool bidirectional, bool batch_first) {
    const at::Tensor x = time_major_input(kName, input, batch_first);
    auto [output, hy] = rnn_layers(kName, x, std::nullopt, hx, params, has_biases, num_layers,
                                   dropout, train, bidirectional, kNonlinearity);
    return {batch_first ? output.transpose(0, 1) : output, hy};
  }

  static std::tuple<at::Tensor, at::Tensor> data(const at::Tensor& data,
                                                 const at::Tensor& batch_sizes,
                                                 const at::Tensor& hx, at::TensorList params,
                                                 bool has_biases, int64_t num_layers,
                                                 double dropout, bool train, bool bidirectional) {
    check_floating_tensor(kName, "data", data);
    check_dim(kName, "data", data, 2, "[rows, input_size] (packed)");
    return rnn_layers(kName, data, batch_sizes, hx, params, has_biases, num_layers, dropout, train,
                      bidirectional, kNonlinearity);
  }

  // ATen's rnn_tanh_cell / rnn_relu_cell: input [B, I], hx [B, H], each bias optional.
  static at::Tensor cell(const at::Tensor& input, const at::Tensor& hx, const at::Tensor& w_ih,
                         const at::Tensor& w_hh, const std::optional<at::Tensor>& b_ih,
                         const std::optional<at::Tensor>& b_hh) {
    check_cell_input(kCellName, input, w_ih, w_hh);
    check_cell_state(kCellName, input, hx, w_hh, 0);
    bool has_biases = false;
    const std::vector<at::Tensor> params = cell_params(w_ih, w_hh, b_ih, b_hh, has_biases);
    auto [output, hy] = call_rnn_layer(input.unsqueeze(0), std::nullopt, hx.unsqueeze(0), params,
                                       has_biases, /*bidirectional=*/false, kNonlinearity);
    return hy.squeeze(0);
  }
};

}  // namespace

LayerShape check_rnn_layer(const char* op, const at::Tensor& input,
                           const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
                           at::TensorList params, bool has_biases, bool bidirectional) {
  RnnParamLayout layout;
  layout.gates = 1;
  layout.has_biases = has_biases;
  layout.directions = bidirectional ? 2 : 1;
  return check_layer(op, input, batch_sizes, hx, nullptr, params, layout, /*may_project=*/false);
}

std::tuple<at::Tensor, at::Tensor> call_rnn_layer(const at::Tensor& input,
                                                  const std::optional<at::Tensor>& batch_sizes,
                                                  const at::Tensor& hx, at::TensorList params,
                                                  bool has_biases, bool bidirectional,
                                                  std::string_view nonlinearity) {
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("torch_ext::rnn_layer", "")
                             .typed<decltype(rnn_layer_cpu)>();
  return op.call(input, batch_sizes, hx, params, has_biases, bidirectional, nonlinearity);
}

std::tuple<at::Tensor, at::Tensor, std::vector<at::Tensor>> call_rnn_layer_backward(
    const std::optional<at::Tensor>& grad_output, const std::optional<at::Tensor>& grad_hy,
    const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
    at::TensorList params, bool has_biases, bool bidirectional, std::string_view nonlinearity,
    const at::Tensor& output, bool need_grad_input) {
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("torch_ext::_rnn_layer_backward", "")
                             .typed<decltype(rnn_layer_backward_cpu)>();
  return op.call(grad_output, grad_hy, input, batch_sizes, hx, params, has_biases, bidirectional,
                 nonlinearity, output, need_grad_input);
}

TORCH_LIBRARY_IMPL(torch_ext, CPU, m) {
  m.impl("rnn_layer", &rnn_layer_cpu);
  m.impl("_rnn_layer_backward", &rnn_layer_backward_cpu);
}

TORCH_LIBRARY_IMPL(torch_ext, Meta, m) {
  m.impl("rnn_layer", &rnn_layer_meta);
  m.impl("_rnn_layer_backward", &rnn_layer_backward_meta);
}

TORCH_LIBRARY_IMPL(torch_ext, CompositeImplicitAutograd, m) {
  m.impl("rnn_tanh.input", &RnnOps<false>::input);
  m.impl("rnn_tanh.data", &RnnOps<false>::data);
  m.impl("rnn_tanh_cell", &RnnOps<false>::cell);
  m.impl("rnn_relu.input", &RnnOps<true>::input);
  m.impl("rnn_relu.data", &RnnOps<true>::data);
  m.impl("rnn_relu_cell", &RnnOps<true>::cell);
}

}  // namespace torch_ext::ops
