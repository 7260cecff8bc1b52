// The bfloat16 products of csrc/kernels/bf16_gemm.cpp against float64 products of the same
// bfloat16-rounded operands: every shape tail (rows not a multiple of the 8-row tile, panels
// narrower than 32 and 16 columns, odd depths, depths past one 512 block), both transposes,
// leading dimensions wider than the matrices, and beta 0, 1 and other; and operands in bfloat16
// storage (kernels/operand.h) giving bitwise the products of their float32 copies; and
// gemm_bf16_rounded's bfloat16 C giving bitwise the float C of gemm_bf16 (a term at a time)
// narrowed, over its column groups, several terms, empty terms and special values.
#include <kernels/bf16_gemm.h>

#include <ATen/ATen.h>

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

namespace torch_ext::testing {
namespace {

using kernels::Transpose;

// |C − exact| ≤ 1e-5·(|A|·|B|) + 1e-6: float32 accumulation of bfloat16 products is exact per
// product, so only the sums round.
void expect_product_close(const at::Tensor& actual, const at::Tensor& a_rounded,
                          const at::Tensor& b_rounded, const at::Tensor& c_before, double beta) {
  const at::Tensor a = a_rounded.to(at::kDouble);
  const at::Tensor b = b_rounded.to(at::kDouble);
  const at::Tensor exact = at::mm(a, b) + beta * c_before.to(at::kDouble);
  const at::Tensor scale = at::mm(a.abs(), b.abs()) + std::abs(beta) * c_before.to(at::kDouble).abs();
  const at::Tensor excess = (actual.to(at::kDouble) - exact).abs() - (1e-5 * scale + 1e-6);
  EXPECT_LE(excess.max().item<double>(), 0.0)
      << "largest error " << (actual.to(at::kDouble) - exact).abs().max().item<double>();
}

at::Tensor rounded(const at::Tensor& values) { return values.to(at::kBFloat16).to(at::kFloat); }

class Bf16Gemm : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!kernels::bf16_products_supported()) {
      GTEST_SKIP() << "this CPU (or ATEN_CPU_CAPABILITY) has no AVX512-BF16";
    }
  }
};

struct GemmShape {
  int64_t m, n, k;
};

TEST_F(Bf16Gemm, MatchesFloat64OfRoundedOperands) {
  const std::vector<GemmShape> shapes{{1, 1, 1},   {7, 33, 5},  {8, 16, 2},   {9, 17, 3},
                                      {64, 96, 64}, {65, 31, 513}, {130, 70, 1031}, {3, 200, 40}};
  at::manual_seed(0);
  for (const GemmShape& shape : shapes) {
    for (const bool transpose_a : {false, true}) {
      for (const bool transpose_b : {false, true}) {
        for (const float beta : {0.f, 1.f, 0.5f}) {
          SCOPED_TRACE(::testing::Message() << shape.m << "x" << shape.n << "x" << shape.k << " ta "
                                            << transpose_a << " tb " << transpose_b << " beta " << beta);
          // Stored matrices with 3 spare columns, so the leading dimension is not the width.
          const at::Tensor a_store = at::randn(transpose_a ? std::vector<int64_t>{shape.k, shape.m + 3}
                                                           : std::vector<int64_t>{shape.m, shape.k + 3});
          const at::Tensor b_store = at::randn(transpose_b ? std::vector<int64_t>{shape.n, shape.k + 3}
                                                           : std::vector<int64_t>{shape.k, shape.n + 3});
          const at::Tensor a = transpose_a ? a_store.narrow(1, 0, shape.m).t()
                                           : a_store.narrow(1, 0, shape.k);
          const at::Tensor b = transpose_b ? b_store.narrow(1, 0, shape.k).t()
                                           : b_store.narrow(1, 0, shape.n);
          at::Tensor c_store = at::randn({shape.m, shape.n + 5});
          const at::Tensor c_before = c_store.narrow(1, 0, shape.n).clone();
          const at::Tensor spare_before = c_store.narrow(1, shape.n, 5).clone();
          kernels::gemm_bf16(transpose_a ? Transpose::Yes : Transpose::No,
                             transpose_b ? Transpose::Yes : Transpose::No, shape.m, shape.n,
                             shape.k, 1.f, a_store.data_ptr<float>(), a_store.size(1),
                             b_store.data_ptr<float>(), b_store.size(1), beta,
                             c_store.data_ptr<float>(), c_store.size(1));
          expect_product_close(c_store.narrow(1, 0, shape.n), rounded(a), rounded(b), c_before,
                               beta);
          // The spare columns of C are left alone.
          EXPECT_TRUE(at::equal(c_store.narrow(1, shape.n, 5), spare_before));
        }
      }
    }
  }
}

