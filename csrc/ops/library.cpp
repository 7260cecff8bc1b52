// The schemas of every torch_ext operator, in one place. Kernels are registered beside each op's
// code (ops/<cell>.cpp: CPU, Meta, CompositeImplicitAutograd; ops/<cell>_autograd.cpp: Autograd).
//
// The public ops keep ATen's signatures, so torch.ops.torch_ext.lstm can stand where torch.lstm
// stands. Underneath, one op per layer runs a whole sequence in one or both directions as ONE
// autograd node; its forward and backward halves are ops of their own (leading underscore), so
// that torch.compile and torch.export see the backward through the autograd kernel.
#include "kernels/dispatch.h"

#include <torch/library.h>

#include <string>

TORCH_LIBRARY(torch_ext, m) {
  const std::vector<at::Tag> tags{at::Tag::pt2_compliant_tag};

  // Which compiled variant of the kernels this process runs: DEFAULT, AVX2 or AVX512.
  m.def("_cpu_capability() -> str",
        [] { return std::string(torch_ext::kernels::to_string(torch_ext::kernels::cpu_capability())); });

  // --- LSTM ---------------------------------------------------------------------------------------
  m.def(
      "lstm.input(Tensor input, Tensor[] hx, Tensor[] params, bool has_biases, int num_layers, "
      "float dropout, bool train, bool bidirectional, bool batch_first) -> (Tensor, Tensor, Tensor)",
      tags);
  m.def(
      "lstm.data(Tensor data, Tensor batch_sizes, Tensor[] hx, Tensor[] params, bool has_biases, "
      "int num_layers, float dropout, bool train, bool bidirectional) -> (Tensor, Tensor, Tensor)",
      tags);
  m.def(
      "lstm_cell(Tensor input, Tensor[] hx, Tensor w_ih, Tensor w_hh, Tensor? b_ih=None, "
      "Tensor? b_hh=None) -> (Tensor, Tensor)",
      tags);
  // One layer, both directions when bidirectional. input: [T, B, I], or packed [N, I] with
  // batch_sizes; hx: [D, B, R]; cx: [D, B, H]; params: that layer's slice of the flat list.
  m.def(
      "lstm_layer(Tensor input, Tensor? batch_sizes, Tensor hx, Tensor cx, Tensor[] params, "
      "bool has_biases, bool bidirectional) -> (Tensor output, Tensor hy, Tensor cy)",
      tags);
  m.def(
      "_lstm_layer_forward(Tensor input, Tensor? batch_sizes, Tensor hx, Tensor cx, "
      "Tensor[] params, bool has_biases, bool bidirectional) -> (Tensor output, Tensor hy, "
      "Tensor cy, Tensor gates, Tensor cells)",
      tags);
  m.def(
      "_lstm_layer_backward(Tensor? grad_output, Tensor? grad_hy, Tensor? grad_cy, Tensor input, "
      "Tensor? batch_sizes, Tensor hx, Tensor cx, Tensor[] params, bool has_biases, "
      "bool bidirectional, Tensor output, Tensor gates, Tensor cells, bool need_grad_input) -> "
      "(Tensor grad_input, Tensor grad_hx, Tensor grad_cx, Tensor[] grad_params)",
      tags);

  // --- GRU (gate order r, z, n) ------------------------------------------------------------------
  // PyTorch's form (aten::gru, aten::gru_cell), and the original form whose reset gate scales the
  // state before its product (gru_reset_before*, Keras' reset_after=False): same signatures.
  for (const char* name : {"gru", "gru_reset_before"}) {
    const std::string op(name);
    m.def((op + ".input(Tensor input, Tensor hx, Tensor[] params, bool has_biases, int num_layers, "
               "float dropout, bool train, bool bidirectional, bool batch_first) -> (Tensor, Tensor)")
              .c_str(),
          tags);
    m.def((op + ".data(Tensor data, Tensor batch_sizes, Tensor hx, Tensor[] params, "
               "bool has_biases, int num_layers, float dropout, bool train, bool bidirectional) -> "
               "(Tensor, Tensor)")
              .c_str(),
          tags);
    m.def((op + "_cell(Tensor input, Tensor hx, Tensor w_ih, Tensor w_hh, Tensor? b_ih=None, "
               "Tensor? b_hh=None) -> Tensor")
              .c_str(),
          tags);
  }
  // One layer, both directions when bidirectional; reset_after selects the form.
  m.def(
      "gru_layer(Tensor input, Tensor? batch_sizes, Tensor hx, Tensor[] params, bool has_biases, "
      "bool bidirectional, bool reset_after) -> (Tensor output, Tensor hy)",
      tags);
  m.def(
      "_gru_layer_forward(Tensor input, Tensor? batch_sizes, Tensor hx, Tensor[] params, "
      "bool has_biases, bool bidirectional, bool reset_after) -> (Tensor output, Tensor hy, "
      "Tensor gates, Tensor hidden_n)",
      tags);
  m.def(
      "_gru_layer_backward(Tensor? grad_output, Tensor? grad_hy, Tensor input, Tensor? batch_sizes, "
      "Tensor hx, Tensor[] params, bool has_biases, bool bidirectional, bool reset_after, "
      "Tensor output, Tensor gates, Tensor hidden_n, bool need_grad_input) -> (Tensor grad_input, "
      "Tensor grad_hx, Tensor[] grad_params)",
      tags);

  // --- vanilla RNN (tanh, relu) ------------------------------------------------------------------
  for (const char* name : {"rnn_tanh", "rnn_relu"}) {
    const std::string op(name);
    m.def((op + ".input(Tensor input, Tensor hx, Tensor[] params, bool has_biases, int num_layers, "
               "float dropout, bool train, bool bidirectional, bool batch_first) -> (Tensor, Tensor)")
              .c_str(),
          tags);
    m.def((op + ".data(Tensor data, Tensor batch_sizes, Tensor hx, Tensor[] params, "
               "bool has_biases, int num_layers, float dropout, bool train, bool bidirectional) -> "
               "(Tensor, Tensor)")
              .c_str(),
          tags);
    m.def((op + "_cell(Tensor input, Tensor hx, Tensor w_ih, Tensor w_hh, Tensor? b_ih=None, "
               "Tensor? b_hh=None) -> Tensor")
              .c_str(),
          tags);
  }
  // One layer; nonlinearity is "tanh" or "relu". The backward needs only the output.
  m.def(
      "rnn_layer(Tensor input, Tensor? batch_sizes, Tensor hx, Tensor[] params, bool has_biases, "
      "bool bidirectional, str nonlinearity) -> (Tensor output, Tensor hy)",
      tags);
  m.def(
      "_rnn_layer_backward(Tensor? grad_output, Tensor? grad_hy, Tensor input, Tensor? batch_sizes, "
      "Tensor hx, Tensor[] params, bool has_biases, bool bidirectional, str nonlinearity, "
      "Tensor output, bool need_grad_input) -> (Tensor grad_input, Tensor grad_hx, "
      "Tensor[] grad_params)",
      tags);

  // --- layer normalisation -------------------------------------------------------------------------
  // torch.layer_norm's signature and results; the halves save and use the per-row mean and rstd.
  m.def(
      "layer_norm(Tensor input, SymInt[] normalized_shape, Tensor? weight=None, Tensor? bias=None, "
      "float eps=1e-05) -> Tensor",
      tags);
  m.def(
      "_layer_norm_forward(Tensor input, SymInt[] normalized_shape, Tensor? weight, Tensor? bias, "
      "float eps) -> (Tensor output, Tensor mean, Tensor rstd)",
      tags);
  m.def(
      "_layer_norm_backward(Tensor grad_output, Tensor input, SymInt[] normalized_shape, "
      "Tensor mean, Tensor rstd, Tensor? weight, Tensor? bias, bool[3] output_mask) -> "
      "(Tensor grad_input, Tensor grad_weight, Tensor grad_bias)",
      tags);

  // --- layer-normalised LSTM and GRU (Ba, Kiros and Hinton, 2016) -------------------------------------
  // The signatures of lstm/gru plus eps; each (layer, direction) of params continues with
  // ln_ih_weight, ln_ih_bias, ln_hh_weight, ln_hh_bias [G·H] (and for the LSTM ln_cell_weight,
  // ln_cell_bias [H]). The cells take one direction's params.
  m.def(
      "layer_norm_lstm.input(Tensor input, Tensor[] hx, Tensor[] params, bool has_biases, "
      "int num_layers, float dropout, bool train, bool bidirectional, bool batch_first, "
      "float eps=1e-05) -> (Tensor, Tensor, Tensor)",
      tags);
  m.def(
      "layer_norm_lstm.data(Tensor data, Tensor batch_sizes, Tensor[] hx, Tensor[] params, "
      "bool has_biases, int num_layers, float dropout, bool train, bool bidirectional, "
      "float eps=1e-05) -> (Tensor, Tensor, Tensor)",
      tags);
  m.def(
      "layer_norm_lstm_cell(Tensor input, Tensor[] hx, Tensor[] params, bool has_biases=True, "
      "float eps=1e-05) -> (Tensor, Tensor)",
      tags);
  m.def(
      "layer_norm_lstm_layer(Tensor input, Tensor? batch_sizes, Tensor hx, Tensor cx, "
      "Tensor[] params, bool has_biases, bool bidirectional, float eps) -> (Tensor output, "
      "Tensor hy, Tensor cy)",
      tags);
  // Saved: gates [D, 2, N, 4H] (ĝi, ĝh; the backward forms i, f, g, o again), cells [D, 2, N, H]
  // (c, ĉ), rstd [D, N, 3].
  m.def(
      "_layer_norm_lstm_layer_forward(Tensor input, Tensor? batch_sizes, Tensor hx, Tensor cx, "
      "Tensor[] params, bool has_biases, bool bidirectional, float eps) -> (Tensor output, "
      "Tensor hy, Tensor cy, Tensor gates, Tensor cells, Tensor rstd)",
      tags);
  m.def(
      "_layer_norm_lstm_layer_backward(Tensor? grad_output, Tensor? grad_hy, Tensor? grad_cy, "
      "Tensor input, Tensor? batch_sizes, Tensor hx, Tensor cx, Tensor[] params, bool has_biases, "
      "bool bidirectional, Tensor output, Tensor gates, Tensor cells, Tensor rstd, "
      "bool need_grad_input) -> (Tensor grad_input, Tensor grad_hx, Tensor grad_cx, "
      "Tensor[] grad_params)",
      tags);
  m.def(
      "layer_norm_gru.input(Tensor input, Tensor hx, Tensor[] params, bool has_biases, "
      "int num_layers, float dropout, bool train, bool bidirectional, bool batch_first, "
      "float eps=1e-05) -> (Tensor, Tensor)",
      tags);
  m.def(
      "layer_norm_gru.data(Tensor data, Tensor batch_sizes, Tensor hx, Tensor[] params, "
      "bool has_biases, int num_layers, float dropout, bool train, bool bidirectional, "
      "float eps=1e-05) -> (Tensor, Tensor)",
      tags);
  m.def(
      "layer_norm_gru_cell(Tensor input, Tensor hx, Tensor[] params, bool has_biases=True, "
      "float eps=1e-05) -> Tensor",
      tags);
  m.def(
      "layer_norm_gru_layer(Tensor input, Tensor? batch_sizes, Tensor hx, Tensor[] params, "
      "bool has_biases, bool bidirectional, float eps) -> (Tensor output, Tensor hy)",
      tags);
  // Saved: gates [D, 2, N, 3H] (ĝi, ĝh; the backward forms r, z, n again), rstd [D, N, 2].
  m.def(
      "_layer_norm_gru_layer_forward(Tensor input, Tensor? batch_sizes, Tensor hx, "
      "Tensor[] params, bool has_biases, bool bidirectional, float eps) -> (Tensor output, "
      "Tensor hy, Tensor gates, Tensor rstd)",
      tags);
  m.def(
      "_layer_norm_gru_layer_backward(Tensor? grad_output, Tensor? grad_hy, Tensor input, "
      "Tensor? batch_sizes, Tensor hx, Tensor[] params, bool has_biases, bool bidirectional, "
      "Tensor output, Tensor gates, Tensor rstd, bool need_grad_input) -> (Tensor grad_input, "
      "Tensor grad_hx, Tensor[] grad_params)",
      tags);
}
