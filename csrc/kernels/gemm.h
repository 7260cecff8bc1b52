// Row-major GEMM on raw pointers, for the kernels' per-step and whole-sequence matrix products.
//
//   C[m×n] = alpha · op(A) · op(B) + beta · C,   op(X) = X or Xᵀ,
//
// every matrix row-major with its leading dimension (the distance between rows). It calls the
// BLAS inside libtorch_cpu (MKL in the x86 wheels) without going through the dispatcher, so a
// time step costs no tensor allocation; where libtorch exports no BLAS it falls back to at::mm_out.
// BLAS threading follows torch.set_num_threads; inside an OpenMP parallel region it runs on the
// calling thread only.
#pragma once

#include <cstdint>

namespace torch_ext::kernels {

enum class Transpose : bool { No = false, Yes = true };

void gemm(Transpose transpose_a, Transpose transpose_b, int64_t m, int64_t n, int64_t k,
          float alpha, const float* a, int64_t lda, const float* b, int64_t ldb, float beta,
          float* c, int64_t ldc);

void gemm(Transpose transpose_a, Transpose transpose_b, int64_t m, int64_t n, int64_t k,
          double alpha, const double* a, int64_t lda, const double* b, int64_t ldb, double beta,
          double* c, int64_t ldc);

}  // namespace torch_ext::kernels
