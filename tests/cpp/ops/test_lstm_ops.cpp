// The LSTM operators (csrc/ops/lstm.cpp, lstm_autograd.cpp, library.cpp) as the dispatcher sees
// them: their schemas (ATen's, for the public ops), the kernels registered per dispatch key, the
// Meta kernels (shapes without data), argument checks that name the argument, and op-level
// behaviour (dropout, the autograd node).
#include "support/lstm_reference.h"

#include <torch_ext/ops.h>

#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/function.h>
#include <ATen/core/grad_mode.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace torch_ext::testing {
namespace {

c10::OperatorHandle op_handle(const char* name, const char* overload = "") {
  return c10::Dispatcher::singleton().findSchemaOrThrow(name, overload);
}

// --- schemas and registrations ----------------------------------------------------------------

// torch.ops.torch_ext.lstm / lstm_cell stand where torch.lstm / torch.lstm_cell stand: the same
// arguments (names, types, defaults) and returns.
TEST(OpsLstmSchemas, PublicOpsHaveAtensSignatures) {
  const std::vector<std::pair<const char*, const char*>> ops{
      {"lstm", "input"}, {"lstm", "data"}, {"lstm_cell", ""}};
  for (const auto& [name, overload] : ops) {
    SCOPED_TRACE(std::string(name) + "." + overload);
    const c10::FunctionSchema& ours = op_handle(("torch_ext::" + std::string(name)).c_str(),
                                                overload).schema();
    const c10::FunctionSchema& aten =
        op_handle(("aten::" + std::string(name)).c_str(), overload).schema();
    ASSERT_EQ(ours.arguments().size(), aten.arguments().size()) << ours << "\nvs\n" << aten;
    for (size_t k = 0; k < aten.arguments().size(); ++k) {
      const c10::Argument& a = ours.arguments()[k];
      const c10::Argument& b = aten.arguments()[k];
      EXPECT_EQ(a.name(), b.name());
      EXPECT_EQ(a.type()->str(), b.type()->str()) << "argument " << b.name();
      EXPECT_EQ(a.default_value().has_value(), b.default_value().has_value())
          << "argument " << b.name();
      EXPECT_FALSE(a.is_out() || (a.alias_info() != nullptr)) << "argument " << a.name();
    }
    ASSERT_EQ(ours.returns().size(), aten.returns().size());
    for (size_t k = 0; k < aten.returns().size(); ++k) {
      EXPECT_EQ(ours.returns()[k].type()->str(), aten.returns()[k].type()->str());
    }
  }
}

TEST(OpsLstmSchemas, LayerOps) {
  EXPECT_EQ(c10::toString(op_handle("torch_ext::lstm_layer").schema()),
            "torch_ext::lstm_layer(Tensor input, Tensor? batch_sizes, Tensor hx, Tensor cx, "
            "Tensor[] params, bool has_biases, bool bidirectional) -> "
            "(Tensor output, Tensor hy, Tensor cy)");
  const c10::FunctionSchema& forward = op_handle("torch_ext::_lstm_layer_forward").schema();
  EXPECT_EQ(forward.arguments().size(), 7u);
  ASSERT_EQ(forward.returns().size(), 5u);
  EXPECT_EQ(forward.returns()[3].name(), "gates");
  EXPECT_EQ(forward.returns()[4].name(), "cells");
  const c10::FunctionSchema& backward = op_handle("torch_ext::_lstm_layer_backward").schema();
  EXPECT_EQ(backward.arguments().size(), 14u);
  ASSERT_EQ(backward.returns().size(), 4u);
  EXPECT_EQ(backward.returns()[3].type()->str(), "Tensor[]");
  // Every op is functional: no argument is written to or aliased by an output.
  for (const char* name : {"torch_ext::lstm_layer", "torch_ext::_lstm_layer_forward",
                           "torch_ext::_lstm_layer_backward"}) {
    const c10::FunctionSchema& schema = op_handle(name).schema();
    EXPECT_FALSE(schema.is_mutable()) << name;
    for (const c10::Argument& argument : schema.arguments()) {
      EXPECT_EQ(argument.alias_info(), nullptr) << name << ": " << argument.name();
    }
  }
}

TEST(OpsLstmSchemas, KernelsRegisteredPerDispatchKey) {
  for (const char* name : {"torch_ext::lstm_layer", "torch_ext::_lstm_layer_forward",
                           "torch_ext::_lstm_layer_backward"}) {
    const c10::OperatorHandle op = op_handle(name);
    EXPECT_TRUE(op.hasKernelForDispatchKey(c10::DispatchKey::CPU)) << name;
    EXPECT_TRUE(op.hasKernelForDispatchKey(c10::DispatchKey::Meta)) << name;
    EXPECT_TRUE(op.hasTag(at::Tag::pt2_compliant_tag)) << name;
  }
  // The layer op's autograd is its own C++ node; the halves below it have none.
  EXPECT_TRUE(
      op_handle("torch_ext::lstm_layer").hasKernelForDispatchKey(c10::DispatchKey::Autograd));
  const std::vector<std::pair<const char*, const char*>> public_ops{
      {"torch_ext::lstm", "input"}, {"torch_ext::lstm", "data"}, {"torch_ext::lstm_cell", ""}};
  for (const auto& [name, overload] : public_ops) {
    const c10::OperatorHandle op = op_handle(name, overload);
    EXPECT_TRUE(op.hasKernelForDispatchKey(c10::DispatchKey::CompositeImplicitAutograd))
        << name << "." << overload;
    EXPECT_TRUE(op.hasTag(at::Tag::pt2_compliant_tag)) << name << "." << overload;
  }
}

// --- Meta kernels: shapes without data --------------------------------------------------------

at::TensorOptions meta(at::ScalarType dtype = at::kFloat) {
  return at::TensorOptions().device(at::kMeta).dtype(dtype);
}

std::vector<at::Tensor> meta_params(const LstmConfig& config, at::ScalarType dtype) {
  std::vector<at::Tensor> params;
  for (const std::vector<int64_t>& shape : lstm_param_shapes(config)) {
    params.push_back(at::empty(shape, meta(dtype)));
  }
  return params;
}

void expect_meta(const at::Tensor& tensor, at::IntArrayRef sizes, at::ScalarType dtype) {
  EXPECT_TRUE(tensor.is_meta());
  EXPECT_EQ(tensor.sizes(), sizes);
  EXPECT_EQ(tensor.scalar_type(), dtype);
}

TEST(OpsLstmMeta, PaddedShapes) {
  LstmConfig config;
  config.input_size = 3;
  config.hidden_size = 8;
  config.proj_size = 5;
  config.num_layers = 2;
  config.bidirectional = true;
  for (const at::ScalarType dtype : {at::kFloat, at::kDouble}) {
    for (const bool batch_first : {false, true}) {
      SCOPED_TRACE(batch_first ? "batch_first" : "time major");
      const int64_t T = 7;
      const int64_t B = 4;
      const at::Tensor input =
          at::empty(batch_first ? at::IntArrayRef{B, T, 3} : at::IntArrayRef{T, B, 3}, meta(dtype));
      const at::Tensor h0 = at::empty({4, B, 5}, meta(dtype));
      const at::Tensor c0 = at::empty({4, B, 8}, meta(dtype));
      const auto [output, h_n, c_n] =
          torch_ext::lstm(input, {h0, c0}, meta_params(config, dtype), true, 2, 0.0, true, true,
                          batch_first);
      expect_meta(output, batch_first ? at::IntArrayRef{B, T, 10} : at::IntArrayRef{T, B, 10},
                  dtype);
      expect_meta(h_n, {4, B, 5}, dtype);
      expect_meta(c_n, {4, B, 8}, dtype);
    }
  }
}

// Sizes no CPU could hold: the Meta kernels allocate nothing.
TEST(OpsLstmMeta, HugeShapesAllocateNothing) {
  LstmConfig config;
  config.input_size = 1024;
  config.hidden_size = 4096;
  config.num_layers = 1;
  const int64_t T = 100000;
  const int64_t B = 50000;
  const at::Tensor input = at::empty({T, B, 1024}, meta());
  const at::Tensor h0 = at::empty({1, B, 4096}, meta());
  const at::Tensor c0 = at::empty({1, B, 4096}, meta());
  const auto [output, h_n, c_n] =
      torch_ext::lstm(input, {h0, c0}, meta_params(config, at::kFloat), true, 1, 0.0, false,
                      false, false);
  expect_meta(output, {T, B, 4096}, at::kFloat);
  expect_meta(h_n, {1, B, 4096}, at::kFloat);
}

TEST(OpsLstmMeta, PackedShapes) {
  LstmConfig config;
  config.hidden_size = 6;
  config.bidirectional = true;
  const at::Tensor batch_sizes = at::tensor(std::vector<int64_t>{3, 2, 2, 1}, at::kLong);
  const at::Tensor data = at::empty({8, 3}, meta());
  const at::Tensor h0 = at::empty({2, 3, 6}, meta());
  const auto [output, h_n, c_n] = torch_ext::lstm(data, batch_sizes, {h0, h0},
                                                  meta_params(config, at::kFloat), true, 1, 0.0,
                                                  true, true);
  expect_meta(output, {8, 12}, at::kFloat);
  expect_meta(h_n, {2, 3, 6}, at::kFloat);
  expect_meta(c_n, {2, 3, 6}, at::kFloat);
}

TEST(OpsLstmMeta, CellShapes) {
  const at::Tensor input = at::empty({4, 3}, meta(at::kDouble));
  const at::Tensor h = at::empty({4, 5}, meta(at::kDouble));
  const auto [h_next, c_next] =
      torch_ext::lstm_cell(input, {h, h}, at::empty({20, 3}, meta(at::kDouble)),
                           at::empty({20, 5}, meta(at::kDouble)),
                           at::empty({20}, meta(at::kDouble)), at::empty({20}, meta(at::kDouble)));
  expect_meta(h_next, {4, 5}, at::kDouble);
  expect_meta(c_next, {4, 5}, at::kDouble);
}

using LayerForwardSignature =
    std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor>(
        const at::Tensor&, const std::optional<at::Tensor>&, const at::Tensor&, const at::Tensor&,
        at::TensorList, bool, bool);
using LayerBackwardSignature =
    std::tuple<at::Tensor, at::Tensor, at::Tensor, std::vector<at::Tensor>>(
        const std::optional<at::Tensor>&, const std::optional<at::Tensor>&,
        const std::optional<at::Tensor>&, const at::Tensor&, const std::optional<at::Tensor>&,
        const at::Tensor&, const at::Tensor&, at::TensorList, bool, bool, const at::Tensor&,
        const at::Tensor&, const at::Tensor&, bool);

// The training forward's saved tensors and the backward's gradients have their shapes on Meta.
TEST(OpsLstmMeta, LayerForwardAndBackwardShapes) {
  LstmConfig config;
  config.input_size = 3;
  config.hidden_size = 6;
  config.proj_size = 2;
  config.bidirectional = true;
  const std::vector<at::Tensor> params = meta_params(config, at::kFloat);
  const at::Tensor input = at::empty({5, 4, 3}, meta());
  const at::Tensor hx = at::empty({2, 4, 2}, meta());
  const at::Tensor cx = at::empty({2, 4, 6}, meta());
  const auto forward = op_handle("torch_ext::_lstm_layer_forward").typed<LayerForwardSignature>();
  const auto [output, hy, cy, gates, cells] =
      forward.call(input, std::nullopt, hx, cx, params, true, true);
  expect_meta(output, {5, 4, 4}, at::kFloat);
  expect_meta(hy, {2, 4, 2}, at::kFloat);
  expect_meta(cy, {2, 4, 6}, at::kFloat);
  expect_meta(gates, {2, 20, 24}, at::kFloat);
  expect_meta(cells, {2, 20, 6}, at::kFloat);

  const auto backward =
      op_handle("torch_ext::_lstm_layer_backward").typed<LayerBackwardSignature>();
  const auto [grad_input, grad_hx, grad_cx, grad_params] =
      backward.call(at::empty({5, 4, 4}, meta()), std::nullopt, cy, input, std::nullopt, hx, cx,
                    params, true, true, output, gates, cells, true);
  expect_meta(grad_input, {5, 4, 3}, at::kFloat);
  expect_meta(grad_hx, {2, 4, 2}, at::kFloat);
  expect_meta(grad_cx, {2, 4, 6}, at::kFloat);
  ASSERT_EQ(grad_params.size(), params.size());
  for (size_t k = 0; k < params.size(); ++k) {
    expect_meta(grad_params[k], params[k].sizes(), at::kFloat);
  }
  // The backward checks the saved tensors it is handed, on Meta as on the CPU.
  EXPECT_ERROR_WITH(backward.call(std::nullopt, std::nullopt, cy, input, std::nullopt, hx, cx,
                                  params, true, true, output, at::empty({2, 20, 23}, meta()),
                                  cells, true),
                    "torch_ext::_lstm_layer_backward", "gates", "[2, 20, 24]", "[2, 20, 23]");
}

TEST(OpsLstmMeta, ChecksApplyOnMeta) {
  LstmConfig config;
  const at::Tensor input = at::empty({5, 4, 4}, meta());  // input_size 4, weights expect 3
  const at::Tensor h0 = at::empty({1, 4, 5}, meta());
  EXPECT_ERROR_WITH(torch_ext::lstm(input, {h0, h0}, meta_params(config, at::kFloat), true, 1,
                                    0.0, false, false, false),
                    "input.size(-1)", "input_size", "Expected 3, got 4");
}

// --- argument checks ----------------------------------------------------------------------------

// A valid single-layer problem on the CPU, for the checks to break one argument at a time.
class OpsLstmChecks : public ::testing::Test {
 protected:
  void SetUp() override {
    at::manual_seed(1);
    config_.input_size = 3;
    config_.hidden_size = 5;
    input_ = at::randn({4, 2, 3});
    h0_ = at::randn({1, 2, 5});
    c0_ = at::randn({1, 2, 5});
    params_ = make_lstm_params(config_, at::kFloat, false);
  }

