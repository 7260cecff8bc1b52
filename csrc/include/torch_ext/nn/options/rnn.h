// Options of torch_ext's recurrent modules: field for field, default for default, those of
// torch::nn (torch/nn/options/rnn.h), so that code written against torch::nn::LSTMOptions compiles
// against torch_ext::nn::LSTMOptions unchanged:
//
//   torch_ext::nn::LSTM lstm(torch_ext::nn::LSTMOptions(32, 64).num_layers(2).batch_first(true));
#pragma once

#include <torch/arg.h>
#include <torch/enum.h>

#include <cstdint>
#include <variant>

namespace torch_ext::nn {
namespace detail {

/// What every multi-layer recurrent module shares (torch::nn::detail::RNNOptionsBase without its
/// `mode`: here the module's class fixes the recurrence). Each module's own options convert to it.
struct RNNOptionsBase {
  RNNOptionsBase(int64_t input_size, int64_t hidden_size)
      : input_size_(input_size), hidden_size_(hidden_size) {}

  /// Features of one step of the input `x`.
  TORCH_ARG(int64_t, input_size);
  /// Features of the hidden state `h` (of the cell state `c` with projections).
  TORCH_ARG(int64_t, hidden_size);
  /// Recurrent layers stacked on each other.
  TORCH_ARG(int64_t, num_layers) = 1;
  /// Whether every layer has the biases `b_ih` and `b_hh`.
  TORCH_ARG(bool, bias) = true;
  /// Input and output as (batch, seq, feature) rather than (seq, batch, feature).
  TORCH_ARG(bool, batch_first) = false;
  /// Probability of the dropout on the output of every layer but the last, in training.
  TORCH_ARG(double, dropout) = 0.0;
  /// Whether every layer also runs over the sequence backwards.
  TORCH_ARG(bool, bidirectional) = false;
  /// Features of `h` after its projection; 0: no projection (LSTM only).
  TORCH_ARG(int64_t, proj_size) = 0;
};

/// What every single-step cell shares (torch::nn::detail::RNNCellOptionsBase).
struct RNNCellOptionsBase {
  RNNCellOptionsBase(int64_t input_size, int64_t hidden_size, bool bias, int64_t num_chunks)
      : input_size_(input_size), hidden_size_(hidden_size), bias_(bias), num_chunks_(num_chunks) {}

  TORCH_ARG(int64_t, input_size);
  TORCH_ARG(int64_t, hidden_size);
  TORCH_ARG(bool, bias);
  /// Gate blocks per hidden unit: the rows of `weight_ih` and `weight_hh` are
  /// num_chunks * hidden_size (4 for the LSTM cell).
  TORCH_ARG(int64_t, num_chunks);
};

}  // namespace detail

/// Options of torch_ext::nn::LSTM, as torch::nn::LSTMOptions.
///
/// Example:
/// ```
/// LSTM lstm(LSTMOptions(2, 4).num_layers(3).batch_first(false).bidirectional(true));
/// ```
struct LSTMOptions {
  LSTMOptions(int64_t input_size, int64_t hidden_size)
      : input_size_(input_size), hidden_size_(hidden_size) {}

  /// Features of one step of the input `x`.
  TORCH_ARG(int64_t, input_size);
  /// Features of the hidden state `h` and of the cell state `c`.
  TORCH_ARG(int64_t, hidden_size);
  /// Recurrent layers; each after the first reads the output of the one below. Default: 1
  TORCH_ARG(int64_t, num_layers) = 1;
  /// If false, the layers have no biases `b_ih`, `b_hh`. Default: true
  TORCH_ARG(bool, bias) = true;
  /// If true, input and output are (batch, seq, feature). Default: false
  TORCH_ARG(bool, batch_first) = false;
  /// If non-zero, dropout with this probability on the output of every layer but the last, in
  /// training mode only. Default: 0
  TORCH_ARG(double, dropout) = 0.0;
  /// If true, a bidirectional LSTM. Default: false
  TORCH_ARG(bool, bidirectional) = false;
  /// If non-zero, `h` is projected to this many features (`weight_hr_l[k]`). Default: 0
  TORCH_ARG(int64_t, proj_size) = 0;
};

/// Options of torch_ext::nn::LSTMCell, as torch::nn::LSTMCellOptions.
///
/// Example:
/// ```
/// LSTMCell cell(LSTMCellOptions(20, 10).bias(false));
/// ```
struct LSTMCellOptions {
  LSTMCellOptions(int64_t input_size, int64_t hidden_size)
      : input_size_(input_size), hidden_size_(hidden_size) {}

  /// Features of the input `x`.
  TORCH_ARG(int64_t, input_size);
  /// Features of the hidden state `h` and of the cell state `c`.
  TORCH_ARG(int64_t, hidden_size);
  /// If false, the cell has no biases `b_ih`, `b_hh`. Default: true
  TORCH_ARG(bool, bias) = true;
};

/// Options of torch_ext::nn::GRU, as torch::nn::GRUOptions, plus `reset_after`.
///
/// Example:
/// ```
/// GRU gru(GRUOptions(2, 4).num_layers(3).batch_first(true).bidirectional(true));
/// GRU original(GRUOptions(2, 4).reset_after(false));   // the reset gate before W_hn
/// ```
struct GRUOptions {
  GRUOptions(int64_t input_size, int64_t hidden_size)
      : input_size_(input_size), hidden_size_(hidden_size) {}

