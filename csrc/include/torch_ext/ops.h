// torch_ext's operators as C++ functions for LibTorch programs. Each calls the registered operator
// through the dispatcher, so autograd, the Meta kernels and every other dispatch key apply exactly
// as they do from Python (torch.ops.torch_ext.*). Signatures follow the operator schemas, which
// follow ATen's (torch::lstm, torch::lstm_cell).
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/ArrayRef.h>

#include <optional>
#include <tuple>

namespace torch_ext {

// output, h_n, c_n of a multi-layer LSTM over a padded sequence (aten::lstm.input).
std::tuple<at::Tensor, at::Tensor, at::Tensor> lstm(const at::Tensor& input, at::TensorList hx,
                                                    at::TensorList params, bool has_biases,
                                                    int64_t num_layers, double dropout,
                                                    bool train, bool bidirectional,
                                                    bool batch_first);

// The same over a PackedSequence's data and batch_sizes (aten::lstm.data).
std::tuple<at::Tensor, at::Tensor, at::Tensor> lstm(const at::Tensor& data,
                                                    const at::Tensor& batch_sizes,
                                                    at::TensorList hx, at::TensorList params,
                                                    bool has_biases, int64_t num_layers,
                                                    double dropout, bool train,
                                                    bool bidirectional);

// h', c' of one LSTM step (aten::lstm_cell).
std::tuple<at::Tensor, at::Tensor> lstm_cell(const at::Tensor& input, at::TensorList hx,
                                             const at::Tensor& w_ih, const at::Tensor& w_hh,
                                             const std::optional<at::Tensor>& b_ih = std::nullopt,
                                             const std::optional<at::Tensor>& b_hh = std::nullopt);

// One layer (both directions when bidirectional) over a whole sequence: the building block of
// lstm(). input [T, B, I] or packed [N, I] with batch_sizes; hx [D, B, R]; cx [D, B, H].
std::tuple<at::Tensor, at::Tensor, at::Tensor> lstm_layer(
    const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
    const at::Tensor& cx, at::TensorList params, bool has_biases, bool bidirectional);

}  // namespace torch_ext
