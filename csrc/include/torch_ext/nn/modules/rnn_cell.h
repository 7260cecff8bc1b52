// Single-step recurrent cells (LSTMCell, GRUCell, RNNCell) for LibTorch programs, mirroring
// torch::nn's (torch/nn/modules/rnn.h): the same options, parameters (weight_ih, weight_hh,
// bias_ih, bias_hh), initialisation, forward signatures and pretty_print. A step runs torch_ext's
// cell operator (torch_ext::lstm_cell & co.).
//
//   torch_ext::nn::LSTMCell cell(torch_ext::nn::LSTMCellOptions(10, 20));
//   auto [h, c] = cell->forward(torch::randn({3, 10}));
#pragma once

#include <torch_ext/nn/options/rnn.h>

#include <torch/nn/cloneable.h>
#include <torch/nn/modules/common.h>
#include <torch/nn/modules/container/any_module_holder.h>
#include <torch/nn/modules/container/any_value.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <tuple>
#include <vector>

namespace torch_ext::nn {
namespace detail {

/// Base of the cells (LSTMCell, GRUCell, RNNCell, LayerNormLSTMCell, LayerNormGRUCell), as
/// torch::nn::detail::RNNCellImplBase: the parameters and their initialisation, pretty_print, and
/// the forward's bookkeeping (unbatched 1-D input, a missing state as zeros, the rank checks).
///
/// A cell state is handled as a list of tensors, [h] or [h, c]. A cell derives from this class,
/// calls `reset()` at the end of its constructor, and supplies `run_op` (its operator on a batch)
/// and a forward converting its state type to and from the list around `forward_states`; with
/// more parameters it overrides `register_parameters` (layer-norm gains and biases, `ln_*`, start
/// at ones and zeros; others need `reset_parameters` too), with more options
/// `pretty_print_options`. Defined in csrc/api/nn/rnn_cell.cpp and instantiated there for each
/// cell.
template <typename Derived>
class RNNCellImplBase : public torch::nn::Cloneable<Derived> {
 public:
  explicit RNNCellImplBase(const RNNCellOptionsBase& options_);

  /// Registers the parameters (register_parameters) and draws them; the constructor and clone()
  /// call it (once per module, as torch::nn's reset()).
  void reset() override;

  /// Draws every parameter from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), in registration
  /// order, as torch::nn does; layer-norm gains and biases (`ln_*_weight`, `ln_*_bias`) are set
  /// to ones and zeros without drawing.
  virtual void reset_parameters();

  /// "torch_ext::nn::LSTMCell(10, 20)", ", bias=false" without biases, in torch::nn's format.
  void pretty_print(std::ostream& stream) const override;

  RNNCellOptionsBase options_base;

  torch::Tensor weight_ih;
  torch::Tensor weight_hh;
  torch::Tensor bias_ih;
  torch::Tensor bias_hh;

 protected:
  using States = std::vector<torch::Tensor>;

  /// Raises unless `input` is 1-D or 2-D: "<Cell>: Expected <name> to be 1D or 2D, got 3D instead".
  void check_forward_input(const torch::Tensor& input, const std::string& name) const;

  /// Registers weight_ih, weight_hh, bias_ih, bias_hh (undefined without bias), in torch::nn's
  /// order.
  virtual void register_parameters();

  /// The nonlinearity pretty_print shows (RNNCell's); empty: none.
  virtual std::string get_nonlinearity_str() const;

  /// Writes the options pretty_print shows after torch::nn's (", eps=1e-06"); none by default.
  virtual void pretty_print_options(std::ostream& stream) const;

  /// One step of the operator on a batch: input [B, I], every state tensor [B, hidden_size].
  virtual States run_op(const torch::Tensor& input, const States& hx) = 0;

