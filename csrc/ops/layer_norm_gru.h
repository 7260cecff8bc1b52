// The layer-norm GRU operators' entry points inside the library.
#pragma once

#include "ops/recurrent.h"

#include <ATen/core/Tensor.h>

#include <optional>
#include <tuple>
#include <vector>

namespace torch_ext::ops {

std::tuple<at::Tensor, at::Tensor> call_layer_norm_gru_layer(
    const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
    at::TensorList params, bool has_biases, bool bidirectional, double eps);

// Also returns the saved gates [D, 2, N, 3H] (ĝi, ĝh) and rstd [D, N, 2].
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> call_layer_norm_gru_layer_forward(
    const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
    at::TensorList params, bool has_biases, bool bidirectional, double eps);

std::tuple<at::Tensor, at::Tensor, std::vector<at::Tensor>> call_layer_norm_gru_layer_backward(
    const std::optional<at::Tensor>& grad_output, const std::optional<at::Tensor>& grad_hy,
    const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
    at::TensorList params, bool has_biases, bool bidirectional, const at::Tensor& output,
    const at::Tensor& gates, const at::Tensor& rstd, bool need_grad_input);

}  // namespace torch_ext::ops
