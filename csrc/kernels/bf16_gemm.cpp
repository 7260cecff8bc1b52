#include "kernels/bf16_gemm.h"

#include "kernels/aligned_buffer.h"
#include "kernels/dispatch.h"

#include <ATen/Parallel.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <vector>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define TORCH_EXT_BF16_DOT 1
#define TORCH_EXT_BF16_TARGET \
  __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))
#else
#define TORCH_EXT_BF16_DOT 0
#endif

namespace torch_ext::kernels {

bool bf16_products_supported() {
#if TORCH_EXT_BF16_DOT
  // The CPU must have the instructions, and ATen must run AVX-512 code here: a user who lowers
  // ATEN_CPU_CAPABILITY gets the float32 products, as ATen's own kernels fall back.
  static const bool supported =
      __builtin_cpu_supports("avx512bf16") && cpu_capability() == CpuCapability::Avx512;
  return supported;
#else
  return false;
#endif
}

#if TORCH_EXT_BF16_DOT
namespace {

// Calls fn(values) with an operand's storage: bfloat16 or float.
template <typename Fn>
void with_storage(const Operand<float>& operand, const Fn& fn) {
  if (operand.is_bfloat16()) {
    fn(operand.bfloat16_values());
  } else {
    fn(operand.values());
  }
}

// 16 floats rounded to bfloat16 (to nearest even, as c10::BFloat16), n ≤ 16 of them.
TORCH_EXT_BF16_TARGET inline void round16(const float* from, c10::BFloat16* to, int64_t n) {
  const __mmask16 mask = n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1);
  const __m512 values = _mm512_maskz_loadu_ps(mask, from);
  const __m256bh rounded = _mm512_cvtneps_pbh(values);
  _mm256_mask_storeu_epi16(to, mask, reinterpret_cast<__m256i>(rounded));
}

// 16 floats rounded to bfloat16 as c10::BFloat16 rounds them (to nearest even; a NaN becomes
// the quiet NaN 0x7FC0; subnormals kept, which vcvtneps2bf16 would flush), n ≤ 16 of them: the
// rounding of a result, bitwise what narrowing a float tensor gives.
TORCH_EXT_BF16_TARGET inline void round16_result(const float* from, c10::BFloat16* to, int64_t n) {
  const __mmask16 mask = n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1);
  const __m512 values = _mm512_maskz_loadu_ps(mask, from);
  const __m512i bits = _mm512_castps_si512(values);
  const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
  __m512i rounded = _mm512_srli_epi32(
      _mm512_add_epi32(bits, _mm512_add_epi32(odd, _mm512_set1_epi32(0x7FFF))), 16);
  const __mmask16 nan = _mm512_cmp_ps_mask(values, values, _CMP_UNORD_Q);
  rounded = _mm512_mask_mov_epi32(rounded, nan, _mm512_set1_epi32(0x7FC0));
  _mm256_mask_storeu_epi16(to, mask, _mm512_cvtepi32_epi16(rounded));
}

// C[MR rows × width ≤ 32] (+)= A · panel, `pairs` pairs of depth. A and the panel as 32-bit
// words: a word of A holds a row's two consecutive elements, a word of the panel one column's.
// The 2·MR accumulators stay in registers (MR ≤ 8: 16 of the 32 zmm registers).
template <int MR>
TORCH_EXT_BF16_TARGET void tile(int64_t pairs, const uint32_t* a, int64_t lda_words,
                                const uint32_t* panel, int64_t width, float* c, int64_t ldc,
                                bool accumulate) {
  const __mmask16 low = width >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << width) - 1);
  const __mmask16 high =
      width >= 32 ? __mmask16(0xFFFF) : width > 16 ? __mmask16((1u << (width - 16)) - 1) : 0;
  __m512 sum[2 * MR];
