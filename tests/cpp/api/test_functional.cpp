// The C++ functions of include/torch_ext/ops.h (csrc/api/functional.cpp): each against its ATen
// namesake (values and gradients through the functions' autograd), and the layer op's two halves
// against the layer op; the layer-norm functions against at::layer_norm, and the layer-normalised
// LSTM's and GRU's sequence, cell and layer functions against each other (their math is checked
// against ATen references in test_layer_norm_rnn.cpp and the Python tests).
#include "support/lstm_reference.h"

#include <torch_ext/ops.h>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

#include <gtest/gtest.h>

#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace torch_ext::testing {
namespace {

using at::Tensor;

std::vector<Tensor> leaves(const std::vector<Tensor>& tensors) {
  std::vector<Tensor> result;
  for (const Tensor& tensor : tensors) {
    result.push_back(tensor.detach().clone().requires_grad_(true));
  }
  return result;
}

// The gradients w.r.t. `inputs` of Σ ⟨outputs[k], probes[k]⟩ with fixed probes.
std::vector<Tensor> gradients(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs) {
  std::vector<Tensor> probes;
  for (size_t k = 0; k < outputs.size(); ++k) {
    probes.push_back(at::sin(at::arange(outputs[k].numel(), outputs[k].options()) * 0.61 +
                             static_cast<double>(k))
                         .reshape(outputs[k].sizes()));
  }
  const Tensor loss = weighted_sum(outputs, probes);
  return torch::autograd::grad({loss}, inputs, /*grad_outputs=*/{}, /*retain_graph=*/false,
                               /*create_graph=*/false, /*allow_unused=*/true);
}

void expect_all_close(const std::vector<Tensor>& actual, const std::vector<Tensor>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t k = 0; k < actual.size(); ++k) {
    SCOPED_TRACE("entry " + std::to_string(k));
    EXPECT_TENSORS_CLOSE(actual[k], expected[k]);
  }
}

using LstmResult = std::tuple<Tensor, Tensor, Tensor>;

// The same outputs, and the same gradients of them w.r.t. `arguments`.
void expect_same_lstm_results(const LstmResult& ours, const LstmResult& aten,
                              const std::vector<Tensor>& arguments) {
  const auto as_list = [](const LstmResult& result) {
    return std::vector<Tensor>{std::get<0>(result), std::get<1>(result), std::get<2>(result)};
  };
  expect_all_close(as_list(ours), as_list(aten));
  expect_all_close(gradients(as_list(ours), arguments), gradients(as_list(aten), arguments));
}

LstmConfig config_of(int64_t num_layers, bool bidirectional, int64_t proj_size) {
  LstmConfig config;
  config.num_layers = num_layers;
  config.bidirectional = bidirectional;
  config.proj_size = proj_size;
  return config;
}

// [input, h0, c0, params...] as leaves requiring grad.
std::vector<Tensor> lstm_arguments(const LstmConfig& config, const Tensor& input, int64_t batch) {
  const int64_t layers = config.num_layers * config.directions();
  std::vector<Tensor> arguments{input,
                                at::randn({layers, batch, config.state_size()}, input.options()),
                                at::randn({layers, batch, config.hidden_size}, input.options())};
  for (const Tensor& param : make_lstm_params(config, input.scalar_type(), false)) {
    arguments.push_back(param);
  }
  return leaves(arguments);
}

TEST(ApiFunctionalLstm, PaddedMatchesAten) {
  at::manual_seed(0);
  for (const at::ScalarType dtype : {at::kFloat, at::kDouble}) {
    for (const bool batch_first : {false, true}) {
      for (const int64_t proj_size : {0, 2}) {
        const LstmConfig config = config_of(2, true, proj_size);
        SCOPED_TRACE(dtype_name(dtype) + " batch_first=" + std::to_string(batch_first) +
                     " proj_size=" + std::to_string(proj_size));
        const int64_t steps = 4, batch = 3;
        const std::vector<Tensor> arguments = lstm_arguments(
            config,
            at::randn(batch_first ? std::vector<int64_t>{batch, steps, config.input_size}
                                  : std::vector<int64_t>{steps, batch, config.input_size},
                      at::dtype(dtype)),
            batch);
        const at::TensorList params = at::TensorList(arguments).slice(3);
        const std::vector<Tensor> hx{arguments[1], arguments[2]};
        expect_same_lstm_results(torch_ext::lstm(arguments[0], hx, params, true,
                                                 config.num_layers, 0.0, true, true, batch_first),
                                 at::lstm(arguments[0], hx, params, true, config.num_layers, 0.0,
                                          true, true, batch_first),
                                 arguments);
      }
    }
  }
}

