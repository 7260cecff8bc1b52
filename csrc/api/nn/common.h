// What the module front ends (rnn.cpp, rnn_cell.cpp) share: the module's name in error messages
// and the conversion of an (h, c) pair to and from the list of state tensors the bases handle.
#pragma once

#include <torch/types.h>

#include <optional>
#include <string>
#include <tuple>
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

}  // namespace torch_ext::nn::detail
