// torch_ext::nn::LSTM (csrc/api/nn/rnn.cpp) against torch::nn::LSTM with the same weights: outputs
// and gradients for every option, padded, unbatched and packed (sorted or not) input; the
// parameters (names, order, shapes, initial values), options, pretty_print, clone, to(),
// serialisation to and from torch::nn::LSTM, AnyModule; dropout; errors and warnings.
#include "api/module_testing.h"
#include "support/lstm_reference.h"

#include <torch_ext/torch_ext.h>

#include <torch/torch.h>

#include <gtest/gtest.h>

#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

namespace torch_ext::testing {
namespace {

using torch::Tensor;
using torch::nn::utils::rnn::PackedSequence;

constexpr int64_t kInput = 3;
constexpr int64_t kHidden = 5;
constexpr int64_t kSteps = 4;
constexpr int64_t kBatch = 3;

struct LstmCase {
  int64_t num_layers = 1;
  bool bias = true;
  bool batch_first = false;
  bool bidirectional = false;
  int64_t proj_size = 0;
  torch::Dtype dtype = torch::kFloat;
  bool with_hx = true;

  std::string describe() const {
    std::ostringstream text;
    text << std::boolalpha << "num_layers=" << num_layers << " bias=" << bias
         << " batch_first=" << batch_first << " bidirectional=" << bidirectional
         << " proj_size=" << proj_size << " dtype=" << dtype_name(dtype) << " hx=" << with_hx;
    return text.str();
  }
  int64_t directions() const { return bidirectional ? 2 : 1; }
  int64_t state_size() const { return proj_size > 0 ? proj_size : kHidden; }
};

// torch::nn::LSTMOptions or torch_ext::nn::LSTMOptions for a case (the same builder API).
template <typename Options>
Options options_for(const LstmCase& c) {
  return Options(kInput, kHidden)
      .num_layers(c.num_layers)
      .bias(c.bias)
      .batch_first(c.batch_first)
      .bidirectional(c.bidirectional)
      .proj_size(c.proj_size);
}

torch::nn::LSTMOptions torch_options(const LstmCase& c) {
  return options_for<torch::nn::LSTMOptions>(c);
}

torch_ext::nn::LSTMOptions our_options(const LstmCase& c) {
  return options_for<torch_ext::nn::LSTMOptions>(c);
}

// A torch::nn::LSTM and a torch_ext::nn::LSTM holding the same weights.
struct ModulePair {
  torch::nn::LSTM reference;
  torch_ext::nn::LSTM ours;

