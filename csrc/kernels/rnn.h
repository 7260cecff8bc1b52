// Vanilla RNN layer kernels (tanh or ReLU): one direction of one layer over a whole (possibly
// packed) sequence.
//
//   forward:  h_t = act(x_t·W_ihᵀ + b_ih + h_{t-1}·W_hhᵀ + b_hh), x·W_ihᵀ for all steps at once
//   backward: dG = dh ⊙ act'(h_t), with tanh' = 1 − h_t² and relu' = [h_t > 0], read from the
//             output itself (nothing else is saved); dh_{t-1} = dG · W_hh
//   after the loop: dX = dG·W_ih, dW_ih = dGᵀ·X, dW_hh = dGᵀ·H_prev, db_ih = db_hh = Σ_rows dG
#pragma once

#include "kernels/bf16_gemm.h"
#include "kernels/operand.h"
#include "kernels/sequence.h"

#include <cstdint>

namespace torch_ext::kernels {

enum class RnnNonlinearity { Tanh, Relu };

struct RnnSizes {
  int64_t input_size = 0;   // I
  int64_t hidden_size = 0;  // H
  RnnNonlinearity nonlinearity = RnnNonlinearity::Tanh;
};

template <typename scalar_t>
struct RnnWeights {
  Operand<scalar_t> w_ih;  // [H, I] (bfloat16 in a bfloat16 call: only products read it)
  Operand<scalar_t> w_hh;  // [H, H] (likewise)
  const scalar_t* bias = nullptr;  // [H]: b_ih + b_hh (zeros when the layer has no bias)
};

template <typename scalar_t>
struct RnnForwardArgs {
  SequenceLayout sequence;
  RnnSizes sizes;
  RnnWeights<scalar_t> weights;
  bool reverse = false;
  Products products = Products::Native;  // bfloat16 products for a bfloat16 call (float)

  Operand<scalar_t> input;  // [N, I], rows `input_stride` apart (bfloat16 in a bfloat16 call)
  int64_t input_stride = 0;
  scalar_t* output = nullptr;  // [N, H], rows `output_stride` apart
  c10::BFloat16* output_bf16 = nullptr;  // or there, output null (as LstmForwardArgs)
  int64_t output_stride = 0;
  const scalar_t* h0 = nullptr;  // [B, H]
  scalar_t* h_state = nullptr;   // [B, H]: h_n on return
  scalar_t* gates = nullptr;     // [gates_rows, H] scratch: pre-activations of a chunk of steps
  int64_t gates_rows = 0;
};

template <typename scalar_t>
struct RnnBackwardArgs {
  SequenceLayout sequence;
  RnnSizes sizes;
  RnnWeights<scalar_t> weights;
  bool reverse = false;
  Products products = Products::Native;  // bfloat16 products for a bfloat16 call (float)

  Operand<scalar_t> input;  // [N, I] (bfloat16 in a bfloat16 call)
  int64_t input_stride = 0;
  // [N, H], rows `output_stride` apart; bfloat16 in a bfloat16 call (products read it as it is,
  // the pointwise pass each step's rows converted into `state_rows`).
  Operand<scalar_t> output;
  int64_t output_stride = 0;
  const scalar_t* h0 = nullptr;  // [B, H]

  // [N, H] rows `grad_output_stride` apart, or empty; bfloat16 in a bfloat16 call (added to the
  // carried dh before the pointwise pass).
  Operand<scalar_t> grad_output;
  int64_t grad_output_stride = 0;
  scalar_t* grad_h_state = nullptr;  // [B, H]: holds ∂L/∂h_n on entry, ∂L/∂h_0 on return

  scalar_t* grad_input = nullptr;  // [N, I] or nullptr; written, or added to when accumulating
  c10::BFloat16* grad_input_bf16 = nullptr;  // or dX here, rounded (as LstmBackwardArgs)
  int64_t grad_input_stride = 0;
  bool accumulate_grad_input = false;
  scalar_t* grad_w_ih = nullptr;  // [H, I]
  scalar_t* grad_w_hh = nullptr;  // [H, H]
  scalar_t* grad_bias = nullptr;  // [H] or nullptr (no bias)
  // Or, in a bfloat16 call whose backward is one window (bfloat16 products), the weight
  // gradients written in bfloat16, rounded once (recurrence.h weight_gradient); their float
  // pointers are then null.
  c10::BFloat16* grad_w_ih_bf16 = nullptr;
  c10::BFloat16* grad_w_hh_bf16 = nullptr;

  // The backward runs a window of `window_steps` steps at a time (backward_window_steps with
  // rows of H values): the loop back through the window's steps, then its products (dX, dW).
  // The row workspaces hold `workspace_rows` rows, one window's (backward_window_rows).
  int64_t window_steps = 0;
  int64_t workspace_rows = 0;
  scalar_t* grad_gates = nullptr;  // [workspace_rows, H]: dG of the window's rows
  // Or, with bfloat16 products, dG rounded into bfloat16 rows (grad_gates null): every reader but
  // the bias sum is a product, which rounds it to bfloat16 anyway.
  c10::BFloat16* grad_gates_bf16 = nullptr;
  scalar_t* previous_h = nullptr;  // [workspace_rows, H], packed sequences: each row's h_{t-1}
  scalar_t* state_rows = nullptr;  // [B, H], a bfloat16 output only: a step's rows as float

  // Set by rnn_layer_backward for each window: its steps, and the sequence row that is row 0
  // of the workspaces.
  StepWindow window;
  int64_t workspace_first_row = 0;
};

template <typename scalar_t>
void rnn_layer_forward(const RnnForwardArgs<scalar_t>* directions, int64_t count);

template <typename scalar_t>
void rnn_layer_backward(const RnnBackwardArgs<scalar_t>* directions, int64_t count);

#define TORCH_EXT_DECLARE_RNN_KERNELS(capability)                                       \
  namespace capability {                                                                \
  template <typename scalar_t>                                                          \
  void rnn_layer_forward(const RnnForwardArgs<scalar_t>* directions, int64_t count);    \
  template <typename scalar_t>                                                          \
  void rnn_layer_backward(const RnnBackwardArgs<scalar_t>* directions, int64_t count);  \
  }
TORCH_EXT_DECLARE_RNN_KERNELS(DEFAULT)
TORCH_EXT_DECLARE_RNN_KERNELS(AVX2)
TORCH_EXT_DECLARE_RNN_KERNELS(AVX512)
#undef TORCH_EXT_DECLARE_RNN_KERNELS

}  // namespace torch_ext::kernels
