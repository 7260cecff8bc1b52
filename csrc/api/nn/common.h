// What the module front ends (rnn.cpp, rnn_cell.cpp, layer_norm_rnn*.cpp) share: the module's
// name in error messages, the conversion of a state (h, or an (h, c) pair) to and from the list of
// state tensors the bases handle, and the recurrent parameters' initialisation, layer-norm gains
// and biases included.
#pragma once

#include "torch_ext/nn/options/rnn.h"

#include <c10/util/Exception.h>
#include <torch/nn/init.h>
#include <torch/nn/module.h>
#include <torch/types.h>

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace torch_ext::nn::detail {

// "torch_ext::nn::LSTMImpl" (Module::name()) -> "LSTM", the prefix of torch::nn's messages.
inline std::string short_module_name(const std::string& qualified_name) {
  const size_t separator = qualified_name.rfind("::");
  std::string name =
      separator == std::string::npos ? qualified_name : qualified_name.substr(separator + 2);
  const std::string suffix = "Impl";
  if (name.size() > suffix.size() &&
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
    name.resize(name.size() - suffix.size());
  }
  return name;
}

using StatePair = std::tuple<torch::Tensor, torch::Tensor>;

inline std::vector<torch::Tensor> to_states(const StatePair& pair) {
  return {std::get<0>(pair), std::get<1>(pair)};
}

inline std::optional<std::vector<torch::Tensor>> to_states(const std::optional<StatePair>& pair) {
  if (!pair.has_value()) {
    return std::nullopt;
  }
  return to_states(*pair);
}

inline StatePair to_pair(const std::vector<torch::Tensor>& states) {
  TORCH_INTERNAL_ASSERT(states.size() == 2, "expected a state of two tensors, got ", states.size());
  return {states[0], states[1]};
}

// A one-tensor state h; undefined: none given.
inline std::optional<std::vector<torch::Tensor>> to_states(const torch::Tensor& hx) {
  if (!hx.defined()) {
    return std::nullopt;
  }
  return std::vector<torch::Tensor>{hx};
}

inline torch::Tensor to_tensor(const std::vector<torch::Tensor>& states) {
  TORCH_INTERNAL_ASSERT(states.size() == 1, "expected a state of one tensor, got ", states.size());
  return states[0];
}

// The options every multi-layer module shares, from its own options (LSTMOptions, GRUOptions, ...);
// proj_size stays 0.
template <typename Options>
RNNOptionsBase base_options_of(const Options& options) {
  return RNNOptionsBase(options.input_size(), options.hidden_size())
      .num_layers(options.num_layers())
      .bias(options.bias())
      .batch_first(options.batch_first())
      .dropout(options.dropout())
      .bidirectional(options.bidirectional());
}

// --- parameters ----------------------------------------------------------------------------------

// Layer-norm gains and biases are named ln_{ih,hh,cell}_{weight,bias}[_l<k>[_reverse]].
inline bool is_layer_norm_parameter(const std::string& name) { return name.rfind("ln_", 0) == 0; }

// The stems and sizes of one direction's (or one cell's) layer-norm parameters, in the operators'
// order: ln_ih_weight, ln_ih_bias, ln_hh_weight, ln_hh_bias [gate_size] and, where the cell state
// is normalised (LSTM), ln_cell_weight, ln_cell_bias [hidden_size].
inline std::vector<std::pair<std::string, int64_t>> layer_norm_parameter_sizes(
    int64_t gate_size, int64_t hidden_size, bool normalizes_cell) {
  std::vector<std::pair<std::string, int64_t>> sizes{{"ln_ih_weight", gate_size},
                                                     {"ln_ih_bias", gate_size},
                                                     {"ln_hh_weight", gate_size},
                                                     {"ln_hh_bias", gate_size}};
  if (normalizes_cell) {
    sizes.emplace_back("ln_cell_weight", hidden_size);
    sizes.emplace_back("ln_cell_bias", hidden_size);
  }
  return sizes;
}

// torch::nn's initialisation of a recurrent module's parameters: each drawn from
// U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) in registration order (the same seed gives
// torch::nn's values), except the layer-norm gains (ones) and biases (zeros), which draw nothing.
inline void reset_recurrent_parameters(torch::nn::Module& module, int64_t hidden_size) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(hidden_size));
  for (auto& parameter : module.named_parameters(/*recurse=*/false)) {
    const std::string& name = parameter.key();
    if (!is_layer_norm_parameter(name)) {
      torch::nn::init::uniform_(parameter.value(), -bound, bound);
    } else if (name.find("_weight") != std::string::npos) {
      torch::nn::init::ones_(parameter.value());
    } else {
      torch::nn::init::zeros_(parameter.value());
    }
  }
}

// Raises unless the layer norms' eps is a non-negative number (NaN included), as
// torch_ext.LayerNormLSTM (Python) does.
inline void check_layer_norm_eps(double eps) {
  TORCH_CHECK(eps >= 0, "eps should be a non-negative number, got ", eps);
}

}  // namespace torch_ext::nn::detail
