// torch_ext::nn::LayerNorm (include/torch_ext/nn/modules/normalization.h): torch::nn::LayerNorm's
// parameters and printing around torch_ext::layer_norm, which does the math.
#include "torch_ext/nn/modules/normalization.h"

#include "torch_ext/ops.h"

#include <c10/util/ArrayRef.h>
#include <torch/nn/init.h>

#include <optional>
#include <utility>

namespace torch_ext::nn {

LayerNormImpl::LayerNormImpl(LayerNormOptions options_) : options(std::move(options_)) {
  reset();
}

void LayerNormImpl::reset() {
  if (options.elementwise_affine()) {
    weight = register_parameter("weight", torch::empty(options.normalized_shape()));
    bias = options.bias()
               ? register_parameter("bias", torch::empty(options.normalized_shape()))
               : register_parameter("bias", torch::Tensor(), /*requires_grad=*/false);
  } else {
    // Registered undefined, as torch::nn does: named_parameters() leaves them out.
    weight = register_parameter("weight", torch::Tensor(), /*requires_grad=*/false);
    bias = register_parameter("bias", torch::Tensor(), /*requires_grad=*/false);
  }
  reset_parameters();
}

void LayerNormImpl::reset_parameters() {
  if (weight.defined()) {
    torch::nn::init::ones_(weight);
  }
  if (bias.defined()) {
    torch::nn::init::zeros_(bias);
  }
}

void LayerNormImpl::pretty_print(std::ostream& stream) const {
  stream << std::boolalpha << "torch_ext::nn::LayerNorm("
         << c10::IntArrayRef(options.normalized_shape()) << ", eps=" << options.eps()
         << ", elementwise_affine=" << options.elementwise_affine();
  if (options.elementwise_affine() && !options.bias()) {
    stream << ", bias=false";
  }
  stream << ")";
}

torch::Tensor LayerNormImpl::forward(const torch::Tensor& input) {
  const auto if_defined = [](const torch::Tensor& tensor) {
    return tensor.defined() ? std::optional<torch::Tensor>(tensor) : std::nullopt;
  };
  return torch_ext::layer_norm(input, options.normalized_shape(), if_defined(weight),
                               if_defined(bias), options.eps());
}

}  // namespace torch_ext::nn
