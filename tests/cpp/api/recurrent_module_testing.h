// What the tests of the modules GRU, RNN, LayerNormLSTM, LayerNormGRU and their cells share: the
// option cases, one forward + backward over padded, unbatched or packed input (or one step of a
// cell) recorded with every gradient, and the checks that run a module of ours and a reference
// module side by side with the same weights (a torch::nn module, or a reference composed of ATen
// ops with our parameter names).
//
// The modules are called through the API torch::nn's and ours have in common. `NumStates` says
// which: 1 for a state h (forward(input, Tensor hx = {}): GRU, RNN), 2 for a state (h, c)
// (forward(input, std::optional<std::tuple<Tensor, Tensor>>): LSTM).
#pragma once

#include "api/module_testing.h"
#include "support/lstm_reference.h"

#include <torch/torch.h>

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace torch_ext::testing {

// How a result of ours is compared with the reference's: EXPECT_TENSORS_CLOSE (same dtype, the
// dtype's tolerance) unless a check says otherwise.
using TensorCheck = std::function<void(const torch::Tensor& actual, const torch::Tensor& expected)>;

inline void expect_tensors_close(const torch::Tensor& actual, const torch::Tensor& expected) {
  EXPECT_TENSORS_CLOSE(actual, expected);
}

constexpr int64_t kModuleInput = 3;
constexpr int64_t kModuleHidden = 5;
constexpr int64_t kModuleSteps = 4;
constexpr int64_t kModuleBatch = 3;

// The options of one case (those torch::nn's LSTM, GRU and RNN share).
struct ModuleCase {
  int64_t num_layers = 1;
  bool bias = true;
  bool batch_first = false;
  bool bidirectional = false;
  torch::Dtype dtype = torch::kFloat;
  bool with_hx = true;

  std::string describe() const {
    std::ostringstream text;
    text << std::boolalpha << "num_layers=" << num_layers << " bias=" << bias
         << " batch_first=" << batch_first << " bidirectional=" << bidirectional
         << " dtype=" << dtype_name(dtype) << " hx=" << with_hx;
    return text.str();
  }
  int64_t directions() const { return bidirectional ? 2 : 1; }
};

// Every combination of the options: 2 dtypes × 2 layer counts × bias × batch_first ×
// bidirectional × with or without an initial state (64 cases).
inline std::vector<ModuleCase> every_module_case() {
  std::vector<ModuleCase> cases;
  for (const torch::Dtype dtype : {torch::kFloat, torch::kDouble}) {
    for (const int64_t num_layers : {1, 2}) {
      for (const bool bias : {true, false}) {
        for (const bool batch_first : {false, true}) {
          for (const bool bidirectional : {false, true}) {
            for (const bool with_hx : {true, false}) {
              cases.push_back({num_layers, bias, batch_first, bidirectional, dtype, with_hx});
            }
          }
        }
      }
    }
  }
  return cases;
}

// GRUOptions, RNNOptions (torch::nn's or ours), LayerNormLSTMOptions, ... for a case.
template <typename Options>
Options module_options(const ModuleCase& c) {
  return Options(kModuleInput, kModuleHidden)
      .num_layers(c.num_layers)
      .bias(c.bias)
      .batch_first(c.batch_first)
      .bidirectional(c.bidirectional);
}

// What one forward + backward produces: the output and final state, and the gradients of a fixed
// loss w.r.t. the input, the initial state (none without one) and every parameter.
struct ModuleRun {
  torch::Tensor output;
  std::vector<torch::Tensor> final_state;
  torch::Tensor grad_input;
  std::vector<torch::Tensor> grad_initial_state;
  std::map<std::string, torch::Tensor> grad_params;
};

// forward(input, state) or forward_with_packed_input(input, state) of a module with NumStates
// state tensors (`initial` empty: none given): the output and the final state as a list.
template <int NumStates, typename Module, typename Input>
std::pair<Input, std::vector<torch::Tensor>> call_module(
    Module& module, const Input& input, const std::vector<torch::Tensor>& initial) {
  static_assert(NumStates == 1 || NumStates == 2);
  constexpr bool kPacked = std::is_same_v<Input, torch::nn::utils::rnn::PackedSequence>;
  if constexpr (NumStates == 1) {
    const torch::Tensor hx = initial.empty() ? torch::Tensor() : initial[0];
    auto [output, h_n] = [&] {
      if constexpr (kPacked) {
        return module->forward_with_packed_input(input, hx);
      } else {
        return module->forward(input, hx);
      }
    }();
    return {output, {h_n}};
  } else {
    std::optional<std::tuple<torch::Tensor, torch::Tensor>> hx;
    if (!initial.empty()) {
      hx = std::make_tuple(initial[0], initial[1]);
    }
    auto [output, state] = [&] {
      if constexpr (kPacked) {
        return module->forward_with_packed_input(input, hx);
      } else {
        return module->forward(input, hx);
      }
    }();
    return {output, {std::get<0>(state), std::get<1>(state)}};
  }
}

inline torch::Tensor module_loss(const torch::Tensor& output,
                                 const std::vector<torch::Tensor>& final_state) {
  torch::Tensor loss = (output * probe_like(output, 0.1)).sum();
  for (size_t k = 0; k < final_state.size(); ++k) {
    loss = loss + (final_state[k] * probe_like(final_state[k], 0.2 + 0.1 * k)).sum();
  }
  return loss;
}

inline std::vector<torch::Tensor> leaf_copies(const std::vector<torch::Tensor>& tensors) {
  std::vector<torch::Tensor> copies;
  for (const torch::Tensor& tensor : tensors) {
    copies.push_back(leaf_copy(tensor));
  }
  return copies;
}

inline std::vector<torch::Tensor> gradients_of(const std::vector<torch::Tensor>& tensors) {
  std::vector<torch::Tensor> gradients;
  for (const torch::Tensor& tensor : tensors) {
    gradients.push_back(tensor.grad());
  }
  return gradients;
}

// One forward over padded (or unbatched) input on copies of the inputs, then the backward.
template <int NumStates, typename Module>
ModuleRun run_padded(Module& module, const torch::Tensor& input,
                     const std::vector<torch::Tensor>& initial) {
  module->zero_grad();
  const torch::Tensor x = leaf_copy(input);
  const std::vector<torch::Tensor> state = leaf_copies(initial);
  auto [output, final_state] = call_module<NumStates>(module, x, state);
  module_loss(output, final_state).backward();
  std::vector<torch::Tensor> detached;
  for (const torch::Tensor& tensor : final_state) {
    detached.push_back(tensor.detach());
  }
  return {output.detach(), detached, x.grad(), gradients_of(state),
          parameter_gradients(*module)};
}

// The same over `padded` [T, B, I] packed with `lengths`; also returns the packed output.
template <int NumStates, typename Module>
std::pair<ModuleRun, torch::nn::utils::rnn::PackedSequence> run_packed(
    Module& module, const torch::Tensor& padded, const torch::Tensor& lengths, bool enforce_sorted,
    const std::vector<torch::Tensor>& initial) {
  module->zero_grad();
  const torch::Tensor x = leaf_copy(padded);
  const auto packed = torch::nn::utils::rnn::pack_padded_sequence(x, lengths,
                                                                  /*batch_first=*/false,
                                                                  enforce_sorted);
  const std::vector<torch::Tensor> state = leaf_copies(initial);
  auto [output, final_state] = call_module<NumStates>(module, packed, state);
  module_loss(output.data(), final_state).backward();
  std::vector<torch::Tensor> detached;
  for (const torch::Tensor& tensor : final_state) {
    detached.push_back(tensor.detach());
  }
  return {ModuleRun{output.data().detach(), detached, x.grad(), gradients_of(state),
                    parameter_gradients(*module)},
          output};
}

inline void expect_module_runs_close(const ModuleRun& ours, const ModuleRun& reference,
                                     const TensorCheck& check = expect_tensors_close) {
  check(ours.output, reference.output);
  ASSERT_EQ(ours.final_state.size(), reference.final_state.size());
  for (size_t k = 0; k < ours.final_state.size(); ++k) {
    SCOPED_TRACE("state tensor " + std::to_string(k));
    check(ours.final_state[k], reference.final_state[k]);
  }
  {
    SCOPED_TRACE("gradient of the input");
    check(ours.grad_input, reference.grad_input);
  }
  ASSERT_EQ(ours.grad_initial_state.size(), reference.grad_initial_state.size());
  for (size_t k = 0; k < ours.grad_initial_state.size(); ++k) {
    SCOPED_TRACE("gradient of state tensor " + std::to_string(k));
    check(ours.grad_initial_state[k], reference.grad_initial_state[k]);
  }
  ASSERT_EQ(ours.grad_params.size(), reference.grad_params.size());
  for (const auto& [name, gradient] : reference.grad_params) {
    SCOPED_TRACE("gradient of " + name);
    ASSERT_EQ(ours.grad_params.count(name), 1u);
    check(ours.grad_params.at(name), gradient);
  }
}

// The initial state of a case: NumStates tensors [L·D, B, H] (empty without one).
template <int NumStates>
std::vector<torch::Tensor> initial_state(const ModuleCase& c, int64_t batch) {
  std::vector<torch::Tensor> state;
  if (c.with_hx) {
    for (int k = 0; k < NumStates; ++k) {
      state.push_back(
          torch::randn({c.num_layers * c.directions(), batch, kModuleHidden}, c.dtype));
    }
  }
  return state;
}

// --- checks of a module against a reference module with the same weights -------------------------
// `make_pair(case)` returns {reference, ours}: two module holders in the case's dtype holding the
// same parameters under the same names.

// Every case over padded input [T, B, I] ([B, T, I] with batch_first).
template <int NumStates, typename MakePair>
void expect_padded_parity(const std::vector<ModuleCase>& cases, MakePair make_pair,
                          const TensorCheck& check = expect_tensors_close) {
  for (const ModuleCase& c : cases) {
    SCOPED_TRACE(c.describe());
    auto [reference, ours] = make_pair(c);
    const torch::Tensor input =
        c.batch_first ? torch::randn({kModuleBatch, kModuleSteps, kModuleInput}, c.dtype)
                      : torch::randn({kModuleSteps, kModuleBatch, kModuleInput}, c.dtype);
    const std::vector<torch::Tensor> h0 = initial_state<NumStates>(c, kModuleBatch);
    expect_module_runs_close(run_padded<NumStates>(ours, input, h0),
                             run_padded<NumStates>(reference, input, h0), check);
  }
}

// Unbatched input [T, I] with a state [L·D, H] (or none) gives the batched results of the
// reference without the batch dimension (torch::nn's C++ modules take batched input only).
template <int NumStates, typename MakePair>
void expect_unbatched_parity(MakePair make_pair, const TensorCheck& check = expect_tensors_close) {
  for (const bool batch_first : {false, true}) {
    for (const bool with_hx : {true, false}) {
      ModuleCase c;
      c.num_layers = 2;
      c.bidirectional = true;
      c.batch_first = batch_first;
      c.with_hx = with_hx;
      c.dtype = torch::kDouble;
      SCOPED_TRACE(c.describe());
      auto [reference, ours] = make_pair(c);
      const torch::Tensor input = torch::randn({kModuleSteps, kModuleInput}, c.dtype);
      const std::vector<torch::Tensor> batched_h0 = initial_state<NumStates>(c, 1);
      std::vector<torch::Tensor> h0;
      for (const torch::Tensor& tensor : batched_h0) {
        h0.push_back(tensor.squeeze(1));
      }
      const int64_t batch_dim = batch_first ? 0 : 1;
      const ModuleRun actual = run_padded<NumStates>(ours, input, h0);
      const ModuleRun expected =
          run_padded<NumStates>(reference, input.unsqueeze(batch_dim), batched_h0);
      EXPECT_EQ(actual.output.sizes(), (std::vector<int64_t>{kModuleSteps, 2 * kModuleHidden}));
      ModuleRun squeezed = expected;
      squeezed.output = expected.output.squeeze(batch_dim);
      squeezed.grad_input = expected.grad_input.squeeze(batch_dim);
      for (size_t k = 0; k < expected.final_state.size(); ++k) {
        EXPECT_EQ(actual.final_state[k].sizes(),
                  (std::vector<int64_t>{2 * c.num_layers, kModuleHidden}));
        squeezed.final_state[k] = expected.final_state[k].squeeze(1);
      }
      for (size_t k = 0; k < expected.grad_initial_state.size(); ++k) {
        squeezed.grad_initial_state[k] = expected.grad_initial_state[k].squeeze(1);
      }
      expect_module_runs_close(actual, squeezed, check);
    }
  }
}

// PackedSequence input, sorted (enforce_sorted) and not: the initial state is given and the final
// state returned in the caller's batch order; the packed output keeps the input's indices.
template <int NumStates, typename MakePair>
void expect_packed_parity(MakePair make_pair, const TensorCheck& check = expect_tensors_close) {
  for (const torch::Dtype dtype : {torch::kFloat, torch::kDouble}) {
    for (const bool enforce_sorted : {true, false}) {
      for (const bool with_hx : {true, false}) {
        ModuleCase c;
        c.num_layers = 2;
        c.bidirectional = true;
        c.dtype = dtype;
        c.with_hx = with_hx;
        SCOPED_TRACE(c.describe() + " enforce_sorted=" + std::to_string(enforce_sorted));
        auto [reference, ours] = make_pair(c);
        const torch::Tensor lengths = enforce_sorted ? torch::tensor({5, 4, 2, 1}, torch::kLong)
                                                     : torch::tensor({2, 5, 1, 4}, torch::kLong);
        const torch::Tensor padded = torch::randn({5, 4, kModuleInput}, dtype);
        const std::vector<torch::Tensor> h0 = initial_state<NumStates>(c, 4);
        const auto [actual, actual_packed] =
            run_packed<NumStates>(ours, padded, lengths, enforce_sorted, h0);
        const auto [expected, expected_packed] =
            run_packed<NumStates>(reference, padded, lengths, enforce_sorted, h0);
        expect_module_runs_close(actual, expected, check);
        EXPECT_TRUE(actual_packed.batch_sizes().equal(expected_packed.batch_sizes()));
        EXPECT_EQ(actual_packed.sorted_indices().defined(), !enforce_sorted);
        if (!enforce_sorted) {
          EXPECT_TRUE(actual_packed.sorted_indices().equal(expected_packed.sorted_indices()));
          EXPECT_TRUE(actual_packed.unsorted_indices().equal(expected_packed.unsorted_indices()));
        }
      }
    }
  }
}

// --- cells ---------------------------------------------------------------------------------------
// A cell's run records h' as `output` and any further state (c') in `final_state`.

// One step of `cell` (input [B, I] or unbatched [I]; `initial` empty: no state given) on copies of
// the inputs, then the backward.
template <int NumStates, typename Cell>
ModuleRun run_cell(Cell& cell, const torch::Tensor& input,
                   const std::vector<torch::Tensor>& initial) {
  static_assert(NumStates == 1 || NumStates == 2);
  cell->zero_grad();
  const torch::Tensor x = leaf_copy(input);
  const std::vector<torch::Tensor> state = leaf_copies(initial);
  std::vector<torch::Tensor> next;
  if constexpr (NumStates == 1) {
    next.push_back(cell->forward(x, state.empty() ? torch::Tensor() : state[0]));
  } else {
    std::optional<std::tuple<torch::Tensor, torch::Tensor>> hx;
    if (!state.empty()) {
      hx = std::make_tuple(state[0], state[1]);
    }
    auto [h, c] = cell->forward(x, hx);
    next = {h, c};
  }
  const std::vector<torch::Tensor> rest(next.begin() + 1, next.end());
  module_loss(next[0], rest).backward();
  std::vector<torch::Tensor> detached;
  for (const torch::Tensor& tensor : rest) {
    detached.push_back(tensor.detach());
  }
  return {next[0].detach(), detached, x.grad(), gradients_of(state),
          parameter_gradients(*cell)};
}

// Batched [B, I] and unbatched [I] input, with and without a state, with and without biases, in
// float32 and float64. `make_pair(case)` returns {reference, ours} with the same weights (only
// the case's bias and dtype apply). Unbatched, the reference runs the sample as a batch of one
// (torch::nn's C++ cells mistake an unbatched input's features for its batch when no state is
// given).
template <int NumStates, typename MakePair>
void expect_cell_parity(MakePair make_pair, const TensorCheck& check = expect_tensors_close) {
  constexpr int64_t kCellBatch = 4;
  for (const torch::Dtype dtype : {torch::kFloat, torch::kDouble}) {
    for (const bool bias : {true, false}) {
      for (const bool with_hx : {true, false}) {
        for (const bool batched : {true, false}) {
          ModuleCase c;
          c.bias = bias;
          c.dtype = dtype;
          c.with_hx = with_hx;
          SCOPED_TRACE(c.describe() + " batched=" + std::to_string(batched));
          auto [reference, ours] = make_pair(c);
          const torch::Tensor input = torch::randn({kCellBatch, kModuleInput}, dtype);
          std::vector<torch::Tensor> hx;
          for (int k = 0; with_hx && k < NumStates; ++k) {
            hx.push_back(torch::randn({kCellBatch, kModuleHidden}, dtype));
          }
          if (batched) {
            expect_module_runs_close(run_cell<NumStates>(ours, input, hx),
                                     run_cell<NumStates>(reference, input, hx), check);
            continue;
          }
          std::vector<torch::Tensor> first_hx;
          std::vector<torch::Tensor> sample_hx;
          for (const torch::Tensor& tensor : hx) {
            first_hx.push_back(tensor.narrow(0, 0, 1));
            sample_hx.push_back(tensor[0]);
          }
          const ModuleRun expected =
              run_cell<NumStates>(reference, input.narrow(0, 0, 1), first_hx);
          const ModuleRun actual = run_cell<NumStates>(ours, input[0], sample_hx);
          EXPECT_EQ(actual.output.sizes(), (std::vector<int64_t>{kModuleHidden}));
          ModuleRun sample = expected;
          sample.output = expected.output[0];
          sample.grad_input = expected.grad_input[0];
          for (size_t k = 0; k < expected.final_state.size(); ++k) {
            sample.final_state[k] = expected.final_state[k][0];
          }
          for (size_t k = 0; k < expected.grad_initial_state.size(); ++k) {
            sample.grad_initial_state[k] = expected.grad_initial_state[k][0];
          }
          expect_module_runs_close(actual, sample, check);
        }
      }
    }
  }
}

// Two modules whose parameters are equal by name: the same names in the same order, equal values.
inline void expect_same_named_parameters(const torch::nn::Module& actual,
                                         const torch::nn::Module& expected) {
  ASSERT_EQ(parameter_names(actual), parameter_names(expected));
  const auto values = expected.named_parameters();
  for (const auto& parameter : actual.named_parameters()) {
    SCOPED_TRACE(parameter.key());
    EXPECT_TRUE(parameter.value().equal(values[parameter.key()]));
    EXPECT_TRUE(parameter.value().requires_grad());
  }
}

// Weights move by name through torch::save / torch::load, both ways: loaded, each module computes
// what the other does. `run(module)` returns a module's output on fixed input.
template <typename Reference, typename Ours, typename Run>
void expect_serialization_both_ways(Reference reference, Ours ours, Reference reference_target,
                                    Ours ours_target, Run run) {
  std::stringstream to_ours;
  torch::save(reference, to_ours);
  torch::load(ours_target, to_ours);
  expect_same_named_parameters(*ours_target, *reference);
  EXPECT_TENSORS_CLOSE(run(ours_target), run(reference));

  std::stringstream to_reference;
  torch::save(ours, to_reference);
  torch::load(reference_target, to_reference);
  expect_same_named_parameters(*reference_target, *ours);
  EXPECT_TENSORS_CLOSE(run(reference_target), run(ours));
}

}  // namespace torch_ext::testing
