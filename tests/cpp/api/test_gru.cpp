// torch_ext::nn::GRU (csrc/api/nn/rnn.cpp) against torch::nn::GRU with the same weights: outputs
// and every gradient for every option, padded, unbatched and packed (sorted or not) input; the
// original GRU (reset_after=false) against a reference of ATen ops and the operator function, and
// unlike PyTorch's form; parameters (names, shapes, initial values), options, pretty_print, clone,
// AnyModule, serialisation to and from torch::nn::GRU; dropout; errors.
#include "api/recurrent_module_testing.h"
#include "support/recurrence_reference.h"

#include <torch_ext/torch_ext.h>

#include <torch/torch.h>

#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

namespace torch_ext::testing {
namespace {

using torch::Tensor;

// A torch::nn::GRU and a torch_ext::nn::GRU holding the same weights.
struct GruPair {
  torch::nn::GRU reference;
  torch_ext::nn::GRU ours;
};

GruPair make_gru_pair(const ModuleCase& c) {
  GruPair pair{torch::nn::GRU(module_options<torch::nn::GRUOptions>(c)),
               torch_ext::nn::GRU(module_options<torch_ext::nn::GRUOptions>(c))};
  pair.reference->to(c.dtype);
  pair.ours->to(c.dtype);
  copy_parameters(*pair.reference, *pair.ours);
  return pair;
}

TEST(ApiGruParity, EveryOptionPadded) {
  torch::manual_seed(0);
  expect_padded_parity<1>(every_module_case(), make_gru_pair);
}

TEST(ApiGruParity, UnbatchedInput) {
  torch::manual_seed(1);
  expect_unbatched_parity<1>(make_gru_pair);
}

TEST(ApiGruParity, PackedInputSortedAndUnsorted) {
  torch::manual_seed(2);
  expect_packed_parity<1>(make_gru_pair);
}

TEST(ApiGruParity, EmptyBatch) {
  ModuleCase c;
  c.num_layers = 2;
  c.bidirectional = true;
  auto [reference, ours] = make_gru_pair(c);
  const Tensor input = torch::randn({kModuleSteps, 0, kModuleInput});
  auto [output, h_n] = ours->forward(input);
  auto [reference_output, reference_h_n] = reference->forward(input);
  EXPECT_EQ(output.sizes(), reference_output.sizes());
  EXPECT_EQ(h_n.sizes(), reference_h_n.sizes());
}

// Training mode drops between layers (two calls differ); evaluation is deterministic and equals
// torch::nn::GRU's.
TEST(ApiGruParity, DropoutOnlyInTraining) {
  torch::manual_seed(3);
  torch_ext::nn::GRU ours(
      torch_ext::nn::GRUOptions(kModuleInput, kModuleHidden).num_layers(3).dropout(0.5));
  torch::nn::GRU reference(
      torch::nn::GRUOptions(kModuleInput, kModuleHidden).num_layers(3).dropout(0.5));
  copy_parameters(*reference, *ours);
  const Tensor input = torch::randn({kModuleSteps, kModuleBatch, kModuleInput});
  const Tensor first = std::get<0>(ours->forward(input));
  EXPECT_FALSE(torch::allclose(first, std::get<0>(ours->forward(input))));
  ours->eval();
  reference->eval();
  const Tensor evaluated = std::get<0>(ours->forward(input));
  EXPECT_TENSORS_CLOSE(evaluated, std::get<0>(reference->forward(input)));
  EXPECT_TRUE(evaluated.equal(std::get<0>(ours->forward(input))));
}

// --- the original GRU (reset_after=false) --------------------------------------------------------

// reset_after=false computes the reset-before equations (reference_recurrence, ATen ops): outputs
// and every gradient; it is torch_ext::gru_reset_before on the module's weights, and differs from
// PyTorch's form on the same weights.
TEST(ApiGruResetBefore, MatchesAnAtenReferenceAndTheOperator) {
  torch::manual_seed(4);
  for (const bool bias : {true, false}) {
    for (const bool batch_first : {false, true}) {
      ModuleCase c;
      c.num_layers = 2;
      c.bidirectional = true;
      c.bias = bias;
      c.batch_first = batch_first;
      c.dtype = torch::kDouble;
      SCOPED_TRACE(c.describe());
      torch_ext::nn::GRU original(module_options<torch_ext::nn::GRUOptions>(c).reset_after(false));
      original->to(c.dtype);
      const Tensor input =
          batch_first ? torch::randn({kModuleBatch, kModuleSteps, kModuleInput}, c.dtype)
                      : torch::randn({kModuleSteps, kModuleBatch, kModuleInput}, c.dtype);
      const std::vector<Tensor> h0 = initial_state<1>(c, kModuleBatch);
      const ModuleRun ours = run_padded<1>(original, input, h0);

      // The reference, differentiated by autograd w.r.t. the same inputs.
      RecurrenceConfig config;
      config.cell = Cell::GruResetBefore;
      config.input_size = kModuleInput;
      config.hidden_size = kModuleHidden;
      config.num_layers = c.num_layers;
      config.bidirectional = true;
      config.has_biases = bias;
      const std::vector<Tensor> params = leaf_copies(original->flat_weights());
      const Tensor x = leaf_copy(input);
      const Tensor state = leaf_copy(h0[0]);
      auto [output, h_n] = reference_recurrence(x, state, params, config, batch_first);
      module_loss(output, {h_n}).backward();
      EXPECT_TENSORS_CLOSE(ours.output, output.detach());
      EXPECT_TENSORS_CLOSE(ours.final_state[0], h_n.detach());
      EXPECT_TENSORS_CLOSE(ours.grad_input, x.grad());
      EXPECT_TENSORS_CLOSE(ours.grad_initial_state[0], state.grad());
      const std::vector<std::string> names = parameter_names(*original);
      ASSERT_EQ(names.size(), params.size());
      for (size_t k = 0; k < names.size(); ++k) {
        SCOPED_TRACE(names[k]);
        EXPECT_TENSORS_CLOSE(ours.grad_params.at(names[k]), params[k].grad());
      }

      torch::NoGradGuard no_grad;
      const auto [op_output, op_h_n] =
          torch_ext::gru_reset_before(input, h0[0], original->flat_weights(), bias, 2, 0.0,
                                      /*train=*/true, /*bidirectional=*/true, batch_first);
      EXPECT_TENSORS_CLOSE(ours.output, op_output);
      EXPECT_TENSORS_CLOSE(ours.final_state[0], op_h_n);
      torch_ext::nn::GRU pytorch_form(module_options<torch_ext::nn::GRUOptions>(c));
      pytorch_form->to(c.dtype);
      copy_parameters(*original, *pytorch_form);
      const Tensor pytorch_output = std::get<0>(pytorch_form->forward(input, h0[0]));
      EXPECT_GT((pytorch_output - ours.output).abs().max().item<double>(), 1e-3);
    }
  }
}

// Packed input runs the .data overload of the reset-before operator, sorted or not.
TEST(ApiGruResetBefore, PackedInputAsTheOperator) {
  torch::manual_seed(5);
  torch_ext::nn::GRU original(
      torch_ext::nn::GRUOptions(kModuleInput, kModuleHidden).num_layers(2).reset_after(false));
  original->to(torch::kDouble);
  const Tensor padded = torch::randn({5, 4, kModuleInput}, torch::kDouble);
  const Tensor lengths = torch::tensor({2, 5, 1, 4}, torch::kLong);
  const auto packed = torch::nn::utils::rnn::pack_padded_sequence(padded, lengths, false, false);
  const Tensor h0 = torch::randn({2, 4, kModuleHidden}, torch::kDouble);
  auto [output, h_n] = original->forward_with_packed_input(packed, h0);
  const Tensor sorted_h0 = h0.index_select(1, packed.sorted_indices());
  auto [op_output, op_h_n] =
      torch_ext::gru_reset_before(packed.data(), packed.batch_sizes(), sorted_h0,
                                  original->flat_weights(), true, 2, 0.0, true, false);
  EXPECT_TENSORS_CLOSE(output.data(), op_output);
  EXPECT_TENSORS_CLOSE(h_n, op_h_n.index_select(1, packed.unsorted_indices()));
}

// --- parameters, options, module behaviour -------------------------------------------------------

TEST(ApiGruParameters, NamesShapesAndInitialValuesAsTorchNn) {
  for (const ModuleCase& c : every_module_case()) {
    if (c.dtype != torch::kFloat || !c.with_hx) {
      continue;
    }
    for (const bool reset_after : {true, false}) {
      SCOPED_TRACE(c.describe() + " reset_after=" + std::to_string(reset_after));
      torch::manual_seed(42);
      torch::nn::GRU reference(module_options<torch::nn::GRUOptions>(c));
      torch::manual_seed(42);
      torch_ext::nn::GRU ours(
          module_options<torch_ext::nn::GRUOptions>(c).reset_after(reset_after));
      expect_same_named_parameters(*ours, *reference);
      const std::vector<Tensor> reference_all = reference->all_weights();
      const std::vector<Tensor>& flat = ours->flat_weights();
      ASSERT_EQ(flat.size(), reference_all.size());
      for (size_t k = 0; k < flat.size(); ++k) {
        EXPECT_TRUE(flat[k].equal(reference_all[k]));
      }
    }
  }
  torch_ext::nn::GRU gru(torch_ext::nn::GRUOptions(4, 16).num_layers(2).bidirectional(true));
  torch::nn::GRU reference(torch::nn::GRUOptions(4, 16).num_layers(2).bidirectional(true));
  torch::manual_seed(7);
  gru->reset_parameters();
  torch::manual_seed(7);
  reference->reset_parameters();
  expect_same_named_parameters(*gru, *reference);
  EXPECT_EQ(gru->named_parameters()["weight_ih_l1_reverse"].sizes(),
            (std::vector<int64_t>{48, 32}));
}

TEST(ApiGruOptions, OptionsAndPrettyPrint) {
  const auto options = torch_ext::nn::GRUOptions(3, 5)
                           .num_layers(2)
                           .bias(false)
                           .batch_first(true)
                           .dropout(0.25)
                           .bidirectional(true)
                           .reset_after(false);
  torch_ext::nn::GRU gru(options);
  EXPECT_EQ(gru->options.input_size(), 3);
  EXPECT_EQ(gru->options.hidden_size(), 5);
  EXPECT_EQ(gru->options.num_layers(), 2);
  EXPECT_FALSE(gru->options.bias());
  EXPECT_TRUE(gru->options.batch_first());
  EXPECT_EQ(gru->options.dropout(), 0.25);
  EXPECT_TRUE(gru->options.bidirectional());
  EXPECT_FALSE(gru->options.reset_after());
  EXPECT_TRUE(torch_ext::nn::GRUOptions(3, 5).reset_after());
  EXPECT_EQ(printed(*gru),
            "torch_ext::nn::GRU(input_size=3, hidden_size=5, num_layers=2, bias=false, "
            "batch_first=true, dropout=0.25, bidirectional=true, reset_after=false)");
  for (const ModuleCase& c : every_module_case()) {
    if (c.dtype == torch::kFloat && c.with_hx) {
      SCOPED_TRACE(c.describe());
      const torch::nn::GRU reference(module_options<torch::nn::GRUOptions>(c));
      EXPECT_EQ(printed(*torch_ext::nn::GRU(module_options<torch_ext::nn::GRUOptions>(c))),
                in_our_namespace(printed(*reference)));
    }
  }
}

TEST(ApiGruModule, CloneToDoubleAndAnyModule) {
  torch_ext::nn::GRU gru(torch_ext::nn::GRUOptions(kModuleInput, kModuleHidden).num_layers(2));
  const auto copy = std::dynamic_pointer_cast<torch_ext::nn::GRUImpl>(gru->clone());
  ASSERT_NE(copy, nullptr);
  const Tensor input = torch::randn({kModuleSteps, kModuleBatch, kModuleInput});
  EXPECT_TRUE(std::get<0>(copy->forward(input)).equal(std::get<0>(gru->forward(input))));
  {
    torch::NoGradGuard no_grad;
    copy->named_parameters()["weight_hh_l1"].zero_();
  }
  EXPECT_FALSE(std::get<0>(copy->forward(input)).equal(std::get<0>(gru->forward(input))));

  torch::nn::AnyModule any(gru);
  const auto result = any.forward<std::tuple<Tensor, Tensor>>(input);
  EXPECT_TRUE(std::get<1>(result).equal(std::get<1>(gru->forward(input))));

  gru->to(torch::kDouble);
  for (const Tensor& weight : gru->flat_weights()) {
    EXPECT_EQ(weight.scalar_type(), torch::kDouble);
  }
  EXPECT_EQ(std::get<1>(gru->forward(input.to(torch::kDouble))).scalar_type(), torch::kDouble);
}

TEST(ApiGruModule, SerializationMovesWeightsToAndFromTorchNn) {
  const auto reference_options =
      torch::nn::GRUOptions(kModuleInput, kModuleHidden).num_layers(2).bidirectional(true);
  const auto our_options =
      torch_ext::nn::GRUOptions(kModuleInput, kModuleHidden).num_layers(2).bidirectional(true);
  const Tensor input = torch::randn({kModuleSteps, kModuleBatch, kModuleInput});
  expect_serialization_both_ways(torch::nn::GRU(reference_options), torch_ext::nn::GRU(our_options),
                                 torch::nn::GRU(reference_options), torch_ext::nn::GRU(our_options),
                                 [&](auto& module) { return std::get<0>(module->forward(input)); });
}

// --- errors --------------------------------------------------------------------------------------

TEST(ApiGruErrors, ForwardArgumentsAsTorchNn) {
  ModuleCase c;
  c.num_layers = 2;
  auto [reference, ours] = make_gru_pair(c);
  const Tensor input = torch::randn({kModuleSteps, kModuleBatch, kModuleInput});
  const Tensor wide = torch::randn({kModuleSteps, kModuleBatch, kModuleInput + 1});
  expect_torch_nn_error([&] { reference->forward(wide); }, [&] { return ours->forward(wide); });
  // torch::nn prints the expected size as "2 3 5"; ours prints both sizes alike.
  const Tensor bad_h0 = torch::randn({1, kModuleBatch, kModuleHidden});
  EXPECT_EQ(error_message([&] { reference->forward(input, bad_h0); }),
            "Expected hidden size 2 3 5, got [1, 3, 5]");
  EXPECT_ERROR_WITH(ours->forward(input, bad_h0), "Expected hidden size [2, 3, 5], got [1, 3, 5]");
  const torch::nn::utils::rnn::PackedSequence bad_packed(torch::randn({4, 2, kModuleInput}),
                                                         torch::tensor({2, 2}, torch::kLong));
  expect_torch_nn_error([&] { reference->forward_with_packed_input(bad_packed); },
                        [&] { return ours->forward_with_packed_input(bad_packed); });
  EXPECT_ERROR_WITH(ours->forward(torch::randn({2, 2, 2, kModuleInput})),
                    "GRU: Expected input to be 2D or 3D, got 4D instead");
  EXPECT_ERROR_WITH(ours->forward(input, torch::zeros({2, kModuleHidden})),
                    "For batched 3-D input, hx should also be 3-D but got 2-D tensor");
  EXPECT_ERROR_WITH(ours->forward(input.to(torch::kDouble)),
                    "GRU: input dtype (Double) does not match weight dtype (Float)");
}

TEST(ApiGruErrors, OptionsAsTorchNn) {
  const std::vector<std::pair<torch::nn::GRUOptions, torch_ext::nn::GRUOptions>> bad{
      {torch::nn::GRUOptions(3, 0), torch_ext::nn::GRUOptions(3, 0)},
      {torch::nn::GRUOptions(3, 5).num_layers(0), torch_ext::nn::GRUOptions(3, 5).num_layers(0)},
      {torch::nn::GRUOptions(3, 5).dropout(1.5), torch_ext::nn::GRUOptions(3, 5).dropout(1.5)},
  };
  for (const auto& [reference_options, our_options] : bad) {
    expect_torch_nn_error([&] { torch::nn::GRU{reference_options}; },
                          [&] { return torch_ext::nn::GRU(our_options); });
  }
  EXPECT_ERROR_WITH(torch_ext::nn::GRU(torch_ext::nn::GRUOptions(0, 5)),
                    "input_size must be greater than zero");
}

}  // namespace
}  // namespace torch_ext::testing
