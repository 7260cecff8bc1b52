// torch_ext's operators as C++ functions for LibTorch programs. Each calls the registered operator
// through the dispatcher, so autograd, the Meta kernels and every other dispatch key apply exactly
// as they do from Python (torch.ops.torch_ext.*). Signatures follow the operator schemas, which
// follow ATen's (torch::lstm, torch::lstm_cell).
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/ArrayRef.h>

#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

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

// The two halves of lstm_layer, which its autograd kernel calls: the forward, which also returns
// what the backward needs (gates [D, N, 4H] and cells [D, N, H]), and the backward, which returns
// grad_input (empty unless need_grad_input), grad_hx, grad_cx and the gradients of params.
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> _lstm_layer_forward(
    const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
    const at::Tensor& cx, at::TensorList params, bool has_biases, bool bidirectional);

std::tuple<at::Tensor, at::Tensor, at::Tensor, std::vector<at::Tensor>> _lstm_layer_backward(
    const std::optional<at::Tensor>& grad_output, const std::optional<at::Tensor>& grad_hy,
    const std::optional<at::Tensor>& grad_cy, const at::Tensor& input,
    const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx, const at::Tensor& cx,
    at::TensorList params, bool has_biases, bool bidirectional, const at::Tensor& output,
    const at::Tensor& gates, const at::Tensor& cells, bool need_grad_input);

// Which compiled variant of the kernels this process runs: "DEFAULT", "AVX2" or "AVX512".
std::string _cpu_capability();

// --- GRU (gate order r, z, n) and vanilla RNN (tanh, relu): one state h --------------------------
// gru* is PyTorch's GRU (aten::gru, aten::gru_cell: the reset gate scales W_hn·h + b_hn);
// gru_reset_before* is the original GRU, whose reset gate scales h before W_hn (Keras'
// reset_after=False), with the same signatures and parameters as nn.GRU. rnn_tanh* / rnn_relu*
// are aten::rnn_tanh / aten::rnn_relu and their cells.

// output, h_n over a padded sequence (aten::gru.input); hx [L·D, B, H].
std::tuple<at::Tensor, at::Tensor> gru(const at::Tensor& input, const at::Tensor& hx,
                                       at::TensorList params, bool has_biases, int64_t num_layers,
                                       double dropout, bool train, bool bidirectional,
                                       bool batch_first);
// The same over a PackedSequence's data and batch_sizes (aten::gru.data).
std::tuple<at::Tensor, at::Tensor> gru(const at::Tensor& data, const at::Tensor& batch_sizes,
                                       const at::Tensor& hx, at::TensorList params,
                                       bool has_biases, int64_t num_layers, double dropout,
                                       bool train, bool bidirectional);
// h' of one step (aten::gru_cell).
at::Tensor gru_cell(const at::Tensor& input, const at::Tensor& hx, const at::Tensor& w_ih,
                    const at::Tensor& w_hh, const std::optional<at::Tensor>& b_ih = std::nullopt,
                    const std::optional<at::Tensor>& b_hh = std::nullopt);

std::tuple<at::Tensor, at::Tensor> gru_reset_before(const at::Tensor& input, const at::Tensor& hx,
                                                    at::TensorList params, bool has_biases,
                                                    int64_t num_layers, double dropout,
                                                    bool train, bool bidirectional,
                                                    bool batch_first);
std::tuple<at::Tensor, at::Tensor> gru_reset_before(const at::Tensor& data,
                                                    const at::Tensor& batch_sizes,
                                                    const at::Tensor& hx, at::TensorList params,
                                                    bool has_biases, int64_t num_layers,
                                                    double dropout, bool train,
                                                    bool bidirectional);
at::Tensor gru_reset_before_cell(const at::Tensor& input, const at::Tensor& hx,
                                 const at::Tensor& w_ih, const at::Tensor& w_hh,
                                 const std::optional<at::Tensor>& b_ih = std::nullopt,
                                 const std::optional<at::Tensor>& b_hh = std::nullopt);

