// GRU layer kernels: one direction of one layer over a whole (possibly packed) sequence, in
// PyTorch's form (the reset gate applied after the recurrent product) and in the original form
// (reset applied to the state before it).
//
// Gate order r, z, n as in torch.nn.GRU; gi = x·W_ihᵀ + b_ih for all steps in one GEMM.
//
// Reset after (torch.nn.GRU; Keras reset_after=True):
//   gh = h_{t-1}·W_hhᵀ + b_hh
//   r = σ(gi_r + gh_r)   z = σ(gi_z + gh_z)   n = tanh(gi_n + r ⊙ gh_n)
//   h_t = (1 − z) ⊙ n + z ⊙ h_{t-1}
// backward, with dh = ∂L/∂h_t:
//   dn = dh ⊙ (1 − z) ⊙ (1 − n²)       → ∂gi_n = dn, ∂gh_n = dn ⊙ r
//   dr = dn ⊙ gh_n ⊙ r(1 − r)           → ∂gi_r = ∂gh_r = dr
//   dz = dh ⊙ (h_{t-1} − n) ⊙ z(1 − z)  → ∂gi_z = ∂gh_z = dz
//   dh_{t-1} = dh ⊙ z + ∂gh · W_hh
//
// Reset before (the original GRU; Keras reset_after=False):
//   r = σ(gi_r + h_{t-1}·W_hrᵀ + b_hr)   z = σ(gi_z + h_{t-1}·W_hzᵀ + b_hz)
//   n = tanh(gi_n + (r ⊙ h_{t-1})·W_hnᵀ + b_hn)
//   h_t = (1 − z) ⊙ n + z ⊙ h_{t-1}
// backward:
//   dn = dh ⊙ (1 − z) ⊙ (1 − n²)    dz = dh ⊙ (h_{t-1} − n) ⊙ z(1 − z)
//   d(r ⊙ h) = dn · W_hn              dr = d(r ⊙ h) ⊙ h_{t-1} ⊙ r(1 − r)
//   dh_{t-1} = dh ⊙ z + d(r ⊙ h) ⊙ r + [dr, dz] · W_h{r,z}
//   and ∂gi = ∂gh = [dr, dz, dn]; ∂W_hn = dnᵀ · (r ⊙ h_{t-1})
//
// After the loop: dX, dW_ih, dW_hh, db_ih, db_hh as GEMMs and column sums over every row.
#pragma once

#include "kernels/bf16_gemm.h"
#include "kernels/operand.h"
#include "kernels/sequence.h"

#include <cstdint>

namespace torch_ext::kernels {

struct GruSizes {
  int64_t input_size = 0;   // I
  int64_t hidden_size = 0;  // H
  bool reset_after = true;  // PyTorch's form; false: the original form

  int64_t gate_size() const { return 3 * hidden_size; }
};

template <typename scalar_t>
struct GruWeights {
  Operand<scalar_t> w_ih;  // [3H, I] (bfloat16 in a bfloat16 call: only products read it)
  Operand<scalar_t> w_hh;  // [3H, H] (likewise)
  const scalar_t* b_ih = nullptr;  // [3H] (zeros when the layer has no bias)
  const scalar_t* b_hh = nullptr;  // [3H] (zeros when the layer has no bias)
};

template <typename scalar_t>
struct GruForwardArgs {
  SequenceLayout sequence;
  GruSizes sizes;
  GruWeights<scalar_t> weights;
  bool reverse = false;
  Products products = Products::Native;  // bfloat16 products for a bfloat16 call (float)

  Operand<scalar_t> input;  // [N, I], rows `input_stride` apart (bfloat16 in a bfloat16 call)
  int64_t input_stride = 0;
  scalar_t* output = nullptr;  // [N, H], rows `output_stride` apart
  c10::BFloat16* output_bf16 = nullptr;  // or there, output null (as LstmForwardArgs)
  int64_t output_stride = 0;
  const scalar_t* h0 = nullptr;  // [B, H]
  // [B, H]: h_n on return. The steps read h_{t-1} from it (each row's state after its last step
  // so far; h_0 before its first).
  scalar_t* h_state = nullptr;

  // [gates_rows, 3H]: gi of a chunk of steps. Training gives it all N rows, and it returns the
  // activated r, z, n of every row (unless saved_gates_bf16 takes them).
  scalar_t* gates = nullptr;
  int64_t gates_rows = 0;
  // [N, H], training in the reset-after form only (else nullptr, and in a bfloat16 call, which
  // saves it in hidden_n_bf16): gh_n = h·W_hnᵀ + b_hn per row.
  scalar_t* hidden_n = nullptr;
  bool training = false;
  // Training in a bfloat16 call (float kernels), saves_bf16 set: r, z, n rounded into these
  // [N, 3H] rows and gh_n into those [N, H] rows (reset-after form) instead of `gates` and
  // `hidden_n`, the activations a bfloat16 call saves; `gates` then holds gi of a chunk of steps,
  // as in inference. (With no hidden units the rows are empty: null.)
  bool saves_bf16 = false;
  c10::BFloat16* saved_gates_bf16 = nullptr;
  c10::BFloat16* hidden_n_bf16 = nullptr;

