// The C++ functions of include/torch_ext/ops.h: typed calls into the dispatcher.
#include "torch_ext/ops.h"

#include <ATen/core/dispatch/Dispatcher.h>

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

}  // namespace torch_ext
