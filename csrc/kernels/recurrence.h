// What every recurrent cell's kernel shares: which hidden units a thread owns, where a step reads
// its previous state, the per-step product with W_hh, and the weight gradient of W_hh.
//
// Included only by kernel files (compiled once per CPU capability).
#pragma once

#include "kernels/aligned_buffer.h"
#include "kernels/gemm.h"
#include "kernels/operand.h"
#include "kernels/packed_matrix.h"
#include "kernels/panel_pool.h"
#include "kernels/parallel.h"
#include "kernels/sequence.h"
#include "kernels/slicing.h"
#include "kernels/team.h"
#include "kernels/vec_math.h"

#include <ATen/Parallel.h>
#include <ATen/cpu/vec/vec.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <initializer_list>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

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

// --- Splitting a direction's rows between threads ------------------------------------------------
//
// Whether a direction runs as slices of its batch: kernels/slicing.h (batch_slice_count).

// Rows [begin, end) of every step of a layout, as a layout of its own: offsets stay those of the
// parent (rows are addressed where they are), so everything indexed by sequence row needs no
// change; what is indexed by batch row ([B, ·] states and scratch) must be offset by begin().
// The rows of consecutive steps are no longer adjacent (`contiguous` is false).
class BatchSlice {
 public:
  BatchSlice(const SequenceLayout& parent, int64_t begin, int64_t end)
      : batch_sizes_(static_cast<size_t>(parent.steps)),
        offsets_(static_cast<size_t>(parent.steps)),
        begin_(begin) {
    int64_t rows = 0;
    for (int64_t t = 0; t < parent.steps; ++t) {
      const int64_t size = std::clamp<int64_t>(parent.batch_size(t) - begin, 0, end - begin);
      batch_sizes_[static_cast<size_t>(t)] = size;
      // A step without rows in this slice (a packed sequence's shorter rows) keeps an offset
      // inside the parent's step, so that no pointer formed from it lies past the buffers.
      offsets_[static_cast<size_t>(t)] = parent.offset(t) + std::min(begin, parent.batch_size(t));
      rows += size;
    }
    layout_.steps = parent.steps;
    layout_.batch = end - begin;
    layout_.rows = rows;
    layout_.batch_sizes = batch_sizes_.data();
    layout_.offsets = offsets_.data();
    layout_.uniform = parent.uniform;
    layout_.contiguous = false;
  }
  BatchSlice(const BatchSlice&) = delete;
  BatchSlice& operator=(const BatchSlice&) = delete;

  const SequenceLayout& layout() const { return layout_; }
  int64_t begin() const { return begin_; }

 private:
  std::vector<int64_t> batch_sizes_;
  std::vector<int64_t> offsets_;
  SequenceLayout layout_;
  int64_t begin_;
};

// `parts` slices of the batch with about equal numbers of sequence rows (packed sequences are
// sorted longest first, so equal numbers of batch rows would load the first slice most). Every
// slice holds at least one batch row. Stored in a deque: a slice's layout points into itself.
inline std::deque<BatchSlice> slice_batch(const SequenceLayout& seq, int64_t parts) {
  // Row b's length: the steps whose batch holds it.
  std::vector<int64_t> cumulative(static_cast<size_t>(seq.batch) + 1, 0);
  for (int64_t b = 0; b < seq.batch; ++b) {
    int64_t length = 0;
    for (int64_t t = 0; t < seq.steps; ++t) {
      length += seq.batch_size(t) > b ? 1 : 0;
    }
    cumulative[static_cast<size_t>(b) + 1] = cumulative[static_cast<size_t>(b)] + length;
  }
  const int64_t total = cumulative.back();
  std::deque<BatchSlice> slices;
  int64_t begin = 0;
  for (int64_t part = 0; part < parts; ++part) {
    int64_t end = seq.batch - (parts - 1 - part);  // leave a row for each slice after this one
    if (part + 1 < parts) {
      const int64_t target = total * (part + 1) / parts;
      int64_t cut = begin + 1;
      while (cut < end && cumulative[static_cast<size_t>(cut)] < target) {
        ++cut;
      }
      end = cut;
    }
    slices.emplace_back(seq, begin, end);
    begin = end;
  }
  return slices;
}

