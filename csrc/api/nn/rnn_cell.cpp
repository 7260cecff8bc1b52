// torch_ext::nn's single-step cells (include/torch_ext/nn/modules/rnn_cell.h): argument handling
// only, with torch::nn's checks and messages; the math is in the cell operators they call. The
// base's members are instantiated here for every cell, the layer-normalised ones
// (layer_norm_rnn_cell.cpp) included.
#include "torch_ext/nn/modules/rnn_cell.h"

#include "api/nn/common.h"
#include "torch_ext/nn/modules/layer_norm_rnn_cell.h"
#include "torch_ext/ops.h"

#include <c10/util/Exception.h>
#include <c10/util/irange.h>
#include <torch/enum.h>

#include <utility>
#include <variant>

namespace torch_ext::nn {
namespace detail {

template <typename Derived>
RNNCellImplBase<Derived>::RNNCellImplBase(const RNNCellOptionsBase& options_)
    : options_base(options_) {}

template <typename Derived>
void RNNCellImplBase<Derived>::reset() {
  register_parameters();
  reset_parameters();
}

template <typename Derived>
void RNNCellImplBase<Derived>::register_parameters() {
  const int64_t gate_size = options_base.num_chunks() * options_base.hidden_size();
  weight_ih = this->register_parameter("weight_ih",
                                       torch::empty({gate_size, options_base.input_size()}));
  weight_hh = this->register_parameter("weight_hh",
                                       torch::empty({gate_size, options_base.hidden_size()}));
  if (options_base.bias()) {
    bias_ih = this->register_parameter("bias_ih", torch::empty({gate_size}));
    bias_hh = this->register_parameter("bias_hh", torch::empty({gate_size}));
  } else {
    // Registered undefined, as torch::nn does: named_parameters() leaves them out.
    bias_ih = this->register_parameter("bias_ih", torch::Tensor(), /*requires_grad=*/false);
    bias_hh = this->register_parameter("bias_hh", torch::Tensor(), /*requires_grad=*/false);
  }
}

template <typename Derived>
void RNNCellImplBase<Derived>::reset_parameters() {
  reset_recurrent_parameters(*this, options_base.hidden_size());
}

template <typename Derived>
void RNNCellImplBase<Derived>::pretty_print(std::ostream& stream) const {
  const std::string& name = this->name();
  stream << name.substr(0, name.size() - 4)  // without "Impl"
         << "(" << options_base.input_size() << ", " << options_base.hidden_size();
  if (!options_base.bias()) {
    stream << ", bias=" << std::boolalpha << false;
  }
  const std::string nonlinearity = get_nonlinearity_str();
  if (!nonlinearity.empty() && nonlinearity != "kTanh") {
    stream << ", nonlinearity=" << nonlinearity;
  }
  pretty_print_options(stream);
  stream << ")";
}

template <typename Derived>
void RNNCellImplBase<Derived>::pretty_print_options(std::ostream& /*stream*/) const {}

template <typename Derived>
std::string RNNCellImplBase<Derived>::get_nonlinearity_str() const {
  return "";
}

template <typename Derived>
void RNNCellImplBase<Derived>::check_forward_input(const torch::Tensor& input,
                                                   const std::string& name) const {
  const std::string cell = short_module_name(this->name());
  TORCH_CHECK(input.defined(), cell, ": expected ", name,
              " to be a tensor, got an undefined tensor");
  TORCH_CHECK(input.dim() == 1 || input.dim() == 2, cell, ": Expected ", name,
              " to be 1D or 2D, got ", input.dim(), "D instead");
}

template <typename Derived>
typename RNNCellImplBase<Derived>::States RNNCellImplBase<Derived>::forward_states(
    const torch::Tensor& input, std::optional<States> hx, size_t num_states) {
  check_forward_input(input, "input");
  if (hx.has_value()) {
    TORCH_CHECK(hx->size() == num_states, short_module_name(this->name()),
                ": expected a state of ", num_states, " tensors, got ", hx->size());
    for (const auto k : c10::irange(num_states)) {
      check_forward_input((*hx)[k], num_states == 1 ? "hidden" : "hx[" + std::to_string(k) + "]");
    }
  }
  const bool is_batched = input.dim() == 2;
  const torch::Tensor batched_input = is_batched ? input : input.unsqueeze(0);
  States batched_hx;
  if (hx.has_value()) {
    batched_hx = std::move(*hx);
    if (!is_batched) {
      // torch::nn would hand ATen a 3-D state here, which it may read out of bounds.
      for (const auto k : c10::irange(num_states)) {
        TORCH_CHECK(batched_hx[k].dim() == 1, short_module_name(this->name()),
                    ": For unbatched 1-D input, ",
                    num_states == 1 ? std::string("hx") : "hx[" + std::to_string(k) + "]",
                    " should also be 1-D but got ", batched_hx[k].dim(), "-D tensor");
        batched_hx[k] = batched_hx[k].unsqueeze(0);
      }
    }
  } else {
    // The batch of the (unsqueezed) input; torch::nn's C++ cells read the unbatched input's
    // size(0), its feature count, there.
    const torch::Tensor zeros =
        torch::zeros({batched_input.size(0), options_base.hidden_size()},
                     torch::dtype(input.scalar_type()).device(input.device()));
    batched_hx.assign(num_states, zeros);
  }
  States result = run_op(batched_input, batched_hx);
  if (!is_batched) {
    for (torch::Tensor& state : result) {
      state = state.squeeze(0);
    }
  }
  return result;
}

}  // namespace detail

// ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~ LSTMCell ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~

namespace {
constexpr int64_t kLstmGates = 4;
}  // namespace

LSTMCellImpl::LSTMCellImpl(const LSTMCellOptions& options_)
    : RNNCellImplBase(detail::RNNCellOptionsBase(options_.input_size(), options_.hidden_size(),
                                                 options_.bias(), kLstmGates)),
      options(options_) {
  reset();
}

LSTMCellImpl::States LSTMCellImpl::run_op(const torch::Tensor& input, const States& hx) {
  auto [h, c] = torch_ext::lstm_cell(input, hx, weight_ih, weight_hh, bias_ih, bias_hh);
  return {h, c};
}

std::tuple<torch::Tensor, torch::Tensor> LSTMCellImpl::forward(
    const torch::Tensor& input, std::optional<std::tuple<torch::Tensor, torch::Tensor>> hx_opt) {
  return detail::to_pair(forward_states(input, detail::to_states(hx_opt), /*num_states=*/2));
}

// ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~ GRUCell, RNNCell ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~

namespace {
constexpr int64_t kGruGates = 3;
constexpr int64_t kRnnGates = 1;
}  // namespace

GRUCellImpl::GRUCellImpl(const GRUCellOptions& options_)
    : RNNCellImplBase(detail::RNNCellOptionsBase(options_.input_size(), options_.hidden_size(),
                                                 options_.bias(), kGruGates)),
      options(options_) {
  reset();
}

void GRUCellImpl::pretty_print_options(std::ostream& stream) const {
  if (!options.reset_after()) {
    stream << ", reset_after=false";
  }
}

GRUCellImpl::States GRUCellImpl::run_op(const torch::Tensor& input, const States& hx) {
  const auto cell =
      options.reset_after() ? &torch_ext::gru_cell : &torch_ext::gru_reset_before_cell;
  return {cell(input, hx[0], weight_ih, weight_hh, bias_ih, bias_hh)};
}

torch::Tensor GRUCellImpl::forward(const torch::Tensor& input, const torch::Tensor& hx) {
  return detail::to_tensor(forward_states(input, detail::to_states(hx), /*num_states=*/1));
}

RNNCellImpl::RNNCellImpl(const RNNCellOptions& options_)
    : RNNCellImplBase(detail::RNNCellOptionsBase(options_.input_size(), options_.hidden_size(),
                                                 options_.bias(), kRnnGates)),
      options(options_) {
  reset();
}

std::string RNNCellImpl::get_nonlinearity_str() const {
  return torch::enumtype::get_enum_name(options.nonlinearity());
}

RNNCellImpl::States RNNCellImpl::run_op(const torch::Tensor& input, const States& hx) {
  const auto cell = std::holds_alternative<torch::enumtype::kReLU>(options.nonlinearity())
                        ? &torch_ext::rnn_relu_cell
                        : &torch_ext::rnn_tanh_cell;
  return {cell(input, hx[0], weight_ih, weight_hh, bias_ih, bias_hh)};
}

torch::Tensor RNNCellImpl::forward(const torch::Tensor& input, const torch::Tensor& hx) {
  return detail::to_tensor(forward_states(input, detail::to_states(hx), /*num_states=*/1));
}

namespace detail {
template class RNNCellImplBase<LSTMCellImpl>;
template class RNNCellImplBase<GRUCellImpl>;
template class RNNCellImplBase<RNNCellImpl>;
template class RNNCellImplBase<LayerNormLSTMCellImpl>;
template class RNNCellImplBase<LayerNormGRUCellImpl>;
}  // namespace detail

}  // namespace torch_ext::nn
