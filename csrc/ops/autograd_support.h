// Small pieces the layer ops' autograd kernels share.
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/core/grad_mode.h>
#include <c10/util/ArrayRef.h>

#include <initializer_list>
#include <optional>

namespace torch_ext::ops {

// Grad mode is on and one of the tensors requires grad: the call must record a node.
inline bool any_requires_grad(std::initializer_list<at::Tensor> tensors, at::TensorList more) {
  if (!at::GradMode::is_enabled()) {
    return false;
  }
  for (const at::Tensor& tensor : tensors) {
    if (tensor.requires_grad()) {
      return true;
    }
  }
  for (const at::Tensor& tensor : more) {
    if (tensor.requires_grad()) {
      return true;
    }
  }
  return false;
}

// An incoming gradient as the backward ops take it: absent when autograd passed none.
inline std::optional<at::Tensor> optional_grad(const at::Tensor& grad) {
  return grad.defined() ? std::optional<at::Tensor>(grad) : std::nullopt;
}

}  // namespace torch_ext::ops
