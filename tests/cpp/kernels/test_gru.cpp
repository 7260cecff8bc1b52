// Numerics of the GRU kernels (csrc/kernels/gru.cpp) in both forms, driven through the public C++
// API (torch_ext::gru, gru_reset_before, gru_cell, gru_reset_before_cell, gru_layer and its
// halves): the shared checks of support/recurrence_checks.h against the ATen-op reference
// (PyTorch's form also against at::gru), and what is particular to the GRU: the two forms differ
// exactly where the reset gate applies, and the layer op's halves give its autograd node's
// gradients.
#include "support/recurrence_checks.h"

#include <torch_ext/ops.h>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace torch_ext::testing {
namespace {

const std::vector<Cell> kGruCells{Cell::Gru, Cell::GruResetBefore};

INSTANTIATE_TEST_SUITE_P(Gru, RecurrenceNumerics, ::testing::ValuesIn(recurrence_params(kGruCells)),
                         recurrence_param_label);
INSTANTIATE_TEST_SUITE_P(Gru, RecurrenceAtenParity,
                         ::testing::ValuesIn(recurrence_params({Cell::Gru})),
                         recurrence_param_label);
INSTANTIATE_TEST_SUITE_P(Gru, RecurrenceThreads, ::testing::ValuesIn(cell_params(kGruCells)),
                         cell_param_label);
INSTANTIATE_TEST_SUITE_P(Gru, RecurrenceLayer, ::testing::ValuesIn(cell_params(kGruCells)),
                         cell_param_label);
INSTANTIATE_TEST_SUITE_P(Gru, RecurrenceCellOp, ::testing::ValuesIn(cell_params(kGruCells)),
                         cell_param_label);
INSTANTIATE_TEST_SUITE_P(Gru, RecurrenceErrors, ::testing::ValuesIn(kGruCells), cell_label);

// --- the two forms ------------------------------------------------------------------------------

RecurrenceConfig gru_config(int64_t num_layers, bool bidirectional, bool has_biases) {
  RecurrenceConfig config;
  config.input_size = 3;
  config.hidden_size = 4;
  config.num_layers = num_layers;
  config.bidirectional = bidirectional;
  config.has_biases = has_biases;
  return config;
}

double max_difference(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

TEST(GruForms, ResetBeforeDiffersFromResetAfterOnTheSameWeights) {
  at::manual_seed(20);
  RecurrenceConfig config = gru_config(2, true, true);
  const std::vector<at::Tensor> params = make_recurrence_params(config, at::kDouble, false);
  const at::Tensor x = at::randn({5, 2, 3}, at::kDouble);
  const at::Tensor h0 = at::randn({4, 2, 4}, at::kDouble);
  const auto [after, h_after] = torch_ext::gru(x, h0, params, true, 2, 0.0, false, true, false);
  const auto [before, h_before] =
      torch_ext::gru_reset_before(x, h0, params, true, 2, 0.0, false, true, false);
  EXPECT_GT(max_difference(after, before), 1e-3);
  EXPECT_GT(max_difference(h_after, h_before), 1e-3);
  // Each is the form it claims to be.
  config.cell = Cell::Gru;
  EXPECT_TENSORS_CLOSE(after, std::get<0>(reference_recurrence(x, h0, params, config, false)));
  config.cell = Cell::GruResetBefore;
  EXPECT_TENSORS_CLOSE(before, std::get<0>(reference_recurrence(x, h0, params, config, false)));
  // The cells likewise.
  const at::Tensor cell_after =
      torch_ext::gru_cell(x[0], h0[0], params[0], params[1], params[2], params[3]);
  const at::Tensor cell_before =
      torch_ext::gru_reset_before_cell(x[0], h0[0], params[0], params[1], params[2], params[3]);
  EXPECT_GT(max_difference(cell_after, cell_before), 1e-3);
}

// Without biases and from h = 0, r ⊙ (W_hn h) = W_hn (r ⊙ h) = 0: the forms agree on the first
// step, and differ from the second on.
TEST(GruForms, AgreeWhereTheResetGateCannotMatter) {
  at::manual_seed(21);
  const std::vector<at::Tensor> params =
      make_recurrence_params(gru_config(1, false, false), at::kDouble, false);
  const at::Tensor x = at::randn({3, 2, 3}, at::kDouble);
  const at::Tensor h0 = at::zeros({1, 2, 4}, at::kDouble);
  const at::Tensor after =
      std::get<0>(torch_ext::gru(x, h0, params, false, 1, 0.0, false, false, false));
  const at::Tensor before =
      std::get<0>(torch_ext::gru_reset_before(x, h0, params, false, 1, 0.0, false, false, false));
  EXPECT_LT(max_difference(after[0], before[0]), 1e-12);
  EXPECT_GT(max_difference(after.narrow(0, 1, 2), before.narrow(0, 1, 2)), 1e-3);
}

// --- the layer op's halves ----------------------------------------------------------------------

// _gru_layer_forward then _gru_layer_backward, called by hand, give the gradients gru_layer's
// autograd node gives; the forward saves r, z, n [D, N, 3H] and, in the reset-after form only,
// hidden_n [D, N, H].
TEST(GruLayerHalves, GiveTheLayersGradients) {
  for (const bool reset_after : {true, false}) {
    SCOPED_TRACE(reset_after ? "reset after" : "reset before");
    at::manual_seed(22);
    const auto options = at::TensorOptions().dtype(at::kDouble);
    const std::vector<at::Tensor> params =
        make_recurrence_params(gru_config(1, true, true), at::kDouble, true);
    const at::Tensor x = at::randn({11, 3}, options).requires_grad_(true);
    const at::Tensor h0 = at::randn({2, 4, 4}, options).requires_grad_(true);
    const at::Tensor batch_sizes = at::tensor(std::vector<int64_t>{4, 3, 2, 2}, at::kLong);
    const at::Tensor grad_output = at::randn({11, 8}, options);
    const at::Tensor grad_hy = at::randn({2, 4, 4}, options);

    const auto [output, hy] =
        torch_ext::gru_layer(x, batch_sizes, h0, params, true, true, reset_after);
    std::vector<at::Tensor> leaves{x, h0};
    leaves.insert(leaves.end(), params.begin(), params.end());
    const std::vector<at::Tensor> expected =
        torch::autograd::grad({output, hy}, leaves, {grad_output, grad_hy});

    std::vector<at::Tensor> detached;
    for (const at::Tensor& param : params) {
      detached.push_back(param.detach());
    }
    const auto [saved_output, saved_hy, gates, hidden_n] = torch_ext::_gru_layer_forward(
        x.detach(), batch_sizes, h0.detach(), detached, true, true, reset_after);
    EXPECT_EQ(gates.sizes(), (at::IntArrayRef{2, 11, 12}));
    EXPECT_EQ(hidden_n.numel(), reset_after ? 2 * 11 * 4 : 0);
    EXPECT_TENSORS_CLOSE(saved_output, output.detach());
    const auto [grad_input, grad_hx, grad_params] = torch_ext::_gru_layer_backward(
        grad_output, grad_hy, x.detach(), batch_sizes, h0.detach(), detached, true, true,
        reset_after, saved_output, gates, hidden_n, /*need_grad_input=*/true);
    std::vector<at::Tensor> actual{grad_input, grad_hx};
    actual.insert(actual.end(), grad_params.begin(), grad_params.end());
    std::vector<std::string> names{"input", "h0"};
    for (const std::string& name : recurrence_param_names(gru_config(1, true, true))) {
      names.push_back(name);
    }
    expect_gradients_close(actual, expected, names);
  }
}

TEST(GruLayerHalves, BackwardChecksTheSavedTensors) {
  at::manual_seed(23);
  const std::vector<at::Tensor> params =
      make_recurrence_params(gru_config(1, true, true), at::kDouble, false);
  const at::Tensor x = at::randn({4, 3, 3}, at::kDouble);
  const at::Tensor h0 = at::randn({2, 3, 4}, at::kDouble);
  const auto [output, hy, gates, hidden_n] =
      torch_ext::_gru_layer_forward(x, std::nullopt, h0, params, true, true, true);
  const auto backward = [&](const at::Tensor& saved_output, const at::Tensor& saved_gates,
                            const at::Tensor& saved_hidden_n) {
    return torch_ext::_gru_layer_backward(std::nullopt, at::ones_like(hy), x, std::nullopt, h0,
                                          params, true, true, true, saved_output, saved_gates,
                                          saved_hidden_n, true);
  };
  EXPECT_NO_THROW(backward(output, gates, hidden_n));
  const std::string op = "torch_ext::_gru_layer_backward: ";
  EXPECT_ERROR_WITH(backward(output, gates.narrow(2, 0, 11), hidden_n),
                    op + "expected gates of shape [2, 12, 12], got [2, 12, 11]");
  EXPECT_ERROR_WITH(backward(output, gates, hidden_n.narrow(1, 0, 11)),
                    op + "expected hidden_n of shape [2, 12, 4], got [2, 11, 4]");
  EXPECT_ERROR_WITH(backward(output.narrow(2, 0, 4), gates, hidden_n),
                    op + "expected output of shape [4, 3, 8], got [4, 3, 4]");
}

}  // namespace
}  // namespace torch_ext::testing
