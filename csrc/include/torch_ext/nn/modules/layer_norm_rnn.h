// Layer-normalised multi-layer LSTM and GRU (Ba, Kiros and Hinton, 2016) for LibTorch programs:
// torch_ext::nn::LSTM and torch_ext::nn::GRU (PyTorch's reset-after form) whose gate
// pre-activations, and for the LSTM the cell state read out into h, pass through a layer
// normalisation with learnable gains and biases. They run torch_ext::layer_norm_lstm /
// torch_ext::layer_norm_gru; the modules only handle arguments.
//
// Parameters: each (layer, direction) registers, in this order (also the operators' order),
//   weight_ih, weight_hh and (with bias) bias_ih, bias_hh, as torch::nn::LSTM / torch::nn::GRU
//     (names, shapes and initial values: drawn from U(-1/sqrt(H), 1/sqrt(H)) in torch::nn's order,
//     so the same seed gives the same values);
//   ln_ih_weight, ln_ih_bias, ln_hh_weight, ln_hh_bias [G·H] and, for the LSTM, ln_cell_weight,
//     ln_cell_bias [H]: gains start at one, biases at zero (no random draws),
// each with the suffix _l<layer>[_reverse]. The ln_* entries are the only names torch::nn lacks:
// the torch::nn-named subset moves between LayerNormLSTM and torch::nn::LSTM (LayerNormGRU and
// torch::nn::GRU) by name.
//
//   torch_ext::nn::LayerNormLSTM lstm(torch_ext::nn::LayerNormLSTMOptions(32, 64).num_layers(2));
//   auto [output, state] = lstm->forward(torch::randn({100, 8, 32}));
#pragma once

#include <torch_ext/nn/modules/rnn.h>
#include <torch_ext/nn/options/layer_norm_rnn.h>

#include <torch/nn/modules/container/any_value.h>
#include <torch/nn/pimpl.h>
#include <torch/nn/utils/rnn.h>
#include <torch/types.h>

#include <cstdint>
#include <optional>
#include <ostream>
#include <tuple>
#include <vector>

namespace torch_ext::nn {

// ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~ LayerNormLSTM ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~

/// A multi-layer layer-normalised LSTM. Every layer computes, per step,
///
///   (i, f, g, o) = LN(W_ih x; γ_ih, β_ih) + b_ih + LN(W_hh h; γ_hh, β_hh) + b_hh
///   c' = σ(f) ⊙ c + σ(i) ⊙ tanh(g)
///   h' = σ(o) ⊙ tanh(LN(c'; γ_cell, β_cell))
///
/// where LN(a; γ, β) = (a − E[a]) / sqrt(Var[a] + eps) ⊙ γ + β normalises each row over all its
/// features (the 4H gate pre-activations of a product at once; the H units of the cell). The state
/// carried to the next step is c' itself.
///
/// forward and forward_with_packed_input as torch_ext::nn::LSTM's (without projections):
/// input [T, B, I] ([B, T, I] with batch_first), unbatched [T, I] or a PackedSequence; (h_0, c_0)
/// [L·D, B, H] each, zeros when absent; returns output [T, B, D·H] and (h_n, c_n).
///
/// Example:
/// ```
/// LayerNormLSTM model(LayerNormLSTMOptions(2, 4).num_layers(3).bidirectional(true).eps(1e-6));
/// ```
class LayerNormLSTMImpl : public detail::RNNImplBase<LayerNormLSTMImpl> {
 public:
  LayerNormLSTMImpl(int64_t input_size, int64_t hidden_size)
      : LayerNormLSTMImpl(LayerNormLSTMOptions(input_size, hidden_size)) {}
  explicit LayerNormLSTMImpl(const LayerNormLSTMOptions& options_);

  std::tuple<torch::Tensor, std::tuple<torch::Tensor, torch::Tensor>> forward(
      const torch::Tensor& input,
      std::optional<std::tuple<torch::Tensor, torch::Tensor>> hx_opt = {});

 protected:
  FORWARD_HAS_DEFAULT_ARGS(
      {1, torch::nn::AnyValue(std::optional<std::tuple<torch::Tensor, torch::Tensor>>())})

 public:
  std::tuple<torch::nn::utils::rnn::PackedSequence, std::tuple<torch::Tensor, torch::Tensor>>
  forward_with_packed_input(const torch::nn::utils::rnn::PackedSequence& packed_input,
                            std::optional<std::tuple<torch::Tensor, torch::Tensor>> hx_opt = {});

  LayerNormLSTMOptions options;

 protected:
  std::vector<ParameterSpec> direction_parameters(int64_t layer) const override;
  std::vector<int64_t> state_features() const override;
  /// ", eps=1e-05".
  void pretty_print_options(std::ostream& stream) const override;
  std::tuple<torch::Tensor, States> run_op(const torch::Tensor& input,
                                           const torch::Tensor& batch_sizes,
                                           const States& hx) override;
};

/// A ModuleHolder of LayerNormLSTMImpl.
TORCH_MODULE(LayerNormLSTM);

// ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~ LayerNormGRU ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~

/// A multi-layer layer-normalised GRU in PyTorch's form (the reset gate after the product with
/// W_hn). Every layer computes, per step,
///
///   (a_r, a_z, a_n) = LN(W_ih x; γ_ih, β_ih) + b_ih
///   (u_r, u_z, u_n) = LN(W_hh h; γ_hh, β_hh) + b_hh
///   r = σ(a_r + u_r),  z = σ(a_z + u_z),  n = tanh(a_n + r ⊙ u_n)
///   h' = (1 − z) ⊙ n + z ⊙ h
///
/// with LN over all 3H features of a product (see LayerNormLSTM).
///
/// forward and forward_with_packed_input as torch_ext::nn::GRU's.
///
/// Example:
/// ```
/// LayerNormGRU model(LayerNormGRUOptions(2, 4).num_layers(2).batch_first(true));
/// ```
class LayerNormGRUImpl : public detail::RNNImplBase<LayerNormGRUImpl> {
 public:
  LayerNormGRUImpl(int64_t input_size, int64_t hidden_size)
      : LayerNormGRUImpl(LayerNormGRUOptions(input_size, hidden_size)) {}
  explicit LayerNormGRUImpl(const LayerNormGRUOptions& options_);

  std::tuple<torch::Tensor, torch::Tensor> forward(const torch::Tensor& input,
                                                   torch::Tensor hx = {});

 protected:
  FORWARD_HAS_DEFAULT_ARGS({1, torch::nn::AnyValue(torch::Tensor())})

 public:
  std::tuple<torch::nn::utils::rnn::PackedSequence, torch::Tensor> forward_with_packed_input(
      const torch::nn::utils::rnn::PackedSequence& packed_input, torch::Tensor hx = {});

  LayerNormGRUOptions options;

 protected:
  std::vector<ParameterSpec> direction_parameters(int64_t layer) const override;
  /// ", eps=1e-05".
  void pretty_print_options(std::ostream& stream) const override;
  std::tuple<torch::Tensor, States> run_op(const torch::Tensor& input,
                                           const torch::Tensor& batch_sizes,
                                           const States& hx) override;
};

/// A ModuleHolder of LayerNormGRUImpl.
TORCH_MODULE(LayerNormGRU);

}  // namespace torch_ext::nn
