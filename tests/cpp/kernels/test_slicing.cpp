// How a layer call shares its threads (csrc/kernels/slicing.h batch_slice_count): slices of the
// batch where each thread's copy of the weights stays in cache and each slice keeps its rows,
// the hidden units split between a team's threads otherwise.
#include <kernels/slicing.h>

#include <ATen/Parallel.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

namespace torch_ext::testing {
namespace {

using kernels::batch_slice_count;
using kernels::SequenceLayout;

constexpr int64_t kMiB = int64_t(1) << 20;
constexpr int64_t kWork = int64_t(1) << 30;  // FLOPs of a direction: well above the threshold

// A padded layout of `steps` steps of `batch` rows, or a packed one where batch_sizes shrink.
struct Layout {
  std::vector<int64_t> batch_sizes;
  std::vector<int64_t> offsets;
  SequenceLayout layout;

  explicit Layout(std::vector<int64_t> sizes) : batch_sizes(std::move(sizes)) {
    int64_t rows = 0;
    for (const int64_t size : batch_sizes) {
      offsets.push_back(rows);
      rows += size;
    }
    layout.steps = static_cast<int64_t>(batch_sizes.size());
    layout.batch = batch_sizes.front();
    layout.rows = rows;
    layout.batch_sizes = batch_sizes.data();
    layout.offsets = offsets.data();
    for (const int64_t size : batch_sizes) {
      layout.uniform = layout.uniform && size == layout.batch;
    }
  }
};

Layout padded(int64_t steps, int64_t batch) {
  return Layout(std::vector<int64_t>(static_cast<size_t>(steps), batch));
}

// Runs the checks with two threads and no TORCH_EXT_RECURRENCE_SPLIT, restoring both after.
class SlicingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    threads_ = at::get_num_threads();
    at::set_num_threads(2);
    if (const char* value = std::getenv("TORCH_EXT_RECURRENCE_SPLIT")) {
      saved_split_ = value;
      had_split_ = true;
    }
    unsetenv("TORCH_EXT_RECURRENCE_SPLIT");
  }
  void TearDown() override {
    if (had_split_) {
      setenv("TORCH_EXT_RECURRENCE_SPLIT", saved_split_.c_str(), 1);
    }
    at::set_num_threads(threads_);
  }

 private:
  int threads_ = 1;
  bool had_split_ = false;
  std::string saved_split_;
};

TEST_F(SlicingTest, WeightsInL2AreSlicedDownToFourRowsASlice) {
  EXPECT_EQ(batch_slice_count(padded(50, 16).layout, 1, kMiB, kWork), 2);
  EXPECT_EQ(batch_slice_count(padded(50, 8).layout, 1, kMiB / 2, kWork), 2);
  EXPECT_EQ(batch_slice_count(padded(50, 7).layout, 1, kMiB / 2, kWork), 1);  // 3 rows a slice
}

TEST_F(SlicingTest, WeightsInL3AreSlicedWithThirtyTwoRowsASlice) {
  // T=100,B=64,I=H=512: LSTM (8 MiB of W_ih and W_hh), GRU (6 MiB), layer-norm LSTM (4 MiB).
  for (const int64_t bytes : {8 * kMiB, 6 * kMiB, 4 * kMiB}) {
    EXPECT_EQ(batch_slice_count(padded(100, 64).layout, 1, bytes, kWork), 2) << bytes;
  }
  // 16 rows a slice (B=32): the units are split.
  EXPECT_EQ(batch_slice_count(padded(50, 32).layout, 1, 4 * kMiB, kWork), 1);
  // Copies that outgrow the cache (H=1024: 15–20 MiB).
  EXPECT_EQ(batch_slice_count(padded(50, 64).layout, 1, 15 * kMiB, kWork), 1);
  EXPECT_EQ(batch_slice_count(padded(50, 64).layout, 1, 8 * kMiB + 1, kWork), 1);
}

TEST_F(SlicingTest, AllTheCopiesTogetherFitHalfTheL3) {
  at::set_num_threads(4);
  // Four slices of 32 rows: four 4 MiB copies fit 16 MiB, four 8 MiB copies do not.
  EXPECT_EQ(batch_slice_count(padded(100, 128).layout, 1, 4 * kMiB, kWork), 4);
  EXPECT_EQ(batch_slice_count(padded(100, 128).layout, 1, 8 * kMiB, kWork), 1);
  // Eight threads at B=64 would leave 8 rows a slice.
  at::set_num_threads(8);
  EXPECT_EQ(batch_slice_count(padded(100, 64).layout, 1, 2 * kMiB, kWork), 1);
  EXPECT_EQ(batch_slice_count(padded(100, 64).layout, 1, kMiB, kWork), 8);
}

TEST_F(SlicingTest, PackedBatchesAreSlicedOnlyWithWeightsInL2) {
  std::vector<int64_t> sizes;
  for (int64_t t = 0; t < 100; ++t) {
    sizes.push_back(64 - t * 40 / 100);  // 64 rows shrinking to 25
  }
  const Layout packed(sizes);
  ASSERT_FALSE(packed.layout.uniform);
  EXPECT_EQ(batch_slice_count(packed.layout, 1, 8 * kMiB, kWork), 1);
  EXPECT_EQ(batch_slice_count(packed.layout, 1, kMiB, kWork), 2);
}

TEST_F(SlicingTest, OneThreadPerDirectionOrLittleWorkIsNotSliced) {
  EXPECT_EQ(batch_slice_count(padded(100, 64).layout, 2, kMiB, kWork), 1);  // bidirectional
  EXPECT_EQ(batch_slice_count(padded(100, 64).layout, 1, kMiB,
                              kernels::kMinWorkPerTeamForThreads - 1),
            1);
  at::set_num_threads(1);
  EXPECT_EQ(batch_slice_count(padded(100, 64).layout, 1, kMiB, kWork), 1);
}

TEST_F(SlicingTest, TheEnvironmentForcesEitherWay) {
  setenv("TORCH_EXT_RECURRENCE_SPLIT", "units", 1);
  EXPECT_EQ(batch_slice_count(padded(50, 16).layout, 1, kMiB, kWork), 1);
  setenv("TORCH_EXT_RECURRENCE_SPLIT", "batch", 1);
  EXPECT_EQ(batch_slice_count(padded(50, 64).layout, 1, 15 * kMiB, kWork), 2);
  EXPECT_EQ(batch_slice_count(padded(50, 1).layout, 1, kMiB, kWork), 1);
  unsetenv("TORCH_EXT_RECURRENCE_SPLIT");
}

}  // namespace
}  // namespace torch_ext::testing
