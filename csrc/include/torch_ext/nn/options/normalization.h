// Options of torch_ext::nn::LayerNorm: those of torch::nn::LayerNormOptions (the same fields and
// defaults), plus `bias` as torch.nn.LayerNorm (Python) has it.
//
//   torch_ext::nn::LayerNorm norm(torch_ext::nn::LayerNormOptions({2, 2}).eps(2e-5));
#pragma once

#include <torch/arg.h>

#include <cstdint>
#include <utility>
#include <vector>

namespace torch_ext::nn {

/// Options of torch_ext::nn::LayerNorm, as torch::nn::LayerNormOptions.
///
/// Example:
/// ```
/// LayerNorm model(LayerNormOptions({2, 2}).elementwise_affine(false).eps(2e-5));
/// ```
struct LayerNormOptions {
  /* implicit */ LayerNormOptions(std::vector<int64_t> normalized_shape)
      : normalized_shape_(std::move(normalized_shape)) {}

  /// The trailing shape normalised over: each sample's mean and variance are taken over the
  /// input's last normalized_shape.size() dimensions, which must have these sizes.
  TORCH_ARG(std::vector<int64_t>, normalized_shape);
  /// Added to the variance for numerical stability. Default: 1e-5
  TORCH_ARG(double, eps) = 1e-5;
  /// If true, learnable `weight` (ones) and `bias` (zeros) of shape normalized_shape scale and
  /// shift the result. Default: true
  TORCH_ARG(bool, elementwise_affine) = true;
  /// With elementwise_affine, whether there is a `bias` (torch.nn.LayerNorm's `bias`; torch::nn's
  /// C++ options lack it). Default: true
  TORCH_ARG(bool, bias) = true;
};

}  // namespace torch_ext::nn
