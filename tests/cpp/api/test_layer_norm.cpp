// torch_ext::nn::LayerNorm (csrc/api/nn/normalization.cpp) against torch::nn::LayerNorm with the
// same weights: outputs and every gradient over one and two normalised dimensions, with and
// without the affine parameters, float32 and float64; parameters and initial values, options,
// pretty_print, clone, AnyModule, serialisation both ways; the bias(false) extension against
// at::layer_norm; errors.
#include "api/recurrent_module_testing.h"

#include <torch_ext/torch_ext.h>

#include <ATen/ATen.h>
#include <torch/torch.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace torch_ext::testing {
namespace {

using torch::Tensor;

struct NormRun {
  Tensor output, grad_input;
  std::map<std::string, Tensor> grad_params;
};

template <typename Norm>
NormRun run_norm(Norm& norm, const Tensor& input) {
  norm->zero_grad();
  const Tensor x = leaf_copy(input);
  const Tensor output = norm->forward(x);
  (output * probe_like(output, 0.3)).sum().backward();
  return {output.detach(), x.grad(), parameter_gradients(*norm)};
}

// Gains and shifts away from ones and zeros, so that a mix-up shows.
void randomize_parameters(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (auto& parameter : module.named_parameters()) {
    parameter.value().copy_(torch::randn_like(parameter.value()) * 0.5 +
                            (parameter.key() == "weight" ? 1.0 : 0.0));
  }
}

TEST(ApiLayerNormParity, EveryOptionAsTorchNn) {
  torch::manual_seed(0);
  for (const torch::Dtype dtype : {torch::kFloat, torch::kDouble}) {
    for (const std::vector<int64_t>& shape :
         {std::vector<int64_t>{6}, std::vector<int64_t>{2, 3}}) {
      for (const bool affine : {true, false}) {
        for (const double eps : {1e-5, 0.1}) {
          SCOPED_TRACE(dtype_name(dtype) + " shape=" + c10::str(c10::IntArrayRef(shape)) +
                       " affine=" + std::to_string(affine) + " eps=" + std::to_string(eps));
          torch::nn::LayerNorm reference(
              torch::nn::LayerNormOptions(shape).elementwise_affine(affine).eps(eps));
          torch_ext::nn::LayerNorm ours(
              torch_ext::nn::LayerNormOptions(shape).elementwise_affine(affine).eps(eps));
          reference->to(dtype);
          ours->to(dtype);
          randomize_parameters(*reference);
          copy_parameters(*reference, *ours);
          std::vector<int64_t> input_shape{4, 5};
          input_shape.insert(input_shape.end(), shape.begin(), shape.end());
          const Tensor input = torch::randn(input_shape, dtype) * 2 + 1;
          const NormRun actual = run_norm(ours, input);
          const NormRun expected = run_norm(reference, input);
          EXPECT_TENSORS_CLOSE(actual.output, expected.output);
          EXPECT_TENSORS_CLOSE(actual.grad_input, expected.grad_input);
          expect_parameter_gradients_close(actual.grad_params, expected.grad_params);
          // A non-contiguous input gives the same result.
          EXPECT_TENSORS_CLOSE(ours->forward(input.transpose(0, 1)),
                               reference->forward(input.transpose(0, 1)));
        }
      }
    }
  }
}

// Beyond torch::nn's C++ options: bias(false) (torch.nn.LayerNorm's `bias`), a gain alone.
TEST(ApiLayerNormParity, WithoutBiasAsAtenLayerNorm) {
  torch::manual_seed(1);
  torch_ext::nn::LayerNorm norm(torch_ext::nn::LayerNormOptions({6}).bias(false));
  EXPECT_EQ(parameter_names(*norm), (std::vector<std::string>{"weight"}));
  EXPECT_FALSE(norm->bias.defined());
  randomize_parameters(*norm);
  const Tensor input = torch::randn({3, 6});
  EXPECT_TENSORS_CLOSE(norm->forward(input), at::layer_norm(input, {6}, norm->weight));
  EXPECT_EQ(printed(*norm),
            "torch_ext::nn::LayerNorm([6], eps=1e-05, elementwise_affine=true, bias=false)");
}

TEST(ApiLayerNormParameters, NamesAndInitialValuesAsTorchNn) {
  for (const bool affine : {true, false}) {
    torch::nn::LayerNorm reference(torch::nn::LayerNormOptions({2, 3}).elementwise_affine(affine));
    torch_ext::nn::LayerNorm ours(
        torch_ext::nn::LayerNormOptions({2, 3}).elementwise_affine(affine));
    expect_same_named_parameters(*ours, *reference);
    EXPECT_EQ(ours->weight.defined(), affine);
    EXPECT_EQ(ours->bias.defined(), affine);
    if (affine) {
      EXPECT_TRUE(ours->weight.equal(torch::ones({2, 3})));
      EXPECT_TRUE(ours->bias.equal(torch::zeros({2, 3})));
      randomize_parameters(*ours);
      ours->reset_parameters();
      EXPECT_TRUE(ours->weight.equal(torch::ones({2, 3})));
      EXPECT_TRUE(ours->bias.equal(torch::zeros({2, 3})));
    }
  }
}

TEST(ApiLayerNormOptions, OptionsAndPrettyPrint) {
  torch_ext::nn::LayerNorm norm(
      torch_ext::nn::LayerNormOptions({2, 2}).elementwise_affine(false).eps(2e-5));
  EXPECT_EQ(norm->options.normalized_shape(), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(norm->options.eps(), 2e-5);
  EXPECT_FALSE(norm->options.elementwise_affine());
  EXPECT_TRUE(torch_ext::nn::LayerNormOptions({2}).bias());
  EXPECT_EQ(printed(*norm),
            "torch_ext::nn::LayerNorm([2, 2], eps=2e-05, elementwise_affine=false)");
  for (const bool affine : {true, false}) {
    EXPECT_EQ(printed(*torch_ext::nn::LayerNorm(
                  torch_ext::nn::LayerNormOptions({7}).elementwise_affine(affine))),
              in_our_namespace(printed(*torch::nn::LayerNorm(
                  torch::nn::LayerNormOptions({7}).elementwise_affine(affine)))));
  }
  // The implicit conversion from a shape, as torch::nn's.
  EXPECT_EQ(printed(*torch_ext::nn::LayerNorm(std::vector<int64_t>{4})),
            "torch_ext::nn::LayerNorm([4], eps=1e-05, elementwise_affine=true)");
}

TEST(ApiLayerNormModule, CloneAnyModuleAndSerialization) {
  torch_ext::nn::LayerNorm norm(torch_ext::nn::LayerNormOptions({5}));
  randomize_parameters(*norm);
  const auto copy = std::dynamic_pointer_cast<torch_ext::nn::LayerNormImpl>(norm->clone());
  ASSERT_NE(copy, nullptr);
  EXPECT_FALSE(copy->weight.is_same(norm->weight));
  const Tensor input = torch::randn({3, 5});
  torch::nn::AnyModule any(norm);
  EXPECT_TRUE(any.forward(input).equal(copy->forward(input)));
  torch::nn::Sequential sequential(torch::nn::Linear(4, 5), norm);
  EXPECT_EQ(sequential->forward(torch::randn({2, 4})).sizes(), (std::vector<int64_t>{2, 5}));

  torch::nn::LayerNorm reference(torch::nn::LayerNormOptions({5}));
  randomize_parameters(*reference);
  expect_serialization_both_ways(reference, norm,
                                 torch::nn::LayerNorm(torch::nn::LayerNormOptions({5})),
                                 torch_ext::nn::LayerNorm(torch_ext::nn::LayerNormOptions({5})),
                                 [&](auto& module) { return module->forward(input); });
}

TEST(ApiLayerNormErrors, MessagesAsTorchNn) {
  torch::nn::LayerNorm reference(torch::nn::LayerNormOptions({2, 3}));
  torch_ext::nn::LayerNorm ours(torch_ext::nn::LayerNormOptions({2, 3}));
  for (const Tensor& bad : {torch::randn({4, 3, 2}), torch::randn({3})}) {
    expect_torch_nn_error([&] { reference->forward(bad); }, [&] { return ours->forward(bad); });
  }
  EXPECT_ERROR_WITH(ours->forward(torch::randn({4, 3, 2})), "normalized_shape", "[2, 3]");
  EXPECT_ERROR_WITH(ours->forward(torch::randn({4, 2, 3}, torch::kDouble)), "Double", "Float");
}

}  // namespace
}  // namespace torch_ext::testing