TEST(ApiFunctionalLstm, PackedMatchesAten) {
  at::manual_seed(1);
  const LstmConfig config = config_of(2, true, 0);
  const Tensor batch_sizes = at::tensor(batch_sizes_for_lengths({4, 3, 1}), at::kLong);
  const std::vector<Tensor> arguments =
      lstm_arguments(config, at::randn({8, config.input_size}, at::kDouble), 3);
  const at::TensorList params = at::TensorList(arguments).slice(3);
  const std::vector<Tensor> hx{arguments[1], arguments[2]};
  expect_same_lstm_results(
      torch_ext::lstm(arguments[0], batch_sizes, hx, params, true, 2, 0.0, true, true),
      at::lstm(arguments[0], batch_sizes, hx, params, true, 2, 0.0, true, true), arguments);
}

TEST(ApiFunctionalLstmCell, MatchesAtenWithAndWithoutBiases) {
  at::manual_seed(2);
  for (const bool has_biases : {true, false}) {
    SCOPED_TRACE("has_biases=" + std::to_string(has_biases));
    const int64_t input_size = 3, hidden_size = 5, batch = 4;
    const std::vector<Tensor> arguments =
        leaves({at::randn({batch, input_size}, at::kDouble), at::randn({batch, hidden_size}, at::kDouble),
                at::randn({batch, hidden_size}, at::kDouble),
                at::randn({4 * hidden_size, input_size}, at::kDouble),
                at::randn({4 * hidden_size, hidden_size}, at::kDouble),
                at::randn({4 * hidden_size}, at::kDouble), at::randn({4 * hidden_size}, at::kDouble)});
    const std::optional<Tensor> b_ih = has_biases ? std::optional<Tensor>(arguments[5]) : std::nullopt;
    const std::optional<Tensor> b_hh = has_biases ? std::optional<Tensor>(arguments[6]) : std::nullopt;
    auto [h, c] = torch_ext::lstm_cell(arguments[0], {arguments[1], arguments[2]}, arguments[3],
                                       arguments[4], b_ih, b_hh);
    auto [aten_h, aten_c] = at::lstm_cell(arguments[0], {arguments[1], arguments[2]},
                                          arguments[3], arguments[4], b_ih, b_hh);
    expect_all_close({h, c}, {aten_h, aten_c});
    expect_all_close(gradients({h, c}, arguments), gradients({aten_h, aten_c}, arguments));
  }
  // The biases default to none.
  const Tensor x = at::randn({2, 3}), h0 = at::randn({2, 5}), c0 = at::randn({2, 5});
  const Tensor w_ih = at::randn({20, 3}), w_hh = at::randn({20, 5});
  EXPECT_TENSORS_CLOSE(std::get<0>(torch_ext::lstm_cell(x, {h0, c0}, w_ih, w_hh)),
                       std::get<0>(at::lstm_cell(x, {h0, c0}, w_ih, w_hh)));
}

// lstm_layer is one layer: aten::lstm with num_layers = 1, padded or packed.
TEST(ApiFunctionalLstmLayer, MatchesOneLayerOfAten) {
  at::manual_seed(3);
  const LstmConfig config = config_of(1, true, 2);
  for (const bool packed : {false, true}) {
    SCOPED_TRACE(packed ? "packed" : "padded");
    const Tensor input = packed ? at::randn({6, config.input_size}, at::kDouble)
                                : at::randn({3, 2, config.input_size}, at::kDouble);
    const Tensor batch_sizes = at::tensor(std::vector<int64_t>{2, 2, 1, 1}, at::kLong);
    const std::vector<Tensor> arguments = lstm_arguments(config, input, 2);
    const at::TensorList params = at::TensorList(arguments).slice(3);
    const std::vector<Tensor> hx{arguments[1], arguments[2]};
    const std::optional<Tensor> packed_sizes =
        packed ? std::optional<Tensor>(batch_sizes) : std::nullopt;
    expect_same_lstm_results(
        torch_ext::lstm_layer(arguments[0], packed_sizes, hx[0], hx[1], params, true, true),
        packed ? at::lstm(arguments[0], batch_sizes, hx, params, true, 1, 0.0, false, true)
               : at::lstm(arguments[0], hx, params, true, 1, 0.0, false, true, false),
        arguments);
  }
}

