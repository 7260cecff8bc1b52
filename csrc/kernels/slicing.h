// How a recurrent layer call shares its threads: a team per direction that splits the hidden
// units (meeting at barriers every step), or independent slices of the batch, one thread each.
// The choice depends only on sizes and the thread count, not on the CPU capability: kernel files
// and tests include it alike.
#pragma once

#include "kernels/sequence.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace torch_ext::kernels {

// Below this much work (FLOPs) per team a call stays on the calling thread: waking another thread
// costs more than it would take over.
constexpr int64_t kMinWorkPerTeamForThreads = int64_t(1) << 21;

// The rows of a batch never meet in a recurrence: a direction can also be run as independent
// slices of its batch, one thread each, with no barrier per step (the team splits the hidden
// units instead, and meets once or more per step). Slicing wins while each thread's whole copy of
// the packed W_hh stays in cache (its own L2, or the shared L3 for slices of many rows) and each
// slice keeps enough rows for an efficient product:
// at T=50,B=16,I=64,H=128 on 2 threads a layer-norm LSTM's training step took 5.0–9.4 ms with
// the units split (three barriers a step) against 4.2 ms for 8 rows on one thread.
enum class RecurrenceSplit { Auto, Units, Batch };

// TORCH_EXT_RECURRENCE_SPLIT=units|batch forces one way (tests cover both); unset or anything
// else: chosen by batch_slice_count. Read at each layer call.
inline RecurrenceSplit requested_split() {
  const char* value = std::getenv("TORCH_EXT_RECURRENCE_SPLIT");
  if (value == nullptr) {
    return RecurrenceSplit::Auto;
  }
  const std::string text(value);
  return text == "units" ? RecurrenceSplit::Units
                         : (text == "batch" ? RecurrenceSplit::Batch : RecurrenceSplit::Auto);
}

// Fewer rows than this per slice and the per-step product loses more than the barriers cost.
constexpr int64_t kMinRowsPerSlice = 4;
// A slice's thread packs all of W_hh (forward: W_hhᵀ, backward: W_hh): at most about a core's
// L2 (1 MiB on the machines measured)...
constexpr int64_t kMaxSlicedWeightBytes = int64_t(1) << 20;
// ...or, where each slice keeps this many rows of a padded batch, a weight each thread streams
// from the shared L3 once a step: every slice's copy together at most half the L3 (16 MiB of the
// 32 MiB measured: two copies of up to 8 MiB on its 2 cores).
// Timed in one process, interleaved (2 threads, T=100,B=64,I=H=512: slices of 32 rows), the units
// split took this many times the sliced step: training 1.04 (LSTM, 8 MiB a copy), 1.04 (GRU),
// 1.02 (RNN), 1.13 / 1.04 (layer-norm LSTM / GRU: W_hh only), 1.22 (LSTM, proj_size 128),
// 1.03 (bfloat16 LSTM, GRU); inference 0.99–1.20. The copies cost peak memory (LSTM 161 MiB
// against 137, nn.LSTM 230). Not sliced: copies that outgrow the cache (H=1024, 15–20 MiB a
// copy: the slices took 1.07–1.16× at 32 rows), 16 rows a slice (H=512,B=32: 1.00; H=1024,B=32:
// 1.01–1.15), and packed batches (their last rows end early and leave the second slice's thread
// idle: 1.03 for the packed LSTM at T=100,B=64).
constexpr int64_t kMinRowsPerCachedSlice = 32;
constexpr int64_t kMaxCachedSliceCopiesBytes = int64_t(16) << 20;

// How many batch slices each of `directions` directions runs as (1: not sliced; the hidden units
// are split between a team's threads as before). `weight_bytes` is the size of the per-step
// weight a slice packs, `work` the FLOPs of one direction (run_teams's work_per_team).
inline int64_t batch_slice_count(const SequenceLayout& seq, int64_t directions,
                                 int64_t weight_bytes, int64_t work) {
  const RecurrenceSplit split = requested_split();
  if (split == RecurrenceSplit::Units || at::in_parallel_region() ||
      work < kMinWorkPerTeamForThreads) {
    return 1;
  }
  const int64_t per_direction = at::get_num_threads() / std::max<int64_t>(1, directions);
  if (split == RecurrenceSplit::Batch) {
    return std::max<int64_t>(1, std::min(per_direction, seq.batch));
  }
  const int64_t slices =
      std::max<int64_t>(1, std::min(per_direction, seq.batch / kMinRowsPerSlice));
  if (weight_bytes <= kMaxSlicedWeightBytes) {
    return slices;
  }
  const bool cached = seq.uniform && slices * weight_bytes <= kMaxCachedSliceCopiesBytes &&
                      seq.batch / slices >= kMinRowsPerCachedSlice;
  return cached ? slices : 1;
}

}  // namespace torch_ext::kernels
