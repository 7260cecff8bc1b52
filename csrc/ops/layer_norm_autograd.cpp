// Autograd for torch_ext::layer_norm: one node whose forward is _layer_norm_forward (saving the
// per-row mean and rstd) and whose backward is _layer_norm_backward. The layer_norm op itself is
// this autograd kernel plus a CompositeExplicitAutograd kernel (the forward without a node).
#include "ops/autograd_support.h"
#include "ops/layer_norm.h"

#include <c10/core/impl/LocalDispatchKeySet.h>
#include <torch/csrc/autograd/autograd_not_implemented_fallback.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/library.h>

namespace torch_ext::ops {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

class LayerNormFunction : public torch::autograd::Function<LayerNormFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& input,
                               c10::SymIntArrayRef normalized_shape,
                               const std::optional<at::Tensor>& weight,
                               const std::optional<at::Tensor>& bias, double eps) {
    at::AutoDispatchBelowADInplaceOrView guard;
    auto [output, mean, rstd] = call_layer_norm_forward(input, normalized_shape, weight, bias, eps);
    ctx->save_for_backward({input, mean, rstd, weight.value_or(at::Tensor()),
                            bias.value_or(at::Tensor())});
    ctx->saved_data["normalized_shape"] = normalized_shape.vec();
    return {output};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const variable_list saved = ctx->get_saved_variables();
    const auto normalized_shape = ctx->saved_data["normalized_shape"].toSymIntVector();
    const auto optional_tensor = [](const at::Tensor& tensor) {
      return tensor.defined() ? std::optional<at::Tensor>(tensor) : std::nullopt;
    };
    const std::array<bool, 3> mask{ctx->needs_input_grad(0), saved[3].defined() && saved[3].requires_grad(),
                                   saved[4].defined() && saved[4].requires_grad()};
    auto [grad_input, grad_weight, grad_bias] =
        call_layer_norm_backward(grad_outputs[0], saved[0], normalized_shape, saved[1], saved[2],
                                 optional_tensor(saved[3]), optional_tensor(saved[4]), mask);
    return {mask[0] ? grad_input : at::Tensor(), at::Tensor(), mask[1] ? grad_weight : at::Tensor(),
            mask[2] ? grad_bias : at::Tensor(), at::Tensor()};
  }
};

at::Tensor layer_norm_autograd(const at::Tensor& input, c10::SymIntArrayRef normalized_shape,
                               const std::optional<at::Tensor>& weight,
                               const std::optional<at::Tensor>& bias, double eps) {
  const at::Tensor no_tensor;
  if (!any_requires_grad({input, weight.value_or(no_tensor), bias.value_or(no_tensor)}, {})) {
    at::AutoDispatchBelowADInplaceOrView guard;
    return std::get<0>(call_layer_norm_forward(input, normalized_shape, weight, bias, eps));
  }
  return LayerNormFunction::apply(input, normalized_shape, weight, bias, eps)[0];
}

at::Tensor layer_norm_no_autograd(const at::Tensor& input, c10::SymIntArrayRef normalized_shape,
                                  const std::optional<at::Tensor>& weight,
                                  const std::optional<at::Tensor>& bias, double eps) {
  return std::get<0>(call_layer_norm_forward(input, normalized_shape, weight, bias, eps));
}

}  // namespace

TORCH_LIBRARY_IMPL(torch_ext, Autograd, m) {
  m.impl("layer_norm", &layer_norm_autograd);
  m.impl("_layer_norm_forward", torch::autograd::autogradNotImplementedFallback());
  m.impl("_layer_norm_backward", torch::autograd::autogradNotImplementedFallback());
}

TORCH_LIBRARY_IMPL(torch_ext, CompositeExplicitAutograd, m) {
  m.impl("layer_norm", &layer_norm_no_autograd);
}

}  // namespace torch_ext::ops
