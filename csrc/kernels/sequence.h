// How the rows of a (possibly packed) time-major sequence are laid out, shared by every cell.
//
// Step t owns rows [offset(t), offset(t) + batch_size(t)) of the input, output and per-step
// workspaces; batch sizes never grow with t (PackedSequence order), and a padded (T, B, ·) tensor is
// the case where every step holds all B rows. The recurrent state lives in buffers of `batch` rows
// updated in place: a sequence that ends early keeps its last state there, and in the reverse
// direction a sequence that starts late still finds its initial state there.
#pragma once

#include <cstdint>

namespace torch_ext::kernels {

struct SequenceLayout {
  int64_t steps = 0;                       // T
  int64_t batch = 0;                       // rows of the state buffers: batch_sizes[0]
  int64_t rows = 0;                        // total rows N = sum of batch_sizes
  const int64_t* batch_sizes = nullptr;    // [T]
  const int64_t* offsets = nullptr;        // [T], first row of each step
  bool uniform = true;                     // every step holds `batch` rows (no packing)
  bool contiguous = true;                  // step t+1's rows follow step t's (false: a BatchSlice)

  int64_t batch_size(int64_t t) const { return batch_sizes[t]; }
  int64_t offset(int64_t t) const { return offsets[t]; }

  // The step processed at position `position` of a pass over time in one direction.
  int64_t step_at(int64_t position, bool reverse) const {
    return reverse ? steps - 1 - position : position;
  }

  // The step whose state step t reads as "previous" (t-1 forward, t+1 reverse), or -1 if row `row`
  // of step t reads the initial state instead.
  int64_t previous_step(int64_t t, int64_t row, bool reverse) const {
    if (!reverse) {
      return t > 0 ? t - 1 : -1;
    }
    return (t + 1 < steps && row < batch_sizes[t + 1]) ? t + 1 : -1;
  }
};

}  // namespace torch_ext::kernels
