// Layer normalisation for LibTorch programs, mirroring torch::nn::LayerNorm
// (torch/nn/modules/normalization.h): the same options, parameters (weight, bias; ones and zeros),
// forward and pretty_print, so that weights move between the two by name. The forward and
// backward run torch_ext::layer_norm.
//
//   torch_ext::nn::LayerNorm norm(torch_ext::nn::LayerNormOptions({10}));
//   auto y = norm->forward(torch::randn({20, 5, 10}));
#pragma once

#include <torch_ext/nn/options/normalization.h>

#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>
#include <ostream>
#include <utility>
#include <vector>

namespace torch_ext::nn {

/// Layer normalisation over the trailing dimensions normalized_shape of the input:
///
///   y = (x − E[x]) / sqrt(Var[x] + eps) ⊙ weight + bias
///
/// with the mean and the biased variance taken per sample over those dimensions. forward takes
/// input [*, normalized_shape...] and returns a tensor of the same shape.
///
/// Example:
/// ```
/// LayerNorm model(LayerNormOptions({2, 2}).elementwise_affine(false).eps(2e-5));
/// ```
class LayerNormImpl : public torch::nn::Cloneable<LayerNormImpl> {
 public:
  LayerNormImpl(std::vector<int64_t> normalized_shape)
      : LayerNormImpl(LayerNormOptions(std::move(normalized_shape))) {}
  explicit LayerNormImpl(LayerNormOptions options_);

  /// Registers `weight` and `bias` (undefined without elementwise_affine, `bias` also without
  /// bias) and sets them; the constructor and clone() call it.
  void reset() override;

  /// Sets `weight` to ones and `bias` to zeros.
  void reset_parameters();

  /// "torch_ext::nn::LayerNorm([2, 2], eps=2e-05, elementwise_affine=false)", in torch::nn's
  /// format (", bias=false" added without bias).
  void pretty_print(std::ostream& stream) const override;

  torch::Tensor forward(const torch::Tensor& input);

  LayerNormOptions options;

  /// The learned gain, of shape normalized_shape (ones initially).
  torch::Tensor weight;
  /// The learned shift, of shape normalized_shape (zeros initially).
  torch::Tensor bias;
};

/// A ModuleHolder of LayerNormImpl, as torch::nn::LayerNorm.
TORCH_MODULE(LayerNorm);

}  // namespace torch_ext::nn
