// Argument checks shared by the operators. Every failure is a c10::Error (RuntimeError in
// Python) whose message names the operator, the argument, and the expected and actual values.
// Sizes are compared as SymInts so that the same checks serve the CPU and the Meta kernels.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/SymInt.h>
#include <c10/util/ArrayRef.h>

#include <string>
#include <vector>

namespace torch_ext::ops {

// "[16, 4]" for a list of sizes.
std::string format_sizes(c10::SymIntArrayRef sizes);

// The tensor is defined and float32, float64 or bfloat16 (check_dim: has `dim` dimensions).
void check_floating_tensor(const char* op, const char* name, const at::Tensor& tensor);
void check_dim(const char* op, const char* name, const at::Tensor& tensor, int64_t dim,
               const char* layout);

// The tensor has exactly these sizes.
void check_sizes(const char* op, const char* name, const at::Tensor& tensor,
                 const std::vector<c10::SymInt>& expected);

// The tensor has the reference's dtype and device.
void check_like(const char* op, const char* name, const at::Tensor& tensor,
                const char* reference_name, const at::Tensor& reference);

// A tensor a forward saved for its backward: the kernels' compute type for input's dtype
// (float32 for bfloat16), input's device, these sizes.
void check_workspace(const char* op, const char* name, const at::Tensor& tensor,
                     const at::Tensor& input, const std::vector<c10::SymInt>& expected);

// ... saved in `dtype` (the call's own type: ops/precision.h saved_options).
void check_workspace(const char* op, const char* name, const at::Tensor& tensor,
                     const at::Tensor& input, const std::vector<c10::SymInt>& expected,
                     at::ScalarType dtype);

// A PackedSequence's batch_sizes tensor is 1-D int64, on the CPU or (fake tensors) on the device
// of input: what a Meta kernel can check without reading the values.
void check_batch_sizes_tensor(const char* op, const at::Tensor& batch_sizes,
                              const at::Tensor& input);

// A PackedSequence's batch_sizes: 1-D int64 on the CPU, at least one step, every entry positive
// and no larger than the one before, summing to `rows`. Returns them.
std::vector<int64_t> checked_batch_sizes(const char* op, const at::Tensor& batch_sizes,
                                         int64_t rows);

}  // namespace torch_ext::ops
