// torch_ext::nn::LayerNormLSTM, LayerNormGRU and their cells (csrc/api/nn/layer_norm_rnn*.cpp)
// against reference modules written here of ATen ops (at::layer_norm, matmul, sigmoid, tanh) with
// the same parameter names and values: outputs and every gradient for every option, padded,
// unbatched and packed (sorted or not) input, eps; the parameters (names, order, shapes; the
// torch::nn-named ones drawn as torch::nn draws them, the ln_* ones ones and zeros), options,
// pretty_print, clone, serialisation, weights moved by name to and from torch::nn; dropout;
// errors.
#include "api/recurrent_module_testing.h"
#include "support/sequence_reference.h"

#include <torch_ext/torch_ext.h>

#include <ATen/ATen.h>
#include <torch/torch.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

namespace torch_ext::testing {
namespace {

using torch::Tensor;
using torch::nn::utils::rnn::PackedSequence;

// --- the reference: the equations of include/torch_ext/nn/modules/layer_norm_rnn.h in ATen ops ---

// A parameter by stem ("ln_ih_weight"), undefined when absent (biases with bias=false).
using ParameterLookup = std::function<Tensor(const std::string& stem)>;

Tensor plus_bias(const Tensor& value, const Tensor& bias) {
  return bias.defined() ? value + bias : value;
}

// LN(x·Wᵀ; γ, β) + b over all features of the product.
Tensor normalized_product(const Tensor& x, const Tensor& weight, const Tensor& gain,
                          const Tensor& shift, const Tensor& bias, double eps) {
  const Tensor product = at::matmul(x, weight.t());
  return plus_bias(at::layer_norm(product, {product.size(-1)}, gain, shift, eps), bias);
}

// One step of the layer-normalised LSTM (states [h, c]) or GRU (states [h]).
ReferenceStep layer_norm_step(bool lstm, const ParameterLookup& parameter, double eps) {
  const Tensor w_ih = parameter("weight_ih"), w_hh = parameter("weight_hh");
  const Tensor b_ih = parameter("bias_ih"), b_hh = parameter("bias_hh");
  const Tensor ln_ih_weight = parameter("ln_ih_weight"), ln_ih_bias = parameter("ln_ih_bias");
  const Tensor ln_hh_weight = parameter("ln_hh_weight"), ln_hh_bias = parameter("ln_hh_bias");
  if (lstm) {
    const Tensor ln_cell_weight = parameter("ln_cell_weight");
    const Tensor ln_cell_bias = parameter("ln_cell_bias");
    return [=](const Tensor& x, const std::vector<Tensor>& states) {
      const Tensor gates = normalized_product(x, w_ih, ln_ih_weight, ln_ih_bias, b_ih, eps) +
                           normalized_product(states[0], w_hh, ln_hh_weight, ln_hh_bias, b_hh, eps);
      const std::vector<Tensor> ifgo = gates.chunk(4, 1);
      const Tensor c = at::sigmoid(ifgo[1]) * states[1] + at::sigmoid(ifgo[0]) * at::tanh(ifgo[2]);
      const Tensor normalized_c =
          at::layer_norm(c, {c.size(-1)}, ln_cell_weight, ln_cell_bias, eps);
      return std::vector<Tensor>{at::sigmoid(ifgo[3]) * at::tanh(normalized_c), c};
    };
  }
  return [=](const Tensor& x, const std::vector<Tensor>& states) {
    const Tensor& h = states[0];
    const std::vector<Tensor> a =
        normalized_product(x, w_ih, ln_ih_weight, ln_ih_bias, b_ih, eps).chunk(3, 1);
    const std::vector<Tensor> u =
        normalized_product(h, w_hh, ln_hh_weight, ln_hh_bias, b_hh, eps).chunk(3, 1);
    const Tensor r = at::sigmoid(a[0] + u[0]);
    const Tensor z = at::sigmoid(a[1] + u[1]);
    const Tensor n = at::tanh(a[2] + r * u[2]);
    return std::vector<Tensor>{(1 - z) * n + z * h};
  };
}

// The state type a module with NumStates state tensors takes and returns.
template <int NumStates>
using InitialState = std::conditional_t<NumStates == 1, Tensor,
                                        std::optional<std::tuple<Tensor, Tensor>>>;
template <int NumStates>
using FinalState = std::conditional_t<NumStates == 1, Tensor, std::tuple<Tensor, Tensor>>;

template <int NumStates>
std::vector<Tensor> state_list(const InitialState<NumStates>& state) {
  if constexpr (NumStates == 1) {
    return state.defined() ? std::vector<Tensor>{state} : std::vector<Tensor>{};
  } else {
    return state.has_value() ? std::vector<Tensor>{std::get<0>(*state), std::get<1>(*state)}
                             : std::vector<Tensor>{};
  }
}

template <int NumStates>
FinalState<NumStates> final_state(const std::vector<Tensor>& states) {
  if constexpr (NumStates == 1) {
    return states[0];
  } else {
    return {states[0], states[1]};
  }
}

// float64 copies of `ours`'s parameters (same names, order and values) registered on
// `reference`. The references compute in float64 whatever the input's dtype (autograd returns the
// input's gradient in its own dtype).
void register_copies(torch::nn::Module& reference, const torch::nn::Module& ours) {
  for (const auto& parameter : ours.named_parameters()) {
    reference.register_parameter(parameter.key(),
                                 parameter.value().detach().clone().to(torch::kDouble));
  }
}

std::vector<Tensor> in_float64(std::vector<Tensor> tensors) {
  for (Tensor& tensor : tensors) {
    tensor = tensor.to(torch::kDouble);
  }
  return tensors;
}

// A result of ours against the float64 reference's, as the Python tests compare them: layer norm
// divides by the rows' spread, so float32 rounding grows with the magnitudes; the absolute
// tolerance scales with the largest |expected| (float32: 1e-4 of it and rtol 1e-4; float64:
// 1e-10).
void expect_close_to_float64_reference(const Tensor& actual, const Tensor& expected) {
  if (!actual.defined() || !expected.defined()) {
    EXPECT_TENSORS_CLOSE(actual, expected);  // undefined only against zeros
    return;
  }
  ASSERT_EQ(actual.sizes(), expected.sizes());
  const Tensor a = actual.detach().to(torch::kDouble);
  const Tensor e = expected.detach().to(torch::kDouble);
  const double scale = e.numel() > 0 ? std::max(1.0, e.abs().max().item<double>()) : 1.0;
  const double tolerance = actual.scalar_type() == torch::kFloat ? 1e-4 : 1e-10;
  EXPECT_TRUE(torch::allclose(a, e, tolerance, tolerance * scale))
      << "max |difference| " << (a - e).abs().max().item<double>() << " of max |expected| "
      << scale << " (" << actual.scalar_type() << ")";
}

// The multi-layer reference (NumStates 2: LSTM, 1: GRU), batched input only: reference_stack runs
// the step per (layer, direction) over padded or packed input.
template <int NumStates>
class ReferenceLayerNormRnn : public torch::nn::Module {
 public:
  template <typename Ours>
  explicit ReferenceLayerNormRnn(const Ours& ours)
      : options_(ours->options_base), eps_(ours->options.eps()) {
    register_copies(*this, *ours);
  }