#pragma GCC unroll 16
  for (int i = 0; i < 2 * MR; ++i) {
    sum[i] = _mm512_setzero_ps();
  }
  for (int64_t p = 0; p < pairs; ++p) {
    const uint32_t* row = panel + p * width;
    const __m512bh b_low = reinterpret_cast<__m512bh>(_mm512_maskz_loadu_epi32(low, row));
    const __m512bh b_high = reinterpret_cast<__m512bh>(_mm512_maskz_loadu_epi32(high, row + 16));
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const __m512bh x =
          reinterpret_cast<__m512bh>(_mm512_set1_epi32(static_cast<int>(a[r * lda_words + p])));
      sum[2 * r] = _mm512_dpbf16_ps(sum[2 * r], x, b_low);
      sum[2 * r + 1] = _mm512_dpbf16_ps(sum[2 * r + 1], x, b_high);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    __m512 first = sum[2 * r];
    __m512 second = sum[2 * r + 1];
    if (accumulate) {
      first = _mm512_add_ps(first, _mm512_maskz_loadu_ps(low, c + r * ldc));
      second = _mm512_add_ps(second, _mm512_maskz_loadu_ps(high, c + r * ldc + 16));
    }
    _mm512_mask_storeu_ps(c + r * ldc, low, first);
    _mm512_mask_storeu_ps(c + r * ldc + 16, high, second);
  }
}

// 16 bfloat16 values copied, n ≤ 16 of them (the overload for operands in bfloat16 storage).
TORCH_EXT_BF16_TARGET inline void round16(const c10::BFloat16* from, c10::BFloat16* to, int64_t n) {
  const __mmask16 mask = n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1);
  _mm256_mask_storeu_epi16(to, mask, _mm256_maskz_loadu_epi16(mask, from));
}

// 16 values as bfloat16 bits: floats rounded (as round16), bfloat16 values as they are.
TORCH_EXT_BF16_TARGET inline __m256i load16_bf16(const float* from) {
  return reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(_mm512_loadu_ps(from)));
}

TORCH_EXT_BF16_TARGET inline __m256i load16_bf16(const c10::BFloat16* from) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(from));
}

