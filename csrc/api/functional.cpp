// The C++ functions of include/torch_ext/ops.h: typed calls into the dispatcher.
#include "torch_ext/ops.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <c10/core/SymIntArrayRef.h>

namespace torch_ext {
namespace {

template <typename Signature>
c10::TypedOperatorHandle<Signature> find_op(const char* name, const char* overload) {
  return c10::Dispatcher::singleton().findSchemaOrThrow(name, overload).typed<Signature>();
}

using LstmResult = std::tuple<at::Tensor, at::Tensor, at::Tensor>;

}  // namespace

LstmResult lstm(const at::Tensor& input, at::TensorList hx, at::TensorList params,
                bool has_biases, int64_t num_layers, double dropout, bool train,
                bool bidirectional, bool batch_first) {
  static const auto op =
      find_op<LstmResult(const at::Tensor&, at::TensorList, at::TensorList, bool, int64_t, double,
                         bool, bool, bool)>("torch_ext::lstm", "input");
  return op.call(input, hx, params, has_biases, num_layers, dropout, train, bidirectional,
                 batch_first);
}

LstmResult lstm(const at::Tensor& data, const at::Tensor& batch_sizes, at::TensorList hx,
                at::TensorList params, bool has_biases, int64_t num_layers, double dropout,
                bool train, bool bidirectional) {
  static const auto op =
      find_op<LstmResult(const at::Tensor&, const at::Tensor&, at::TensorList, at::TensorList,
                         bool, int64_t, double, bool, bool)>("torch_ext::lstm", "data");
  return op.call(data, batch_sizes, hx, params, has_biases, num_layers, dropout, train,
                 bidirectional);
}

std::tuple<at::Tensor, at::Tensor> lstm_cell(const at::Tensor& input, at::TensorList hx,
                                             const at::Tensor& w_ih, const at::Tensor& w_hh,
                                             const std::optional<at::Tensor>& b_ih,
                                             const std::optional<at::Tensor>& b_hh) {
  static const auto op = find_op<std::tuple<at::Tensor, at::Tensor>(
      const at::Tensor&, at::TensorList, const at::Tensor&, const at::Tensor&,
      const std::optional<at::Tensor>&, const std::optional<at::Tensor>&)>("torch_ext::lstm_cell",
                                                                          "");
  return op.call(input, hx, w_ih, w_hh, b_ih, b_hh);
}

LstmResult lstm_layer(const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes,
                      const at::Tensor& hx, const at::Tensor& cx, at::TensorList params,
                      bool has_biases, bool bidirectional) {
  static const auto op =
      find_op<LstmResult(const at::Tensor&, const std::optional<at::Tensor>&, const at::Tensor&,
                         const at::Tensor&, at::TensorList, bool, bool)>("torch_ext::lstm_layer",
                                                                         "");
  return op.call(input, batch_sizes, hx, cx, params, has_biases, bidirectional);
}

// The layer op's halves and _cpu_capability are not overloaded: their own types name their
// operators' signatures.
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> _lstm_layer_forward(
    const at::Tensor& input, const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx,
    const at::Tensor& cx, at::TensorList params, bool has_biases, bool bidirectional) {
  static const auto op =
      find_op<decltype(_lstm_layer_forward)>("torch_ext::_lstm_layer_forward", "");
  return op.call(input, batch_sizes, hx, cx, params, has_biases, bidirectional);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, std::vector<at::Tensor>> _lstm_layer_backward(
    const std::optional<at::Tensor>& grad_output, const std::optional<at::Tensor>& grad_hy,
    const std::optional<at::Tensor>& grad_cy, const at::Tensor& input,
    const std::optional<at::Tensor>& batch_sizes, const at::Tensor& hx, const at::Tensor& cx,
    at::TensorList params, bool has_biases, bool bidirectional, const at::Tensor& output,
    const at::Tensor& gates, const at::Tensor& cells, bool need_grad_input) {
  static const auto op =
      find_op<decltype(_lstm_layer_backward)>("torch_ext::_lstm_layer_backward", "");
  return op.call(grad_output, grad_hy, grad_cy, input, batch_sizes, hx, cx, params, has_biases,
                 bidirectional, output, gates, cells, need_grad_input);
}

std::string _cpu_capability() {
  static const auto op = find_op<decltype(_cpu_capability)>("torch_ext::_cpu_capability", "");
  return op.call();
}

// --- GRU (both forms) and vanilla RNN ------------------------------------------------------------

namespace {

using StateResult = std::tuple<at::Tensor, at::Tensor>;  // output, h_n
using Optional = const std::optional<at::Tensor>&;
using SequenceSignature = StateResult(const at::Tensor&, const at::Tensor&, at::TensorList, bool,
                                      int64_t, double, bool, bool, bool);
using PackedSignature = StateResult(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                    at::TensorList, bool, int64_t, double, bool, bool);
using CellSignature = at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                 const at::Tensor&, Optional, Optional);

}  // namespace

// name(input, ...) for .input, name(data, batch_sizes, ...) for .data and name_cell: the three
// public ops of a one-state recurrence, whose signatures differ only by name.
#define TORCH_EXT_DEFINE_STATE_OPS(name)                                                         \
  StateResult name(const at::Tensor& input, const at::Tensor& hx, at::TensorList params,         \
                   bool has_biases, int64_t num_layers, double dropout, bool train,              \
                   bool bidirectional, bool batch_first) {                                       \
    static const auto op = find_op<SequenceSignature>("torch_ext::" #name, "input");            \
    return op.call(input, hx, params, has_biases, num_layers, dropout, train, bidirectional,     \
                   batch_first);                                                                 \
  }                                                                                              \
  StateResult name(const at::Tensor& data, const at::Tensor& batch_sizes, const at::Tensor& hx,  \
                   at::TensorList params, bool has_biases, int64_t num_layers, double dropout,   \
                   bool train, bool bidirectional) {                                             \
    static const auto op = find_op<PackedSignature>("torch_ext::" #name, "data");               \
    return op.call(data, batch_sizes, hx, params, has_biases, num_layers, dropout, train,        \
                   bidirectional);                                                               \
  }                                                                                              \
  at::Tensor name##_cell(const at::Tensor& input, const at::Tensor& hx, const at::Tensor& w_ih,  \
                         const at::Tensor& w_hh, Optional b_ih, Optional b_hh) {                 \
    static const auto op = find_op<CellSignature>("torch_ext::" #name "_cell", "");             \
    return op.call(input, hx, w_ih, w_hh, b_ih, b_hh);                                           \
  }

TORCH_EXT_DEFINE_STATE_OPS(gru)
TORCH_EXT_DEFINE_STATE_OPS(gru_reset_before)
TORCH_EXT_DEFINE_STATE_OPS(rnn_tanh)
TORCH_EXT_DEFINE_STATE_OPS(rnn_relu)
#undef TORCH_EXT_DEFINE_STATE_OPS

StateResult gru_layer(const at::Tensor& input, Optional batch_sizes, const at::Tensor& hx,
                      at::TensorList params, bool has_biases, bool bidirectional,
                      bool reset_after) {
  static const auto op =
      find_op<StateResult(const at::Tensor&, Optional, const at::Tensor&, at::TensorList, bool,
                          bool, bool)>("torch_ext::gru_layer", "");
  return op.call(input, batch_sizes, hx, params, has_biases, bidirectional, reset_after);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> _gru_layer_forward(
    const at::Tensor& input, Optional batch_sizes, const at::Tensor& hx, at::TensorList params,
    bool has_biases, bool bidirectional, bool reset_after) {
  static const auto op =
      find_op<std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor>(
          const at::Tensor&, Optional, const at::Tensor&, at::TensorList, bool, bool, bool)>(
          "torch_ext::_gru_layer_forward", "");
  return op.call(input, batch_sizes, hx, params, has_biases, bidirectional, reset_after);
}

std::tuple<at::Tensor, at::Tensor, std::vector<at::Tensor>> _gru_layer_backward(
    Optional grad_output, Optional grad_hy, const at::Tensor& input, Optional batch_sizes,
    const at::Tensor& hx, at::TensorList params, bool has_biases, bool bidirectional,
    bool reset_after, const at::Tensor& output, const at::Tensor& gates,
    const at::Tensor& hidden_n, bool need_grad_input) {
  static const auto op =
      find_op<std::tuple<at::Tensor, at::Tensor, std::vector<at::Tensor>>(
          Optional, Optional, const at::Tensor&, Optional, const at::Tensor&, at::TensorList, bool,
          bool, bool, const at::Tensor&, const at::Tensor&, const at::Tensor&, bool)>(
          "torch_ext::_gru_layer_backward", "");
  return op.call(grad_output, grad_hy, input, batch_sizes, hx, params, has_biases, bidirectional,
                 reset_after, output, gates, hidden_n, need_grad_input);
}

StateResult rnn_layer(const at::Tensor& input, Optional batch_sizes, const at::Tensor& hx,
                      at::TensorList params, bool has_biases, bool bidirectional,
                      std::string_view nonlinearity) {
  static const auto op =
      find_op<StateResult(const at::Tensor&, Optional, const at::Tensor&, at::TensorList, bool,
                          bool, std::string_view)>("torch_ext::rnn_layer", "");
  return op.call(input, batch_sizes, hx, params, has_biases, bidirectional, nonlinearity);
}

std::tuple<at::Tensor, at::Tensor, std::vector<at::Tensor>> _rnn_layer_backward(
    Optional grad_output, Optional grad_hy, const at::Tensor& input, Optional batch_sizes,
    const at::Tensor& hx, at::TensorList params, bool has_biases, bool bidirectional,
    std::string_view nonlinearity, const at::Tensor& output, bool need_grad_input) {
  static const auto op =
      find_op<std::tuple<at::Tensor, at::Tensor, std::vector<at::Tensor>>(
          Optional, Optional, const at::Tensor&, Optional, const at::Tensor&, at::TensorList, bool,
          bool, std::string_view, const at::Tensor&, bool)>("torch_ext::_rnn_layer_backward", "");
  return op.call(grad_output, grad_hy, input, batch_sizes, hx, params, has_biases, bidirectional,
                 nonlinearity, output, need_grad_input);
}

// --- layer normalisation -------------------------------------------------------------------------
// The schemas take SymInt[] normalized_shape; the functions take concrete sizes, as at::layer_norm.

at::Tensor layer_norm(const at::Tensor& input, at::IntArrayRef normalized_shape, Optional weight,
                      Optional bias, double eps) {
  static const auto op = find_op<at::Tensor(const at::Tensor&, c10::SymIntArrayRef, Optional,
                                            Optional, double)>("torch_ext::layer_norm", "");
  return op.call(input, c10::fromIntArrayRefSlow(normalized_shape), weight, bias, eps);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> _layer_norm_forward(
    const at::Tensor& input, at::IntArrayRef normalized_shape, Optional weight, Optional bias,
    double eps) {
  static const auto op =
      find_op<std::tuple<at::Tensor, at::Tensor, at::Tensor>(
          const at::Tensor&, c10::SymIntArrayRef, Optional, Optional, double)>(
          "torch_ext::_layer_norm_forward", "");
  return op.call(input, c10::fromIntArrayRefSlow(normalized_shape), weight, bias, eps);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> _layer_norm_backward(
    const at::Tensor& grad_output, const at::Tensor& input, at::IntArrayRef normalized_shape,
    const at::Tensor& mean, const at::Tensor& rstd, Optional weight, Optional bias,
    std::array<bool, 3> output_mask) {
  static const auto op =
      find_op<std::tuple<at::Tensor, at::Tensor, at::Tensor>(
          const at::Tensor&, const at::Tensor&, c10::SymIntArrayRef, const at::Tensor&,
          const at::Tensor&, Optional, Optional, std::array<bool, 3>)>(
          "torch_ext::_layer_norm_backward", "");
  return op.call(grad_output, input, c10::fromIntArrayRefSlow(normalized_shape), mean, rstd,
                 weight, bias, output_mask);
}

// --- layer-normalised LSTM and GRU ---------------------------------------------------------------
// The functions that are not overloaded name their operators' signatures by their own types.

LstmResult layer_norm_lstm(const at::Tensor& input, at::TensorList hx, at::TensorList params,
                           bool has_biases, int64_t num_layers, double dropout, bool train,
                           bool bidirectional, bool batch_first, double eps) {
  static const auto op =
      find_op<LstmResult(const at::Tensor&, at::TensorList, at::TensorList, bool, int64_t, double,
                         bool, bool, bool, double)>("torch_ext::layer_norm_lstm", "input");
  return op.call(input, hx, params, has_biases, num_layers, dropout, train, bidirectional,
                 batch_first, eps);
}

LstmResult layer_norm_lstm(const at::Tensor& data, const at::Tensor& batch_sizes,
                           at::TensorList hx, at::TensorList params, bool has_biases,
                           int64_t num_layers, double dropout, bool train, bool bidirectional,
                           double eps) {
  static const auto op =
      find_op<LstmResult(const at::Tensor&, const at::Tensor&, at::TensorList, at::TensorList,
                         bool, int64_t, double, bool, bool, double)>("torch_ext::layer_norm_lstm",
                                                                     "data");
  return op.call(data, batch_sizes, hx, params, has_biases, num_layers, dropout, train,
                 bidirectional, eps);
}

std::tuple<at::Tensor, at::Tensor> layer_norm_lstm_cell(const at::Tensor& input,
                                                        at::TensorList hx, at::TensorList params,
                                                        bool has_biases, double eps) {
  static const auto op =
      find_op<decltype(layer_norm_lstm_cell)>("torch_ext::layer_norm_lstm_cell", "");
  return op.call(input, hx, params, has_biases, eps);
}

LstmResult layer_norm_lstm_layer(const at::Tensor& input, Optional batch_sizes,
                                 const at::Tensor& hx, const at::Tensor& cx,
                                 at::TensorList params, bool has_biases, bool bidirectional,
                                 double eps) {
  static const auto op =
      find_op<decltype(layer_norm_lstm_layer)>("torch_ext::layer_norm_lstm_layer", "");
  return op.call(input, batch_sizes, hx, cx, params, has_biases, bidirectional, eps);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor>
_layer_norm_lstm_layer_forward(const at::Tensor& input, Optional batch_sizes,
                               const at::Tensor& hx, const at::Tensor& cx,
                               at::TensorList params, bool has_biases, bool bidirectional,
                               double eps) {
  static const auto op = find_op<decltype(_layer_norm_lstm_layer_forward)>(
      "torch_ext::_layer_norm_lstm_layer_forward", "");
  return op.call(input, batch_sizes, hx, cx, params, has_biases, bidirectional, eps);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, std::vector<at::Tensor>>
_layer_norm_lstm_layer_backward(Optional grad_output, Optional grad_hy, Optional grad_cy,
                                const at::Tensor& input, Optional batch_sizes,
                                const at::Tensor& hx, const at::Tensor& cx,
                                at::TensorList params, bool has_biases, bool bidirectional,
                                const at::Tensor& output, const at::Tensor& gates,
                                const at::Tensor& cells, const at::Tensor& rstd,
                                bool need_grad_input) {
  static const auto op = find_op<decltype(_layer_norm_lstm_layer_backward)>(
      "torch_ext::_layer_norm_lstm_layer_backward", "");
  return op.call(grad_output, grad_hy, grad_cy, input, batch_sizes, hx, cx, params, has_biases,
                 bidirectional, output, gates, cells, rstd, need_grad_input);
}

StateResult layer_norm_gru(const at::Tensor& input, const at::Tensor& hx, at::TensorList params,
                           bool has_biases, int64_t num_layers, double dropout, bool train,
                           bool bidirectional, bool batch_first, double eps) {
  static const auto op =
      find_op<StateResult(const at::Tensor&, const at::Tensor&, at::TensorList, bool, int64_t,
                          double, bool, bool, bool, double)>("torch_ext::layer_norm_gru", "input");
  return op.call(input, hx, params, has_biases, num_layers, dropout, train, bidirectional,
                 batch_first, eps);
}

StateResult layer_norm_gru(const at::Tensor& data, const at::Tensor& batch_sizes,
                           const at::Tensor& hx, at::TensorList params, bool has_biases,
                           int64_t num_layers, double dropout, bool train, bool bidirectional,
                           double eps) {
  static const auto op =
      find_op<StateResult(const at::Tensor&, const at::Tensor&, const at::Tensor&, at::TensorList,
                          bool, int64_t, double, bool, bool, double)>("torch_ext::layer_norm_gru",
                                                                      "data");
  return op.call(data, batch_sizes, hx, params, has_biases, num_layers, dropout, train,
                 bidirectional, eps);
}

at::Tensor layer_norm_gru_cell(const at::Tensor& input, const at::Tensor& hx,
                               at::TensorList params, bool has_biases, double eps) {
  static const auto op =
      find_op<decltype(layer_norm_gru_cell)>("torch_ext::layer_norm_gru_cell", "");
  return op.call(input, hx, params, has_biases, eps);
}

StateResult layer_norm_gru_layer(const at::Tensor& input, Optional batch_sizes,
                                 const at::Tensor& hx, at::TensorList params, bool has_biases,
                                 bool bidirectional, double eps) {
  static const auto op =
      find_op<decltype(layer_norm_gru_layer)>("torch_ext::layer_norm_gru_layer", "");
  return op.call(input, batch_sizes, hx, params, has_biases, bidirectional, eps);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> _layer_norm_gru_layer_forward(
    const at::Tensor& input, Optional batch_sizes, const at::Tensor& hx, at::TensorList params,
    bool has_biases, bool bidirectional, double eps) {
  static const auto op = find_op<decltype(_layer_norm_gru_layer_forward)>(
      "torch_ext::_layer_norm_gru_layer_forward", "");
  return op.call(input, batch_sizes, hx, params, has_biases, bidirectional, eps);
}

std::tuple<at::Tensor, at::Tensor, std::vector<at::Tensor>> _layer_norm_gru_layer_backward(
    Optional grad_output, Optional grad_hy, const at::Tensor& input, Optional batch_sizes,
    const at::Tensor& hx, at::TensorList params, bool has_biases, bool bidirectional,
    const at::Tensor& output, const at::Tensor& gates, const at::Tensor& rstd,
    bool need_grad_input) {
  static const auto op = find_op<decltype(_layer_norm_gru_layer_backward)>(
      "torch_ext::_layer_norm_gru_layer_backward", "");
  return op.call(grad_output, grad_hy, input, batch_sizes, hx, params, has_biases, bidirectional,
                 output, gates, rstd, need_grad_input);
}

}  // namespace torch_ext
