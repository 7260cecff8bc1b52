// A weight matrix laid out once per call for the per-step products of a recurrence.
//
// B is K × N with B(k, n) = source[k·stride_k + n·stride_n] (so W_hhᵀ and W_hh are both views of
// the stored weight), its N columns in `groups` groups of `group_size` (one group per gate). The
// columns of each group are cut into panels of kPanelWidth; a panel is stored as a contiguous
// K × width block, the layout ATen's batch-reduce GEMM (at::native::cpublas::brgemm, oneDNN's
// ukernel) runs at the CPU's peak on. The thread that owns a range of hidden units packs the
// panels it will multiply by, so they land in its own cache. float only; double keeps the
// stored weight and multiplies through BLAS.
//
// With Products::BFloat16 (float only) the panels are packed as bfloat16 pairs (bf16_gemm.h) and
// each product rounds its A rows to bfloat16 into a scratch the object owns: such an object is
// used by one thread (every kernel builds its per-step matrices inside its team thread). B and
// the A rows may then be in bfloat16 storage (operand.h).
//
// Included only by kernel files (compiled once per CPU capability).
#pragma once

#include "kernels/aligned_buffer.h"
#include "kernels/bf16_gemm.h"
#include "kernels/gemm.h"
#include "kernels/operand.h"
#include "kernels/panel_pool.h"

#include <ATen/Parallel.h>
#include <ATen/cpu/vec/vec.h>
#include <ATen/native/CPUBlas.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

namespace torch_ext::kernels {
namespace CPU_CAPABILITY {

// Hidden units are handed out to threads in blocks of this many (one panel per gate).
constexpr int64_t kPanelWidth = 32;

inline int64_t panel_count(int64_t columns) {
  return (columns + kPanelWidth - 1) / kPanelWidth;
}

// destination[j·ld_destination + i] = source[i·ld_source + j] for i < rows, j < cols: in
// registers, a square tile at a time (AVX512: ATen's masked 16 × 16 tiles, edges included;
// AVX2: 8 × 8 tiles, edges element by element; DEFAULT: element by element).
inline void transpose_floats(const float* source, int64_t ld_source, float* destination,
                             int64_t ld_destination, int64_t rows, int64_t cols) {
#if defined(CPU_CAPABILITY_AVX512)
  at::vec::transpose_mxn<float>(source, ld_source, destination, ld_destination,
                                static_cast<int>(rows), static_cast<int>(cols));
#else
  constexpr int64_t kTile = 8;
  const int64_t tiled_rows = rows / kTile * kTile;
  const int64_t tiled_cols = cols / kTile * kTile;
  for (int64_t j = 0; j < tiled_cols; j += kTile) {
    for (int64_t i = 0; i < tiled_rows; i += kTile) {
      at::vec::transpose_mxn<float, kTile, kTile>(source + i * ld_source + j, ld_source,
                                                 destination + j * ld_destination + i,
                                                 ld_destination);
    }
  }
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = i < tiled_rows ? tiled_cols : 0; j < cols; ++j) {
      destination[j * ld_destination + i] = source[i * ld_source + j];
    }
  }
#endif
}

// block[k·width + n] = B(k, first + n) for k < depth, n < width, B(k, n) = source[k·stride_k +
// n·stride_n]. A transposed float weight (stride_k 1: each column of B contiguous) is transposed
// in registers (transpose_floats: 2.4× faster than element by element at 512 × 128 in cache,
// 1.8× at 2048 × 512 out of cache). One of another type (a bfloat16 weight) is read a cache line
// of k at a time, every column of the block before the next tile of k: walking k in the outer loop
// would read `width` columns at once, and with a power-of-two row length their lines share an L1
// set (packing a 1024-unit LSTM's weights took 13 ms of a one-step call that way, then 2 ms).
template <typename scalar_t>
void pack_block(const scalar_t* source, int64_t depth, int64_t stride_k, int64_t stride_n,
                int64_t first, int64_t width, scalar_t* block) {
  constexpr int64_t kDepthTile = 16;
  if constexpr (std::is_same_v<scalar_t, float>) {
    if (stride_k == 1) {
      transpose_floats(source + first * stride_n, stride_n, block, width, width, depth);
      return;
    }
  }
  if (stride_k != 1) {
    if (stride_n == 1) {  // rows of B contiguous: a copy per row
      for (int64_t k = 0; k < depth; ++k) {
        std::copy_n(source + k * stride_k + first, width, block + k * width);
      }
      return;
    }
    for (int64_t k = 0; k < depth; ++k) {
      for (int64_t n = 0; n < width; ++n) {
        block[k * width + n] = source[k * stride_k + (first + n) * stride_n];
      }
    }
    return;
  }
  for (int64_t tile = 0; tile < depth; tile += kDepthTile) {
    const int64_t tile_end = std::min(depth, tile + kDepthTile);
    for (int64_t n = 0; n < width; ++n) {
      const scalar_t* column = source + (first + n) * stride_n;
      for (int64_t k = tile; k < tile_end; ++k) {
        block[k * width + n] = column[k];
      }
    }
  }
}

