// Layer-norm GRU operators: CPU and Meta kernels of the layer ops, and the public ops
// (layer_norm_gru.input/.data, layer_norm_gru_cell) composed from the layer op. The math is in
// kernels/layer_norm_gru.cpp; autograd in ops/layer_norm_gru_autograd.cpp.
#include "ops/layer_norm_gru.h"

#include "kernels/layer_norm_gru.h"
#include "ops/checks.h"
#include "ops/precision.h"
#include "ops/recurrent.h"

#include <ATen/Dispatch.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/ops/add.h>
#include <ATen/ops/empty.h>
#include <c10/util/Exception.h>
#include <torch/library.h>

namespace torch_ext::ops {
namespace {

constexpr int64_t kGates = 3;
constexpr int64_t kSaved = kernels::kLayerNormGruStats;

RnnParamLayout layer_layout(bool has_biases, bool bidirectional) {
  RnnParamLayout layout;
  layout.gates = kGates;
  layout.has_biases = has_biases;
  layout.layer_norms = 2;
  layout.directions = bidirectional ? 2 : 1;
  return layout;
}

LayerShape check_layer_norm_gru_layer(const char* op, const at::Tensor& input,
                                      const std::optional<at::Tensor>& batch_sizes,
                                      const at::Tensor& hx, at::TensorList params,
                                      bool has_biases, bool bidirectional) {
  return check_layer(op, input, batch_sizes, hx, nullptr, params,
                     layer_layout(has_biases, bidirectional), /*may_project=*/false);
}

// Contiguous copies of one direction's tensors, plus the constants of gi and gh: b_ih + the input
// norm's bias and b_hh + the hidden norm's (the norms' biases alone without b_ih, b_hh), summed
// once here rather than at every value of every step.
struct Weights {
  at::Tensor w_ih, w_hh, input_bias, hidden_bias, ln_ih_weight, ln_hh_weight;

  explicit Weights(const RnnDirectionParams& p) {
    w_ih = p.w_ih.contiguous();
    w_hh = p.w_hh.contiguous();
    input_bias = p.b_ih.defined() ? at::add(p.b_ih, p.ln_ih_bias) : p.ln_ih_bias.contiguous();
    hidden_bias = p.b_hh.defined() ? at::add(p.b_hh, p.ln_hh_bias) : p.ln_hh_bias.contiguous();
    ln_ih_weight = p.ln_ih_weight.contiguous();
    ln_hh_weight = p.ln_hh_weight.contiguous();
  }

