// torch_ext::nn::LSTMCell, GRUCell and RNNCell (csrc/api/nn/rnn_cell.cpp) against torch::nn's with
// the same weights: outputs and gradients, batched and unbatched, with and without a state and
// biases (tanh and ReLU; the original GRU cell against a reference of ATen ops and the operator
// function); parameters, initial values, options, pretty_print, clone; errors.
#include "api/module_testing.h"
#include "api/recurrent_module_testing.h"
#include "support/lstm_reference.h"
#include "support/recurrence_reference.h"

#include <torch_ext/torch_ext.h>

#include <torch/torch.h>

#include <gtest/gtest.h>

#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace torch_ext::testing {
namespace {

using torch::Tensor;

constexpr int64_t kInput = kModuleInput;
constexpr int64_t kHidden = kModuleHidden;
constexpr int64_t kBatch = 4;

// A torch::nn cell and its torch_ext::nn namesake holding the same weights, for a case's bias
// and dtype; `configure` sets further options on both option structs alike.
template <typename Reference, typename Ours, typename Configure>
std::pair<Reference, Ours> make_cell_pair(const ModuleCase& c, Configure configure) {
  using ReferenceOptions = decltype(std::declval<typename Reference::ContainedType&>().options);
  using OurOptions = decltype(std::declval<typename Ours::ContainedType&>().options);
  Reference reference(configure(ReferenceOptions(kModuleInput, kModuleHidden).bias(c.bias)));
  Ours ours(configure(OurOptions(kModuleInput, kModuleHidden).bias(c.bias)));
  reference->to(c.dtype);
  ours->to(c.dtype);
  copy_parameters(*reference, *ours);
  return {reference, ours};
}

const auto kAsIs = [](auto options) { return options; };

TEST(ApiCellLstmParity, EveryOption) {
  torch::manual_seed(0);
  expect_cell_parity<2>([](const ModuleCase& c) {
    return make_cell_pair<torch::nn::LSTMCell, torch_ext::nn::LSTMCell>(c, kAsIs);
  });
}

TEST(ApiCellLstmParameters, NamesAndInitialValuesAsTorchNn) {
  for (const bool bias : {true, false}) {
    torch::manual_seed(11);
    torch::nn::LSTMCell reference(torch::nn::LSTMCellOptions(kInput, kHidden).bias(bias));
    torch::manual_seed(11);
    torch_ext::nn::LSTMCell ours(torch_ext::nn::LSTMCellOptions(kInput, kHidden).bias(bias));
    ASSERT_EQ(parameter_names(*ours), parameter_names(*reference));
    const auto expected = reference->named_parameters();
    for (const auto& parameter : ours->named_parameters()) {
      EXPECT_TRUE(parameter.value().equal(expected[parameter.key()])) << parameter.key();
    }
    EXPECT_EQ(ours->weight_ih.sizes(), (std::vector<int64_t>{4 * kHidden, kInput}));
    EXPECT_EQ(ours->weight_hh.sizes(), (std::vector<int64_t>{4 * kHidden, kHidden}));
    EXPECT_EQ(ours->bias_ih.defined(), bias);
    EXPECT_EQ(ours->bias_hh.defined(), bias);
  }
}

TEST(ApiCellLstmOptions, OptionsAndPrettyPrint) {
  torch_ext::nn::LSTMCell cell(torch_ext::nn::LSTMCellOptions(10, 20).bias(false));
  EXPECT_EQ(cell->options.input_size(), 10);
  EXPECT_EQ(cell->options.hidden_size(), 20);
  EXPECT_FALSE(cell->options.bias());
  EXPECT_EQ(cell->options_base.num_chunks(), 4);
  EXPECT_EQ(printed(*cell), "torch_ext::nn::LSTMCell(10, 20, bias=false)");
  EXPECT_EQ(printed(*torch_ext::nn::LSTMCell(10, 20)), "torch_ext::nn::LSTMCell(10, 20)");
  EXPECT_EQ(printed(*torch::nn::LSTMCell(torch::nn::LSTMCellOptions(10, 20).bias(false))),
            "torch::nn::LSTMCell(10, 20, bias=false)");
}

TEST(ApiCellLstmModule, CloneAndAnyModule) {
  torch_ext::nn::LSTMCell cell(kInput, kHidden);
  const auto copy = std::dynamic_pointer_cast<torch_ext::nn::LSTMCellImpl>(cell->clone());
  ASSERT_NE(copy, nullptr);
  EXPECT_FALSE(copy->weight_ih.is_same(cell->weight_ih));
  EXPECT_TRUE(copy->weight_ih.equal(cell->weight_ih));
  const Tensor input = torch::randn({kBatch, kInput});
  torch::nn::AnyModule any(cell);
  const State result = any.forward<State>(input);
  EXPECT_TRUE(std::get<0>(result).equal(std::get<0>(copy->forward(input))));
}

TEST(ApiCellLstmErrors, Messages) {
  torch::nn::LSTMCell reference(kInput, kHidden);
  torch_ext::nn::LSTMCell ours(kInput, kHidden);
  copy_parameters(*reference, *ours);
  // Ranks: torch::nn's message, prefixed with the cell's name as nn.LSTMCell (Python) does.
  const Tensor cube = torch::randn({2, kBatch, kInput});
  const std::string rank_message = error_message([&] { reference->forward(cube); });
  ASSERT_FALSE(rank_message.empty());
  EXPECT_ERROR_WITH(ours->forward(cube), "LSTMCell: " + rank_message);
  EXPECT_ERROR_WITH(ours->forward(cube), "LSTMCell: Expected input to be 1D or 2D, got 3D instead");
  const Tensor input = torch::randn({kBatch, kInput});
  const State cube_state{torch::zeros({1, kBatch, kHidden}), torch::zeros({kBatch, kHidden})};
  EXPECT_ERROR_WITH(ours->forward(input, cube_state),
                    "LSTMCell: Expected hx[0] to be 1D or 2D, got 3D instead");
  EXPECT_ERROR_WITH(ours->forward(Tensor()), "LSTMCell: expected input to be a tensor");
  // Sizes: the cell op's checks, which keep torch::lstm_cell's messages.
  for (const auto& [bad_input, bad_state] : std::vector<std::pair<Tensor, State>>{
           {torch::randn({kBatch, kInput + 1}), State{torch::zeros({kBatch, kHidden}),
                                                      torch::zeros({kBatch, kHidden})}},
           {input, State{torch::zeros({kBatch + 1, kHidden}), torch::zeros({kBatch, kHidden})}},
           {input, State{torch::zeros({kBatch, kHidden}), torch::zeros({kBatch, kHidden + 1})}},
       }) {
    const std::string expected =
        error_message([&] { reference->forward(bad_input, bad_state); });
    ASSERT_FALSE(expected.empty());
    EXPECT_ERROR_WITH(ours->forward(bad_input, bad_state), expected);
  }
}

// ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~ GRUCell, RNNCell ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~

TEST(ApiCellGruParity, EveryOption) {
  torch::manual_seed(20);
  expect_cell_parity<1>([](const ModuleCase& c) {
    return make_cell_pair<torch::nn::GRUCell, torch_ext::nn::GRUCell>(c, kAsIs);
  });
}

TEST(ApiCellRnnParity, EveryOptionTanhAndRelu) {
  torch::manual_seed(21);
  expect_cell_parity<1>([](const ModuleCase& c) {
    return make_cell_pair<torch::nn::RNNCell, torch_ext::nn::RNNCell>(c, kAsIs);
  });
  expect_cell_parity<1>([](const ModuleCase& c) {
    return make_cell_pair<torch::nn::RNNCell, torch_ext::nn::RNNCell>(
        c, [](auto options) { return options.nonlinearity(torch::kReLU); });
  });
}

// GRUCell with reset_after=false computes the original GRU cell (reference_cell, ATen ops), is
// torch_ext::gru_reset_before_cell, and differs from PyTorch's GRU cell on the same weights.
TEST(ApiCellGruResetBefore, MatchesAnAtenReferenceAndTheOperator) {
  torch::manual_seed(22);
  for (const bool bias : {true, false}) {
    SCOPED_TRACE("bias=" + std::to_string(bias));
    torch_ext::nn::GRUCell original(
        torch_ext::nn::GRUCellOptions(kModuleInput, kModuleHidden).bias(bias).reset_after(false));
    original->to(torch::kDouble);
    const Tensor input = torch::randn({kBatch, kModuleInput}, torch::kDouble);
    const Tensor hx = torch::randn({kBatch, kModuleHidden}, torch::kDouble);
    const ModuleRun ours = run_cell<1>(original, input, {hx});

    const std::vector<Tensor> params = leaf_copies(original->parameters());
    const Tensor x = leaf_copy(input);
    const Tensor h = leaf_copy(hx);
    const CellWeights weights{params[0], params[1], bias ? params[2] : Tensor(),
                              bias ? params[3] : Tensor()};
    const Tensor expected = reference_cell(Cell::GruResetBefore, x, h, weights);
    module_loss(expected, {}).backward();
    EXPECT_TENSORS_CLOSE(ours.output, expected.detach());
    EXPECT_TENSORS_CLOSE(ours.grad_input, x.grad());
    EXPECT_TENSORS_CLOSE(ours.grad_initial_state[0], h.grad());
    const std::vector<std::string> names = parameter_names(*original);
    for (size_t k = 0; k < names.size(); ++k) {
      EXPECT_TENSORS_CLOSE(ours.grad_params.at(names[k]), params[k].grad()) << names[k];
    }

    torch::NoGradGuard no_grad;
    EXPECT_TENSORS_CLOSE(ours.output,
                         torch_ext::gru_reset_before_cell(input, hx, original->weight_ih,
                                                          original->weight_hh, original->bias_ih,
                                                          original->bias_hh));
    torch_ext::nn::GRUCell pytorch_form(
        torch_ext::nn::GRUCellOptions(kModuleInput, kModuleHidden).bias(bias));
    pytorch_form->to(torch::kDouble);
    copy_parameters(*original, *pytorch_form);
    EXPECT_GT((pytorch_form->forward(input, hx) - ours.output).abs().max().item<double>(), 1e-3);
  }
}

TEST(ApiCellGruParameters, NamesAndInitialValuesAsTorchNn) {
  for (const bool bias : {true, false}) {
    torch::manual_seed(12);
    torch::nn::GRUCell gru_reference(torch::nn::GRUCellOptions(kInput, kHidden).bias(bias));
    torch::nn::RNNCell rnn_reference(torch::nn::RNNCellOptions(kInput, kHidden).bias(bias));
    torch::manual_seed(12);
    torch_ext::nn::GRUCell gru(torch_ext::nn::GRUCellOptions(kInput, kHidden).bias(bias));
    torch_ext::nn::RNNCell rnn(torch_ext::nn::RNNCellOptions(kInput, kHidden).bias(bias));
    expect_same_named_parameters(*gru, *gru_reference);
    expect_same_named_parameters(*rnn, *rnn_reference);
    EXPECT_EQ(gru->weight_hh.sizes(), (std::vector<int64_t>{3 * kHidden, kHidden}));
    EXPECT_EQ(rnn->weight_ih.sizes(), (std::vector<int64_t>{kHidden, kInput}));
    EXPECT_EQ(gru->bias_hh.defined(), bias);
  }
}

TEST(ApiCellGruOptions, OptionsAndPrettyPrint) {
  torch_ext::nn::GRUCell gru(torch_ext::nn::GRUCellOptions(10, 20).bias(false).reset_after(false));
  EXPECT_EQ(gru->options.input_size(), 10);
  EXPECT_FALSE(gru->options.bias());
  EXPECT_FALSE(gru->options.reset_after());
  EXPECT_TRUE(torch_ext::nn::GRUCellOptions(10, 20).reset_after());
  EXPECT_EQ(gru->options_base.num_chunks(), 3);
  EXPECT_EQ(printed(*gru), "torch_ext::nn::GRUCell(10, 20, bias=false, reset_after=false)");
  torch_ext::nn::RNNCell rnn(torch_ext::nn::RNNCellOptions(10, 20).nonlinearity(torch::kReLU));
  EXPECT_TRUE(std::holds_alternative<torch::enumtype::kReLU>(rnn->options.nonlinearity()));
  EXPECT_EQ(rnn->options_base.num_chunks(), 1);
  for (const bool bias : {true, false}) {
    EXPECT_EQ(printed(*torch_ext::nn::GRUCell(torch_ext::nn::GRUCellOptions(10, 20).bias(bias))),
              in_our_namespace(
                  printed(*torch::nn::GRUCell(torch::nn::GRUCellOptions(10, 20).bias(bias)))));
    for (const bool relu : {true, false}) {
      auto ours = torch_ext::nn::RNNCellOptions(10, 20).bias(bias);
      auto reference = torch::nn::RNNCellOptions(10, 20).bias(bias);
      EXPECT_EQ(printed(*torch_ext::nn::RNNCell(relu ? ours.nonlinearity(torch::kReLU) : ours)),
                in_our_namespace(printed(*torch::nn::RNNCell(
                    relu ? reference.nonlinearity(torch::kReLU) : reference))));
    }
  }
  EXPECT_EQ(printed(*torch_ext::nn::RNNCell(torch_ext::nn::RNNCellOptions(10, 20)
                                                .bias(false)
                                                .nonlinearity(torch::kReLU))),
            "torch_ext::nn::RNNCell(10, 20, bias=false, nonlinearity=kReLU)");
}

TEST(ApiCellGruModule, CloneAnyModuleAndSerialization) {
  torch_ext::nn::GRUCell cell(torch_ext::nn::GRUCellOptions(kInput, kHidden).reset_after(false));
  const auto copy = std::dynamic_pointer_cast<torch_ext::nn::GRUCellImpl>(cell->clone());
  ASSERT_NE(copy, nullptr);
  EXPECT_FALSE(copy->options.reset_after());
  EXPECT_FALSE(copy->weight_ih.is_same(cell->weight_ih));
  const Tensor input = torch::randn({kBatch, kInput});
  torch::nn::AnyModule any(cell);
  EXPECT_TRUE(any.forward(input).equal(copy->forward(input)));

  const Tensor hx = torch::randn({kBatch, kHidden});
  for (const bool relu : {false, true}) {
    const auto nonlinearity = [relu](auto options) {
      return relu ? options.nonlinearity(torch::kReLU) : options;
    };
    expect_serialization_both_ways(
        torch::nn::RNNCell(nonlinearity(torch::nn::RNNCellOptions(kInput, kHidden))),
        torch_ext::nn::RNNCell(nonlinearity(torch_ext::nn::RNNCellOptions(kInput, kHidden))),
        torch::nn::RNNCell(nonlinearity(torch::nn::RNNCellOptions(kInput, kHidden))),
        torch_ext::nn::RNNCell(nonlinearity(torch_ext::nn::RNNCellOptions(kInput, kHidden))),
        [&](auto& module) { return module->forward(input, hx); });
  }
  expect_serialization_both_ways(torch::nn::GRUCell(kInput, kHidden),
                                 torch_ext::nn::GRUCell(kInput, kHidden),
                                 torch::nn::GRUCell(kInput, kHidden),
                                 torch_ext::nn::GRUCell(kInput, kHidden),
                                 [&](auto& module) { return module->forward(input, hx); });
}

TEST(ApiCellGruErrors, Messages) {
  torch::nn::GRUCell reference(kInput, kHidden);
  torch_ext::nn::GRUCell ours(kInput, kHidden);
  torch_ext::nn::RNNCell rnn(kInput, kHidden);
  copy_parameters(*reference, *ours);
  const Tensor cube = torch::randn({2, kBatch, kInput});
  const std::string rank_message = error_message([&] { reference->forward(cube); });
  ASSERT_FALSE(rank_message.empty());
  EXPECT_ERROR_WITH(ours->forward(cube), "GRUCell: " + rank_message);
  EXPECT_ERROR_WITH(rnn->forward(cube), "RNNCell: Expected input to be 1D or 2D, got 3D instead");
  const Tensor input = torch::randn({kBatch, kInput});
  EXPECT_ERROR_WITH(ours->forward(input, torch::zeros({1, kBatch, kHidden})),
                    "GRUCell: Expected hidden to be 1D or 2D, got 3D instead");
  // Sizes: the cell ops' checks, which keep torch::gru_cell's messages.
  for (const auto& [bad_input, bad_hx] : std::vector<std::pair<Tensor, Tensor>>{
           {torch::randn({kBatch, kInput + 1}), torch::zeros({kBatch, kHidden})},
           {input, torch::zeros({kBatch + 1, kHidden})},
           {input, torch::zeros({kBatch, kHidden + 1})},
       }) {
    const std::string expected = error_message([&] { reference->forward(bad_input, bad_hx); });
    ASSERT_FALSE(expected.empty());
    EXPECT_ERROR_WITH(ours->forward(bad_input, bad_hx), expected);
  }
}

TEST(ApiCellErrors, UnbatchedInputWithBatchedStates) {
  // torch::nn hands ATen the state unsqueezed to 3-D, which it reads out of bounds where the
  // sizes pass its checks (one unit, batch of one: a crash, found by fuzzing); ours refuses it.
  const Tensor input = torch::randn({1});
  const Tensor state = torch::zeros({1, 1});
  EXPECT_ERROR_WITH(torch_ext::nn::LSTMCell(1, 1)->forward(input, State{state, state}),
                    "LSTMCell: For unbatched 1-D input, hx[0] should also be 1-D but got 2-D tensor");
  EXPECT_ERROR_WITH(torch_ext::nn::GRUCell(1, 1)->forward(input, state),
                    "GRUCell: For unbatched 1-D input, hx should also be 1-D but got 2-D tensor");
  EXPECT_ERROR_WITH(torch_ext::nn::RNNCell(1, 1)->forward(input, state),
                    "RNNCell: For unbatched 1-D input, hx should also be 1-D but got 2-D tensor");
}

}  // namespace
}  // namespace torch_ext::testing
