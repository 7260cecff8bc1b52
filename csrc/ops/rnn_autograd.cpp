// Autograd for torch_ext::rnn_layer: one node per layer call. The forward is the layer op itself
// (the backward needs only its output); the backward is _rnn_layer_backward.
#include "ops/autograd_support.h"
#include "ops/rnn.h"

#include <c10/core/impl/LocalDispatchKeySet.h>
#include <torch/csrc/autograd/autograd_not_implemented_fallback.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/library.h>

#include <string>

namespace torch_ext::ops {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

class RnnLayerFunction : public torch::autograd::Function<RnnLayerFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& input,
                               const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
                               at::TensorList params, bool has_biases, bool bidirectional,
                               std::string_view nonlinearity) {
    ctx->set_materialize_grads(false);
    at::AutoDispatchBelowADInplaceOrView guard;
    auto [output, hy] =
        call_rnn_layer(input, batch_sizes, hx, params, has_biases, bidirectional, nonlinearity);
    variable_list saved{input, hx, output};
    saved.insert(saved.end(), params.begin(), params.end());
    ctx->save_for_backward(saved);
    ctx->saved_data["has_biases"] = has_biases;
    ctx->saved_data["bidirectional"] = bidirectional;
    ctx->saved_data["nonlinearity"] = std::string(nonlinearity);
    ctx->saved_data["batch_sizes"] = batch_sizes;
    return {output, hy};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const variable_list saved = ctx->get_saved_variables();
    const std::vector<at::Tensor> params(saved.begin() + 3, saved.end());
    const bool need_grad_input = ctx->needs_input_grad(0);
    const std::string nonlinearity = ctx->saved_data["nonlinearity"].toStringRef();
    auto [grad_input, grad_hx, grad_params] = call_rnn_layer_backward(
        optional_grad(grad_outputs[0]), optional_grad(grad_outputs[1]), saved[0],
        ctx->saved_data["batch_sizes"].toOptional<at::Tensor>(), saved[1], params,
        ctx->saved_data["has_biases"].toBool(), ctx->saved_data["bidirectional"].toBool(),
        nonlinearity, saved[2], need_grad_input);

    // One gradient per forward argument, a TensorList counting one per tensor.
    variable_list grads{need_grad_input ? grad_input : at::Tensor(), at::Tensor(), grad_hx};
    grads.insert(grads.end(), grad_params.begin(), grad_params.end());
    grads.resize(grads.size() + 3);  // has_biases, bidirectional, nonlinearity
    return grads;
  }
};

std::tuple<at::Tensor, at::Tensor> rnn_layer_autograd(const at::Tensor& input,
                                                      const std::optional<at::Tensor>& batch_sizes,
                                                      const at::Tensor& hx, at::TensorList params,
                                                      bool has_biases, bool bidirectional,
                                                      std::string_view nonlinearity) {
  if (!any_requires_grad({input, hx}, params)) {
    at::AutoDispatchBelowADInplaceOrView guard;
    return call_rnn_layer(input, batch_sizes, hx, params, has_biases, bidirectional, nonlinearity);
  }
  const variable_list outputs = RnnLayerFunction::apply(input, batch_sizes, hx, params, has_biases,
                                                        bidirectional, nonlinearity);
  return {outputs[0], outputs[1]};
}

}  // namespace

TORCH_LIBRARY_IMPL(torch_ext, Autograd, m) {
  m.impl("rnn_layer", &rnn_layer_autograd);
  // Not differentiable itself: differentiating through it (a double backward) raises.
  m.impl("_rnn_layer_backward", torch::autograd::autogradNotImplementedFallback());
}

}  // namespace torch_ext::ops
