// The LSTM operators' C++ entry points inside the library: the layer op's shape contract (shared
// by its CPU and Meta kernels and by autograd) and the dispatcher handles the autograd kernel calls.
#pragma once

#include "ops/rnn_params.h"

#include <ATen/core/Tensor.h>
#include <c10/core/SymInt.h>

#include <optional>
#include <tuple>
#include <vector>

namespace torch_ext::ops {

// The checked sizes of one lstm_layer call.
struct LstmLayerShape {
  RnnParamLayout layout;  // one layer, one or two directions
  bool packed = false;
  c10::SymInt rows;         // N: T·B, or the packed data's rows
  c10::SymInt batch;        // B
  c10::SymInt input_size;   // I
  c10::SymInt hidden_size;  // H
  c10::SymInt state_size;   // R: P with a projection, else H
};

LstmLayerShape check_lstm_layer(const char* op, const at::Tensor& input,
                                const std::optional<at::Tensor>& batch_sizes,
                                const at::Tensor& hx, const at::Tensor& cx, at::TensorList params,
                                bool has_biases, bool bidirectional);

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
