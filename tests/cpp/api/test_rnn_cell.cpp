// torch_ext::nn::LSTMCell (csrc/api/nn/rnn_cell.cpp) against torch::nn::LSTMCell with the same
// weights: outputs and gradients, batched and unbatched, with and without a state and biases;
// parameters, initial values, options, pretty_print, clone; errors.
#include "api/module_testing.h"
#include "support/lstm_reference.h"

#include <torch_ext/torch_ext.h>

#include <torch/torch.h>

#include <gtest/gtest.h>

#include <optional>
#include <sstream>
#include <string>
#include <tuple>

namespace torch_ext::testing {
namespace {

using torch::Tensor;

constexpr int64_t kInput = 3;
constexpr int64_t kHidden = 5;
constexpr int64_t kBatch = 4;

struct CellRun {
  Tensor h, c, grad_input, grad_h0, grad_c0;
  std::map<std::string, Tensor> grad_params;
};

// One step of `cell` (torch::nn::LSTMCell or torch_ext::nn::LSTMCell) and the backward of a fixed
// loss, on copies of the inputs.
template <typename Cell>
CellRun run_cell(Cell& cell, const Tensor& input, const std::optional<State>& hx) {
  cell->zero_grad();
  const Tensor x = leaf_copy(input);
  const std::optional<State> state = leaf_copy(hx);
  auto [h, c] = cell->forward(x, state);
  ((h * probe_like(h, 0.4)).sum() + (c * probe_like(c, 0.5)).sum()).backward();
  CellRun run{h.detach(), c.detach(), x.grad(), {}, {}, parameter_gradients(*cell)};
  if (state.has_value()) {
    run.grad_h0 = std::get<0>(*state).grad();
    run.grad_c0 = std::get<1>(*state).grad();
  }
  return run;
}

TEST(ApiCellLstmParity, EveryOption) {
  torch::manual_seed(0);
  for (const torch::Dtype dtype : {torch::kFloat, torch::kDouble}) {
    for (const bool bias : {true, false}) {
      for (const bool with_hx : {true, false}) {
        for (const bool batched : {true, false}) {
          SCOPED_TRACE(dtype_name(dtype) + " bias=" + std::to_string(bias) +
                       " hx=" + std::to_string(with_hx) + " batched=" + std::to_string(batched));
          torch::nn::LSTMCell reference(torch::nn::LSTMCellOptions(kInput, kHidden).bias(bias));
          torch_ext::nn::LSTMCell ours(torch_ext::nn::LSTMCellOptions(kInput, kHidden).bias(bias));
          reference->to(dtype);
          ours->to(dtype);
          copy_parameters(*reference, *ours);
          const Tensor input = torch::randn({kBatch, kInput}, dtype);
          std::optional<State> hx;
          if (with_hx) {
            hx = State{torch::randn({kBatch, kHidden}, dtype), torch::randn({kBatch, kHidden}, dtype)};
          }
          const CellRun expected = run_cell(reference, input, hx);
          if (batched) {
            const CellRun actual = run_cell(ours, input, hx);
            EXPECT_TENSORS_CLOSE(actual.h, expected.h);
            EXPECT_TENSORS_CLOSE(actual.c, expected.c);
            EXPECT_TENSORS_CLOSE(actual.grad_input, expected.grad_input);
            EXPECT_TENSORS_CLOSE(actual.grad_h0, expected.grad_h0);
            EXPECT_TENSORS_CLOSE(actual.grad_c0, expected.grad_c0);
            expect_parameter_gradients_close(actual.grad_params, expected.grad_params);
            continue;
          }
          // Unbatched: sample 0 alone, [I] and [H] (torch::nn's C++ cell gets a missing state of
          // unbatched input wrong, so the reference is its batched run).
          std::optional<State> first_hx;
          std::optional<State> sample_hx;
          if (with_hx) {
            first_hx = State{std::get<0>(*hx).narrow(0, 0, 1), std::get<1>(*hx).narrow(0, 0, 1)};
            sample_hx = State{std::get<0>(*hx)[0], std::get<1>(*hx)[0]};
          }
          const CellRun single = run_cell(reference, input.narrow(0, 0, 1), first_hx);
          const CellRun actual = run_cell(ours, input[0], sample_hx);
          EXPECT_EQ(actual.h.sizes(), (std::vector<int64_t>{kHidden}));
          EXPECT_TENSORS_CLOSE(actual.h, single.h[0]);
          EXPECT_TENSORS_CLOSE(actual.c, single.c[0]);
          EXPECT_TENSORS_CLOSE(actual.grad_input, single.grad_input[0]);
          if (with_hx) {
            EXPECT_TENSORS_CLOSE(actual.grad_h0, single.grad_h0[0]);
            EXPECT_TENSORS_CLOSE(actual.grad_c0, single.grad_c0[0]);
          }
          expect_parameter_gradients_close(actual.grad_params, single.grad_params);
        }
      }
    }
  }
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

std::string printed(const torch::nn::Module& module) {
  std::ostringstream text;
  module.pretty_print(text);
  return text.str();
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

}  // namespace
}  // namespace torch_ext::testing
