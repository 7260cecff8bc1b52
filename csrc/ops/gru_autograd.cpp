// Autograd for torch_ext::gru_layer: one node per layer call, whose forward is _gru_layer_forward
// (which saves the activated gates) and whose backward is _gru_layer_backward.
#include "ops/autograd_support.h"
#include "ops/gru.h"

#include <c10/core/impl/LocalDispatchKeySet.h>
#include <torch/csrc/autograd/autograd_not_implemented_fallback.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/library.h>

namespace torch_ext::ops {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

class GruLayerFunction : public torch::autograd::Function<GruLayerFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& input,
                               const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
                               at::TensorList params, bool has_biases, bool bidirectional,
                               bool reset_after) {
    ctx->set_materialize_grads(false);
    at::AutoDispatchBelowADInplaceOrView guard;
    auto [output, hy, gates, hidden_n] = call_gru_layer_forward(
        input, batch_sizes, hx, params, has_biases, bidirectional, reset_after);
    variable_list saved{input, hx, output, gates, hidden_n};
    saved.insert(saved.end(), params.begin(), params.end());
    ctx->save_for_backward(saved);
    ctx->saved_data["has_biases"] = has_biases;
    ctx->saved_data["bidirectional"] = bidirectional;
    ctx->saved_data["reset_after"] = reset_after;
    ctx->saved_data["batch_sizes"] = batch_sizes;
    return {output, hy};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const variable_list saved = ctx->get_saved_variables();
    const std::vector<at::Tensor> params(saved.begin() + 5, saved.end());
    const bool need_grad_input = ctx->needs_input_grad(0);
    auto [grad_input, grad_hx, grad_params] = call_gru_layer_backward(
        optional_grad(grad_outputs[0]), optional_grad(grad_outputs[1]), saved[0],
        ctx->saved_data["batch_sizes"].toOptional<at::Tensor>(), saved[1], params,
        ctx->saved_data["has_biases"].toBool(), ctx->saved_data["bidirectional"].toBool(),
        ctx->saved_data["reset_after"].toBool(), saved[2], saved[3], saved[4], need_grad_input);

    // One gradient per forward argument, a TensorList counting one per tensor.
    variable_list grads{need_grad_input ? grad_input : at::Tensor(), at::Tensor(), grad_hx};
    grads.insert(grads.end(), grad_params.begin(), grad_params.end());
    grads.resize(grads.size() + 3);  // has_biases, bidirectional, reset_after
    return grads;
  }
};

std::tuple<at::Tensor, at::Tensor> gru_layer_autograd(const at::Tensor& input,
                                                      const std::optional<at::Tensor>& batch_sizes,
                                                      const at::Tensor& hx, at::TensorList params,
                                                      bool has_biases, bool bidirectional,
                                                      bool reset_after) {
  if (!any_requires_grad({input, hx}, params)) {
    // Nothing to differentiate: the inference kernel, which saves nothing.
    at::AutoDispatchBelowADInplaceOrView guard;
    return call_gru_layer(input, batch_sizes, hx, params, has_biases, bidirectional, reset_after);
  }
  const variable_list outputs = GruLayerFunction::apply(input, batch_sizes, hx, params, has_biases,
                                                        bidirectional, reset_after);
  return {outputs[0], outputs[1]};
}

}  // namespace

TORCH_LIBRARY_IMPL(torch_ext, Autograd, m) {
  m.impl("gru_layer", &gru_layer_autograd);
  // The halves are not differentiable themselves: differentiating through them raises.
  m.impl("_gru_layer_forward", torch::autograd::autogradNotImplementedFallback());
  m.impl("_gru_layer_backward", torch::autograd::autogradNotImplementedFallback());
}

}  // namespace torch_ext::ops
