// torch_ext::nn's layer-normalised cells (include/torch_ext/nn/modules/layer_norm_rnn_cell.h):
// torch_ext::nn::LSTMCell's and GRUCell's argument handling (the shared base, whose members
// rnn_cell.cpp instantiates) with the ln_* parameters and eps; the math is in the cell operators.
#include "torch_ext/nn/modules/layer_norm_rnn_cell.h"

#include "api/nn/common.h"
#include "torch_ext/ops.h"

#include <string>
#include <utility>
#include <vector>

namespace torch_ext::nn {
namespace {

constexpr int64_t kLstmGates = 4;
constexpr int64_t kGruGates = 3;

// Registers a cell's layer-norm parameters after its torch::nn ones and returns them in the
// operators' order (ln_ih_weight, ln_ih_bias, ln_hh_weight, ln_hh_bias[, ln_cell_weight,
// ln_cell_bias]); reset_parameters sets their values.
std::vector<torch::Tensor> register_layer_norm_parameters(
    torch::nn::Module& cell, const detail::RNNCellOptionsBase& options, bool normalizes_cell) {
  std::vector<torch::Tensor> parameters;
  for (const auto& [name, size] : detail::layer_norm_parameter_sizes(
           options.num_chunks() * options.hidden_size(), options.hidden_size(),
           normalizes_cell)) {
    parameters.push_back(cell.register_parameter(name, torch::empty({size})));
  }
  return parameters;
}

// The parameters in the cell operators' order: the registration order, without absent biases.
std::vector<torch::Tensor> operator_params(const torch::nn::Module& cell) {
  return cell.parameters(/*recurse=*/false);
}

}  // namespace

// ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~ LayerNormLSTMCell ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~

LayerNormLSTMCellImpl::LayerNormLSTMCellImpl(const LayerNormLSTMCellOptions& options_)
    : RNNCellImplBase(detail::RNNCellOptionsBase(options_.input_size(), options_.hidden_size(),
                                                 options_.bias(), kLstmGates)),
      options(options_) {
  detail::check_layer_norm_eps(options.eps());
  reset();
}

void LayerNormLSTMCellImpl::register_parameters() {
  RNNCellImplBase::register_parameters();
  const std::vector<torch::Tensor> parameters =
      register_layer_norm_parameters(*this, options_base, /*normalizes_cell=*/true);
  ln_ih_weight = parameters[0];
  ln_ih_bias = parameters[1];
  ln_hh_weight = parameters[2];
  ln_hh_bias = parameters[3];
  ln_cell_weight = parameters[4];
  ln_cell_bias = parameters[5];
}

void LayerNormLSTMCellImpl::pretty_print_options(std::ostream& stream) const {
  if (options.eps() != kLayerNormDefaultEps) {
    stream << ", eps=" << options.eps();
  }
}

LayerNormLSTMCellImpl::States LayerNormLSTMCellImpl::run_op(const torch::Tensor& input,
                                                            const States& hx) {
  auto [h, c] = torch_ext::layer_norm_lstm_cell(input, hx, operator_params(*this),
                                                options_base.bias(), options.eps());
  return {h, c};
}

std::tuple<torch::Tensor, torch::Tensor> LayerNormLSTMCellImpl::forward(
    const torch::Tensor& input, std::optional<std::tuple<torch::Tensor, torch::Tensor>> hx_opt) {
  return detail::to_pair(forward_states(input, detail::to_states(hx_opt), /*num_states=*/2));
}

// ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~ LayerNormGRUCell ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~

LayerNormGRUCellImpl::LayerNormGRUCellImpl(const LayerNormGRUCellOptions& options_)
    : RNNCellImplBase(detail::RNNCellOptionsBase(options_.input_size(), options_.hidden_size(),
                                                 options_.bias(), kGruGates)),
      options(options_) {
  detail::check_layer_norm_eps(options.eps());
  reset();
}

void LayerNormGRUCellImpl::register_parameters() {
  RNNCellImplBase::register_parameters();
  const std::vector<torch::Tensor> parameters =
      register_layer_norm_parameters(*this, options_base, /*normalizes_cell=*/false);
  ln_ih_weight = parameters[0];
  ln_ih_bias = parameters[1];
  ln_hh_weight = parameters[2];
  ln_hh_bias = parameters[3];
}

void LayerNormGRUCellImpl::pretty_print_options(std::ostream& stream) const {
  if (options.eps() != kLayerNormDefaultEps) {
    stream << ", eps=" << options.eps();
  }
}

LayerNormGRUCellImpl::States LayerNormGRUCellImpl::run_op(const torch::Tensor& input,
                                                          const States& hx) {
  return {torch_ext::layer_norm_gru_cell(input, hx[0], operator_params(*this), options_base.bias(),
                                         options.eps())};
}

torch::Tensor LayerNormGRUCellImpl::forward(const torch::Tensor& input, const torch::Tensor& hx) {
  return detail::to_tensor(forward_states(input, detail::to_states(hx), /*num_states=*/1));
}

}  // namespace torch_ext::nn
