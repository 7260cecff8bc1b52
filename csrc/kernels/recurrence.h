// What every recurrent cell's kernel shares: which hidden units a thread owns, where a step reads
// its previous state, the per-step product with W_hh, and the weight gradient of W_hh.
//
// Included only by kernel files (compiled once per CPU capability).
#pragma once

#include "kernels/gemm.h"
#include "kernels/packed_matrix.h"
#include "kernels/sequence.h"
#include "kernels/team.h"

#include <c10/util/Exception.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace torch_ext::kernels {
namespace CPU_CAPABILITY {

// The hidden units [begin, end) a thread owns: whole panels of W_hh.
inline Share unit_share(const Team& team, int64_t hidden_size) {
  const Share blocks = team.share(panel_count(hidden_size));
  return {blocks.begin * kPanelWidth, std::min(blocks.end * kPanelWidth, hidden_size)};
}

// How a layer call runs: threads per direction, and the work of one direction (for run_teams).
struct TeamPlan {
  int64_t team_size = 1;
  int64_t work = 0;
};

inline TeamPlan recurrence_plan(const SequenceLayout& seq, int64_t gates, int64_t hidden_size,
                                int64_t state_size);

// Threads worth a recurrence of G gates of H units over a state of R features and `batch` rows.
inline int64_t recurrence_team_size(int64_t batch, int64_t gates, int64_t hidden_size,
                                    int64_t state_size) {
  return useful_team_size(2 * batch * gates * hidden_size * state_size, panel_count(hidden_size));
}

inline TeamPlan recurrence_plan(const SequenceLayout& seq, int64_t gates, int64_t hidden_size,
                                int64_t state_size) {
  return {recurrence_team_size(seq.batch, gates, hidden_size, state_size),
          2 * seq.rows * gates * hidden_size * state_size};
}

// Step t reads its previous state from the output block of step `step` for its first `rows` rows
// (all rows that step also ran); its other rows start from h_0 (step is -1 for the first step).
struct PreviousRows {
  int64_t step = -1;
  int64_t rows = 0;
};

inline PreviousRows previous_rows(const SequenceLayout& seq, int64_t t, bool reverse) {
  const int64_t step = reverse ? t + 1 : t - 1;
  if (step < 0 || step >= seq.steps) {
    return {};
  }
  return {step, std::min(seq.batch_size(t), seq.batch_size(step))};
}

// Where the states a layer's steps read live: its own output rows (h_t of every step, `stride`
// apart) and h_0 ([B, R]).
template <typename scalar_t>
struct StateSource {
  const scalar_t* output = nullptr;
  int64_t stride = 0;
  const scalar_t* h0 = nullptr;
  int64_t state_size = 0;

