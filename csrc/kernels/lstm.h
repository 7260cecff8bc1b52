// LSTM layer kernels: one direction of one layer over a whole (possibly packed) sequence.
//
// Forward, gate order i, f, g, o as in torch.nn.LSTM (H hidden units, R = P with a projection of
// size P, else R = H):
//
//   G_x = X · W_ihᵀ                               all steps in one GEMM            [N, 4H]
//   for each step t:  G = G_x[t] + h_{t-1} · W_hhᵀ + b_ih + b_hh                     [B_t, 4H]
//     i = σ(G_i)   f = σ(G_f)   g = tanh(G_g)   o = σ(G_o)
//     c_t = f ⊙ c_{t-1} + i ⊙ g
//     r_t = o ⊙ tanh(c_t)
//     h_t = r_t                 (no projection)
//     h_t = r_t · W_hrᵀ         (projection, h_t has P units)
//
// Backward, back through time, with dh_t = ∂L/∂y_t + (∂L/∂h_t through step t+1) and dc carried:
//
//   dr = dh_t (no projection)   or   dr = dh_t · W_hr
//   dc = dc + dr ⊙ o ⊙ (1 − tanh²(c_t))
//   dG_i = dc ⊙ g ⊙ i(1 − i)     dG_f = dc ⊙ c_{t-1} ⊙ f(1 − f)
//   dG_g = dc ⊙ i ⊙ (1 − g²)     dG_o = dr ⊙ tanh(c_t) ⊙ o(1 − o)
//   dc_{t-1} = dc ⊙ f            dh_{t-1} = dG · W_hh
//
// and after the loop, with every step's dG stacked into [N, 4H]:
//   dX = dG · W_ih    dW_ih = dGᵀ · X    dW_hh = dGᵀ · H_prev    db_ih = db_hh = Σ_rows dG
//   dW_hr = dHᵀ · R   (projection: dH, R stack dh_t and r_t over all rows)
//
// The pointwise parts are one fused pass per step, vectorised with ATen's Vectorized<T>; each file
// of kernels is compiled once per CPU capability (see CMakeLists.txt) and dispatch.cpp picks one.
#pragma once

#include "kernels/bf16_gemm.h"
#include "kernels/operand.h"
#include "kernels/sequence.h"

#include <cstdint>

namespace torch_ext::kernels {

struct LstmSizes {
  int64_t input_size = 0;   // I
  int64_t hidden_size = 0;  // H
  int64_t proj_size = 0;    // P, 0 when the layer has no projection

  int64_t state_size() const { return proj_size > 0 ? proj_size : hidden_size; }  // R
  int64_t gate_size() const { return 4 * hidden_size; }
};

// The matrices only enter products: in a bfloat16 call they stay in bfloat16 (operand.h).
template <typename scalar_t>
struct LstmWeights {
  Operand<scalar_t> w_ih;          // [4H, I]
  Operand<scalar_t> w_hh;          // [4H, R]
  const scalar_t* bias = nullptr;  // [4H], b_ih + b_hh (zeros when the layer has no bias)
  Operand<scalar_t> w_hr;          // [P, H], only with a projection
};

template <typename scalar_t>
struct LstmForwardArgs {
  SequenceLayout sequence;
  LstmSizes sizes;
  LstmWeights<scalar_t> weights;
  bool reverse = false;
  Products products = Products::Native;  // bfloat16 products for a bfloat16 call (float)

  Operand<scalar_t> input;  // [N, I], rows `input_stride` apart (bfloat16 in a bfloat16 call)
  int64_t input_stride = 0;
  scalar_t* output = nullptr;  // [N, R], rows `output_stride` apart (a bidirectional layer
  int64_t output_stride = 0;   // interleaves both directions' outputs)
  // Or, in a bfloat16 call (float kernels), the output in bfloat16, output null: written rounded
  // (recurrence.h OutputRows), read by the products as it is.
  c10::BFloat16* output_bf16 = nullptr;
  const scalar_t* h0 = nullptr;  // [B, R]
  scalar_t* h_state = nullptr;   // [B, R]: h_n on return (each row's state after its last step)
  scalar_t* c_state = nullptr;   // [B, H]: holds c_0 on entry, c_n on return

  // [gates_rows, 4H]: the gate pre-activations of a chunk of steps. Training gives it all N rows,
  // and it returns the activated gates i, f, g, o of every row, which backward reads (unless
  // saved_gates_bf16 takes them).
  scalar_t* gates = nullptr;
  int64_t gates_rows = 0;
  scalar_t* cells = nullptr;        // [N, H], training only (else nullptr): c_t of every row
  // Training in a bfloat16 call (float kernels), saves_bf16 set: the activated gates rounded
  // into these [N, 4H] rows instead, the activations a bfloat16 call saves; `gates` then holds a
  // chunk of steps, as in inference. The cells stay float32: c is the state the step adds to.
  // (With no hidden units the rows are empty: null.)
  bool saves_bf16 = false;
  c10::BFloat16* saved_gates_bf16 = nullptr;

  // Whether training (cells set) saves the activated gates in `gates` (so it must hold every row).
  bool saves_into_gates() const { return cells != nullptr && !saves_bf16; }
  scalar_t* projection_in = nullptr;  // [B, H] scratch for r_t, only with a projection
};

template <typename scalar_t>
struct LstmBackwardArgs {
  SequenceLayout sequence;
  LstmSizes sizes;
  LstmWeights<scalar_t> weights;
  bool reverse = false;
  Products products = Products::Native;  // bfloat16 products for a bfloat16 call (float)

