#include "support/recurrence_checks.h"

#include "support/sequence_reference.h"

#include <torch_ext/ops.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>
#include <torch/csrc/autograd/autograd.h>

#include <optional>
#include <string>
#include <vector>

namespace torch_ext::testing {

ThreadCountGuard::ThreadCountGuard(int threads) : saved_(at::get_num_threads()) {
  at::set_num_threads(threads);
}

ThreadCountGuard::~ThreadCountGuard() { at::set_num_threads(saved_); }

std::string cell_label(const ::testing::TestParamInfo<Cell>& info) { return cell_name(info.param); }

std::string recurrence_param_label(const ::testing::TestParamInfo<RecurrenceParam>& info) {
  return info.param.problem.name + "_" + cell_name(info.param.problem.config.cell) + "_" +
         dtype_name(info.param.dtype);
}

std::vector<CellParam> cell_params(const std::vector<Cell>& cells) {
  std::vector<CellParam> params;
  for (const Cell cell : cells) {
    for (const at::ScalarType dtype : {at::kFloat, at::kDouble}) {
      params.push_back({cell, dtype});
    }
  }
  return params;
}

std::string cell_param_label(const ::testing::TestParamInfo<CellParam>& info) {
  return cell_name(info.param.cell) + "_" + dtype_name(info.param.dtype);
}

namespace {

// The ops of one cell: torch_ext's public functions, or ATen's of the same signatures.
using SequenceFn = StateOutputs (*)(const at::Tensor&, const at::Tensor&, at::TensorList, bool,
                                    int64_t, double, bool, bool, bool);
using PackedFn = StateOutputs (*)(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                  at::TensorList, bool, int64_t, double, bool, bool);
using CellFn = at::Tensor (*)(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                              const at::Tensor&, const std::optional<at::Tensor>&,
                              const std::optional<at::Tensor>&);

struct CellOps {
  SequenceFn sequence;
  PackedFn packed;
  CellFn cell;
};

#define TORCH_EXT_CELL_OPS(ns, name)                                                         \
  CellOps {                                                                                  \
    static_cast<SequenceFn>(&ns::name), static_cast<PackedFn>(&ns::name), &ns::name##_cell \
  }

CellOps torch_ext_ops(Cell cell) {
  switch (cell) {
    case Cell::Gru:
      return TORCH_EXT_CELL_OPS(torch_ext, gru);
    case Cell::GruResetBefore:
      return TORCH_EXT_CELL_OPS(torch_ext, gru_reset_before);
    case Cell::RnnTanh:
      return TORCH_EXT_CELL_OPS(torch_ext, rnn_tanh);
    case Cell::RnnRelu:
      break;
  }
  return TORCH_EXT_CELL_OPS(torch_ext, rnn_relu);
}

// ATen's op of the same signature (for the reset-before GRU: at::gru, another function).
CellOps aten_ops(Cell cell) {
  switch (cell) {
    case Cell::Gru:
    case Cell::GruResetBefore:
      return TORCH_EXT_CELL_OPS(at, gru);
    case Cell::RnnTanh:
      return TORCH_EXT_CELL_OPS(at, rnn_tanh);
    case Cell::RnnRelu:
      break;
  }
  return TORCH_EXT_CELL_OPS(at, rnn_relu);
}

#undef TORCH_EXT_CELL_OPS

// torch_ext::gru_layer (with the cell's form) or torch_ext::rnn_layer (with its nonlinearity).
StateOutputs run_layer(Cell cell, const at::Tensor& input,
                       const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
                       at::TensorList params, bool has_biases, bool bidirectional) {
  switch (cell) {
    case Cell::Gru:
    case Cell::GruResetBefore:
      return torch_ext::gru_layer(input, batch_sizes, hx, params, has_biases, bidirectional,
                                  /*reset_after=*/cell == Cell::Gru);
    case Cell::RnnTanh:
    case Cell::RnnRelu:
      break;
  }
  return torch_ext::rnn_layer(input, batch_sizes, hx, params, has_biases, bidirectional,
                              cell == Cell::RnnTanh ? "tanh" : "relu");
}

RecurrenceConfig config(Cell cell, int64_t input_size, int64_t hidden_size, int64_t num_layers,
                        bool bidirectional, bool has_biases = true) {
  RecurrenceConfig result;
  result.cell = cell;
  result.input_size = input_size;
  result.hidden_size = hidden_size;
  result.num_layers = num_layers;
  result.bidirectional = bidirectional;
  result.has_biases = has_biases;
  return result;
}

std::vector<RecurrenceCase> recurrence_cases(Cell cell) {
  std::vector<RecurrenceCase> cases;
  const auto add = [&](std::string name, RecurrenceConfig cfg, int64_t steps, int64_t batch) {
    RecurrenceCase problem;
    problem.name = std::move(name);
    problem.config = cfg;
    problem.steps = steps;
    problem.batch = batch;
    cases.push_back(problem);
    return &cases.back();
  };
  add("one_layer", config(cell, 3, 5, 1, false), 4, 3);
  // 20 hidden units: full vectors of every width (16 float lanes with AVX512) plus a tail.
  add("wide_hidden", config(cell, 7, 20, 1, false), 3, 2);
  add("two_layers", config(cell, 3, 5, 2, false), 4, 3);
  add("bidirectional", config(cell, 3, 5, 1, true), 4, 3);
  add("three_layers_bidirectional", config(cell, 4, 6, 3, true), 3, 2);
  add("no_biases", config(cell, 3, 5, 2, true, /*has_biases=*/false), 3, 2);
  add("batch_first", config(cell, 3, 5, 2, true), 4, 3)->batch_first = true;
  add("one_step", config(cell, 3, 5, 2, true), 1, 2);
  add("empty_batch", config(cell, 3, 5, 2, true), 3, 0);
  add("saturated", config(cell, 3, 5, 1, true), 4, 3)->input_scale = 40.0;
  add("packed", config(cell, 3, 5, 2, true), 0, 0)->lengths = {4, 3, 3, 1};
  add("packed_no_biases", config(cell, 3, 5, 1, false, /*has_biases=*/false), 0, 0)->lengths = {
      3, 2};
  add("packed_equal_lengths", config(cell, 3, 5, 1, true), 0, 0)->lengths = {3, 3};
  add("packed_single_sequence", config(cell, 3, 20, 1, true), 0, 0)->lengths = {4};
  // No hidden units: the backward's weight gradients are empty and the states have no storage
  // (found by `make sanitize`: the packed backward passed memcpy a null pointer).
  add("packed_no_hidden_units", config(cell, 3, 0, 1, true), 0, 0)->lengths = {3, 1};
  // Enough work per step for the kernels to split the hidden units (in blocks of 32, the last one
  // partial) between threads: 72 and 66 units, 100 rows.
  add("many_rows", config(cell, 4, 72, 1, true), 2, 100);
  std::vector<int64_t> many_lengths;
  for (int64_t k = 0; k < 100; ++k) {
    many_lengths.push_back(4 - k / 25);  // 25 sequences each of lengths 4, 3, 2, 1
  }
  add("packed_many_rows", config(cell, 4, 66, 1, true), 0, 0)->lengths = many_lengths;
  return cases;
}

// The tensors of one call: input (padded, or packed data with batch_sizes), h0 and params.
struct RecurrenceInputs {
  at::Tensor input;
  std::vector<int64_t> batch_sizes;  // packed only
  at::Tensor h0;
  std::vector<at::Tensor> params;