  LstmOutputs lstm(const at::Tensor& input) const { return lstm(input, h0_, c0_, params_); }
  LstmOutputs lstm(const at::Tensor& input, const at::Tensor& h0, const at::Tensor& c0,
                   at::TensorList params, int64_t num_layers = 1, double dropout = 0.0) const {
    return torch_ext::lstm(input, {h0, c0}, params, true, num_layers, dropout, true, false,
                           false);
  }
  LstmOutputs packed(const at::Tensor& data, const at::Tensor& batch_sizes) const {
    return torch_ext::lstm(data, batch_sizes, {h0_, c0_}, params_, true, 1, 0.0, true, false);
  }

  LstmConfig config_;
  at::Tensor input_, h0_, c0_;
  std::vector<at::Tensor> params_;
};

TEST_F(OpsLstmChecks, ValidArgumentsPass) {
  const auto [output, h_n, c_n] = lstm(input_);
  EXPECT_EQ(output.sizes(), at::IntArrayRef({4, 2, 5}));
}

TEST_F(OpsLstmChecks, InputDimensions) {
  EXPECT_ERROR_WITH(lstm(input_[0]), "torch_ext::lstm", "input", "3-D", "[2, 3]");
  EXPECT_ERROR_WITH(lstm(input_.unsqueeze(0)), "input", "3-D", "[1, 4, 2, 3]");
  EXPECT_ERROR_WITH(packed(input_, at::tensor(std::vector<int64_t>{2, 2, 2, 2}, at::kLong)),
                    "data", "2-D");
}

TEST_F(OpsLstmChecks, InputSize) {
  EXPECT_ERROR_WITH(lstm(at::randn({4, 2, 4})), "torch_ext::lstm", "input.size(-1)",
                    "input_size", "Expected 3, got 4");
  // Above the first layer the input width is the layer below's: a wrong weight_ih is named.
  LstmConfig two_layers = config_;
  two_layers.num_layers = 2;
  std::vector<at::Tensor> params = make_lstm_params(two_layers, at::kFloat, false);
  params[4] = at::randn({20, 6});
  EXPECT_ERROR_WITH(lstm(input_, at::cat({h0_, h0_}), at::cat({c0_, c0_}), params, 2),
                    "weight_ih_l1", "[20, 5]", "[20, 6]");
}

TEST_F(OpsLstmChecks, InputDtype) {
  EXPECT_ERROR_WITH(lstm(input_.to(at::kInt)), "input", "float32, float64 or bfloat16", "Int");
  EXPECT_ERROR_WITH(lstm(input_.to(at::kHalf)), "input", "float32, float64 or bfloat16");
}

TEST_F(OpsLstmChecks, DtypeMismatch) {
  EXPECT_ERROR_WITH(lstm(input_.to(at::kDouble)), "hx[0]", "dtype", "Double", "Float");
  EXPECT_ERROR_WITH(lstm(input_, h0_, c0_.to(at::kDouble), params_), "hx[1]", "dtype");
  std::vector<at::Tensor> params = params_;
  params[1] = params[1].to(at::kDouble);
  EXPECT_ERROR_WITH(lstm(input_, h0_, c0_, params), "weight_hh_l0", "dtype", "Double");
}

TEST_F(OpsLstmChecks, ParamsCount) {
  const std::vector<at::Tensor> three(params_.begin(), params_.begin() + 3);
  EXPECT_ERROR_WITH(lstm(input_, h0_, c0_, three), "params", "4 tensors", "got 3");
  std::vector<at::Tensor> five = params_;
  five.push_back(params_[0]);
  // Five tensors with hx and cx of equal sizes: no projection, so five is one too many.
  EXPECT_ERROR_WITH(lstm(input_, h0_, c0_, five), "params", "4 tensors", "got 5");
  // Two layers' worth of states with one layer's params.
  EXPECT_ERROR_WITH(lstm(input_, at::cat({h0_, h0_}), at::cat({c0_, c0_}), params_, 2),
                    "params", "8 tensors", "got 4");
}

TEST_F(OpsLstmChecks, ParamShapes) {
  std::vector<at::Tensor> params = params_;
  params[2] = at::randn({19});
  EXPECT_ERROR_WITH(lstm(input_, h0_, c0_, params), "bias_ih_l0", "[20]", "[19]");
  params = params_;
  params[1] = at::randn({20, 4});
  EXPECT_ERROR_WITH(lstm(input_, h0_, c0_, params), "weight_hh_l0", "[20, 5]", "[20, 4]");
}

TEST_F(OpsLstmChecks, HiddenStateShapes) {
  EXPECT_ERROR_WITH(lstm(input_, at::randn({2, 2, 5}), c0_, params_), "hx[0]", "[1, 2, 5]",
                    "[2, 2, 5]");
  EXPECT_ERROR_WITH(lstm(input_, h0_, at::randn({1, 3, 5}), params_), "hx[1]", "[1, 2, 5]",
                    "[1, 3, 5]");
  EXPECT_ERROR_WITH(lstm(input_, h0_[0], c0_, params_), "hx[0]", "3-D");
  EXPECT_ERROR_WITH(torch_ext::lstm(input_, {h0_}, params_, true, 1, 0.0, true, false, false),
                    "two hidden states");
}

TEST_F(OpsLstmChecks, EmptySequence) {
  EXPECT_ERROR_WITH(lstm(at::randn({0, 2, 3})), "sequence length", "input", "[0, 2, 3]");
  EXPECT_ERROR_WITH(torch_ext::lstm(at::randn({2, 0, 3}), {h0_, c0_}, params_, true, 1, 0.0, true,
                                    false, /*batch_first=*/true),
                    "sequence length", "input");
  EXPECT_ERROR_WITH(packed(at::randn({0, 3}), at::empty({0}, at::kLong)), "sequence length",
                    "batch_sizes");
}

TEST_F(OpsLstmChecks, BatchSizes) {
  const at::Tensor data = at::randn({5, 3});
  const auto sizes = [](std::vector<int64_t> values) { return at::tensor(values, at::kLong); };
  EXPECT_ERROR_WITH(packed(data, sizes({1, 2, 2})), "batch_sizes", "non-increasing");
  EXPECT_ERROR_WITH(packed(data, sizes({2, 2})), "batch_sizes sum to 4", "5 rows");
  EXPECT_ERROR_WITH(packed(data, sizes({2, 2, 1}).to(at::kInt)), "batch_sizes", "int64");
  EXPECT_ERROR_WITH(packed(data, sizes({2, 2, 1, 0})), "batch_sizes", "positive");
  EXPECT_ERROR_WITH(packed(data, sizes({2, 2, 1}).reshape({1, 3})), "batch_sizes", "1-D");
  // batch_sizes[0] = 3 sequences, but h0 holds 2.
  EXPECT_ERROR_WITH(packed(data, sizes({3, 2})), "batch_sizes[0] = 3", "2 sequences");
}

TEST_F(OpsLstmChecks, NumLayersAndDropout) {
  EXPECT_ERROR_WITH(lstm(input_, h0_, c0_, params_, 0), "num_layers");
  EXPECT_ERROR_WITH(lstm(input_, h0_, c0_, params_, 1, 1.5), "dropout");
  EXPECT_ERROR_WITH(lstm(input_, h0_, c0_, params_, 1, -0.1), "dropout");
}

TEST_F(OpsLstmChecks, LayerOp) {
  // cx sets the hidden size; hx must match it (no projection with four params).
  EXPECT_ERROR_WITH(torch_ext::lstm_layer(input_, std::nullopt, h0_, at::randn({1, 2, 6}),
                                          params_, true, false),
                    "torch_ext::lstm_layer", "hx", "[1, 2, 6]", "[1, 2, 5]");
  EXPECT_ERROR_WITH(torch_ext::lstm_layer(input_, std::nullopt, h0_, at::randn({1, 3, 5}),
                                          params_, true, false),
                    "torch_ext::lstm_layer", "cx", "[1, 2, 5]", "[1, 3, 5]");
  EXPECT_ERROR_WITH(torch_ext::lstm_layer(input_, std::nullopt, h0_[0], c0_, params_, true,
                                          false),
                    "torch_ext::lstm_layer", "hx", "3-D");
  EXPECT_ERROR_WITH(torch_ext::lstm_layer(input_, std::nullopt, at::cat({h0_, h0_}),
                                          at::cat({c0_, c0_}), params_, true,
                                          /*bidirectional=*/true),
                    "torch_ext::lstm_layer", "params", "8 tensors");
}

TEST(OpsLstmCellChecks, Arguments) {
  at::manual_seed(2);
  const at::Tensor x = at::randn({4, 3});
  const at::Tensor h = at::randn({4, 5});
  const at::Tensor w_ih = at::randn({20, 3});
  const at::Tensor w_hh = at::randn({20, 5});
  const at::Tensor b = at::randn({20});
  EXPECT_ERROR_WITH(torch_ext::lstm_cell(x[0], {h, h}, w_ih, w_hh, b, b), "torch_ext::lstm_cell",
                    "input", "2-D");
  EXPECT_ERROR_WITH(torch_ext::lstm_cell(at::randn({4, 2}), {h, h}, w_ih, w_hh, b, b),
                    "input_size", "2", "3");
  EXPECT_ERROR_WITH(torch_ext::lstm_cell(x, {h.narrow(0, 0, 3), h}, w_ih, w_hh, b, b),
                    "batch size", "hidden0");
  EXPECT_ERROR_WITH(torch_ext::lstm_cell(x, {h, at::randn({4, 6})}, w_ih, w_hh, b, b), "hidden1",
                    "hidden_size");
  EXPECT_ERROR_WITH(torch_ext::lstm_cell(x, {h, h}, w_ih, w_hh, at::randn({19}), b), "bias_ih");
  EXPECT_ERROR_WITH(torch_ext::lstm_cell(x, {h, h}, w_ih.to(at::kDouble), w_hh, b, b),
                    "weight_ih", "dtype");
  EXPECT_ERROR_WITH(torch_ext::lstm_cell(x, {h, h}, w_ih, at::randn({15, 5}), b, b), "weight_hh");
  EXPECT_ERROR_WITH(torch_ext::lstm_cell(x.to(at::kLong), {h, h}, w_ih, w_hh, b, b), "input",
                    "float32, float64 or bfloat16");
}

// --- op-level behaviour -------------------------------------------------------------------------

LstmConfig two_layer_config() {
  LstmConfig config;
  config.input_size = 3;
  config.hidden_size = 5;
  config.num_layers = 2;
  config.bidirectional = true;
  return config;
}

TEST(OpsLstmBehaviour, DropoutAppliesBetweenLayersOnlyWhenTraining) {
  at::manual_seed(4);
  const LstmConfig config = two_layer_config();
  const std::vector<at::Tensor> params = make_lstm_params(config, at::kDouble, false);
  const at::Tensor input = at::randn({4, 3, 3}, at::kDouble);
  const at::Tensor h0 = at::randn({4, 3, 5}, at::kDouble);
  const at::Tensor c0 = at::randn({4, 3, 5}, at::kDouble);
  const auto run = [&](double dropout, bool train) {
    return torch_ext::lstm(input, {h0, c0}, params, true, 2, dropout, train, true, false);
  };
  const auto [plain_output, plain_h, plain_c] = run(0.0, true);
  const auto [eval_output, eval_h, eval_c] = run(0.5, /*train=*/false);
  EXPECT_TRUE(at::equal(eval_output, plain_output));
  EXPECT_TRUE(at::equal(eval_h, plain_h));
  const auto [dropped_output, dropped_h, dropped_c] = run(0.5, /*train=*/true);
  // The first layer runs on the undropped input; only the second sees dropout.
  EXPECT_TRUE(at::equal(dropped_h.narrow(0, 0, 2), plain_h.narrow(0, 0, 2)));
  EXPECT_TRUE(at::equal(dropped_c.narrow(0, 0, 2), plain_c.narrow(0, 0, 2)));
  EXPECT_FALSE(at::allclose(dropped_output, plain_output));
}

// One autograd node per layer, the op's own (not a graph of ATen ops); none without grad.
TEST(OpsLstmBehaviour, OneAutogradNodePerLayer) {
  at::manual_seed(5);
  LstmConfig config;
  const std::vector<at::Tensor> params = make_lstm_params(config, at::kFloat, true);
  const at::Tensor input = at::randn({4, 2, 3});
  const at::Tensor h0 = at::zeros({1, 2, 5});
  const auto [output, h_n, c_n] =
      torch_ext::lstm(input, {h0, h0}, params, true, 1, 0.0, true, false, false);
  ASSERT_NE(output.grad_fn(), nullptr);
  EXPECT_NE(output.grad_fn()->name().find("LstmLayerFunction"), std::string::npos)
      << output.grad_fn()->name();
  // Its inputs are the leaves themselves: the params feed the node directly.
  size_t accumulate_edges = 0;
  for (const torch::autograd::Edge& edge : output.grad_fn()->next_edges()) {
    accumulate_edges += edge.is_valid() ? 1 : 0;
  }
  EXPECT_EQ(accumulate_edges, params.size());

  at::NoGradGuard no_grad;
  const auto [inference_output, inference_h, inference_c] =
      torch_ext::lstm(input, {h0, h0}, params, true, 1, 0.0, true, false, false);
  EXPECT_EQ(inference_output.grad_fn(), nullptr);
  EXPECT_TRUE(at::allclose(inference_output, output.detach()));
}

// Gradients of gradients (create_graph=true) are either right or refused: never silently zero.
// (_lstm_layer_backward carries autograd's not-implemented kernel, so it raises.)
TEST(OpsLstmBehaviour, DoubleBackwardIsRightOrRefused) {
  at::manual_seed(8);
  LstmConfig config;
  const std::vector<at::Tensor> params = make_lstm_params(config, at::kDouble, true);
  const auto leaf = [](at::IntArrayRef sizes) {
    return at::randn(sizes, at::kDouble).requires_grad_(true);
  };
  const at::Tensor input = leaf({3, 2, 3});
  const at::Tensor h0 = leaf({1, 2, 5});
  const at::Tensor c0 = leaf({1, 2, 5});
  // Σ (∂L/∂input)² for L = Σ output, differentiated w.r.t. weight_ih_l0.
  const auto second_derivative = [&](const LstmOutputs& outputs) {
    const std::vector<at::Tensor> first =
        torch::autograd::grad({std::get<0>(outputs).sum()}, {input}, {}, /*retain_graph=*/true,
                              /*create_graph=*/true);
    return torch::autograd::grad({first[0].pow(2).sum()}, {params[0]}, {}, std::nullopt, false,
                                 /*allow_unused=*/true)[0];
  };
  const at::Tensor expected =
      second_derivative(reference_lstm(input, h0, c0, params, config, false));
  ASSERT_TRUE(expected.defined() && expected.abs().max().item<double>() > 1e-3);
  try {
    const at::Tensor actual = second_derivative(
        torch_ext::lstm(input, {h0, c0}, params, true, 1, 0.0, true, false, false));
    EXPECT_TENSORS_CLOSE(actual, expected);
  } catch (const c10::Error& error) {
    SUCCEED() << "double backward refused: " << error.what_without_backtrace();
  }
}

}  // namespace
}  // namespace torch_ext::testing
