#include "support/lstm_reference.h"

#include "support/sequence_reference.h"

#include <ATen/ATen.h>

#include <cmath>
#include <sstream>

namespace torch_ext::testing {

std::vector<std::vector<int64_t>> lstm_param_shapes(const LstmConfig& config) {
  const int64_t H = config.hidden_size;
  const int64_t R = config.state_size();
  std::vector<std::vector<int64_t>> shapes;
  for (int64_t layer = 0; layer < config.num_layers; ++layer) {
    const int64_t layer_input = layer == 0 ? config.input_size : config.directions() * R;
    for (int64_t direction = 0; direction < config.directions(); ++direction) {
      shapes.push_back({4 * H, layer_input});
      shapes.push_back({4 * H, R});
      if (config.has_biases) {
        shapes.push_back({4 * H});
        shapes.push_back({4 * H});
      }
      if (config.proj_size > 0) {
        shapes.push_back({R, H});
      }
    }
  }
  return shapes;
}

std::vector<at::Tensor> make_lstm_params(const LstmConfig& config, at::ScalarType dtype,
                                         bool requires_grad) {
  // No hidden units, no weights to draw: any finite bound.
  const double bound =
      config.hidden_size > 0 ? 1.0 / std::sqrt(static_cast<double>(config.hidden_size)) : 1.0;
  std::vector<at::Tensor> params;
  for (const std::vector<int64_t>& shape : lstm_param_shapes(config)) {
    at::Tensor param = at::empty(shape, at::TensorOptions().dtype(dtype)).uniform_(-bound, bound);
    params.push_back(param.requires_grad_(requires_grad));
  }
  return params;
}

std::vector<std::string> lstm_param_names(const LstmConfig& config) {
  std::vector<std::string> names;
  for (int64_t layer = 0; layer < config.num_layers; ++layer) {
    for (int64_t direction = 0; direction < config.directions(); ++direction) {
      const std::string suffix =
          "_l" + std::to_string(layer) + (direction == 1 ? "_reverse" : "");
      names.push_back("weight_ih" + suffix);
      names.push_back("weight_hh" + suffix);
      if (config.has_biases) {
        names.push_back("bias_ih" + suffix);
        names.push_back("bias_hh" + suffix);
      }
      if (config.proj_size > 0) {
        names.push_back("weight_hr" + suffix);
      }
    }
  }
  return names;
}

LstmDirectionWeights direction_weights(at::TensorList params, const LstmConfig& config,
                                       int64_t layer, int64_t direction) {
  size_t next = static_cast<size_t>((layer * config.directions() + direction) *
                                    config.params_per_direction());
  LstmDirectionWeights weights;
  weights.w_ih = params[next++];
  weights.w_hh = params[next++];
  if (config.has_biases) {
    weights.b_ih = params[next++];
    weights.b_hh = params[next++];
  }
  if (config.proj_size > 0) {
    weights.w_hr = params[next++];
  }
  return weights;
}

std::vector<int64_t> batch_sizes_for_lengths(const std::vector<int64_t>& lengths) {
  std::vector<int64_t> batch_sizes;
  for (int64_t t = 0; !lengths.empty() && t < lengths.front(); ++t) {
    int64_t running = 0;
    for (const int64_t length : lengths) {
      running += length > t ? 1 : 0;
    }
    batch_sizes.push_back(running);
  }
  return batch_sizes;
}

std::tuple<at::Tensor, at::Tensor> reference_lstm_cell(const at::Tensor& x, const at::Tensor& h,
                                                       const at::Tensor& c,
                                                       const LstmDirectionWeights& weights) {
  at::Tensor gates = at::matmul(x, weights.w_ih.t()) + at::matmul(h, weights.w_hh.t());
  for (const at::Tensor& bias : {weights.b_ih, weights.b_hh}) {
    if (bias.defined()) {
      gates = gates + bias;
    }
  }
  const std::vector<at::Tensor> chunks = gates.chunk(4, 1);
  const at::Tensor input_gate = at::sigmoid(chunks[0]);
  const at::Tensor forget_gate = at::sigmoid(chunks[1]);
  const at::Tensor cell_gate = at::tanh(chunks[2]);
  const at::Tensor output_gate = at::sigmoid(chunks[3]);
  const at::Tensor c_next = forget_gate * c + input_gate * cell_gate;
  at::Tensor h_next = output_gate * at::tanh(c_next);
  if (weights.w_hr.defined()) {
    h_next = at::matmul(h_next, weights.w_hr.t());
  }
  return {h_next, c_next};
}

namespace {

ReferenceStep lstm_step(const LstmDirectionWeights& weights) {
  return [weights](const at::Tensor& x, const std::vector<at::Tensor>& states) {
    auto [h, c] = reference_lstm_cell(x, states[0], states[1], weights);
    return std::vector<at::Tensor>{h, c};
  };
}

ReferenceStepFor lstm_steps(at::TensorList params, const LstmConfig& config) {
  return [params, config](int64_t layer, int64_t direction) {
    return lstm_step(direction_weights(params, config, layer, direction));
  };
}

}  // namespace

LstmOutputs reference_lstm_direction(const at::Tensor& data, c10::IntArrayRef batch_sizes,
                                     const at::Tensor& h0, const at::Tensor& c0,
                                     const LstmDirectionWeights& weights, bool reverse) {
  auto [output, states] =
      reference_direction(data, batch_sizes, {h0, c0}, lstm_step(weights), reverse);
  return {output, states[0], states[1]};
}

LstmOutputs reference_lstm_packed(const at::Tensor& data, c10::IntArrayRef batch_sizes,
                                  const at::Tensor& h0, const at::Tensor& c0,
                                  at::TensorList params, const LstmConfig& config) {
  const std::vector<at::Tensor> results =
      reference_stack_packed(data, batch_sizes, {h0, c0}, config.num_layers, config.directions(),
                             lstm_steps(params, config));
  return {results[0], results[1], results[2]};
}

LstmOutputs reference_lstm(const at::Tensor& input, const at::Tensor& h0, const at::Tensor& c0,
                           at::TensorList params, const LstmConfig& config, bool batch_first) {
  const std::vector<at::Tensor> results =
      reference_stack(input, {h0, c0}, config.num_layers, config.directions(),
                      lstm_steps(params, config), batch_first);
  return {results[0], results[1], results[2]};
}

at::Tensor weighted_sum(at::TensorList outputs, at::TensorList weights) {
  at::Tensor total;
  for (size_t k = 0; k < outputs.size(); ++k) {
    if (!outputs[k].defined() || !weights[k].defined()) {
      continue;
    }
    at::Tensor term = (outputs[k] * weights[k]).sum();
    total = total.defined() ? total + term : term;
  }
  return total;
}

std::string dtype_name(at::ScalarType dtype) {
  return dtype == at::kDouble ? "float64" : dtype == at::kFloat ? "float32" : c10::toString(dtype);
}

Tolerance tolerance_for(at::ScalarType dtype) {
  return dtype == at::kDouble ? Tolerance{1e-10, 1e-10} : Tolerance{1e-5, 1e-5};
}

::testing::AssertionResult tensors_close(const char* actual_expr, const char* expected_expr,
                                         const at::Tensor& actual, const at::Tensor& expected) {
  // An undefined gradient means zero: accept it against zeros (or another undefined tensor).
  if (!actual.defined() || !expected.defined()) {
    const at::Tensor& defined = actual.defined() ? actual : expected;
    if (!defined.defined() || !defined.detach().ne(0).any().item<bool>()) {
      return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure()
           << (actual.defined() ? expected_expr : actual_expr) << " is undefined but "
           << (actual.defined() ? actual_expr : expected_expr) << " holds non-zero values";
  }
  if (actual.scalar_type() != expected.scalar_type() || actual.sizes() != expected.sizes()) {
    return ::testing::AssertionFailure()
           << actual_expr << " is " << actual.scalar_type() << actual.sizes() << " but "
           << expected_expr << " is " << expected.scalar_type() << expected.sizes();
  }
  if (expected.numel() == 0) {
    return ::testing::AssertionSuccess();
  }
  const Tolerance tolerance = tolerance_for(expected.scalar_type());
  const at::Tensor a = actual.detach().to(at::kDouble);
  const at::Tensor b = expected.detach().to(at::kDouble);
  const at::Tensor error = (a - b).abs();
  const at::Tensor excess = error - (tolerance.atol + tolerance.rtol * b.abs());
  // NaN in either tensor counts as a mismatch (NaN never compares <= anything).
  const at::Tensor within = excess.le(0);
  if (within.all().item<bool>()) {
    return ::testing::AssertionSuccess();
  }
  const int64_t failures = within.logical_not().sum().item<int64_t>();
  const int64_t worst = at::where(within, at::zeros_like(excess), excess.nan_to_num(1e300))
                            .flatten()
                            .argmax()
                            .item<int64_t>();
  std::ostringstream message;
  message << actual_expr << " differs from " << expected_expr << " at " << failures << " of "
          << expected.numel() << " elements (rtol " << tolerance.rtol << ", atol "
          << tolerance.atol << "); worst at flat index " << worst << ": "
          << a.flatten()[worst].item<double>() << " vs " << b.flatten()[worst].item<double>()
          << ", max |difference| " << error.nan_to_num(1e300).max().item<double>();
  return ::testing::AssertionFailure() << message.str();
}

void expect_gradients_close(const std::vector<at::Tensor>& actual,
                            const std::vector<at::Tensor>& expected,
                            const std::vector<std::string>& names) {
  ASSERT_EQ(actual.size(), expected.size());
  ASSERT_EQ(actual.size(), names.size());
  for (size_t k = 0; k < actual.size(); ++k) {
    const at::Tensor& gradient = actual[k];
    const at::Tensor& expected_gradient = expected[k];
    SCOPED_TRACE("gradient w.r.t. " + names[k]);
    EXPECT_TENSORS_CLOSE(gradient, expected_gradient);
  }
}

}  // namespace torch_ext::testing