// The layer op's halves: the forward returns lstm_layer's results plus what the backward needs;
// the backward returns the gradients autograd computes through lstm_layer.
TEST(ApiFunctionalLstmLayer, ForwardAndBackwardHalves) {
  at::manual_seed(4);
  const LstmConfig config = config_of(1, true, 0);
  const std::vector<Tensor> arguments =
      lstm_arguments(config, at::randn({4, 2, config.input_size}, at::kDouble), 2);
  const at::TensorList params = at::TensorList(arguments).slice(3);
  auto [output, h_n, c_n] = torch_ext::lstm_layer(arguments[0], std::nullopt, arguments[1],
                                                  arguments[2], params, true, true);
  at::Tensor forward_output, forward_h_n, forward_c_n, gates, cells;
  {
    at::NoGradGuard no_grad;
    std::tie(forward_output, forward_h_n, forward_c_n, gates, cells) = torch_ext::_lstm_layer_forward(
        arguments[0], std::nullopt, arguments[1], arguments[2], params, true, true);
  }
  expect_all_close({forward_output, forward_h_n, forward_c_n}, {output, h_n, c_n});
  EXPECT_EQ(gates.sizes(), (std::vector<int64_t>{2, 8, 4 * config.hidden_size}));
  EXPECT_EQ(cells.sizes(), (std::vector<int64_t>{2, 8, config.hidden_size}));

  const Tensor grad_output = at::randn_like(output);
  const Tensor grad_h_n = at::randn_like(h_n);
  const Tensor grad_c_n = at::randn_like(c_n);
  const std::vector<Tensor> expected = torch::autograd::grad(
      {output, h_n, c_n}, arguments, {grad_output, grad_h_n, grad_c_n});
  auto [grad_input, grad_hx, grad_cx, grad_params] = torch_ext::_lstm_layer_backward(
      grad_output, grad_h_n, grad_c_n, arguments[0], std::nullopt, arguments[1], arguments[2],
      params, true, true, forward_output, gates, cells, /*need_grad_input=*/true);
  std::vector<Tensor> actual{grad_input, grad_hx, grad_cx};
  actual.insert(actual.end(), grad_params.begin(), grad_params.end());
  expect_all_close(actual, expected);
}

TEST(ApiFunctionalCapability, NamesACompiledVariant) {
  const std::set<std::string> variants{"DEFAULT", "AVX2", "AVX512"};
  EXPECT_EQ(variants.count(torch_ext::_cpu_capability()), 1u) << torch_ext::_cpu_capability();
}

// --- layer normalisation -------------------------------------------------------------------------

TEST(ApiFunctionalLayerNorm, MatchesAtenWithAndWithoutAffine) {
  at::manual_seed(5);
  for (const bool affine : {true, false}) {
    SCOPED_TRACE("affine=" + std::to_string(affine));
    const std::vector<Tensor> arguments = leaves({at::randn({4, 2, 3}, at::kDouble),
                                                  at::randn({2, 3}, at::kDouble) + 1,
                                                  at::randn({2, 3}, at::kDouble)});
    const std::optional<Tensor> weight =
        affine ? std::optional<Tensor>(arguments[1]) : std::nullopt;
    const std::optional<Tensor> bias = affine ? std::optional<Tensor>(arguments[2]) : std::nullopt;
    const Tensor ours = torch_ext::layer_norm(arguments[0], {2, 3}, weight, bias, 1e-3);
    const Tensor aten = at::layer_norm(arguments[0], {2, 3}, weight, bias, 1e-3);
    EXPECT_TENSORS_CLOSE(ours, aten);
    const std::vector<Tensor> inputs =
        affine ? arguments : std::vector<Tensor>{arguments[0]};
    expect_all_close(gradients({ours}, inputs), gradients({aten}, inputs));
  }
  // weight, bias and eps default to none and 1e-5.
  const Tensor x = at::randn({3, 7});
  EXPECT_TENSORS_CLOSE(torch_ext::layer_norm(x, {7}), at::layer_norm(x, {7}));
}