  std::tuple<Tensor, FinalState<NumStates>> forward(const Tensor& input,
                                                    InitialState<NumStates> hx = {}) {
    const int64_t batch = input.size(options_.batch_first() ? 0 : 1);
    const Tensor x = input.to(torch::kDouble);
    const std::vector<Tensor> results = reference_stack(
        x, initial(in_float64(state_list<NumStates>(hx)), batch, x.options()),
        options_.num_layers(), directions(), step_for(), options_.batch_first());
    return {results[0], final_state<NumStates>({results.begin() + 1, results.end()})};
  }

  std::tuple<PackedSequence, FinalState<NumStates>> forward_with_packed_input(
      const PackedSequence& packed, InitialState<NumStates> hx = {}) {
    const Tensor& batch_sizes = packed.batch_sizes();
    const std::vector<int64_t> sizes(batch_sizes.data_ptr<int64_t>(),
                                     batch_sizes.data_ptr<int64_t>() + batch_sizes.numel());
    const Tensor data = packed.data().to(torch::kDouble);
    std::vector<Tensor> states =
        initial(in_float64(state_list<NumStates>(hx)), sizes[0], data.options());
    for (Tensor& state : states) {  // into the packed order
      state = packed.sorted_indices().defined()
                  ? state.index_select(1, packed.sorted_indices())
                  : state;
    }
    const std::vector<Tensor> results = reference_stack_packed(
        data, sizes, states, options_.num_layers(), directions(), step_for());
    std::vector<Tensor> final_states(results.begin() + 1, results.end());
    for (Tensor& state : final_states) {  // back into the caller's order
      state = packed.unsorted_indices().defined()
                  ? state.index_select(1, packed.unsorted_indices())
                  : state;
    }
    return {PackedSequence(results[0], batch_sizes, packed.sorted_indices(),
                           packed.unsorted_indices()),
            final_state<NumStates>(final_states)};
  }

