#include "kernels/gemm.h"

#include <c10/util/Exception.h>

#include <algorithm>
#include <limits>
#include <type_traits>

#ifndef TORCH_EXT_HAVE_FORTRAN_BLAS
#include <ATen/Functions.h>
#endif

#ifdef TORCH_EXT_HAVE_FORTRAN_BLAS
// The Fortran BLAS interface (LP64), exported by libtorch_cpu.
extern "C" {
void sgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k,
            const float* alpha, const float* a, const int* lda, const float* b, const int* ldb,
            const float* beta, float* c, const int* ldc);
void dgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k,
            const double* alpha, const double* a, const int* lda, const double* b, const int* ldb,
            const double* beta, double* c, const int* ldc);
}
#endif

namespace torch_ext::kernels {
namespace {

int to_blas_int(int64_t value, const char* what) {
  TORCH_CHECK(value >= 0 && value <= std::numeric_limits<int>::max(), "torch_ext: GEMM ", what,
              " = ", value, " does not fit the 32-bit BLAS interface");
  return static_cast<int>(value);
}

template <typename scalar_t>
void gemm_impl(Transpose transpose_a, Transpose transpose_b, int64_t m, int64_t n, int64_t k,
               scalar_t alpha, const scalar_t* a, int64_t lda, const scalar_t* b, int64_t ldb,
               scalar_t beta, scalar_t* c, int64_t ldc) {
  if (m == 0 || n == 0) {
    return;
  }
  // A stored matrix of one row never steps to a next row: any leading dimension reaches the same
  // elements, but BLAS insists on at least the row length.
  const auto normalized = [](int64_t ld, int64_t stored_rows, int64_t stored_cols) {
    return stored_rows == 1 ? std::max(ld, stored_cols) : ld;
  };
  lda = transpose_a == Transpose::Yes ? normalized(lda, k, m) : normalized(lda, m, k);
  ldb = transpose_b == Transpose::Yes ? normalized(ldb, n, k) : normalized(ldb, k, n);
  ldc = normalized(ldc, m, n);
#ifdef TORCH_EXT_HAVE_FORTRAN_BLAS
  // Row-major C = op(A)·op(B) is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ: swap the operands and read
  // each row-major matrix as its column-major transpose.
  const char trans_b = transpose_b == Transpose::Yes ? 'T' : 'N';
  const char trans_a = transpose_a == Transpose::Yes ? 'T' : 'N';
  const int blas_m = to_blas_int(n, "n");
  const int blas_n = to_blas_int(m, "m");
  const int blas_k = to_blas_int(k, "k");
  // BLAS requires leading dimensions of at least max(1, rows of the column-major operand).
  const int blas_ldb = to_blas_int(std::max<int64_t>(ldb, 1), "ldb");
  const int blas_lda = to_blas_int(std::max<int64_t>(lda, 1), "lda");
  const int blas_ldc = to_blas_int(std::max<int64_t>(ldc, 1), "ldc");
  if constexpr (std::is_same_v<scalar_t, float>) {
    sgemm_(&trans_b, &trans_a, &blas_m, &blas_n, &blas_k, &alpha, b, &blas_ldb, a, &blas_lda,
           &beta, c, &blas_ldc);
  } else {
    dgemm_(&trans_b, &trans_a, &blas_m, &blas_n, &blas_k, &alpha, b, &blas_ldb, a, &blas_lda,
           &beta, c, &blas_ldc);
  }
#else
  const auto options = at::TensorOptions().dtype(c10::CppTypeToScalarType<scalar_t>::value);
  const auto view = [&](const scalar_t* data, int64_t rows, int64_t cols, int64_t ld,
                        Transpose transpose) {
    auto matrix = at::from_blob(const_cast<scalar_t*>(data), {rows, cols}, {ld, 1}, options);
    return transpose == Transpose::Yes ? matrix.t() : matrix;
  };
  const auto a_rows = transpose_a == Transpose::Yes ? k : m;
  const auto b_rows = transpose_b == Transpose::Yes ? n : k;
  auto op_a = view(a, a_rows, transpose_a == Transpose::Yes ? m : k, lda, transpose_a);
  auto op_b = view(b, b_rows, transpose_b == Transpose::Yes ? k : n, ldb, transpose_b);
  auto out = at::from_blob(c, {m, n}, {ldc, 1}, options);
  if (beta == scalar_t(0)) {
    at::mm_out(out, op_a, op_b);
    if (alpha != scalar_t(1)) {
      out.mul_(alpha);
    }
  } else {
    out.addmm_(op_a, op_b, beta, alpha);
  }
#endif
}

}  // namespace

void gemm(Transpose transpose_a, Transpose transpose_b, int64_t m, int64_t n, int64_t k,
          float alpha, const float* a, int64_t lda, const float* b, int64_t ldb, float beta,
          float* c, int64_t ldc) {
  gemm_impl(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void gemm(Transpose transpose_a, Transpose transpose_b, int64_t m, int64_t n, int64_t k,
          double alpha, const double* a, int64_t lda, const double* b, int64_t ldb, double beta,
          double* c, int64_t ldc) {
  gemm_impl(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace torch_ext::kernels