// The halves: the forward returns layer_norm's output with the rows' mean and rstd; the backward
// returns the gradients autograd computes through layer_norm.
TEST(ApiFunctionalLayerNorm, ForwardAndBackwardHalves) {
  at::manual_seed(6);
  const std::vector<Tensor> arguments = leaves(
      {at::randn({4, 6}, at::kDouble), at::randn({6}, at::kDouble), at::randn({6}, at::kDouble)});
  const Tensor output = torch_ext::layer_norm(arguments[0], {6}, arguments[1], arguments[2]);
  at::Tensor forward_output, mean, rstd;
  {
    at::NoGradGuard no_grad;
    std::tie(forward_output, mean, rstd) =
        torch_ext::_layer_norm_forward(arguments[0], {6}, arguments[1], arguments[2], 1e-5);
  }
  EXPECT_TENSORS_CLOSE(forward_output, output);
  EXPECT_TENSORS_CLOSE(mean.reshape({4}), arguments[0].detach().mean(1));
  EXPECT_TENSORS_CLOSE(rstd.reshape({4}),
                       (arguments[0].detach().var(1, /*unbiased=*/false) + 1e-5).rsqrt());
  const Tensor grad_output = at::randn_like(output);
  const std::vector<Tensor> expected = torch::autograd::grad({output}, arguments, {grad_output});
  auto [grad_input, grad_weight, grad_bias] = torch_ext::_layer_norm_backward(
      grad_output, arguments[0], {6}, mean, rstd, arguments[1], arguments[2], {true, true, true});
  expect_all_close({grad_input, grad_weight, grad_bias}, expected);
}

// --- layer-normalised LSTM and GRU ---------------------------------------------------------------

// One direction's params of a layer-normalised cell with `gates` gates per unit: weight_ih,
// weight_hh, bias_ih, bias_hh, the four ln_ih/ln_hh gains and biases, and for the LSTM (4 gates)
// ln_cell_weight, ln_cell_bias.
std::vector<Tensor> layer_norm_direction_params(int64_t gates, int64_t input_size,
                                                int64_t hidden_size) {
  const int64_t rows = gates * hidden_size;
  std::vector<Tensor> params{at::randn({rows, input_size}, at::kDouble) * 0.4,
                             at::randn({rows, hidden_size}, at::kDouble) * 0.4,
                             at::randn({rows}, at::kDouble) * 0.1,
                             at::randn({rows}, at::kDouble) * 0.1};
  std::vector<int64_t> norm_sizes{rows, rows};
  if (gates == 4) {
    norm_sizes.push_back(hidden_size);
  }
  for (const int64_t size : norm_sizes) {
    params.push_back(1 + at::randn({size}, at::kDouble) * 0.2);  // gain
    params.push_back(at::randn({size}, at::kDouble) * 0.2);      // shift
  }
  return params;
}

// [input, h0, (c0,) params of both directions...] as leaves, for one bidirectional layer.
std::vector<Tensor> layer_norm_layer_arguments(int64_t gates, const Tensor& input, int64_t batch) {
  const int64_t input_size = input.size(-1), hidden_size = 5;
  std::vector<Tensor> arguments{input, at::randn({2, batch, hidden_size}, at::kDouble)};
  if (gates == 4) {
    arguments.push_back(at::randn({2, batch, hidden_size}, at::kDouble));
  }
  for (int direction = 0; direction < 2; ++direction) {
    for (const Tensor& param : layer_norm_direction_params(gates, input_size, hidden_size)) {
      arguments.push_back(param);
    }
  }
  return leaves(arguments);
}

