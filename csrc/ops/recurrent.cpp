#include "ops/recurrent.h"

#include "ops/checks.h"

#include <ATen/ops/cat.h>
#include <ATen/ops/dropout.h>
#include <ATen/ops/zeros.h>
#include <ATen/ops/zeros_like.h>
#include <c10/util/Exception.h>

#include <string>

namespace torch_ext::ops {

LayerShape check_layer(const char* op, const at::Tensor& input,
                       const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
                       const at::Tensor* cx, at::TensorList params, RnnParamLayout layout,
                       bool may_project) {
  LayerShape shape;
  shape.packed = batch_sizes.has_value() && batch_sizes->defined();
  check_floating_tensor(op, "input", input);
  if (shape.packed) {
    check_dim(op, "input", input, 2, "[rows, input_size] (packed)");
    // The values are read by the CPU kernels (sequence_rows); the Meta kernels check this much,
    // so that batch_sizes on the meta device beside CPU tensors is refused there too.
    check_batch_sizes_tensor(op, *batch_sizes, input);
  } else {
    check_dim(op, "input", input, 3, "[seq_len, batch, input_size]");
    TORCH_CHECK(input.sym_size(0) > 0, op,
                ": expected sequence length to be larger than 0, got input of shape ",
                format_sizes(input.sym_sizes()));
  }
  check_floating_tensor(op, "hx", hx);
  check_dim(op, "hx", hx, 3, "[num_directions, batch, state_size]");
  check_like(op, "hx", hx, "input", input);
  if (cx != nullptr) {
    check_floating_tensor(op, "cx", *cx);
    check_dim(op, "cx", *cx, 3, "[num_directions, batch, hidden_size]");
    check_like(op, "cx", *cx, "input", input);
  }

  layout.num_layers = 1;
  RnnParamLayout projected = layout;
  projected.projected = true;
  if (may_project) {
    // The params list tells a projected layer (weight_hr) from a plain one; a list of neither
    // length is the error to report, before the state sizes that depend on the choice.
    const auto count = static_cast<int64_t>(params.size());
    TORCH_CHECK(count == layout.total() || count == projected.total(), op,
                ": expected params to hold ", describe_param_count(layout), " or ",
                describe_param_count(projected), ", got ", count);
    layout.projected = count == projected.total();
  }
  shape.layout = layout;
  shape.input_size = input.sym_size(-1);
  shape.hidden_size = cx != nullptr ? cx->sym_size(2) : hx.sym_size(2);
  shape.state_size = layout.projected ? hx.sym_size(2) : shape.hidden_size;
  shape.batch = shape.packed ? hx.sym_size(1) : input.sym_size(1);
  shape.rows = shape.packed ? input.sym_size(0) : input.sym_size(0) * input.sym_size(1);
  if (may_project && cx != nullptr && !layout.projected) {
    // ATen's lstm reads a projection from the states' sizes, the layer op from its params: name
    // both rather than blame hx alone.
    const std::vector<c10::SymInt> plain{layout.directions, shape.batch, shape.hidden_size};
    TORCH_CHECK(hx.sym_size(2) == cx->sym_size(2), op, ": expected hx of shape ",
                format_sizes(plain), " (cx's features: no projection), got ",
                format_sizes(hx.sym_sizes()),
                "; a projected layer's hx is narrower than cx, but its params hold weight_hr too: ",
                describe_param_count(projected), ", not ", params.size());
  }
  check_sizes(op, "hx", hx, {layout.directions, shape.batch, shape.state_size});
  if (cx != nullptr) {
    check_sizes(op, "cx", *cx, {layout.directions, shape.batch, shape.hidden_size});
  }
  check_rnn_params(op, params, layout, input, shape.input_size, shape.hidden_size,
                   shape.state_size);
  return shape;
}

SequenceRows sequence_rows(const char* op, const at::Tensor& input,
                           const std::optional<at::Tensor>& batch_sizes, int64_t batch) {
  if (batch_sizes.has_value() && batch_sizes->defined()) {
    std::vector<int64_t> sizes = checked_batch_sizes(op, *batch_sizes, input.size(0));
    TORCH_CHECK(sizes.front() == batch, op, ": batch_sizes[0] = ", sizes.front(),
                " but the hidden state holds ", batch, " sequences");
    return SequenceRows::packed(std::move(sizes));
  }
  return SequenceRows::padded(input.size(0), input.size(1));
}

std::vector<c10::SymInt> layer_output_sizes(const at::Tensor& input, const LayerShape& shape) {
  const c10::SymInt width = shape.state_size * shape.layout.directions;
  if (shape.packed) {
    return {input.sym_size(0), width};
  }
  return {input.sym_size(0), input.sym_size(1), width};
}

at::Tensor contiguous_or_zeros(const std::optional<at::Tensor>& grad, const at::Tensor& like) {
  if (grad.has_value() && grad->defined()) {
    return grad->clone(at::MemoryFormat::Contiguous);
  }
  return at::zeros_like(like, at::MemoryFormat::Contiguous);
}

GradientRows gradient_rows(const std::optional<at::Tensor>& grad, int64_t width) {
  if (!grad.has_value() || !grad->defined()) {
    return {};
  }
  const at::Tensor& values = *grad;
  bool one_row = values.dim() >= 2 && values.numel() > 0 && values.size(-1) == width;
  for (int64_t d = 0; one_row && d + 1 < values.dim(); ++d) {
    one_row = values.stride(d) == 0 || values.size(d) == 1;
  }
  if (one_row) {
    return {values.as_strided({width}, {values.stride(-1)}, values.storage_offset()).contiguous(),
            0};
  }
  return {values.contiguous(), width};
}

void check_states(const char* op, const std::vector<at::Tensor>& states) {
  for (size_t i = 0; i < states.size(); ++i) {
    const std::string name = "hx[" + std::to_string(i) + "]";
    check_floating_tensor(op, name.c_str(), states[i]);
    check_dim(op, name.c_str(), states[i], 3, "[num_layers * num_directions, batch, hidden_size]");
  }
}

std::vector<at::Tensor> run_layers(const char* op, const at::Tensor& x, bool packed,
                                   const std::vector<at::Tensor>& states, at::TensorList params,
                                   const RnnParamLayout& layout, double dropout, bool train,
                                   const c10::SymInt& state_size, const c10::SymInt& hidden_size,
                                   const LayerFunction& layer) {
  TORCH_CHECK(layout.num_layers >= 1, op, ": expected num_layers >= 1, got ", layout.num_layers);
  TORCH_CHECK(dropout >= 0 && dropout <= 1, op, ": expected dropout in [0, 1], got ", dropout);
  const int64_t D = layout.directions;
  check_states(op, states);
  const c10::SymInt batch = packed ? states.front().sym_size(1) : x.sym_size(1);
  for (size_t i = 0; i < states.size(); ++i) {
    const std::string name = "hx[" + std::to_string(i) + "]";
    // The first state is h (R features); an LSTM's second is c (H features).
    const c10::SymInt features = i == 0 ? state_size : hidden_size;
    check_like(op, name.c_str(), states[i], "input", x);
    check_sizes(op, name.c_str(), states[i], {layout.num_layers * D, batch, features});
  }
  check_rnn_params(op, params, layout, x, x.sym_size(-1), hidden_size, state_size);

  std::vector<std::vector<at::Tensor>> final_states(states.size());
  at::Tensor layer_input = x;
  for (int64_t index = 0; index < layout.num_layers; ++index) {
    std::vector<at::Tensor> layer_states;
    layer_states.reserve(states.size());
    for (const at::Tensor& state : states) {
      layer_states.push_back(state.narrow(0, index * D, D));
    }
    const at::TensorList layer_params =
        params.slice(layout.first(index, 0), D * layout.per_direction());
    std::vector<at::Tensor> results = layer(layer_input, layer_states, layer_params);
    for (size_t i = 0; i < states.size(); ++i) {
      final_states[i].push_back(results[i + 1]);
    }
    at::Tensor output = results[0];
    if (dropout > 0 && train && index + 1 < layout.num_layers) {
      output = at::dropout(output, dropout, train);
    }
    layer_input = output;
  }
  std::vector<at::Tensor> results{layer_input};
  for (const std::vector<at::Tensor>& per_layer : final_states) {
    results.push_back(at::cat(per_layer, 0));
  }
  return results;
}

at::Tensor time_major_input(const char* op, const at::Tensor& input, bool batch_first) {
  check_floating_tensor(op, "input", input);
  check_dim(op, "input", input, 3,
            batch_first ? "[batch, seq_len, input_size]" : "[seq_len, batch, input_size]");
  return batch_first ? input.transpose(0, 1) : input;
}

void check_cell_input(const char* op, const at::Tensor& input, const at::Tensor& w_ih,
                      const at::Tensor& w_hh) {
  check_floating_tensor(op, "input", input);
  check_dim(op, "input", input, 2, "[batch, input_size]");
  check_floating_tensor(op, "w_ih", w_ih);
  check_dim(op, "w_ih", w_ih, 2, "[gates * hidden_size, input_size]");
  check_floating_tensor(op, "w_hh", w_hh);
  check_dim(op, "w_hh", w_hh, 2, "[gates * hidden_size, hidden_size]");
  TORCH_CHECK(input.sym_size(1) == w_ih.sym_size(1), "input has inconsistent input_size: got ",
              input.sym_size(1), " expected ", w_ih.sym_size(1));
}

void check_cell_state(const char* op, const at::Tensor& input, const at::Tensor& state,
                      const at::Tensor& w_hh, int64_t index) {
  const std::string name = "hx[" + std::to_string(index) + "]";
  check_floating_tensor(op, name.c_str(), state);
  // ATen's order and words. ATen reads the state's size(0) and size(1) before its rank, so a
  // state of too few dimensions fails there with IndexError: ours raises the same type, but
  // names the state.
  const auto check_rank = [&](int64_t dims) {
    TORCH_CHECK_INDEX(state.dim() >= dims, op, ": expected ", name,
                      " to be 2-D [batch, hidden_size], got a ", state.dim(), "-D tensor of shape ",
                      format_sizes(state.sym_sizes()));
  };
  check_rank(1);
  TORCH_CHECK(input.sym_size(0) == state.sym_size(0), "Input batch size ", input.sym_size(0),
              " doesn't match hidden", index, " batch size ", state.sym_size(0));
  check_rank(2);
  TORCH_CHECK(state.sym_size(1) == w_hh.sym_size(1), "hidden", index,
              " has inconsistent hidden_size: got ", state.sym_size(1), ", expected ",
              w_hh.sym_size(1));
  check_dim(op, name.c_str(), state, 2, "[batch, hidden_size]");
}

void check_cell_states(const char* op, const at::Tensor& input, at::TensorList states,
                       at::TensorList params) {
  check_floating_tensor(op, "input", input);
  check_dim(op, "input", input, 2, "[batch, input_size]");
  TORCH_CHECK(params.size() >= 2, op, ": expected params to start with weight_ih, weight_hh, got ",
              params.size(), " tensors");
  check_floating_tensor(op, "weight_hh", params[1]);
  check_dim(op, "weight_hh", params[1], 2, "[gates * hidden_size, hidden_size]");
  for (size_t i = 0; i < states.size(); ++i) {
    const std::string name = states.size() == 1 ? "hx" : "hx[" + std::to_string(i) + "]";
    check_floating_tensor(op, name.c_str(), states[i]);
    check_dim(op, name.c_str(), states[i], 2, "[batch, hidden_size]");
    check_sizes(op, name.c_str(), states[i], {input.sym_size(0), params[1].sym_size(1)});
  }
}

std::vector<at::Tensor> cell_params(const at::Tensor& w_ih, const at::Tensor& w_hh,
                                    const std::optional<at::Tensor>& b_ih,
                                    const std::optional<at::Tensor>& b_hh, bool& has_biases) {
  const bool has_ih = b_ih.has_value() && b_ih->defined();
  const bool has_hh = b_hh.has_value() && b_hh->defined();
  has_biases = has_ih || has_hh;
  std::vector<at::Tensor> params{w_ih, w_hh};
  if (has_biases) {
    const auto bias_or_zeros = [&](bool present, const std::optional<at::Tensor>& bias) {
      return present ? *bias : at::zeros_symint({w_ih.sym_size(0)}, w_ih.options());
    };
    params.push_back(bias_or_zeros(has_ih, b_ih));
    params.push_back(bias_or_zeros(has_hh, b_hh));
  }
  return params;
}

}  // namespace torch_ext::ops