TEST_F(Bf16Gemm, LeavesColumnsPastTheMatrixUntouched) {
  at::Tensor c = at::full({9, 40}, 7.f);
  const at::Tensor a = at::randn({9, 6});
  const at::Tensor b = at::randn({6, 37});
  kernels::gemm_bf16(Transpose::No, Transpose::No, 9, 37, 6, 1.f, a.data_ptr<float>(), 6,
                     b.data_ptr<float>(), 37, 0.f, c.data_ptr<float>(), 40);
  EXPECT_TRUE(at::equal(c.narrow(1, 37, 3), at::full({9, 3}, 7.f)));
  expect_product_close(c.narrow(1, 0, 37), rounded(a), rounded(b), at::zeros({9, 37}), 0.0);
}

TEST_F(Bf16Gemm, EmptyDepthGivesBetaTimesC) {
  at::Tensor c = at::randn({4, 5});
  const at::Tensor before = c.clone();
  const float unused = 0.f;
  kernels::gemm_bf16(Transpose::No, Transpose::No, 4, 5, 0, 1.f, &unused, 1, &unused, 5, 1.f,
                     c.data_ptr<float>(), 5);
  EXPECT_TRUE(at::equal(c, before));
  kernels::gemm_bf16(Transpose::No, Transpose::No, 4, 5, 0, 1.f, &unused, 1, &unused, 5, 0.f,
                     c.data_ptr<float>(), 5);
  EXPECT_TRUE(at::equal(c, at::zeros({4, 5})));
}

TEST_F(Bf16Gemm, PanelMultiplyEveryWidthAndRowCount) {
  at::manual_seed(1);
  for (const int64_t depth : {1, 2, 7, 64}) {
    for (int64_t width = 1; width <= kernels::kBf16PanelWidth; width += 3) {
      for (int64_t rows = 1; rows <= 17; rows += 4) {
        SCOPED_TRACE(::testing::Message() << "depth " << depth << " width " << width << " rows " << rows);
        const at::Tensor a = at::randn({rows, depth});
        const at::Tensor b = at::randn({depth, width});
        const int64_t ld = kernels::bf16_padded_depth(depth);
        std::vector<c10::BFloat16> a_rows(static_cast<size_t>(rows * ld));
        std::vector<c10::BFloat16> panel(static_cast<size_t>(kernels::bf16_panel_elements(depth, width)));
        kernels::round_rows_bf16(rows, depth, a.data_ptr<float>(), depth, a_rows.data(), ld);
        kernels::pack_bf16_panel(depth, width, b.data_ptr<float>(), width, 1, panel.data());
        at::Tensor c = at::randn({rows, width});
        const at::Tensor before = c.clone();
        kernels::bf16_panel_multiply(rows, width, depth, a_rows.data(), ld, panel.data(),
                                     c.data_ptr<float>(), width, /*accumulate=*/true);
        expect_product_close(c, rounded(a), rounded(b), before, 1.0);
      }
    }
  }
}

