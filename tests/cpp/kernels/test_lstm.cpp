// Numerics of the LSTM kernels (csrc/kernels/lstm.cpp), driven through the public C++ API
// (torch_ext::lstm, lstm_layer, lstm_cell), which reaches them through the dispatcher and the
// C++ autograd node: forward values, and every gradient, against the ATen step-loop reference
// of support/lstm_reference.h; the reference itself is checked against at::lstm.
#include "support/lstm_reference.h"
#include "support/sequence_reference.h"

#include <torch_ext/ops.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/autograd.h>
#include <ATen/core/grad_mode.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace torch_ext::testing {
namespace {

// One LSTM problem: nn.LSTM's configuration and the shape of its input.
struct LstmCase {
  std::string name;
  LstmConfig config;
  int64_t steps = 4;
  int64_t batch = 3;
  bool batch_first = false;
  std::vector<int64_t> lengths;  // non-empty: a PackedSequence of these lengths (longest first)
  double input_scale = 1.0;      // large values drive the gates into saturation

  bool packed() const { return !lengths.empty(); }
};

struct LstmParam {
  LstmCase problem;
  at::ScalarType dtype;
};

std::string param_label(const ::testing::TestParamInfo<LstmParam>& info) {
  return info.param.problem.name + "_" + dtype_name(info.param.dtype);
}

std::string dtype_label(const ::testing::TestParamInfo<at::ScalarType>& info) {
  return dtype_name(info.param);
}

LstmConfig config(int64_t input_size, int64_t hidden_size, int64_t proj_size, int64_t num_layers,
                  bool bidirectional, bool has_biases = true) {
  LstmConfig result;
  result.input_size = input_size;
  result.hidden_size = hidden_size;
  result.proj_size = proj_size;
  result.num_layers = num_layers;
  result.bidirectional = bidirectional;
  result.has_biases = has_biases;
  return result;
}

std::vector<LstmCase> lstm_cases() {
  std::vector<LstmCase> cases;
  const auto add = [&](std::string name, LstmConfig cfg, int64_t steps, int64_t batch) {
    LstmCase problem;
    problem.name = std::move(name);
    problem.config = cfg;
    problem.steps = steps;
    problem.batch = batch;
    cases.push_back(problem);
    return &cases.back();
  };
  add("one_layer", config(3, 5, 0, 1, false), 4, 3);
  // 20 hidden units: full vectors of every width (16 float lanes with AVX512) plus a tail.
  add("wide_hidden", config(7, 20, 0, 1, false), 3, 2);
  add("two_layers", config(3, 5, 0, 2, false), 4, 3);
  add("bidirectional", config(3, 5, 0, 1, true), 4, 3);
  add("two_layers_bidirectional", config(4, 6, 0, 2, true), 3, 2);
  add("projection", config(3, 6, 3, 1, false), 4, 3);
  add("projection_two_layers_bidirectional", config(3, 7, 4, 2, true), 3, 2);
  add("no_biases", config(3, 5, 0, 2, true, /*has_biases=*/false), 3, 2);
  add("no_biases_projection", config(3, 5, 2, 1, true, /*has_biases=*/false), 3, 2);
  add("batch_first", config(3, 5, 0, 2, true), 4, 3)->batch_first = true;
  add("batch_first_projection", config(3, 6, 4, 1, true), 3, 2)->batch_first = true;
  add("one_step", config(3, 5, 2, 2, true), 1, 2);
  add("empty_batch", config(3, 5, 0, 2, true), 3, 0);
  add("empty_batch_projection", config(3, 5, 2, 1, true), 2, 0)->batch_first = true;
  add("saturated_gates", config(3, 5, 0, 1, true), 4, 3)->input_scale = 40.0;
  // Enough work per step for the kernels to split the hidden units (in blocks of 32, here
  // unevenly) between threads, and 4H = 288 > 256 gate columns for the bias-gradient split.
  add("many_rows", config(4, 72, 0, 1, true), 2, 100);
  add("many_rows_projection", config(4, 72, 40, 1, false), 3, 48);
  add("packed", config(3, 5, 0, 1, false), 0, 0)->lengths = {5, 3, 3, 1};
  add("packed_bidirectional", config(3, 5, 0, 2, true), 0, 0)->lengths = {4, 4, 2, 1};
  add("packed_projection", config(3, 6, 3, 2, true), 0, 0)->lengths = {5, 2, 1};
  add("packed_no_biases", config(3, 5, 0, 1, true, false), 0, 0)->lengths = {3, 2, 2};
  add("packed_equal_lengths", config(3, 5, 0, 1, true), 0, 0)->lengths = {3, 3};
  add("packed_single_sequence", config(3, 20, 4, 1, true), 0, 0)->lengths = {4};
  // No hidden units: the backward's weight gradients are empty and the states have no storage
  // (found by `make sanitize`: the packed backward passed memcpy a null pointer).
  add("packed_no_hidden_units", config(3, 0, 0, 1, true), 0, 0)->lengths = {3, 1};
  std::vector<int64_t> many_lengths;
  for (int64_t k = 0; k < 48; ++k) {
    many_lengths.push_back(4 - k / 12);  // 12 sequences each of lengths 4, 3, 2, 1
  }
  add("packed_many_rows_projection", config(4, 66, 34, 1, true), 0, 0)->lengths = many_lengths;
  return cases;
}

std::vector<LstmParam> lstm_params() {
  std::vector<LstmParam> params;
  for (const at::ScalarType dtype : {at::kFloat, at::kDouble}) {
    for (const LstmCase& problem : lstm_cases()) {
      params.push_back({problem, dtype});
    }
  }
  return params;
}

// The tensors of one call: input (padded, or packed data with batch_sizes), states and params.
struct LstmInputs {
  at::Tensor input;
  std::vector<int64_t> batch_sizes;  // packed only
  at::Tensor h0;
  at::Tensor c0;
  std::vector<at::Tensor> params;

