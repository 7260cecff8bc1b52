// What the tests of the C++ modules share: moving weights between a torch::nn module and its
// torch_ext::nn namesake by parameter name, deterministic loss weights, error and warning capture,
// pretty_print's text.
#pragma once

#include "support/lstm_reference.h"

#include <torch/torch.h>

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

namespace torch_ext::testing {

// The names of a module's parameters, in registration order.
inline std::vector<std::string> parameter_names(const torch::nn::Module& module) {
  std::vector<std::string> names;
  for (const auto& parameter : module.named_parameters()) {
    names.push_back(parameter.key());
  }
  return names;
}

// Copies every parameter of `from` into the parameter of `to` with the same name; both must have
// the same names, in the same order, and the same shapes.
inline void copy_parameters(const torch::nn::Module& from, torch::nn::Module& to) {
  ASSERT_EQ(parameter_names(from), parameter_names(to));
  const auto source = from.named_parameters();
  torch::NoGradGuard no_grad;
  for (auto& parameter : to.named_parameters()) {
    const torch::Tensor& value = source[parameter.key()];
    ASSERT_EQ(parameter.value().sizes(), value.sizes()) << parameter.key();
    parameter.value().copy_(value);
  }
}

// The gradient of every parameter, by name (undefined where none reached it).
inline std::map<std::string, torch::Tensor> parameter_gradients(const torch::nn::Module& module) {
  std::map<std::string, torch::Tensor> gradients;
  for (const auto& parameter : module.named_parameters()) {
    gradients[parameter.key()] = parameter.value().grad();
  }
  return gradients;
}

// An (h, c) state.
using State = std::tuple<torch::Tensor, torch::Tensor>;

// A copy of `tensor` that is a leaf requiring grad (for the gradient w.r.t. it).
inline torch::Tensor leaf_copy(const torch::Tensor& tensor) {
  return tensor.detach().clone().requires_grad_(true);
}

inline std::optional<State> leaf_copy(const std::optional<State>& state) {
  if (!state.has_value()) {
    return std::nullopt;
  }
  return State{leaf_copy(std::get<0>(*state)), leaf_copy(std::get<1>(*state))};
}

// The same gradient for every parameter name.
inline void expect_parameter_gradients_close(const std::map<std::string, torch::Tensor>& actual,
                                             const std::map<std::string, torch::Tensor>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (const auto& [name, gradient] : expected) {
    SCOPED_TRACE("gradient of " + name);
    ASSERT_EQ(actual.count(name), 1u);
    EXPECT_TENSORS_CLOSE(actual.at(name), gradient);
  }
}

// Fixed, varied weights for a loss Σ ⟨tensor, probe⟩ (`salt` tells the outputs apart).
inline torch::Tensor probe_like(const torch::Tensor& tensor, double salt) {
  return torch::sin(torch::arange(tensor.numel(), tensor.options().requires_grad(false)) * 0.731 +
                    salt)
      .reshape(tensor.sizes());
}

// The message of the c10::Error `fn` throws ("" when it throws none).
template <typename Fn>
std::string error_message(Fn&& fn) {
  try {
    fn();
  } catch (const c10::Error& error) {
    return error.what_without_backtrace();
  }
  return "";
}

// Collects the warnings raised (TORCH_WARN) while it is alive.
class WarningCapture : public c10::WarningHandler {
 public:
  WarningCapture() : previous_(c10::WarningUtils::get_warning_handler()) {
    c10::WarningUtils::set_warning_handler(this);
  }
  ~WarningCapture() override { c10::WarningUtils::set_warning_handler(previous_); }
  WarningCapture(const WarningCapture&) = delete;
  WarningCapture& operator=(const WarningCapture&) = delete;

  void process(const c10::Warning& warning) override { messages_.push_back(warning.msg()); }
  const std::vector<std::string>& messages() const { return messages_; }

 private:
  c10::WarningHandler* previous_;
  std::vector<std::string> messages_;
};

// pretty_print's text.
inline std::string printed(const torch::nn::Module& module) {
  std::ostringstream text;
  module.pretty_print(text);
  return text.str();
}

// torch::nn's text with our namespace.
inline std::string in_our_namespace(std::string text) {
  const std::string from = "torch::nn::";
  text.replace(text.find(from), from.size(), "torch_ext::nn::");
  return text;
}

// Our message contains torch::nn's for the same bad call.
template <typename ReferenceCall, typename OurCall>
void expect_torch_nn_error(ReferenceCall reference_call, OurCall our_call) {
  const std::string expected = error_message(reference_call);
  ASSERT_FALSE(expected.empty()) << "torch::nn accepted the call";
  EXPECT_ERROR_WITH(our_call(), expected);
}

}  // namespace torch_ext::testing