 private:
  int64_t directions() const { return options_.bidirectional() ? 2 : 1; }

  std::vector<Tensor> initial(std::vector<Tensor> given, int64_t batch,
                              const torch::TensorOptions& tensor_options) const {
    if (given.empty()) {
      for (int k = 0; k < NumStates; ++k) {
        given.push_back(torch::zeros(
            {options_.num_layers() * directions(), batch, options_.hidden_size()}, tensor_options));
      }
    }
    return given;
  }

  ReferenceStepFor step_for() const {
    return [this](int64_t layer, int64_t direction) {
      const std::string suffix =
          "_l" + std::to_string(layer) + (direction == 1 ? "_reverse" : "");
      const auto parameters = named_parameters();
      return layer_norm_step(
          NumStates == 2,
          [&](const std::string& stem) {
            const Tensor* found = parameters.find(stem + suffix);
            return found != nullptr ? *found : Tensor();
          },
          eps_);
    };
  }

  torch_ext::nn::detail::RNNOptionsBase options_;
  double eps_;
};

// The cell reference: one step; a missing state is zeros.
template <int NumStates>
class ReferenceLayerNormCell : public torch::nn::Module {
 public:
  template <typename Ours>
  explicit ReferenceLayerNormCell(const Ours& ours)
      : hidden_size_(ours->options.hidden_size()), eps_(ours->options.eps()) {
    register_copies(*this, *ours);
  }

  FinalState<NumStates> forward(const Tensor& input, InitialState<NumStates> hx = {}) {
    const Tensor x = input.to(torch::kDouble);
    std::vector<Tensor> states = in_float64(state_list<NumStates>(hx));
    if (states.empty()) {
      states.assign(NumStates, torch::zeros({x.size(0), hidden_size_}, x.options()));
    }
    const auto parameters = named_parameters();
    const ReferenceStep step = layer_norm_step(
        NumStates == 2,
        [&](const std::string& stem) {
          const Tensor* found = parameters.find(stem);
          return found != nullptr ? *found : Tensor();
        },
        eps_);
    return final_state<NumStates>(step(x, states));
  }