TEST_F(Bf16Gemm, RoundsToNearestEvenAsBFloat16) {
  const std::vector<float> values{1.f, 1.00390625f, 1.01171875f, -3.3f, 1e-40f, 3.0e38f, 0.f, -0.f,
                                  65504.f, 1.f / 3.f, -7.77e-5f, 123456.7f, 2.5f, 1e10f, -1e-10f,
                                  0.1f, 9.f};
  const int64_t depth = static_cast<int64_t>(values.size());
  std::vector<c10::BFloat16> out(static_cast<size_t>(kernels::bf16_padded_depth(depth)));
  kernels::round_rows_bf16(1, depth, values.data(), depth, out.data(), kernels::bf16_padded_depth(depth));
  for (int64_t k = 0; k < depth; ++k) {
    const float value = values[static_cast<size_t>(k)];
    // vcvtneps2bf16 reads a float32 denormal as zero (as oneDNN's bfloat16 products do).
    const float expected = std::abs(value) < std::numeric_limits<float>::min() ? 0.f : value;
    EXPECT_EQ(out[static_cast<size_t>(k)].x & 0x7FFF, c10::BFloat16(expected).x & 0x7FFF) << value;
  }
  EXPECT_EQ(out.back().x, c10::BFloat16(0.f).x);  // the odd depth's padding
}

TEST_F(Bf16Gemm, Bfloat16StorageGivesTheProductsOfItsFloatCopy) {
  using kernels::Operand;
  at::manual_seed(2);
  for (const GemmShape& shape : std::vector<GemmShape>{{9, 17, 3}, {65, 31, 513}, {3, 70, 40}}) {
    for (const bool transpose_a : {false, true}) {
      for (const bool transpose_b : {false, true}) {
        SCOPED_TRACE(::testing::Message() << shape.m << "x" << shape.n << "x" << shape.k << " ta "
                                          << transpose_a << " tb " << transpose_b);
        const at::Tensor a_bf16 =
            at::randn(transpose_a ? std::vector<int64_t>{shape.k, shape.m}
                                  : std::vector<int64_t>{shape.m, shape.k})
                .to(at::kBFloat16);
        const at::Tensor b_bf16 =
            at::randn(transpose_b ? std::vector<int64_t>{shape.n, shape.k}
                                  : std::vector<int64_t>{shape.k, shape.n})
                .to(at::kBFloat16);
        const at::Tensor a_float = a_bf16.to(at::kFloat);
        const at::Tensor b_float = b_bf16.to(at::kFloat);
        const int64_t lda = a_bf16.size(1);
        const int64_t ldb = b_bf16.size(1);
        const Operand<float> a_copy = a_float.const_data_ptr<float>();
        const Operand<float> b_copy = b_float.const_data_ptr<float>();
        const auto a_store = Operand<float>::bfloat16(a_bf16.const_data_ptr<c10::BFloat16>());
        const auto b_store = Operand<float>::bfloat16(b_bf16.const_data_ptr<c10::BFloat16>());
        const auto product = [&](Operand<float> a, Operand<float> b) {
          at::Tensor c = at::ones({shape.m, shape.n});
          kernels::gemm(kernels::Products::BFloat16,
                        transpose_a ? Transpose::Yes : Transpose::No,
                        transpose_b ? Transpose::Yes : Transpose::No, shape.m, shape.n, shape.k,
                        1.f, a, lda, b, ldb, 1.f, c.data_ptr<float>(), shape.n);
          return c;
        };
        const at::Tensor expected = product(a_copy, b_copy);
        EXPECT_TRUE(at::equal(product(a_store, b_copy), expected));
        EXPECT_TRUE(at::equal(product(a_copy, b_store), expected));
        EXPECT_TRUE(at::equal(product(a_store, b_store), expected));
      }
    }
  }
}

TEST_F(Bf16Gemm, Bfloat16StorageRowsAndPanelsAreCopied) {
  at::manual_seed(3);
  for (const int64_t depth : {1, 6, 7}) {
    const int64_t width = 5;
    const at::Tensor a = at::randn({3, depth}).to(at::kBFloat16);
    const at::Tensor b = at::randn({depth, width}).to(at::kBFloat16);
    const at::Tensor a_float = a.to(at::kFloat);
    const at::Tensor b_float = b.to(at::kFloat);
    const int64_t ld = kernels::bf16_padded_depth(depth);
    std::vector<c10::BFloat16> from_store(static_cast<size_t>(3 * ld));
    std::vector<c10::BFloat16> from_copy(static_cast<size_t>(3 * ld));
    kernels::round_rows_bf16(3, depth,
                             kernels::Operand<float>::bfloat16(a.const_data_ptr<c10::BFloat16>()),
                             depth, from_store.data(), ld);
    kernels::round_rows_bf16(3, depth, a_float.const_data_ptr<float>(), depth, from_copy.data(),
                             ld);
    const size_t panel_size = static_cast<size_t>(kernels::bf16_panel_elements(depth, width));
    std::vector<c10::BFloat16> panel_store(panel_size);
    std::vector<c10::BFloat16> panel_copy(panel_size);
    kernels::pack_bf16_panel(depth, width, b.const_data_ptr<c10::BFloat16>(), width, 1,
                             panel_store.data());
    kernels::pack_bf16_panel(depth, width, b_float.const_data_ptr<float>(), width, 1,
                             panel_copy.data());
    for (size_t i = 0; i < from_store.size(); ++i) {
      EXPECT_EQ(from_store[i].x, from_copy[i].x) << "depth " << depth << " row element " << i;
    }
    for (size_t i = 0; i < panel_size; ++i) {
      EXPECT_EQ(panel_store[i].x, panel_copy[i].x) << "depth " << depth << " panel element " << i;
    }
  }
}