// `pointer` advanced by `rows` rows of `width` values; null stays null.
template <typename T>
T* offset_rows(T* pointer, int64_t rows, int64_t width) {
  return pointer == nullptr ? nullptr : pointer + rows * width;
}

// Runs body(args, team) for each of `count` directions (args: an array of a cell's per-direction
// kernel arguments, every direction over the same layout). With `parts` 1 (batch_slice_count) a
// team of plan.team_size threads per direction splits the hidden units; otherwise each direction
// runs as `parts` batch slices of one thread, slice(args, batch_slice, index) giving the arguments
// of slice number index (direction·parts + slice) and team.index() being that number.
template <typename Args, typename Slice, typename Body>
void run_directions(const Args* directions, int64_t count, int64_t parts, const TeamPlan& plan,
                    const Slice& slice, const Body& body) {
  if (parts <= 1) {
    run_teams(count, plan.team_size, plan.work,
              [&](const Team& team) { body(directions[team.index()], team); });
    return;
  }
  const std::deque<BatchSlice> slices = slice_batch(directions[0].sequence, parts);
  std::vector<Args> sliced;
  sliced.reserve(static_cast<size_t>(count * parts));
  for (int64_t d = 0; d < count; ++d) {
    for (const BatchSlice& batch_slice : slices) {
      sliced.push_back(slice(directions[d], batch_slice, static_cast<int64_t>(sliced.size())));
    }
  }
  run_teams(count * parts, 1, plan.work,
            [&](const Team& team) { body(sliced[static_cast<size_t>(team.index())], team); });
}