  // Whether r, z, n go to `gates` (so it must hold every row).
  bool saves_into_gates() const { return training && !saves_bf16; }
  scalar_t* step_gates = nullptr;  // [B, 3H] scratch: the recurrent product of one step
  scalar_t* reset_state = nullptr;  // [B, H] scratch, reset-before form only: r ⊙ h_{t-1}
};

template <typename scalar_t>
struct GruBackwardArgs {
  SequenceLayout sequence;
  GruSizes sizes;
  GruWeights<scalar_t> weights;
  bool reverse = false;
  Products products = Products::Native;  // bfloat16 products for a bfloat16 call (float)

  // Saved by the forward pass.
  Operand<scalar_t> input;  // [N, I] (bfloat16 in a bfloat16 call)
  int64_t input_stride = 0;
  // [N, H], rows `output_stride` apart; bfloat16 in a bfloat16 call (products read it as it is,
  // the pointwise pass each step's previous states converted into `state_rows`).
  Operand<scalar_t> output;
  int64_t output_stride = 0;
  const scalar_t* h0 = nullptr;  // [B, H]
  // [N, 3H]: r, z, n, and [N, H]: gh_n (reset-after form); bfloat16 in a bfloat16 call (read
  // widened by the pointwise passes).
  Operand<scalar_t> gates;
  Operand<scalar_t> hidden_n;

  // [N, H] rows `grad_output_stride` apart, or empty; bfloat16 in a bfloat16 call (added to the
  // carried dh before the pointwise pass).
  Operand<scalar_t> grad_output;
  int64_t grad_output_stride = 0;
  scalar_t* grad_h_state = nullptr;  // [B, H]: holds ∂L/∂h_n on entry, ∂L/∂h_0 on return

  scalar_t* grad_input = nullptr;  // [N, I] or nullptr; written, or added to when accumulating
  c10::BFloat16* grad_input_bf16 = nullptr;  // or dX here, rounded (as LstmBackwardArgs)
  int64_t grad_input_stride = 0;
  bool accumulate_grad_input = false;
  scalar_t* grad_w_ih = nullptr;  // [3H, I]
  scalar_t* grad_w_hh = nullptr;  // [3H, H]
  scalar_t* grad_b_ih = nullptr;  // [3H] or nullptr (no bias)
  scalar_t* grad_b_hh = nullptr;  // [3H] or nullptr (no bias)
  // Or, in a bfloat16 call whose backward is one window (bfloat16 products), the weight
  // gradients written in bfloat16, rounded once (recurrence.h weight_gradient); their float
  // pointers are then null.
  c10::BFloat16* grad_w_ih_bf16 = nullptr;
  c10::BFloat16* grad_w_hh_bf16 = nullptr;

  // Workspaces. The backward runs a window of `window_steps` steps at a time
  // (backward_window_steps with rows of 3H values), the row workspaces holding `workspace_rows`
  // rows: one window's (backward_window_rows).
  int64_t window_steps = 0;
  int64_t workspace_rows = 0;
  scalar_t* grad_gates = nullptr;  // [rows, 3H]: ∂gh (reset after) or ∂gi = ∂gh (reset before)
  scalar_t* grad_input_n = nullptr;  // [rows, H], reset-after form: ∂gi_n
  // Or, with bfloat16 products, those two rounded into bfloat16 rows (the other null): every
  // reader but the bias sums is a product, which rounds them to bfloat16 anyway.
  c10::BFloat16* grad_gates_bf16 = nullptr;
  c10::BFloat16* grad_input_n_bf16 = nullptr;
  scalar_t* previous_h = nullptr;    // [rows, H], packed sequences: each row's previous state
  scalar_t* reset_state = nullptr;   // [rows, H], reset-before form: r ⊙ h_{t-1} of each row
  scalar_t* grad_reset_state = nullptr;  // [B, H], reset-before form: d(r ⊙ h) of one step
  scalar_t* state_rows = nullptr;  // [B, H], a bfloat16 output only: a step's previous states

  // Set by gru_layer_backward for each window: its steps, and the sequence row that is row 0 of
  // the workspaces.
  StepWindow window;
  int64_t workspace_first_row = 0;
};

// The entry points: one or two directions of a layer (run at once), in the variant compiled for
// this CPU (dispatch.cpp).
template <typename scalar_t>
void gru_layer_forward(const GruForwardArgs<scalar_t>* directions, int64_t count);

template <typename scalar_t>
void gru_layer_backward(const GruBackwardArgs<scalar_t>* directions, int64_t count);

#define TORCH_EXT_DECLARE_GRU_KERNELS(capability)                                       \
  namespace capability {                                                                \
  template <typename scalar_t>                                                          \
  void gru_layer_forward(const GruForwardArgs<scalar_t>* directions, int64_t count);    \
  template <typename scalar_t>                                                          \
  void gru_layer_backward(const GruBackwardArgs<scalar_t>* directions, int64_t count);  \
  }
TORCH_EXT_DECLARE_GRU_KERNELS(DEFAULT)
TORCH_EXT_DECLARE_GRU_KERNELS(AVX2)
TORCH_EXT_DECLARE_GRU_KERNELS(AVX512)
#undef TORCH_EXT_DECLARE_GRU_KERNELS

}  // namespace torch_ext::kernels
