// How every reference recurrence runs over a sequence, whatever its cell: a step loop of ATen ops
// over padded or PackedSequence rows, one or two directions, one or more layers, following
// nn.RNNBase's conventions (a packed step t holds batch_sizes[t] rows; the reverse direction
// starts each sequence at its own last step; layer l + 1 reads layer l's output). The cells are
// the callers' (lstm_reference.h, recurrence_reference.h); nothing here is code under test.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/TensorOptions.h>
#include <c10/util/ArrayRef.h>

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

namespace torch_ext::testing {

// One step of a cell: the new states from x [B, I] and the states of those B rows (each [B, ·]).
// The first new state is the step's output (h).
using ReferenceStep = std::function<std::vector<at::Tensor>(
    const at::Tensor& x, const std::vector<at::Tensor>& states)>;

// The step of (layer, direction).
using ReferenceStepFor = std::function<ReferenceStep(int64_t layer, int64_t direction)>;

// One direction over packed rows: data [N, I] holds step t in rows
// [Σ_{s<t} batch_sizes[s], +batch_sizes[t]); each initial state is [B, ·] with B = batch_sizes[0].
// Returns the output [N, ·] and each sequence's final states ([B, ·] each).
std::pair<at::Tensor, std::vector<at::Tensor>> reference_direction(
    const at::Tensor& data, c10::IntArrayRef batch_sizes, const std::vector<at::Tensor>& initial,
    const ReferenceStep& step, bool reverse);

// The multi-layer op over packed data: each initial state [L·D, B, ·]. Returns the last layer's
// output [N, D·R], then each final state [L·D, B, ·].
std::vector<at::Tensor> reference_stack_packed(const at::Tensor& data,
                                               c10::IntArrayRef batch_sizes,
                                               const std::vector<at::Tensor>& initial,
                                               int64_t num_layers, int64_t directions,
                                               const ReferenceStepFor& step_for);

// The same over a padded input [T, B, I] ([B, T, I] when batch_first); output [T, B, D·R]
// ([B, T, ·]).
std::vector<at::Tensor> reference_stack(const at::Tensor& input,
                                        const std::vector<at::Tensor>& initial, int64_t num_layers,
                                        int64_t directions, const ReferenceStepFor& step_for,
                                        bool batch_first);

// The input of a test case, standard normal times `scale`: packed data [N, I] of sequences of
// `lengths` (longest first; sets *batch_sizes) when lengths is non-empty, else padded
// [steps, batch, I] ([batch, steps, I] when batch_first).
at::Tensor random_sequence_input(int64_t steps, int64_t batch, bool batch_first,
                                 const std::vector<int64_t>& lengths, int64_t input_size,
                                 double scale, const at::TensorOptions& options,
                                 std::vector<int64_t>* batch_sizes);

}  // namespace torch_ext::testing