  // input, h0, c0, then every param: what the gradients are taken with respect to.
  std::vector<at::Tensor> leaves() const {
    std::vector<at::Tensor> result{input, h0, c0};
    result.insert(result.end(), params.begin(), params.end());
    return result;
  }
};

std::vector<std::string> leaf_names(const LstmConfig& cfg) {
  std::vector<std::string> names{"input", "h0", "c0"};
  const std::vector<std::string> param_names = lstm_param_names(cfg);
  names.insert(names.end(), param_names.begin(), param_names.end());
  return names;
}

LstmInputs make_inputs(const LstmCase& problem, at::ScalarType dtype, bool requires_grad) {
  at::manual_seed(2024);
  const LstmConfig& cfg = problem.config;
  const auto options = at::TensorOptions().dtype(dtype);
  LstmInputs inputs;
  inputs.input = random_sequence_input(problem.steps, problem.batch, problem.batch_first,
                                       problem.lengths, cfg.input_size, problem.input_scale,
                                       options, &inputs.batch_sizes)
                     .requires_grad_(requires_grad);
  const int64_t batch = problem.packed() ? inputs.batch_sizes.front() : problem.batch;
  const int64_t states = cfg.num_layers * cfg.directions();
  inputs.h0 = at::randn({states, batch, cfg.state_size()}, options).requires_grad_(requires_grad);
  inputs.c0 = at::randn({states, batch, cfg.hidden_size}, options).requires_grad_(requires_grad);
  inputs.params = make_lstm_params(cfg, dtype, requires_grad);
  return inputs;
}

at::Tensor batch_sizes_tensor(const std::vector<int64_t>& batch_sizes) {
  return at::tensor(batch_sizes, at::TensorOptions().dtype(at::kLong));
}

LstmOutputs run_torch_ext(const LstmCase& problem, const LstmInputs& in) {
  const LstmConfig& cfg = problem.config;
  if (problem.packed()) {
    return torch_ext::lstm(in.input, batch_sizes_tensor(in.batch_sizes), {in.h0, in.c0},
                           in.params, cfg.has_biases, cfg.num_layers, /*dropout=*/0.0,
                           /*train=*/true, cfg.bidirectional);
  }
  return torch_ext::lstm(in.input, {in.h0, in.c0}, in.params, cfg.has_biases, cfg.num_layers,
                         /*dropout=*/0.0, /*train=*/true, cfg.bidirectional, problem.batch_first);
}

LstmOutputs run_reference(const LstmCase& problem, const LstmInputs& in) {
  if (problem.packed()) {
    return reference_lstm_packed(in.input, in.batch_sizes, in.h0, in.c0, in.params,
                                 problem.config);
  }
  return reference_lstm(in.input, in.h0, in.c0, in.params, problem.config, problem.batch_first);
}

LstmOutputs run_aten(const LstmCase& problem, const LstmInputs& in) {
  const LstmConfig& cfg = problem.config;
  if (problem.packed()) {
    return at::lstm(in.input, batch_sizes_tensor(in.batch_sizes), {in.h0, in.c0}, in.params,
                    cfg.has_biases, cfg.num_layers, /*dropout=*/0.0, /*train=*/true,
                    cfg.bidirectional);
  }
  return at::lstm(in.input, {in.h0, in.c0}, in.params, cfg.has_biases, cfg.num_layers,
                  /*dropout=*/0.0, /*train=*/true, cfg.bidirectional, problem.batch_first);
}

// Random weights for output, h_n and c_n: the loss Σ⟨y, w_y⟩ + ⟨h_n, w_h⟩ + ⟨c_n, w_c⟩.
std::vector<at::Tensor> loss_weights(const LstmOutputs& outputs) {
  at::manual_seed(7);
  return {at::randn_like(std::get<0>(outputs)), at::randn_like(std::get<1>(outputs)),
          at::randn_like(std::get<2>(outputs))};
}

std::vector<at::Tensor> gradients(const LstmOutputs& outputs,
                                  const std::vector<at::Tensor>& weights,
                                  const std::vector<at::Tensor>& leaves) {
  const auto& [output, h_n, c_n] = outputs;
  const at::Tensor loss = weighted_sum({output, h_n, c_n}, weights);
  return torch::autograd::grad({loss}, leaves, /*grad_outputs=*/{}, /*retain_graph=*/false,
                               /*create_graph=*/false, /*allow_unused=*/true);
}

void expect_outputs_close(const LstmOutputs& actual, const LstmOutputs& expected) {
  const auto& [output, h_n, c_n] = actual;
  const auto& [expected_output, expected_h_n, expected_c_n] = expected;
  EXPECT_TENSORS_CLOSE(output, expected_output);
  EXPECT_TENSORS_CLOSE(h_n, expected_h_n);
  EXPECT_TENSORS_CLOSE(c_n, expected_c_n);
}

// The gradients of one loss of each result: `actual`'s w.r.t. `actual_leaves` against
// `expected`'s w.r.t. `expected_leaves` (the same values, perhaps held differently).
void expect_same_gradients(const LstmOutputs& actual, const std::vector<at::Tensor>& actual_leaves,
                           const LstmOutputs& expected,
                           const std::vector<at::Tensor>& expected_leaves,
                           const std::vector<std::string>& names) {
  const std::vector<at::Tensor> weights = loss_weights(expected);
  expect_gradients_close(gradients(actual, weights, actual_leaves),
                         gradients(expected, weights, expected_leaves), names);
}

// Values, then gradients w.r.t. the same leaves.
void expect_same_results(const LstmOutputs& actual, const LstmOutputs& expected,
                         const std::vector<at::Tensor>& leaves,
                         const std::vector<std::string>& names) {
  expect_outputs_close(actual, expected);
  expect_same_gradients(actual, leaves, expected, leaves, names);
}

class LstmNumerics : public ::testing::TestWithParam<LstmParam> {
 protected:
  const LstmCase& problem() const { return GetParam().problem; }
  at::ScalarType dtype() const { return GetParam().dtype; }
};

// Training forward (the kernel that saves gates and cells for backward).
TEST_P(LstmNumerics, ForwardMatchesReference) {
  const LstmInputs in = make_inputs(problem(), dtype(), /*requires_grad=*/true);
  const LstmOutputs actual = run_torch_ext(problem(), in);
  EXPECT_TRUE(std::get<0>(actual).requires_grad());
  expect_outputs_close(actual, run_reference(problem(), in));
}

// Inference forward (no autograd: the kernel that saves nothing).
TEST_P(LstmNumerics, InferenceForwardMatchesReference) {
  const LstmInputs in = make_inputs(problem(), dtype(), /*requires_grad=*/false);
  at::NoGradGuard no_grad;
  const LstmOutputs actual = run_torch_ext(problem(), in);
  EXPECT_FALSE(std::get<0>(actual).requires_grad());
  expect_outputs_close(actual, run_reference(problem(), in));
}

// Gradients w.r.t. input, h0, c0 and every weight, from the C++ autograd node.
TEST_P(LstmNumerics, BackwardMatchesReference) {
  const LstmInputs in = make_inputs(problem(), dtype(), /*requires_grad=*/true);
  expect_same_results(run_torch_ext(problem(), in), run_reference(problem(), in), in.leaves(),
                      leaf_names(problem().config));
}

// The reference is itself right: it agrees with ATen's own LSTM, forward and backward.
TEST_P(LstmNumerics, ReferenceMatchesAtenLstm) {
  const LstmInputs in = make_inputs(problem(), dtype(), /*requires_grad=*/true);
  expect_same_results(run_reference(problem(), in), run_aten(problem(), in), in.leaves(),
                      leaf_names(problem().config));
}

INSTANTIATE_TEST_SUITE_P(Lstm, LstmNumerics, ::testing::ValuesIn(lstm_params()), param_label);

// --- gradients that reach only some outputs, or are wanted for only some inputs ----------------

class LstmPartialGradients : public ::testing::TestWithParam<at::ScalarType> {};

LstmCase partial_gradients_case() {
  LstmCase problem;
  problem.name = "packed_projection_bidirectional";
  problem.config = config(3, 6, 4, 2, true);
  problem.lengths = {4, 3, 1};
  return problem;
}

// A loss of output alone, h_n alone or c_n alone: the autograd node receives undefined gradients
// for the other outputs (no materialised zeros), which the kernels must read as zero.
TEST_P(LstmPartialGradients, LossOfOneOutput) {
  const LstmCase problem = partial_gradients_case();
  const LstmInputs in = make_inputs(problem, GetParam(), /*requires_grad=*/true);
  const std::vector<std::string> names = leaf_names(problem.config);
  for (size_t used = 0; used < 3; ++used) {
    SCOPED_TRACE("loss of output " + std::to_string(used) + " (0: output, 1: h_n, 2: c_n)");
    const LstmOutputs actual = run_torch_ext(problem, in);
    const LstmOutputs expected = run_reference(problem, in);
    std::vector<at::Tensor> weights = loss_weights(expected);
    for (size_t k = 0; k < weights.size(); ++k) {
      if (k != used) {
        weights[k] = at::Tensor();
      }
    }
    expect_gradients_close(gradients(actual, weights, in.leaves()),
                           gradients(expected, weights, in.leaves()), names);
  }
}

// Only the weights require grad: the backward skips the input gradient.
TEST_P(LstmPartialGradients, WeightsOnly) {
  const LstmCase problem = partial_gradients_case();
  LstmInputs in = make_inputs(problem, GetParam(), /*requires_grad=*/true);
  in.input = in.input.detach();
  in.h0 = in.h0.detach();
  in.c0 = in.c0.detach();
  expect_same_results(run_torch_ext(problem, in), run_reference(problem, in), in.params,
                      lstm_param_names(problem.config));
}

// Only the input requires grad.
TEST_P(LstmPartialGradients, InputOnly) {
  const LstmCase problem = partial_gradients_case();
  LstmInputs in = make_inputs(problem, GetParam(), /*requires_grad=*/false);
  in.input.requires_grad_(true);
  expect_same_results(run_torch_ext(problem, in), run_reference(problem, in), {in.input},
                      {"input"});
}

// Non-contiguous input, states and weights give the same values and gradients.
TEST_P(LstmPartialGradients, NonContiguousArguments) {
  const LstmCase problem = partial_gradients_case();
  const LstmInputs contiguous = make_inputs(problem, GetParam(), /*requires_grad=*/false);
  LstmInputs strided;
  strided.batch_sizes = contiguous.batch_sizes;
  // Each leaf is a transposed or strided view of a larger tensor holding the same values.
  const auto transposed_leaf = [](const at::Tensor& tensor) {
    at::Tensor storage = tensor.transpose(0, -1).contiguous().requires_grad_(true);
    return std::make_pair(storage, storage.transpose(0, -1));
  };
  std::vector<at::Tensor> leaves;
  std::vector<at::Tensor> views;
  for (const at::Tensor& tensor : contiguous.leaves()) {
    auto [leaf, view] = transposed_leaf(tensor);
    if (tensor.dim() == 1) {
      leaf = at::stack({tensor, tensor}, 1).requires_grad_(true);
      view = leaf.select(1, 0);
    }
    ASSERT_FALSE(view.is_contiguous());
    leaves.push_back(leaf);
    views.push_back(view);
  }
  strided.input = views[0];
  strided.h0 = views[1];
  strided.c0 = views[2];
  strided.params.assign(views.begin() + 3, views.end());

  LstmInputs reference_inputs = contiguous;
  for (at::Tensor& tensor : reference_inputs.params) {
    tensor.requires_grad_(true);
  }
  reference_inputs.input.requires_grad_(true);
  reference_inputs.h0.requires_grad_(true);
  reference_inputs.c0.requires_grad_(true);

  const LstmOutputs actual = run_torch_ext(problem, strided);
  const LstmOutputs expected = run_reference(problem, reference_inputs);
  expect_outputs_close(actual, expected);
  expect_same_gradients(actual, views, expected, reference_inputs.leaves(),
                        leaf_names(problem.config));
}

INSTANTIATE_TEST_SUITE_P(Lstm, LstmPartialGradients, ::testing::Values(at::kFloat, at::kDouble),
                         dtype_label);

// --- thread counts -----------------------------------------------------------------------------

// Restores the intra-op thread count when it goes out of scope.
class ThreadCountGuard {
 public:
  explicit ThreadCountGuard(int threads) : saved_(at::get_num_threads()) {
    at::set_num_threads(threads);
  }
  ~ThreadCountGuard() { at::set_num_threads(saved_); }
  ThreadCountGuard(const ThreadCountGuard&) = delete;
  ThreadCountGuard& operator=(const ThreadCountGuard&) = delete;

