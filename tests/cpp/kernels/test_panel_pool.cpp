// Where a layer call's threads keep their packed panels (csrc/kernels/panel_pool.h): ranges of one
// block, each on a cache line, never overlapping, from any number of threads at once; a request
// the block cannot meet is refused (the matrix then allocates its own) without using any of it.
#include <kernels/panel_pool.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <thread>
#include <utility>
#include <vector>

namespace torch_ext::testing {
namespace {

using kernels::forward_pool_bytes;
using kernels::kMaxForwardPoolBytes;
using kernels::PanelPool;

constexpr size_t kAlign = PanelPool::kAlignment;

uintptr_t address(const void* pointer) { return reinterpret_cast<uintptr_t>(pointer); }

TEST(PanelPoolTest, TakesAlignedRangesInOrderUntilTheBlockIsUsedUp) {
  PanelPool pool(10 * kAlign);
  ASSERT_EQ(pool.capacity(), 10 * kAlign);
  auto* first = static_cast<unsigned char*>(pool.take(100));  // rounded up to 2 lines
  auto* second = static_cast<unsigned char*>(pool.take(kAlign));
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(address(first) % kAlign, 0u);
  EXPECT_EQ(second, first + 2 * kAlign);
  // 7 lines left: 8 are refused, and the refusal uses none of them.
  EXPECT_EQ(pool.take(8 * kAlign), nullptr);
  auto* third = static_cast<unsigned char*>(pool.take(7 * kAlign));
  EXPECT_EQ(third, second + kAlign);
  EXPECT_EQ(pool.take(1), nullptr);
}

TEST(PanelPoolTest, LendsNothingWithoutABlock) {
  PanelPool none;
  EXPECT_EQ(none.take(1), nullptr);
  PanelPool empty(size_t{0});
  EXPECT_EQ(empty.capacity(), 0u);
  EXPECT_EQ(empty.take(1), nullptr);
  PanelPool null_block(nullptr, 1 << 20);
  EXPECT_EQ(null_block.capacity(), 0u);
  EXPECT_EQ(null_block.take(1), nullptr);
  PanelPool some(4 * kAlign);
  EXPECT_EQ(some.take(0), nullptr);  // nothing to hold
  EXPECT_NE(some.take(4 * kAlign), nullptr);
}

TEST(PanelPoolTest, LendsABorrowedBlockFromItsFirstCacheLine) {
  std::vector<unsigned char> memory(16 * kAlign);
  const uintptr_t start = address(memory.data());
  const size_t skip = (kAlign - (start + 8) % kAlign) % kAlign;  // from an unaligned start
  PanelPool pool(memory.data() + 8, memory.size() - 8);
  EXPECT_EQ(pool.capacity(), memory.size() - 8 - skip);
  auto* range = static_cast<unsigned char*>(pool.take(kAlign));
  ASSERT_NE(range, nullptr);
  EXPECT_EQ(address(range) % kAlign, 0u);
  EXPECT_EQ(range, memory.data() + 8 + skip);
  // A borrowed block smaller than the way to its first line lends nothing.
  PanelPool tiny(memory.data() + 1, 2);
  EXPECT_EQ(tiny.capacity(), 0u);
  EXPECT_EQ(tiny.take(1), nullptr);
}

TEST(PanelPoolTest, ThreadsTakingAtOnceGetDisjointRanges) {
  constexpr int kThreads = 8;
  constexpr int kTakesPerThread = 200;
  constexpr size_t kBytes = 100;  // two lines each
  // Room for all but 100 of the takes: those are refused, none overlaps another.
  PanelPool pool((kThreads * kTakesPerThread - 100) * 2 * kAlign);
  std::vector<std::vector<uintptr_t>> taken(kThreads);
  std::vector<int> refused(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kTakesPerThread; ++i) {
        void* range = pool.take(kBytes);
        if (range == nullptr) {
          ++refused[t];
        } else {
          taken[t].push_back(address(range));
        }
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  std::vector<uintptr_t> all;
  int refusals = 0;
  for (int t = 0; t < kThreads; ++t) {
    all.insert(all.end(), taken[t].begin(), taken[t].end());
    refusals += refused[t];
  }
  EXPECT_EQ(refusals, 100);
  std::sort(all.begin(), all.end());
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i] % kAlign, 0u);
    if (i > 0) {
      EXPECT_GE(all[i] - all[i - 1], 2 * kAlign) << "ranges " << i - 1 << " and " << i;
    }
  }
}

TEST(PanelPoolTest, ForwardPoolHoldsEveryTeamOrSliceWithItsMargins) {
  const size_t copy = 3 << 20;
  // Two directions, teams of 2 threads: one copy a direction, a take per thread and matrix.
  const size_t w_hh = copy / 3;
  const size_t w_ih = copy - w_hh;
  EXPECT_EQ(forward_pool_bytes({w_hh, w_ih}, /*directions=*/2, /*slices=*/1, /*team_size=*/2),
            2 * copy + 2 * 2 * 2 * kAlign);
  // One direction in 3 batch slices: a whole copy a slice.
  EXPECT_EQ(forward_pool_bytes({w_hh, w_ih}, 1, 3, 1), 3 * copy + 3 * 2 * kAlign);
  // A matrix of no bytes (an LSTM without projection's W_hr) takes nothing: no margin for it.
  EXPECT_EQ(forward_pool_bytes({w_hh, w_ih, 0}, 1, 3, 1), 3 * copy + 3 * 2 * kAlign);
  // Nothing to pack (double), or more than kMaxForwardPoolBytes: no pool.
  EXPECT_EQ(forward_pool_bytes({0, 0}, 1, 1, 2), 0u);
  EXPECT_EQ(forward_pool_bytes({kMaxForwardPoolBytes}, 1, 1, 1), 0u);
  EXPECT_EQ(forward_pool_bytes({kMaxForwardPoolBytes / 2}, 1, 2, 1), 0u);
  EXPECT_GT(forward_pool_bytes({kMaxForwardPoolBytes / 2 - kAlign}, 1, 2, 1), 0u);
}

}  // namespace
}  // namespace torch_ext::testing
