// GRU operators: the CPU and Meta kernels of the layer ops, and the public ops (gru.input,
// gru.data, gru_cell and their reset-before twins) composed from the layer op. The math is in
// kernels/gru.cpp; autograd in ops/gru_autograd.cpp.
#include "ops/gru.h"

#include "kernels/gru.h"
#include "ops/checks.h"
#include "ops/precision.h"
#include "ops/recurrent.h"

#include <ATen/Dispatch.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/zeros.h>
#include <c10/util/Exception.h>
#include <torch/library.h>

namespace torch_ext::ops {
namespace {

constexpr int64_t kGruGates = 3;

// Contiguous copies (or the tensors themselves) of one direction's weights; the biases in the
// kernels' type, zeros where absent (the matrices of a bfloat16 call stay in bfloat16: operand()).
struct GruDirectionTensors {
  at::Tensor w_ih, w_hh, b_ih, b_hh;

  GruDirectionTensors(const RnnDirectionParams& p, int64_t gate_size) {
    w_ih = p.w_ih.contiguous();
    w_hh = p.w_hh.contiguous();
    b_ih = p.b_ih.defined() ? widen(p.b_ih).contiguous()
                            : at::zeros({gate_size}, compute_options(p.w_ih));
    b_hh = p.b_hh.defined() ? widen(p.b_hh).contiguous()
                            : at::zeros({gate_size}, compute_options(p.w_ih));
  }

