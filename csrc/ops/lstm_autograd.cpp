// Autograd for torch_ext::lstm_layer: one node per layer call, whose forward is
// _lstm_layer_forward (which saves the activated gates and cells) and whose backward is
// _lstm_layer_backward. Registered in C++, so LibTorch programs get gradients too.
#include "ops/autograd_support.h"
#include "ops/lstm.h"

#include <c10/core/impl/LocalDispatchKeySet.h>
#include <torch/csrc/autograd/autograd_not_implemented_fallback.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/library.h>

namespace torch_ext::ops {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

class LstmLayerFunction : public torch::autograd::Function<LstmLayerFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& input,
                               const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
                               const at::Tensor& cx, at::TensorList params, bool has_biases,
                               bool bidirectional) {
    ctx->set_materialize_grads(false);
    at::AutoDispatchBelowADInplaceOrView guard;
    auto [output, hy, cy, gates, cells] = call_lstm_layer_forward(
        input, batch_sizes, hx, cx, params, has_biases, bidirectional);
    variable_list saved{input, hx, cx, output, gates, cells};
    saved.insert(saved.end(), params.begin(), params.end());
    ctx->save_for_backward(saved);
    ctx->saved_data["has_biases"] = has_biases;
    ctx->saved_data["bidirectional"] = bidirectional;
    ctx->saved_data["batch_sizes"] = batch_sizes;
    return {output, hy, cy};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const variable_list saved = ctx->get_saved_variables();
    const at::Tensor& input = saved[0];
    const at::Tensor& hx = saved[1];
    const at::Tensor& cx = saved[2];
    const at::Tensor& output = saved[3];
    const at::Tensor& gates = saved[4];
    const at::Tensor& cells = saved[5];
    const std::vector<at::Tensor> params(saved.begin() + 6, saved.end());
    const bool has_biases = ctx->saved_data["has_biases"].toBool();
    const bool bidirectional = ctx->saved_data["bidirectional"].toBool();
    const std::optional<at::Tensor> batch_sizes =
        ctx->saved_data["batch_sizes"].toOptional<at::Tensor>();

    const bool need_grad_input = ctx->needs_input_grad(0);
    auto [grad_input, grad_hx, grad_cx, grad_params] = call_lstm_layer_backward(
        optional_grad(grad_outputs[0]), optional_grad(grad_outputs[1]),
        optional_grad(grad_outputs[2]), input, batch_sizes, hx, cx, params, has_biases,
        bidirectional, output, gates, cells, need_grad_input);

    // One gradient per forward argument, a TensorList counting one per tensor.
    variable_list grads{need_grad_input ? grad_input : at::Tensor(), at::Tensor(), grad_hx,
                        grad_cx};
    grads.insert(grads.end(), grad_params.begin(), grad_params.end());
    grads.emplace_back();  // has_biases
    grads.emplace_back();  // bidirectional
    return grads;
  }
};

std::tuple<at::Tensor, at::Tensor, at::Tensor> lstm_layer_autograd(
    const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
    const at::Tensor& cx, at::TensorList params, bool has_biases, bool bidirectional) {
  if (!any_requires_grad({input, hx, cx}, params)) {
    // Nothing to differentiate: the inference kernel, which saves nothing.
    at::AutoDispatchBelowADInplaceOrView guard;
    return call_lstm_layer(input, batch_sizes, hx, cx, params, has_biases, bidirectional);
  }
  const variable_list outputs = LstmLayerFunction::apply(input, batch_sizes, hx, cx, params,
                                                         has_biases, bidirectional);
  return {outputs[0], outputs[1], outputs[2]};
}

}  // namespace

TORCH_LIBRARY_IMPL(torch_ext, Autograd, m) {
  m.impl("lstm_layer", &lstm_layer_autograd);
  // The halves are not differentiable themselves: differentiating through them (a double
  // backward, or a direct call on tensors that require grad) raises rather than returning zeros.
  m.impl("_lstm_layer_forward", torch::autograd::autogradNotImplementedFallback());
  m.impl("_lstm_layer_backward", torch::autograd::autogradNotImplementedFallback());
}

}  // namespace torch_ext::ops
