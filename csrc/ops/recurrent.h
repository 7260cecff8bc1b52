// What the recurrent operators share: the checks of a layer op's arguments, the row layout of
// its sequence, and the composition of layers into the public multi-layer ops.
#pragma once

#include "ops/rnn_params.h"
#include "ops/sequence_rows.h"

#include <ATen/core/Tensor.h>
#include <c10/core/SymInt.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <vector>

namespace torch_ext::ops {

// The checked sizes of one layer call.
struct LayerShape {
  RnnParamLayout layout;  // one layer, one or two directions
  bool packed = false;
  c10::SymInt rows;         // N: T·B, or the packed data's rows
  c10::SymInt batch;        // B
  c10::SymInt input_size;   // I
  c10::SymInt hidden_size;  // H
  c10::SymInt state_size;   // R: P for an LSTM with a projection, else H
};

// Checks a layer op's arguments: input [T, B, I] (T > 0), or packed [N, I] with batch_sizes;
// hx [D, B, R]; cx [D, B, H] when not null (LSTM); params for one layer of `layout` (gates,
// has_biases and directions set by the caller). With `may_project`, a params list holding
// weight_hr selects the projected layout (R = hx.size(2)).
LayerShape check_layer(const char* op, const at::Tensor& input,
                       const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
                       const at::Tensor* cx, at::TensorList params, RnnParamLayout layout,
                       bool may_project);

// The rows of a layer call: padded from the input's shape, or the checked batch_sizes (whose
// first entry must be `batch`).
SequenceRows sequence_rows(const char* op, const at::Tensor& input,
                           const std::optional<at::Tensor>& batch_sizes, int64_t batch);

// A layer's output shape: [T, B, D·R] for a padded input, [N, D·R] for packed data.
std::vector<c10::SymInt> layer_output_sizes(const at::Tensor& input, const LayerShape& shape);

// Rows of gate scratch an inference call gives a direction: a chunk of steps of at least `batch`
// rows (the whole sequence when it is short).
inline int64_t inference_gate_rows(int64_t rows, int64_t batch) {
  constexpr int64_t kChunkRows = 512;
  return std::min(rows, std::max(batch, kChunkRows));
}

// Rows of float32 gate scratch a bfloat16 forward gives a direction where the scratch holds the
// input projection of a chunk of steps (the LSTM and GRU save their activations in bfloat16 rows
// of their own; the RNN saves none): 128 rows, or one step's. The scratch is freed before the
// backward, whose workspaces the allocator places in it only where they fit: 512 rows of a
// 1024-unit GRU's gates (6 MiB) left a hole the backward did not fill. Training timed the same
// with 128 rows as with 512 (LSTM, GRU, RNN at T=100,B=64,I=H=512 and T=50,B=32,I=256,H=1024).
inline int64_t bf16_chunk_gate_rows(int64_t rows, int64_t batch) {
  constexpr int64_t kChunkRows = 128;
  return std::min(rows, std::max(batch, kChunkRows));
}

// A contiguous copy of the gradient, or zeros like `like` when no gradient came.
at::Tensor contiguous_or_zeros(const std::optional<at::Tensor>& grad, const at::Tensor& like);

// An output gradient as a backward kernel reads it: rows of `width` values, `row_stride` apart.
// A gradient whose rows are all the one row (that of sum() or mean(), expanded from a scalar or a
// row) is that row with a stride of 0, with no [N, width] copy made; another is made contiguous.
struct GradientRows {
  at::Tensor values;  // undefined when no gradient came
  int64_t row_stride = 0;

  bool defined() const { return values.defined(); }
};
GradientRows gradient_rows(const std::optional<at::Tensor>& grad, int64_t width);

// The initial states of a multi-layer op are floating tensors of 3 dims.
void check_states(const char* op, const std::vector<at::Tensor>& states);

// One layer of a multi-layer op: (output, new states) from (input, this layer's slices of the
// states, this layer's params).
using LayerFunction = std::function<std::vector<at::Tensor>(
    const at::Tensor& input, const std::vector<at::Tensor>& states, at::TensorList params)>;

// Runs layout.num_layers layers over x ([T, B, I] or packed [N, I]), with dropout between layers
// when training. `states` are the initial states, each [num_layers · D, B, ·]; returns the last
// layer's output followed by each state of every layer, concatenated. Checks the states and the
// params first.
std::vector<at::Tensor> run_layers(const char* op, const at::Tensor& x, bool packed,
                                   const std::vector<at::Tensor>& states, at::TensorList params,
                                   const RnnParamLayout& layout, double dropout, bool train,
                                   const c10::SymInt& state_size, const c10::SymInt& hidden_size,
                                   const LayerFunction& layer);

// The input of a padded multi-layer op, time-major ([T, B, I]) after the batch_first swap.
at::Tensor time_major_input(const char* op, const at::Tensor& input, bool batch_first);

// Checks shared by the cell ops (ATen's order and words): input [B, I], the state [B, H].
void check_cell_input(const char* op, const at::Tensor& input, const at::Tensor& w_ih,
                      const at::Tensor& w_hh);
void check_cell_state(const char* op, const at::Tensor& input, const at::Tensor& state,
                      const at::Tensor& w_hh, int64_t index);

// The states of a cell op whose weights come as a params list: each [batch, hidden_size], the
// batch of the input and the hidden size of w_hh = params[1] (checked to exist first).
void check_cell_states(const char* op, const at::Tensor& input, at::TensorList states,
                       at::TensorList params);

// [w_ih, w_hh] plus both biases when either is given (zeros for the missing one), for a cell op
// that runs as a one-step layer; sets has_biases.
std::vector<at::Tensor> cell_params(const at::Tensor& w_ih, const at::Tensor& w_hh,
                                    const std::optional<at::Tensor>& b_ih,
                                    const std::optional<at::Tensor>& b_hh, bool& has_biases);

}  // namespace torch_ext::ops