template <typename scalar_t>
class PackedMatrix {
 public:
  static constexpr bool kPacked = std::is_same_v<scalar_t, float>;

  // The bytes of the panels of every column of `groups` groups of `group_size` at `depth`: what
  // the threads sharing such a matrix hold together (alignment not included).
  static size_t whole_bytes(int64_t depth, int64_t groups, int64_t group_size,
                            Products products) {
    if constexpr (!kPacked) {
      return 0;
    }
    const int64_t panels = groups * panel_count(group_size);
    return products == Products::BFloat16
               ? static_cast<size_t>(panels * bf16_panel_elements(depth, kPanelWidth)) *
                     sizeof(c10::BFloat16)
               : static_cast<size_t>(panels * depth * kPanelWidth) * sizeof(scalar_t);
  }

  // Holds columns [first_column, last_column) of every group (first_column a multiple of
  // kPanelWidth): a team thread keeps only the panels it multiplies by, not a copy of all of B.
  // The panels take their storage from `pool` where it has room (panel_pool.h), else their own.
  PackedMatrix(Operand<scalar_t> source, int64_t depth, int64_t groups, int64_t group_size,
               int64_t stride_k, int64_t stride_n, int64_t first_column, int64_t last_column,
               Products products = Products::Native, PanelPool* pool = nullptr)
      : source_(source),
        depth_(depth),
        group_size_(group_size),
        first_panel_(first_column / kPanelWidth),
        panels_per_group_(last_column > first_column
                              ? panel_count(last_column) - first_column / kPanelWidth
                              : 0),
        first_column_(first_column),
        last_column_(last_column),
        stride_k_(stride_k),
        stride_n_(stride_n),
        bf16_(kPacked && products == Products::BFloat16) {
    static_assert(kPanelWidth == kBf16PanelWidth, "one panel width for both layouts");
    TORCH_CHECK(first_column >= last_column ||
                    (first_column % kPanelWidth == 0 && 0 <= first_column &&
                     last_column <= group_size),
                "torch_ext: packed columns [", first_column, ", ", last_column,
                ") do not start a panel of a group of ", group_size);
    TORCH_CHECK(bf16_ || !source.is_bfloat16(),
                "torch_ext: a weight in bfloat16 storage needs bfloat16 products");
    if (bf16_) {
      const auto count =
          static_cast<size_t>(groups * panels_per_group_ * bf16_panel_elements(depth, kPanelWidth));
      bf16_panels_ = take<c10::BFloat16>(pool, count);
      if (bf16_panels_ == nullptr) {
        bf16_storage_.allocate(count);
        bf16_panels_ = bf16_storage_.data();
      }
    } else if constexpr (kPacked) {
      const auto count = static_cast<size_t>(groups * panels_per_group_ * depth * kPanelWidth);
      panels_ = take<scalar_t>(pool, count);
      if (panels_ == nullptr) {
        storage_.allocate(count);
        panels_ = storage_.data();
      }
    }
  }
  PackedMatrix(const PackedMatrix&) = delete;
  PackedMatrix& operator=(const PackedMatrix&) = delete;

  int64_t group_size() const { return group_size_; }
  int64_t depth() const { return depth_; }

