// bfloat16 support of the operators: a bfloat16 call runs the float32 kernels, its tensors
// widened on entry and its results narrowed back on return, so every sum accumulates in float32.
// The tensors a forward saves for its backward stay in float32. The LSTM, GRU and RNN layers'
// products may round their operands to bfloat16 (bf16_call_products).
#pragma once

#include "kernels/bf16_gemm.h"

#include <ATen/core/Tensor.h>
#include <c10/util/ArrayRef.h>

#include <optional>
#include <vector>

namespace torch_ext::ops {

// The type the kernels compute in for tensors of `dtype`.
inline at::ScalarType compute_type(at::ScalarType dtype) {
  return dtype == at::kBFloat16 ? at::kFloat : dtype;
}

inline bool needs_widening(const at::Tensor& tensor) {
  return tensor.defined() && tensor.scalar_type() == at::kBFloat16;
}

inline at::Tensor widen(const at::Tensor& tensor) {
  return needs_widening(tensor) ? tensor.to(at::kFloat) : tensor;
}

inline std::optional<at::Tensor> widen(const std::optional<at::Tensor>& tensor) {
  return tensor.has_value() ? std::optional<at::Tensor>(widen(*tensor)) : std::nullopt;
}

inline std::vector<at::Tensor> widen(at::TensorList tensors) {
  std::vector<at::Tensor> result;
  result.reserve(tensors.size());
  for (const at::Tensor& tensor : tensors) {
    result.push_back(widen(tensor));
  }
  return result;
}

// The products of a widened bfloat16 call: bfloat16 operands with float32 sums where the CPU
// multiplies bfloat16 pairs (AVX512-BF16), as torch.nn's bfloat16 RNNs do through oneDNN; else
// float32 products of the widened values.
inline kernels::Products bf16_call_products() {
  return kernels::bf16_products_supported() ? kernels::Products::BFloat16
                                            : kernels::Products::Native;
}

// A float32 result back in the caller's type.
inline at::Tensor narrow_to(const at::Tensor& tensor, at::ScalarType dtype) {
  return tensor.defined() && tensor.scalar_type() != dtype ? tensor.to(dtype) : tensor;
}

inline std::vector<at::Tensor> narrow_to(const std::vector<at::Tensor>& tensors,
                                         at::ScalarType dtype) {
  std::vector<at::Tensor> result;
  result.reserve(tensors.size());
  for (const at::Tensor& tensor : tensors) {
    result.push_back(narrow_to(tensor, dtype));
  }
  return result;
}

}  // namespace torch_ext::ops
