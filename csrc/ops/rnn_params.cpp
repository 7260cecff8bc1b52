#include "ops/rnn_params.h"

#include "ops/checks.h"
#include "ops/precision.h"

#include <ATen/ops/add.h>
#include <ATen/ops/zeros.h>
#include <c10/util/Exception.h>

namespace torch_ext::ops {

RnnDirectionParams direction_params(at::TensorList params, const RnnParamLayout& layout,
                                    int64_t layer, int64_t direction) {
  const int64_t first = layout.first(layer, direction);
  RnnDirectionParams result;
  result.w_ih = params[first];
  result.w_hh = params[first + 1];
  int64_t next = first + 2;
  if (layout.has_biases) {
    result.b_ih = params[next];
    result.b_hh = params[next + 1];
    next += 2;
  }
  if (layout.projected) {
    result.w_hr = params[next++];
  }
  at::Tensor* norms[] = {&result.ln_ih_weight, &result.ln_ih_bias, &result.ln_hh_weight,
                         &result.ln_hh_bias, &result.ln_cell_weight, &result.ln_cell_bias};
  for (int64_t i = 0; i < 2 * layout.layer_norms; ++i) {
    *norms[i] = params[next++];
  }
  return result;
}

std::string param_name(const char* kind, int64_t layer, int64_t direction) {
  return std::string(kind) + "_l" + std::to_string(layer) + (direction == 1 ? "_reverse" : "");
}

std::string describe_param_count(const RnnParamLayout& layout) {
  return std::to_string(layout.total()) + " tensors (" + std::to_string(layout.num_layers) +
         " layer(s) x " + std::to_string(layout.directions) + " direction(s) x " +
         std::to_string(layout.per_direction()) + " per direction: weight_ih, weight_hh" +
         (layout.has_biases ? ", bias_ih, bias_hh" : "") + (layout.projected ? ", weight_hr" : "") +
         (layout.layer_norms >= 2 ? ", ln_ih_weight, ln_ih_bias, ln_hh_weight, ln_hh_bias" : "") +
         (layout.layer_norms >= 3 ? ", ln_cell_weight, ln_cell_bias" : "") + ")";
}

void check_rnn_params(const char* op, at::TensorList params, const RnnParamLayout& layout,
                      const at::Tensor& reference, const c10::SymInt& input_size,
                      const c10::SymInt& hidden_size, const c10::SymInt& state_size) {
  TORCH_CHECK(static_cast<int64_t>(params.size()) == layout.total(), op, ": expected params to hold ",
              describe_param_count(layout), ", got ", params.size());
  const c10::SymInt gate_size = hidden_size * layout.gates;
  // A wrong input width shows first as a mismatch with weight_ih_l0: name the input instead.
  if (params[0].defined() && params[0].dim() == 2) {
    TORCH_CHECK(params[0].sym_size(1) == input_size, op,
                ": input.size(-1) must be equal to input_size. Expected ", params[0].sym_size(1),
                ", got ", input_size);
  }
  for (int64_t layer = 0; layer < layout.num_layers; ++layer) {
    const c10::SymInt layer_input =
        layer == 0 ? input_size : state_size * layout.directions;
    for (int64_t direction = 0; direction < layout.directions; ++direction) {
      const RnnDirectionParams p = direction_params(params, layout, layer, direction);
      const auto check = [&](const char* kind, const at::Tensor& tensor,
                             const std::vector<c10::SymInt>& sizes) {
        const std::string name = param_name(kind, layer, direction);
        check_like(op, name.c_str(), tensor, "input", reference);
        check_sizes(op, name.c_str(), tensor, sizes);
      };
      check("weight_ih", p.w_ih, {gate_size, layer_input});
      check("weight_hh", p.w_hh, {gate_size, state_size});
      if (layout.has_biases) {
        check("bias_ih", p.b_ih, {gate_size});
        check("bias_hh", p.b_hh, {gate_size});
      }
      if (layout.projected) {
        check("weight_hr", p.w_hr, {state_size, hidden_size});
      }
      if (layout.layer_norms >= 2) {
        check("ln_ih_weight", p.ln_ih_weight, {gate_size});
        check("ln_ih_bias", p.ln_ih_bias, {gate_size});
        check("ln_hh_weight", p.ln_hh_weight, {gate_size});
        check("ln_hh_bias", p.ln_hh_bias, {gate_size});
      }
      if (layout.layer_norms >= 3) {
        check("ln_cell_weight", p.ln_cell_weight, {hidden_size});
        check("ln_cell_bias", p.ln_cell_bias, {hidden_size});
      }
    }
  }
}

at::Tensor summed_bias(const RnnDirectionParams& p, int64_t size) {
  return p.b_ih.defined() ? at::add(widen(p.b_ih), widen(p.b_hh)).contiguous()
                          : at::zeros({size}, compute_options(p.w_ih));
}

}  // namespace torch_ext::ops