  // Row b of the state step t reads.
  const scalar_t* previous(const SequenceLayout& seq, int64_t t, int64_t b, bool reverse) const {
    const int64_t step = seq.previous_step(t, b, reverse);
    return step >= 0 ? output + (seq.offset(step) + b) * stride : h0 + b * state_size;
  }
};

// C[b, :] (+)= h_prev(b) · B[:, columns begin..end of `group`] for the rows b of step t, h_prev
// read from the previous step's output rows, or from h_0 for rows that start at t.
template <typename scalar_t>
void multiply_previous_state(const PackedMatrix<scalar_t>& weight, const SequenceLayout& seq,
                             int64_t t, bool reverse, const StateSource<scalar_t>& states,
                             int64_t group, int64_t begin, int64_t end, scalar_t* c, int64_t ldc,
                             bool accumulate) {
  const PreviousRows previous = previous_rows(seq, t, reverse);
  if (previous.rows > 0) {
    weight.multiply(previous.rows, states.output + seq.offset(previous.step) * states.stride,
                    states.stride, group, begin, end, c, ldc, accumulate);
  }
  weight.multiply(seq.batch_size(t) - previous.rows, states.h0 + previous.rows * states.state_size,
                  states.state_size, group, begin, end, c + previous.rows * ldc, ldc, accumulate);
}

// ∂L/∂W_hh[G·H, R] (+)= Σ_rows dG_rowᵀ · h_prev(row), dG with `grad_stride` between rows, over
// `gate_rows` of its columns. Packed sequences gather each row's previous state into
// `gather` ([N, R]) first; unpacked ones read the output rows in place.
template <typename scalar_t>
void grad_weight_hh(const SequenceLayout& seq, bool reverse, const StateSource<scalar_t>& states,
                    const scalar_t* grad_gates, int64_t grad_stride, int64_t gate_rows,
                    scalar_t* gather, scalar_t* grad_w_hh, bool accumulate,
                    Products products = Products::Native) {
  const int64_t R = states.state_size;
  const int64_t B = seq.batch;
  const scalar_t beta = accumulate ? scalar_t(1) : scalar_t(0);
  if (gate_rows == 0 || R == 0) {
    return;  // ∂L/∂W_hh is empty; an empty state's rows have no storage (null) to gather from
  }
  if (seq.uniform) {
    // All steps but the first processed read the outputs of a neighbouring step, one contiguous
    // block of rows; the first processed step read h_0.
    const int64_t later_rows = seq.rows - B;
    const scalar_t* grad_later = grad_gates + (reverse ? 0 : B * grad_stride);
    const scalar_t* previous = states.output + (reverse ? B * states.stride : 0);
    const scalar_t* grad_first = grad_gates + (reverse ? later_rows * grad_stride : 0);
    gemm(products, Transpose::Yes, Transpose::No, gate_rows, R, later_rows, scalar_t(1),
         grad_later, grad_stride, previous, states.stride, beta, grad_w_hh, R);
    gemm(products, Transpose::Yes, Transpose::No, gate_rows, R, B, scalar_t(1), grad_first,
         grad_stride, states.h0, R, scalar_t(1), grad_w_hh, R);
    return;
  }
  for (int64_t t = 0; t < seq.steps; ++t) {
    for (int64_t b = 0; b < seq.batch_size(t); ++b) {
      std::memcpy(gather + (seq.offset(t) + b) * R, states.previous(seq, t, b, reverse),
                  R * sizeof(scalar_t));
    }
  }
  gemm(products, Transpose::Yes, Transpose::No, gate_rows, R, seq.rows, scalar_t(1), grad_gates,
       grad_stride, gather, R, beta, grad_w_hh, R);
}

// The input projection x·W_ihᵀ of a thread's own units, computed by that thread chunk by chunk as
// its time loop reaches the chunk: no other thread reads those columns, so no barrier is needed,
// and the rows are still in cache when the steps read them. The buffer holds `capacity` rows of
// G = gates·H columns; with room for the whole sequence (training, which saves it) one chunk
// covers every step and row r of the sequence is row r of the buffer.
// The gate scratch of a forward call: the rows of at least one step (the widest, the first), and
// every row of the sequence when the call trains (backward reads the gates of every step).
inline void check_gate_rows(int64_t gates_rows, const SequenceLayout& seq, bool training) {
  const int64_t needed = training ? seq.rows : std::min(seq.rows, seq.batch);
  TORCH_CHECK(gates_rows >= needed, "torch_ext: the gate workspace has ", gates_rows,
              " rows; a ", training ? "training" : "inference", " call over ", seq.rows,
              " rows (", seq.batch, " per step at most) needs ", needed);
}

template <typename scalar_t>
class InputProjection {
 public:
  InputProjection(const SequenceLayout& seq, bool reverse, const scalar_t* input,
                  int64_t input_stride, const scalar_t* w_ih, int64_t input_size, int64_t gates,
                  int64_t hidden_size, Share units, scalar_t* buffer, int64_t capacity,
                  Products products = Products::Native)
      : seq_(seq),
        reverse_(reverse),
        input_(input),
        input_stride_(input_stride),
        weight_(w_ih, input_size, gates, hidden_size, /*stride_k=*/1, /*stride_n=*/input_size,
                units.begin, units.end, products),
        gates_(gates),
        hidden_size_(hidden_size),
        units_(units),
        buffer_(buffer),
        steps_per_chunk_(capacity >= seq.rows
                             ? seq.steps
                             : std::max<int64_t>(1, capacity / std::max<int64_t>(1, seq.batch))) {
    for (int64_t gate = 0; gate < gates; ++gate) {
      weight_.pack(gate, units.begin, units.end);
    }
  }

  // The gate rows of step t (visited at `position` of the loop), computed first if needed.
  scalar_t* rows(int64_t position, int64_t t) {
    if (position >= chunk_end_) {
      compute_chunk(position);
    }
    return buffer_ + (seq_.offset(t) - chunk_first_row_) * gates_ * hidden_size_;
  }

 private:
  void compute_chunk(int64_t position) {
    chunk_end_ = std::min(seq_.steps, position + steps_per_chunk_);
    const int64_t first = seq_.step_at(reverse_ ? chunk_end_ - 1 : position, reverse_);
    const int64_t last = seq_.step_at(reverse_ ? position : chunk_end_ - 1, reverse_);
    chunk_first_row_ = seq_.offset(first);
    const int64_t rows = seq_.offset(last) + seq_.batch_size(last) - chunk_first_row_;
    const int64_t G = gates_ * hidden_size_;
    for (int64_t gate = 0; gate < gates_; ++gate) {
      weight_.multiply(rows, input_ + chunk_first_row_ * input_stride_, input_stride_, gate,
                       units_.begin, units_.end, buffer_ + gate * hidden_size_ + units_.begin, G,
                       /*accumulate=*/false);
    }
  }

  const SequenceLayout& seq_;
  bool reverse_;
  const scalar_t* input_;
  int64_t input_stride_;
  PackedMatrix<scalar_t> weight_;
  int64_t gates_;
  int64_t hidden_size_;
  Share units_;
  scalar_t* buffer_;
  int64_t steps_per_chunk_;
  int64_t chunk_end_ = 0;
  int64_t chunk_first_row_ = 0;
};

}  // namespace CPU_CAPABILITY
}  // namespace torch_ext::kernels