// The sequence functions with one layer are the layer function, padded (batch_first too) and
// packed; values and gradients.
TEST(ApiFunctionalLayerNormRnn, SequenceFunctionsAreTheLayerFunction) {
  at::manual_seed(7);
  const Tensor batch_sizes = at::tensor(std::vector<int64_t>{2, 2, 1}, at::kLong);
  for (const bool packed : {false, true}) {
    SCOPED_TRACE(packed ? "packed" : "padded");
    const Tensor input =
        packed ? at::randn({5, 3}, at::kDouble) : at::randn({3, 2, 3}, at::kDouble);
    const std::optional<Tensor> layer_sizes =
        packed ? std::optional<Tensor>(batch_sizes) : std::nullopt;

    const std::vector<Tensor> lstm = layer_norm_layer_arguments(4, input, 2);
    const at::TensorList lstm_params = at::TensorList(lstm).slice(3);
    const auto [output, h_n, c_n] =
        packed ? torch_ext::layer_norm_lstm(lstm[0], batch_sizes, {lstm[1], lstm[2]}, lstm_params,
                                            true, 1, 0.0, false, true, 1e-3)
               : torch_ext::layer_norm_lstm(lstm[0].transpose(0, 1), {lstm[1], lstm[2]},
                                            lstm_params, true, 1, 0.0, false, true,
                                            /*batch_first=*/true, 1e-3);
    const auto [layer_output, layer_h_n, layer_c_n] = torch_ext::layer_norm_lstm_layer(
        lstm[0], layer_sizes, lstm[1], lstm[2], lstm_params, true, true, 1e-3);
    const std::vector<Tensor> lstm_results{packed ? output : output.transpose(0, 1), h_n, c_n};
    const std::vector<Tensor> lstm_layer_results{layer_output, layer_h_n, layer_c_n};
    expect_all_close(lstm_results, lstm_layer_results);
    expect_all_close(gradients(lstm_results, lstm), gradients(lstm_layer_results, lstm));

    const std::vector<Tensor> gru = layer_norm_layer_arguments(3, input, 2);
    const at::TensorList gru_params = at::TensorList(gru).slice(2);
    const auto [gru_output, gru_h_n] =
        packed ? torch_ext::layer_norm_gru(gru[0], batch_sizes, gru[1], gru_params, true, 1, 0.0,
                                           false, true, 1e-3)
               : torch_ext::layer_norm_gru(gru[0], gru[1], gru_params, true, 1, 0.0, false, true,
                                           false, 1e-3);
    const auto [gru_layer_output, gru_layer_h_n] =
        torch_ext::layer_norm_gru_layer(gru[0], layer_sizes, gru[1], gru_params, true, true, 1e-3);
    expect_all_close({gru_output, gru_h_n}, {gru_layer_output, gru_layer_h_n});
    expect_all_close(gradients({gru_output, gru_h_n}, gru),
                     gradients({gru_layer_output, gru_layer_h_n}, gru));
  }
}

// A cell step is the forward direction of the layer function over one step.
TEST(ApiFunctionalLayerNormRnn, CellsAreOneStepOfTheLayer) {
  at::manual_seed(8);
  const Tensor input = at::randn({1, 3, 4}, at::kDouble);
  const std::vector<Tensor> lstm = layer_norm_layer_arguments(4, input, 3);
  const at::TensorList lstm_forward = at::TensorList(lstm).slice(3, 10);  // one direction
  const auto [h, c] = torch_ext::layer_norm_lstm_cell(lstm[0][0], {lstm[1][0], lstm[2][0]},
                                                      lstm_forward, true, 1e-5);
  const auto [output, h_n, c_n] = torch_ext::layer_norm_lstm_layer(
      lstm[0], std::nullopt, lstm[1].narrow(0, 0, 1), lstm[2].narrow(0, 0, 1), lstm_forward,
      true, false, 1e-5);
  expect_all_close({h, c}, {h_n[0], c_n[0]});
  expect_all_close(gradients({h, c}, lstm), gradients({h_n[0], c_n[0]}, lstm));

  const std::vector<Tensor> gru = layer_norm_layer_arguments(3, input, 3);
  const at::TensorList gru_forward = at::TensorList(gru).slice(2, 8);
  const Tensor gru_h = torch_ext::layer_norm_gru_cell(gru[0][0], gru[1][0], gru_forward);
  const auto [gru_output, gru_h_n] = torch_ext::layer_norm_gru_layer(
      gru[0], std::nullopt, gru[1].narrow(0, 0, 1), gru_forward, true, false, 1e-5);
  EXPECT_TENSORS_CLOSE(gru_h, gru_h_n[0]);
  expect_all_close(gradients({gru_h}, gru), gradients({gru_h_n[0]}, gru));
}