  // Lays out the panels holding columns [begin, end) of `group`; begin is a multiple of
  // kPanelWidth (end may be the group's end).
  void pack(int64_t group, int64_t begin, int64_t end) {
    TORCH_CHECK(begin >= end || (begin >= first_column_ && end <= last_column_),
                "torch_ext: packing columns [",
                begin, ", ", end, ") outside the held [", first_column_, ", ", last_column_, ")");
    if constexpr (kPacked) {
      // bfloat16 panels are gathered by pack_block first (its cache-friendly walk over a
      // transposed weight), in the source's type, then rounded into pairs.
      const bool bf16_source = source_.is_bfloat16();
      const size_t gathered_size = static_cast<size_t>(depth_ * kPanelWidth);
      std::vector<scalar_t> gathered(bf16_ && !bf16_source ? gathered_size : 0);
      std::vector<c10::BFloat16> gathered_bf16(bf16_source ? gathered_size : 0);
      for (int64_t column = begin; column < end; column += kPanelWidth) {
        const int64_t width = std::min(kPanelWidth, group_size_ - column);
        const int64_t first = group * group_size_ + column;
        if (bf16_source) {
          pack_block(source_.bfloat16_values(), depth_, stride_k_, stride_n_, first, width,
                     gathered_bf16.data());
          pack_bf16_panel(depth_, width, gathered_bf16.data(), width, 1,
                          bf16_panel(group, column));
        } else if (bf16_) {
          pack_block(source_.values(), depth_, stride_k_, stride_n_, first, width,
                     gathered.data());
          pack_bf16_panel(depth_, width, gathered.data(), width, 1, bf16_panel(group, column));
        } else {
          pack_block(source_.values(), depth_, stride_k_, stride_n_, first, width,
                     panel_data(group, column));
        }
      }
    }
  }

  // C[rows, 0 : end-begin] (+)= A[rows, K] · B[:, columns begin..end of `group`]. A may be in
  // bfloat16 storage only with bfloat16 products.
  void multiply(int64_t rows, Operand<scalar_t> a, int64_t lda, int64_t group, int64_t begin,
                int64_t end, scalar_t* c, int64_t ldc, bool accumulate) const {
    if (rows <= 0 || end <= begin) {
      return;
    }
    if (depth_ == 0) {
      if (!accumulate) {
        for (int64_t m = 0; m < rows; ++m) {
          std::fill(c + m * ldc, c + m * ldc + (end - begin), scalar_t(0));
        }
      }
      return;
    }
    if constexpr (kPacked) {
      if (bf16_) {
        // A block of rows is rounded once and multiplied by every panel while it is in cache.
        constexpr int64_t kRowBlock = 64;
        const int64_t ld = bf16_padded_depth(depth_);
        rows_.resize(static_cast<size_t>(std::min(rows, kRowBlock) * ld));
        for (int64_t first = 0; first < rows; first += kRowBlock) {
          const int64_t count = std::min(kRowBlock, rows - first);
          round_rows_bf16(count, depth_, a + first * lda, lda, rows_.data(), ld);
          for (int64_t column = begin; column < end; column += kPanelWidth) {
            bf16_panel_multiply(count, std::min(kPanelWidth, group_size_ - column), depth_,
                                rows_.data(), ld, bf16_panel(group, column),
                                c + first * ldc + (column - begin), ldc, accumulate);
          }
        }
        return;
      }
      const scalar_t* a_values = a.values();
      for (int64_t column = begin; column < end; column += kPanelWidth) {
        const int64_t width = std::min(kPanelWidth, group_size_ - column);
        at::native::cpublas::brgemm(rows, width, depth_, lda, width, ldc, accumulate, a_values,
                                    panel_data(group, column), c + (column - begin),
                                    /*is_vnni=*/false);
      }
    } else {
      // B's columns begin..end as a strided matrix: row-major when stride_n is 1, else the
      // transpose of a row-major matrix with rows stride_n apart.
      const scalar_t* b = source_.values() + (group * group_size_ + begin) * stride_n_;
      const bool row_major = stride_n_ == 1;
      gemm(Transpose::No, row_major ? Transpose::No : Transpose::Yes, rows, end - begin, depth_,
           scalar_t(1), a.values(), lda, b, row_major ? stride_k_ : stride_n_,
           accumulate ? scalar_t(1) : scalar_t(0), c, ldc);
    }
  }

 private:
  // `count` elements from the pool, or null (no pool, or it has no more, or nothing to hold).
  template <typename T>
  static T* take(PanelPool* pool, size_t count) {
    return pool != nullptr && count > 0 ? static_cast<T*>(pool->take(count * sizeof(T))) : nullptr;
  }

