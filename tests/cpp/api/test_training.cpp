// Training torch_ext::nn::LSTM from C++: torch::optim::Adam lowers the loss of a small sequence
// model, and the run follows torch::nn::LSTM's, step for step, from the same weights.
#include "api/module_testing.h"

#include <torch_ext/torch_ext.h>

#include <torch/torch.h>

#include <gtest/gtest.h>

#include <vector>

namespace torch_ext::testing {
namespace {

using torch::Tensor;

// Reads a sequence and predicts the mean of its first feature, from the final hidden state.
template <typename Lstm>
struct SequenceRegressor : torch::nn::Module {
  SequenceRegressor(Lstm lstm_module, int64_t hidden_size)
      : lstm(register_module("lstm", lstm_module)),
        head(register_module("head", torch::nn::Linear(hidden_size, 1))) {}

  Tensor forward(const Tensor& input) {
    auto [output, state] = lstm->forward(input);
    return head->forward(std::get<0>(state)[-1]).squeeze(-1);
  }

  Lstm lstm;
  torch::nn::Linear head;
};

// The task: inputs [batch, steps, 2] (batch_first); target: the mean of feature 0 over the steps.
std::tuple<Tensor, Tensor> make_task(torch::Dtype dtype) {
  const Tensor input = torch::randn({64, 12, 2}, dtype);
  return {input, input.select(2, 0).mean(1)};
}

template <typename Model>
std::vector<double> train(Model& model, const Tensor& input, const Tensor& target, int steps) {
  torch::optim::Adam optimizer(model.parameters(), torch::optim::AdamOptions(0.02));
  std::vector<double> losses;
  for (int step = 0; step < steps; ++step) {
    optimizer.zero_grad();
    const Tensor loss = torch::mse_loss(model.forward(input), target);
    loss.backward();
    optimizer.step();
    losses.push_back(loss.item<double>());
  }
  return losses;
}

TEST(ApiTrainingLstm, AdamLowersTheLoss) {
  torch::manual_seed(0);
  const auto [input, target] = make_task(torch::kFloat);
  SequenceRegressor<torch_ext::nn::LSTM> model(
      torch_ext::nn::LSTM(torch_ext::nn::LSTMOptions(2, 16).num_layers(2).batch_first(true)), 16);
  const std::vector<double> losses = train(model, input, target, 150);
  EXPECT_LT(losses.back(), 0.2 * losses.front())
      << "first loss " << losses.front() << ", last " << losses.back();
}

// From the same weights, on the same data, 25 Adam steps with torch_ext::nn::LSTM and with
// torch::nn::LSTM give the same losses (float64).
TEST(ApiTrainingLstm, FollowsTorchNnStepForStep) {
  torch::manual_seed(1);
  const auto [input, target] = make_task(torch::kDouble);
  const auto options = torch_ext::nn::LSTMOptions(2, 8).batch_first(true).proj_size(4);
  SequenceRegressor<torch_ext::nn::LSTM> ours(torch_ext::nn::LSTM(options), 4);
  SequenceRegressor<torch::nn::LSTM> reference(
      torch::nn::LSTM(torch::nn::LSTMOptions(2, 8).batch_first(true).proj_size(4)), 4);
  ours.to(torch::kDouble);
  reference.to(torch::kDouble);
  copy_parameters(reference, ours);
  const std::vector<double> our_losses = train(ours, input, target, 25);
  const std::vector<double> reference_losses = train(reference, input, target, 25);
  ASSERT_EQ(our_losses.size(), reference_losses.size());
  for (size_t step = 0; step < our_losses.size(); ++step) {
    EXPECT_NEAR(our_losses[step], reference_losses[step], 1e-9 * (1 + reference_losses[step]))
        << "step " << step;
  }
  EXPECT_LT(our_losses.back(), our_losses.front());
}

}  // namespace
}  // namespace torch_ext::testing
