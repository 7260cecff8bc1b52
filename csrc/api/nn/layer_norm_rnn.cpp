// torch_ext::nn's layer-normalised multi-layer modules (include/torch_ext/nn/modules/
// layer_norm_rnn.h): torch_ext::nn::LSTM's and GRU's argument handling (the shared base, whose
// members rnn.cpp instantiates) with the ln_* parameters and eps; the math is in the operators.
#include "torch_ext/nn/modules/layer_norm_rnn.h"

#include "api/nn/common.h"
#include "torch_ext/ops.h"

#include <utility>

namespace torch_ext::nn {
namespace {

constexpr int64_t kLstmGates = 4;
constexpr int64_t kGruGates = 3;

// One direction's parameters of `layer`: torch::nn's (`nn_parameters`), then the layer norms'.
template <typename ParameterSpec>
std::vector<ParameterSpec> with_layer_norm_parameters(std::vector<ParameterSpec> nn_parameters,
                                                      int64_t hidden_size, bool normalizes_cell) {
  const int64_t gate_size = nn_parameters.front().sizes.front();  // the rows of weight_ih
  for (auto& [stem, size] :
       detail::layer_norm_parameter_sizes(gate_size, hidden_size, normalizes_cell)) {
    nn_parameters.push_back({std::move(stem), {size}});
  }
  return nn_parameters;
}

}  // namespace

// ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~ LayerNormLSTM ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~

LayerNormLSTMImpl::LayerNormLSTMImpl(const LayerNormLSTMOptions& options_)
    : RNNImplBase(detail::base_options_of(options_), kLstmGates), options(options_) {
  detail::check_layer_norm_eps(options.eps());
  reset();
}

std::vector<LayerNormLSTMImpl::ParameterSpec> LayerNormLSTMImpl::direction_parameters(
    int64_t layer) const {
  return with_layer_norm_parameters(RNNImplBase::direction_parameters(layer),
                                    options_base.hidden_size(), /*normalizes_cell=*/true);
}

std::vector<int64_t> LayerNormLSTMImpl::state_features() const {
  return {options_base.hidden_size(), options_base.hidden_size()};  // h, c
}

void LayerNormLSTMImpl::pretty_print_options(std::ostream& stream) const {
  stream << ", eps=" << options.eps();
}

std::tuple<torch::Tensor, LayerNormLSTMImpl::States> LayerNormLSTMImpl::run_op(
    const torch::Tensor& input, const torch::Tensor& batch_sizes, const States& hx) {
  const detail::RNNOptionsBase& o = options_base;
  auto [output, h_n, c_n] =
      batch_sizes.defined()
          ? torch_ext::layer_norm_lstm(input, batch_sizes, hx, flat_weights_, o.bias(),
                                       o.num_layers(), o.dropout(), is_training(),
                                       o.bidirectional(), options.eps())
          : torch_ext::layer_norm_lstm(input, hx, flat_weights_, o.bias(), o.num_layers(),
                                       o.dropout(), is_training(), o.bidirectional(),
                                       o.batch_first(), options.eps());
  return {output, States{h_n, c_n}};
}

std::tuple<torch::Tensor, std::tuple<torch::Tensor, torch::Tensor>> LayerNormLSTMImpl::forward(
    const torch::Tensor& input, std::optional<std::tuple<torch::Tensor, torch::Tensor>> hx_opt) {
  auto [output, hy] = forward_padded(input, detail::to_states(hx_opt));
  return {output, detail::to_pair(hy)};
}

std::tuple<torch::nn::utils::rnn::PackedSequence, std::tuple<torch::Tensor, torch::Tensor>>
LayerNormLSTMImpl::forward_with_packed_input(
    const torch::nn::utils::rnn::PackedSequence& packed_input,
    std::optional<std::tuple<torch::Tensor, torch::Tensor>> hx_opt) {
  auto [output, hy] = forward_packed(packed_input, detail::to_states(hx_opt));
  return {output, detail::to_pair(hy)};
}

// ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~ LayerNormGRU ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~

LayerNormGRUImpl::LayerNormGRUImpl(const LayerNormGRUOptions& options_)
    : RNNImplBase(detail::base_options_of(options_), kGruGates), options(options_) {
  detail::check_layer_norm_eps(options.eps());
  reset();
}

std::vector<LayerNormGRUImpl::ParameterSpec> LayerNormGRUImpl::direction_parameters(
    int64_t layer) const {
  return with_layer_norm_parameters(RNNImplBase::direction_parameters(layer),
                                    options_base.hidden_size(), /*normalizes_cell=*/false);
}

void LayerNormGRUImpl::pretty_print_options(std::ostream& stream) const {
  stream << ", eps=" << options.eps();
}

std::tuple<torch::Tensor, LayerNormGRUImpl::States> LayerNormGRUImpl::run_op(
    const torch::Tensor& input, const torch::Tensor& batch_sizes, const States& hx) {
  const detail::RNNOptionsBase& o = options_base;
  auto [output, h_n] =
      batch_sizes.defined()
          ? torch_ext::layer_norm_gru(input, batch_sizes, hx[0], flat_weights_, o.bias(),
                                      o.num_layers(), o.dropout(), is_training(),
                                      o.bidirectional(), options.eps())
          : torch_ext::layer_norm_gru(input, hx[0], flat_weights_, o.bias(), o.num_layers(),
                                      o.dropout(), is_training(), o.bidirectional(),
                                      o.batch_first(), options.eps());
  return {output, States{h_n}};
}

std::tuple<torch::Tensor, torch::Tensor> LayerNormGRUImpl::forward(const torch::Tensor& input,
                                                                   torch::Tensor hx) {
  auto [output, hy] = forward_padded(input, detail::to_states(hx));
  return {output, detail::to_tensor(hy)};
}

std::tuple<torch::nn::utils::rnn::PackedSequence, torch::Tensor>
LayerNormGRUImpl::forward_with_packed_input(
    const torch::nn::utils::rnn::PackedSequence& packed_input, torch::Tensor hx) {
  auto [output, hy] = forward_packed(packed_input, detail::to_states(hx));
  return {output, detail::to_tensor(hy)};
}

}  // namespace torch_ext::nn