 private:
  int64_t hidden_size_;
  double eps_;
};

// Layer-norm gains and shifts away from ones and zeros, so that they matter.
void randomize_layer_norm_parameters(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (auto& parameter : module.named_parameters()) {
    const std::string& name = parameter.key();
    if (name.rfind("ln_", 0) == 0) {
      const bool gain = name.find("_weight") != std::string::npos;
      parameter.value().copy_(torch::randn_like(parameter.value()) * 0.3 + (gain ? 1.0 : 0.0));
    }
  }
}

// {reference, ours} for a case: our module (or cell) in the case's dtype with random layer-norm
// parameters, and the float64 reference holding copies of its parameters.
template <typename Reference, typename Ours, typename Options>
std::pair<std::shared_ptr<Reference>, Ours> make_pair_of(const ModuleCase& c, Options options) {
  Ours ours(options);
  ours->to(c.dtype);
  randomize_layer_norm_parameters(*ours);
  return {std::make_shared<Reference>(ours), ours};
}

auto lstm_pair(double eps = torch_ext::nn::kLayerNormDefaultEps) {
  return [eps](const ModuleCase& c) {
    return make_pair_of<ReferenceLayerNormRnn<2>, torch_ext::nn::LayerNormLSTM>(
        c, module_options<torch_ext::nn::LayerNormLSTMOptions>(c).eps(eps));
  };
}

auto gru_pair(double eps = torch_ext::nn::kLayerNormDefaultEps) {
  return [eps](const ModuleCase& c) {
    return make_pair_of<ReferenceLayerNormRnn<1>, torch_ext::nn::LayerNormGRU>(
        c, module_options<torch_ext::nn::LayerNormGRUOptions>(c).eps(eps));
  };
}

auto lstm_cell_pair(double eps = torch_ext::nn::kLayerNormDefaultEps) {
  return [eps](const ModuleCase& c) {
    return make_pair_of<ReferenceLayerNormCell<2>, torch_ext::nn::LayerNormLSTMCell>(
        c,
        torch_ext::nn::LayerNormLSTMCellOptions(kModuleInput, kModuleHidden).bias(c.bias).eps(eps));
  };
}

auto gru_cell_pair(double eps = torch_ext::nn::kLayerNormDefaultEps) {
  return [eps](const ModuleCase& c) {
    return make_pair_of<ReferenceLayerNormCell<1>, torch_ext::nn::LayerNormGRUCell>(
        c,
        torch_ext::nn::LayerNormGRUCellOptions(kModuleInput, kModuleHidden).bias(c.bias).eps(eps));
  };
}

// --- parity with the reference ------------------------------------------------------------------

TEST(ApiLnRnnLstmParity, EveryOptionPadded) {
  torch::manual_seed(0);
  expect_padded_parity<2>(every_module_case(), lstm_pair(), expect_close_to_float64_reference);
}

TEST(ApiLnRnnLstmParity, UnbatchedInput) {
  torch::manual_seed(1);
  expect_unbatched_parity<2>(lstm_pair(), expect_close_to_float64_reference);
}

TEST(ApiLnRnnLstmParity, PackedInputSortedAndUnsorted) {
  torch::manual_seed(2);
  expect_packed_parity<2>(lstm_pair(), expect_close_to_float64_reference);
}

TEST(ApiLnRnnGruParity, EveryOptionPadded) {
  torch::manual_seed(3);
  expect_padded_parity<1>(every_module_case(), gru_pair(), expect_close_to_float64_reference);
}

TEST(ApiLnRnnGruParity, UnbatchedInput) {
  torch::manual_seed(4);
  expect_unbatched_parity<1>(gru_pair(), expect_close_to_float64_reference);
}

TEST(ApiLnRnnGruParity, PackedInputSortedAndUnsorted) {
  torch::manual_seed(5);
  expect_packed_parity<1>(gru_pair(), expect_close_to_float64_reference);
}

TEST(ApiLnRnnCellParity, LstmCellEveryOption) {
  torch::manual_seed(6);
  expect_cell_parity<2>(lstm_cell_pair(), expect_close_to_float64_reference);
}

TEST(ApiLnRnnCellParity, GruCellEveryOption) {
  torch::manual_seed(7);
  expect_cell_parity<1>(gru_cell_pair(), expect_close_to_float64_reference);
}

// eps reaches every layer norm: a large one matches the reference with that eps and changes the
// result.
TEST(ApiLnRnnLstmParity, EpsReachesEveryNormalisation) {
  torch::manual_seed(8);
  ModuleCase c;
  c.num_layers = 2;
  c.dtype = torch::kDouble;
  expect_padded_parity<2>({c}, lstm_pair(0.5), expect_close_to_float64_reference);
  expect_padded_parity<1>({c}, gru_pair(0.5), expect_close_to_float64_reference);
  ModuleCase cell_case;
  cell_case.dtype = torch::kDouble;
  auto [reference, ours] = lstm_cell_pair(0.5)(cell_case);
  const Tensor step = torch::randn({2, kModuleInput}, torch::kDouble);
  expect_module_runs_close(run_cell<2>(ours, step, {}), run_cell<2>(reference, step, {}),
                           expect_close_to_float64_reference);

  auto [unused, default_eps] = lstm_pair()(c);
  torch_ext::nn::LayerNormLSTM large_eps(
      torch_ext::nn::LayerNormLSTMOptions(kModuleInput, kModuleHidden).num_layers(2).eps(0.5));
  large_eps->to(torch::kDouble);
  copy_parameters(*default_eps, *large_eps);
  const Tensor input = torch::randn({kModuleSteps, kModuleBatch, kModuleInput}, torch::kDouble);
  EXPECT_GT((std::get<0>(large_eps->forward(input)) - std::get<0>(default_eps->forward(input)))
                .abs()
                .max()
                .item<double>(),
            1e-3);
}

// A one-layer module is its cell stepped over the sequence, with the same parameters.
TEST(ApiLnRnnCellParity, CellsStepTheModules) {
  torch::manual_seed(9);
  torch_ext::nn::LayerNormLSTM lstm(kModuleInput, kModuleHidden);
  torch_ext::nn::LayerNormLSTMCell lstm_cell(kModuleInput, kModuleHidden);
  torch_ext::nn::LayerNormGRU gru(kModuleInput, kModuleHidden);
  torch_ext::nn::LayerNormGRUCell gru_cell(kModuleInput, kModuleHidden);
  for (torch::nn::Module* module : std::vector<torch::nn::Module*>{lstm.get(), gru.get()}) {
    randomize_layer_norm_parameters(*module);
  }
  {
    torch::NoGradGuard no_grad;
    const auto copy_by_stem = [](const torch::nn::Module& from, torch::nn::Module& to) {
      const auto source = from.named_parameters();
      for (auto& parameter : to.named_parameters()) {
        parameter.value().copy_(source[parameter.key() + "_l0"]);
      }
    };
    copy_by_stem(*lstm, *lstm_cell);
    copy_by_stem(*gru, *gru_cell);
  }
  const Tensor input = torch::randn({kModuleSteps, kModuleBatch, kModuleInput});
  auto [lstm_output, lstm_state] = lstm->forward(input);
  auto [gru_output, gru_h_n] = gru->forward(input);
  std::optional<std::tuple<Tensor, Tensor>> state;
  Tensor h;
  for (int64_t t = 0; t < kModuleSteps; ++t) {
    state = lstm_cell->forward(input[t], state);
    h = gru_cell->forward(input[t], h);
    EXPECT_TENSORS_CLOSE(std::get<0>(*state), lstm_output[t]);
    EXPECT_TENSORS_CLOSE(h, gru_output[t]);
  }
  EXPECT_TENSORS_CLOSE(std::get<1>(*state), std::get<1>(lstm_state)[0]);
  EXPECT_TENSORS_CLOSE(h, gru_h_n[0]);
}

// Training mode drops between layers; evaluation is deterministic.
TEST(ApiLnRnnLstmParity, DropoutOnlyInTraining) {
  torch::manual_seed(10);
  torch_ext::nn::LayerNormLSTM lstm(
      torch_ext::nn::LayerNormLSTMOptions(kModuleInput, kModuleHidden).num_layers(3).dropout(0.5));
  const Tensor input = torch::randn({kModuleSteps, kModuleBatch, kModuleInput});
  const Tensor first = std::get<0>(lstm->forward(input));
  EXPECT_FALSE(torch::allclose(first, std::get<0>(lstm->forward(input))));
  lstm->eval();
  const Tensor evaluated = std::get<0>(lstm->forward(input));
  EXPECT_TRUE(evaluated.equal(std::get<0>(lstm->forward(input))));
  EXPECT_FALSE(torch::allclose(first, evaluated));
}

// --- parameters ---------------------------------------------------------------------------------

// The parameter names of one (layer, direction) in registration order.
std::vector<std::string> direction_names(const std::string& suffix, bool bias, bool lstm) {
  std::vector<std::string> stems{"weight_ih", "weight_hh"};
  if (bias) {
    stems.insert(stems.end(), {"bias_ih", "bias_hh"});
  }
  stems.insert(stems.end(), {"ln_ih_weight", "ln_ih_bias", "ln_hh_weight", "ln_hh_bias"});
  if (lstm) {
    stems.insert(stems.end(), {"ln_cell_weight", "ln_cell_bias"});
  }
  for (std::string& stem : stems) {
    stem += suffix;
  }
  return stems;
}

// The parameters torch::nn's namesake has, drawn as it draws them for the same seed; then the
// ln_* ones, ones and zeros; the flat list in the operators' order is the registration order.
template <typename Ours, typename Reference>
void expect_parameters_as_torch_nn(const ModuleCase& c, bool lstm) {
  using OurOptions = decltype(std::declval<typename Ours::ContainedType&>().options);
  using ReferenceOptions = decltype(std::declval<typename Reference::ContainedType&>().options);
  torch::manual_seed(42);
  Reference reference(module_options<ReferenceOptions>(c));
  torch::manual_seed(42);
  Ours ours(module_options<OurOptions>(c));
  std::vector<std::string> expected_names;
  for (int64_t layer = 0; layer < c.num_layers; ++layer) {
    for (int64_t direction = 0; direction < c.directions(); ++direction) {
      const std::vector<std::string> names = direction_names(
          "_l" + std::to_string(layer) + (direction == 1 ? "_reverse" : ""), c.bias, lstm);
      expected_names.insert(expected_names.end(), names.begin(), names.end());
    }
  }
  EXPECT_EQ(parameter_names(*ours), expected_names);
  const auto reference_parameters = reference->named_parameters();
  const int64_t gate_size = (lstm ? 4 : 3) * kModuleHidden;
  for (const auto& parameter : ours->named_parameters()) {
    const std::string& name = parameter.key();
    SCOPED_TRACE(name);
    EXPECT_TRUE(parameter.value().requires_grad());
    if (name.rfind("ln_", 0) != 0) {
      EXPECT_TRUE(parameter.value().equal(reference_parameters[name]));
      continue;
    }
    const int64_t size = name.rfind("ln_cell", 0) == 0 ? kModuleHidden : gate_size;
    const bool gain = name.find("_weight") != std::string::npos;
    EXPECT_TRUE(parameter.value().equal(gain ? torch::ones({size}) : torch::zeros({size})));
  }
  const std::vector<Tensor>& flat = ours->flat_weights();
  const std::vector<Tensor> registered = ours->parameters();
  ASSERT_EQ(flat.size(), registered.size());
  for (size_t k = 0; k < flat.size(); ++k) {
    EXPECT_TRUE(flat[k].is_same(registered[k]));
  }
}

TEST(ApiLnRnnParameters, NamesOrderAndInitialValues) {
  for (const ModuleCase& c : every_module_case()) {
    if (c.dtype == torch::kFloat && c.with_hx && !c.batch_first) {
      SCOPED_TRACE(c.describe());
      expect_parameters_as_torch_nn<torch_ext::nn::LayerNormLSTM, torch::nn::LSTM>(c, true);
      expect_parameters_as_torch_nn<torch_ext::nn::LayerNormGRU, torch::nn::GRU>(c, false);
    }
  }
}

TEST(ApiLnRnnParameters, CellNamesOrderAndInitialValues) {
  for (const bool bias : {true, false}) {
    SCOPED_TRACE("bias=" + std::to_string(bias));
    torch::manual_seed(43);
    torch::nn::LSTMCell lstm_reference(
        torch::nn::LSTMCellOptions(kModuleInput, kModuleHidden).bias(bias));
    torch::nn::GRUCell gru_reference(
        torch::nn::GRUCellOptions(kModuleInput, kModuleHidden).bias(bias));
    torch::manual_seed(43);
    torch_ext::nn::LayerNormLSTMCell lstm(
        torch_ext::nn::LayerNormLSTMCellOptions(kModuleInput, kModuleHidden).bias(bias));
    torch_ext::nn::LayerNormGRUCell gru(
        torch_ext::nn::LayerNormGRUCellOptions(kModuleInput, kModuleHidden).bias(bias));
    EXPECT_EQ(parameter_names(*lstm), direction_names("", bias, true));
    EXPECT_EQ(parameter_names(*gru), direction_names("", bias, false));
    EXPECT_TRUE(lstm->weight_ih.equal(lstm_reference->weight_ih));
    EXPECT_TRUE(lstm->weight_hh.equal(lstm_reference->weight_hh));
    EXPECT_TRUE(gru->weight_hh.equal(gru_reference->weight_hh));
    if (bias) {
      EXPECT_TRUE(lstm->bias_hh.equal(lstm_reference->bias_hh));
      EXPECT_TRUE(gru->bias_ih.equal(gru_reference->bias_ih));
    }
    EXPECT_TRUE(lstm->ln_ih_weight.equal(torch::ones({4 * kModuleHidden})));
    EXPECT_TRUE(lstm->ln_hh_bias.equal(torch::zeros({4 * kModuleHidden})));
    EXPECT_TRUE(lstm->ln_cell_weight.equal(torch::ones({kModuleHidden})));
    EXPECT_TRUE(lstm->ln_cell_bias.equal(torch::zeros({kModuleHidden})));
    EXPECT_TRUE(gru->ln_hh_weight.equal(torch::ones({3 * kModuleHidden})));
    EXPECT_TRUE(gru->ln_ih_bias.equal(torch::zeros({3 * kModuleHidden})));
  }
  // reset_parameters redraws as torch::nn does, and resets the layer norms.
  torch_ext::nn::LayerNormLSTMCell cell(kModuleInput, kModuleHidden);
  torch::nn::LSTMCell reference(kModuleInput, kModuleHidden);
  randomize_layer_norm_parameters(*cell);
  torch::manual_seed(44);
  cell->reset_parameters();
  torch::manual_seed(44);
  reference->reset_parameters();
  EXPECT_TRUE(cell->bias_ih.equal(reference->bias_ih));
  EXPECT_TRUE(cell->ln_cell_weight.equal(torch::ones({kModuleHidden})));
}

// The torch::nn-named parameters move by name to and from torch::nn's namesake; the ln_* ones are
// the only names it lacks.
TEST(ApiLnRnnParameters, TorchNnNamedWeightsMoveByName) {
  torch::nn::LSTM reference(torch::nn::LSTMOptions(kModuleInput, kModuleHidden).num_layers(2));
  torch_ext::nn::LayerNormLSTM ours(
      torch_ext::nn::LayerNormLSTMOptions(kModuleInput, kModuleHidden).num_layers(2));
  const auto reference_parameters = reference->named_parameters();
  std::vector<std::string> extra;
  {
    torch::NoGradGuard no_grad;
    for (auto& parameter : ours->named_parameters()) {
      const Tensor* match = reference_parameters.find(parameter.key());
      if (match == nullptr) {
        extra.push_back(parameter.key());
      } else {
        parameter.value().copy_(*match);
      }
    }
  }
  EXPECT_EQ(extra.size(), 12u);  // 6 per layer
  for (const std::string& name : extra) {
    EXPECT_EQ(name.rfind("ln_", 0), 0u) << name;
  }
  EXPECT_TRUE(ours->named_parameters()["weight_hh_l1"].equal(reference_parameters["weight_hh_l1"]));
}

// --- options, pretty_print, module behaviour -----------------------------------------------------

TEST(ApiLnRnnOptions, OptionsAndPrettyPrint) {
  torch_ext::nn::LayerNormLSTM lstm(torch_ext::nn::LayerNormLSTMOptions(3, 5)
                                        .num_layers(2)
                                        .bias(false)
                                        .batch_first(true)
                                        .dropout(0.25)
                                        .bidirectional(true)
                                        .eps(1e-3));
  EXPECT_EQ(lstm->options.num_layers(), 2);
  EXPECT_FALSE(lstm->options.bias());
  EXPECT_TRUE(lstm->options.batch_first());
  EXPECT_EQ(lstm->options.dropout(), 0.25);
  EXPECT_TRUE(lstm->options.bidirectional());
  EXPECT_EQ(lstm->options.eps(), 1e-3);
  EXPECT_EQ(torch_ext::nn::LayerNormGRUOptions(3, 5).eps(), 1e-5);
  EXPECT_EQ(printed(*lstm),
            "torch_ext::nn::LayerNormLSTM(input_size=3, hidden_size=5, num_layers=2, bias=false, "
            "batch_first=true, dropout=0.25, bidirectional=true, eps=0.001)");
  EXPECT_EQ(printed(*torch_ext::nn::LayerNormGRU(3, 5)),
            "torch_ext::nn::LayerNormGRU(input_size=3, hidden_size=5, num_layers=1, bias=true, "
            "batch_first=false, dropout=0, bidirectional=false, eps=1e-05)");
  EXPECT_EQ(printed(*torch_ext::nn::LayerNormLSTMCell(10, 20)),
            "torch_ext::nn::LayerNormLSTMCell(10, 20)");
  EXPECT_EQ(printed(*torch_ext::nn::LayerNormGRUCell(
                torch_ext::nn::LayerNormGRUCellOptions(10, 20).bias(false).eps(1e-3))),
            "torch_ext::nn::LayerNormGRUCell(10, 20, bias=false, eps=0.001)");
  EXPECT_EQ(torch_ext::nn::LayerNormLSTMCellOptions(10, 20).eps(), 1e-5);
}

TEST(ApiLnRnnModule, CloneSerializationToDoubleAndAnyModule) {
  torch_ext::nn::LayerNormGRU gru(
      torch_ext::nn::LayerNormGRUOptions(kModuleInput, kModuleHidden).num_layers(2).eps(1e-3));
  randomize_layer_norm_parameters(*gru);
  const auto copy = std::dynamic_pointer_cast<torch_ext::nn::LayerNormGRUImpl>(gru->clone());
  ASSERT_NE(copy, nullptr);
  EXPECT_EQ(copy->options.eps(), 1e-3);
  const Tensor input = torch::randn({kModuleSteps, kModuleBatch, kModuleInput});
  EXPECT_TRUE(std::get<0>(copy->forward(input)).equal(std::get<0>(gru->forward(input))));
  torch::nn::AnyModule any(gru);
  EXPECT_TRUE(std::get<1>(any.forward<std::tuple<Tensor, Tensor>>(input))
                  .equal(std::get<1>(gru->forward(input))));

  // torch::save / torch::load by name, into a module with other values.
  torch_ext::nn::LayerNormGRU loaded(
      torch_ext::nn::LayerNormGRUOptions(kModuleInput, kModuleHidden).num_layers(2).eps(1e-3));
  std::stringstream archive;
  torch::save(gru, archive);
  torch::load(loaded, archive);
  expect_same_named_parameters(*loaded, *gru);
  EXPECT_TRUE(std::get<0>(loaded->forward(input)).equal(std::get<0>(gru->forward(input))));

  torch_ext::nn::LayerNormLSTMCell cell(kModuleInput, kModuleHidden);
  randomize_layer_norm_parameters(*cell);
  const auto cell_copy =
      std::dynamic_pointer_cast<torch_ext::nn::LayerNormLSTMCellImpl>(cell->clone());
  ASSERT_NE(cell_copy, nullptr);
  EXPECT_FALSE(cell_copy->ln_cell_weight.is_same(cell->ln_cell_weight));
  EXPECT_TRUE(cell_copy->ln_cell_weight.equal(cell->ln_cell_weight));
  const Tensor step = torch::randn({kModuleBatch, kModuleInput});
  EXPECT_TRUE(std::get<0>(cell_copy->forward(step)).equal(std::get<0>(cell->forward(step))));

  torch_ext::nn::LayerNormLSTM lstm(kModuleInput, kModuleHidden);
  lstm->to(torch::kDouble);
  for (const Tensor& weight : lstm->flat_weights()) {
    EXPECT_EQ(weight.scalar_type(), torch::kDouble);
  }
  EXPECT_EQ(std::get<0>(lstm->forward(input.to(torch::kDouble))).scalar_type(), torch::kDouble);
}

// --- errors -------------------------------------------------------------------------------------

TEST(ApiLnRnnErrors, Messages) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_ERROR_WITH(torch_ext::nn::LayerNormLSTM(torch_ext::nn::LayerNormLSTMOptions(3, 5).eps(-1)),
                    "eps should be a non-negative number, got -1");
  EXPECT_ERROR_WITH(torch_ext::nn::LayerNormGRU(torch_ext::nn::LayerNormGRUOptions(3, 5).eps(nan)),
                    "eps should be a non-negative number, got nan");
  EXPECT_ERROR_WITH(
      torch_ext::nn::LayerNormGRUCell(torch_ext::nn::LayerNormGRUCellOptions(3, 5).eps(-1)),
      "eps should be a non-negative number");
  EXPECT_ERROR_WITH(torch_ext::nn::LayerNormLSTM(torch_ext::nn::LayerNormLSTMOptions(3, 0)),
                    "hidden_size must be greater than zero");
  EXPECT_ERROR_WITH(
      torch_ext::nn::LayerNormGRU(torch_ext::nn::LayerNormGRUOptions(3, 5).dropout(2)),
      "dropout should be a number in range [0, 1]");