  /// The forward for `num_states` state tensors: batched [B, I] or unbatched [I] input; `hx`
  /// zeros when absent.
  States forward_states(const torch::Tensor& input, std::optional<States> hx, size_t num_states);
};

}  // namespace detail

// ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~ LSTMCell ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~

/// A long short-term memory (LSTM) cell: torch::nn::LSTMCell, run by torch_ext::lstm_cell, with
/// gradients.
///
/// forward(input, (h, c)) takes input [B, I] or unbatched [I] and h, c [B, H] (or [H]; zeros when
/// absent), and returns (h', c') of the same shapes.
///
/// Example:
/// ```
/// LSTMCell model(LSTMCellOptions(20, 10).bias(false));
/// ```
class LSTMCellImpl : public detail::RNNCellImplBase<LSTMCellImpl> {
 public:
  LSTMCellImpl(int64_t input_size, int64_t hidden_size)
      : LSTMCellImpl(LSTMCellOptions(input_size, hidden_size)) {}
  explicit LSTMCellImpl(const LSTMCellOptions& options_);

  std::tuple<torch::Tensor, torch::Tensor> forward(
      const torch::Tensor& input,
      std::optional<std::tuple<torch::Tensor, torch::Tensor>> hx_opt = {});

 protected:
  FORWARD_HAS_DEFAULT_ARGS(
      {1, torch::nn::AnyValue(std::optional<std::tuple<torch::Tensor, torch::Tensor>>())})

 public:
  LSTMCellOptions options;

 protected:
  States run_op(const torch::Tensor& input, const States& hx) override;
};

/// A ModuleHolder of LSTMCellImpl, as torch::nn::LSTMCell.
TORCH_MODULE(LSTMCell);

// ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~ GRUCell ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~

/// A gated recurrent unit (GRU) cell: torch::nn::GRUCell, run by torch_ext::gru_cell (or, with
/// GRUCellOptions::reset_after(false), the original GRU's torch_ext::gru_reset_before_cell), with
/// gradients.
///
/// forward(input, hx) takes input [B, I] or unbatched [I] and hx [B, H] (or [H]; zeros when
/// undefined), and returns h' shaped like hx.
///
/// Example:
/// ```
/// GRUCell model(GRUCellOptions(20, 10).bias(false));
/// ```
class GRUCellImpl : public detail::RNNCellImplBase<GRUCellImpl> {
 public:
  GRUCellImpl(int64_t input_size, int64_t hidden_size)
      : GRUCellImpl(GRUCellOptions(input_size, hidden_size)) {}
  explicit GRUCellImpl(const GRUCellOptions& options_);

  torch::Tensor forward(const torch::Tensor& input, const torch::Tensor& hx = {});

 protected:
  FORWARD_HAS_DEFAULT_ARGS({1, torch::nn::AnyValue(torch::Tensor())})

 public:
  GRUCellOptions options;

 protected:
  /// ", reset_after=false" for the original GRU.
  void pretty_print_options(std::ostream& stream) const override;
  States run_op(const torch::Tensor& input, const States& hx) override;
};

/// A ModuleHolder of GRUCellImpl, as torch::nn::GRUCell.
TORCH_MODULE(GRUCell);

// ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~ RNNCell ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~

/// An Elman RNN cell, h' = tanh(W_ih x + b_ih + W_hh h + b_hh) (ReLU with
/// RNNCellOptions::nonlinearity(torch::kReLU)): torch::nn::RNNCell, run by
/// torch_ext::rnn_tanh_cell / torch_ext::rnn_relu_cell, with gradients.
///
/// forward(input, hx) as GRUCell's.
///
/// Example:
/// ```
/// RNNCell model(RNNCellOptions(20, 10).bias(false).nonlinearity(torch::kReLU));
/// ```
class RNNCellImpl : public detail::RNNCellImplBase<RNNCellImpl> {
 public:
  RNNCellImpl(int64_t input_size, int64_t hidden_size)
      : RNNCellImpl(RNNCellOptions(input_size, hidden_size)) {}
  explicit RNNCellImpl(const RNNCellOptions& options_);

  torch::Tensor forward(const torch::Tensor& input, const torch::Tensor& hx = {});

 protected:
  FORWARD_HAS_DEFAULT_ARGS({1, torch::nn::AnyValue(torch::Tensor())})

 public:
  RNNCellOptions options;

 protected:
  /// "kTanh" or "kReLU", as torch::nn::RNNCell's.
  std::string get_nonlinearity_str() const override;
  States run_op(const torch::Tensor& input, const States& hx) override;
};

/// A ModuleHolder of RNNCellImpl, as torch::nn::RNNCell.
TORCH_MODULE(RNNCell);

}  // namespace torch_ext::nn
