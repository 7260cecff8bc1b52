// Training the torch_ext::nn modules from C++: torch::optim::Adam lowers the loss of a small
// sequence model built on each (LSTM, GRU, RNN, LayerNormLSTM, LayerNormGRU, every cell unrolled
// over the steps, LayerNorm in a feed-forward model), and the LSTM's and GRU's runs follow
// torch::nn's, step for step, from the same weights.
#include "api/module_testing.h"

#include <torch_ext/torch_ext.h>

#include <torch/torch.h>

#include <gtest/gtest.h>

#include <optional>
#include <tuple>
#include <vector>

namespace torch_ext::testing {
namespace {

using torch::Tensor;

// The last layer's final hidden state, [B, H], of a final state h_n or (h_n, c_n).
Tensor last_hidden(const Tensor& h_n) { return h_n[-1]; }
Tensor last_hidden(const std::tuple<Tensor, Tensor>& state) { return std::get<0>(state)[-1]; }

// Reads a sequence and predicts the mean of its first feature, from the final hidden state.
template <typename Recurrent>
struct SequenceRegressor : torch::nn::Module {
  SequenceRegressor(Recurrent recurrent_module, int64_t hidden_size)
      : lstm(register_module("lstm", recurrent_module)),
        head(register_module("head", torch::nn::Linear(hidden_size, 1))) {}

  Tensor forward(const Tensor& input) {
    auto [output, state] = lstm->forward(input);
    return head->forward(last_hidden(state)).squeeze(-1);
  }

  Recurrent lstm;
  torch::nn::Linear head;
};

// The same with a cell stepped over the sequence (input [B, T, I]); `State` is what the cell's
// forward takes: h, or (h, c) when given.
template <typename Cell, typename State = Tensor>
struct UnrolledRegressor : torch::nn::Module {
  UnrolledRegressor(Cell cell_module, int64_t hidden_size)
      : cell(register_module("cell", cell_module)),
        head(register_module("head", torch::nn::Linear(hidden_size, 1))) {}

  Tensor forward(const Tensor& input) {
    State state;
    for (int64_t t = 0; t < input.size(1); ++t) {
      state = cell->forward(input.select(1, t), state);
    }
    return head->forward(hidden_of(state)).squeeze(-1);
  }

  static Tensor hidden_of(const Tensor& h) { return h; }
  static Tensor hidden_of(const std::optional<std::tuple<Tensor, Tensor>>& state) {
    return std::get<0>(*state);
  }

  Cell cell;
  torch::nn::Linear head;
};

// A feed-forward model with a layer norm, on the flattened sequence.
struct NormalizedRegressor : torch::nn::Module {
  explicit NormalizedRegressor(int64_t features)
      : hidden(register_module("hidden", torch::nn::Linear(features, 16))),
        norm(register_module("norm", torch_ext::nn::LayerNorm(std::vector<int64_t>{16}))),
        head(register_module("head", torch::nn::Linear(16, 1))) {}

  Tensor forward(const Tensor& input) {
    return head->forward(torch::tanh(norm->forward(hidden->forward(input.flatten(1)))))
        .squeeze(-1);
  }