  template <typename scalar_t>
  kernels::LayerNormGruWeights<scalar_t> view() const {
    kernels::LayerNormGruWeights<scalar_t> result;
    result.w_ih = w_ih.const_data_ptr<scalar_t>();
    result.w_hh = w_hh.const_data_ptr<scalar_t>();
    result.input_bias = input_bias.const_data_ptr<scalar_t>();
    result.hidden_bias = hidden_bias.const_data_ptr<scalar_t>();
    result.ln_ih_weight = ln_ih_weight.const_data_ptr<scalar_t>();
    result.ln_hh_weight = ln_hh_weight.const_data_ptr<scalar_t>();
    return result;
  }
};

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> forward_cpu_impl(
    const char* op, const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes,
    const at::Tensor& hx, at::TensorList params, bool has_biases, bool bidirectional, double eps,
    bool training) {
  const LayerShape shape = check_layer_norm_gru_layer(op, input, batch_sizes, hx, params,
                                                      has_biases, bidirectional);
  if (needs_widening(input)) {
    auto [output, hy, gates, rstd] = forward_cpu_impl(op, widen(input), batch_sizes, widen(hx),
                                                      widen(params), has_biases, bidirectional,
                                                      eps, training);
    const at::ScalarType dtype = input.scalar_type();
    return {narrow_to(output, dtype), narrow_to(hy, dtype), gates, rstd};
  }
  const int64_t D = shape.layout.directions;
  const int64_t H = shape.hidden_size.expect_int();
  const int64_t I = shape.input_size.expect_int();
  const int64_t G = kGates * H;
  const int64_t B = shape.batch.expect_int();
  const SequenceRows rows = sequence_rows(op, input, batch_sizes, B);
  const kernels::SequenceLayout sequence = rows.layout();
  const int64_t N = sequence.rows;

  const at::Tensor x = input.contiguous();
  const at::Tensor h0 = hx.contiguous();
  const auto options = input.options();
  at::Tensor output = at::empty_symint(layer_output_sizes(input, shape), options);
  at::Tensor hy = at::empty({D, B, H}, options);
  // ĝi and ĝh (training saves them; the backward forms r, z, n again from them). Inference
  // needs them as scratch.
  at::Tensor gates = at::empty({D, 2, N, G}, options);
  at::Tensor rstd = at::empty({D, N, kSaved}, options);

  AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "torch_ext::layer_norm_gru_layer", [&] {
    std::vector<Weights> weights;
    weights.reserve(static_cast<size_t>(D));
    std::vector<kernels::LayerNormGruForwardArgs<scalar_t>> directions(static_cast<size_t>(D));
    for (int64_t direction = 0; direction < D; ++direction) {
      weights.emplace_back(direction_params(params, shape.layout, 0, direction));
      scalar_t* saved_gates = gates.mutable_data_ptr<scalar_t>() + direction * gates.stride(0);
      kernels::LayerNormGruForwardArgs<scalar_t>& args = directions[static_cast<size_t>(direction)];
      args.sequence = sequence;
      args.input_size = I;
      args.hidden_size = H;
      args.eps = static_cast<scalar_t>(eps);
      args.weights = weights.back().view<scalar_t>();
      args.reverse = direction == 1;
      args.training = training;
      args.input = x.const_data_ptr<scalar_t>();
      args.input_stride = I;
      args.output = output.mutable_data_ptr<scalar_t>() + direction * H;
      args.output_stride = D * H;
      args.h0 = h0.const_data_ptr<scalar_t>() + direction * B * H;
      args.h_state = hy.mutable_data_ptr<scalar_t>() + direction * B * H;
      args.input_gates = saved_gates;
      args.hidden_gates = saved_gates + N * G;
      args.rstd = rstd.mutable_data_ptr<scalar_t>() + direction * N * kSaved;
    }
    kernels::layer_norm_gru_layer_forward(directions.data(), D);
  });
  if (!training) {
    return {output, hy, at::empty({0}, options), at::empty({0}, options)};
  }
  return {output, hy, gates, rstd};
}

std::tuple<at::Tensor, at::Tensor> layer_cpu(const at::Tensor& input,
                                             const std::optional<at::Tensor>& batch_sizes,
                                             const at::Tensor& hx, at::TensorList params,
                                             bool has_biases, bool bidirectional, double eps) {
  auto [output, hy, gates, rstd] =
      forward_cpu_impl("torch_ext::layer_norm_gru_layer", input, batch_sizes, hx, params,
                       has_biases, bidirectional, eps, /*training=*/false);
  return {output, hy};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> forward_cpu(
    const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
    at::TensorList params, bool has_biases, bool bidirectional, double eps) {
  return forward_cpu_impl("torch_ext::_layer_norm_gru_layer_forward", input, batch_sizes, hx,
                          params, has_biases, bidirectional, eps, /*training=*/true);
}

void check_backward_args(const char* op, const LayerShape& shape, const at::Tensor& input,
                         const std::optional<at::Tensor>& grad_output,
                         const std::optional<at::Tensor>& grad_hy, const at::Tensor& hx,
                         const at::Tensor& output, const at::Tensor& gates,
                         const at::Tensor& rstd) {
  const int64_t D = shape.layout.directions;
  const std::vector<c10::SymInt> out_sizes = layer_output_sizes(input, shape);
  const auto saved = [&](const char* name, const at::Tensor& tensor,
                         const std::vector<c10::SymInt>& sizes) {
    check_like(op, name, tensor, "input", input);
    check_sizes(op, name, tensor, sizes);
  };
  saved("output", output, out_sizes);
  check_workspace(op, "gates", gates, input, {D, 2, shape.rows, shape.hidden_size * kGates});
  check_workspace(op, "rstd", rstd, input, {D, shape.rows, kSaved});
  if (grad_output.has_value() && grad_output->defined()) {
    saved("grad_output", *grad_output, out_sizes);
  }
  if (grad_hy.has_value() && grad_hy->defined()) {
    saved("grad_hy", *grad_hy, hx.sym_sizes().vec());
  }
}

std::tuple<at::Tensor, at::Tensor, std::vector<at::Tensor>> backward_cpu(
    const std::optional<at::Tensor>& grad_output, const std::optional<at::Tensor>& grad_hy,
    const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
    at::TensorList params, bool has_biases, bool bidirectional, const at::Tensor& output,
    const at::Tensor& gates, const at::Tensor& rstd, bool need_grad_input) {
  const char* op = "torch_ext::_layer_norm_gru_layer_backward";
  const LayerShape shape = check_layer_norm_gru_layer(op, input, batch_sizes, hx, params,
                                                      has_biases, bidirectional);
  check_backward_args(op, shape, input, grad_output, grad_hy, hx, output, gates, rstd);
  if (needs_widening(input)) {
    auto [grad_input, grad_hx, grad_params] = backward_cpu(
        widen(grad_output), widen(grad_hy), widen(input), batch_sizes, widen(hx), widen(params),
        has_biases, bidirectional, widen(output), gates, rstd, need_grad_input);
    const at::ScalarType dtype = input.scalar_type();
    return {narrow_to(grad_input, dtype), narrow_to(grad_hx, dtype),
            narrow_to(grad_params, dtype)};
  }
  const int64_t D = shape.layout.directions;
  const int64_t H = shape.hidden_size.expect_int();
  const int64_t I = shape.input_size.expect_int();
  const int64_t G = kGates * H;
  const int64_t B = shape.batch.expect_int();
  const SequenceRows rows = sequence_rows(op, input, batch_sizes, B);
  const kernels::SequenceLayout sequence = rows.layout();
  const int64_t N = sequence.rows;
  const auto options = input.options();

  const at::Tensor x = input.contiguous();
  const at::Tensor h0 = hx.contiguous();
  const at::Tensor y = output.contiguous();
  const at::Tensor saved_gates = gates.contiguous();
  const at::Tensor saved_rstd = rstd.contiguous();
  const GradientRows dy = gradient_rows(grad_output, D * H);
  at::Tensor grad_hx = contiguous_or_zeros(grad_hy, hx);
  at::Tensor grad_input = need_grad_input ? at::empty(input.sizes(), options) : at::empty({0}, options);
  // Workspaces of one backward window's rows (a long sequence goes back a window of steps at a
  // time; kernels/sequence.h).
  const kernels::BackwardWindowPlan windows =
      kernels::backward_window_plan(sequence, G * static_cast<int64_t>(input.element_size()));
  const int64_t W = windows.rows;
  at::Tensor grad_input_gates = at::empty({D, W, G}, options);
  at::Tensor grad_hidden_raw = at::empty({D, W, G}, options);
  at::Tensor previous_h = sequence.uniform ? at::empty({0}, options) : at::empty({D, W, H}, options);
  std::vector<at::Tensor> grad_params;
  grad_params.reserve(params.size());

  AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "torch_ext::_layer_norm_gru_layer_backward", [&] {
    std::vector<Weights> weights;
    weights.reserve(static_cast<size_t>(D));
    std::vector<kernels::LayerNormGruBackwardArgs<scalar_t>> directions(static_cast<size_t>(D));
    for (int64_t direction = 0; direction < D; ++direction) {
      weights.emplace_back(direction_params(params, shape.layout, 0, direction));
      const at::Tensor grad_w_ih = at::empty({G, I}, options);
      const at::Tensor grad_w_hh = at::empty({G, H}, options);
      std::vector<at::Tensor> grad_norms;  // ln_ih w, b; ln_hh w, b
      for (int64_t i = 0; i < 4; ++i) {
        grad_norms.push_back(at::empty({G}, options));
      }
      const scalar_t* gates_of = saved_gates.const_data_ptr<scalar_t>() + direction * 2 * N * G;

      kernels::LayerNormGruBackwardArgs<scalar_t>& args = directions[static_cast<size_t>(direction)];
      args.sequence = sequence;
      args.input_size = I;
      args.hidden_size = H;
      args.weights = weights.back().view<scalar_t>();
      args.reverse = direction == 1;
      args.input = x.const_data_ptr<scalar_t>();
      args.input_stride = I;
      args.output = y.const_data_ptr<scalar_t>() + direction * H;
      args.output_stride = D * H;
      args.h0 = h0.const_data_ptr<scalar_t>() + direction * B * H;
      args.input_gates = gates_of;
      args.hidden_gates = gates_of + N * G;
      args.rstd = saved_rstd.const_data_ptr<scalar_t>() + direction * N * kSaved;
      args.grad_output =
          dy.defined() ? dy.values.const_data_ptr<scalar_t>() + direction * H : nullptr;
      args.grad_output_stride = dy.row_stride;
      args.grad_h_state = grad_hx.mutable_data_ptr<scalar_t>() + direction * B * H;
      args.grad_input = need_grad_input ? grad_input.mutable_data_ptr<scalar_t>() : nullptr;
      args.grad_input_stride = I;
      args.accumulate_grad_input = direction > 0;
      args.grad_w_ih = grad_w_ih.mutable_data_ptr<scalar_t>();
      args.grad_w_hh = grad_w_hh.mutable_data_ptr<scalar_t>();
      args.grad_ln_ih_weight = grad_norms[0].mutable_data_ptr<scalar_t>();
      args.grad_ln_ih_bias = grad_norms[1].mutable_data_ptr<scalar_t>();
      args.grad_ln_hh_weight = grad_norms[2].mutable_data_ptr<scalar_t>();
      args.grad_ln_hh_bias = grad_norms[3].mutable_data_ptr<scalar_t>();
      args.window_steps = windows.steps;
      args.workspace_rows = W;
      args.grad_input_gates = grad_input_gates.mutable_data_ptr<scalar_t>() + direction * W * G;
      args.grad_hidden_raw = grad_hidden_raw.mutable_data_ptr<scalar_t>() + direction * W * G;
      args.previous_h =
          sequence.uniform ? nullptr : previous_h.mutable_data_ptr<scalar_t>() + direction * W * H;

      grad_params.push_back(grad_w_ih);
      grad_params.push_back(grad_w_hh);
      if (has_biases) {
        // ∂b_ih = ∂ln_ih_bias, ∂b_hh = ∂ln_hh_bias: filled in once the kernel has run.
        grad_params.emplace_back();
        grad_params.emplace_back();
      }
      grad_params.insert(grad_params.end(), grad_norms.begin(), grad_norms.end());
    }
    kernels::layer_norm_gru_layer_backward(directions.data(), D);
  });
  if (has_biases) {
    const int64_t per_direction = shape.layout.per_direction();
    for (int64_t direction = 0; direction < D; ++direction) {
      const size_t first = static_cast<size_t>(direction * per_direction);
      grad_params[first + 2] = grad_params[first + 5].clone();
      grad_params[first + 3] = grad_params[first + 7].clone();
    }
  }
  return {grad_input, grad_hx, grad_params};
}

// --- Meta -----------------------------------------------------------------------------------------------

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> forward_meta_impl(
    const char* op, const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes,
    const at::Tensor& hx, at::TensorList params, bool has_biases, bool bidirectional,
    bool training) {
  const LayerShape shape = check_layer_norm_gru_layer(op, input, batch_sizes, hx, params,
                                                      has_biases, bidirectional);
  const auto options = input.options();
  const c10::SymInt D = shape.layout.directions;
  at::Tensor output = at::empty_symint(layer_output_sizes(input, shape), options);
  at::Tensor hy = at::empty_symint(hx.sym_sizes(), options);
  if (!training) {
    return {output, hy, at::empty({0}, options), at::empty({0}, options)};
  }
  const auto workspace = compute_options(input);
  return {output, hy, at::empty_symint({D, 2, shape.rows, shape.hidden_size * kGates}, workspace),
          at::empty_symint({D, shape.rows, kSaved}, workspace)};
}

std::tuple<at::Tensor, at::Tensor> layer_meta(const at::Tensor& input,
                                              const std::optional<at::Tensor>& batch_sizes,
                                              const at::Tensor& hx, at::TensorList params,
                                              bool has_biases, bool bidirectional, double eps) {
  (void)eps;
  auto [output, hy, gates, rstd] =
      forward_meta_impl("torch_ext::layer_norm_gru_layer", input, batch_sizes, hx, params,
                        has_biases, bidirectional, /*training=*/false);
  return {output, hy};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> forward_meta(
    const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
    at::TensorList params, bool has_biases, bool bidirectional, double eps) {
  (void)eps;
  return forward_meta_impl("torch_ext::_layer_norm_gru_layer_forward", input, batch_sizes, hx,
                           params, has_biases, bidirectional, /*training=*/true);
}

std::tuple<at::Tensor, at::Tensor, std::vector<at::Tensor>> backward_meta(
    const std::optional<at::Tensor>& grad_output, const std::optional<at::Tensor>& grad_hy,
    const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
    at::TensorList params, bool has_biases, bool bidirectional, const at::Tensor& output,
    const at::Tensor& gates, const at::Tensor& rstd, bool need_grad_input) {
  const char* op = "torch_ext::_layer_norm_gru_layer_backward";
  const LayerShape shape = check_layer_norm_gru_layer(op, input, batch_sizes, hx, params,
                                                      has_biases, bidirectional);
  check_backward_args(op, shape, input, grad_output, grad_hy, hx, output, gates, rstd);
  const auto options = input.options();
  std::vector<at::Tensor> grad_params;
  grad_params.reserve(params.size());
  for (const at::Tensor& param : params) {
    grad_params.push_back(at::empty_symint(param.sym_sizes(), options));
  }
  return {need_grad_input ? at::empty_symint(input.sym_sizes(), options) : at::empty({0}, options),
          at::empty_symint(hx.sym_sizes(), options), grad_params};
}

// --- the public ops ---------------------------------------------------------------------------------------

std::tuple<at::Tensor, at::Tensor> layers(const char* op, const at::Tensor& x,
                                          const std::optional<at::Tensor>& batch_sizes,
                                          const at::Tensor& hx, at::TensorList params,
                                          bool has_biases, int64_t num_layers, double dropout,
                                          bool train, bool bidirectional, double eps) {
  const std::vector<at::Tensor> states{hx};
  check_states(op, states);
  RnnParamLayout layout = layer_layout(has_biases, bidirectional);
  layout.num_layers = num_layers;
  const std::vector<at::Tensor> results = run_layers(
      op, x, batch_sizes.has_value(), states, params, layout, dropout, train, hx.sym_size(2),
      hx.sym_size(2),
      [&](const at::Tensor& input, const std::vector<at::Tensor>& layer_states,
          at::TensorList layer_params) {
        auto [output, hy] = call_layer_norm_gru_layer(input, batch_sizes, layer_states[0],
                                                      layer_params, has_biases, bidirectional, eps);
        return std::vector<at::Tensor>{output, hy};
      });
  return {results[0], results[1]};
}

std::tuple<at::Tensor, at::Tensor> input_op(const at::Tensor& input, const at::Tensor& hx,
                                            at::TensorList params, bool has_biases,
                                            int64_t num_layers, double dropout, bool train,
                                            bool bidirectional, bool batch_first, double eps) {
  const char* op = "torch_ext::layer_norm_gru";
  const at::Tensor x = time_major_input(op, input, batch_first);
  auto [output, hy] = layers(op, x, std::nullopt, hx, params, has_biases, num_layers, dropout,
                             train, bidirectional, eps);
  return {batch_first ? output.transpose(0, 1) : output, hy};
}

std::tuple<at::Tensor, at::Tensor> data_op(const at::Tensor& data, const at::Tensor& batch_sizes,
                                           const at::Tensor& hx, at::TensorList params,
                                           bool has_biases, int64_t num_layers, double dropout,
                                           bool train, bool bidirectional, double eps) {
  const char* op = "torch_ext::layer_norm_gru";
  check_floating_tensor(op, "data", data);
  check_dim(op, "data", data, 2, "[rows, input_size] (packed)");
  return layers(op, data, batch_sizes, hx, params, has_biases, num_layers, dropout, train,
                bidirectional, eps);
}

// One step: input [B, I], hx [B, H], params of one direction.
at::Tensor cell_op(const at::Tensor& input, const at::Tensor& hx, at::TensorList params,
                   bool has_biases, double eps) {
  const char* op = "torch_ext::layer_norm_gru_cell";
  check_cell_states(op, input, {hx}, params);
  auto [output, hy] = call_layer_norm_gru_layer(input.unsqueeze(0), std::nullopt,
                                                hx.unsqueeze(0), params, has_biases, false, eps);
  return hy.squeeze(0);
}

}  // namespace

std::tuple<at::Tensor, at::Tensor> call_layer_norm_gru_layer(
    const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
    at::TensorList params, bool has_biases, bool bidirectional, double eps) {
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("torch_ext::layer_norm_gru_layer", "")
                             .typed<decltype(layer_cpu)>();
  return op.call(input, batch_sizes, hx, params, has_biases, bidirectional, eps);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> call_layer_norm_gru_layer_forward(
    const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
    at::TensorList params, bool has_biases, bool bidirectional, double eps) {
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("torch_ext::_layer_norm_gru_layer_forward", "")
                             .typed<decltype(forward_cpu)>();
  return op.call(input, batch_sizes, hx, params, has_biases, bidirectional, eps);
}

std::tuple<at::Tensor, at::Tensor, std::vector<at::Tensor>> call_layer_norm_gru_layer_backward(
    const std::optional<at::Tensor>& grad_output, const std::optional<at::Tensor>& grad_hy,
    const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
    at::TensorList params, bool has_biases, bool bidirectional, const at::Tensor& output,
    const at::Tensor& gates, const at::Tensor& rstd, bool need_grad_input) {
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("torch_ext::_layer_norm_gru_layer_backward", "")
                             .typed<decltype(backward_cpu)>();
  return op.call(grad_output, grad_hy, input, batch_sizes, hx, params, has_biases, bidirectional,
                 output, gates, rstd, need_grad_input);
}

TORCH_LIBRARY_IMPL(torch_ext, CPU, m) {
  m.impl("layer_norm_gru_layer", &layer_cpu);
  m.impl("_layer_norm_gru_layer_forward", &forward_cpu);
  m.impl("_layer_norm_gru_layer_backward", &backward_cpu);
}

TORCH_LIBRARY_IMPL(torch_ext, Meta, m) {
  m.impl("layer_norm_gru_layer", &layer_meta);
  m.impl("_layer_norm_gru_layer_forward", &forward_meta);
  m.impl("_layer_norm_gru_layer_backward", &backward_meta);
}

TORCH_LIBRARY_IMPL(torch_ext, CompositeImplicitAutograd, m) {
  m.impl("layer_norm_gru.input", &input_op);
  m.impl("layer_norm_gru.data", &data_op);
  m.impl("layer_norm_gru_cell", &cell_op);
}

}  // namespace torch_ext::ops
