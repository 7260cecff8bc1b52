// Multi-layer recurrent modules (LSTM, GRU, RNN) for LibTorch programs, mirroring torch::nn
// (torch/nn/modules/rnn.h): the same options, parameter names and shapes, initialisation, forward
// signatures and return types, so that weights move between torch::nn::LSTM and
// torch_ext::nn::LSTM (GRU, RNN) by name (state dicts, torch::save / torch::load). The forward and
// backward run torch_ext's operators (torch_ext/ops.h); the modules only handle arguments.
//
//   torch_ext::nn::LSTM lstm(torch_ext::nn::LSTMOptions(32, 64).num_layers(2).batch_first(true));
//   auto [output, state] = lstm->forward(torch::randn({8, 100, 32}));
//   auto [h_n, c_n] = state;
#pragma once

#include <torch_ext/nn/options/rnn.h>

#include <torch/nn/cloneable.h>
#include <torch/nn/modules/common.h>
#include <torch/nn/modules/container/any_module_holder.h>
#include <torch/nn/modules/container/any_value.h>
#include <torch/nn/pimpl.h>
#include <torch/nn/utils/rnn.h>
#include <torch/types.h>

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <tuple>
#include <vector>

namespace torch_ext::nn {
namespace detail {

/// Base of the multi-layer recurrent modules (LSTM, GRU, RNN, LayerNormLSTM, LayerNormGRU). It
/// holds what they share with torch::nn::detail::RNNImplBase: the option checks and their
/// messages, the parameters `<stem>_l<layer>[_reverse]` registered in torch::nn's order and drawn
/// from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) (the same seed gives the same values), the
/// flat weight list in the operators' order, pretty_print, and the forward's bookkeeping: zero
/// initial states, unbatched input, PackedSequence (the initial state sorted into the packed
/// order, the final state back), and the argument checks.
///
/// A recurrent state is handled as a list of tensors, [h] or [h, c]. A module derives from this
/// class, converts its options to RNNOptionsBase, calls `reset()` at the end of its constructor
/// (the hooks below are virtual, so the base constructor cannot), and supplies:
///   - `run_op`: the call of its operator on prepared, batched tensors (the math is in the op);
///   - `state_features` if its state is not [h] (LSTM: [h, c]);
///   - `direction_parameters` if one (layer, direction) holds more than weight_ih, weight_hh,
///     bias_ih, bias_hh (and weight_hr with projections), e.g. layer-norm gains (`ln_*`, which
///     reset_parameters sets to ones and zeros), and `reset_parameters` if they start otherwise;
///   - `pretty_print_options` for options beyond torch::nn's (", reset_after=false");
/// and its forward / forward_with_packed_input, which convert its state type to and from the
/// list and call `forward_padded` / `forward_packed`. The member functions are defined in
/// csrc/api/nn/rnn.cpp and instantiated there for each module.
template <typename Derived>
class RNNImplBase : public torch::nn::Cloneable<Derived> {
 public:
  /// `gates`: gate blocks per hidden unit (LSTM 4, GRU 3, RNN 1); the rows of weight_ih_l[k] and
  /// weight_hh_l[k] are gates * hidden_size.
  RNNImplBase(const RNNOptionsBase& options_base, int64_t gates);

  /// Checks the options, registers every parameter and draws their values; the constructor and
  /// clone() call it (once per module, as torch::nn's reset()).
  void reset() override;

  /// Draws every parameter from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), in registration
  /// order, as torch::nn does; layer-norm gains and biases (`ln_*_weight`, `ln_*_bias`), which
  /// torch::nn lacks, are set to ones and zeros without drawing.
  virtual void reset_parameters();

  /// As nn::Module::to, then re-reads the flat weight list.
  void to(torch::Device device, torch::Dtype dtype, bool non_blocking = false) override;
  void to(torch::Dtype dtype, bool non_blocking = false) override;
  void to(torch::Device device, bool non_blocking = false) override;

  /// "torch_ext::nn::LSTM(input_size=3, hidden_size=5, num_layers=1, bias=true, ...)", in
  /// torch::nn's format.
  void pretty_print(std::ostream& stream) const override;

  /// Does nothing: kept for torch::nn compatibility (the kernels read the weights as they are).
  void flatten_parameters();

  /// The parameters grouped per (layer, direction), in registration order.
  std::vector<torch::Tensor> all_weights() const;

  /// The parameters in the operators' order: the `params` argument of torch_ext::lstm & co.
  const std::vector<torch::Tensor>& flat_weights() const noexcept { return flat_weights_; }

  /// The options every recurrent module shares.
  RNNOptionsBase options_base;

 protected:
  /// One parameter of a (layer, direction), registered as `<stem>_l<layer>[_reverse]`.
  struct ParameterSpec {
    std::string stem;
    std::vector<int64_t> sizes;
  };

