// Layer-normalised LSTM layer (Ba, Kiros and Hinton, 2016): one direction of one layer over a
// whole (possibly packed) sequence. LN normalises a row over all its features (normalization.h).
//
// Forward, gate order i, f, g, o:
//   ĝi = LN(x·W_ihᵀ)             all steps at once; LN_ih(·) = ĝi ⊙ w_ih_ln + b_ih_ln
//   per step:
//     ĝh = LN(h_{t-1}·W_hhᵀ)      statistics over all 4H features of the row
//     pre = LN_ih + b_ih + ĝh ⊙ w_hh_ln + b_hh_ln + b_hh
//     i = σ(pre_i)  f = σ(pre_f)  g = tanh(pre_g)  o = σ(pre_o)
//     c_t = f ⊙ c_{t-1} + i ⊙ g   (the carried state)
//     ĉ = LN(c_t)                 statistics over the H units
//     h_t = o ⊙ tanh(ĉ ⊙ w_c + b_c)
//
// Training saves ĝi and ĝh (not i, f, g, o): the backward forms pre and the activations again.
//
// Backward, per step, with dh = ∂L/∂h_t and dc carried:
//   t = tanh(ĉ ⊙ w_c + b_c)
//   ∂pre_o = dh ⊙ t ⊙ o(1 − o);  ∂(ĉ ⊙ w_c + b_c) = dh ⊙ o ⊙ (1 − t²) =: e
//   ∂w_c += e ⊙ ĉ,  ∂b_c += e,  dc += LN backward of (e ⊙ w_c) through ĉ
//   ∂pre_i = dc ⊙ g ⊙ i(1 − i)  ∂pre_f = dc ⊙ c_{t-1} ⊙ f(1 − f)  ∂pre_g = dc ⊙ i ⊙ (1 − g²)
//   dc_{t-1} = dc ⊙ f
//   ∂w_hh_ln += ∂pre ⊙ ĝh,  ∂b_hh_ln += ∂pre,  ∂(h·W_hhᵀ) = LN backward of (∂pre ⊙ w_hh_ln)
//   dh_{t-1} = ∂(h·W_hhᵀ) · W_hh
// after the loop: ∂b_ih_ln = Σ ∂pre (= ∂b_hh_ln = ∂b_ih = ∂b_hh),  ∂w_ih_ln = Σ ∂pre ⊙ ĝi,
//   ∂(x·W_ihᵀ) = LN backward of (∂pre ⊙ w_ih_ln), then dX, dW_ih, dW_hh as GEMMs.
//
// Threads split the hidden units as in lstm.cpp; the row statistics cross threads, so a step
// meets at three barriers (after h·W_hhᵀ, after c_t, after h_t; backward likewise).
#pragma once

#include "kernels/sequence.h"

#include <cstdint>

namespace torch_ext::kernels {

template <typename scalar_t>
struct LayerNormLstmWeights {
  const scalar_t* w_ih = nullptr;        // [4H, I]
  const scalar_t* w_hh = nullptr;        // [4H, H]
  // [4H]: every constant of the pre-activation, b_ih + b_hh + the two gate norms' biases (the
  // norms' bias gradients are ∂pre's column sums, as the linear biases' are).
  const scalar_t* bias = nullptr;
  const scalar_t* ln_ih_weight = nullptr;  // [4H]
  const scalar_t* ln_hh_weight = nullptr;  // [4H]
  const scalar_t* ln_cell_weight = nullptr;  // [H]
  const scalar_t* ln_cell_bias = nullptr;    // [H]
};

// Per row, the saved statistics: rstd of the input gates, of the hidden gates, of the cell.
constexpr int64_t kLayerNormLstmStats = 3;

template <typename scalar_t>
struct LayerNormLstmForwardArgs {
  SequenceLayout sequence;
  int64_t input_size = 0;
  int64_t hidden_size = 0;
  scalar_t eps = 0;
  LayerNormLstmWeights<scalar_t> weights;
  bool reverse = false;
  bool training = false;

  const scalar_t* input = nullptr;  // [N, I]
  int64_t input_stride = 0;
  scalar_t* output = nullptr;  // [N, H], rows `output_stride` apart
  int64_t output_stride = 0;
  const scalar_t* h0 = nullptr;  // [B, H]
  scalar_t* h_state = nullptr;   // [B, H]: h_n on return
  scalar_t* c_state = nullptr;   // [B, H]: holds c_0 on entry, c_n on return

