// torch_ext::nn::RNN, the Elman RNN (csrc/api/nn/rnn.cpp), against torch::nn::RNN with the same
// weights, tanh and ReLU: outputs and every gradient for every option, padded, unbatched and
// packed (sorted or not) input; parameters and initial values, options, pretty_print,
// serialisation to and from torch::nn::RNN; errors. (test_rnn.cpp tests torch_ext::nn::LSTM.)
#include "api/recurrent_module_testing.h"

#include <torch_ext/torch_ext.h>

#include <torch/torch.h>

#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

namespace torch_ext::testing {
namespace {

using torch::Tensor;

// A torch::nn::RNN and a torch_ext::nn::RNN holding the same weights, with tanh or ReLU.
struct RnnPair {
  torch::nn::RNN reference;
  torch_ext::nn::RNN ours;
};

template <typename Nonlinearity>
RnnPair make_rnn_pair(const ModuleCase& c, Nonlinearity nonlinearity) {
  RnnPair pair{
      torch::nn::RNN(module_options<torch::nn::RNNOptions>(c).nonlinearity(nonlinearity)),
      torch_ext::nn::RNN(module_options<torch_ext::nn::RNNOptions>(c).nonlinearity(nonlinearity))};
  pair.reference->to(c.dtype);
  pair.ours->to(c.dtype);
  copy_parameters(*pair.reference, *pair.ours);
  return pair;
}

RnnPair make_tanh_pair(const ModuleCase& c) { return make_rnn_pair(c, torch::kTanh); }
RnnPair make_relu_pair(const ModuleCase& c) { return make_rnn_pair(c, torch::kReLU); }

TEST(ApiElmanRnnParity, EveryOptionPaddedTanh) {
  torch::manual_seed(0);
  expect_padded_parity<1>(every_module_case(), make_tanh_pair);
}

TEST(ApiElmanRnnParity, EveryOptionPaddedRelu) {
  torch::manual_seed(1);
  expect_padded_parity<1>(every_module_case(), make_relu_pair);
}

TEST(ApiElmanRnnParity, UnbatchedInput) {
  torch::manual_seed(2);
  expect_unbatched_parity<1>(make_tanh_pair);
  expect_unbatched_parity<1>(make_relu_pair);
}

TEST(ApiElmanRnnParity, PackedInputSortedAndUnsorted) {
  torch::manual_seed(3);
  expect_packed_parity<1>(make_tanh_pair);
  expect_packed_parity<1>(make_relu_pair);
}

// The two nonlinearities are different functions of the same weights.
TEST(ApiElmanRnnParity, ReluDiffersFromTanh) {
  torch::manual_seed(4);
  auto [reference, tanh_rnn] = make_tanh_pair(ModuleCase{});
  torch_ext::nn::RNN relu_rnn(
      torch_ext::nn::RNNOptions(kModuleInput, kModuleHidden).nonlinearity(torch::kReLU));
  copy_parameters(*tanh_rnn, *relu_rnn);
  const Tensor input = torch::randn({kModuleSteps, kModuleBatch, kModuleInput}) * 3;
  const Tensor relu_output = std::get<0>(relu_rnn->forward(input));
  EXPECT_GE(relu_output.min().item<double>(), 0.0);
  EXPECT_GT((relu_output - std::get<0>(tanh_rnn->forward(input))).abs().max().item<double>(),
            1e-3);
}

TEST(ApiElmanRnnParameters, NamesShapesAndInitialValuesAsTorchNn) {
  for (const ModuleCase& c : every_module_case()) {
    if (c.dtype != torch::kFloat || !c.with_hx) {
      continue;
    }
    SCOPED_TRACE(c.describe());
    torch::manual_seed(42);
    torch::nn::RNN reference(module_options<torch::nn::RNNOptions>(c));
    torch::manual_seed(42);
    torch_ext::nn::RNN ours(
        module_options<torch_ext::nn::RNNOptions>(c).nonlinearity(torch::kReLU));
    expect_same_named_parameters(*ours, *reference);
  }
  torch_ext::nn::RNN ours(torch_ext::nn::RNNOptions(4, 16).num_layers(2));
  torch::nn::RNN reference(torch::nn::RNNOptions(4, 16).num_layers(2));
  torch::manual_seed(7);
  ours->reset_parameters();
  torch::manual_seed(7);
  reference->reset_parameters();
  expect_same_named_parameters(*ours, *reference);
  EXPECT_EQ(ours->named_parameters()["weight_ih_l1"].sizes(), (std::vector<int64_t>{16, 16}));
}

// torch::nn's format; ours also names a ReLU nonlinearity (torch::nn::RNN prints none).
TEST(ApiElmanRnnOptions, OptionsAndPrettyPrint) {
  torch_ext::nn::RNN rnn(torch_ext::nn::RNNOptions(3, 5)
                             .num_layers(2)
                             .nonlinearity(torch::kReLU)
                             .bias(false)
                             .batch_first(true)
                             .dropout(0.5)
                             .bidirectional(true));
  EXPECT_EQ(rnn->options.input_size(), 3);
  EXPECT_EQ(rnn->options.num_layers(), 2);
  EXPECT_TRUE(std::holds_alternative<torch::enumtype::kReLU>(rnn->options.nonlinearity()));
  EXPECT_TRUE(std::holds_alternative<torch::enumtype::kTanh>(
      torch_ext::nn::RNNOptions(3, 5).nonlinearity()));
  EXPECT_FALSE(rnn->options.bias());
  EXPECT_TRUE(rnn->options.batch_first());
  EXPECT_EQ(rnn->options.dropout(), 0.5);
  EXPECT_TRUE(rnn->options.bidirectional());
  EXPECT_EQ(printed(*rnn),
            "torch_ext::nn::RNN(input_size=3, hidden_size=5, num_layers=2, bias=false, "
            "batch_first=true, dropout=0.5, bidirectional=true, nonlinearity=kReLU)");
  for (const ModuleCase& c : every_module_case()) {
    if (c.dtype == torch::kFloat && c.with_hx) {
      SCOPED_TRACE(c.describe());
      const torch::nn::RNN reference(module_options<torch::nn::RNNOptions>(c));
      EXPECT_EQ(printed(*torch_ext::nn::RNN(module_options<torch_ext::nn::RNNOptions>(c))),
                in_our_namespace(printed(*reference)));
    }
  }
}

TEST(ApiElmanRnnModule, SerializationMovesWeightsToAndFromTorchNn) {
  const auto reference_options =
      torch::nn::RNNOptions(kModuleInput, kModuleHidden).num_layers(2).nonlinearity(torch::kReLU);
  const auto our_options = torch_ext::nn::RNNOptions(kModuleInput, kModuleHidden)
                               .num_layers(2)
                               .nonlinearity(torch::kReLU);
  const Tensor input = torch::randn({kModuleSteps, kModuleBatch, kModuleInput});
  expect_serialization_both_ways(torch::nn::RNN(reference_options), torch_ext::nn::RNN(our_options),
                                 torch::nn::RNN(reference_options), torch_ext::nn::RNN(our_options),
                                 [&](auto& module) { return std::get<0>(module->forward(input)); });
}

TEST(ApiElmanRnnModule, CloneAndAnyModule) {
  torch_ext::nn::RNN rnn(
      torch_ext::nn::RNNOptions(kModuleInput, kModuleHidden).nonlinearity(torch::kReLU));
  const auto copy = std::dynamic_pointer_cast<torch_ext::nn::RNNImpl>(rnn->clone());
  ASSERT_NE(copy, nullptr);
  EXPECT_TRUE(std::holds_alternative<torch::enumtype::kReLU>(copy->options.nonlinearity()));
  const Tensor input = torch::randn({kModuleSteps, kModuleBatch, kModuleInput});
  torch::nn::AnyModule any(rnn);
  const auto result = any.forward<std::tuple<Tensor, Tensor>>(input);
  EXPECT_TRUE(std::get<0>(result).equal(std::get<0>(copy->forward(input))));
}

TEST(ApiElmanRnnErrors, ForwardArgumentsAsTorchNn) {
  auto [reference, ours] = make_relu_pair(ModuleCase{});
  const Tensor input = torch::randn({kModuleSteps, kModuleBatch, kModuleInput});
  const Tensor wide = torch::randn({kModuleSteps, kModuleBatch, kModuleInput + 1});
  expect_torch_nn_error([&] { reference->forward(wide); }, [&] { return ours->forward(wide); });
  EXPECT_ERROR_WITH(ours->forward(input, torch::randn({1, kModuleBatch + 1, kModuleHidden})),
                    "Expected hidden size [1, 3, 5], got [1, 4, 5]");
  EXPECT_ERROR_WITH(ours->forward(torch::randn({kModuleInput})),
                    "RNN: Expected input to be 2D or 3D, got 1D instead");
  EXPECT_ERROR_WITH(ours->forward(torch::randn({kModuleSteps, kModuleInput}),
                                  torch::zeros({1, 1, kModuleHidden})),
                    "For unbatched 2-D input, hx should also be 2-D but got 3-D tensor");
  expect_torch_nn_error(
      [&] { torch::nn::RNN(torch::nn::RNNOptions(3, 5).num_layers(0)); },
      [&] { return torch_ext::nn::RNN(torch_ext::nn::RNNOptions(3, 5).num_layers(0)); });
}

}  // namespace
}  // namespace torch_ext::testing
