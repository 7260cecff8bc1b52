// torch_ext's operators as C++ functions for LibTorch programs. Each calls the registered operator
// through the dispatcher, so autograd, the Meta kernels and every other dispatch key apply exactly
// as they do from Python (torch.ops.torch_ext.*). Signatures follow the operator schemas, which
// follow ATen's (torch::lstm, torch::lstm_cell).
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/ArrayRef.h>

#include <array>
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

// --- layer normalisation -------------------------------------------------------------------------
// layer_norm is torch::layer_norm (aten::layer_norm without cudnn_enable): the input normalised
// over its last normalized_shape.size() dimensions, then scaled by weight and shifted by bias.

at::Tensor layer_norm(const at::Tensor& input, at::IntArrayRef normalized_shape,
                      const std::optional<at::Tensor>& weight = std::nullopt,
                      const std::optional<at::Tensor>& bias = std::nullopt, double eps = 1e-5);

// layer_norm's halves: the forward also returns the per-row mean and rstd; the backward returns
// grad_input, grad_weight and grad_bias (each [0] where its output_mask entry is false).
std::tuple<at::Tensor, at::Tensor, at::Tensor> _layer_norm_forward(
    const at::Tensor& input, at::IntArrayRef normalized_shape,
    const std::optional<at::Tensor>& weight, const std::optional<at::Tensor>& bias, double eps);

std::tuple<at::Tensor, at::Tensor, at::Tensor> _layer_norm_backward(
    const at::Tensor& grad_output, const at::Tensor& input, at::IntArrayRef normalized_shape,
    const at::Tensor& mean, const at::Tensor& rstd, const std::optional<at::Tensor>& weight,
    const std::optional<at::Tensor>& bias, std::array<bool, 3> output_mask);

// --- layer-normalised LSTM and GRU (Ba, Kiros and Hinton, 2016) ----------------------------------
// The signatures of lstm / gru (and their cells) plus eps. Each (layer, direction) of params is
// weight_ih, weight_hh, (bias_ih, bias_hh,) ln_ih_weight, ln_ih_bias, ln_hh_weight, ln_hh_bias
// [G·H] and, for the LSTM, ln_cell_weight, ln_cell_bias [H]; the cells take one direction's.

// output, h_n, c_n over a padded sequence; hx = {h_0 [L·D, B, H], c_0 [L·D, B, H]}.
std::tuple<at::Tensor, at::Tensor, at::Tensor> layer_norm_lstm(
    const at::Tensor& input, at::TensorList hx, at::TensorList params, bool has_biases,
    int64_t num_layers, double dropout, bool train, bool bidirectional, bool batch_first,
    double eps = 1e-5);
// The same over a PackedSequence's data and batch_sizes.
std::tuple<at::Tensor, at::Tensor, at::Tensor> layer_norm_lstm(
    const at::Tensor& data, const at::Tensor& batch_sizes, at::TensorList hx,
    at::TensorList params, bool has_biases, int64_t num_layers, double dropout, bool train,
    bool bidirectional, double eps = 1e-5);
// h', c' of one step: input [B, I], hx = {h [B, H], c [B, H]}.
std::tuple<at::Tensor, at::Tensor> layer_norm_lstm_cell(const at::Tensor& input,
                                                        at::TensorList hx, at::TensorList params,
                                                        bool has_biases = true,
                                                        double eps = 1e-5);
// One layer (both directions when bidirectional): output, h_n, c_n.
std::tuple<at::Tensor, at::Tensor, at::Tensor> layer_norm_lstm_layer(
    const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
    const at::Tensor& cx, at::TensorList params, bool has_biases, bool bidirectional, double eps);
// Its halves: the forward also returns gates [D, 2, N, 4H] (ĝi, ĝh), cells [D, 2, N, H] (c, ĉ)
// and rstd [D, N, 3]; the backward returns grad_input (empty unless need_grad_input), grad_hx,
// grad_cx and the gradients of params.
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor>
_layer_norm_lstm_layer_forward(const at::Tensor& input,
                               const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
                               const at::Tensor& cx, at::TensorList params, bool has_biases,
                               bool bidirectional, double eps);
std::tuple<at::Tensor, at::Tensor, at::Tensor, std::vector<at::Tensor>>
_layer_norm_lstm_layer_backward(
    const std::optional<at::Tensor>& grad_output, const std::optional<at::Tensor>& grad_hy,
    const std::optional<at::Tensor>& grad_cy, const at::Tensor& input,
    const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx, const at::Tensor& cx,
    at::TensorList params, bool has_biases, bool bidirectional, const at::Tensor& output,
    const at::Tensor& gates, const at::Tensor& cells, const at::Tensor& rstd,
    bool need_grad_input);

// output, h_n over a padded sequence; hx [L·D, B, H]. PyTorch's GRU form (reset after W_hn).
std::tuple<at::Tensor, at::Tensor> layer_norm_gru(const at::Tensor& input, const at::Tensor& hx,
                                                  at::TensorList params, bool has_biases,
                                                  int64_t num_layers, double dropout, bool train,
                                                  bool bidirectional, bool batch_first,
                                                  double eps = 1e-5);
// The same over a PackedSequence's data and batch_sizes.
std::tuple<at::Tensor, at::Tensor> layer_norm_gru(const at::Tensor& data,
                                                  const at::Tensor& batch_sizes,
                                                  const at::Tensor& hx, at::TensorList params,
                                                  bool has_biases, int64_t num_layers,
                                                  double dropout, bool train, bool bidirectional,
                                                  double eps = 1e-5);
// h' of one step: input [B, I], hx [B, H].
at::Tensor layer_norm_gru_cell(const at::Tensor& input, const at::Tensor& hx,
                               at::TensorList params, bool has_biases = true, double eps = 1e-5);
// One layer (both directions when bidirectional): output, h_n.
std::tuple<at::Tensor, at::Tensor> layer_norm_gru_layer(
    const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
    at::TensorList params, bool has_biases, bool bidirectional, double eps);
// Its halves: the forward also returns gates [D, 2, N, 3H] (ĝi, ĝh) and rstd [D, N, 2]; the
// backward returns grad_input (empty unless need_grad_input), grad_hx and the gradients of params.
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> _layer_norm_gru_layer_forward(
    const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
    at::TensorList params, bool has_biases, bool bidirectional, double eps);
std::tuple<at::Tensor, at::Tensor, std::vector<at::Tensor>> _layer_norm_gru_layer_backward(
    const std::optional<at::Tensor>& grad_output, const std::optional<at::Tensor>& grad_hy,
    const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
    at::TensorList params, bool has_biases, bool bidirectional, const at::Tensor& output,
    const at::Tensor& gates, const at::Tensor& rstd, bool need_grad_input);

}  // namespace torch_ext
