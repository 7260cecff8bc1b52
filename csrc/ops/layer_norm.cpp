// The layer_norm operator: checks (ATen's words, so nn.LayerNorm's errors carry over), the CPU
// and Meta kernels of its forward and backward halves. The math is in kernels/layer_norm.cpp;
// autograd in ops/layer_norm_autograd.cpp.
#include "ops/layer_norm.h"

#include "kernels/layer_norm.h"
#include "ops/checks.h"
#include "ops/precision.h"

#include <ATen/Dispatch.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/ops/empty.h>
#include <c10/util/Exception.h>
#include <torch/library.h>

namespace torch_ext::ops {
namespace {

bool present(const std::optional<at::Tensor>& tensor) {
  return tensor.has_value() && tensor->defined();
}

// The rows and features the input flattens to: features = Π normalized_shape.
struct LayerNormShape {
  c10::SymInt rows;
  c10::SymInt features;
};

LayerNormShape check_layer_norm(const char* op, const at::Tensor& input,
                                c10::SymIntArrayRef normalized_shape,
                                const std::optional<at::Tensor>& weight,
                                const std::optional<at::Tensor>& bias) {
  check_floating_tensor(op, "input", input);
  const int64_t normalized_dims = static_cast<int64_t>(normalized_shape.size());
  TORCH_CHECK(normalized_dims >= 1,
              "Expected normalized_shape to be at least 1-dimensional, i.e., containing at least "
              "one element, but got normalized_shape = ",
              format_sizes(normalized_shape));
  for (const auto& [name, tensor] : {std::pair{"weight", &weight}, std::pair{"bias", &bias}}) {
    if (present(*tensor)) {
      TORCH_CHECK((*tensor)->sym_sizes().equals(normalized_shape), "Expected ", name,
                  " to be of same shape as normalized_shape, but got ", name, " of shape ",
                  format_sizes((*tensor)->sym_sizes()), " and normalized_shape = ",
                  format_sizes(normalized_shape));
      check_like(op, name, **tensor, "input", input);
    }
  }
  const int64_t input_dims = input.dim();
  const auto input_shape = input.sym_sizes();
  bool matches = input_dims >= normalized_dims;
  for (int64_t i = 0; matches && i < normalized_dims; ++i) {
    matches = input_shape[input_dims - normalized_dims + i] == normalized_shape[i];
  }
  if (!matches) {
    std::ostringstream expected;
    expected << "[*";
    for (const auto& size : normalized_shape) {
      expected << ", " << size;
    }
    expected << "]";
    TORCH_CHECK(false, "Given normalized_shape=", format_sizes(normalized_shape),
                ", expected input with shape ", expected.str(), ", but got input of size",
                format_sizes(input_shape));
  }
  LayerNormShape shape;
  shape.rows = 1;
  shape.features = 1;
  for (int64_t i = 0; i < input_dims; ++i) {
    (i < input_dims - normalized_dims ? shape.rows : shape.features) *= input_shape[i];
  }
  return shape;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> layer_norm_forward_cpu(
    const at::Tensor& input, c10::SymIntArrayRef normalized_shape,
    const std::optional<at::Tensor>& weight, const std::optional<at::Tensor>& bias, double eps) {
  const LayerNormShape shape =
      check_layer_norm("torch_ext::_layer_norm_forward", input, normalized_shape, weight, bias);
  if (needs_widening(input)) {
    auto [output, mean, rstd] =
        layer_norm_forward_cpu(widen(input), normalized_shape, widen(weight), widen(bias), eps);
    return {narrow_to(output, input.scalar_type()), mean, rstd};
  }
  const at::Tensor x = input.contiguous();
  const at::Tensor w = present(weight) ? weight->contiguous() : at::Tensor();
  const at::Tensor b = present(bias) ? bias->contiguous() : at::Tensor();
  const int64_t rows = shape.rows.expect_int();
  at::Tensor output = at::empty(input.sizes(), input.options());
  at::Tensor mean = at::empty({rows}, input.options());
  at::Tensor rstd = at::empty({rows}, input.options());
  AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "torch_ext::layer_norm", [&] {
    kernels::LayerNormForwardArgs<scalar_t> args;
    args.rows = rows;
    args.features = shape.features.expect_int();
    args.eps = static_cast<scalar_t>(eps);
    args.input = x.const_data_ptr<scalar_t>();
    args.weight = w.defined() ? w.const_data_ptr<scalar_t>() : nullptr;
    args.bias = b.defined() ? b.const_data_ptr<scalar_t>() : nullptr;
    args.output = output.mutable_data_ptr<scalar_t>();
    args.mean = mean.mutable_data_ptr<scalar_t>();
    args.rstd = rstd.mutable_data_ptr<scalar_t>();
    kernels::layer_norm_forward(&args, 1);
  });
  return {output, mean, rstd};
}

void check_layer_norm_backward(const char* op, const LayerNormShape& shape,
                               const at::Tensor& grad_output, const at::Tensor& input,
                               const at::Tensor& mean, const at::Tensor& rstd) {
  check_like(op, "grad_output", grad_output, "input", input);
  check_sizes(op, "grad_output", grad_output, input.sym_sizes().vec());
  check_workspace(op, "mean", mean, input, {shape.rows});
  check_workspace(op, "rstd", rstd, input, {shape.rows});
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> layer_norm_backward_cpu(
    const at::Tensor& grad_output, const at::Tensor& input, c10::SymIntArrayRef normalized_shape,
    const at::Tensor& mean, const at::Tensor& rstd, const std::optional<at::Tensor>& weight,
    const std::optional<at::Tensor>& bias, std::array<bool, 3> output_mask) {
  const char* op = "torch_ext::_layer_norm_backward";
  const LayerNormShape shape = check_layer_norm(op, input, normalized_shape, weight, bias);
  check_layer_norm_backward(op, shape, grad_output, input, mean, rstd);
  if (needs_widening(input)) {
    auto [grad_input, grad_weight, grad_bias] =
        layer_norm_backward_cpu(widen(grad_output), widen(input), normalized_shape, mean, rstd,
                                widen(weight), widen(bias), output_mask);
    const at::ScalarType dtype = input.scalar_type();
    return {narrow_to(grad_input, dtype), narrow_to(grad_weight, dtype),
            narrow_to(grad_bias, dtype)};
  }
  const auto options = input.options();
  const at::Tensor x = input.contiguous();
  const at::Tensor dy = grad_output.contiguous();
  const at::Tensor mean_c = mean.contiguous();
  const at::Tensor rstd_c = rstd.contiguous();
  const at::Tensor w = present(weight) ? weight->contiguous() : at::Tensor();
  const bool need_weight = output_mask[1] && present(weight);
  const bool need_bias = output_mask[2] && present(bias);
  at::Tensor grad_input = output_mask[0] ? at::empty(input.sizes(), options) : at::empty({0}, options);
  at::Tensor grad_weight = need_weight ? at::empty(weight->sizes(), options) : at::empty({0}, options);
  at::Tensor grad_bias = need_bias ? at::empty(bias->sizes(), options) : at::empty({0}, options);
  AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "torch_ext::_layer_norm_backward", [&] {
    kernels::LayerNormBackwardArgs<scalar_t> args;
    args.rows = shape.rows.expect_int();
    args.features = shape.features.expect_int();
    args.grad_output = dy.const_data_ptr<scalar_t>();
    args.input = x.const_data_ptr<scalar_t>();
    args.mean = mean_c.const_data_ptr<scalar_t>();
    args.rstd = rstd_c.const_data_ptr<scalar_t>();
    args.weight = w.defined() ? w.const_data_ptr<scalar_t>() : nullptr;
    args.grad_input = output_mask[0] ? grad_input.mutable_data_ptr<scalar_t>() : nullptr;
    args.grad_weight = need_weight ? grad_weight.mutable_data_ptr<scalar_t>() : nullptr;
    args.grad_bias = need_bias ? grad_bias.mutable_data_ptr<scalar_t>() : nullptr;
    kernels::layer_norm_backward(&args, 1);
  });
  return {grad_input, grad_weight, grad_bias};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> layer_norm_forward_meta(
    const at::Tensor& input, c10::SymIntArrayRef normalized_shape,
    const std::optional<at::Tensor>& weight, const std::optional<at::Tensor>& bias, double eps) {
  const LayerNormShape shape =
      check_layer_norm("torch_ext::_layer_norm_forward", input, normalized_shape, weight, bias);
  (void)eps;
  const auto workspace = compute_options(input);
  return {at::empty_symint(input.sym_sizes(), input.options()),
          at::empty_symint({shape.rows}, workspace), at::empty_symint({shape.rows}, workspace)};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> layer_norm_backward_meta(
    const at::Tensor& grad_output, const at::Tensor& input, c10::SymIntArrayRef normalized_shape,
    const at::Tensor& mean, const at::Tensor& rstd, const std::optional<at::Tensor>& weight,
    const std::optional<at::Tensor>& bias, std::array<bool, 3> output_mask) {
  const char* op = "torch_ext::_layer_norm_backward";
  const LayerNormShape shape = check_layer_norm(op, input, normalized_shape, weight, bias);
  check_layer_norm_backward(op, shape, grad_output, input, mean, rstd);
  const auto options = input.options();
  const auto like = [&](bool needed, const std::optional<at::Tensor>& tensor) {
    return needed && present(tensor) ? at::empty_symint(tensor->sym_sizes(), options)
                                     : at::empty({0}, options);
  };
  return {output_mask[0] ? at::empty_symint(input.sym_sizes(), options) : at::empty({0}, options),
          like(output_mask[1], weight), like(output_mask[2], bias)};
}

}  // namespace

std::tuple<at::Tensor, at::Tensor, at::Tensor> call_layer_norm_forward(
    const at::Tensor& input, c10::SymIntArrayRef normalized_shape,
    const std::optional<at::Tensor>& weight, const std::optional<at::Tensor>& bias, double eps) {
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("torch_ext::_layer_norm_forward", "")
                             .typed<decltype(layer_norm_forward_cpu)>();
  return op.call(input, normalized_shape, weight, bias, eps);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> call_layer_norm_backward(
    const at::Tensor& grad_output, const at::Tensor& input, c10::SymIntArrayRef normalized_shape,
    const at::Tensor& mean, const at::Tensor& rstd, const std::optional<at::Tensor>& weight,
    const std::optional<at::Tensor>& bias, std::array<bool, 3> output_mask) {
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("torch_ext::_layer_norm_backward", "")
                             .typed<decltype(layer_norm_backward_cpu)>();
  return op.call(grad_output, input, normalized_shape, mean, rstd, weight, bias, output_mask);
}

TORCH_LIBRARY_IMPL(torch_ext, CPU, m) {
  m.impl("_layer_norm_forward", &layer_norm_forward_cpu);
  m.impl("_layer_norm_backward", &layer_norm_backward_cpu);
}

TORCH_LIBRARY_IMPL(torch_ext, Meta, m) {
  m.impl("_layer_norm_forward", &layer_norm_forward_meta);
  m.impl("_layer_norm_backward", &layer_norm_backward_meta);
}

}  // namespace torch_ext::ops
