#include "support/recurrence_reference.h"

#include "support/sequence_reference.h"

#include <ATen/ATen.h>

#include <cmath>

namespace torch_ext::testing {

std::string cell_name(Cell cell) {
  switch (cell) {
    case Cell::Gru:
      return "gru";
    case Cell::GruResetBefore:
      return "gru_reset_before";
    case Cell::RnnTanh:
      return "rnn_tanh";
    case Cell::RnnRelu:
      return "rnn_relu";
  }
  return "?";
}

bool aten_has(Cell cell) { return cell != Cell::GruResetBefore; }

std::vector<at::Tensor> make_recurrence_params(const RecurrenceConfig& config, at::ScalarType dtype,
                                               bool requires_grad) {
  const int64_t H = config.hidden_size;
  const int64_t G = config.gates();
  const double bound = H > 0 ? 1.0 / std::sqrt(static_cast<double>(H)) : 1.0;  // none to draw at 0
  const auto options = at::TensorOptions().dtype(dtype);
  std::vector<at::Tensor> params;
  for (int64_t layer = 0; layer < config.num_layers; ++layer) {
    const int64_t layer_input = layer == 0 ? config.input_size : config.directions() * H;
    for (int64_t direction = 0; direction < config.directions(); ++direction) {
      std::vector<std::vector<int64_t>> shapes{{G * H, layer_input}, {G * H, H}};
      if (config.has_biases) {
        shapes.push_back({G * H});
        shapes.push_back({G * H});
      }
      for (const std::vector<int64_t>& shape : shapes) {
        at::Tensor param = at::empty(shape, options).uniform_(-bound, bound);
        params.push_back(param.requires_grad_(requires_grad));
      }
    }
  }
  return params;
}

std::vector<std::string> recurrence_param_names(const RecurrenceConfig& config) {
  // nn.GRU and nn.RNN name their parameters as nn.LSTM without a projection does.
  LstmConfig names;
  names.num_layers = config.num_layers;
  names.bidirectional = config.bidirectional;
  names.has_biases = config.has_biases;
  return lstm_param_names(names);
}

CellWeights cell_weights(at::TensorList params, const RecurrenceConfig& config, int64_t layer,
                         int64_t direction) {
  size_t next = static_cast<size_t>((layer * config.directions() + direction) *
                                    config.params_per_direction());
  CellWeights weights;
  weights.w_ih = params[next++];
  weights.w_hh = params[next++];
  if (config.has_biases) {
    weights.b_ih = params[next++];
    weights.b_hh = params[next++];
  }
  return weights;
}

namespace {

at::Tensor affine(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  const at::Tensor product = at::matmul(x, weight.t());
  return bias.defined() ? product + bias : product;
}

at::Tensor gru_cell(const at::Tensor& x, const at::Tensor& h, const CellWeights& w,
                    bool reset_after) {
  const std::vector<at::Tensor> input_gates = affine(x, w.w_ih, w.b_ih).chunk(3, 1);
  const std::vector<at::Tensor> w_hh = w.w_hh.chunk(3, 0);
  const std::vector<at::Tensor> b_hh =
      w.b_hh.defined() ? w.b_hh.chunk(3, 0) : std::vector<at::Tensor>(3);
  const at::Tensor r = at::sigmoid(input_gates[0] + affine(h, w_hh[0], b_hh[0]));
  const at::Tensor z = at::sigmoid(input_gates[1] + affine(h, w_hh[1], b_hh[1]));
  const at::Tensor n = reset_after
                           ? at::tanh(input_gates[2] + r * affine(h, w_hh[2], b_hh[2]))
                           : at::tanh(input_gates[2] + affine(r * h, w_hh[2], b_hh[2]));
  return (1 - z) * n + z * h;
}

at::Tensor rnn_preactivation(const at::Tensor& x, const at::Tensor& h, const CellWeights& w) {
  return affine(x, w.w_ih, w.b_ih) + affine(h, w.w_hh, w.b_hh);
}

ReferenceStepFor steps_of(at::TensorList params, const RecurrenceConfig& config) {
  return [params, config](int64_t layer, int64_t direction) -> ReferenceStep {
    const CellWeights weights = cell_weights(params, config, layer, direction);
    return [weights, cell = config.cell](const at::Tensor& x,
                                         const std::vector<at::Tensor>& states) {
      return std::vector<at::Tensor>{reference_cell(cell, x, states[0], weights)};
    };
  };
}

}  // namespace

at::Tensor reference_cell(Cell cell, const at::Tensor& x, const at::Tensor& h,
                          const CellWeights& weights) {
  switch (cell) {
    case Cell::Gru:
      return gru_cell(x, h, weights, /*reset_after=*/true);
    case Cell::GruResetBefore:
      return gru_cell(x, h, weights, /*reset_after=*/false);
    case Cell::RnnTanh:
      return at::tanh(rnn_preactivation(x, h, weights));
    case Cell::RnnRelu:
      return at::relu(rnn_preactivation(x, h, weights));
  }
  return at::Tensor();
}

StateOutputs reference_recurrence_packed(const at::Tensor& data, c10::IntArrayRef batch_sizes,
                                         const at::Tensor& h0, at::TensorList params,
                                         const RecurrenceConfig& config) {
  const std::vector<at::Tensor> results = reference_stack_packed(
      data, batch_sizes, {h0}, config.num_layers, config.directions(), steps_of(params, config));
  return {results[0], results[1]};
}

StateOutputs reference_recurrence(const at::Tensor& input, const at::Tensor& h0,
                                  at::TensorList params, const RecurrenceConfig& config,
                                  bool batch_first) {
  const std::vector<at::Tensor> results =
      reference_stack(input, {h0}, config.num_layers, config.directions(),
                      steps_of(params, config), batch_first);
  return {results[0], results[1]};
}

}  // namespace torch_ext::testing
