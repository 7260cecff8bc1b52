// The layer_norm operator's entry points inside the library.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/SymIntArrayRef.h>

#include <array>
#include <optional>
#include <tuple>

namespace torch_ext::ops {

// torch_ext::_layer_norm_forward: output, and the per-row mean and rstd ([rows]).
std::tuple<at::Tensor, at::Tensor, at::Tensor> call_layer_norm_forward(
    const at::Tensor& input, c10::SymIntArrayRef normalized_shape,
    const std::optional<at::Tensor>& weight, const std::optional<at::Tensor>& bias, double eps);

// torch_ext::_layer_norm_backward: grad_input, grad_weight, grad_bias, each [0] when its
// output_mask entry is false.
std::tuple<at::Tensor, at::Tensor, at::Tensor> call_layer_norm_backward(
    const at::Tensor& grad_output, const at::Tensor& input, c10::SymIntArrayRef normalized_shape,
    const at::Tensor& mean, const at::Tensor& rstd, const std::optional<at::Tensor>& weight,
    const std::optional<at::Tensor>& bias, std::array<bool, 3> output_mask);

}  // namespace torch_ext::ops
