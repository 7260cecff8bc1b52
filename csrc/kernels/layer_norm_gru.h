// Layer-normalised GRU layer: one direction of one layer over a whole (possibly packed) sequence,
// PyTorch's gate form with layer norm on both products (Ba, Kiros and Hinton, 2016).
//
// Forward, gate order r, z, n:
//   ĝi = LN(x·W_ihᵀ)   all steps at once;   gi = ĝi ⊙ w_ih_ln + b_ih_ln + b_ih
//   per step:
//     ĝh = LN(h_{t-1}·W_hhᵀ)   statistics over the 3H features;   gh = ĝh ⊙ w_hh_ln + b_hh_ln + b_hh
//     r = σ(gi_r + gh_r)   z = σ(gi_z + gh_z)   n = tanh(gi_n + r ⊙ gh_n)
//     h_t = (1 − z) ⊙ n + z ⊙ h_{t-1}
//
// Training saves ĝi and ĝh (not r, z, n): the backward forms the gates again from them.
//
// Backward, per step, with dh = ∂L/∂h_t:
//   dn = dh ⊙ (1 − z)(1 − n²)   dz = dh ⊙ (h_{t-1} − n) ⊙ z(1 − z)   dr = dn ⊙ gh_n ⊙ r(1 − r)
//   ∂gi = [dr, dz, dn]    ∂gh = [dr, dz, dn ⊙ r]
//   ∂w_hh_ln += ∂gh ⊙ ĝh,  ∂b_hh_ln += ∂gh (= ∂b_hh),  ∂(h·W_hhᵀ) = LN backward of (∂gh ⊙ w_hh_ln)
//   dh_{t-1} = dh ⊙ z + ∂(h·W_hhᵀ) · W_hh
// after the loop: ∂b_ih_ln = Σ ∂gi (= ∂b_ih),  ∂w_ih_ln = Σ ∂gi ⊙ ĝi,
//   ∂(x·W_ihᵀ) = LN backward of (∂gi ⊙ w_ih_ln), then dX, dW_ih, dW_hh as GEMMs.
//
// A step meets at two barriers (after h·W_hhᵀ, after h_t; backward likewise).
#pragma once

#include "kernels/sequence.h"

#include <cstdint>

namespace torch_ext::kernels {

template <typename scalar_t>
struct LayerNormGruWeights {
  const scalar_t* w_ih = nullptr;  // [3H, I]
  const scalar_t* w_hh = nullptr;  // [3H, H]
  // [3H] each: the constants of gi and of gh, b_ih + the input norm's bias and b_hh + the hidden
  // norm's (kept apart: r scales gh_n whole). The norms' bias gradients never read them.
  const scalar_t* input_bias = nullptr;
  const scalar_t* hidden_bias = nullptr;
  const scalar_t* ln_ih_weight = nullptr;  // [3H]
  const scalar_t* ln_hh_weight = nullptr;  // [3H]
};

// Per row, the saved statistics: rstd of the input gates, of the hidden gates.
constexpr int64_t kLayerNormGruStats = 2;

template <typename scalar_t>
struct LayerNormGruForwardArgs {
  SequenceLayout sequence;
  int64_t input_size = 0;
  int64_t hidden_size = 0;
  scalar_t eps = 0;
  LayerNormGruWeights<scalar_t> weights;
  bool reverse = false;
  bool training = false;

  const scalar_t* input = nullptr;  // [N, I]
  int64_t input_stride = 0;
  scalar_t* output = nullptr;  // [N, H], rows `output_stride` apart
  int64_t output_stride = 0;
  const scalar_t* h0 = nullptr;  // [B, H]
  scalar_t* h_state = nullptr;   // [B, H]: h_n on return

  scalar_t* input_gates = nullptr;   // [N, 3H]: x·W_ihᵀ, then ĝi (saved in training)
  scalar_t* hidden_gates = nullptr;  // [N, 3H]: h·W_hhᵀ, then ĝh (saved in training)
  scalar_t* rstd = nullptr;          // [N, 2] (saved in training)
};

template <typename scalar_t>
struct LayerNormGruBackwardArgs {
  SequenceLayout sequence;
  int64_t input_size = 0;
  int64_t hidden_size = 0;
  LayerNormGruWeights<scalar_t> weights;
  bool reverse = false;