// The layer functions' halves: the forward returns the layer's results plus what the backward
// needs; the backward returns the gradients autograd computes through the layer function.
TEST(ApiFunctionalLayerNormRnn, ForwardAndBackwardHalves) {
  at::manual_seed(9);
  const Tensor input = at::randn({4, 2, 3}, at::kDouble);
  const std::vector<Tensor> lstm = layer_norm_layer_arguments(4, input, 2);
  const at::TensorList lstm_params = at::TensorList(lstm).slice(3);
  auto [output, h_n, c_n] = torch_ext::layer_norm_lstm_layer(
      lstm[0], std::nullopt, lstm[1], lstm[2], lstm_params, true, true, 1e-5);
  at::Tensor forward_output, forward_h_n, forward_c_n, gates, cells, rstd;
  {
    at::NoGradGuard no_grad;
    std::tie(forward_output, forward_h_n, forward_c_n, gates, cells, rstd) =
        torch_ext::_layer_norm_lstm_layer_forward(lstm[0], std::nullopt, lstm[1], lstm[2],
                                                  lstm_params, true, true, 1e-5);
  }
  expect_all_close({forward_output, forward_h_n, forward_c_n}, {output, h_n, c_n});
  EXPECT_EQ(gates.sizes(), (std::vector<int64_t>{2, 2, 8, 20}));
  EXPECT_EQ(cells.sizes(), (std::vector<int64_t>{2, 2, 8, 5}));
  EXPECT_EQ(rstd.sizes(), (std::vector<int64_t>{2, 8, 3}));
  const std::vector<Tensor> grads{at::randn_like(output), at::randn_like(h_n), at::randn_like(c_n)};
  const std::vector<Tensor> expected = torch::autograd::grad({output, h_n, c_n}, lstm, grads);
  auto [grad_input, grad_hx, grad_cx, grad_params] = torch_ext::_layer_norm_lstm_layer_backward(
      grads[0], grads[1], grads[2], lstm[0], std::nullopt, lstm[1], lstm[2], lstm_params, true,
      true, forward_output, gates, cells, rstd, /*need_grad_input=*/true);
  std::vector<Tensor> actual{grad_input, grad_hx, grad_cx};
  actual.insert(actual.end(), grad_params.begin(), grad_params.end());
  expect_all_close(actual, expected);

  const std::vector<Tensor> gru = layer_norm_layer_arguments(3, input, 2);
  const at::TensorList gru_params = at::TensorList(gru).slice(2);
  auto [gru_output, gru_h_n] = torch_ext::layer_norm_gru_layer(gru[0], std::nullopt, gru[1],
                                                               gru_params, true, true, 1e-5);
  at::Tensor gru_forward_output, gru_forward_h_n, gru_gates, gru_rstd;
  {
    at::NoGradGuard no_grad;
    std::tie(gru_forward_output, gru_forward_h_n, gru_gates, gru_rstd) =
        torch_ext::_layer_norm_gru_layer_forward(gru[0], std::nullopt, gru[1], gru_params, true,
                                                 true, 1e-5);
  }
  expect_all_close({gru_forward_output, gru_forward_h_n}, {gru_output, gru_h_n});
  EXPECT_EQ(gru_gates.sizes(), (std::vector<int64_t>{2, 2, 8, 15}));
  EXPECT_EQ(gru_rstd.sizes(), (std::vector<int64_t>{2, 8, 2}));
  const std::vector<Tensor> gru_grads{at::randn_like(gru_output), at::randn_like(gru_h_n)};
  const std::vector<Tensor> gru_expected =
      torch::autograd::grad({gru_output, gru_h_n}, gru, gru_grads);
  auto [gru_grad_input, gru_grad_hx, gru_grad_params] = torch_ext::_layer_norm_gru_layer_backward(
      gru_grads[0], gru_grads[1], gru[0], std::nullopt, gru[1], gru_params, true, true,
      gru_forward_output, gru_gates, gru_rstd, /*need_grad_input=*/true);
  std::vector<Tensor> gru_actual{gru_grad_input, gru_grad_hx};
  gru_actual.insert(gru_actual.end(), gru_grad_params.begin(), gru_grad_params.end());
  expect_all_close(gru_actual, gru_expected);
}

}  // namespace
}  // namespace torch_ext::testing