// gemm_bf16 into a float C, term after term (beta 0, then 1), then narrowed as at::Tensor::to
// narrows: what gemm_bf16_rounded must give bitwise.
at::Tensor float_sum_narrowed(int64_t m, int64_t n, const std::vector<kernels::Bf16Term>& terms) {
  at::Tensor c = at::full({m, n}, 3.f);
  bool written = false;
  for (const kernels::Bf16Term& term : terms) {
    if (term.k <= 0) {
      continue;
    }
    kernels::gemm_bf16(term.transpose_a, term.transpose_b, m, n, term.k, 1.f, term.a, term.lda,
                       term.b, term.ldb, written ? 1.f : 0.f, c.data_ptr<float>(), n);
    written = true;
  }
  return written ? c.to(at::kBFloat16) : at::zeros({m, n}, at::kBFloat16);
}

// C of gemm_bf16_rounded in a [m, n + 3] store, whose spare columns must stay as they were.
at::Tensor rounded_sum(int64_t m, int64_t n, const std::vector<kernels::Bf16Term>& terms) {
  at::Tensor c = at::full({m, n + 3}, 5.f, at::kBFloat16);
  kernels::gemm_bf16_rounded(m, n, terms, c.data_ptr<c10::BFloat16>(), n + 3);
  EXPECT_TRUE(at::equal(c.narrow(1, n, 3), at::full({m, 3}, 5.f, at::kBFloat16)));
  return c.narrow(1, 0, n);
}

void expect_bitwise(const at::Tensor& actual, const at::Tensor& expected) {
  ASSERT_EQ(actual.sizes(), expected.sizes());
  const at::Tensor a = actual.contiguous().view(at::kShort);
  const at::Tensor e = expected.contiguous().view(at::kShort);
  EXPECT_TRUE(at::equal(a, e)) << "differing elements: " << a.ne(e).sum().item<int64_t>();
}

struct RoundedShape {
  int64_t m, n, k;
};

