// Autograd for torch_ext::layer_norm_gru_layer: one node per layer call, whose forward is
// _layer_norm_gru_layer_forward and whose backward is _layer_norm_gru_layer_backward.
#include "ops/autograd_support.h"
#include "ops/layer_norm_gru.h"

#include <c10/core/impl/LocalDispatchKeySet.h>
#include <torch/csrc/autograd/autograd_not_implemented_fallback.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/library.h>

namespace torch_ext::ops {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

class LayerNormGruLayerFunction : public torch::autograd::Function<LayerNormGruLayerFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& input,
                               const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
                               at::TensorList params, bool has_biases, bool bidirectional,
                               double eps) {
    ctx->set_materialize_grads(false);
    at::AutoDispatchBelowADInplaceOrView guard;
    auto [output, hy, gates, rstd] = call_layer_norm_gru_layer_forward(
        input, batch_sizes, hx, params, has_biases, bidirectional, eps);
    variable_list saved{input, hx, output, gates, rstd};
    saved.insert(saved.end(), params.begin(), params.end());
    ctx->save_for_backward(saved);
    ctx->saved_data["has_biases"] = has_biases;
    ctx->saved_data["bidirectional"] = bidirectional;
    ctx->saved_data["batch_sizes"] = batch_sizes;
    return {output, hy};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const variable_list saved = ctx->get_saved_variables();
    const std::vector<at::Tensor> params(saved.begin() + 5, saved.end());
    const bool need_grad_input = ctx->needs_input_grad(0);
    auto [grad_input, grad_hx, grad_params] = call_layer_norm_gru_layer_backward(
        optional_grad(grad_outputs[0]), optional_grad(grad_outputs[1]), saved[0],
        ctx->saved_data["batch_sizes"].toOptional<at::Tensor>(), saved[1], params,
        ctx->saved_data["has_biases"].toBool(), ctx->saved_data["bidirectional"].toBool(),
        saved[2], saved[3], saved[4], need_grad_input);
    // One gradient per forward argument, a TensorList counting one per tensor.
    variable_list grads{need_grad_input ? grad_input : at::Tensor(), at::Tensor(), grad_hx};
    grads.insert(grads.end(), grad_params.begin(), grad_params.end());
    grads.resize(grads.size() + 3);  // has_biases, bidirectional, eps
    return grads;
  }
};

std::tuple<at::Tensor, at::Tensor> layer_autograd(const at::Tensor& input,
                                                  const std::optional<at::Tensor>& batch_sizes,
                                                  const at::Tensor& hx, at::TensorList params,
                                                  bool has_biases, bool bidirectional,
                                                  double eps) {
  if (!any_requires_grad({input, hx}, params)) {
    at::AutoDispatchBelowADInplaceOrView guard;
    return call_layer_norm_gru_layer(input, batch_sizes, hx, params, has_biases, bidirectional,
                                     eps);
  }
  const variable_list outputs = LayerNormGruLayerFunction::apply(input, batch_sizes, hx, params,
                                                                 has_biases, bidirectional, eps);
  return {outputs[0], outputs[1]};
}

}  // namespace

TORCH_LIBRARY_IMPL(torch_ext, Autograd, m) {
  m.impl("layer_norm_gru_layer", &layer_autograd);
  m.impl("_layer_norm_gru_layer_forward", torch::autograd::autogradNotImplementedFallback());
  m.impl("_layer_norm_gru_layer_backward", torch::autograd::autogradNotImplementedFallback());
}

}  // namespace torch_ext::ops