  scalar_t* panel_data(int64_t group, int64_t column) {
    return panels_ + panel_offset(group, column);
  }
  const scalar_t* panel_data(int64_t group, int64_t column) const {
    return panels_ + panel_offset(group, column);
  }
  int64_t panel_offset(int64_t group, int64_t column) const {
    return (group * panels_per_group_ + column / kPanelWidth - first_panel_) * depth_ *
           kPanelWidth;
  }
  c10::BFloat16* bf16_panel(int64_t group, int64_t column) {
    return bf16_panels_ + bf16_panel_offset(group, column);
  }
  const c10::BFloat16* bf16_panel(int64_t group, int64_t column) const {
    return bf16_panels_ + bf16_panel_offset(group, column);
  }
  int64_t bf16_panel_offset(int64_t group, int64_t column) const {
    return (group * panels_per_group_ + column / kPanelWidth - first_panel_) *
           bf16_panel_elements(depth_, kPanelWidth);
  }

  Operand<scalar_t> source_;
  int64_t depth_;
  int64_t group_size_;
  int64_t first_panel_;
  int64_t panels_per_group_;  // held panels per group
  int64_t first_column_;
  int64_t last_column_;
  int64_t stride_k_;
  int64_t stride_n_;
  bool bf16_;
  scalar_t* panels_ = nullptr;  // the held panels: from the pool, or storage_
  c10::BFloat16* bf16_panels_ = nullptr;
  AlignedBuffer<scalar_t> storage_;
  AlignedBuffer<c10::BFloat16> bf16_storage_;
  mutable std::vector<c10::BFloat16> rows_;  // A rounded to bfloat16 (bfloat16 products only)
};

// C[m, n] (+)= A[m, k] · B for a whole-sequence product (the input projection, dX), with B(k, n) =
// source[k·stride_k + n·stride_n]. float: B is packed into panels by all threads, then threads
// take blocks of rows, each block multiplied by every panel while it stays in cache. Small
// products and double go to BLAS.
template <typename scalar_t>
void sequence_gemm(int64_t m, int64_t n, int64_t k, OperandOf<scalar_t> a, int64_t lda,
                   OperandOf<scalar_t> source, int64_t stride_k, int64_t stride_n, scalar_t* c,
                   int64_t ldc, bool accumulate, Products products = Products::Native) {
  constexpr int64_t kRowBlock = 128;
  constexpr int64_t kMinPackedFlops = int64_t(1) << 24;
  const bool row_major = stride_n == 1;
  // bfloat16 products pack their own panels (gemm_bf16); double and small products go to BLAS.
  if (products == Products::BFloat16 || !PackedMatrix<scalar_t>::kPacked ||
      2 * m * n * k < kMinPackedFlops || k == 0) {
    gemm(products, Transpose::No, row_major ? Transpose::No : Transpose::Yes, m, n, k,
         scalar_t(1), a, lda, source, row_major ? stride_k : stride_n,
         accumulate ? scalar_t(1) : scalar_t(0), c, ldc);
    return;
  }
  PackedMatrix<scalar_t> b(source, k, 1, n, stride_k, stride_n, 0, n);
  at::parallel_for(0, panel_count(n), 1, [&](int64_t first, int64_t last) {
    b.pack(0, first * kPanelWidth, std::min(last * kPanelWidth, n));
  });
  // Equal blocks of at most kRowBlock rows, as many as a multiple of kBlockMultiple, so that 1, 2
  // or 4 threads get equal shares (800 rows in blocks of 128 gave one of two threads 512 rows, the
  // other 288). The blocks depend on m alone, not on the thread count: a row's products come out
  // the same whatever the threads (tests/python/reliability/test_determinism.py).
  constexpr int64_t kBlockMultiple = 4;
  const int64_t blocks =
      ((m + kRowBlock - 1) / kRowBlock + kBlockMultiple - 1) / kBlockMultiple * kBlockMultiple;
  const int64_t block_rows = (m + blocks - 1) / blocks;
  at::parallel_for(0, (m + block_rows - 1) / block_rows, 1, [&](int64_t first, int64_t last) {
    for (int64_t block = first; block < last; ++block) {
      const int64_t row = block * block_rows;
      b.multiply(std::min(block_rows, m - row), a + row * lda, lda, 0, 0, n, c + row * ldc, ldc,
                 accumulate);
    }
  });
}

}  // namespace CPU_CAPABILITY
}  // namespace torch_ext::kernels