  // Saved by the forward pass. In a bfloat16 call the input and output stay in bfloat16: only
  // products read them.
  Operand<scalar_t> input;  // [N, I], rows `input_stride` apart
  int64_t input_stride = 0;
  Operand<scalar_t> output;  // [N, R], rows `output_stride` apart
  int64_t output_stride = 0;
  const scalar_t* h0 = nullptr;     // [B, R]
  const scalar_t* c0 = nullptr;     // [B, H]
  Operand<scalar_t> gates;  // [N, 4H], activated (bfloat16 in a bfloat16 call, read widened)
  const scalar_t* cells = nullptr;  // [N, H]

  // Incoming gradients; grad_output may be empty (no gradient reaches the outputs), and is in
  // bfloat16 in a bfloat16 call.
  Operand<scalar_t> grad_output;  // [N, R], rows `grad_output_stride` apart
  int64_t grad_output_stride = 0;
  scalar_t* grad_h_state = nullptr;  // [B, R]: holds ∂L/∂h_n on entry, ∂L/∂h_0 on return
  scalar_t* grad_c_state = nullptr;  // [B, H]: holds ∂L/∂c_n on entry, ∂L/∂c_0 on return

  // Results. grad_input may be nullptr (not needed); otherwise it is written, or added to when
  // accumulate_grad_input is set (the second direction of a bidirectional layer). A bfloat16
  // call whose dX no other direction adds to may instead set grad_input_bf16 (float only): dX is
  // then written there, rounded, and grad_input stays null (recurrence.h write_input_gradient).
  scalar_t* grad_input = nullptr;  // [N, I], rows `grad_input_stride` apart
  c10::BFloat16* grad_input_bf16 = nullptr;  // [N, I], rows `grad_input_stride` apart
  int64_t grad_input_stride = 0;
  bool accumulate_grad_input = false;
  scalar_t* grad_w_ih = nullptr;   // [4H, I]
  scalar_t* grad_w_hh = nullptr;   // [4H, R]
  scalar_t* grad_bias = nullptr;   // [4H], nullptr when the layer has no bias
  scalar_t* grad_w_hr = nullptr;   // [P, H], only with a projection
  // Or, in a bfloat16 call whose backward is one window (bfloat16 products), the weight
  // gradients written in bfloat16, rounded once (recurrence.h weight_gradient); their float
  // pointers are then null.
  c10::BFloat16* grad_w_ih_bf16 = nullptr;
  c10::BFloat16* grad_w_hh_bf16 = nullptr;
  c10::BFloat16* grad_w_hr_bf16 = nullptr;

  // The backward runs a window of `window_steps` steps at a time (backward_window_steps with
  // rows of 4H values): the loop back through the window's steps, then its products (dX, dW).
  // The row workspaces hold `workspace_rows` rows, one window's (backward_window_rows).
  int64_t window_steps = 0;
  int64_t workspace_rows = 0;
  scalar_t* grad_gates = nullptr;    // [workspace_rows, 4H]: dG of the window's rows
  // Or, with bfloat16 products, dG rounded into bfloat16 rows (grad_gates null): every reader but
  // the bias sum is a product, which rounds it to bfloat16 anyway.
  c10::BFloat16* grad_gates_bf16 = nullptr;
  scalar_t* previous_h = nullptr;    // [workspace_rows, R], used when the sequence is packed
  scalar_t* grad_h_rows = nullptr;   // [workspace_rows, P], only with a projection: dh_t
  scalar_t* projection_in = nullptr;  // [workspace_rows, H], only with a projection: r_t
  scalar_t* grad_projection_in = nullptr;  // [B, H], only with a projection

  // Set by lstm_layer_backward for each window: its steps, and the sequence row that is row 0
  // of the workspaces.
  StepWindow window;
  int64_t workspace_first_row = 0;
};

// The entry points: one or two directions of a layer (a bidirectional layer runs both at
// once), in the variant compiled for this CPU (dispatch.cpp).
template <typename scalar_t>
void lstm_layer_forward(const LstmForwardArgs<scalar_t>* directions, int64_t count);

template <typename scalar_t>
void lstm_layer_backward(const LstmBackwardArgs<scalar_t>* directions, int64_t count);

// The per-capability implementations, called by the dispatching entry points above.
#define TORCH_EXT_DECLARE_LSTM_KERNELS(capability)                                          \
  namespace capability {                                                                    \
  template <typename scalar_t>                                                              \
  void lstm_layer_forward(const LstmForwardArgs<scalar_t>* directions, int64_t count);      \
  template <typename scalar_t>                                                              \
  void lstm_layer_backward(const LstmBackwardArgs<scalar_t>* directions, int64_t count);    \
  }
TORCH_EXT_DECLARE_LSTM_KERNELS(DEFAULT)
TORCH_EXT_DECLARE_LSTM_KERNELS(AVX2)
TORCH_EXT_DECLARE_LSTM_KERNELS(AVX512)
#undef TORCH_EXT_DECLARE_LSTM_KERNELS

}  // namespace torch_ext::kernels