  /// Features of one step of the input `x`.
  TORCH_ARG(int64_t, input_size);
  /// Features of the hidden state `h`.
  TORCH_ARG(int64_t, hidden_size);
  /// Recurrent layers; each after the first reads the output of the one below. Default: 1
  TORCH_ARG(int64_t, num_layers) = 1;
  /// If false, the layers have no biases `b_ih`, `b_hh`. Default: true
  TORCH_ARG(bool, bias) = true;
  /// If true, input and output are (batch, seq, feature). Default: false
  TORCH_ARG(bool, batch_first) = false;
  /// If non-zero, dropout with this probability on the output of every layer but the last, in
  /// training mode only. Default: 0
  TORCH_ARG(double, dropout) = 0.0;
  /// If true, a bidirectional GRU. Default: false
  TORCH_ARG(bool, bidirectional) = false;
  /// true: PyTorch's GRU, n = tanh(W_in x + b_in + r * (W_hn h + b_hn)); false: the original
  /// GRU (Cho et al., 2014; Keras' reset_after=False), n = tanh(W_in x + b_in + W_hn (r * h) +
  /// b_hn). The parameters are the same either way. Default: true
  TORCH_ARG(bool, reset_after) = true;
};

/// Options of torch_ext::nn::RNN, as torch::nn::RNNOptions.
///
/// Example:
/// ```
/// RNN rnn(RNNOptions(2, 4).num_layers(3).nonlinearity(torch::kReLU).batch_first(true));
/// ```
struct RNNOptions {
  typedef std::variant<torch::enumtype::kTanh, torch::enumtype::kReLU> nonlinearity_t;

  RNNOptions(int64_t input_size, int64_t hidden_size)
      : input_size_(input_size), hidden_size_(hidden_size) {}

  /// Features of one step of the input `x`.
  TORCH_ARG(int64_t, input_size);
  /// Features of the hidden state `h`.
  TORCH_ARG(int64_t, hidden_size);
  /// Recurrent layers; each after the first reads the output of the one below. Default: 1
  TORCH_ARG(int64_t, num_layers) = 1;
  /// The nonlinearity, torch::kTanh or torch::kReLU. Default: torch::kTanh
  TORCH_ARG(nonlinearity_t, nonlinearity) = torch::kTanh;
  /// If false, the layers have no biases `b_ih`, `b_hh`. Default: true
  TORCH_ARG(bool, bias) = true;
  /// If true, input and output are (batch, seq, feature). Default: false
  TORCH_ARG(bool, batch_first) = false;
  /// If non-zero, dropout with this probability on the output of every layer but the last, in
  /// training mode only. Default: 0
  TORCH_ARG(double, dropout) = 0.0;
  /// If true, a bidirectional RNN. Default: false
  TORCH_ARG(bool, bidirectional) = false;
};

/// Options of torch_ext::nn::GRUCell, as torch::nn::GRUCellOptions, plus `reset_after`.
///
/// Example:
/// ```
/// GRUCell cell(GRUCellOptions(20, 10).bias(false));
/// ```
struct GRUCellOptions {
  GRUCellOptions(int64_t input_size, int64_t hidden_size)
      : input_size_(input_size), hidden_size_(hidden_size) {}

  /// Features of the input `x`.
  TORCH_ARG(int64_t, input_size);
  /// Features of the hidden state `h`.
  TORCH_ARG(int64_t, hidden_size);
  /// If false, the cell has no biases `b_ih`, `b_hh`. Default: true
  TORCH_ARG(bool, bias) = true;
  /// true: PyTorch's GRU cell; false: the original one (see GRUOptions). Default: true
  TORCH_ARG(bool, reset_after) = true;
};

/// Options of torch_ext::nn::RNNCell, as torch::nn::RNNCellOptions.
///
/// Example:
/// ```
/// RNNCell cell(RNNCellOptions(20, 10).bias(false).nonlinearity(torch::kReLU));
/// ```
struct RNNCellOptions {
  typedef std::variant<torch::enumtype::kTanh, torch::enumtype::kReLU> nonlinearity_t;

  RNNCellOptions(int64_t input_size, int64_t hidden_size)
      : input_size_(input_size), hidden_size_(hidden_size) {}

  /// Features of the input `x`.
  TORCH_ARG(int64_t, input_size);
  /// Features of the hidden state `h`.
  TORCH_ARG(int64_t, hidden_size);
  /// If false, the cell has no biases `b_ih`, `b_hh`. Default: true
  TORCH_ARG(bool, bias) = true;
  /// The nonlinearity, torch::kTanh or torch::kReLU. Default: torch::kTanh
  TORCH_ARG(nonlinearity_t, nonlinearity) = torch::kTanh;
};

}  // namespace torch_ext::nn
