// Autograd for torch_ext::layer_norm_lstm_layer: one node per layer call, whose forward is
// _layer_norm_lstm_layer_forward and whose backward is _layer_norm_lstm_layer_backward.
#include "ops/autograd_support.h"
#include "ops/layer_norm_lstm.h"

#include <c10/core/impl/LocalDispatchKeySet.h>
#include <torch/csrc/autograd/autograd_not_implemented_fallback.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/library.h>

namespace torch_ext::ops {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

class LayerNormLstmLayerFunction : public torch::autograd::Function<LayerNormLstmLayerFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& input,
                               const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
                               const at::Tensor& cx, at::TensorList params, bool has_biases,
                               bool bidirectional, double eps) {
    ctx->set_materialize_grads(false);
    at::AutoDispatchBelowADInplaceOrView guard;
    auto [output, hy, cy, gates, cells, rstd] = call_layer_norm_lstm_layer_forward(
        input, batch_sizes, hx, cx, params, has_biases, bidirectional, eps);
    variable_list saved{input, hx, cx, output, gates, cells, rstd};
    saved.insert(saved.end(), params.begin(), params.end());
    ctx->save_for_backward(saved);
    ctx->saved_data["has_biases"] = has_biases;
    ctx->saved_data["bidirectional"] = bidirectional;
    ctx->saved_data["batch_sizes"] = batch_sizes;
    return {output, hy, cy};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const variable_list saved = ctx->get_saved_variables();
    const std::vector<at::Tensor> params(saved.begin() + 7, saved.end());
    const bool need_grad_input = ctx->needs_input_grad(0);
    auto [grad_input, grad_hx, grad_cx, grad_params] = call_layer_norm_lstm_layer_backward(
        optional_grad(grad_outputs[0]), optional_grad(grad_outputs[1]),
        optional_grad(grad_outputs[2]), saved[0],
        ctx->saved_data["batch_sizes"].toOptional<at::Tensor>(), saved[1], saved[2], params,
        ctx->saved_data["has_biases"].toBool(), ctx->saved_data["bidirectional"].toBool(),
        saved[3], saved[4], saved[5], saved[6], need_grad_input);
    // One gradient per forward argument, a TensorList counting one per tensor.
    variable_list grads{need_grad_input ? grad_input : at::Tensor(), at::Tensor(), grad_hx,
                        grad_cx};
    grads.insert(grads.end(), grad_params.begin(), grad_params.end());
    grads.resize(grads.size() + 3);  // has_biases, bidirectional, eps
    return grads;
  }
};

std::tuple<at::Tensor, at::Tensor, at::Tensor> layer_autograd(
    const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
    const at::Tensor& cx, at::TensorList params, bool has_biases, bool bidirectional, double eps) {
  if (!any_requires_grad({input, hx, cx}, params)) {
    at::AutoDispatchBelowADInplaceOrView guard;
    return call_layer_norm_lstm_layer(input, batch_sizes, hx, cx, params, has_biases,
                                      bidirectional, eps);
  }
  const variable_list outputs = LayerNormLstmLayerFunction::apply(
      input, batch_sizes, hx, cx, params, has_biases, bidirectional, eps);
  return {outputs[0], outputs[1], outputs[2]};
}

}  // namespace

TORCH_LIBRARY_IMPL(torch_ext, Autograd, m) {
  m.impl("layer_norm_lstm_layer", &layer_autograd);
  m.impl("_layer_norm_lstm_layer_forward", torch::autograd::autogradNotImplementedFallback());
  m.impl("_layer_norm_lstm_layer_backward", torch::autograd::autogradNotImplementedFallback());
}

}  // namespace torch_ext::ops
