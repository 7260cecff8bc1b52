// A read-only matrix operand of the kernels' products, in the kernel's type or in bfloat16.
//
// A bfloat16 call of an operator runs the float kernels, and its products round both operands to
// bfloat16 (bf16_gemm.h). A tensor that enters products (the weights, the layer's input, the
// saved output as the previous states of dW_hh) can therefore be handed to the kernels in its own
// bfloat16 storage: rounding a bfloat16 value is exact, so the results are those of a widened
// float32 copy, without the copy (vdpbf16ps treats denormals as zero either way). Where a
// pointwise pass reads such a tensor it converts the values it needs (`at`). An Operand holds
// either pointer; converting from `const scalar_t*` keeps every existing call site as it was.
#pragma once

#include <c10/util/BFloat16.h>
#include <c10/util/Exception.h>

#include <cstddef>
#include <cstdint>

namespace torch_ext::kernels {

template <typename scalar_t>
class Operand {
 public:
  Operand() = default;
  Operand(const scalar_t* values) : values_(values) {}  // NOLINT(google-explicit-constructor)
  Operand(std::nullptr_t) {}                             // NOLINT(google-explicit-constructor)

  // Bfloat16 storage: only products with Products::BFloat16 may read it.
  static Operand bfloat16(const c10::BFloat16* values) {
    Operand operand;
    operand.bf16_ = values;
    return operand;
  }

  bool is_bfloat16() const { return bf16_ != nullptr; }
  bool empty() const { return values_ == nullptr && bf16_ == nullptr; }

  // The values in the kernel's type; a bfloat16 operand has none (an internal error to ask).
  const scalar_t* values() const {
    TORCH_INTERNAL_ASSERT(bf16_ == nullptr, "torch_ext: a bfloat16 operand read as float");
    return values_;
  }
  const c10::BFloat16* bfloat16_values() const { return bf16_; }

  // Element (row·ld + column) of either storage, in the kernel's type (exact for bfloat16).
  scalar_t at(int64_t index) const {
    return bf16_ != nullptr ? static_cast<scalar_t>(static_cast<float>(bf16_[index]))
                            : values_[index];
  }

  // The operand `offset` elements further on (a null operand stays null).
  Operand operator+(int64_t offset) const {
    Operand result = *this;
    if (values_ != nullptr) {
      result.values_ += offset;
    }
    if (bf16_ != nullptr) {
      result.bf16_ += offset;
    }
    return result;
  }

 private:
  const scalar_t* values_ = nullptr;
  const c10::BFloat16* bf16_ = nullptr;
};

// Operand<scalar_t> as a parameter of a function template that deduces scalar_t from its other
// parameters: a `const scalar_t*` argument then converts to it.
template <typename scalar_t>
struct NonDeduced {
  using type = scalar_t;
};
template <typename scalar_t>
using OperandOf = Operand<typename NonDeduced<scalar_t>::type>;

}  // namespace torch_ext::kernels
