// Splitting a step's pointwise pass across threads. Included only by kernel files (compiled once
// per CPU capability).
#pragma once

#include <ATen/Parallel.h>
#include <c10/util/BFloat16.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

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
// apart; threads split the columns. Rows are summed in blocks of kRowBlock, each block's sum then
// added to out: the rounding error grows with kRowBlock + rows / kRowBlock rather than with rows
// (a bias gradient sums every row of a sequence; summed row by row, an LSTM's was 2–3× less
// accurate than ATen's sum of the same rows). The order is fixed, so results do not depend on
// the thread count. The matrix may hold another type than out (bfloat16 rows summed in float).
template <typename scalar_t, typename element_t>
void sum_rows(const element_t* matrix, int64_t rows, int64_t cols, int64_t ld, scalar_t* out,
              bool accumulate = false) {
  static_assert(std::is_same_v<element_t, scalar_t> ||
                    (std::is_same_v<element_t, c10::BFloat16> && std::is_same_v<scalar_t, float>),
                "sum_rows: rows of the output's type, or bfloat16 rows into float");
  constexpr int64_t kColumnsPerTask = 256;
  constexpr int64_t kRowBlock = 32;
  at::parallel_for(0, cols, rows * kColumnsPerTask >= kValuesPerTask ? kColumnsPerTask : cols,
                   [&](int64_t col_begin, int64_t col_end) {
                     if (!accumulate) {
                       std::fill(out + col_begin, out + col_end, scalar_t(0));
                     }
                     std::vector<scalar_t> block(static_cast<size_t>(col_end - col_begin));
                     for (int64_t first = 0; first < rows; first += kRowBlock) {
                       const int64_t last = std::min(rows, first + kRowBlock);
                       const element_t* source = matrix + first * ld + col_begin;
                       std::copy(source, source + (col_end - col_begin), block.begin());
                       for (int64_t row = first + 1; row < last; ++row) {
                         source = matrix + row * ld + col_begin;
                         for (int64_t col = 0; col < col_end - col_begin; ++col) {
                           block[static_cast<size_t>(col)] += source[col];
                         }
                       }
                       for (int64_t col = col_begin; col < col_end; ++col) {
                         out[col] += block[static_cast<size_t>(col - col_begin)];
                       }
                     }
                   });
}

}  // namespace CPU_CAPABILITY
}  // namespace torch_ext::kernels
