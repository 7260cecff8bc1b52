// Splitting a step's pointwise pass across threads. Included only by kernel files (compiled once
// per CPU capability).
#pragma once

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>

namespace torch_ext::kernels {
namespace CPU_CAPABILITY {

// Below this many values a pointwise pass stays on one thread: a fork and join costs more than
// the work it would share.
constexpr int64_t kValuesPerTask = 1 << 14;

// Calls fn(row_begin, row_end) over [0, rows), across threads when each gets enough values.
template <typename Fn>
void for_each_row_block(int64_t rows, int64_t values_per_row, const Fn& fn) {
  if (rows <= 0) {
    return;
  }
  const int64_t grain = std::max<int64_t>(1, kValuesPerTask / std::max<int64_t>(1, values_per_row));
  at::parallel_for(0, rows, grain, fn);
}

// out[j] (+)= Σ_rows matrix[row][j] for `cols` columns of a row-major matrix whose rows are `ld`
// apart; threads split the columns.
template <typename scalar_t>
void sum_rows(const scalar_t* matrix, int64_t rows, int64_t cols, int64_t ld, scalar_t* out,
              bool accumulate = false) {
  constexpr int64_t kColumnsPerTask = 256;
  at::parallel_for(0, cols, rows * kColumnsPerTask >= kValuesPerTask ? kColumnsPerTask : cols,
                   [&](int64_t col_begin, int64_t col_end) {
                     if (!accumulate) {
                       std::fill(out + col_begin, out + col_end, scalar_t(0));
                     }
                     for (int64_t row = 0; row < rows; ++row) {
                       const scalar_t* source = matrix + row * ld;
                       for (int64_t col = col_begin; col < col_end; ++col) {
                         out[col] += source[col];
                       }
                     }
                   });
}

}  // namespace CPU_CAPABILITY
}  // namespace torch_ext::kernels
