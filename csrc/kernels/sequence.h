// How the rows of a (possibly packed) time-major sequence are laid out, shared by every cell.
//
// Step t owns rows [offset(t), offset(t) + batch_size(t)) of the input, output and per-step
// workspaces; batch sizes never grow with t (PackedSequence order), and a padded (T, B, ·) tensor is
// the case where every step holds all B rows. The recurrent state lives in buffers of `batch` rows
// updated in place: a sequence that ends early keeps its last state there, and in the reverse
// direction a sequence that starts late still finds its initial state there.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>

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

  // The first row of step t, or `rows` for t == steps (one past the last step).
  int64_t row_at(int64_t t) const { return t < steps ? offsets[t] : rows; }
};

// Steps [begin, end) of a sequence. A long sequence's backward runs a window at a time: the
// backward loop over the window's steps, then the whole-window products (dX, dW) from gradient
// workspaces that hold only one window's rows.
struct StepWindow {
  int64_t begin = 0;
  int64_t end = 0;

  int64_t steps() const { return end - begin; }
  // The step at `position` of a pass over the window, from its last step when `backwards`.
  int64_t step_at(int64_t position, bool backwards) const {
    return backwards ? end - 1 - position : begin + position;
  }
  int64_t first_row(const SequenceLayout& seq) const { return seq.row_at(begin); }
  int64_t rows(const SequenceLayout& seq) const { return seq.row_at(end) - seq.row_at(begin); }
};

// A backward's gradient workspaces hold at most this many bytes per row-wide buffer
// ([window rows, row_bytes]) unless the window would then have fewer than kMinWindowRows rows: the
// whole-window products keep enough rows to run near the GEMM peak, and each window's repacking of
// W_hh stays small beside its work (windows of 800 rows made a 1024-unit LSTM's step 2 % slower;
// 1600-row windows made a 512-unit one's 3 % faster, T=100,B=64, 2 threads).
// TORCH_EXT_BACKWARD_WINDOW_BYTES overrides the budget and the minimum (tests use it to cut short
// sequences into windows); read at each call.
constexpr int64_t kBackwardWindowBytes = int64_t(16) << 20;
constexpr int64_t kMinWindowRows = 2048;

// TORCH_EXT_BACKWARD_WINDOW_BYTES as a positive number of bytes, or 0 when unset or not one.
inline int64_t backward_window_override() {
  const char* value = std::getenv("TORCH_EXT_BACKWARD_WINDOW_BYTES");
  if (value == nullptr) {
    return 0;
  }
  char* end = nullptr;
  const long long bytes = std::strtoll(value, &end, 10);
  return end != value && *end == '\0' && bytes > 0 ? static_cast<int64_t>(bytes) : 0;
}

// Steps per backward window for rows of `row_bytes` bytes: the whole sequence when its rows fit
// the budget, else equal windows of at least kMinWindowRows rows (any number with the override).
// Windows are [k·S, min(T, (k+1)·S)); the first holds the most rows (batch sizes never grow).
inline int64_t backward_window_steps(const SequenceLayout& seq, int64_t row_bytes) {
  const int64_t override_bytes = backward_window_override();
  const int64_t budget = override_bytes > 0 ? override_bytes : kBackwardWindowBytes;
  const int64_t min_rows = override_bytes > 0 ? 1 : kMinWindowRows;
  const int64_t rows = std::max(min_rows, budget / std::max<int64_t>(1, row_bytes));
  if (seq.steps <= 1 || seq.rows <= rows) {
    return std::max<int64_t>(1, seq.steps);
  }
  const int64_t windows = (seq.rows + rows - 1) / rows;
  return (seq.steps + windows - 1) / windows;
}

inline int64_t backward_window_count(const SequenceLayout& seq, int64_t window_steps) {
  return std::max<int64_t>(1, (seq.steps + window_steps - 1) / window_steps);
}

// The rows a window workspace needs: those of the first window.
inline int64_t backward_window_rows(const SequenceLayout& seq, int64_t window_steps) {
  return seq.row_at(std::min(seq.steps, window_steps));
}

// What a backward's caller allocates for: steps per window, and the rows a workspace holds.
struct BackwardWindowPlan {
  int64_t steps = 1;
  int64_t rows = 0;
};

inline BackwardWindowPlan backward_window_plan(const SequenceLayout& seq, int64_t row_bytes) {
  const int64_t steps = backward_window_steps(seq, row_bytes);
  return {steps, backward_window_rows(seq, steps)};
}

// Window k of a sequence cut into windows of `window_steps` steps.
inline StepWindow backward_window(const SequenceLayout& seq, int64_t window_steps, int64_t k) {
  return {std::min(seq.steps, k * window_steps), std::min(seq.steps, (k + 1) * window_steps)};
}

}  // namespace torch_ext::kernels
