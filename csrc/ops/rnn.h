// The vanilla RNN operators' entry points inside the library: the layer op's checks and the
// dispatcher handles its autograd kernel calls.
#pragma once

#include "ops/recurrent.h"

#include <ATen/core/Tensor.h>
#include <string_view>

#include <optional>
#include <tuple>
#include <vector>

namespace torch_ext::ops {

LayerShape check_rnn_layer(const char* op, const at::Tensor& input,
                           const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
                           at::TensorList params, bool has_biases, bool bidirectional);

// torch_ext::rnn_layer. Its output is all the backward needs.
std::tuple<at::Tensor, at::Tensor> call_rnn_layer(const at::Tensor& input,
                                                  const std::optional<at::Tensor>& batch_sizes,
                                                  const at::Tensor& hx, at::TensorList params,
                                                  bool has_biases, bool bidirectional,
                                                  std::string_view nonlinearity);

// torch_ext::_rnn_layer_backward: grad_input ([0] when not needed), grad_hx, and the gradients
// of params in their order.
std::tuple<at::Tensor, at::Tensor, std::vector<at::Tensor>> call_rnn_layer_backward(
    const std::optional<at::Tensor>& grad_output, const std::optional<at::Tensor>& grad_hy,
    const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
    at::TensorList params, bool has_biases, bool bidirectional, std::string_view nonlinearity,
    const at::Tensor& output, bool need_grad_input);

}  // namespace torch_ext::ops