  scalar_t* input_gates = nullptr;   // [N, 4H]: x·W_ihᵀ, then ĝi (saved in training)
  scalar_t* hidden_gates = nullptr;  // [N, 4H]: h·W_hhᵀ, then ĝh (saved in training)
  scalar_t* cells = nullptr;         // [N, H] training: c_t
  scalar_t* cells_hat = nullptr;     // [N, H] training: ĉ
  scalar_t* rstd = nullptr;          // [N, 3] training (also written in inference: scratch)
};

template <typename scalar_t>
struct LayerNormLstmBackwardArgs {
  SequenceLayout sequence;
  int64_t input_size = 0;
  int64_t hidden_size = 0;
  LayerNormLstmWeights<scalar_t> weights;
  bool reverse = false;

  const scalar_t* input = nullptr;  // [N, I]
  int64_t input_stride = 0;
  const scalar_t* output = nullptr;  // [N, H], rows `output_stride` apart
  int64_t output_stride = 0;
  const scalar_t* h0 = nullptr;            // [B, H]
  const scalar_t* c0 = nullptr;            // [B, H]
  const scalar_t* input_gates = nullptr;   // [N, 4H] ĝi
  const scalar_t* hidden_gates = nullptr;  // [N, 4H] ĝh
  const scalar_t* cells = nullptr;         // [N, H]
  const scalar_t* cells_hat = nullptr;     // [N, H]
  const scalar_t* rstd = nullptr;          // [N, 3]

  const scalar_t* grad_output = nullptr;  // [N, H] rows `grad_output_stride` apart, or nullptr
  int64_t grad_output_stride = 0;
  scalar_t* grad_h_state = nullptr;  // [B, H]: ∂L/∂h_n on entry, ∂L/∂h_0 on return
  scalar_t* grad_c_state = nullptr;  // [B, H]: ∂L/∂c_n on entry, ∂L/∂c_0 on return

  scalar_t* grad_input = nullptr;  // [N, I] or nullptr; written, or added to when accumulating
  int64_t grad_input_stride = 0;
  bool accumulate_grad_input = false;
  scalar_t* grad_w_ih = nullptr;    // [4H, I]
  scalar_t* grad_w_hh = nullptr;    // [4H, H]
  scalar_t* grad_ln_ih_weight = nullptr;  // [4H]
  scalar_t* grad_ln_ih_bias = nullptr;    // [4H]
  scalar_t* grad_ln_hh_weight = nullptr;  // [4H]
  scalar_t* grad_ln_hh_bias = nullptr;    // [4H]
  scalar_t* grad_ln_cell_weight = nullptr;  // [H]
  scalar_t* grad_ln_cell_bias = nullptr;    // [H]

  // Workspaces. The backward runs a window of `window_steps` steps at a time
  // (backward_window_steps with rows of 4H values), its row workspaces holding `workspace_rows`
  // rows: one window's (backward_window_rows).
  int64_t window_steps = 0;
  int64_t workspace_rows = 0;
  scalar_t* grad_pre = nullptr;          // [workspace_rows, 4H]: ∂pre, then ∂(x·W_ihᵀ)
  scalar_t* grad_hidden_raw = nullptr;   // [workspace_rows, 4H]: ∂(h·W_hhᵀ)
  scalar_t* grad_cell_hat = nullptr;     // [B, H]: e of one step
  scalar_t* previous_h = nullptr;        // [workspace_rows, H], packed: each row's previous state

  // Set by layer_norm_lstm_layer_backward for each window: its steps, the sequence row that is
  // row 0 of the workspaces, and whether it is the direction's first (the loop's parameter
  // gradient sums start at zero there and add up over the windows).
  StepWindow window;
  int64_t workspace_first_row = 0;
  bool first_window = true;
};

template <typename scalar_t>
void layer_norm_lstm_layer_forward(const LayerNormLstmForwardArgs<scalar_t>* directions,
                                   int64_t count);

template <typename scalar_t>
void layer_norm_lstm_layer_backward(const LayerNormLstmBackwardArgs<scalar_t>* directions,
                                    int64_t count);

#define TORCH_EXT_DECLARE_LAYER_NORM_LSTM_KERNELS(capability)                          \
  namespace capability {                                                               \
  template <typename scalar_t>                                                         \
  void layer_norm_lstm_layer_forward(const LayerNormLstmForwardArgs<scalar_t>* directions, \
                                     int64_t count);                                   \
  template <typename scalar_t>                                                         \
  void layer_norm_lstm_layer_backward(                                                 \
      const LayerNormLstmBackwardArgs<scalar_t>* directions, int64_t count);           \
  }
TORCH_EXT_DECLARE_LAYER_NORM_LSTM_KERNELS(DEFAULT)
TORCH_EXT_DECLARE_LAYER_NORM_LSTM_KERNELS(AVX2)
TORCH_EXT_DECLARE_LAYER_NORM_LSTM_KERNELS(AVX512)
#undef TORCH_EXT_DECLARE_LAYER_NORM_LSTM_KERNELS

}  // namespace torch_ext::kernels
