// torch.autocast("cpu") for the recurrent layer ops: their floating tensors run in the autocast
// dtype (bfloat16), as ATen's own CPU RNN layer (mkldnn_rnn_layer) does. The public multi-layer
// ops and cells are composed of the layer ops, so they follow. layer_norm keeps its input's dtype.
#include "ops/gru.h"
#include "ops/layer_norm_gru.h"
#include "ops/layer_norm_lstm.h"
#include "ops/lstm.h"
#include "ops/rnn.h"

#include <ATen/autocast_mode.h>
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <torch/library.h>

namespace torch_ext::ops {
namespace {

// Casts for one call: each eligible floating tensor to the autocast dtype (cached for weights
// within the autocast region, as ATen does).
struct AutocastCasts {
  at::ScalarType dtype = at::autocast::get_autocast_dtype(at::kCPU);

  at::Tensor operator()(const at::Tensor& tensor) const {
    return at::autocast::cached_cast(dtype, tensor, c10::DeviceType::CPU);
  }
  std::vector<at::Tensor> operator()(at::TensorList tensors) const {
    return at::autocast::cached_cast(dtype, tensors, c10::DeviceType::CPU);
  }
};

using NoAutocast = c10::impl::ExcludeDispatchKeyGuard;

std::tuple<at::Tensor, at::Tensor, at::Tensor> lstm_layer_autocast(
    const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
    const at::Tensor& cx, at::TensorList params, bool has_biases, bool bidirectional) {
  const NoAutocast guard(c10::DispatchKey::AutocastCPU);
  const AutocastCasts cast;
  return call_lstm_layer(cast(input), batch_sizes, cast(hx), cast(cx), cast(params), has_biases,
                         bidirectional);
}

std::tuple<at::Tensor, at::Tensor> gru_layer_autocast(const at::Tensor& input,
                                                      const std::optional<at::Tensor>& batch_sizes,
                                                      const at::Tensor& hx, at::TensorList params,
                                                      bool has_biases, bool bidirectional,
                                                      bool reset_after) {
  const NoAutocast guard(c10::DispatchKey::AutocastCPU);
  const AutocastCasts cast;
  return call_gru_layer(cast(input), batch_sizes, cast(hx), cast(params), has_biases,
                        bidirectional, reset_after);
}

std::tuple<at::Tensor, at::Tensor> rnn_layer_autocast(const at::Tensor& input,
                                                      const std::optional<at::Tensor>& batch_sizes,
                                                      const at::Tensor& hx, at::TensorList params,
                                                      bool has_biases, bool bidirectional,
                                                      std::string_view nonlinearity) {
  const NoAutocast guard(c10::DispatchKey::AutocastCPU);
  const AutocastCasts cast;
  return call_rnn_layer(cast(input), batch_sizes, cast(hx), cast(params), has_biases,
                        bidirectional, nonlinearity);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> layer_norm_lstm_layer_autocast(
    const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
    const at::Tensor& cx, at::TensorList params, bool has_biases, bool bidirectional, double eps) {
  const NoAutocast guard(c10::DispatchKey::AutocastCPU);
  const AutocastCasts cast;
  return call_layer_norm_lstm_layer(cast(input), batch_sizes, cast(hx), cast(cx), cast(params),
                                    has_biases, bidirectional, eps);
}

std::tuple<at::Tensor, at::Tensor> layer_norm_gru_layer_autocast(
    const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
    at::TensorList params, bool has_biases, bool bidirectional, double eps) {
  const NoAutocast guard(c10::DispatchKey::AutocastCPU);
  const AutocastCasts cast;
  return call_layer_norm_gru_layer(cast(input), batch_sizes, cast(hx), cast(params), has_biases,
                                   bidirectional, eps);
}

}  // namespace

TORCH_LIBRARY_IMPL(torch_ext, AutocastCPU, m) {
  m.impl("lstm_layer", &lstm_layer_autocast);
  m.impl("gru_layer", &gru_layer_autocast);
  m.impl("rnn_layer", &rnn_layer_autocast);
  m.impl("layer_norm_lstm_layer", &layer_norm_lstm_layer_autocast);
  m.impl("layer_norm_gru_layer", &layer_norm_gru_layer_autocast);
}

}  // namespace torch_ext::ops
