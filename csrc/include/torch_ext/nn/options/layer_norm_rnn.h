// Options of the layer-normalised recurrent modules and cells (torch_ext::nn::LayerNormLSTM,
// LayerNormGRU, LayerNormLSTMCell, LayerNormGRUCell): those of torch::nn's LSTM / GRU and their
// cells, without proj_size, plus the layer normalisations' `eps`.
//
//   torch_ext::nn::LayerNormLSTM lstm(
//       torch_ext::nn::LayerNormLSTMOptions(32, 64).num_layers(2).batch_first(true).eps(1e-6));
#pragma once

#include <torch/arg.h>

#include <cstdint>

namespace torch_ext::nn {

/// The layer normalisations' default epsilon (torch::nn::LayerNormOptions's).
inline constexpr double kLayerNormDefaultEps = 1e-5;

/// Options of torch_ext::nn::LayerNormLSTM: torch::nn::LSTMOptions without proj_size, with eps.
///
/// Example:
/// ```
/// LayerNormLSTM lstm(LayerNormLSTMOptions(2, 4).num_layers(3).bidirectional(true));
/// ```
struct LayerNormLSTMOptions {
  LayerNormLSTMOptions(int64_t input_size, int64_t hidden_size)
      : input_size_(input_size), hidden_size_(hidden_size) {}

  /// Features of one step of the input `x`.
  TORCH_ARG(int64_t, input_size);
  /// Features of the hidden state `h` and of the cell state `c`.
  TORCH_ARG(int64_t, hidden_size);
  /// Recurrent layers; each after the first reads the output of the one below. Default: 1
  TORCH_ARG(int64_t, num_layers) = 1;
  /// If false, the layers have no biases `b_ih`, `b_hh` (the layer norms keep theirs).
  /// Default: true
  TORCH_ARG(bool, bias) = true;
  /// If true, input and output are (batch, seq, feature). Default: false
  TORCH_ARG(bool, batch_first) = false;
  /// If non-zero, dropout with this probability on the output of every layer but the last, in
  /// training mode only. Default: 0
  TORCH_ARG(double, dropout) = 0.0;
  /// If true, every layer also runs over the sequence backwards. Default: false
  TORCH_ARG(bool, bidirectional) = false;
  /// Epsilon of every layer normalisation (non-negative). Default: 1e-5
  TORCH_ARG(double, eps) = kLayerNormDefaultEps;
};

/// Options of torch_ext::nn::LayerNormGRU: torch::nn::GRUOptions with eps.
///
/// Example:
/// ```
/// LayerNormGRU gru(LayerNormGRUOptions(2, 4).num_layers(2).batch_first(true));
/// ```
struct LayerNormGRUOptions {
  LayerNormGRUOptions(int64_t input_size, int64_t hidden_size)
      : input_size_(input_size), hidden_size_(hidden_size) {}

  /// Features of one step of the input `x`.
  TORCH_ARG(int64_t, input_size);
  /// Features of the hidden state `h`.
  TORCH_ARG(int64_t, hidden_size);
  /// Recurrent layers; each after the first reads the output of the one below. Default: 1
  TORCH_ARG(int64_t, num_layers) = 1;
  /// If false, the layers have no biases `b_ih`, `b_hh` (the layer norms keep theirs).
  /// Default: true
  TORCH_ARG(bool, bias) = true;
  /// If true, input and output are (batch, seq, feature). Default: false
  TORCH_ARG(bool, batch_first) = false;
  /// If non-zero, dropout with this probability on the output of every layer but the last, in
  /// training mode only. Default: 0
  TORCH_ARG(double, dropout) = 0.0;
  /// If true, every layer also runs over the sequence backwards. Default: false
  TORCH_ARG(bool, bidirectional) = false;
  /// Epsilon of every layer normalisation (non-negative). Default: 1e-5
  TORCH_ARG(double, eps) = kLayerNormDefaultEps;
};

/// Options of torch_ext::nn::LayerNormLSTMCell: torch::nn::LSTMCellOptions with eps.
///
/// Example:
/// ```
/// LayerNormLSTMCell cell(LayerNormLSTMCellOptions(20, 10).bias(false));
/// ```
struct LayerNormLSTMCellOptions {
  LayerNormLSTMCellOptions(int64_t input_size, int64_t hidden_size)
      : input_size_(input_size), hidden_size_(hidden_size) {}

  /// Features of the input `x`.
  TORCH_ARG(int64_t, input_size);
  /// Features of the hidden state `h` and of the cell state `c`.
  TORCH_ARG(int64_t, hidden_size);
  /// If false, the cell has no biases `b_ih`, `b_hh` (the layer norms keep theirs). Default: true
  TORCH_ARG(bool, bias) = true;
  /// Epsilon of the layer normalisations (non-negative). Default: 1e-5
  TORCH_ARG(double, eps) = kLayerNormDefaultEps;
};

/// Options of torch_ext::nn::LayerNormGRUCell: torch::nn::GRUCellOptions with eps.
///
/// Example:
/// ```
/// LayerNormGRUCell cell(LayerNormGRUCellOptions(20, 10).eps(1e-6));
/// ```
struct LayerNormGRUCellOptions {
  LayerNormGRUCellOptions(int64_t input_size, int64_t hidden_size)
      : input_size_(input_size), hidden_size_(hidden_size) {}

  /// Features of the input `x`.
  TORCH_ARG(int64_t, input_size);
  /// Features of the hidden state `h`.
  TORCH_ARG(int64_t, hidden_size);
  /// If false, the cell has no biases `b_ih`, `b_hh` (the layer norms keep theirs). Default: true
  TORCH_ARG(bool, bias) = true;
  /// Epsilon of the layer normalisations (non-negative). Default: 1e-5
  TORCH_ARG(double, eps) = kLayerNormDefaultEps;
};

}  // namespace torch_ext::nn
