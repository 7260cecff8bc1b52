// The LSTM operators' C++ entry points inside the library: the layer op's shape contract (shared
// by its CPU and Meta kernels and by autograd) and the dispatcher handles the autograd kernel calls.
#pragma once

#include "ops/recurrent.h"

#include <ATen/core/Tensor.h>

#include <optional>
#include <tuple>
#include <vector>

namespace torch_ext::ops {

// Checks one lstm_layer call's arguments (shared by its CPU and Meta kernels).
LayerShape check_lstm_layer(const char* op, const at::Tensor& input,
                            const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
                            const at::Tensor& cx, at::TensorList params, bool has_biases,
                            bool bidirectional);

// torch_ext::lstm_layer (inference; its Autograd kernel wraps the two ops below).
std::tuple<at::Tensor, at::Tensor, at::Tensor> call_lstm_layer(
    const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
    const at::Tensor& cx, at::TensorList params, bool has_biases, bool bidirectional);

// torch_ext::_lstm_layer_forward: also returns the saved gates [D, N, 4H] and cells [D, N, H].
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> call_lstm_layer_forward(
    const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
    const at::Tensor& cx, at::TensorList params, bool has_biases, bool bidirectional);

// torch_ext::_lstm_layer_backward: grad_input ([0] when not needed), grad_hx, grad_cx, and the
// gradients of params in their order.
std::tuple<at::Tensor, at::Tensor, at::Tensor, std::vector<at::Tensor>> call_lstm_layer_backward(
    const std::optional<at::Tensor>& grad_output, const std::optional<at::Tensor>& grad_hy,
    const std::optional<at::Tensor>& grad_cy, const at::Tensor& input,
    const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx, const at::Tensor& cx,
    at::TensorList params, bool has_biases, bool bidirectional, const at::Tensor& output,
    const at::Tensor& gates, const at::Tensor& cells, bool need_grad_input);

}  // namespace torch_ext::ops