// One GRU layer (both directions when bidirectional) over a whole sequence, in PyTorch's form
// (reset_after) or the original one: output, h_n. input [T, B, I] or packed [N, I] with
// batch_sizes; hx [D, B, H].
std::tuple<at::Tensor, at::Tensor> gru_layer(const at::Tensor& input,
                                             const std::optional<at::Tensor>& batch_sizes,
                                             const at::Tensor& hx, at::TensorList params,
                                             bool has_biases, bool bidirectional,
                                             bool reset_after);

// gru_layer's halves: the forward also returns the activated gates [D, N, 3H] (r, z, n) and, in
// the reset-after form, hidden_n [D, N, H] (W_hn·h + b_hn; else empty); the backward returns
// grad_input (empty unless need_grad_input), grad_hx and the gradients of params.
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> _gru_layer_forward(
    const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
    at::TensorList params, bool has_biases, bool bidirectional, bool reset_after);

std::tuple<at::Tensor, at::Tensor, std::vector<at::Tensor>> _gru_layer_backward(
    const std::optional<at::Tensor>& grad_output, const std::optional<at::Tensor>& grad_hy,
    const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
    at::TensorList params, bool has_biases, bool bidirectional, bool reset_after,
    const at::Tensor& output, const at::Tensor& gates, const at::Tensor& hidden_n,
    bool need_grad_input);

std::tuple<at::Tensor, at::Tensor> rnn_tanh(const at::Tensor& input, const at::Tensor& hx,
                                            at::TensorList params, bool has_biases,
                                            int64_t num_layers, double dropout, bool train,
                                            bool bidirectional, bool batch_first);
std::tuple<at::Tensor, at::Tensor> rnn_tanh(const at::Tensor& data, const at::Tensor& batch_sizes,
                                            const at::Tensor& hx, at::TensorList params,
                                            bool has_biases, int64_t num_layers, double dropout,
                                            bool train, bool bidirectional);
at::Tensor rnn_tanh_cell(const at::Tensor& input, const at::Tensor& hx, const at::Tensor& w_ih,
                         const at::Tensor& w_hh,
                         const std::optional<at::Tensor>& b_ih = std::nullopt,
                         const std::optional<at::Tensor>& b_hh = std::nullopt);

std::tuple<at::Tensor, at::Tensor> rnn_relu(const at::Tensor& input, const at::Tensor& hx,
                                            at::TensorList params, bool has_biases,
                                            int64_t num_layers, double dropout, bool train,
                                            bool bidirectional, bool batch_first);
std::tuple<at::Tensor, at::Tensor> rnn_relu(const at::Tensor& data, const at::Tensor& batch_sizes,
                                            const at::Tensor& hx, at::TensorList params,
                                            bool has_biases, int64_t num_layers, double dropout,
                                            bool train, bool bidirectional);
at::Tensor rnn_relu_cell(const at::Tensor& input, const at::Tensor& hx, const at::Tensor& w_ih,
                         const at::Tensor& w_hh,
                         const std::optional<at::Tensor>& b_ih = std::nullopt,
                         const std::optional<at::Tensor>& b_hh = std::nullopt);

// One vanilla RNN layer; nonlinearity is "tanh" or "relu". Its backward needs only the output.
std::tuple<at::Tensor, at::Tensor> rnn_layer(const at::Tensor& input,
                                             const std::optional<at::Tensor>& batch_sizes,
                                             const at::Tensor& hx, at::TensorList params,
                                             bool has_biases, bool bidirectional,
                                             std::string_view nonlinearity);

std::tuple<at::Tensor, at::Tensor, std::vector<at::Tensor>> _rnn_layer_backward(
    const std::optional<at::Tensor>& grad_output, const std::optional<at::Tensor>& grad_hy,
    const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
    at::TensorList params, bool has_biases, bool bidirectional, std::string_view nonlinearity,
    const at::Tensor& output, bool need_grad_input);

}  // namespace torch_ext