  template <typename scalar_t>
  kernels::GruWeights<scalar_t> weights() const {
    kernels::GruWeights<scalar_t> result;
    result.w_ih = operand<scalar_t>(w_ih);
    result.w_hh = operand<scalar_t>(w_hh);
    result.b_ih = b_ih.const_data_ptr<scalar_t>();
    result.b_hh = b_hh.const_data_ptr<scalar_t>();
    return result;
  }
};

kernels::GruSizes kernel_sizes(const LayerShape& shape, bool reset_after) {
  kernels::GruSizes sizes;
  sizes.input_size = shape.input_size.expect_int();
  sizes.hidden_size = shape.hidden_size.expect_int();
  sizes.reset_after = reset_after;
  return sizes;
}

// The layer's forward on the CPU; saves the gates (and hidden_n) when `training`.
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> gru_layer_forward_cpu_impl(
    const char* op, const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes,
    const at::Tensor& hx, at::TensorList params, bool has_biases, bool bidirectional,
    bool reset_after, bool training,
    kernels::Products widened_products = kernels::Products::Native) {
  const LayerShape shape =
      check_gru_layer(op, input, batch_sizes, hx, params, has_biases, bidirectional);
  const at::ScalarType dtype = input.scalar_type();
  if (widens_call(input)) {
    auto [output, hy, gates, hidden_n] =
        gru_layer_forward_cpu_impl(op, widen(input), batch_sizes, widen(hx), widen(params),
                                   has_biases, bidirectional, reset_after, training,
                                   bf16_call_products());
    // The activations saved in the call's type (saved_options), as the kernels round them in.
    return {narrow_to(output, dtype), narrow_to(hy, dtype), narrow_to(gates, dtype),
            narrow_to(hidden_n, dtype)};
  }
  // Where the products are bfloat16 ones, a bfloat16 call's input and weights stay in bfloat16.
  const kernels::Products products = call_products(input, widened_products);
  const kernels::GruSizes sizes = kernel_sizes(shape, reset_after);
  const int64_t D = shape.layout.directions;
  const int64_t H = sizes.hidden_size;
  const int64_t G = sizes.gate_size();
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
  // Training saves r, z, n (and gh_n) in the call's type: in place of gi in float32 and float64;
  // a bfloat16 call rounds them into bfloat16 rows of their own, gi then taking a chunk of steps.
  const auto saved = saved_options(input);
  const bool saves_bf16 = training && needs_widening(input);
  const int64_t gates_rows = !training ? inference_gate_rows(N, B)
                             : saves_bf16 ? bf16_chunk_gate_rows(N, B)
                                          : N;
  at::Tensor saved_gates = saves_bf16 ? at::empty({D, N, G}, saved) : at::empty({0}, saved);
  at::Tensor hidden_n =
      training && reset_after ? at::empty({D, N, H}, saved) : at::empty({0}, saved);
  at::Tensor gates = at::empty({D, gates_rows, G}, options);
  at::Tensor step_gates = at::empty({D, B, G}, options);
  at::Tensor reset_state = reset_after ? at::empty({0}, options) : at::empty({D, B, H}, options);

  AT_DISPATCH_FLOATING_TYPES(options.dtype().toScalarType(), "torch_ext::gru_layer", [&] {
    std::vector<GruDirectionTensors> weights;
    std::vector<kernels::GruForwardArgs<scalar_t>> directions(static_cast<size_t>(D));
    weights.reserve(static_cast<size_t>(D));
    for (int64_t direction = 0; direction < D; ++direction) {
      weights.emplace_back(direction_params(params, shape.layout, 0, direction), G);
      kernels::GruForwardArgs<scalar_t>& args = directions[static_cast<size_t>(direction)];
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
      args.gates = gates.mutable_data_ptr<scalar_t>() + direction * gates_rows * G;
      args.gates_rows = gates_rows;
      args.hidden_n = kernel_result<scalar_t>(hidden_n, direction * N * H);
      args.training = training;
      args.saves_bf16 = saves_bf16;
      args.saved_gates_bf16 = bfloat16_result(saved_gates, direction * N * G);
      args.hidden_n_bf16 = bfloat16_result(hidden_n, direction * N * H);
      args.step_gates = step_gates.mutable_data_ptr<scalar_t>() + direction * B * G;
      args.reset_state =
          reset_after ? nullptr : reset_state.mutable_data_ptr<scalar_t>() + direction * B * H;
    }
    kernels::gru_layer_forward(directions.data(), D);
  });
  if (!training) {
    gates = at::empty({0}, saved);
  } else if (saves_bf16) {
    gates = saved_gates;
  }
  // The output is in the call's type already (output_options).
  return {output, narrow_to(hy, dtype), gates, hidden_n};
}

std::tuple<at::Tensor, at::Tensor> gru_layer_cpu(const at::Tensor& input,
                                                 const std::optional<at::Tensor>& batch_sizes,
                                                 const at::Tensor& hx, at::TensorList params,
                                                 bool has_biases, bool bidirectional,
                                                 bool reset_after) {
  auto [output, hy, gates, hidden_n] =
      gru_layer_forward_cpu_impl("torch_ext::gru_layer", input, batch_sizes, hx, params,
                                 has_biases, bidirectional, reset_after, /*training=*/false);
  return {output, hy};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> gru_layer_forward_cpu(
    const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
    at::TensorList params, bool has_biases, bool bidirectional, bool reset_after) {
  return gru_layer_forward_cpu_impl("torch_ext::_gru_layer_forward", input, batch_sizes, hx,
                                    params, has_biases, bidirectional, reset_after,
                                    /*training=*/true);
}

// The saved tensors and incoming gradients handed to the backward op have the forward's shapes.
void check_gru_backward_args(const char* op, const LayerShape& shape, const at::Tensor& input,
                             const std::optional<at::Tensor>& grad_output,
                             const std::optional<at::Tensor>& grad_hy, const at::Tensor& hx,
                             bool reset_after, const at::Tensor& output, const at::Tensor& gates,
                             const at::Tensor& hidden_n) {
  const int64_t D = shape.layout.directions;
  const std::vector<c10::SymInt> out_sizes = layer_output_sizes(input, shape);
  check_like(op, "output", output, "input", input);
  check_sizes(op, "output", output, out_sizes);
  const at::ScalarType saved = saved_options(input).dtype().toScalarType();
  check_workspace(op, "gates", gates, input, {D, shape.rows, shape.hidden_size * kGruGates},
                  saved);
  if (reset_after) {
    check_workspace(op, "hidden_n", hidden_n, input, {D, shape.rows, shape.hidden_size}, saved);
  }
  if (grad_output.has_value() && grad_output->defined()) {
    check_like(op, "grad_output", *grad_output, "input", input);
    check_sizes(op, "grad_output", *grad_output, out_sizes);
  }
  if (grad_hy.has_value() && grad_hy->defined()) {
    check_like(op, "grad_hy", *grad_hy, "input", input);
    check_sizes(op, "grad_hy", *grad_hy, hx.sym_sizes().vec());
  }
}

std::tuple<at::Tensor, at::Tensor, std::vector<at::Tensor>> gru_layer_backward_cpu_impl(
    const std::optional<at::Tensor>& grad_output, const std::optional<at::Tensor>& grad_hy,
    const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
    at::TensorList params, bool has_biases, bool bidirectional, bool reset_after,
    const at::Tensor& output, const at::Tensor& gates, const at::Tensor& hidden_n,
    bool need_grad_input,
    kernels::Products widened_products = kernels::Products::Native) {
  const char* op = "torch_ext::_gru_layer_backward";
  const LayerShape shape =
      check_gru_layer(op, input, batch_sizes, hx, params, has_biases, bidirectional);
  check_gru_backward_args(op, shape, input, grad_output, grad_hy, hx, reset_after, output, gates,
                          hidden_n);
  const at::ScalarType dtype = input.scalar_type();
  if (widens_call(input)) {
    auto [grad_input, grad_hx, grad_params] = gru_layer_backward_cpu_impl(
        widen(grad_output), widen(grad_hy), widen(input), batch_sizes, widen(hx), widen(params),
        has_biases, bidirectional, reset_after, widen(output), widen(gates), widen(hidden_n),
        need_grad_input, bf16_call_products());
    return {narrow_to(grad_input, dtype), narrow_to(grad_hx, dtype),
            narrow_to(grad_params, dtype)};
  }
  // Where the products are bfloat16 ones, a bfloat16 call's input, output, dy and weights stay
  // in bfloat16: products read them as they are, dy is added to the float dh, and the pointwise
  // pass reads each step's previous states converted (state_rows).
  const kernels::Products products = call_products(input, widened_products);
  const kernels::GruSizes sizes = kernel_sizes(shape, reset_after);
  const int64_t D = shape.layout.directions;
  const int64_t H = sizes.hidden_size;
  const int64_t G = sizes.gate_size();
  const int64_t I = sizes.input_size;
  const int64_t B = shape.batch.expect_int();
  const SequenceRows rows = sequence_rows(op, input, batch_sizes, B);
  const kernels::SequenceLayout sequence = rows.layout();
  const int64_t N = sequence.rows;
  const auto options = compute_options(input);
  const auto empty = [&] { return at::empty({0}, options); };

  const at::Tensor x = input.contiguous();
  const at::Tensor h0 = widen(hx).contiguous();
  const at::Tensor y = output.contiguous();
  // The saved activations: bfloat16 in a bfloat16 call, read widened by the pointwise passes.
  const at::Tensor saved_gates = gates.contiguous();
  const at::Tensor saved_hidden_n = reset_after ? hidden_n.contiguous() : empty();
  const GradientRows dy = gradient_rows(grad_output, D * H);
  at::Tensor grad_hx = contiguous_or_zeros(widen(grad_hy), h0);
  at::Tensor grad_input = input_gradient(input, need_grad_input, D, products);

  // The directions run at once: each has its own workspaces.
  // Workspaces of one backward window's rows (a long sequence goes back a window of steps at a
  // time; kernels/sequence.h).
  // dG's rows are the widest (3H values; in bfloat16 still wider than a float [W, H] row).
  const auto gradient = gradient_options(options, products);
  const kernels::BackwardWindowPlan windows = kernels::backward_window_plan(
      sequence, G * static_cast<int64_t>(gradient.dtype().itemsize()));
  const int64_t W = windows.rows;
  const auto weight_gradient = weight_gradient_options(
      input, options, products, kernels::backward_window_count(sequence, windows.steps) == 1);
  at::Tensor grad_gates = at::empty({D, W, G}, gradient);
  at::Tensor grad_input_n = reset_after ? at::empty({D, W, H}, gradient) : empty();
  at::Tensor previous_h = sequence.uniform ? empty() : at::empty({D, W, H}, options);
  at::Tensor reset_state = reset_after ? empty() : at::empty({D, W, H}, options);
  at::Tensor grad_reset_state = reset_after ? empty() : at::empty({D, B, H}, options);
  at::Tensor state_rows = needs_widening(output) ? at::empty({D, B, H}, options) : empty();
  std::vector<at::Tensor> grad_params;
  grad_params.reserve(params.size());

  AT_DISPATCH_FLOATING_TYPES(options.dtype().toScalarType(), "torch_ext::_gru_layer_backward", [&] {
    std::vector<GruDirectionTensors> weights;
    std::vector<kernels::GruBackwardArgs<scalar_t>> directions(static_cast<size_t>(D));
    weights.reserve(static_cast<size_t>(D));
    const auto slice = [](at::Tensor& tensor, int64_t offset) -> scalar_t* {
      return tensor.numel() > 0 ? tensor.mutable_data_ptr<scalar_t>() + offset : nullptr;
    };
    for (int64_t direction = 0; direction < D; ++direction) {
      weights.emplace_back(direction_params(params, shape.layout, 0, direction), G);
      at::Tensor grad_w_ih = at::empty({G, I}, weight_gradient);
      at::Tensor grad_w_hh = at::empty({G, H}, weight_gradient);
      at::Tensor grad_b_ih = has_biases ? at::empty({G}, options) : at::Tensor();
      at::Tensor grad_b_hh = has_biases ? at::empty({G}, options) : at::Tensor();

      kernels::GruBackwardArgs<scalar_t>& args = directions[static_cast<size_t>(direction)];
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
      args.gates = operand<scalar_t>(saved_gates) + direction * N * G;
      args.hidden_n =
          reset_after ? operand<scalar_t>(saved_hidden_n) + direction * N * H : nullptr;
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
      args.grad_b_ih = has_biases ? grad_b_ih.mutable_data_ptr<scalar_t>() : nullptr;
      args.grad_b_hh = has_biases ? grad_b_hh.mutable_data_ptr<scalar_t>() : nullptr;
      args.window_steps = windows.steps;
      args.workspace_rows = W;
      args.grad_gates = kernel_result<scalar_t>(grad_gates, direction * W * G);
      args.grad_gates_bf16 = bfloat16_result(grad_gates, direction * W * G);
      args.grad_input_n = kernel_result<scalar_t>(grad_input_n, direction * W * H);
      args.grad_input_n_bf16 = bfloat16_result(grad_input_n, direction * W * H);
      args.previous_h = slice(previous_h, direction * W * H);
      args.reset_state = slice(reset_state, direction * W * H);
      args.grad_reset_state = slice(grad_reset_state, direction * B * H);
      args.state_rows = slice(state_rows, direction * B * H);

      grad_params.push_back(grad_w_ih);
      grad_params.push_back(grad_w_hh);
      if (has_biases) {
        grad_params.push_back(grad_b_ih);
        grad_params.push_back(grad_b_hh);
      }
    }
    kernels::gru_layer_backward(directions.data(), D);
  });
  // A bfloat16 call's results are narrowed once the workspaces are gone, one at a time.
  for (at::Tensor* workspace :
       {&grad_gates, &grad_input_n, &previous_h, &reset_state, &grad_reset_state, &state_rows}) {
    workspace->reset();
  }
  narrow_each(grad_params, dtype);
  return {narrow_to(grad_input, dtype), narrow_to(grad_hx, dtype), grad_params};
}

std::tuple<at::Tensor, at::Tensor, std::vector<at::Tensor>> gru_layer_backward_cpu(
    const std::optional<at::Tensor>& grad_output, const std::optional<at::Tensor>& grad_hy,
    const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
    at::TensorList params, bool has_biases, bool bidirectional, bool reset_after,
    const at::Tensor& output, const at::Tensor& gates, const at::Tensor& hidden_n,
    bool need_grad_input) {
  return gru_layer_backward_cpu_impl(grad_output, grad_hy, input, batch_sizes, hx, params,
                                     has_biases, bidirectional, reset_after, output, gates,
                                     hidden_n, need_grad_input);
}

// --- Meta: shapes only -------------------------------------------------------------------------------

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> gru_layer_forward_meta_impl(
    const char* op, const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes,
    const at::Tensor& hx, at::TensorList params, bool has_biases, bool bidirectional,
    bool reset_after, bool training) {
  const LayerShape shape =
      check_gru_layer(op, input, batch_sizes, hx, params, has_biases, bidirectional);
  const auto options = input.options();
  const c10::SymInt D = shape.layout.directions;
  at::Tensor output = at::empty_symint(layer_output_sizes(input, shape), options);
  at::Tensor hy = at::empty_symint(hx.sym_sizes(), options);
  const auto saved = saved_options(input);
  at::Tensor gates = training ? at::empty_symint({D, shape.rows, shape.hidden_size * kGruGates},
                                                 saved)
                              : at::empty({0}, saved);
  at::Tensor hidden_n = training && reset_after
                            ? at::empty_symint({D, shape.rows, shape.hidden_size}, saved)
                            : at::empty({0}, saved);
  return {output, hy, gates, hidden_n};
}

std::tuple<at::Tensor, at::Tensor> gru_layer_meta(const at::Tensor& input,
                                                  const std::optional<at::Tensor>& batch_sizes,
                                                  const at::Tensor& hx, at::TensorList params,
                                                  bool has_biases, bool bidirectional,
                                                  bool reset_after) {
  auto [output, hy, gates, hidden_n] =
      gru_layer_forward_meta_impl("torch_ext::gru_layer", input, batch_sizes, hx, params,
                                  has_biases, bidirectional, reset_after, /*training=*/false);
  return {output, hy};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> gru_layer_forward_meta(
    const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
    at::TensorList params, bool has_biases, bool bidirectional, bool reset_after) {
  return gru_layer_forward_meta_impl("torch_ext::_gru_layer_forward", input, batch_sizes, hx,
                                     params, has_biases, bidirectional, reset_after,
                                     /*training=*/true);
}

std::tuple<at::Tensor, at::Tensor, std::vector<at::Tensor>> gru_layer_backward_meta(
    const std::optional<at::Tensor>& grad_output, const std::optional<at::Tensor>& grad_hy,
    const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
    at::TensorList params, bool has_biases, bool bidirectional, bool reset_after,
    const at::Tensor& output, const at::Tensor& gates, const at::Tensor& hidden_n,
    bool need_grad_input) {
  const char* op = "torch_ext::_gru_layer_backward";
  const LayerShape shape =
      check_gru_layer(op, input, batch_sizes, hx, params, has_biases, bidirectional);
  check_gru_backward_args(op, shape, input, grad_output, grad_hy, hx, reset_after, output, gates,
                          hidden_n);
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

std::tuple<at::Tensor, at::Tensor> gru_layers(const char* op, const at::Tensor& x,
                                              const std::optional<at::Tensor>& batch_sizes,
                                              const at::Tensor& hx, at::TensorList params,
                                              bool has_biases, int64_t num_layers, double dropout,
                                              bool train, bool bidirectional, bool reset_after) {
  const std::vector<at::Tensor> states{hx};
  check_states(op, states);
  RnnParamLayout layout;
  layout.gates = kGruGates;
  layout.has_biases = has_biases;
  layout.num_layers = num_layers;
  layout.directions = bidirectional ? 2 : 1;
  const std::vector<at::Tensor> results = run_layers(
      op, x, batch_sizes.has_value(), states, params, layout, dropout, train, hx.sym_size(2),
      hx.sym_size(2),
      [&](const at::Tensor& input, const std::vector<at::Tensor>& layer_states,
          at::TensorList layer_params) {
        auto [output, hy] = call_gru_layer(input, batch_sizes, layer_states[0], layer_params,
                                           has_biases, bidirectional, reset_after);
        return std::vector<at::Tensor>{output, hy};
      });
  return {results[0], results[1]};
}

template <bool ResetAfter>
std::tuple<at::Tensor, at::Tensor> gru_input(const at::Tensor& input, const at::Tensor& hx,
                                             at::TensorList params, bool has_biases,
                                             int64_t num_layers, double dropout, bool train,
                                             bool bidirectional, bool batch_first) {
  const char* op = ResetAfter ? "torch_ext::gru" : "torch_ext::gru_reset_before";
  const at::Tensor x = time_major_input(op, input, batch_first);
  auto [output, hy] = gru_layers(op, x, std::nullopt, hx, params, has_biases, num_layers, dropout,
                                 train, bidirectional, ResetAfter);
  return {batch_first ? output.transpose(0, 1) : output, hy};
}

template <bool ResetAfter>
std::tuple<at::Tensor, at::Tensor> gru_data(const at::Tensor& data, const at::Tensor& batch_sizes,
                                            const at::Tensor& hx, at::TensorList params,
                                            bool has_biases, int64_t num_layers, double dropout,
                                            bool train, bool bidirectional) {
  const char* op = ResetAfter ? "torch_ext::gru" : "torch_ext::gru_reset_before";
  check_floating_tensor(op, "data", data);
  check_dim(op, "data", data, 2, "[rows, input_size] (packed)");
  return gru_layers(op, data, batch_sizes, hx, params, has_biases, num_layers, dropout, train,
                    bidirectional, ResetAfter);
}

// ATen's gru_cell: input [B, I], hx [B, H], each bias optional.
template <bool ResetAfter>
at::Tensor gru_cell(const at::Tensor& input, const at::Tensor& hx, const at::Tensor& w_ih,
                    const at::Tensor& w_hh, const std::optional<at::Tensor>& b_ih,
                    const std::optional<at::Tensor>& b_hh) {
  const char* op = ResetAfter ? "torch_ext::gru_cell" : "torch_ext::gru_reset_before_cell";
  check_cell_input(op, input, w_ih, w_hh);
  check_cell_state(op, input, hx, w_hh, 0);
  bool has_biases = false;
  const std::vector<at::Tensor> params = cell_params(w_ih, w_hh, b_ih, b_hh, has_biases);
  auto [output, hy] = call_gru_layer(input.unsqueeze(0), std::nullopt, hx.unsqueeze(0), params,
                                     has_biases, /*bidirectional=*/false, ResetAfter);
  return hy.squeeze(0);
}

}  // namespace

LayerShape check_gru_layer(const char* op, const at::Tensor& input,
                           const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
                           at::TensorList params, bool has_biases, bool bidirectional) {
  RnnParamLayout layout;
  layout.gates = kGruGates;
  layout.has_biases = has_biases;
  layout.directions = bidirectional ? 2 : 1;
  return check_layer(op, input, batch_sizes, hx, nullptr, params, layout, /*may_project=*/false);
}

std::tuple<at::Tensor, at::Tensor> call_gru_layer(const at::Tensor& input,
                                                  const std::optional<at::Tensor>& batch_sizes,
                                                  const at::Tensor& hx, at::TensorList params,
                                                  bool has_biases, bool bidirectional,
                                                  bool reset_after) {
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("torch_ext::gru_layer", "")
                             .typed<decltype(gru_layer_cpu)>();
  return op.call(input, batch_sizes, hx, params, has_biases, bidirectional, reset_after);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> call_gru_layer_forward(
    const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
    at::TensorList params, bool has_biases, bool bidirectional, bool reset_after) {
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("torch_ext::_gru_layer_forward", "")
                             .typed<decltype(gru_layer_forward_cpu)>();
  return op.call(input, batch_sizes, hx, params, has_biases, bidirectional, reset_after);
}

std::tuple<at::Tensor, at::Tensor, std::vector<at::Tensor>> call_gru_layer_backward(
    const std::optional<at::Tensor>& grad_output, const std::optional<at::Tensor>& grad_hy,
    const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
    at::TensorList params, bool has_biases, bool bidirectional, bool reset_after,
    const at::Tensor& output, const at::Tensor& gates, const at::Tensor& hidden_n,
    bool need_grad_input) {
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("torch_ext::_gru_layer_backward", "")
                             .typed<decltype(gru_layer_backward_cpu)>();
  return op.call(grad_output, grad_hy, input, batch_sizes, hx, params, has_biases, bidirectional,
                 reset_after, output, gates, hidden_n, need_grad_input);
}

TORCH_LIBRARY_IMPL(torch_ext, CPU, m) {
  m.impl("gru_layer", &gru_layer_cpu);
  m.impl("_gru_layer_forward", &gru_layer_forward_cpu);
  m.impl("_gru_layer_backward", &gru_layer_backward_cpu);
}

TORCH_LIBRARY_IMPL(torch_ext, Meta, m) {
  m.impl("gru_layer", &gru_layer_meta);
  m.impl("_gru_layer_forward", &gru_layer_forward_meta);
  m.impl("_gru_layer_backward", &gru_layer_backward_meta);
}

TORCH_LIBRARY_IMPL(torch_ext, CompositeImplicitAutograd, m) {
  m.impl("gru.input", &gru_input<true>);
  m.impl("gru.data", &gru_data<true>);
  m.impl("gru_cell", &gru_cell<true>);
  m.impl("gru_reset_before.input", &gru_input<false>);
  m.impl("gru_reset_before.data", &gru_data<false>);
  m.impl("gru_reset_before_cell", &gru_cell<false>);
}

}  // namespace torch_ext::ops
