// Single steps of the layer-normalised LSTM and GRU (Ba, Kiros and Hinton, 2016): the cells of
// torch_ext::nn::LayerNormLSTM / LayerNormGRU, on torch_ext::layer_norm_lstm_cell /
// torch_ext::layer_norm_gru_cell.
//
// Parameters, in registration (and operator) order: weight_ih, weight_hh, bias_ih, bias_hh as
// torch::nn::LSTMCell / torch::nn::GRUCell (same draws for the same seed), then ln_ih_weight,
// ln_ih_bias, ln_hh_weight, ln_hh_bias [G·H] and, for the LSTM cell, ln_cell_weight, ln_cell_bias
// [H] (gains ones, biases zeros).
//
//   torch_ext::nn::LayerNormLSTMCell cell(torch_ext::nn::LayerNormLSTMCellOptions(10, 20));
//   auto [h, c] = cell->forward(torch::randn({3, 10}));
#pragma once

#include <torch_ext/nn/modules/rnn_cell.h>
#include <torch_ext/nn/options/layer_norm_rnn.h>

#include <torch/nn/modules/container/any_value.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>
#include <optional>
#include <ostream>
#include <tuple>

namespace torch_ext::nn {

// ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~ LayerNormLSTMCell ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~

/// One step of the layer-normalised LSTM cell of LayerNormLSTM:
///
///   (i, f, g, o) = LN(W_ih x; γ_ih, β_ih) + b_ih + LN(W_hh h; γ_hh, β_hh) + b_hh
///   c' = σ(f) ⊙ c + σ(i) ⊙ tanh(g)
///   h' = σ(o) ⊙ tanh(LN(c'; γ_cell, β_cell))
///
/// forward(input, (h, c)) as torch_ext::nn::LSTMCell's: input [B, I] or unbatched [I], h, c
/// [B, H] (or [H]; zeros when absent); returns (h', c').
///
/// Example:
/// ```
/// LayerNormLSTMCell model(LayerNormLSTMCellOptions(20, 10).bias(false));
/// ```
class LayerNormLSTMCellImpl : public detail::RNNCellImplBase<LayerNormLSTMCellImpl> {
 public:
  LayerNormLSTMCellImpl(int64_t input_size, int64_t hidden_size)
      : LayerNormLSTMCellImpl(LayerNormLSTMCellOptions(input_size, hidden_size)) {}
  explicit LayerNormLSTMCellImpl(const LayerNormLSTMCellOptions& options_);

  std::tuple<torch::Tensor, torch::Tensor> forward(
      const torch::Tensor& input,
      std::optional<std::tuple<torch::Tensor, torch::Tensor>> hx_opt = {});

 protected:
  FORWARD_HAS_DEFAULT_ARGS(
      {1, torch::nn::AnyValue(std::optional<std::tuple<torch::Tensor, torch::Tensor>>())})

 public:
  LayerNormLSTMCellOptions options;

  torch::Tensor ln_ih_weight;
  torch::Tensor ln_ih_bias;
  torch::Tensor ln_hh_weight;
  torch::Tensor ln_hh_bias;
  torch::Tensor ln_cell_weight;
  torch::Tensor ln_cell_bias;

 protected:
  void register_parameters() override;
  /// ", eps=…" unless eps is the default.
  void pretty_print_options(std::ostream& stream) const override;
  States run_op(const torch::Tensor& input, const States& hx) override;
};

/// A ModuleHolder of LayerNormLSTMCellImpl.
TORCH_MODULE(LayerNormLSTMCell);

// ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~ LayerNormGRUCell ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~

/// One step of the layer-normalised GRU cell of LayerNormGRU (PyTorch's form):
///
///   (a_r, a_z, a_n) = LN(W_ih x; γ_ih, β_ih) + b_ih
///   (u_r, u_z, u_n) = LN(W_hh h; γ_hh, β_hh) + b_hh
///   r = σ(a_r + u_r),  z = σ(a_z + u_z),  n = tanh(a_n + r ⊙ u_n)
///   h' = (1 − z) ⊙ n + z ⊙ h
///
/// forward(input, hx) as torch_ext::nn::GRUCell's.
///
/// Example:
/// ```
/// LayerNormGRUCell model(LayerNormGRUCellOptions(20, 10).eps(1e-6));
/// ```
class LayerNormGRUCellImpl : public detail::RNNCellImplBase<LayerNormGRUCellImpl> {
 public:
  LayerNormGRUCellImpl(int64_t input_size, int64_t hidden_size)
      : LayerNormGRUCellImpl(LayerNormGRUCellOptions(input_size, hidden_size)) {}
  explicit LayerNormGRUCellImpl(const LayerNormGRUCellOptions& options_);

  torch::Tensor forward(const torch::Tensor& input, const torch::Tensor& hx = {});

 protected:
  FORWARD_HAS_DEFAULT_ARGS({1, torch::nn::AnyValue(torch::Tensor())})

 public:
  LayerNormGRUCellOptions options;

  torch::Tensor ln_ih_weight;
  torch::Tensor ln_ih_bias;
  torch::Tensor ln_hh_weight;
  torch::Tensor ln_hh_bias;

 protected:
  void register_parameters() override;
  /// ", eps=…" unless eps is the default.
  void pretty_print_options(std::ostream& stream) const override;
  States run_op(const torch::Tensor& input, const States& hx) override;
};

/// A ModuleHolder of LayerNormGRUCellImpl.
TORCH_MODULE(LayerNormGRUCell);

}  // namespace torch_ext::nn
