// The GRU operators' entry points inside the library: the layer op's checks and the dispatcher
// handles its autograd kernel calls.
#pragma once

#include "ops/recurrent.h"

#include <ATen/core/Tensor.h>

#include <optional>
#include <tuple>
#include <vector>

namespace torch_ext::ops {

LayerShape check_gru_layer(const char* op, const at::Tensor& input,
                           const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
                           at::TensorList params, bool has_biases, bool bidirectional);

// torch_ext::gru_layer (inference; its Autograd kernel wraps the two ops below).
std::tuple<at::Tensor, at::Tensor> call_gru_layer(const at::Tensor& input,
                                                  const std::optional<at::Tensor>& batch_sizes,
                                                  const at::Tensor& hx, at::TensorList params,
                                                  bool has_biases, bool bidirectional,
                                                  bool reset_after);

// torch_ext::_gru_layer_forward: also returns the saved gates [D, N, 3H] (r, z, n) and, in the
// reset-after form, hidden_n [D, N, H] (else [0]).
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> call_gru_layer_forward(
    const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
    at::TensorList params, bool has_biases, bool bidirectional, bool reset_after);

// torch_ext::_gru_layer_backward: grad_input ([0] when not needed), grad_hx, and the gradients
// of params in their order.
std::tuple<at::Tensor, at::Tensor, std::vector<at::Tensor>> call_gru_layer_backward(
    const std::optional<at::Tensor>& grad_output, const std::optional<at::Tensor>& grad_hy,
    const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
    at::TensorList params, bool has_biases, bool bidirectional, bool reset_after,
    const at::Tensor& output, const at::Tensor& gates, const at::Tensor& hidden_n,
    bool need_grad_input);

}  // namespace torch_ext::ops