  torch_ext::nn::LayerNormLSTM lstm(
      torch_ext::nn::LayerNormLSTMOptions(kModuleInput, kModuleHidden).num_layers(2));
  torch_ext::nn::LayerNormGRU gru(kModuleInput, kModuleHidden);
  const Tensor input = torch::randn({kModuleSteps, kModuleBatch, kModuleInput});
  EXPECT_ERROR_WITH(lstm->forward(torch::randn({kModuleSteps, kModuleBatch, kModuleInput + 1})),
                    "input.size(-1) must be equal to input_size. Expected 3, got 4");
  EXPECT_ERROR_WITH(lstm->forward(input, std::make_tuple(
                                             torch::zeros({2, kModuleBatch, kModuleHidden}),
                                             torch::zeros({1, kModuleBatch, kModuleHidden}))),
                    "Expected hidden[1] size [2, 3, 5], got [1, 3, 5]");
  EXPECT_ERROR_WITH(gru->forward(input, torch::zeros({1, kModuleBatch + 1, kModuleHidden})),
                    "Expected hidden size [1, 3, 5], got [1, 4, 5]");
  EXPECT_ERROR_WITH(gru->forward(torch::randn({1, 2, 3, kModuleInput})),
                    "LayerNormGRU: Expected input to be 2D or 3D, got 4D instead");
  EXPECT_ERROR_WITH(gru->forward(input.to(torch::kDouble)),
                    "LayerNormGRU: input dtype (Double) does not match weight dtype (Float)");

