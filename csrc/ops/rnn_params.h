// The flat parameter list of a recurrent op (ATen's layout, shared by every cell):
//
//   for each layer, for each direction (forward, then reverse):
//     weight_ih [G·H, in], weight_hh [G·H, R], (bias_ih [G·H], bias_hh [G·H]), (weight_hr [R, H])
//
// and for the layer-norm cells, after those: ln_ih_weight, ln_ih_bias, ln_hh_weight, ln_hh_bias
// [G·H], and for the LSTM ln_cell_weight, ln_cell_bias [H].
//
// with G gates (4 LSTM, 3 GRU, 1 RNN), `in` the input size of the first layer and D·R above it,
// and R = P for an LSTM with projections, else H. Names in messages follow torch.nn
// (weight_hh_l1_reverse).
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/SymInt.h>
#include <c10/util/ArrayRef.h>

#include <string>

namespace torch_ext::ops {

struct RnnParamLayout {
  int64_t gates = 1;      // G
  bool has_biases = true;
  bool projected = false;  // weight_hr present (LSTM with proj_size > 0)
  int64_t layer_norms = 0;  // 0; 2 (ln_ih, ln_hh); 3 (and ln_cell): weight and bias each
  int64_t num_layers = 1;
  int64_t directions = 1;

  int64_t per_direction() const {
    return 2 + (has_biases ? 2 : 0) + (projected ? 1 : 0) + 2 * layer_norms;
  }
  int64_t total() const { return num_layers * directions * per_direction(); }
  // Index in the flat list of the first tensor of (layer, direction).
  int64_t first(int64_t layer, int64_t direction) const {
    return (layer * directions + direction) * per_direction();
  }
};

// The tensors of one (layer, direction); those the layout lacks are undefined.
struct RnnDirectionParams {
  at::Tensor w_ih, w_hh, b_ih, b_hh, w_hr;
  at::Tensor ln_ih_weight, ln_ih_bias, ln_hh_weight, ln_hh_bias, ln_cell_weight, ln_cell_bias;
};

RnnDirectionParams direction_params(at::TensorList params, const RnnParamLayout& layout,
                                    int64_t layer, int64_t direction);

// The one bias b_ih + b_hh that the LSTM's and RNN's kernels add, contiguous and in the kernels'
// type (bfloat16 biases widened first); `size` zeros when the direction has no biases.
at::Tensor summed_bias(const RnnDirectionParams& p, int64_t size);

// "weight_hh_l1_reverse".
std::string param_name(const char* kind, int64_t layer, int64_t direction);

// "8 tensors (1 layer(s) x 2 direction(s) x 4 per direction: weight_ih, weight_hh, bias_ih,
// bias_hh)": what a params list of `layout` holds.
std::string describe_param_count(const RnnParamLayout& layout);

// Checks the number of tensors, then each tensor's dtype and device (those of `reference`) and
// shape, for input size `input_size`, hidden size H and state size R (P with projections).
void check_rnn_params(const char* op, at::TensorList params, const RnnParamLayout& layout,
                      const at::Tensor& reference, const c10::SymInt& input_size,
                      const c10::SymInt& hidden_size, const c10::SymInt& state_size);

}  // namespace torch_ext::ops
