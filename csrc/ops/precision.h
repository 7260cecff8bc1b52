// bfloat16 support of the operators: a bfloat16 call runs the float32 kernels, its tensors
// widened on entry and its results narrowed back on return, so every sum accumulates in float32.
// The LSTM's and GRU's saved gates are kept in bfloat16 (saved_options), the rest of what a
// forward saves in float32. The LSTM, GRU and RNN layers'
// products may round their operands to bfloat16 (bf16_call_products); where they do, a tensor
// that only enters products is not widened but handed to the kernels in its bfloat16 storage
// (operand), which rounds exactly: the same results without the float32 copy. Their output and
// (one direction) dX are then written in bfloat16 by the kernels, rounded as they go
// (output_options, input_gradient), not narrowed from float32 copies, and the backward's gate
// gradient rows are bfloat16 (gradient_options).
#pragma once

#include "kernels/bf16_gemm.h"
#include "kernels/operand.h"

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <c10/util/ArrayRef.h>

#include <cstdlib>
#include <optional>
#include <string_view>
#include <vector>

namespace torch_ext::ops {

// The type the kernels compute in for tensors of `dtype`.
inline at::ScalarType compute_type(at::ScalarType dtype) {
  return dtype == at::kBFloat16 ? at::kFloat : dtype;
}

// Options of `tensor`'s device with the type the kernels compute in.
inline at::TensorOptions compute_options(const at::Tensor& tensor) {
  return tensor.options().dtype(compute_type(tensor.scalar_type()));
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

// TORCH_EXT_BF16_OPERANDS=widen: a bfloat16 call of the LSTM, GRU and RNN layers widens every
// tensor to a float32 copy, as where the CPU has no bfloat16 products, but keeps the bfloat16
// products. The tests check that this gives bitwise the results of handing the kernels the
// bfloat16 storage. Read at each call.
inline bool widen_bf16_operands() {
  const char* value = std::getenv("TORCH_EXT_BF16_OPERANDS");
  return value != nullptr && std::string_view(value) == "widen";
}

// Whether a layer call runs on float32 copies of its tensors: a bfloat16 call without bfloat16
// products (or told to by TORCH_EXT_BF16_OPERANDS).
inline bool widens_call(const at::Tensor& input) {
  return needs_widening(input) &&
         (bf16_call_products() == kernels::Products::Native || widen_bf16_operands());
}

// The products of a layer call: a bfloat16 call's (bf16_call_products()), else `products` (those
// of the bfloat16 call whose float32 copies these are, or native).
inline kernels::Products call_products(const at::Tensor& input, kernels::Products products) {
  return needs_widening(input) ? bf16_call_products() : products;
}

// A tensor the kernels only multiply by, as their operand: its bfloat16 storage as it is (the
// products must then be bfloat16 ones), or its values in the kernels' type.
template <typename scalar_t>
kernels::Operand<scalar_t> operand(const at::Tensor& tensor) {
  if (tensor.scalar_type() == at::kBFloat16) {
    return kernels::Operand<scalar_t>::bfloat16(tensor.const_data_ptr<c10::BFloat16>());
  }
  return tensor.const_data_ptr<scalar_t>();
}

// Options of a layer forward's output: the kernels' type, or, in a bfloat16 call with bfloat16
// products, bfloat16: the kernels round it in as they write it (kernels/recurrence.h OutputRows)
// and no float32 copy of it is made.
inline at::TensorOptions output_options(const at::Tensor& input, kernels::Products products) {
  return needs_widening(input) && products == kernels::Products::BFloat16
             ? input.options()
             : compute_options(input);
}

// dX of a layer's backward ([input's sizes], or empty when not needed): as the output (above)
// when one direction writes it; with two, in the kernels' type, since the second direction adds
// to it. In bfloat16 the kernels round it in as they go (kernels/recurrence.h
// write_input_gradient) and no float32 [N, I] copy of it is held.
inline at::Tensor input_gradient(const at::Tensor& input, bool needed, int64_t directions,
                                 kernels::Products products) {
  if (!needed) {
    return at::empty({0}, compute_options(input));
  }
  return at::empty(input.sizes(),
                   directions == 1 ? output_options(input, products) : compute_options(input));
}

// Where the kernels write a result, `offset` elements in: its data in their type, or null
// (empty, or in bfloat16).
template <typename scalar_t>
scalar_t* kernel_result(at::Tensor& tensor, int64_t offset = 0) {
  return tensor.numel() > 0 && !needs_widening(tensor)
             ? tensor.mutable_data_ptr<scalar_t>() + offset
             : nullptr;
}

// ... and its data in bfloat16, or null (empty, or in the kernels' type).
inline c10::BFloat16* bfloat16_result(at::Tensor& tensor, int64_t offset = 0) {
  return tensor.numel() > 0 && needs_widening(tensor)
             ? tensor.mutable_data_ptr<c10::BFloat16>() + offset
             : nullptr;
}

// Options of the activations a GRU or LSTM layer's forward saves for its backward (the GRU's
// r, z, n and gh_n, the LSTM's gates): the call's own type. A bfloat16 call saves them in
// bfloat16, as torch.nn's bfloat16 layers do, which halves them: the kernels compute each value
// in float and round it as they write it (kernels/recurrence.h OutputRows), and the widening path
// narrows its float32 ones to the same values.
inline at::TensorOptions saved_options(const at::Tensor& input) {
  return input.options();
}

// Options of a layer backward's gradient workspaces that only products and the bias sums read
// (the LSTM's, GRU's and RNN's dG): bfloat16 where the products are bfloat16 ones, which round
// them to bfloat16 anyway (the kernels round them as they write them; the bias sums add the
// rounded values in float), else `options`.
inline at::TensorOptions gradient_options(const at::TensorOptions& options,
                                          kernels::Products products) {
  return products == kernels::Products::BFloat16 ? options.dtype(at::kBFloat16) : options;
}

// Options of a layer backward's weight gradients (not the biases'): `options`, summed in float32
// over the windows and narrowed at the end; or, in a bfloat16 call with bfloat16 products whose
// backward is one window, bfloat16: the kernels sum each one's terms in float and round it once
// as they write it (kernels/recurrence.h weight_gradient), the values narrowing gives, with no
// float32 copy held beside the workspaces.
inline at::TensorOptions weight_gradient_options(const at::Tensor& input,
                                                 const at::TensorOptions& options,
                                                 kernels::Products products, bool one_window) {
  return needs_widening(input) && products == kernels::Products::BFloat16 && one_window
             ? input.options()
             : options;
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

// Each tensor replaced by its narrowed copy in turn, so that one float32 result at a time is
// alive beside its copy.
inline void narrow_each(std::vector<at::Tensor>& tensors, at::ScalarType dtype) {
  for (at::Tensor& tensor : tensors) {
    tensor = narrow_to(tensor, dtype);
  }
}

}  // namespace torch_ext::ops