// A 16 × 16 matrix of 32-bit words transposed in registers: word j of rows[i] ↔ word i of
// rows[j] (32-bit, then 64-bit interleaves within 128-bit lanes, then two lane shuffles).
TORCH_EXT_BF16_TARGET inline void transpose16x16(__m512i rows[16]) {
  __m512i t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_epi32(rows[i], rows[i + 1]);
    t[i + 1] = _mm512_unpackhi_epi32(rows[i], rows[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    rows[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
    rows[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
    rows[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
    rows[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
  }
  for (int half = 0; half < 16; half += 8) {
    for (int i = 0; i < 4; ++i) {
      t[half + i] = _mm512_shuffle_i32x4(rows[half + i], rows[half + i + 4], 0x88);
      t[half + i + 4] = _mm512_shuffle_i32x4(rows[half + i], rows[half + i + 4], 0xdd);
    }
  }
  for (int i = 0; i < 8; ++i) {
    rows[i] = _mm512_shuffle_i32x4(t[i], t[i + 8], 0x88);
    rows[i + 8] = _mm512_shuffle_i32x4(t[i], t[i + 8], 0xdd);
  }
}

// out[m·ld_out + k] = bfloat16(a[k·lda + m]) for m in [m_begin, m_end), k in [k_begin, k_end),
// m_end − m_begin ≤ 64: a row (k) of the block rounded at a time, then spread.
template <typename T>
TORCH_EXT_BF16_TARGET void round_columns_by_row(int64_t m_begin, int64_t m_end, int64_t k_begin,
                                                int64_t k_end, const T* a, int64_t lda,
                                                c10::BFloat16* out, int64_t ld_out) {
  constexpr int64_t kMaxRows = 64;
  TORCH_CHECK(m_end - m_begin <= kMaxRows, "torch_ext: round_columns_bf16 takes at most 64 rows");
  c10::BFloat16 rounded[kMaxRows];
  for (int64_t k = k_begin; k < k_end; ++k) {
    for (int64_t m = m_begin; m < m_end; m += 16) {
      round16(a + k * lda + m, rounded + (m - m_begin), std::min<int64_t>(16, m_end - m));
    }
    for (int64_t m = m_begin; m < m_end; ++m) {
      out[m * ld_out + k] = rounded[m - m_begin];
    }
  }
}

// out[m·ld_out + k] = bfloat16(a[k·lda + m]) for m < rows ≤ 64, k < depth (a zero at k = depth
// when depth is odd): the transpose of a row-major block. Blocks of 16 rows × 32 depths go through
// registers: two rows of a (k, k + 1) make 16 words (the pairs of depth the micro-kernel reads),
// sixteen such words transposed and stored as 16 contiguous words of each of 16 output rows;
// the rest a row of a at a time.
template <typename T>
TORCH_EXT_BF16_TARGET void round_columns_bf16(int64_t rows, int64_t depth, const T* a,
                                              int64_t lda, c10::BFloat16* out, int64_t ld_out) {
  constexpr int64_t kBlock = 16;
  const int64_t block_rows = rows / kBlock * kBlock;
  const int64_t block_depth = depth / (2 * kBlock) * (2 * kBlock);
  for (int64_t m0 = 0; m0 < block_rows; m0 += kBlock) {
    for (int64_t k0 = 0; k0 < block_depth; k0 += 2 * kBlock) {
      __m512i words[kBlock];
      for (int64_t i = 0; i < kBlock; ++i) {
        const T* even = a + (k0 + 2 * i) * lda + m0;
        const __m512i low = _mm512_cvtepu16_epi32(load16_bf16(even));
        const __m512i high = _mm512_slli_epi32(_mm512_cvtepu16_epi32(load16_bf16(even + lda)), 16);
        words[i] = _mm512_or_si512(low, high);
      }
      transpose16x16(words);
      for (int64_t j = 0; j < kBlock; ++j) {
        _mm512_storeu_si512(out + (m0 + j) * ld_out + k0, words[j]);
      }
    }
  }
  if (block_depth < depth) {
    round_columns_by_row(0, block_rows, block_depth, depth, a, lda, out, ld_out);
  }
  if (block_rows < rows) {
    round_columns_by_row(block_rows, rows, 0, depth, a, lda, out, ld_out);
  }
  if (depth % 2 != 0) {
    for (int64_t m = 0; m < rows; ++m) {
      out[m * ld_out + depth] = c10::BFloat16(0.f);
    }
  }
}

template <typename T>
TORCH_EXT_BF16_TARGET void pack_panel(int64_t depth, int64_t width, const T* source,
                                      int64_t stride_k, int64_t stride_n, c10::BFloat16* panel) {
  TORCH_CHECK(width >= 0 && width <= kBf16PanelWidth, "torch_ext: bfloat16 panel width ", width);
  const int64_t pairs = bf16_padded_depth(depth) / 2;
  for (int64_t p = 0; p < pairs; ++p) {
    c10::BFloat16* out = panel + 2 * p * width;
    const T* even = source + 2 * p * stride_k;
    const bool has_odd = 2 * p + 1 < depth;
    int64_t n = 0;
    if (stride_n == 1 && has_odd) {
      // Contiguous columns: 16 of each row of the pair interleaved into 16 words at a time.
      for (; n + 16 <= width; n += 16) {
        const __m512i low = _mm512_cvtepu16_epi32(load16_bf16(even + n));
        const __m512i high =
            _mm512_slli_epi32(_mm512_cvtepu16_epi32(load16_bf16(even + stride_k + n)), 16);
        _mm512_storeu_si512(out + 2 * n, _mm512_or_si512(low, high));
      }
    }
    for (; n < width; ++n) {
      out[2 * n] = c10::BFloat16(even[n * stride_n]);
      out[2 * n + 1] = has_odd ? c10::BFloat16(even[stride_k + n * stride_n]) : c10::BFloat16(0.f);
    }
  }
}

template <typename T>
TORCH_EXT_BF16_TARGET void round_rows(int64_t rows, int64_t depth, const T* a, int64_t lda,
                                      c10::BFloat16* out, int64_t ld_out) {
  for (int64_t m = 0; m < rows; ++m) {
    const T* from = a + m * lda;
    c10::BFloat16* to = out + m * ld_out;
    for (int64_t k = 0; k < depth; k += 16) {
      round16(from + k, to + k, std::min<int64_t>(16, depth - k));
    }
    if (depth % 2 != 0) {
      to[depth] = c10::BFloat16(0.f);
    }
  }
}

}  // namespace

void pack_bf16_panel(int64_t depth, int64_t width, const float* source, int64_t stride_k,
                     int64_t stride_n, c10::BFloat16* panel) {
  pack_panel(depth, width, source, stride_k, stride_n, panel);
}

void pack_bf16_panel(int64_t depth, int64_t width, const c10::BFloat16* source, int64_t stride_k,
                     int64_t stride_n, c10::BFloat16* panel) {
  pack_panel(depth, width, source, stride_k, stride_n, panel);
}

void round_rows_bf16(int64_t rows, int64_t depth, Operand<float> a, int64_t lda,
                     c10::BFloat16* out, int64_t ld_out) {
  with_storage(a, [&](const auto* values) { round_rows(rows, depth, values, lda, out, ld_out); });
}

void bf16_panel_multiply(int64_t rows, int64_t width, int64_t depth, const c10::BFloat16* a,
                         int64_t lda, const c10::BFloat16* panel, float* c, int64_t ldc,
                         bool accumulate) {
  if (rows <= 0 || width <= 0) {
    return;
  }
  const int64_t pairs = bf16_padded_depth(depth) / 2;
  const auto* a_words = reinterpret_cast<const uint32_t*>(a);
  const auto* panel_words = reinterpret_cast<const uint32_t*>(panel);
  const int64_t lda_words = lda / 2;
  constexpr int64_t kRows = 8;
  int64_t m = 0;
  for (; m + kRows <= rows; m += kRows) {
    tile<kRows>(pairs, a_words + m * lda_words, lda_words, panel_words, width, c + m * ldc, ldc,
                accumulate);
  }
  const auto* rest_a = a_words + m * lda_words;
  float* rest_c = c + m * ldc;
  switch (rows - m) {
    case 7: tile<7>(pairs, rest_a, lda_words, panel_words, width, rest_c, ldc, accumulate); break;
    case 6: tile<6>(pairs, rest_a, lda_words, panel_words, width, rest_c, ldc, accumulate); break;
    case 5: tile<5>(pairs, rest_a, lda_words, panel_words, width, rest_c, ldc, accumulate); break;
    case 4: tile<4>(pairs, rest_a, lda_words, panel_words, width, rest_c, ldc, accumulate); break;
    case 3: tile<3>(pairs, rest_a, lda_words, panel_words, width, rest_c, ldc, accumulate); break;
    case 2: tile<2>(pairs, rest_a, lda_words, panel_words, width, rest_c, ldc, accumulate); break;
    case 1: tile<1>(pairs, rest_a, lda_words, panel_words, width, rest_c, ldc, accumulate); break;
    default: break;
  }
}

namespace {

// Blocking of gemm_bf16 and gemm_bf16_rounded: B is packed once, in blocks of kDepthBlock rows
// cut into panels. Threads take blocks of kRowBlock rows of C; for each depth block a thread
// rounds its rows of A (they stay in cache) and multiplies them by every panel of that block,
// adding into its rows of C.
constexpr int64_t kDepthBlock = 512;
constexpr int64_t kRowBlock = 64;
// Where C has no more rows than columns, gemm_bf16_rounded packs B a group of C's columns at a
// time: groups of at most kPackedGroupBytes of packed B, at most kMaxColumnGroups of them.
constexpr int64_t kPackedGroupBytes = int64_t(64) << 10;
constexpr int64_t kMaxColumnGroups = 4;

// op(B) of one term, packed (in parallel) into depth blocks of panels.
class PackedB {
 public:
  // Columns [column_begin, column_begin + n) of op(B). The last depth block holds its own depth
  // only (a 1600-row B took 4 MiB for 3.1).
  PackedB(const Bf16Term& term, int64_t column_begin, int64_t n)
      : panels_((n + kBf16PanelWidth - 1) / kBf16PanelWidth),
        depth_blocks_((term.k + kDepthBlock - 1) / kDepthBlock),
        panel_size_(bf16_panel_elements(kDepthBlock, kBf16PanelWidth)),
        last_panel_size_(
            bf16_panel_elements(term.k - (depth_blocks_ - 1) * kDepthBlock, kBf16PanelWidth)),
        storage_(static_cast<size_t>(((depth_blocks_ - 1) * panel_size_ + last_panel_size_) *
                                     panels_)) {
    const int64_t k = term.k;
    const int64_t stride_k = term.transpose_b == Transpose::Yes ? 1 : term.ldb;
    const int64_t stride_n = term.transpose_b == Transpose::Yes ? term.ldb : 1;
    with_storage(term.b, [&](const auto* b) {
      at::parallel_for(0, depth_blocks_ * panels_, 1, [&](int64_t first, int64_t last) {
        for (int64_t index = first; index < last; ++index) {
          const int64_t k0 = (index / panels_) * kDepthBlock;
          const int64_t column = (index % panels_) * kBf16PanelWidth;
          pack_panel(std::min(kDepthBlock, k - k0), std::min(kBf16PanelWidth, n - column),
                     b + k0 * stride_k + (column_begin + column) * stride_n, stride_k, stride_n,
                     storage_.data() + offset(index / panels_, index % panels_));
        }
      });
    });
  }

  int64_t depth_blocks() const { return depth_blocks_; }
  const c10::BFloat16* panel(int64_t depth_block, int64_t panel) const {
    return storage_.data() + offset(depth_block, panel);
  }

 private:
  int64_t offset(int64_t depth_block, int64_t panel) const {
    return depth_block * panels_ * panel_size_ +
           panel * (depth_block + 1 < depth_blocks_ ? panel_size_ : last_panel_size_);
  }

  int64_t panels_;
  int64_t depth_blocks_;
  int64_t panel_size_;
  int64_t last_panel_size_;
  AlignedBuffer<c10::BFloat16> storage_;
};

// Elements of the scratch a thread rounds kRowBlock rows of A into, for depths up to `k`.
int64_t rows_a_elements(int64_t k) {
  return kRowBlock * bf16_padded_depth(std::min(k, kDepthBlock));
}

// C[rows × n] (+)= op(A)[row_begin …, :] · op(B) for one term: `rows_a` holds
// rows_a_elements(term.k) bfloat16 scratch; the first depth block adds to C only if `accumulate`.
void multiply_row_block(const Bf16Term& term, const PackedB& packed_b, int64_t row_begin,
                        int64_t rows, int64_t n, c10::BFloat16* rows_a, float* c, int64_t ldc,
                        bool accumulate) {
  const int64_t a_stride_m = term.transpose_a == Transpose::Yes ? 1 : term.lda;
  const int64_t a_stride_k = term.transpose_a == Transpose::Yes ? term.lda : 1;
  for (int64_t depth_block = 0; depth_block < packed_b.depth_blocks(); ++depth_block) {
    const int64_t k0 = depth_block * kDepthBlock;
    const int64_t depth = std::min(kDepthBlock, term.k - k0);
    const int64_t ld_a = bf16_padded_depth(depth);
    with_storage(term.a, [&](const auto* a) {
      if (a_stride_k == 1) {
        round_rows(rows, depth, a + row_begin * a_stride_m + k0, a_stride_m, rows_a, ld_a);
      } else {
        // op(A) = Aᵀ: a depth index reads the block's rows contiguously.
        round_columns_bf16(rows, depth, a + k0 * a_stride_k + row_begin, a_stride_k, rows_a,
                           ld_a);
      }
    });
    for (int64_t column = 0, panel = 0; column < n; column += kBf16PanelWidth, ++panel) {
      bf16_panel_multiply(rows, std::min(kBf16PanelWidth, n - column), depth, rows_a, ld_a,
                          packed_b.panel(depth_block, panel), c + column, ldc,
                          accumulate || depth_block > 0);
    }
  }
}

}  // namespace

void gemm_bf16(Transpose transpose_a, Transpose transpose_b, int64_t m, int64_t n, int64_t k,
               float alpha, Operand<float> a, int64_t lda, Operand<float> b, int64_t ldb,
               float beta, float* c, int64_t ldc) {
  TORCH_CHECK(alpha == 1.f, "torch_ext: gemm_bf16 supports alpha = 1 only, got ", alpha);
  if (m <= 0 || n <= 0) {
    return;
  }
  if (beta != 0.f && beta != 1.f) {
    for (int64_t row = 0; row < m; ++row) {
      std::transform(c + row * ldc, c + row * ldc + n, c + row * ldc,
                     [beta](float value) { return beta * value; });
    }
  }
  if (k <= 0) {
    if (beta == 0.f) {
      for (int64_t row = 0; row < m; ++row) {
        std::fill(c + row * ldc, c + row * ldc + n, 0.f);
      }
    }
    return;
  }
  const Bf16Term term{transpose_a, transpose_b, k, a, lda, b, ldb};
  const PackedB packed_b(term, 0, n);
  const int64_t row_blocks = (m + kRowBlock - 1) / kRowBlock;
  at::parallel_for(0, row_blocks, 1, [&](int64_t first, int64_t last) {
    AlignedBuffer<c10::BFloat16> rows_a(static_cast<size_t>(rows_a_elements(k)));
    for (int64_t block = first; block < last; ++block) {
      const int64_t row_begin = block * kRowBlock;
      multiply_row_block(term, packed_b, row_begin, std::min(kRowBlock, m - row_begin), n,
                         rows_a.data(), c + row_begin * ldc, ldc, beta != 0.f);
    }
  });
}

void gemm_bf16_rounded(int64_t m, int64_t n, c10::ArrayRef<Bf16Term> terms, c10::BFloat16* c,
                       int64_t ldc) {
  if (m <= 0 || n <= 0) {
    return;
  }
  std::vector<Bf16Term> nonempty;
  int64_t depth = 0;
  int64_t total_depth = 0;
  for (const Bf16Term& term : terms) {
    if (term.k > 0) {
      nonempty.push_back(term);
      depth = std::max(depth, term.k);
      total_depth += bf16_padded_depth(term.k);
    }
  }
  // C's columns in groups whose packed B (every term's) stays within kPackedGroupBytes, where
  // A is no larger than B (m ≤ n: each further group rounds the rows of A again, at most
  // kMaxColumnGroups times). The RNN's ∂W_hh (H × H) is one: its B, the previous states, is a
  // whole-sequence operand, and packing it whole beside the backward's workspaces set a bfloat16
  // step's peak (3 MiB for 1600 rows of 1024 states).
  const int64_t panels = (n + kBf16PanelWidth - 1) / kBf16PanelWidth;
  const int64_t packed_bytes = total_depth * panels * kBf16PanelWidth * 2;
  const int64_t wanted_groups =
      m > n ? 1 : (packed_bytes + kPackedGroupBytes - 1) / kPackedGroupBytes;
  const int64_t groups =
      std::max<int64_t>(1, std::min({wanted_groups, kMaxColumnGroups, panels}));
  const int64_t width = (panels + groups - 1) / groups * kBf16PanelWidth;  // equal groups
  const int64_t row_blocks = (m + kRowBlock - 1) / kRowBlock;
  for (int64_t column = 0; column < n; column += width) {
    const int64_t columns = std::min(width, n - column);
    std::vector<PackedB> packed;
    packed.reserve(nonempty.size());
    for (const Bf16Term& term : nonempty) {
      packed.emplace_back(term, column, columns);
    }
    at::parallel_for(0, row_blocks, 1, [&](int64_t first, int64_t last) {
      AlignedBuffer<c10::BFloat16> rows_a(static_cast<size_t>(rows_a_elements(depth)));
      AlignedBuffer<float> sums(static_cast<size_t>(kRowBlock * columns));
      for (int64_t block = first; block < last; ++block) {
        const int64_t row_begin = block * kRowBlock;
        const int64_t rows = std::min(kRowBlock, m - row_begin);
        if (nonempty.empty()) {
          std::fill(sums.data(), sums.data() + rows * columns, 0.f);
        }
        for (size_t i = 0; i < nonempty.size(); ++i) {
          multiply_row_block(nonempty[i], packed[i], row_begin, rows, columns, rows_a.data(),
                             sums.data(), columns, /*accumulate=*/i > 0);
        }
        for (int64_t row = 0; row < rows; ++row) {
          c10::BFloat16* to = c + (row_begin + row) * ldc + column;
          for (int64_t j = 0; j < columns; j += 16) {
            round16_result(sums.data() + row * columns + j, to + j,
                           std::min<int64_t>(16, columns - j));
          }
        }
      }
    });
  }
}

#else  // no bfloat16 dot product on this platform: bf16_products_supported() is false

void pack_bf16_panel(int64_t, int64_t, const float*, int64_t, int64_t, c10::BFloat16*) {
  TORCH_CHECK(false, "torch_ext: bfloat16 products are not available on this CPU");
}
void pack_bf16_panel(int64_t, int64_t, const c10::BFloat16*, int64_t, int64_t, c10::BFloat16*) {
  TORCH_CHECK(false, "torch_ext: bfloat16 products are not available on this CPU");
}
void round_rows_bf16(int64_t, int64_t, Operand<float>, int64_t, c10::BFloat16*, int64_t) {
  TORCH_CHECK(false, "torch_ext: bfloat16 products are not available on this CPU");
}
void bf16_panel_multiply(int64_t, int64_t, int64_t, const c10::BFloat16*, int64_t,
                         const c10::BFloat16*, float*, int64_t, bool) {
  TORCH_CHECK(false, "torch_ext: bfloat16 products are not available on this CPU");
}
void gemm_bf16(Transpose, Transpose, int64_t, int64_t, int64_t, float, Operand<float>, int64_t,
               Operand<float>, int64_t, float, float*, int64_t) {
  TORCH_CHECK(false, "torch_ext: bfloat16 products are not available on this CPU");
}
void gemm_bf16_rounded(int64_t, int64_t, c10::ArrayRef<Bf16Term>, c10::BFloat16*, int64_t) {
  TORCH_CHECK(false, "torch_ext: bfloat16 products are not available on this CPU");
}

#endif

}  // namespace torch_ext::kernels