// run_directions for cells whose threads share per-row scratch (the layer-norm cells' statistics):
// one Scratch(team size, batch) per team, passed to body(args, team, scratch).
template <typename Scratch, typename Args, typename Slice, typename Body>
void run_directions_with_scratch(const Args* directions, int64_t count, int64_t parts,
                                 const TeamPlan& plan, const Slice& slice, const Body& body) {
  const int64_t teams = count * std::max<int64_t>(1, parts);
  std::vector<Scratch> scratch;
  scratch.reserve(static_cast<size_t>(teams));
  for (int64_t team = 0; team < teams; ++team) {
    scratch.emplace_back(parts > 1 ? 1 : plan.team_size, directions[0].sequence.batch);
  }
  run_directions(directions, count, parts, plan, slice, [&](const Args& args, const Team& team) {
    body(args, team, scratch[static_cast<size_t>(team.index())]);
  });
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

// `count` ≤ Vec::size() lanes of an operand as the kernels' type: bfloat16 storage (the
// activations a bfloat16 call saved) widened exactly, else as `load` reads them.
template <typename scalar_t>
inline Vec<scalar_t> load(const Operand<scalar_t>& from, int64_t count) {
  if constexpr (std::is_same_v<scalar_t, float>) {
    if (from.is_bfloat16()) {
      using Half = at::vec::Vectorized<c10::BFloat16>;
      const Half values = Half::loadu(from.bfloat16_values(), static_cast<int16_t>(count));
      return std::get<0>(at::vec::convert_bfloat16_float(values));
    }
  }
  return CPU_CAPABILITY::load(from.values(), count);
}

// Columns [begin, end) of a row as float: the row itself, or (bfloat16 storage) its values
// converted into the same columns of `scratch`, which is returned.
template <typename scalar_t>
const scalar_t* float_columns(Operand<scalar_t> row, int64_t begin, int64_t end,
                              scalar_t* scratch) {
  if (!row.is_bfloat16()) {
    return row.values();
  }
  for (int64_t j = begin; j < end; ++j) {
    scratch[j] = row.at(j);
  }
  return scratch;
}

// Where the states a layer's steps read live: its own output rows (h_t of every step, `stride`
// apart; in bfloat16 storage in the backward of a bfloat16 call, which products read in place and
// pointwise passes through previous_float) and h_0 ([B, R]).
template <typename scalar_t>
struct StateSource {
  Operand<scalar_t> output;
  int64_t stride = 0;
  const scalar_t* h0 = nullptr;
  int64_t state_size = 0;

  // Row b of the state step t reads (the output in the kernel's type).
  const scalar_t* previous(const SequenceLayout& seq, int64_t t, int64_t b, bool reverse) const {
    const int64_t step = seq.previous_step(t, b, reverse);
    return step >= 0 ? output.values() + (seq.offset(step) + b) * stride : h0 + b * state_size;
  }

  // Columns [begin, end) of that row as float: in place, or (an output in bfloat16 storage)
  // converted into row b of `scratch` ([B, state_size]; only those columns are written).
  const scalar_t* previous_float(const SequenceLayout& seq, int64_t t, int64_t b, bool reverse,
                                 int64_t begin, int64_t end, scalar_t* scratch) const {
    const int64_t step = seq.previous_step(t, b, reverse);
    if (step < 0 || !output.is_bfloat16()) {
      return previous(seq, t, b, reverse);
    }
    return float_columns(output + (seq.offset(step) + b) * stride, begin, end,
                         scratch + b * state_size);
  }

  // Copies that row to `to` (state_size values), from either storage of the output.
  void copy_previous(const SequenceLayout& seq, int64_t t, int64_t b, bool reverse,
                     scalar_t* to) const {
    const int64_t step = seq.previous_step(t, b, reverse);
    if (step < 0 || !output.is_bfloat16()) {
      std::memcpy(to, previous(seq, t, b, reverse), state_size * sizeof(scalar_t));
      return;
    }
    float_columns(output + (seq.offset(step) + b) * stride, 0, state_size, to);
  }
};

// out[j] (+)= Σ_rows matrix[row][j] (parallel.h sum_rows) of rows in either storage: a bfloat16
// call's gradient rows are bfloat16 (written through OutputRows below), summed in float.
template <typename scalar_t>
void sum_rows(Operand<scalar_t> matrix, int64_t rows, int64_t cols, int64_t ld, scalar_t* out,
              bool accumulate) {
  if constexpr (std::is_same_v<scalar_t, float>) {
    if (matrix.is_bfloat16()) {
      sum_rows(matrix.bfloat16_values(), rows, cols, ld, out, accumulate);
      return;
    }
  }
  sum_rows(matrix.values(), rows, cols, ld, out, accumulate);
}

// Where a forward writes its output rows (h_t, or the LSTM's projected r_t): in the kernels' type,
// or, in a bfloat16 call (float kernels), rounded into bfloat16 storage. The next steps' products
// read the output rounded to bfloat16 anyway, and what else a step reads of h_{t-1} comes from the
// float state rows it carries, so the results are those of narrowing a float32 output, without
// making one. `row(r)` is row r; an empty OutputRows (no output) writes nothing.
// The same holds for the other rows a kernel writes for a later pass to read: a training
// forward's saved gates and a backward's gate gradients (bfloat16 in a bfloat16 call).
template <typename scalar_t>
struct OutputRows {
  scalar_t* values = nullptr;
  c10::BFloat16* bfloat16 = nullptr;
  int64_t stride = 0;

  OutputRows row(int64_t r) const {
    return {values != nullptr ? values + r * stride : nullptr,
            bfloat16 != nullptr ? bfloat16 + r * stride : nullptr, stride};
  }
  // The rows as the products read them.
  Operand<scalar_t> operand() const {
    return bfloat16 != nullptr ? Operand<scalar_t>::bfloat16(bfloat16) : Operand<scalar_t>(values);
  }
  // Lanes [j, j + count) of the row: v.
  void store(const Vec<scalar_t>& v, int64_t j, int64_t count) const {
    if constexpr (std::is_same_v<scalar_t, float>) {
      if (bfloat16 != nullptr) {
        CPU_CAPABILITY::store(v, bfloat16 + j, count);
        return;
      }
    } else {
      TORCH_INTERNAL_ASSERT(bfloat16 == nullptr, "torch_ext: bfloat16 rows written by ",
                            "double kernels");
    }
    if (values != nullptr) {
      CPU_CAPABILITY::store(v, values + j, count);
    }
  }
  // Columns [begin, end) of the row from float values.
  void copy(const scalar_t* from, int64_t begin, int64_t end) const {
    using V = Vec<scalar_t>;
    for (int64_t j = begin; j < end; j += V::size()) {
      const int64_t c = std::min<int64_t>(V::size(), end - j);
      store(load(from + j, c), j, c);
    }
  }
};

// rows[b·ld + j] += dy[b·dy_stride + j] for b < batch, begin ≤ j < end: an incoming gradient (in
// bfloat16 storage in a bfloat16 call) added to a thread's columns of the carried state gradient.
template <typename scalar_t>
void add_rows(int64_t batch, int64_t begin, int64_t end, Operand<scalar_t> dy, int64_t dy_stride,
              scalar_t* rows, int64_t ld) {
  for (int64_t b = 0; b < batch; ++b) {
    const Operand<scalar_t> row = dy + b * dy_stride;
    scalar_t* to = rows + b * ld;
    if (row.is_bfloat16()) {
      const c10::BFloat16* from = row.bfloat16_values();
      for (int64_t j = begin; j < end; ++j) {
        to[j] += static_cast<scalar_t>(static_cast<float>(from[j]));
      }
    } else {
      const scalar_t* from = row.values();
      for (int64_t j = begin; j < end; ++j) {
        to[j] += from[j];
      }
    }
  }
}

// A step's output gradient dy (rows `dy_stride` apart) as the pointwise pass reads it: dy itself,
// or null when there is none, or when it is in bfloat16 storage (a bfloat16 call): then it is
// added here to the thread's columns [begin, end) of the carried dh (rows `ld` apart) for the
// step's `batch` rows, the same float sum the pass would form, and the pass reads no dy.
template <typename scalar_t>
const scalar_t* step_output_gradient(Operand<scalar_t> dy, int64_t dy_stride, int64_t batch,
                                     int64_t begin, int64_t end, scalar_t* carried, int64_t ld) {
  if (dy.is_bfloat16()) {
    add_rows(batch, begin, end, dy, dy_stride, carried, ld);
    return nullptr;
  }
  return dy.values();
}

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

// The order of a window's products (the cells' backward_products): ∂W_hh, ∂W_ih, then dX. Their
// results are written once each, and a bfloat16 product packs its B operand whole (the previous
// states, X, W_ih) and frees it: taking the widest packing first, before dX and ∂W_ih are
// touched, lowers the step's resident peak, the later packings reusing its memory (a bfloat16
// GRU at T=50,B=32,I=256,H=1024: 3 MiB of previous states beside the rest).

// One term of a backward's sum of products, A·B over `depth`, A's rows `lda` apart and B's rows
// `ldb` apart. A is a window's gate gradients: weight_gradient reads it transposed (dGᵀ · X, the
// depth running over the window's rows), write_input_gradient as it is (dG · W_ih, over `depth`
// of its columns).
template <typename scalar_t>
struct ProductTerm {
  int64_t depth = 0;
  Operand<scalar_t> a;
  int64_t lda = 0;
  Operand<scalar_t> b;
  int64_t ldb = 0;
};

// The terms as gemm_bf16_rounded takes them, A transposed as `transpose_a` says.
inline std::vector<Bf16Term> bf16_terms(Transpose transpose_a,
                                        std::initializer_list<ProductTerm<float>> terms) {
  std::vector<Bf16Term> result;
  result.reserve(terms.size());
  for (const ProductTerm<float>& term : terms) {
    result.push_back({transpose_a, Transpose::No, term.depth, term.a, term.lda, term.b, term.ldb});
  }
  return result;
}

// ∂L/∂W[m × n] (+)= Σ terms, into the rows of `w` (stride apart). Float rows take the terms a
// product at a time, added to what is there when `accumulate` (later windows). Bfloat16 rows (a
// bfloat16 call whose backward is one window) take their sum in float rounded once as it is
// written (gemm_bf16_rounded): bitwise the float rows narrowed, without them.
template <typename scalar_t>
void weight_gradient(Products products, int64_t m, int64_t n,
                     std::initializer_list<ProductTerm<scalar_t>> terms,
                     const OutputRows<scalar_t>& w, bool accumulate) {
  if constexpr (std::is_same_v<scalar_t, float>) {
    if (w.bfloat16 != nullptr) {
      TORCH_INTERNAL_ASSERT(!accumulate && products == Products::BFloat16,
                            "torch_ext: bfloat16 weight gradients are written once, by bfloat16 "
                            "products");
      gemm_bf16_rounded(m, n, bf16_terms(Transpose::Yes, terms), w.bfloat16, w.stride);
      return;
    }
  }
  TORCH_INTERNAL_ASSERT(w.bfloat16 == nullptr, "torch_ext: bfloat16 weight gradients of a ",
                        "double kernel");
  bool written = accumulate;
  for (const ProductTerm<scalar_t>& term : terms) {
    if (term.depth > 0) {
      gemm(products, Transpose::Yes, Transpose::No, m, n, term.depth, scalar_t(1), term.a,
           term.lda, term.b, term.ldb, written ? scalar_t(1) : scalar_t(0), w.values, w.stride);
      written = true;
    }
  }
  if (!written) {
    for (int64_t row = 0; row < m; ++row) {
      std::fill(w.values + row * w.stride, w.values + row * w.stride + n, scalar_t(0));
    }
  }
}

// ∂L/∂W_hh[gate_rows, R] (+)= Σ_rows dG_rowᵀ · h_prev(row) over the rows of a window's steps, dG
// (the window's rows, from its first) with `grad_stride` between rows, over `gate_rows` of its
// columns, into `grad_w_hh` (rows R apart; float, or bfloat16 as weight_gradient says). Packed
// sequences gather each row's previous state into `gather` (the window's rows, [rows, R])
// first; unpacked ones read the output rows in place.
template <typename scalar_t>
void grad_weight_hh(const SequenceLayout& seq, const StepWindow& window, bool reverse,
                    const StateSource<scalar_t>& states, OperandOf<scalar_t> grad_gates,
                    int64_t grad_stride, int64_t gate_rows, scalar_t* gather,
                    const OutputRows<scalar_t>& grad_w_hh, bool accumulate,
                    Products products = Products::Native) {
  const int64_t R = states.state_size;
  const int64_t T = seq.steps;
  if (gate_rows == 0 || R == 0) {
    return;  // ∂L/∂W_hh is empty; an empty state's rows have no storage (null) to gather from
  }
  if (seq.uniform) {
    // The window's steps that read a neighbouring step's output form one contiguous block of
    // rows; the sequence's first processed step (if in the window) read h_0.
    const int64_t B = seq.batch;
    const int64_t later_begin = reverse ? window.begin : std::max<int64_t>(window.begin, 1);
    const int64_t later_end = reverse ? std::min(window.end, T - 1) : window.end;
    ProductTerm<scalar_t> later;
    if (later_end > later_begin) {
      const int64_t previous_step = later_begin + (reverse ? 1 : -1);
      later = {(later_end - later_begin) * B,
               grad_gates + (later_begin - window.begin) * B * grad_stride, grad_stride,
               states.output + previous_step * B * states.stride, states.stride};
    }
    ProductTerm<scalar_t> first;
    const int64_t first_step = reverse ? T - 1 : 0;
    if (window.begin <= first_step && first_step < window.end) {
      first = {B, grad_gates + (first_step - window.begin) * B * grad_stride, grad_stride,
               states.h0, R};
    }
    weight_gradient(products, gate_rows, R, {later, first}, grad_w_hh, accumulate);
    return;
  }
  const int64_t first_row = window.first_row(seq);
  for (int64_t t = window.begin; t < window.end; ++t) {
    for (int64_t b = 0; b < seq.batch_size(t); ++b) {
      states.copy_previous(seq, t, b, reverse, gather + (seq.offset(t) + b - first_row) * R);
    }
  }
  weight_gradient(products, gate_rows, R,
                  {{window.rows(seq), grad_gates, grad_stride, gather, R}}, grad_w_hh,
                  accumulate);
}

// The rounds of a backward run a window of steps at a time (sequence.h backward_window_steps).
// Round k holds, for each direction, its window: the reverse direction's k-th, the forward one's
// k-th from the end (each goes back through time in its own order), the sequence row that is
// row 0 of its workspaces, and whether its rows of dX are added to: the first direction to reach
// a window's rows writes them (or adds, as the first direction's flag says: an input gradient
// already there), the second adds; an Args with a `first_window` field (the layer-norm cells,
// whose loops sum parameter gradients over the windows) learns whether it is the first. Args has
// the fields of LstmBackwardArgs of those names.
template <typename Args, typename = void>
struct HasFirstWindow : std::false_type {};
template <typename Args>
struct HasFirstWindow<Args, std::void_t<decltype(std::declval<Args&>().first_window)>>
    : std::true_type {};

template <typename Args>
class BackwardRounds {
 public:
  BackwardRounds(const Args* directions, int64_t count, const char* cell)
      : directions_(directions), round_(directions, directions + count) {
    const SequenceLayout& seq = directions[0].sequence;
    const int64_t steps = directions[0].window_steps;
    TORCH_CHECK(steps >= 1 && directions[0].workspace_rows >= backward_window_rows(seq, steps),
                "torch_ext: the ", cell, " backward's workspaces hold ",
                directions[0].workspace_rows, " rows; windows of ", steps, " steps need ",
                backward_window_rows(seq, steps));
    count_ = backward_window_count(seq, steps);
    reached_.assign(static_cast<size_t>(count_), 0);
  }

  int64_t count() const { return count_; }

  // The directions' arguments for round k (rounds are taken in order).
  std::vector<Args>& round(int64_t k) {
    const SequenceLayout& seq = directions_[0].sequence;
    for (Args& args : round_) {
      const int64_t window = args.reverse ? k : count_ - 1 - k;
      args.window = backward_window(seq, args.window_steps, window);
      args.workspace_first_row = args.window.first_row(seq);
      char& reached = reached_[static_cast<size_t>(window)];
      args.accumulate_grad_input = reached != 0 || directions_[0].accumulate_grad_input;
      reached = 1;
      if constexpr (HasFirstWindow<Args>::value) {
        args.first_window = k == 0;
      }
    }
    return round_;
  }

 private:
  const Args* directions_;
  std::vector<Args> round_;
  std::vector<char> reached_;
  int64_t count_ = 0;
};

// The kernels' type of a backward's Args.
template <typename Args>
using ArgsScalar =
    std::remove_cv_t<std::remove_pointer_t<decltype(std::declval<Args&>().grad_input)>>;

// Whether Args has a bfloat16 ∂L/∂W_hh (grad_w_hh_bf16, the cells with bfloat16 calls).
template <typename Args, typename = void>
struct HasBf16WeightGradient : std::false_type {};
template <typename Args>
struct HasBf16WeightGradient<Args, std::void_t<decltype(std::declval<Args&>().grad_w_hh_bf16)>>
    : std::true_type {};

// The PanelPool (panel_pool.h) of each direction of a backward round's loop, found by
// args.reverse: in a backward of one window, the storage of the direction's ∂L/∂W_hh (`elements`
// values, in the kernels' type or, in a bfloat16 call, bfloat16), which only the window's
// products, after the loop, write; in a longer backward none (∂L/∂W_hh then holds the earlier
// windows' sums). The loop's packed W_hh holds as many values (of the same size) as ∂L/∂W_hh
// where the state size is a multiple of kPanelWidth; a matrix that does not fit gets storage of
// its own.
class LoopPools {
 public:
  template <typename Args>
  LoopPools(const std::vector<Args>& round, int64_t elements) {
    using scalar_t = ArgsScalar<Args>;
    for (const Args& args : round) {
      reverse_.push_back(args.reverse);
      void* block = nullptr;
      size_t bytes = 0;
      if (backward_window_count(args.sequence, args.window_steps) == 1) {
        if (args.grad_w_hh != nullptr) {
          block = args.grad_w_hh;
          bytes = static_cast<size_t>(elements) * sizeof(scalar_t);
        } else if constexpr (HasBf16WeightGradient<Args>::value) {
          block = args.grad_w_hh_bf16;
          bytes = static_cast<size_t>(elements) * sizeof(c10::BFloat16);
        }
      }
      pools_.emplace_back(block, bytes);
    }
  }

  template <typename Args>
  PanelPool* of(const Args& args) {
    for (size_t d = 0; d < pools_.size(); ++d) {
      if (reverse_[d] == args.reverse) {
        return &pools_[d];
      }
    }
    return nullptr;
  }

 private:
  std::deque<PanelPool> pools_;
  std::vector<bool> reverse_;
};

// A window's rows [row0, row0 + rows) of dX ([N, input_size]): the sum of `terms` (dG's rows
// from the window's first times rows of W_ih, `input_size` values each). Into
// args.grad_input (the kernels' type; added to when args.accumulate_grad_input), or, where
// args.grad_input_bf16 is set (a bfloat16 call whose dX no other direction adds to), into its
// bfloat16 rows, each summed in float and rounded once as it is written (gemm_bf16_rounded):
// what narrowing a float dX gives, with no float dX held. Neither set: dX is not wanted. Args
// has the fields of LstmBackwardArgs of those names.
template <typename Args>
void write_input_gradient(const Args& args, int64_t row0, int64_t rows, int64_t input_size,
                          std::initializer_list<ProductTerm<ArgsScalar<Args>>> terms) {
  using scalar_t = ArgsScalar<Args>;
  if (rows <= 0) {
    return;
  }
  if (args.grad_input_bf16 == nullptr) {
    if (args.grad_input != nullptr) {
      bool add = args.accumulate_grad_input;
      for (const ProductTerm<scalar_t>& term : terms) {
        sequence_gemm(rows, input_size, term.depth, term.a, term.lda, term.b, term.ldb, 1,
                      args.grad_input + row0 * args.grad_input_stride, args.grad_input_stride,
                      add, args.products);
        add = true;
      }
    }
    return;
  }
  if constexpr (std::is_same_v<scalar_t, float>) {
    TORCH_CHECK(!args.accumulate_grad_input && args.products == Products::BFloat16,
                "torch_ext: a bfloat16 input gradient is written once, by bfloat16 products");
    gemm_bf16_rounded(rows, input_size, bf16_terms(Transpose::No, terms),
                      args.grad_input_bf16 + row0 * args.grad_input_stride,
                      args.grad_input_stride);
  } else {
    TORCH_CHECK(false, "torch_ext: a bfloat16 input gradient needs float kernels");
  }
}

// A backward a window at a time: for each round, `loop(round)` runs the loop back through the
// round's windows (every direction at once), then `products(args, first)` each direction's
// products of its window (`first`: the directions' first windows).
template <typename Args, typename Loop, typename WindowProducts>
void run_backward_rounds(const Args* directions, int64_t count, const char* cell, const Loop& loop,
                         const WindowProducts& products) {
  BackwardRounds<Args> rounds(directions, count, cell);
  for (int64_t k = 0; k < rounds.count(); ++k) {
    std::vector<Args>& round = rounds.round(k);
    loop(round);
    for (const Args& args : round) {
      products(args, k == 0);
    }
  }
}

// The gate scratch of a forward call: the rows of at least one step (the widest, the first), and
// every row of the sequence when the call saves the activated gates in it (training, except
// where a bfloat16 call saves them in bfloat16 rows of their own): backward reads every step's.
inline void check_gate_rows(int64_t gates_rows, const SequenceLayout& seq, bool saves_gates) {
  const int64_t needed = saves_gates ? seq.rows : std::min(seq.rows, seq.batch);
  TORCH_CHECK(gates_rows >= needed, "torch_ext: the gate workspace has ", gates_rows,
              " rows; a call over ", seq.rows, " rows (", seq.batch, " per step at most) that ",
              saves_gates ? "saves its gates there" : "saves none", " needs ", needed);
}

// The input projection x·W_ihᵀ of a thread's own units, computed by that thread chunk by chunk as
// its time loop reaches the chunk: no other thread reads those columns, so no barrier is needed,
// and the rows are still in cache when the steps read them. The buffer holds `capacity` rows of
// G = gates·H columns, its row 0 being the layout's first row (offset(0)). With room for every
// row the layout addresses (training, which saves them) one chunk covers every step and row
// offset(0) + r is row r of the buffer. A batch slice's rows are not adjacent: its chunks are
// computed step by step, and without room for every row a chunk is one step.
template <typename scalar_t>
class InputProjection {
 public:
  InputProjection(const SequenceLayout& seq, bool reverse, Operand<scalar_t> input,
                  int64_t input_stride, Operand<scalar_t> w_ih, int64_t input_size, int64_t gates,
                  int64_t hidden_size, Share units, scalar_t* buffer, int64_t capacity,
                  Products products = Products::Native, PanelPool* pool = nullptr)
      : seq_(seq),
        reverse_(reverse),
        input_(input),
        input_stride_(input_stride),
        weight_(w_ih, input_size, gates, hidden_size, /*stride_k=*/1, /*stride_n=*/input_size,
                units.begin, units.end, products, pool),
        gates_(gates),
        hidden_size_(hidden_size),
        units_(units),
        buffer_(buffer),
        steps_per_chunk_(steps_per_chunk(seq, capacity)) {
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
  // The rows from the first step's first to the last row of the last step that has rows: what
  // the buffer must hold for one chunk to cover the sequence. (A batch slice of a packed sequence
  // can end in steps without rows, whose offsets lie past the slice's last row.)
  static int64_t row_span(const SequenceLayout& seq) {
    int64_t last = seq.steps - 1;
    while (last >= 0 && seq.batch_size(last) == 0) {
      --last;
    }
    return last < 0 ? 0 : seq.offset(last) + seq.batch_size(last) - seq.offset(0);
  }

  static int64_t steps_per_chunk(const SequenceLayout& seq, int64_t capacity) {
    if (capacity >= row_span(seq)) {
      return seq.steps;
    }
    if (!seq.contiguous) {
      return 1;
    }
    return std::max<int64_t>(1, capacity / std::max<int64_t>(1, seq.batch));
  }

  void compute_chunk(int64_t position) {
    chunk_end_ = std::min(seq_.steps, position + steps_per_chunk_);
    const int64_t first = seq_.step_at(reverse_ ? chunk_end_ - 1 : position, reverse_);
    const int64_t last = seq_.step_at(reverse_ ? position : chunk_end_ - 1, reverse_);
    chunk_first_row_ = seq_.offset(first);
    if (seq_.contiguous) {
      multiply(chunk_first_row_, seq_.offset(last) + seq_.batch_size(last) - chunk_first_row_);
      return;
    }
    for (int64_t t = first; t <= last; ++t) {
      multiply(seq_.offset(t), seq_.batch_size(t));
    }
  }

  // Buffer rows of sequence rows [row, row + count), a block of rows at a time: every gate's
  // panels multiply a block while it stays in L2 (kRowBlockBytes of input rows). One product over
  // a training call's whole sequence read all its rows again for each 32-column panel: at
  // T=50,B=32,I=256,H=1024 (1600 rows, units split) 190 → 208 GFLOP/s at 2 threads, standalone.
  void multiply(int64_t row, int64_t count) {
    constexpr int64_t kRowBlockBytes = int64_t(256) << 10;
    constexpr int64_t kMinBlockRows = 64;
    const int64_t G = gates_ * hidden_size_;
    const int64_t row_bytes =
        std::max<int64_t>(1, weight_.depth() * static_cast<int64_t>(sizeof(scalar_t)));
    // double multiplies through BLAS, which blocks its own.
    const int64_t block = PackedMatrix<scalar_t>::kPacked
                              ? std::max(kMinBlockRows, kRowBlockBytes / row_bytes)
                              : std::max<int64_t>(1, count);
    for (int64_t first = row; first < row + count; first += block) {
      const int64_t rows = std::min(block, row + count - first);
      scalar_t* out = buffer_ + (first - chunk_first_row_) * G + units_.begin;
      for (int64_t gate = 0; gate < gates_; ++gate) {
        weight_.multiply(rows, input_ + first * input_stride_, input_stride_, gate, units_.begin,
                         units_.end, out + gate * hidden_size_, G, /*accumulate=*/false);
      }
    }
  }

  const SequenceLayout& seq_;
  bool reverse_;
  Operand<scalar_t> input_;
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