  explicit ModulePair(const LstmCase& c) : reference(torch_options(c)), ours(our_options(c)) {
    reference->to(c.dtype);
    ours->to(c.dtype);
    copy_parameters(*reference, *ours);
  }
};

// The initial state of a case: [L·D, B, R] and [L·D, B, H], requiring grad.
State make_state(const LstmCase& c, int64_t batch) {
  const auto options = torch::dtype(c.dtype).requires_grad(true);
  const int64_t layers = c.num_layers * c.directions();
  return {torch::randn({layers, batch, c.state_size()}, options),
          torch::randn({layers, batch, kHidden}, options)};
}

// What one forward + backward produces: the outputs, and the gradients of a fixed loss w.r.t.
// the input, the initial state and every parameter.
struct LstmRun {
  Tensor output, h_n, c_n;
  Tensor grad_input, grad_h0, grad_c0;
  std::map<std::string, Tensor> grad_params;
};

Tensor loss_of(const Tensor& output, const Tensor& h_n, const Tensor& c_n) {
  return (output * probe_like(output, 0.1)).sum() + (h_n * probe_like(h_n, 0.2)).sum() +
         (c_n * probe_like(c_n, 0.3)).sum();
}

// Runs the padded forward of `module` (torch::nn::LSTM or torch_ext::nn::LSTM: the same API) on
// copies of the inputs, then the backward.
template <typename Module>
LstmRun run_padded(Module& module, const Tensor& input, const std::optional<State>& hx) {
  module->zero_grad();
  const Tensor x = leaf_copy(input);
  const std::optional<State> state = leaf_copy(hx);
  auto [output, final_state] = module->forward(x, state);
  auto [h_n, c_n] = final_state;
  loss_of(output, h_n, c_n).backward();
  LstmRun run{output.detach(), h_n.detach(), c_n.detach(), x.grad(), {}, {},
          parameter_gradients(*module)};
  if (state.has_value()) {
    run.grad_h0 = std::get<0>(*state).grad();
    run.grad_c0 = std::get<1>(*state).grad();
  }
  return run;
}

void expect_runs_close(const LstmRun& ours, const LstmRun& reference) {
  EXPECT_TENSORS_CLOSE(ours.output, reference.output);
  EXPECT_TENSORS_CLOSE(ours.h_n, reference.h_n);
  EXPECT_TENSORS_CLOSE(ours.c_n, reference.c_n);
  EXPECT_TENSORS_CLOSE(ours.grad_input, reference.grad_input);
  EXPECT_TENSORS_CLOSE(ours.grad_h0, reference.grad_h0);
  EXPECT_TENSORS_CLOSE(ours.grad_c0, reference.grad_c0);
  expect_parameter_gradients_close(ours.grad_params, reference.grad_params);
}

std::vector<LstmCase> every_case() {
  std::vector<LstmCase> cases;
  for (const torch::Dtype dtype : {torch::kFloat, torch::kDouble}) {
    for (const int64_t num_layers : {1, 2}) {
      for (const bool bias : {true, false}) {
        for (const bool batch_first : {false, true}) {
          for (const bool bidirectional : {false, true}) {
            for (const int64_t proj_size : {0, 2}) {
              for (const bool with_hx : {true, false}) {
                cases.push_back(
                    {num_layers, bias, batch_first, bidirectional, proj_size, dtype, with_hx});
              }
            }
          }
        }
      }
    }
  }
  return cases;
}

// --- parity with torch::nn::LSTM -----------------------------------------------------------------

TEST(ApiRnnLstmParity, EveryOptionPadded) {
  torch::manual_seed(0);
  for (const LstmCase& c : every_case()) {
    SCOPED_TRACE(c.describe());
    ModulePair modules(c);
    const Tensor input = c.batch_first ? torch::randn({kBatch, kSteps, kInput}, c.dtype)
                                       : torch::randn({kSteps, kBatch, kInput}, c.dtype);
    const std::optional<State> hx =
        c.with_hx ? std::optional<State>(make_state(c, kBatch)) : std::nullopt;
    expect_runs_close(run_padded(modules.ours, input, hx),
                      run_padded(modules.reference, input, hx));
  }
}

// torch::nn::LSTM (C++) takes batched input only; ours also takes nn.LSTM's unbatched [T, I],
// with a state [L·D, R], [L·D, H], and returns the batched results without the batch dimension.
TEST(ApiRnnLstmParity, UnbatchedInput) {
  torch::manual_seed(1);
  for (const bool batch_first : {false, true}) {
    for (const bool with_hx : {true, false}) {
      LstmCase c;
      c.num_layers = 2;
      c.bidirectional = true;
      c.proj_size = 2;
      c.batch_first = batch_first;
      c.with_hx = with_hx;
      c.dtype = torch::kDouble;
      SCOPED_TRACE(c.describe());
      ModulePair modules(c);
      const Tensor input = torch::randn({kSteps, kInput}, c.dtype);
      std::optional<State> hx;
      std::optional<State> batched_hx;
      if (with_hx) {
        const State state = make_state(c, 1);
        batched_hx = state;
        hx = State{std::get<0>(state).squeeze(1), std::get<1>(state).squeeze(1)};
      }
      const LstmRun ours = run_padded(modules.ours, input, hx);
      const LstmRun reference =
          run_padded(modules.reference, input.unsqueeze(batch_first ? 0 : 1), batched_hx);
      EXPECT_EQ(ours.output.sizes(), (std::vector<int64_t>{kSteps, 2 * c.state_size()}));
      EXPECT_TENSORS_CLOSE(ours.output, reference.output.squeeze(batch_first ? 0 : 1));
      EXPECT_TENSORS_CLOSE(ours.h_n, reference.h_n.squeeze(1));
      EXPECT_TENSORS_CLOSE(ours.c_n, reference.c_n.squeeze(1));
      EXPECT_TENSORS_CLOSE(ours.grad_input, reference.grad_input.squeeze(batch_first ? 0 : 1));
      if (with_hx) {
        EXPECT_TENSORS_CLOSE(ours.grad_h0, reference.grad_h0.squeeze(1));
        EXPECT_TENSORS_CLOSE(ours.grad_c0, reference.grad_c0.squeeze(1));
      }
      expect_parameter_gradients_close(ours.grad_params, reference.grad_params);
    }
  }
}

// Packed input, sorted (enforce_sorted) and not: the initial state is given in the caller's batch
// order, sorted into the packed order and the final state sorted back, as torch::nn does.
template <typename Module>
std::tuple<LstmRun, PackedSequence> run_packed(Module& module, const Tensor& padded,
                                           const Tensor& lengths, bool enforce_sorted,
                                           const std::optional<State>& hx) {
  module->zero_grad();
  const Tensor x = leaf_copy(padded);
  const PackedSequence packed = torch::nn::utils::rnn::pack_padded_sequence(
      x, lengths, /*batch_first=*/false, enforce_sorted);
  const std::optional<State> state = leaf_copy(hx);
  auto [output, final_state] = module->forward_with_packed_input(packed, state);
  auto [h_n, c_n] = final_state;
  loss_of(output.data(), h_n, c_n).backward();
  LstmRun run{output.data().detach(), h_n.detach(), c_n.detach(), x.grad(), {}, {},
          parameter_gradients(*module)};
  if (state.has_value()) {
    run.grad_h0 = std::get<0>(*state).grad();
    run.grad_c0 = std::get<1>(*state).grad();
  }
  return {run, output};
}

TEST(ApiRnnLstmParity, PackedInputSortedAndUnsorted) {
  torch::manual_seed(2);
  for (const torch::Dtype dtype : {torch::kFloat, torch::kDouble}) {
    for (const bool enforce_sorted : {true, false}) {
      for (const bool with_hx : {true, false}) {
        for (const int64_t proj_size : {0, 2}) {
          LstmCase c;
          c.num_layers = 2;
          c.bidirectional = true;
          c.proj_size = proj_size;
          c.dtype = dtype;
          c.with_hx = with_hx;
          SCOPED_TRACE(c.describe() + " enforce_sorted=" + std::to_string(enforce_sorted));
          ModulePair modules(c);
          const Tensor lengths = enforce_sorted ? torch::tensor({5, 4, 2, 1}, torch::kLong)
                                                : torch::tensor({2, 5, 1, 4}, torch::kLong);
          const Tensor padded = torch::randn({5, 4, kInput}, dtype);
          const std::optional<State> hx =
              with_hx ? std::optional<State>(make_state(c, 4)) : std::nullopt;
          const auto [ours, ours_packed] =
              run_packed(modules.ours, padded, lengths, enforce_sorted, hx);
          const auto [reference, reference_packed] =
              run_packed(modules.reference, padded, lengths, enforce_sorted, hx);
          expect_runs_close(ours, reference);
          EXPECT_TRUE(ours_packed.batch_sizes().equal(reference_packed.batch_sizes()));
          EXPECT_EQ(ours_packed.sorted_indices().defined(), !enforce_sorted);
          if (!enforce_sorted) {
            EXPECT_TRUE(ours_packed.sorted_indices().equal(reference_packed.sorted_indices()));
            EXPECT_TRUE(
                ours_packed.unsorted_indices().equal(reference_packed.unsorted_indices()));
          }
        }
      }
    }
  }
}

// An empty batch gives empty outputs of the right shapes, as torch::nn::LSTM's.
TEST(ApiRnnLstmParity, EmptyBatch) {
  LstmCase c;
  c.num_layers = 2;
  c.bidirectional = true;
  c.proj_size = 2;
  ModulePair modules(c);
  const Tensor input = torch::randn({kSteps, 0, kInput});
  auto [output, state] = modules.ours->forward(input);
  auto [reference_output, reference_state] = modules.reference->forward(input);
  EXPECT_EQ(output.sizes(), reference_output.sizes());
  EXPECT_EQ(std::get<0>(state).sizes(), std::get<0>(reference_state).sizes());
  EXPECT_EQ(std::get<1>(state).sizes(), std::get<1>(reference_state).sizes());
}

// With a non-zero dropout, training mode drops between layers (two calls differ, and differ from
// evaluation); evaluation mode is deterministic and equals torch::nn::LSTM's.
TEST(ApiRnnLstmParity, DropoutOnlyInTraining) {
  torch::manual_seed(3);
  torch_ext::nn::LSTM ours(torch_ext::nn::LSTMOptions(kInput, kHidden).num_layers(3).dropout(0.5));
  torch::nn::LSTM reference(torch::nn::LSTMOptions(kInput, kHidden).num_layers(3).dropout(0.5));
  copy_parameters(*reference, *ours);
  const Tensor input = torch::randn({kSteps, kBatch, kInput});
  ASSERT_TRUE(ours->is_training());
  const Tensor first = std::get<0>(ours->forward(input));
  const Tensor second = std::get<0>(ours->forward(input));
  EXPECT_FALSE(torch::allclose(first, second));
  ours->eval();
  reference->eval();
  const Tensor evaluated = std::get<0>(ours->forward(input));
  EXPECT_TENSORS_CLOSE(evaluated, std::get<0>(reference->forward(input)));
  EXPECT_TRUE(evaluated.equal(std::get<0>(ours->forward(input))));
  EXPECT_FALSE(torch::allclose(first, evaluated));
}

// --- parameters ----------------------------------------------------------------------------------

TEST(ApiRnnLstmParameters, NamesShapesAndInitialValuesAsTorchNn) {
  for (const LstmCase& c : every_case()) {
    if (c.dtype != torch::kFloat || !c.with_hx) {
      continue;
    }
    SCOPED_TRACE(c.describe());
    torch::manual_seed(42);
    torch::nn::LSTM reference(torch_options(c));
    torch::manual_seed(42);
    torch_ext::nn::LSTM ours(our_options(c));
    ASSERT_EQ(parameter_names(*ours), parameter_names(*reference));
    const auto expected = reference->named_parameters();
    for (const auto& parameter : ours->named_parameters()) {
      SCOPED_TRACE(parameter.key());
      EXPECT_TRUE(parameter.value().equal(expected[parameter.key()]));
      EXPECT_TRUE(parameter.value().requires_grad());
    }
    // The flat list in the operators' order is torch::nn's flat weight order, which is also the
    // registration order.
    const std::vector<Tensor>& flat = ours->flat_weights();
    const std::vector<Tensor> reference_all = reference->all_weights();
    const std::vector<Tensor> all = ours->all_weights();
    ASSERT_EQ(flat.size(), reference_all.size());
    ASSERT_EQ(all.size(), reference_all.size());
    for (size_t k = 0; k < flat.size(); ++k) {
      EXPECT_TRUE(flat[k].is_same(all[k]));
      EXPECT_TRUE(all[k].equal(reference_all[k]));
    }
  }
}

TEST(ApiRnnLstmParameters, ResetParametersRedrawsLikeTorchNn) {
  torch_ext::nn::LSTM ours(torch_ext::nn::LSTMOptions(4, 16).num_layers(2).proj_size(3));
  torch::nn::LSTM reference(torch::nn::LSTMOptions(4, 16).num_layers(2).proj_size(3));
  torch::manual_seed(7);
  ours->reset_parameters();
  torch::manual_seed(7);
  reference->reset_parameters();
  const auto expected = reference->named_parameters();
  for (const auto& parameter : ours->named_parameters()) {
    SCOPED_TRACE(parameter.key());
    EXPECT_TRUE(parameter.value().equal(expected[parameter.key()]));
    EXPECT_LE(parameter.value().abs().max().item<double>(), 0.25);  // 1 / sqrt(16)
  }
}

// --- options, pretty_print, module behaviour -----------------------------------------------------

TEST(ApiRnnLstmOptions, OptionsAndPrettyPrint) {
  const auto options = torch_ext::nn::LSTMOptions(3, 5)
                           .num_layers(2)
                           .bias(false)
                           .batch_first(true)
                           .dropout(0.25)
                           .bidirectional(true)
                           .proj_size(2);
  torch_ext::nn::LSTM lstm(options);
  EXPECT_EQ(lstm->options.input_size(), 3);
  EXPECT_EQ(lstm->options.hidden_size(), 5);
  EXPECT_EQ(lstm->options.num_layers(), 2);
  EXPECT_FALSE(lstm->options.bias());
  EXPECT_TRUE(lstm->options.batch_first());
  EXPECT_EQ(lstm->options.dropout(), 0.25);
  EXPECT_TRUE(lstm->options.bidirectional());
  EXPECT_EQ(lstm->options.proj_size(), 2);
  EXPECT_EQ(lstm->options_base.proj_size(), 2);
  EXPECT_EQ(printed(*lstm),
            "torch_ext::nn::LSTM(input_size=3, hidden_size=5, num_layers=2, bias=false, "
            "batch_first=true, dropout=0.25, bidirectional=true, proj_size=2)");

  // Every option set, printed as torch::nn prints it.
  for (const LstmCase& c : every_case()) {
    if (c.dtype != torch::kFloat || !c.with_hx) {
      continue;
    }
    SCOPED_TRACE(c.describe());
    EXPECT_EQ(printed(*torch_ext::nn::LSTM(our_options(c))),
              in_our_namespace(printed(*torch::nn::LSTM(torch_options(c)))));
  }
  EXPECT_EQ(printed(*torch_ext::nn::LSTM(3, 5)),
            "torch_ext::nn::LSTM(input_size=3, hidden_size=5, num_layers=1, bias=true, "
            "batch_first=false, dropout=0, bidirectional=false)");
}

TEST(ApiRnnLstmModule, CloneHasItsOwnEqualParameters) {
  torch_ext::nn::LSTM lstm(torch_ext::nn::LSTMOptions(kInput, kHidden).num_layers(2));
  const auto copy = std::dynamic_pointer_cast<torch_ext::nn::LSTMImpl>(lstm->clone());
  ASSERT_NE(copy, nullptr);
  const Tensor input = torch::randn({kSteps, kBatch, kInput});
  EXPECT_TRUE(std::get<0>(copy->forward(input)).equal(std::get<0>(lstm->forward(input))));
  {
    torch::NoGradGuard no_grad;
    for (Tensor& parameter : copy->parameters()) {
      parameter.zero_();
    }
  }
  EXPECT_FALSE(std::get<0>(copy->forward(input)).equal(std::get<0>(lstm->forward(input))));
  EXPECT_TRUE(std::get<0>(copy->forward(input)).abs().max().item<double>() == 0.0);
}

TEST(ApiRnnLstmModule, ToDoubleRunsInDouble) {
  torch_ext::nn::LSTM lstm(torch_ext::nn::LSTMOptions(kInput, kHidden).proj_size(2));
  lstm->to(torch::kDouble);
  for (const Tensor& weight : lstm->flat_weights()) {
    EXPECT_EQ(weight.scalar_type(), torch::kDouble);
  }
  auto [output, state] = lstm->forward(torch::randn({kSteps, kBatch, kInput}, torch::kDouble));
  EXPECT_EQ(output.scalar_type(), torch::kDouble);
  EXPECT_EQ(std::get<1>(state).scalar_type(), torch::kDouble);
}

// Weights move by name through torch::save / torch::load, both ways.
TEST(ApiRnnLstmModule, SerializationMovesWeightsToAndFromTorchNn) {
  LstmCase c;
  c.num_layers = 2;
  c.bidirectional = true;
  c.proj_size = 3;
  torch::nn::LSTM reference(torch_options(c));
  torch_ext::nn::LSTM ours(our_options(c));
  std::stringstream to_ours;
  torch::save(reference, to_ours);
  torch::load(ours, to_ours);
  const Tensor input = torch::randn({kSteps, kBatch, kInput});
  EXPECT_TENSORS_CLOSE(std::get<0>(ours->forward(input)), std::get<0>(reference->forward(input)));

  torch_ext::nn::LSTM trained(our_options(c));
  torch::nn::LSTM loaded(torch_options(c));
  std::stringstream to_reference;
  torch::save(trained, to_reference);
  torch::load(loaded, to_reference);
  EXPECT_TENSORS_CLOSE(std::get<0>(trained->forward(input)),
                       std::get<0>(loaded->forward(input)));
}

// forward's default argument is declared (FORWARD_HAS_DEFAULT_ARGS), so AnyModule and Sequential
// can call it with the input alone.
TEST(ApiRnnLstmModule, AnyModuleCallsForwardWithDefaultState) {
  torch_ext::nn::LSTM lstm(kInput, kHidden);
  torch::nn::AnyModule any(lstm);
  const Tensor input = torch::randn({kSteps, kBatch, kInput});
  using Result = std::tuple<Tensor, State>;
  const Result result = any.forward<Result>(input);
  EXPECT_TRUE(std::get<0>(result).equal(std::get<0>(lstm->forward(input))));
}

// --- errors -----------------------------------------------------------------------------------

TEST(ApiRnnLstmErrors, ForwardArgumentsAsTorchNn) {
  LstmCase c;
  c.num_layers = 2;
  c.proj_size = 2;
  ModulePair modules(c);
  auto& reference = modules.reference;
  auto& ours = modules.ours;
  const Tensor input = torch::randn({kSteps, kBatch, kInput});
  const State hx = make_state(c, kBatch);

  // Features of the input.
  const Tensor wide = torch::randn({kSteps, kBatch, kInput + 1});
  expect_torch_nn_error([&] { reference->forward(wide); }, [&] { return ours->forward(wide); });
  EXPECT_ERROR_WITH(ours->forward(wide), "input.size(-1) must be equal to input_size. Expected 3, got 4");

  // Sizes of h_0 and c_0: torch::nn's messages, but with the expected size printed like the
  // actual one (torch::nn prints "Expected hidden[0] size 2 3 2, got [1, 3, 2]").
  const State bad_h{torch::randn({1, kBatch, 2}), std::get<1>(hx)};
  EXPECT_EQ(error_message([&] { reference->forward(input, bad_h); }),
            "Expected hidden[0] size 2 3 2, got [1, 3, 2]");
  EXPECT_ERROR_WITH(ours->forward(input, bad_h), "Expected hidden[0] size [2, 3, 2], got [1, 3, 2]");
  const State bad_c{std::get<0>(hx), torch::randn({2, kBatch, 2})};
  EXPECT_ERROR_WITH(ours->forward(input, bad_c), "Expected hidden[1] size [2, 3, 5], got [2, 3, 2]");
  const State wrong_batch = make_state(c, kBatch + 1);
  EXPECT_ERROR_WITH(ours->forward(input, wrong_batch),
                    "Expected hidden[0] size [2, 3, 2], got [2, 4, 2]");

  // Packed data of the wrong rank.
  const PackedSequence bad_packed(torch::randn({4, 2, kInput}), torch::tensor({2, 2}, torch::kLong));
  expect_torch_nn_error([&] { reference->forward_with_packed_input(bad_packed); },
                        [&] { return ours->forward_with_packed_input(bad_packed); });
  EXPECT_ERROR_WITH(ours->forward_with_packed_input(bad_packed), "input must have 2 dimensions, got 3");
}

// Where ours accepts more than torch::nn (unbatched input), its messages are nn.LSTM's (Python).
TEST(ApiRnnLstmErrors, RankAndDtypeMessages) {
  torch_ext::nn::LSTM lstm(kInput, kHidden);
  EXPECT_ERROR_WITH(lstm->forward(torch::randn({2, 2, 2, kInput})),
                    "LSTM: Expected input to be 2D or 3D, got 4D instead");
  EXPECT_ERROR_WITH(lstm->forward(torch::randn({kInput})),
                    "LSTM: Expected input to be 2D or 3D, got 1D instead");
  EXPECT_ERROR_WITH(lstm->forward(Tensor()), "LSTM: expected input to be a tensor");
  EXPECT_ERROR_WITH(
      lstm->forward(torch::randn({kSteps, kBatch, kInput}),
                    State{torch::zeros({1, kHidden}), torch::zeros({1, kHidden})}),
      "For batched 3-D input, hx and cx should also be 3-D but got (2-D, 2-D) tensors");
  EXPECT_ERROR_WITH(
      lstm->forward(torch::randn({kSteps, kInput}),
                    State{torch::zeros({1, 1, kHidden}), torch::zeros({1, kHidden})}),
      "For unbatched 2-D input, hx and cx should also be 2-D but got (3-D, 2-D) tensors");
  EXPECT_ERROR_WITH(lstm->forward(torch::randn({kSteps, kBatch, kInput}, torch::kDouble)),
                    "LSTM: input dtype (Double) does not match weight dtype (Float)",
                    "input.to(torch::kFloat)", "model->to(torch::kDouble)");
}

TEST(ApiRnnLstmErrors, OptionsAsTorchNn) {
  using torch_ext::nn::LSTM;
  using torch_ext::nn::LSTMOptions;
  const std::vector<std::pair<torch::nn::LSTMOptions, LSTMOptions>> bad{
      {torch::nn::LSTMOptions(3, 0), LSTMOptions(3, 0)},
      {torch::nn::LSTMOptions(3, 5).num_layers(0), LSTMOptions(3, 5).num_layers(0)},
      {torch::nn::LSTMOptions(3, 5).proj_size(5), LSTMOptions(3, 5).proj_size(5)},
      {torch::nn::LSTMOptions(3, 5).proj_size(-1), LSTMOptions(3, 5).proj_size(-1)},
      {torch::nn::LSTMOptions(3, 5).dropout(1.5), LSTMOptions(3, 5).dropout(1.5)},
      {torch::nn::LSTMOptions(3, 5).dropout(-0.1), LSTMOptions(3, 5).dropout(-0.1)},
  };
  for (const auto& [reference_options, our_options] : bad) {
    expect_torch_nn_error([&] { torch::nn::LSTM{reference_options}; },
                          [&] { return LSTM(our_options); });
  }
  EXPECT_ERROR_WITH(LSTM(LSTMOptions(3, 5).proj_size(5)),
                    "proj_size has to be a positive integer, smaller than hidden_size or zero to "
                    "disable projections");
  EXPECT_ERROR_WITH(LSTM(LSTMOptions(3, 0)), "hidden_size must be greater than zero");
  EXPECT_ERROR_WITH(LSTM(LSTMOptions(3, 5).dropout(2)),
                    "dropout should be a number in range [0, 1]");
  // torch::nn (C++) lets input_size = 0 through; nn.LSTM (Python) and we refuse it.
  EXPECT_ERROR_WITH(LSTM(LSTMOptions(0, 5)), "input_size must be greater than zero");
}

TEST(ApiRnnLstmErrors, DropoutWithOneLayerWarnsAsTorchNn) {
  std::vector<std::string> reference_warnings;
  std::vector<std::string> our_warnings;
  {
    WarningCapture capture;
    torch::nn::LSTM reference(torch::nn::LSTMOptions(3, 5).dropout(0.5));
    reference_warnings = capture.messages();
  }
  {
    WarningCapture capture;
    torch_ext::nn::LSTM ours(torch_ext::nn::LSTMOptions(3, 5).dropout(0.5));
    our_warnings = capture.messages();
  }
  ASSERT_EQ(our_warnings.size(), 1u);
  EXPECT_EQ(our_warnings, reference_warnings);
  EXPECT_NE(our_warnings[0].find("non-zero dropout expects num_layers greater than 1"),
            std::string::npos);
  WarningCapture capture;
  torch_ext::nn::LSTM quiet(torch_ext::nn::LSTMOptions(3, 5).dropout(0.5).num_layers(2));
  EXPECT_TRUE(capture.messages().empty());
}

}  // namespace
}  // namespace torch_ext::testing