 private:
  int saved_;
};

class LstmThreads : public ::testing::TestWithParam<at::ScalarType> {};

// The kernels split the hidden units of each direction between threads: one thread, three
// (uneven shares; one direction per thread when bidirectional) and four (two per direction) give
// the reference's values and gradients alike, whatever this machine's default.
TEST_P(LstmThreads, ResultsDoNotDependOnThreadCount) {
  std::vector<LstmCase> cases;
  for (const LstmCase& problem : lstm_cases()) {
    if (problem.name.find("many_rows") != std::string::npos) {
      cases.push_back(problem);
    }
  }
  ASSERT_EQ(cases.size(), 3u);
  for (const int threads : {1, 3, 4}) {
    const ThreadCountGuard guard(threads);
    for (const LstmCase& problem : cases) {
      SCOPED_TRACE(problem.name + " on " + std::to_string(threads) + " thread(s)");
      const LstmInputs in = make_inputs(problem, GetParam(), /*requires_grad=*/true);
      expect_same_results(run_torch_ext(problem, in), run_reference(problem, in), in.leaves(),
                          leaf_names(problem.config));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Lstm, LstmThreads, ::testing::Values(at::kFloat, at::kDouble),
                         dtype_label);

// --- lstm_layer: one layer, both directions, padded or packed ---------------------------------

// The same configuration over a padded [steps, batch, ·] input and over a PackedSequence of
// `lengths`.
std::vector<LstmCase> padded_and_packed(const LstmConfig& cfg, int64_t steps, int64_t batch,
                                        const std::vector<int64_t>& lengths) {
  LstmCase padded;
  padded.name = "padded";
  padded.config = cfg;
  padded.steps = steps;
  padded.batch = batch;
  LstmCase packed = padded;
  packed.name = "packed";
  packed.lengths = lengths;
  return {padded, packed};
}

class LstmLayerNumerics : public ::testing::TestWithParam<at::ScalarType> {};

TEST_P(LstmLayerNumerics, MatchesReference) {
  for (const LstmCase& problem : padded_and_packed(config(4, 9, 5, 1, true), 3, 4, {3, 3, 2, 1})) {
    SCOPED_TRACE(problem.name);
    const LstmInputs in = make_inputs(problem, GetParam(), /*requires_grad=*/true);
    const std::optional<at::Tensor> batch_sizes =
        problem.packed() ? std::optional<at::Tensor>(batch_sizes_tensor(in.batch_sizes))
                         : std::nullopt;
    const LstmOutputs actual = torch_ext::lstm_layer(in.input, batch_sizes, in.h0, in.c0,
                                                     in.params, /*has_biases=*/true,
                                                     /*bidirectional=*/true);
    expect_same_results(actual, run_reference(problem, in), in.leaves(),
                        leaf_names(problem.config));
  }
}

INSTANTIATE_TEST_SUITE_P(Lstm, LstmLayerNumerics, ::testing::Values(at::kFloat, at::kDouble),
                         dtype_label);

// --- a projection to a single unit ---------------------------------------------------------------

void expect_projection_to_one_unit_matches_reference(at::ScalarType dtype) {
  for (const LstmCase& problem : padded_and_packed(config(3, 5, 1, 2, true), 3, 2, {3, 2, 1})) {
    SCOPED_TRACE(problem.name);
    const LstmInputs in = make_inputs(problem, dtype, /*requires_grad=*/true);
    expect_same_results(run_torch_ext(problem, in), run_reference(problem, in), in.leaves(),
                        leaf_names(problem.config));
  }
}

TEST(LstmProjectionToOneUnit, Float32) {
  expect_projection_to_one_unit_matches_reference(at::kFloat);
}

// float64 multiplies through BLAS: W_hhᵀ of one row (R = proj_size = 1) reaches it with a leading
// dimension below the row length, which the GEMM wrapper must normalise (MKL would reject the call
// and leave the gates unchanged).
TEST(LstmProjectionToOneUnit, Float64) {
  expect_projection_to_one_unit_matches_reference(at::kDouble);
}

// --- lstm_cell ---------------------------------------------------------------------------------

struct LstmCellParam {
  std::string name;
  bool b_ih;
  bool b_hh;
  int64_t batch;
  at::ScalarType dtype;
};

class LstmCellNumerics : public ::testing::TestWithParam<LstmCellParam> {};

std::vector<LstmCellParam> lstm_cell_params() {
  std::vector<LstmCellParam> params;
  for (const at::ScalarType dtype : {at::kFloat, at::kDouble}) {
    const std::string suffix = "_" + dtype_name(dtype);
    params.push_back({"biases" + suffix, true, true, 4, dtype});
    params.push_back({"no_biases" + suffix, false, false, 4, dtype});
    params.push_back({"bias_ih_only" + suffix, true, false, 4, dtype});
    params.push_back({"bias_hh_only" + suffix, false, true, 4, dtype});
    params.push_back({"empty_batch" + suffix, true, true, 0, dtype});
  }
  return params;
}

TEST_P(LstmCellNumerics, MatchesReferenceAndAten) {
  const LstmCellParam& p = GetParam();
  at::manual_seed(11);
  const int64_t I = 5;
  const int64_t H = 18;
  const auto options = at::TensorOptions().dtype(p.dtype);
  const auto leaf = [&](at::IntArrayRef sizes) {
    return at::randn(sizes, options).mul_(0.5).requires_grad_(true);
  };
  const at::Tensor x = leaf({p.batch, I});
  const at::Tensor h = leaf({p.batch, H});
  const at::Tensor c = leaf({p.batch, H});
  LstmDirectionWeights w;
  w.w_ih = leaf({4 * H, I});
  w.w_hh = leaf({4 * H, H});
  w.b_ih = p.b_ih ? leaf({4 * H}) : at::Tensor();
  w.b_hh = p.b_hh ? leaf({4 * H}) : at::Tensor();
  const auto optional = [](const at::Tensor& t) {
    return t.defined() ? std::optional<at::Tensor>(t) : std::nullopt;
  };

  const auto [h_actual, c_actual] =
      torch_ext::lstm_cell(x, {h, c}, w.w_ih, w.w_hh, optional(w.b_ih), optional(w.b_hh));
  const auto [h_expected, c_expected] = reference_lstm_cell(x, h, c, w);
  const auto [h_aten, c_aten] =
      at::lstm_cell(x, {h, c}, w.w_ih, w.w_hh, optional(w.b_ih), optional(w.b_hh));
  EXPECT_TENSORS_CLOSE(h_actual, h_expected);
  EXPECT_TENSORS_CLOSE(c_actual, c_expected);
  EXPECT_TENSORS_CLOSE(h_expected, h_aten);
  EXPECT_TENSORS_CLOSE(c_expected, c_aten);

  std::vector<at::Tensor> leaves{x, h, c, w.w_ih, w.w_hh};
  std::vector<std::string> names{"input", "hx[0]", "hx[1]", "w_ih", "w_hh"};
  if (p.b_ih) {
    leaves.push_back(w.b_ih);
    names.emplace_back("b_ih");
  }
  if (p.b_hh) {
    leaves.push_back(w.b_hh);
    names.emplace_back("b_hh");
  }
  const LstmOutputs actual{at::Tensor(), h_actual, c_actual};
  const LstmOutputs expected{at::Tensor(), h_expected, c_expected};
  at::manual_seed(3);
  const std::vector<at::Tensor> weights{at::Tensor(), at::randn_like(h_expected),
                                        at::randn_like(c_expected)};
  expect_gradients_close(gradients(actual, weights, leaves), gradients(expected, weights, leaves),
                         names);
}

INSTANTIATE_TEST_SUITE_P(Lstm, LstmCellNumerics, ::testing::ValuesIn(lstm_cell_params()),
                         [](const ::testing::TestParamInfo<LstmCellParam>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace torch_ext::testing