  /// A recurrent state as a list of tensors ([h] or [h, c]).
  using States = std::vector<torch::Tensor>;

  /// The parameters of one direction of `layer`, in registration (and operator) order.
  virtual std::vector<ParameterSpec> direction_parameters(int64_t layer) const;

  /// Features of each tensor of the state: [proj_size or hidden_size] by default (h alone).
  virtual std::vector<int64_t> state_features() const;

  /// Writes the options pretty_print shows after torch::nn's (", eps=1e-05"); none by default.
  virtual void pretty_print_options(std::ostream& stream) const;

  /// Runs the operator: padded `input` ([T, B, I], or [B, T, I] with batch_first) when
  /// `batch_sizes` is undefined, else packed data [N, I]; `hx` has been checked.
  virtual std::tuple<torch::Tensor, States> run_op(const torch::Tensor& input,
                                                   const torch::Tensor& batch_sizes,
                                                   const States& hx) = 0;

  /// The forward over a padded tensor: batched 3-D or unbatched 2-D input, `hx` zeros if absent.
  std::tuple<torch::Tensor, States> forward_padded(const torch::Tensor& input,
                                                   std::optional<States> hx);

  /// The forward over a PackedSequence, sorted or not.
  std::tuple<torch::nn::utils::rnn::PackedSequence, States> forward_packed(
      const torch::nn::utils::rnn::PackedSequence& packed_input, std::optional<States> hx);

  // torch::nn's checks, with its messages.
  void check_input(const torch::Tensor& input, const torch::Tensor& batch_sizes) const;
  std::tuple<int64_t, int64_t, int64_t> get_expected_hidden_size(
      const torch::Tensor& input, const torch::Tensor& batch_sizes) const;
  void check_hidden_size(const torch::Tensor& hx,
                         std::tuple<int64_t, int64_t, int64_t> expected_hidden_size,
                         const std::string& msg = "Expected hidden size {1}, got {2}") const;
  void check_forward_args(const torch::Tensor& input, const States& hidden,
                          const torch::Tensor& batch_sizes) const;

  int64_t num_directions() const { return options_base.bidirectional() ? 2 : 1; }
  /// Features of h: proj_size with projections, else hidden_size.
  int64_t real_hidden_size() const {
    return options_base.proj_size() > 0 ? options_base.proj_size() : options_base.hidden_size();
  }

  /// Re-reads flat_weights_ from the registered parameters.
  void reset_flat_weights();

  std::vector<std::string> flat_weights_names_;
  std::vector<std::vector<std::string>> all_weights_;
  std::vector<torch::Tensor> flat_weights_;

 private:
  std::tuple<torch::Tensor, States> forward_helper(const torch::Tensor& input,
                                                   const torch::Tensor& batch_sizes,
                                                   const torch::Tensor& sorted_indices,
                                                   int64_t max_batch_size,
                                                   std::optional<States> hx);

  int64_t gates_;
};

}  // namespace detail

// ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~ LSTM ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~

/// A multi-layer long short-term memory (LSTM) module: torch::nn::LSTM, run by torch_ext's LSTM
/// operators (torch_ext::lstm), with gradients.
///
/// forward(input, (h_0, c_0)) takes input [T, B, I] ([B, T, I] with batch_first) or unbatched
/// [T, I], and h_0 [L·D, B, R], c_0 [L·D, B, H] ([L·D, R] and [L·D, H] unbatched; zeros when
/// absent), where D = 2 if bidirectional else 1 and R = proj_size or hidden_size. It returns
/// output [T, B, D·R] and (h_n, c_n) shaped like (h_0, c_0). forward_with_packed_input does the same
/// over a PackedSequence. Dropout between layers applies only in training mode (is_training()).
///
/// Parameters (as torch::nn::LSTM): weight_ih_l[k], weight_hh_l[k], bias_ih_l[k], bias_hh_l[k],
/// weight_hr_l[k] (with proj_size), and the same with the suffix _reverse when bidirectional.
///
/// Example:
/// ```
/// LSTM model(LSTMOptions(2, 4).num_layers(3).batch_first(false).bidirectional(true));
/// ```
class LSTMImpl : public detail::RNNImplBase<LSTMImpl> {
 public:
  LSTMImpl(int64_t input_size, int64_t hidden_size)
      : LSTMImpl(LSTMOptions(input_size, hidden_size)) {}
  explicit LSTMImpl(const LSTMOptions& options_);

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

  LSTMOptions options;