  const scalar_t* input = nullptr;  // [N, I]
  int64_t input_stride = 0;
  const scalar_t* output = nullptr;  // [N, H], rows `output_stride` apart
  int64_t output_stride = 0;
  const scalar_t* h0 = nullptr;            // [B, H]
  const scalar_t* input_gates = nullptr;   // [N, 3H] ĝi
  const scalar_t* hidden_gates = nullptr;  // [N, 3H] ĝh
  const scalar_t* rstd = nullptr;          // [N, 2]

  const scalar_t* grad_output = nullptr;  // [N, H] rows `grad_output_stride` apart, or nullptr
  int64_t grad_output_stride = 0;
  scalar_t* grad_h_state = nullptr;  // [B, H]: ∂L/∂h_n on entry, ∂L/∂h_0 on return

  scalar_t* grad_input = nullptr;  // [N, I] or nullptr; written, or added to when accumulating
  int64_t grad_input_stride = 0;
  bool accumulate_grad_input = false;
  scalar_t* grad_w_ih = nullptr;          // [3H, I]
  scalar_t* grad_w_hh = nullptr;          // [3H, H]
  scalar_t* grad_ln_ih_weight = nullptr;  // [3H]
  scalar_t* grad_ln_ih_bias = nullptr;    // [3H] (= ∂b_ih)
  scalar_t* grad_ln_hh_weight = nullptr;  // [3H]
  scalar_t* grad_ln_hh_bias = nullptr;    // [3H] (= ∂b_hh)

  // Workspaces. The backward runs a window of `window_steps` steps at a time
  // (backward_window_steps with rows of 3H values), its row workspaces holding `workspace_rows`
  // rows: one window's (backward_window_rows).
  int64_t window_steps = 0;
  int64_t workspace_rows = 0;
  scalar_t* grad_input_gates = nullptr;  // [workspace_rows, 3H]: ∂gi, then ∂(x·W_ihᵀ)
  scalar_t* grad_hidden_raw = nullptr;   // [workspace_rows, 3H]: ∂gh, then ∂(h·W_hhᵀ)
  scalar_t* previous_h = nullptr;        // [workspace_rows, H], packed: each row's previous state

  // Set by layer_norm_gru_layer_backward for each window: its steps, the sequence row that is
  // row 0 of the workspaces, and whether it is the direction's first (the loop's parameter
  // gradient sums start at zero there and add up over the windows).
  StepWindow window;
  int64_t workspace_first_row = 0;
  bool first_window = true;
};

template <typename scalar_t>
void layer_norm_gru_layer_forward(const LayerNormGruForwardArgs<scalar_t>* directions,
                                  int64_t count);

template <typename scalar_t>
void layer_norm_gru_layer_backward(const LayerNormGruBackwardArgs<scalar_t>* directions,
                                   int64_t count);

#define TORCH_EXT_DECLARE_LAYER_NORM_GRU_KERNELS(capability)                               \
  namespace capability {                                                                   \
  template <typename scalar_t>                                                             \
  void layer_norm_gru_layer_forward(const LayerNormGruForwardArgs<scalar_t>* directions,   \
                                    int64_t count);                                        \
  template <typename scalar_t>                                                             \
  void layer_norm_gru_layer_backward(const LayerNormGruBackwardArgs<scalar_t>* directions, \
                                     int64_t count);                                       \
  }
TORCH_EXT_DECLARE_LAYER_NORM_GRU_KERNELS(DEFAULT)
TORCH_EXT_DECLARE_LAYER_NORM_GRU_KERNELS(AVX2)
TORCH_EXT_DECLARE_LAYER_NORM_GRU_KERNELS(AVX512)
#undef TORCH_EXT_DECLARE_LAYER_NORM_GRU_KERNELS

}  // namespace torch_ext::kernels