  torch_ext::nn::LayerNormLSTMCell lstm_cell(kModuleInput, kModuleHidden);
  torch_ext::nn::LayerNormGRUCell gru_cell(kModuleInput, kModuleHidden);
  EXPECT_ERROR_WITH(lstm_cell->forward(input),
                    "LayerNormLSTMCell: Expected input to be 1D or 2D, got 3D instead");
  EXPECT_ERROR_WITH(gru_cell->forward(input[0], torch::zeros({1, kModuleBatch, kModuleHidden})),
                    "LayerNormGRUCell: Expected hidden to be 1D or 2D, got 3D instead");
  // Sizes: the cell operators' checks, which name the operator and the argument.
  EXPECT_ERROR_WITH(gru_cell->forward(input[0], torch::zeros({kModuleBatch + 1, kModuleHidden})),
                    "layer_norm_gru_cell");
  EXPECT_ERROR_WITH(gru_cell->forward(torch::randn({kModuleBatch, kModuleInput + 1})),
                    "input.size(-1) must be equal to input_size. Expected 3, got 4");
  EXPECT_ERROR_WITH(lstm_cell->forward(input[0], std::make_tuple(
                                                    torch::zeros({kModuleBatch, kModuleHidden}),
                                                    torch::zeros({kModuleBatch, kModuleHidden + 1}))),
                    "layer_norm_lstm_cell");
}

}  // namespace
}  // namespace torch_ext::testing