TEST_F(Bf16Gemm, RoundedSumIsTheNarrowedFloatSum) {
  using kernels::Operand;
  at::manual_seed(4);
  // m ≤ n with a B past the 1 MiB group budget (column groups: 1600 × 1024 and 1100 × 600), m > n
  // (one group), odd depths, depths past a 512 block, panels narrower than 32 columns.
  const std::vector<RoundedShape> shapes{{1, 1, 1},    {9, 17, 3},     {65, 70, 513},
                                         {130, 33, 1031}, {96, 1024, 1600}, {600, 600, 1100},
                                         {200, 40, 64}};
  for (const RoundedShape& shape : shapes) {
    for (const bool transpose_a : {false, true}) {
      for (const bool bf16_storage : {false, true}) {
        SCOPED_TRACE(::testing::Message() << shape.m << "x" << shape.n << "x" << shape.k
                                          << " ta " << transpose_a << " bf16 " << bf16_storage);
        // Two terms as a weight gradient's: the later rows, then h0's few.
        const int64_t k2 = std::max<int64_t>(1, shape.k / 7);
        const auto a_sizes = [&](int64_t k) {
          return transpose_a ? std::vector<int64_t>{k, shape.m} : std::vector<int64_t>{shape.m, k};
        };
        at::Tensor a1 = at::randn(a_sizes(shape.k));
        at::Tensor a2 = at::randn(a_sizes(k2));
        at::Tensor b1 = at::randn({shape.k, shape.n});
        at::Tensor b2 = at::randn({k2, shape.n});
        if (bf16_storage) {
          a1 = a1.to(at::kBFloat16);
          b2 = b2.to(at::kBFloat16);
        }
        const auto operand = [](const at::Tensor& t) {
          return t.scalar_type() == at::kBFloat16
                     ? Operand<float>::bfloat16(t.const_data_ptr<c10::BFloat16>())
                     : Operand<float>(t.const_data_ptr<float>());
        };
        const Transpose ta = transpose_a ? Transpose::Yes : Transpose::No;
        const std::vector<kernels::Bf16Term> terms{
            {ta, Transpose::No, shape.k, operand(a1), a1.size(1), operand(b1), shape.n},
            {ta, Transpose::No, k2, operand(a2), a2.size(1), operand(b2), shape.n}};
        expect_bitwise(rounded_sum(shape.m, shape.n, terms),
                       float_sum_narrowed(shape.m, shape.n, terms));
        // One term, B transposed.
        const at::Tensor bt = at::randn({shape.n, shape.k});
        const std::vector<kernels::Bf16Term> one{{ta, Transpose::Yes, shape.k, operand(a1),
                                                  a1.size(1), bt.const_data_ptr<float>(),
                                                  shape.k}};
        expect_bitwise(rounded_sum(shape.m, shape.n, one),
                       float_sum_narrowed(shape.m, shape.n, one));
      }
    }
  }
}

TEST_F(Bf16Gemm, RoundedSumOfNoTermsIsZero) {
  const float unused = 0.f;
  const std::vector<kernels::Bf16Term> empty_terms{
      {Transpose::No, Transpose::No, 0, &unused, 1, &unused, 1}};
  expect_bitwise(rounded_sum(5, 40, empty_terms), at::zeros({5, 40}, at::kBFloat16));
  expect_bitwise(rounded_sum(5, 40, {}), at::zeros({5, 40}, at::kBFloat16));
}

TEST_F(Bf16Gemm, RoundedSumRoundsAsNarrowingDoes) {
  // Row i of A holds two bfloat16 values whose float sum (B is a column of ones) is a tie
  // between two bfloat16 values (to even: down, then up), is not a bfloat16 value, overflows to
  // ±infinity, or is NaN.
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<std::pair<float, float>> pairs{{1.f, 1.f / 256.f},
                                                   {1.f, 3.f / 256.f},
                                                   {-1.f, -3.f / 256.f},
                                                   {1.f, 1.f / 512.f},
                                                   {3.3e38f, 3.3e38f},
                                                   {-3.3e38f, -3.3e38f},
                                                   {inf, -inf},
                                                   {0.f, -0.f}};
  const int64_t m = static_cast<int64_t>(pairs.size());
  std::vector<float> a_values;
  for (const auto& [x, y] : pairs) {
    a_values.push_back(x);
    a_values.push_back(y);
  }
  const at::Tensor a = at::tensor(a_values).view({m, 2});
  const at::Tensor b = at::ones({2, 1});
  const std::vector<kernels::Bf16Term> term{{Transpose::No, Transpose::No, 2,
                                             a.const_data_ptr<float>(), 2,
                                             b.const_data_ptr<float>(), 1}};
  const at::Tensor actual = rounded_sum(m, 1, term);
  const at::Tensor sums = (a.to(at::kDouble).sum(1, /*keepdim=*/true)).to(at::kFloat);
  for (int64_t i = 0; i < m; ++i) {
    const float sum = sums[i][0].item<float>();
    const float got = actual[i][0].item<float>();
    if (std::isnan(sum)) {
      EXPECT_TRUE(std::isnan(got)) << "row " << i;
      continue;
    }
    EXPECT_EQ(actual[i][0].item<c10::BFloat16>().x, c10::BFloat16(sum).x)
        << "row " << i << ": sum " << sum << ", got " << got;
  }
}

}  // namespace
}  // namespace torch_ext::testing