  torch::nn::Linear hidden;
  torch_ext::nn::LayerNorm norm;
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

// The loss after `steps` Adam steps falls below a fifth of the first one.
template <typename Model>
void expect_training_lowers_the_loss(Model& model, int steps) {
  const auto [input, target] = make_task(torch::kFloat);
  const std::vector<double> losses = train(model, input, target, steps);
  EXPECT_LT(losses.back(), 0.2 * losses.front())
      << "first loss " << losses.front() << ", last " << losses.back();
}

// From the same weights, on the same data (float64), 25 Adam steps with our module and with
// torch::nn's give the same losses, and lower it.
template <typename Ours, typename Reference>
void expect_training_follows_torch_nn(Ours ours_module, Reference reference_module,
                                      int64_t hidden_size) {
  const auto [input, target] = make_task(torch::kDouble);
  SequenceRegressor<Ours> ours(ours_module, hidden_size);
  SequenceRegressor<Reference> reference(reference_module, hidden_size);
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

TEST(ApiTrainingLstm, AdamLowersTheLoss) {
  torch::manual_seed(0);
  SequenceRegressor<torch_ext::nn::LSTM> model(
      torch_ext::nn::LSTM(torch_ext::nn::LSTMOptions(2, 16).num_layers(2).batch_first(true)), 16);
  expect_training_lowers_the_loss(model, 150);
}

TEST(ApiTrainingLstm, FollowsTorchNnStepForStep) {
  torch::manual_seed(1);
  expect_training_follows_torch_nn(
      torch_ext::nn::LSTM(torch_ext::nn::LSTMOptions(2, 8).batch_first(true).proj_size(4)),
      torch::nn::LSTM(torch::nn::LSTMOptions(2, 8).batch_first(true).proj_size(4)), 4);
}

TEST(ApiTrainingModules, AdamLowersTheLossOfEveryModule) {
  torch::manual_seed(2);
  {
    SCOPED_TRACE("GRU (both forms)");
    for (const bool reset_after : {true, false}) {
      SequenceRegressor<torch_ext::nn::GRU> model(
          torch_ext::nn::GRU(
              torch_ext::nn::GRUOptions(2, 16).batch_first(true).reset_after(reset_after)),
          16);
      expect_training_lowers_the_loss(model, 100);
    }
  }
  {
    SCOPED_TRACE("RNN");
    SequenceRegressor<torch_ext::nn::RNN> model(
        torch_ext::nn::RNN(torch_ext::nn::RNNOptions(2, 16).batch_first(true)), 16);
    expect_training_lowers_the_loss(model, 100);
  }
  {
    SCOPED_TRACE("LayerNormLSTM");
    SequenceRegressor<torch_ext::nn::LayerNormLSTM> model(
        torch_ext::nn::LayerNormLSTM(torch_ext::nn::LayerNormLSTMOptions(2, 16).batch_first(true)),
        16);
    expect_training_lowers_the_loss(model, 100);
  }
  {
    SCOPED_TRACE("LayerNormGRU");
    SequenceRegressor<torch_ext::nn::LayerNormGRU> model(
        torch_ext::nn::LayerNormGRU(torch_ext::nn::LayerNormGRUOptions(2, 16).batch_first(true)),
        16);
    expect_training_lowers_the_loss(model, 100);
  }
  {
    SCOPED_TRACE("LayerNorm");
    NormalizedRegressor model(24);
    expect_training_lowers_the_loss(model, 100);
  }
}

TEST(ApiTrainingModules, AdamLowersTheLossOfEveryCell) {
  torch::manual_seed(3);
  {
    SCOPED_TRACE("GRUCell");
    UnrolledRegressor<torch_ext::nn::GRUCell> model(torch_ext::nn::GRUCell(2, 16), 16);
    expect_training_lowers_the_loss(model, 100);
  }
  {
    SCOPED_TRACE("RNNCell (ReLU)");
    UnrolledRegressor<torch_ext::nn::RNNCell> model(
        torch_ext::nn::RNNCell(torch_ext::nn::RNNCellOptions(2, 16).nonlinearity(torch::kReLU)),
        16);
    expect_training_lowers_the_loss(model, 100);
  }
  {
    SCOPED_TRACE("LayerNormLSTMCell");
    UnrolledRegressor<torch_ext::nn::LayerNormLSTMCell, std::optional<std::tuple<Tensor, Tensor>>>
        model(torch_ext::nn::LayerNormLSTMCell(2, 16), 16);
    expect_training_lowers_the_loss(model, 100);
  }
  {
    SCOPED_TRACE("LayerNormGRUCell");
    UnrolledRegressor<torch_ext::nn::LayerNormGRUCell> model(
        torch_ext::nn::LayerNormGRUCell(2, 16), 16);
    expect_training_lowers_the_loss(model, 100);
  }
}

TEST(ApiTrainingModules, GruFollowsTorchNnStepForStep) {
  torch::manual_seed(4);
  expect_training_follows_torch_nn(
      torch_ext::nn::GRU(torch_ext::nn::GRUOptions(2, 8).batch_first(true).num_layers(2)),
      torch::nn::GRU(torch::nn::GRUOptions(2, 8).batch_first(true).num_layers(2)), 8);
}

}  // namespace
}  // namespace torch_ext::testing