  // input, h0, then every param: what the gradients are taken with respect to.
  std::vector<at::Tensor> leaves() const {
    std::vector<at::Tensor> result{input, h0};
    result.insert(result.end(), params.begin(), params.end());
    return result;
  }
};

std::vector<std::string> leaf_names(const RecurrenceConfig& cfg) {
  std::vector<std::string> names{"input", "h0"};
  const std::vector<std::string> param_names = recurrence_param_names(cfg);
  names.insert(names.end(), param_names.begin(), param_names.end());
  return names;
}

RecurrenceInputs make_inputs(const RecurrenceCase& problem, at::ScalarType dtype,
                             bool requires_grad) {
  at::manual_seed(2024);
  const RecurrenceConfig& cfg = problem.config;
  const auto options = at::TensorOptions().dtype(dtype);
  RecurrenceInputs inputs;
  inputs.input = random_sequence_input(problem.steps, problem.batch, problem.batch_first,
                                       problem.lengths, cfg.input_size, problem.input_scale,
                                       options, &inputs.batch_sizes)
                     .requires_grad_(requires_grad);
  const int64_t batch = problem.packed() ? inputs.batch_sizes.front() : problem.batch;
  const int64_t states = cfg.num_layers * cfg.directions();
  inputs.h0 = at::randn({states, batch, cfg.hidden_size}, options).requires_grad_(requires_grad);
  inputs.params = make_recurrence_params(cfg, dtype, requires_grad);
  return inputs;
}

at::Tensor batch_sizes_tensor(const std::vector<int64_t>& batch_sizes) {
  return at::tensor(batch_sizes, at::TensorOptions().dtype(at::kLong));
}

StateOutputs run_ops(const CellOps& ops, const RecurrenceCase& problem,
                     const RecurrenceInputs& in) {
  const RecurrenceConfig& cfg = problem.config;
  if (problem.packed()) {
    return ops.packed(in.input, batch_sizes_tensor(in.batch_sizes), in.h0, in.params,
                      cfg.has_biases, cfg.num_layers, /*dropout=*/0.0, /*train=*/true,
                      cfg.bidirectional);
  }
  return ops.sequence(in.input, in.h0, in.params, cfg.has_biases, cfg.num_layers,
                      /*dropout=*/0.0, /*train=*/true, cfg.bidirectional, problem.batch_first);
}

StateOutputs run_torch_ext(const RecurrenceCase& problem, const RecurrenceInputs& in) {
  return run_ops(torch_ext_ops(problem.config.cell), problem, in);
}

StateOutputs run_reference(const RecurrenceCase& problem, const RecurrenceInputs& in) {
  if (problem.packed()) {
    return reference_recurrence_packed(in.input, in.batch_sizes, in.h0, in.params,
                                       problem.config);
  }
  return reference_recurrence(in.input, in.h0, in.params, problem.config, problem.batch_first);
}

// Random weights for output and h_n: the loss Σ⟨y, w_y⟩ + ⟨h_n, w_h⟩.
std::vector<at::Tensor> loss_weights(const StateOutputs& outputs) {
  at::manual_seed(7);
  return {at::randn_like(std::get<0>(outputs)), at::randn_like(std::get<1>(outputs))};
}

std::vector<at::Tensor> gradients(const StateOutputs& outputs,
                                  const std::vector<at::Tensor>& weights,
                                  const std::vector<at::Tensor>& leaves) {
  const at::Tensor loss = weighted_sum({std::get<0>(outputs), std::get<1>(outputs)}, weights);
  return torch::autograd::grad({loss}, leaves, /*grad_outputs=*/{}, /*retain_graph=*/false,
                               /*create_graph=*/false, /*allow_unused=*/true);
}

void expect_outputs_close(const StateOutputs& actual, const StateOutputs& expected) {
  EXPECT_TENSORS_CLOSE(std::get<0>(actual), std::get<0>(expected));
  EXPECT_TENSORS_CLOSE(std::get<1>(actual), std::get<1>(expected));
}

// Values, then the gradients of one loss w.r.t. the same leaves.
void expect_same_results(const StateOutputs& actual, const StateOutputs& expected,
                         const std::vector<at::Tensor>& leaves,
                         const std::vector<std::string>& names) {
  expect_outputs_close(actual, expected);
  const std::vector<at::Tensor> weights = loss_weights(expected);
  expect_gradients_close(gradients(actual, weights, leaves), gradients(expected, weights, leaves),
                         names);
}

}  // namespace

std::vector<RecurrenceParam> recurrence_params(const std::vector<Cell>& cells) {
  std::vector<RecurrenceParam> params;
  for (const Cell cell : cells) {
    for (const at::ScalarType dtype : {at::kFloat, at::kDouble}) {
      for (const RecurrenceCase& problem : recurrence_cases(cell)) {
        params.push_back({problem, dtype});
      }
    }
  }
  return params;
}

// --- numerics ------------------------------------------------------------------------------------

// Training forward (the kernel that saves what the backward needs).
TEST_P(RecurrenceNumerics, ForwardMatchesReference) {
  const RecurrenceParam& p = GetParam();
  const RecurrenceInputs in = make_inputs(p.problem, p.dtype, /*requires_grad=*/true);
  const StateOutputs actual = run_torch_ext(p.problem, in);
  EXPECT_TRUE(std::get<0>(actual).requires_grad());
  expect_outputs_close(actual, run_reference(p.problem, in));
}

// Inference forward (no autograd: the kernel that saves nothing).
TEST_P(RecurrenceNumerics, InferenceForwardMatchesReference) {
  const RecurrenceParam& p = GetParam();
  const RecurrenceInputs in = make_inputs(p.problem, p.dtype, /*requires_grad=*/false);
  at::NoGradGuard no_grad;
  const StateOutputs actual = run_torch_ext(p.problem, in);
  EXPECT_FALSE(std::get<0>(actual).requires_grad());
  expect_outputs_close(actual, run_reference(p.problem, in));
}

// Gradients w.r.t. input, h0 and every weight, from the C++ autograd node.
TEST_P(RecurrenceNumerics, BackwardMatchesReference) {
  const RecurrenceParam& p = GetParam();
  const RecurrenceInputs in = make_inputs(p.problem, p.dtype, /*requires_grad=*/true);
  expect_same_results(run_torch_ext(p.problem, in), run_reference(p.problem, in), in.leaves(),
                      leaf_names(p.problem.config));
}

// The reference is itself right: it agrees with ATen's own op, forward and backward.
TEST_P(RecurrenceAtenParity, ReferenceMatchesAten) {
  const RecurrenceParam& p = GetParam();
  ASSERT_TRUE(aten_has(p.problem.config.cell));
  const RecurrenceInputs in = make_inputs(p.problem, p.dtype, /*requires_grad=*/true);
  expect_same_results(run_reference(p.problem, in),
                      run_ops(aten_ops(p.problem.config.cell), p.problem, in), in.leaves(),
                      leaf_names(p.problem.config));
}

// --- thread counts -------------------------------------------------------------------------------

// The kernels split the hidden units of each direction between threads: one thread, three
// (uneven shares; one direction per thread when bidirectional) and four (two per direction) give
// the reference's values and gradients alike, whatever this machine's default.
TEST_P(RecurrenceThreads, ResultsDoNotDependOnThreadCount) {
  std::vector<RecurrenceCase> cases;
  for (const RecurrenceCase& problem : recurrence_cases(GetParam().cell)) {
    if (problem.name.find("many_rows") != std::string::npos) {
      cases.push_back(problem);
    }
  }
  ASSERT_EQ(cases.size(), 2u);
  for (const int threads : {1, 3, 4}) {
    const ThreadCountGuard guard(threads);
    for (const RecurrenceCase& problem : cases) {
      SCOPED_TRACE(problem.name + " on " + std::to_string(threads) + " thread(s)");
      const RecurrenceInputs in = make_inputs(problem, GetParam().dtype, /*requires_grad=*/true);
      expect_same_results(run_torch_ext(problem, in), run_reference(problem, in), in.leaves(),
                          leaf_names(problem.config));
    }
  }
}

// --- the layer op --------------------------------------------------------------------------------

TEST_P(RecurrenceLayer, PaddedAndPackedMatchReference) {
  RecurrenceCase padded;
  padded.config = config(GetParam().cell, 4, 9, 1, true);
  padded.name = "padded";
  padded.steps = 3;
  padded.batch = 4;
  RecurrenceCase packed = padded;
  packed.name = "packed";
  packed.lengths = {3, 3, 2, 1};
  for (const RecurrenceCase& problem : {padded, packed}) {
    SCOPED_TRACE(problem.name);
    const RecurrenceInputs in = make_inputs(problem, GetParam().dtype, /*requires_grad=*/true);
    const std::optional<at::Tensor> batch_sizes =
        problem.packed() ? std::optional<at::Tensor>(batch_sizes_tensor(in.batch_sizes))
                         : std::nullopt;
    const StateOutputs actual = run_layer(problem.config.cell, in.input, batch_sizes, in.h0,
                                          in.params, /*has_biases=*/true, /*bidirectional=*/true);
    expect_same_results(actual, run_reference(problem, in), in.leaves(),
                        leaf_names(problem.config));
  }
}

// --- the cell op ---------------------------------------------------------------------------------

TEST_P(RecurrenceCellOp, MatchesReferenceAndAten) {
  const Cell cell = GetParam().cell;
  const auto options = at::TensorOptions().dtype(GetParam().dtype);
  const int64_t I = 5;
  const int64_t H = 18;
  const int64_t G = config(cell, I, H, 1, false).gates();
  const auto optional = [](const at::Tensor& t) {
    return t.defined() ? std::optional<at::Tensor>(t) : std::nullopt;
  };
  for (const int64_t batch : {4, 0}) {
    for (const auto& [with_b_ih, with_b_hh] : {std::pair{true, true}, std::pair{false, false},
                                                std::pair{true, false}, std::pair{false, true}}) {
      SCOPED_TRACE("batch " + std::to_string(batch) + (with_b_ih ? ", b_ih" : "") +
                   (with_b_hh ? ", b_hh" : ""));
      at::manual_seed(11);
      const auto leaf = [&](at::IntArrayRef sizes) {
        return at::randn(sizes, options).mul_(0.5).requires_grad_(true);
      };
      const at::Tensor x = leaf({batch, I});
      const at::Tensor h = leaf({batch, H});
      CellWeights w;
      w.w_ih = leaf({G * H, I});
      w.w_hh = leaf({G * H, H});
      w.b_ih = with_b_ih ? leaf({G * H}) : at::Tensor();
      w.b_hh = with_b_hh ? leaf({G * H}) : at::Tensor();
      const at::Tensor actual =
          torch_ext_ops(cell).cell(x, h, w.w_ih, w.w_hh, optional(w.b_ih), optional(w.b_hh));
      const at::Tensor expected = reference_cell(cell, x, h, w);
      EXPECT_TENSORS_CLOSE(actual, expected);
      if (aten_has(cell)) {
        const CellFn aten_cell = aten_ops(cell).cell;
        EXPECT_TENSORS_CLOSE(expected,
                             aten_cell(x, h, w.w_ih, w.w_hh, optional(w.b_ih), optional(w.b_hh)));
      }
      std::vector<at::Tensor> leaves{x, h, w.w_ih, w.w_hh};
      std::vector<std::string> names{"input", "hx", "w_ih", "w_hh"};
      for (const auto& [bias, name] : {std::pair{w.b_ih, "b_ih"}, std::pair{w.b_hh, "b_hh"}}) {
        if (bias.defined()) {
          leaves.push_back(bias);
          names.emplace_back(name);
        }
      }
      const std::vector<at::Tensor> weights{at::Tensor(), at::randn_like(expected)};
      expect_gradients_close(gradients({at::Tensor(), actual}, weights, leaves),
                             gradients({at::Tensor(), expected}, weights, leaves), names);
    }
  }
}

// --- errors --------------------------------------------------------------------------------------

TEST_P(RecurrenceErrors, PublicOpsNameTheArgument) {
  const Cell cell = GetParam();
  const CellOps ops = torch_ext_ops(cell);
  const std::string op = "torch_ext::" + cell_name(cell) + ": ";
  const RecurrenceConfig cfg = config(cell, 3, 4, 2, false);
  const std::vector<at::Tensor> params = make_recurrence_params(cfg, at::kFloat, false);
  const int64_t G4 = cfg.gates() * 4;
  const at::Tensor x = at::randn({5, 2, 3});
  const at::Tensor h0 = at::zeros({2, 2, 4});
  const auto sequence = [&](const at::Tensor& input, const at::Tensor& hx,
                            std::vector<at::Tensor> p) {
    return ops.sequence(input, hx, p, true, 2, 0.0, false, false, false);
  };
  EXPECT_NO_THROW(sequence(x, h0, params));
  EXPECT_ERROR_WITH(sequence(at::randn({5, 3}), h0, params), op + "expected input to be 3-D");
  EXPECT_ERROR_WITH(sequence(x.to(at::kLong), h0, params),
                    op + "expected input to be float32, float64 or bfloat16, got Long");
  EXPECT_ERROR_WITH(sequence(at::randn({5, 2, 7}), h0, params),
                    op + "input.size(-1) must be equal to input_size. Expected 3, got 7");
  EXPECT_ERROR_WITH(sequence(x, at::zeros({2, 3, 4}), params),
                    op + "expected hx[0] of shape [2, 2, 4], got [2, 3, 4]");
  EXPECT_ERROR_WITH(sequence(x, at::zeros({2, 4}), params), op + "expected hx[0] to be 3-D");
  EXPECT_ERROR_WITH(sequence(x, h0.to(at::kDouble), params),
                    op + "expected hx[0] to have the dtype of input (Float), got Double");
  EXPECT_ERROR_WITH(sequence(x, h0, {params.begin(), params.begin() + 7}),
                    op + "expected params to hold 8 tensors", "got 7");
  std::vector<at::Tensor> bad = params;
  bad[5] = at::zeros({G4, 5});
  EXPECT_ERROR_WITH(sequence(x, h0, bad), op + "expected weight_hh_l1 of shape [" +
                                              std::to_string(G4) + ", 4], got [" +
                                              std::to_string(G4) + ", 5]");
  bad = params;
  bad[0] = bad[0].to(at::kDouble);
  EXPECT_ERROR_WITH(sequence(x, h0, bad),
                    op + "expected weight_ih_l0 to have the dtype of input (Float), got Double");
  EXPECT_ERROR_WITH(ops.sequence(x, h0, params, true, 0, 0.0, false, false, false),
                    op + "expected num_layers >= 1, got 0");
  EXPECT_ERROR_WITH(ops.sequence(x, h0, params, true, 2, 1.5, false, false, false),
                    op + "expected dropout in [0, 1], got 1.5");
  // The layer op refuses an empty sequence.
  EXPECT_ERROR_WITH(sequence(at::randn({0, 2, 3}), h0, params),
                    "expected sequence length to be larger than 0");

  const auto packed = [&](std::vector<int64_t> batch_sizes) {
    return ops.packed(at::randn({5, 3}), batch_sizes_tensor(batch_sizes), at::zeros({2, 3, 4}),
                      params, true, 2, 0.0, false, false);
  };
  EXPECT_NO_THROW(packed({3, 2}));
  EXPECT_ERROR_WITH(packed({2, 3}), "expected batch_sizes to be non-increasing");
  EXPECT_ERROR_WITH(packed({3, 1}), "batch_sizes sum to 4 but the packed data has 5 rows");
  EXPECT_ERROR_WITH(packed({3, 0, 2}), "expected every batch_sizes entry to be positive");
  EXPECT_ERROR_WITH(packed({2, 2, 1}), "batch_sizes[0] = 2 but the hidden state holds 3");
  EXPECT_ERROR_WITH(ops.packed(at::randn({5, 1, 3}), batch_sizes_tensor({3, 2}),
                               at::zeros({2, 3, 4}), params, true, 2, 0.0, false, false),
                    op + "expected data to be 2-D");
}

// The cell ops check their arguments in ATen's order, with ATen's words.
TEST_P(RecurrenceErrors, CellMessagesAreAtens) {
  const Cell cell = GetParam();
  const int64_t G = config(cell, 4, 5, 1, false).gates();
  const at::Tensor w_ih = at::randn({G * 5, 4});
  const at::Tensor w_hh = at::randn({G * 5, 5});
  struct BadCell {
    at::Tensor input, hx;
    std::string message;
  };
  const std::vector<BadCell> cases{
      {at::randn({3, 7}), at::zeros({3, 5}), "input has inconsistent input_size: got 7 expected 4"},
      {at::randn({3, 4}), at::zeros({2, 5}),
       "Input batch size 3 doesn't match hidden0 batch size 2"},
      {at::randn({3, 4}), at::zeros({3, 6}),
       "hidden0 has inconsistent hidden_size: got 6, expected 5"},
  };
  for (const BadCell& bad : cases) {
    SCOPED_TRACE(bad.message);
    EXPECT_ERROR_WITH(torch_ext_ops(cell).cell(bad.input, bad.hx, w_ih, w_hh, {}, {}), bad.message);
    EXPECT_ERROR_WITH(aten_ops(cell).cell(bad.input, bad.hx, w_ih, w_hh, {}, {}), bad.message);
  }
  const std::string op = "torch_ext::" + cell_name(cell) + "_cell: ";
  EXPECT_ERROR_WITH(torch_ext_ops(cell).cell(at::randn({3, 3, 4}), at::zeros({3, 5}), w_ih, w_hh,
                                             {}, {}),
                    op + "expected input to be 2-D");
  EXPECT_ERROR_WITH(torch_ext_ops(cell).cell(at::randn({3, 4}), at::zeros({3, 5}, at::kLong),
                                             w_ih, w_hh, {}, {}),
                    op + "expected hx[0] to be float32, float64 or bfloat16, got Long");
}

// The layer op: hx of a layer is [D, B, H].
TEST_P(RecurrenceErrors, LayerOpNamesTheArgument) {
  const Cell cell = GetParam();
  const RecurrenceConfig cfg = config(cell, 3, 4, 1, true);
  const std::vector<at::Tensor> params = make_recurrence_params(cfg, at::kFloat, false);
  const std::string op = cfg.is_gru() ? "torch_ext::gru_layer: " : "torch_ext::rnn_layer: ";
  const at::Tensor x = at::randn({5, 2, 3});
  EXPECT_NO_THROW(run_layer(cell, x, std::nullopt, at::zeros({2, 2, 4}), params, true, true));
  EXPECT_ERROR_WITH(run_layer(cell, x, std::nullopt, at::zeros({1, 2, 4}), params, true, true),
                    op + "expected hx of shape [2, 2, 4], got [1, 2, 4]");
  EXPECT_ERROR_WITH(run_layer(cell, x, std::nullopt, at::zeros({1, 2, 4}), params, true, false),
                    op + "expected params to hold 4 tensors", "got 8");
  EXPECT_ERROR_WITH(run_layer(cell, x.to(at::kDouble), std::nullopt, at::zeros({2, 2, 4}), params,
                              true, true),
                    op + "expected hx to have the dtype of input (Double), got Float");
}

}  // namespace torch_ext::testing
