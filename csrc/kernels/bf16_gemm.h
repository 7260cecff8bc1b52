// Matrix products with bfloat16 operands and float32 accumulation, for the kernels' bfloat16 mode.
//
// A bfloat16 call of an operator computes in float32 (its tensors widened on entry, precision.h),
// but its products may round their operands to bfloat16 and multiply with the CPU's bfloat16 dot
// product (AVX512-BF16's vdpbf16ps: two products per float32 lane and instruction, twice the
// float32 FMA rate), accumulating in float32. That is what torch.nn's bfloat16 RNNs do through
// oneDNN; only the operands are rounded (weights and inputs already are bfloat16 values; the
// hidden state is rounded as it enters a product, the gate gradients as the pointwise pass writes
// them into their bfloat16 rows), every sum and every pointwise step stays float32.
//
// Layout of a packed panel of B (K × width, width ≤ kBf16PanelWidth): the K rows in pairs, each
// pair of rows stored as `width` 32-bit words holding (B(2p, n), B(2p + 1, n)), the lower half
// first; an odd K is padded with a zero row. Rows of A are bfloat16 with a zero past an odd K.
//
// Not compiled per CPU capability: every function checks nothing and must only be called when
// bf16_products_supported() (the callers choose Products::BFloat16 only then).
#pragma once

#include "kernels/gemm.h"
#include "kernels/operand.h"

#include <c10/util/ArrayRef.h>
#include <c10/util/BFloat16.h>

#include <cstdint>

namespace torch_ext::kernels {

// The operands of the kernels' products: as stored (float32 or float64), or rounded to bfloat16.
enum class Products : bool { Native = false, BFloat16 = true };

// Whether this CPU multiplies bfloat16 pairs (x86 AVX512-BF16).
bool bf16_products_supported();

constexpr int64_t kBf16PanelWidth = 32;

inline int64_t bf16_padded_depth(int64_t depth) { return (depth + 1) / 2 * 2; }

// Elements (bfloat16) of a packed panel of `depth` rows and `width` columns.
inline int64_t bf16_panel_elements(int64_t depth, int64_t width) {
  return bf16_padded_depth(depth) * width;
}

// Packs B(k, n) = source[k·stride_k + n·stride_n], k < depth, n < width ≤ 32, into `panel`
// (from float, rounded; from bfloat16, copied).
void pack_bf16_panel(int64_t depth, int64_t width, const float* source, int64_t stride_k,
                     int64_t stride_n, c10::BFloat16* panel);
void pack_bf16_panel(int64_t depth, int64_t width, const c10::BFloat16* source, int64_t stride_k,
                     int64_t stride_n, c10::BFloat16* panel);

// out[m·ld_out + k] = bfloat16(a[m·lda + k]) for m < rows, k < depth, and a zero at k = depth
// when depth is odd (A in float, rounded, or in bfloat16, copied). ld_out ≥
// bf16_padded_depth(depth) and even.
void round_rows_bf16(int64_t rows, int64_t depth, Operand<float> a, int64_t lda,
                     c10::BFloat16* out, int64_t ld_out);

// C[rows × width] (+)= A[rows × depth] · panel; A rows from round_rows_bf16 (lda even, in
// elements), panel from pack_bf16_panel with the same depth.
void bf16_panel_multiply(int64_t rows, int64_t width, int64_t depth, const c10::BFloat16* a,
                         int64_t lda, const c10::BFloat16* panel, float* c, int64_t ldc,
                         bool accumulate);

// gemm() of gemm.h (row-major, C = alpha·op(A)·op(B) + beta·C) with the operands rounded to
// bfloat16, each in float or in bfloat16 storage (operand.h); alpha must be 1. Parallel over
// blocks of C (at::parallel_for; on the calling thread inside a parallel region).
void gemm_bf16(Transpose transpose_a, Transpose transpose_b, int64_t m, int64_t n, int64_t k,
               float alpha, Operand<float> a, int64_t lda, Operand<float> b, int64_t ldb,
               float beta, float* c, int64_t ldc);

// One term of gemm_bf16_rounded's sum: op(A)[m × k] · op(B)[k × n], each operand in float or in
// bfloat16 storage.
struct Bf16Term {
  Transpose transpose_a = Transpose::No;
  Transpose transpose_b = Transpose::No;
  int64_t k = 0;
  Operand<float> a;
  int64_t lda = 0;
  Operand<float> b;
  int64_t ldb = 0;
};

// C[m × n] = Σ terms in bfloat16: each block of C summed in float32 (the terms in order, as
// gemm_bf16 into a float C and then `beta = 1` for each further term would), then rounded to
// nearest even as it is written. Bitwise what narrowing that float C gives, without a float32
// copy of C. Parallel over blocks of C.
void gemm_bf16_rounded(int64_t m, int64_t n, c10::ArrayRef<Bf16Term> terms, c10::BFloat16* c,
                       int64_t ldc);

// gemm() or gemm_bf16() as `products` says; an operand in bfloat16 storage needs bfloat16
// products (a `const float*` converts to an Operand).
inline void gemm(Products products, Transpose transpose_a, Transpose transpose_b, int64_t m,
                 int64_t n, int64_t k, float alpha, Operand<float> a, int64_t lda,
                 Operand<float> b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (products == Products::BFloat16) {
    gemm_bf16(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  TORCH_CHECK(!a.is_bfloat16() && !b.is_bfloat16(),
              "torch_ext: a bfloat16 operand needs bfloat16 products");
  gemm(transpose_a, transpose_b, m, n, k, alpha, a.values(), lda, b.values(), ldb, beta, c, ldc);
}

// double always multiplies in double.
inline void gemm(Products /*products*/, Transpose transpose_a, Transpose transpose_b, int64_t m,
                 int64_t n, int64_t k, double alpha, Operand<double> a, int64_t lda,
                 Operand<double> b, int64_t ldb, double beta, double* c, int64_t ldc) {
  gemm(transpose_a, transpose_b, m, n, k, alpha, a.values(), lda, b.values(), ldb, beta, c, ldc);
}

}  // namespace torch_ext::kernels
