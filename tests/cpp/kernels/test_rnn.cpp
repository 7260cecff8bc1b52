// Numerics of the vanilla RNN kernels (csrc/kernels/rnn.cpp), tanh and ReLU, driven through the
// public C++ API (torch_ext::rnn_tanh, rnn_relu, their cells, rnn_layer and its backward half):
// the shared checks of support/recurrence_checks.h against the ATen-op reference and at::rnn_tanh
// / at::rnn_relu, and what is particular to the RNN: the nonlinearity argument, and the backward
// half, which needs only the forward's output.
#include "support/recurrence_checks.h"

#include <torch_ext/ops.h>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace torch_ext::testing {
namespace {

const std::vector<Cell> kRnnCells{Cell::RnnTanh, Cell::RnnRelu};

INSTANTIATE_TEST_SUITE_P(Rnn, RecurrenceNumerics, ::testing::ValuesIn(recurrence_params(kRnnCells)),
                         recurrence_param_label);
INSTANTIATE_TEST_SUITE_P(Rnn, RecurrenceAtenParity,
                         ::testing::ValuesIn(recurrence_params(kRnnCells)),
                         recurrence_param_label);
INSTANTIATE_TEST_SUITE_P(Rnn, RecurrenceThreads, ::testing::ValuesIn(cell_params(kRnnCells)),
                         cell_param_label);
INSTANTIATE_TEST_SUITE_P(Rnn, RecurrenceLayer, ::testing::ValuesIn(cell_params(kRnnCells)),
                         cell_param_label);
INSTANTIATE_TEST_SUITE_P(Rnn, RecurrenceCellOp, ::testing::ValuesIn(cell_params(kRnnCells)),
                         cell_param_label);
INSTANTIATE_TEST_SUITE_P(Rnn, RecurrenceErrors, ::testing::ValuesIn(kRnnCells), cell_label);

RecurrenceConfig rnn_config(Cell cell) {
  RecurrenceConfig config;
  config.cell = cell;
  config.input_size = 3;
  config.hidden_size = 4;
  config.bidirectional = true;
  return config;
}

TEST(RnnLayerOp, RefusesAnUnknownNonlinearity) {
  const std::vector<at::Tensor> params =
      make_recurrence_params(rnn_config(Cell::RnnTanh), at::kFloat, false);
  const at::Tensor x = at::randn({5, 2, 3});
  const at::Tensor h0 = at::zeros({2, 2, 4});
  EXPECT_ERROR_WITH(torch_ext::rnn_layer(x, std::nullopt, h0, params, true, true, "sigmoid"),
                    "torch_ext::rnn_layer: unknown nonlinearity 'sigmoid', expected 'tanh' or "
                    "'relu'");
  const auto [output, hy] = torch_ext::rnn_layer(x, std::nullopt, h0, params, true, true, "tanh");
  EXPECT_ERROR_WITH(torch_ext::_rnn_layer_backward(at::ones_like(output), std::nullopt, x,
                                                   std::nullopt, h0, params, true, true, "Tanh",
                                                   output, true),
                    "torch_ext::_rnn_layer_backward: unknown nonlinearity 'Tanh'");
}

// _rnn_layer_backward, called by hand on rnn_layer's output, gives the gradients rnn_layer's
// autograd node gives; b_ih and b_hh receive equal gradients in tensors of their own.
TEST(RnnLayerHalves, BackwardGivesTheLayersGradients) {
  for (const Cell cell : {Cell::RnnTanh, Cell::RnnRelu}) {
    const std::string nonlinearity = cell == Cell::RnnTanh ? "tanh" : "relu";
    SCOPED_TRACE(nonlinearity);
    at::manual_seed(30);
    const auto options = at::TensorOptions().dtype(at::kDouble);
    const std::vector<at::Tensor> params =
        make_recurrence_params(rnn_config(cell), at::kDouble, true);
    const at::Tensor x = at::randn({11, 3}, options).requires_grad_(true);
    const at::Tensor h0 = at::randn({2, 4, 4}, options).requires_grad_(true);
    const at::Tensor batch_sizes = at::tensor(std::vector<int64_t>{4, 3, 2, 2}, at::kLong);
    const at::Tensor grad_output = at::randn({11, 8}, options);

    const auto [output, hy] =
        torch_ext::rnn_layer(x, batch_sizes, h0, params, true, true, nonlinearity);
    std::vector<at::Tensor> leaves{x, h0};
    leaves.insert(leaves.end(), params.begin(), params.end());
    // No gradient reaches h_n: the backward reads it as zero.
    const std::vector<at::Tensor> expected = torch::autograd::grad({output}, leaves, {grad_output});

    std::vector<at::Tensor> detached;
    for (const at::Tensor& param : params) {
      detached.push_back(param.detach());
    }
    const auto [grad_input, grad_hx, grad_params] = torch_ext::_rnn_layer_backward(
        grad_output, std::nullopt, x.detach(), batch_sizes, h0.detach(), detached, true, true,
        nonlinearity, output.detach(), /*need_grad_input=*/true);
    std::vector<at::Tensor> actual{grad_input, grad_hx};
    actual.insert(actual.end(), grad_params.begin(), grad_params.end());
    std::vector<std::string> names{"input", "h0"};
    for (const std::string& name : recurrence_param_names(rnn_config(cell))) {
      names.push_back(name);
    }
    expect_gradients_close(actual, expected, names);
    EXPECT_NE(grad_params[2].data_ptr(), grad_params[3].data_ptr());
    EXPECT_TRUE(grad_params[2].equal(grad_params[3]));
  }
}

}  // namespace
}  // namespace torch_ext::testing