 protected:
  std::vector<int64_t> state_features() const override;
  std::tuple<torch::Tensor, States> run_op(const torch::Tensor& input,
                                           const torch::Tensor& batch_sizes,
                                           const States& hx) override;
};

/// A ModuleHolder of LSTMImpl (a shared pointer with module semantics), as torch::nn::LSTM.
TORCH_MODULE(LSTM);

// ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~ GRU ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~

/// A multi-layer gated recurrent unit (GRU) module: torch::nn::GRU, run by torch_ext's GRU
/// operators (torch_ext::gru), with gradients. With GRUOptions::reset_after(false) it computes the
/// original GRU, whose reset gate scales h before W_hn (torch_ext::gru_reset_before), on the same
/// parameters.
///
/// forward(input, h_0) takes input [T, B, I] ([B, T, I] with batch_first) or unbatched [T, I],
/// and h_0 [L·D, B, H] ([L·D, H] unbatched; zeros when undefined), where D = 2 if bidirectional
/// else 1. It returns output [T, B, D·H] and h_n shaped like h_0. forward_with_packed_input does
/// the same over a PackedSequence. Dropout between layers applies only in training mode.
///
/// Parameters (as torch::nn::GRU): weight_ih_l[k] [3H, ·], weight_hh_l[k] [3H, H], bias_ih_l[k],
/// bias_hh_l[k] [3H] (gate order r, z, n), and the same with the suffix _reverse when
/// bidirectional.
///
/// Example:
/// ```
/// GRU model(GRUOptions(2, 4).num_layers(3).batch_first(false).bidirectional(true));
/// ```
class GRUImpl : public detail::RNNImplBase<GRUImpl> {
 public:
  GRUImpl(int64_t input_size, int64_t hidden_size)
      : GRUImpl(GRUOptions(input_size, hidden_size)) {}
  explicit GRUImpl(const GRUOptions& options_);

  std::tuple<torch::Tensor, torch::Tensor> forward(const torch::Tensor& input,
                                                   torch::Tensor hx = {});

 protected:
  FORWARD_HAS_DEFAULT_ARGS({1, torch::nn::AnyValue(torch::Tensor())})

 public:
  std::tuple<torch::nn::utils::rnn::PackedSequence, torch::Tensor> forward_with_packed_input(
      const torch::nn::utils::rnn::PackedSequence& packed_input, torch::Tensor hx = {});

  GRUOptions options;

 protected:
  void pretty_print_options(std::ostream& stream) const override;
  std::tuple<torch::Tensor, States> run_op(const torch::Tensor& input,
                                           const torch::Tensor& batch_sizes,
                                           const States& hx) override;
};

/// A ModuleHolder of GRUImpl, as torch::nn::GRU.
TORCH_MODULE(GRU);

// ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~ RNN ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~

/// A multi-layer Elman RNN, h' = tanh(W_ih x + b_ih + W_hh h + b_hh) (ReLU in place of tanh with
/// RNNOptions::nonlinearity(torch::kReLU)): torch::nn::RNN, run by torch_ext::rnn_tanh /
/// torch_ext::rnn_relu, with gradients.
///
/// forward(input, h_0) and forward_with_packed_input as GRU's. Parameters (as torch::nn::RNN):
/// weight_ih_l[k] [H, ·], weight_hh_l[k] [H, H], bias_ih_l[k], bias_hh_l[k] [H], and the same with
/// the suffix _reverse when bidirectional.
///
/// Example:
/// ```
/// RNN model(RNNOptions(2, 4).num_layers(3).nonlinearity(torch::kReLU).bidirectional(true));
/// ```
class RNNImpl : public detail::RNNImplBase<RNNImpl> {
 public:
  RNNImpl(int64_t input_size, int64_t hidden_size)
      : RNNImpl(RNNOptions(input_size, hidden_size)) {}
  explicit RNNImpl(const RNNOptions& options_);

  std::tuple<torch::Tensor, torch::Tensor> forward(const torch::Tensor& input,
                                                   torch::Tensor hx = {});

 protected:
  FORWARD_HAS_DEFAULT_ARGS({1, torch::nn::AnyValue(torch::Tensor())})

 public:
  std::tuple<torch::nn::utils::rnn::PackedSequence, torch::Tensor> forward_with_packed_input(
      const torch::nn::utils::rnn::PackedSequence& packed_input, torch::Tensor hx = {});

  RNNOptions options;

 protected:
  /// ", nonlinearity=kReLU" with ReLU (torch::nn::RNN prints no nonlinearity).
  void pretty_print_options(std::ostream& stream) const override;
  std::tuple<torch::Tensor, States> run_op(const torch::Tensor& input,
                                           const torch::Tensor& batch_sizes,
                                           const States& hx) override;
};

/// A ModuleHolder of RNNImpl, as torch::nn::RNN.
TORCH_MODULE(RNN);

}  // namespace torch_ext::nn
