// torch_ext::nn's multi-layer recurrent modules (include/torch_ext/nn/modules/rnn.h): argument
// handling only, with torch::nn's checks and messages; the math is in the operators they call.
// The base's members are instantiated here for every module, the layer-normalised ones
// (layer_norm_rnn.cpp) included.
#include "torch_ext/nn/modules/rnn.h"

#include "api/nn/common.h"
#include "torch_ext/nn/modules/layer_norm_rnn.h"
#include "torch_ext/ops.h"

#include <c10/util/Exception.h>
#include <c10/util/irange.h>
#include <torch/enum.h>

#include <sstream>
#include <utility>
#include <variant>

namespace torch_ext::nn {
namespace detail {
namespace {

using torch::Tensor;
using torch::nn::utils::rnn::PackedSequence;

// The state's tensors reordered along the batch dimension; an undefined permutation keeps them.
std::vector<Tensor> permute_states(std::vector<Tensor> states, const Tensor& permutation) {
  if (permutation.defined()) {
    for (Tensor& state : states) {
      state = state.index_select(1, permutation);
    }
  }
  return states;
}

// "(2-D, 3-D) tensors" for two states, "2-D tensor" for one: the tail of torch.nn's message.
std::string state_dims_text(const std::vector<Tensor>& states) {
  std::ostringstream text;
  if (states.size() == 1) {
    text << states[0].dim() << "-D tensor";
    return text.str();
  }
  text << "(";
  for (const auto k : c10::irange(states.size())) {
    text << (k > 0 ? ", " : "") << states[k].dim() << "-D";
  }
  text << ") tensors";
  return text.str();
}

// torch::nn's message templates: "{1}" is the expected size, "{2}" the actual one.
std::string format_message(std::string message, const std::string& expected,
                           const std::string& actual) {
  const auto replace = [&message](const std::string& key, const std::string& value) {
    const size_t at = message.find(key);
    if (at != std::string::npos) {
      message.replace(at, key.size(), value);
    }
  };
  replace("{1}", expected);
  replace("{2}", actual);
  return message;
}

}  // namespace

template <typename Derived>
RNNImplBase<Derived>::RNNImplBase(const RNNOptionsBase& options_base_, int64_t gates)
    : options_base(options_base_), gates_(gates) {}

template <typename Derived>
void RNNImplBase<Derived>::reset() {
  const RNNOptionsBase& options = options_base;
  TORCH_CHECK(0 <= options.dropout() && options.dropout() <= 1,
              "dropout should be a number in range [0, 1] representing the probability of an "
              "element being zeroed");
  if (options.dropout() > 0 && options.num_layers() == 1) {
    TORCH_WARN(
        "dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
        "expects num_layers greater than 1, but got dropout=",
        options.dropout(), " and num_layers=", options.num_layers());
  }
  TORCH_CHECK(options.input_size() > 0, "input_size must be greater than zero");
  TORCH_CHECK(options.hidden_size() > 0, "hidden_size must be greater than zero");
  TORCH_CHECK(options.num_layers() > 0, "num_layers must be greater than zero");
  TORCH_CHECK(0 <= options.proj_size() && options.proj_size() < options.hidden_size(),
              "proj_size has to be a positive integer, smaller than hidden_size or zero to "
              "disable projections");

  flat_weights_names_.clear();
  all_weights_.clear();
  for (const auto layer : c10::irange(options.num_layers())) {
    for (const auto direction : c10::irange(num_directions())) {
      const std::string suffix =
          "_l" + std::to_string(layer) + (direction == 1 ? "_reverse" : "");
      std::vector<std::string> names;
      for (const ParameterSpec& parameter : direction_parameters(layer)) {
        names.push_back(parameter.stem + suffix);
        this->register_parameter(names.back(), torch::empty(parameter.sizes));
      }
      flat_weights_names_.insert(flat_weights_names_.end(), names.begin(), names.end());
      all_weights_.push_back(std::move(names));
    }
  }
  reset_flat_weights();
  reset_parameters();
}

template <typename Derived>
std::vector<typename RNNImplBase<Derived>::ParameterSpec>
RNNImplBase<Derived>::direction_parameters(int64_t layer) const {
  const int64_t gate_size = gates_ * options_base.hidden_size();
  const int64_t layer_input_size =
      layer == 0 ? options_base.input_size() : real_hidden_size() * num_directions();
  std::vector<ParameterSpec> parameters{{"weight_ih", {gate_size, layer_input_size}},
                                        {"weight_hh", {gate_size, real_hidden_size()}}};
  if (options_base.bias()) {
    parameters.push_back({"bias_ih", {gate_size}});
    parameters.push_back({"bias_hh", {gate_size}});
  }
  if (options_base.proj_size() > 0) {
    parameters.push_back({"weight_hr", {options_base.proj_size(), options_base.hidden_size()}});
  }
  return parameters;
}

template <typename Derived>
std::vector<int64_t> RNNImplBase<Derived>::state_features() const {
  return {real_hidden_size()};
}

template <typename Derived>
void RNNImplBase<Derived>::reset_parameters() {
  reset_recurrent_parameters(*this, options_base.hidden_size());
}

template <typename Derived>
void RNNImplBase<Derived>::pretty_print_options(std::ostream& /*stream*/) const {}

template <typename Derived>
void RNNImplBase<Derived>::reset_flat_weights() {
  const auto named_parameters = this->named_parameters(/*recurse=*/false);
  flat_weights_.clear();
  for (const std::string& name : flat_weights_names_) {
    const Tensor* parameter = named_parameters.find(name);
    flat_weights_.push_back(parameter != nullptr ? *parameter : Tensor());
  }
}

template <typename Derived>
void RNNImplBase<Derived>::to(torch::Device device, torch::Dtype dtype, bool non_blocking) {
  torch::nn::Module::to(device, dtype, non_blocking);
  reset_flat_weights();
}

template <typename Derived>
void RNNImplBase<Derived>::to(torch::Dtype dtype, bool non_blocking) {
  torch::nn::Module::to(dtype, non_blocking);
  reset_flat_weights();
}

template <typename Derived>
void RNNImplBase<Derived>::to(torch::Device device, bool non_blocking) {
  torch::nn::Module::to(device, non_blocking);
  reset_flat_weights();
}

template <typename Derived>
void RNNImplBase<Derived>::flatten_parameters() {}

template <typename Derived>
void RNNImplBase<Derived>::pretty_print(std::ostream& stream) const {
  const std::string& name = this->name();
  stream << std::boolalpha << name.substr(0, name.size() - 4)  // without "Impl"
         << "(input_size=" << options_base.input_size()
         << ", hidden_size=" << options_base.hidden_size()
         << ", num_layers=" << options_base.num_layers() << ", bias=" << options_base.bias()
         << ", batch_first=" << options_base.batch_first()
         << ", dropout=" << options_base.dropout()
         << ", bidirectional=" << options_base.bidirectional();
  if (options_base.proj_size() > 0) {
    stream << ", proj_size=" << options_base.proj_size();
  }
  pretty_print_options(stream);
  stream << ")";
}

template <typename Derived>
std::vector<Tensor> RNNImplBase<Derived>::all_weights() const {
  const auto named_parameters = this->named_parameters(/*recurse=*/false);
  std::vector<Tensor> result;
  for (const auto& names : all_weights_) {
    for (const std::string& name : names) {
      result.push_back(named_parameters[name]);
    }
  }
  return result;
}

// --- checks -------------------------------------------------------------------------------------

template <typename Derived>
void RNNImplBase<Derived>::check_input(const Tensor& input, const Tensor& batch_sizes) const {
  const int64_t expected_input_dim = batch_sizes.defined() ? 2 : 3;
  TORCH_CHECK(input.dim() == expected_input_dim, "input must have ", expected_input_dim,
              " dimensions, got ", input.dim());
  TORCH_CHECK(options_base.input_size() == input.size(-1),
              "input.size(-1) must be equal to input_size. Expected ", options_base.input_size(),
              ", got ", input.size(-1));
  const Tensor& weight = flat_weights_.front();
  TORCH_CHECK(input.scalar_type() == weight.scalar_type(), short_module_name(this->name()),
              ": input dtype (", input.scalar_type(), ") does not match weight dtype (",
              weight.scalar_type(), "). Convert input: input.to(torch::k", weight.scalar_type(),
              "), or convert model: model->to(torch::k", input.scalar_type(), ")");
}

template <typename Derived>
std::tuple<int64_t, int64_t, int64_t> RNNImplBase<Derived>::get_expected_hidden_size(
    const Tensor& input, const Tensor& batch_sizes) const {
  const int64_t mini_batch = batch_sizes.defined() ? batch_sizes[0].item<int64_t>()
                             : options_base.batch_first() ? input.size(0)
                                                          : input.size(1);
  return {options_base.num_layers() * num_directions(), mini_batch, real_hidden_size()};
}

template <typename Derived>
void RNNImplBase<Derived>::check_hidden_size(
    const Tensor& hx, std::tuple<int64_t, int64_t, int64_t> expected_hidden_size,
    const std::string& msg) const {
  const std::vector<int64_t> expected{std::get<0>(expected_hidden_size),
                                      std::get<1>(expected_hidden_size),
                                      std::get<2>(expected_hidden_size)};
  // torch::nn prints the expected size as "2 3 5" (c10::str of a vector); both as "[2, 3, 5]" here.
  const std::string expected_text = c10::str(c10::IntArrayRef(expected));
  TORCH_CHECK(hx.defined(), format_message(msg, expected_text, "an undefined tensor"));
  TORCH_CHECK(hx.sizes() == c10::IntArrayRef(expected),
              format_message(msg, expected_text, c10::str(hx.sizes())));
}

template <typename Derived>
void RNNImplBase<Derived>::check_forward_args(const Tensor& input, const States& hidden,
                                              const Tensor& batch_sizes) const {
  check_input(input, batch_sizes);
  const auto expected = get_expected_hidden_size(input, batch_sizes);
  const std::vector<int64_t> features = state_features();
  for (const auto k : c10::irange(features.size())) {
    const std::string msg = features.size() == 1
                                ? "Expected hidden size {1}, got {2}"
                                : "Expected hidden[" + std::to_string(k) + "] size {1}, got {2}";
    check_hidden_size(hidden[k], {std::get<0>(expected), std::get<1>(expected), features[k]},
                      msg);
  }
}

// --- forward ------------------------------------------------------------------------------------

template <typename Derived>
std::tuple<Tensor, typename RNNImplBase<Derived>::States> RNNImplBase<Derived>::forward_helper(
    const Tensor& input, const Tensor& batch_sizes, const Tensor& sorted_indices,
    int64_t max_batch_size, std::optional<States> hx_opt) {
  const std::vector<int64_t> features = state_features();
  States hx;
  if (hx_opt.has_value()) {
    TORCH_CHECK(hx_opt->size() == features.size(), short_module_name(this->name()),
                ": expected a state of ", features.size(), " tensors, got ", hx_opt->size());
    // Each sequence's initial state goes where its sequence sits in the packed batch.
    hx = permute_states(std::move(*hx_opt), sorted_indices);
  } else {
    const int64_t layers = options_base.num_layers() * num_directions();
    for (const int64_t size : features) {
      hx.push_back(torch::zeros({layers, max_batch_size, size},
                                torch::dtype(input.scalar_type()).device(input.device())));
    }
  }
  check_forward_args(input, hx, batch_sizes);
  return run_op(input, batch_sizes, hx);
}

template <typename Derived>
std::tuple<Tensor, typename RNNImplBase<Derived>::States> RNNImplBase<Derived>::forward_padded(
    const Tensor& input, std::optional<States> hx) {
  const std::string name = short_module_name(this->name());
  TORCH_CHECK(input.defined(), name, ": expected input to be a tensor, got an undefined tensor");
  TORCH_CHECK(input.dim() == 2 || input.dim() == 3, name,
              ": Expected input to be 2D or 3D, got ", input.dim(), "D instead");
  const bool is_batched = input.dim() == 3;
  const int64_t batch_dim = options_base.batch_first() ? 0 : 1;
  if (hx.has_value()) {
    bool dims_match = true;
    for (const Tensor& state : *hx) {
      TORCH_CHECK(state.defined(), name,
                  ": expected every tensor of the initial state to be defined");
      dims_match = dims_match && state.dim() == input.dim();
    }
    const std::string state_names = hx->size() == 1 ? "hx" : "hx and cx";
    TORCH_CHECK(dims_match, "For ", is_batched ? "batched 3-D" : "unbatched 2-D", " input, ",
                state_names, " should also be ", input.dim(), "-D but got ",
                state_dims_text(*hx));
    if (!is_batched) {
      for (Tensor& state : *hx) {
        state = state.unsqueeze(1);
      }
    }
  }
  const Tensor batched_input = is_batched ? input : input.unsqueeze(batch_dim);
  auto [output, hy] = forward_helper(batched_input, /*batch_sizes=*/{}, /*sorted_indices=*/{},
                                     batched_input.size(batch_dim), std::move(hx));
  if (!is_batched) {
    output = output.squeeze(batch_dim);
    for (Tensor& state : hy) {
      state = state.squeeze(1);
    }
  }
  return {output, hy};
}

template <typename Derived>
std::tuple<PackedSequence, typename RNNImplBase<Derived>::States>
RNNImplBase<Derived>::forward_packed(const PackedSequence& packed_input, std::optional<States> hx) {
  const Tensor& batch_sizes = packed_input.batch_sizes();
  TORCH_CHECK(batch_sizes.defined() && batch_sizes.dim() == 1 && batch_sizes.numel() > 0,
              short_module_name(this->name()),
              ": expected a PackedSequence with a non-empty 1-D batch_sizes");
  const int64_t max_batch_size = batch_sizes[0].item<int64_t>();
  auto [output, hy] = forward_helper(packed_input.data(), batch_sizes,
                                     packed_input.sorted_indices(), max_batch_size, std::move(hx));
  return {PackedSequence(output, batch_sizes, packed_input.sorted_indices(),
                         packed_input.unsorted_indices()),
          permute_states(std::move(hy), packed_input.unsorted_indices())};
}

}  // namespace detail

namespace {

constexpr int64_t kLstmGates = 4;
constexpr int64_t kGruGates = 3;
constexpr int64_t kRnnGates = 1;

// The operator functions of a one-state recurrence (torch_ext::gru & co.): padded and packed.
using PaddedStateOp = std::tuple<torch::Tensor, torch::Tensor> (*)(
    const torch::Tensor&, const torch::Tensor&, at::TensorList, bool, int64_t, double, bool, bool,
    bool);
using PackedStateOp = std::tuple<torch::Tensor, torch::Tensor> (*)(
    const torch::Tensor&, const torch::Tensor&, const torch::Tensor&, at::TensorList, bool,
    int64_t, double, bool, bool);

// Runs the padded or packed operator of a one-state recurrence with a module's options.
std::tuple<torch::Tensor, std::vector<torch::Tensor>> run_state_op(
    PaddedStateOp padded, PackedStateOp packed, const torch::Tensor& input,
    const torch::Tensor& batch_sizes, const torch::Tensor& hx,
    const std::vector<torch::Tensor>& params, const detail::RNNOptionsBase& o, bool train) {
  auto [output, h_n] =
      batch_sizes.defined()
          ? packed(input, batch_sizes, hx, params, o.bias(), o.num_layers(), o.dropout(), train,
                   o.bidirectional())
          : padded(input, hx, params, o.bias(), o.num_layers(), o.dropout(), train,
                   o.bidirectional(), o.batch_first());
  return {output, {h_n}};
}

}  // namespace

// ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~ LSTM ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~

LSTMImpl::LSTMImpl(const LSTMOptions& options_)
    : RNNImplBase(detail::base_options_of(options_).proj_size(options_.proj_size()), kLstmGates),
      options(options_) {
  reset();
}

std::vector<int64_t> LSTMImpl::state_features() const {
  return {real_hidden_size(), options_base.hidden_size()};  // h, c
}

std::tuple<torch::Tensor, LSTMImpl::States> LSTMImpl::run_op(const torch::Tensor& input,
                                                             const torch::Tensor& batch_sizes,
                                                             const States& hx) {
  const detail::RNNOptionsBase& o = options_base;
  auto [output, h_n, c_n] =
      batch_sizes.defined()
          ? torch_ext::lstm(input, batch_sizes, hx, flat_weights_, o.bias(), o.num_layers(),
                            o.dropout(), is_training(), o.bidirectional())
          : torch_ext::lstm(input, hx, flat_weights_, o.bias(), o.num_layers(), o.dropout(),
                            is_training(), o.bidirectional(), o.batch_first());
  return {output, States{h_n, c_n}};
}

std::tuple<torch::Tensor, std::tuple<torch::Tensor, torch::Tensor>> LSTMImpl::forward(
    const torch::Tensor& input, std::optional<std::tuple<torch::Tensor, torch::Tensor>> hx_opt) {
  auto [output, hy] = forward_padded(input, detail::to_states(hx_opt));
  return {output, detail::to_pair(hy)};
}

std::tuple<torch::nn::utils::rnn::PackedSequence, std::tuple<torch::Tensor, torch::Tensor>>
LSTMImpl::forward_with_packed_input(
    const torch::nn::utils::rnn::PackedSequence& packed_input,
    std::optional<std::tuple<torch::Tensor, torch::Tensor>> hx_opt) {
  auto [output, hy] = forward_packed(packed_input, detail::to_states(hx_opt));
  return {output, detail::to_pair(hy)};
}

// ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~ GRU, RNN ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~

GRUImpl::GRUImpl(const GRUOptions& options_)
    : RNNImplBase(detail::base_options_of(options_), kGruGates), options(options_) {
  reset();
}

void GRUImpl::pretty_print_options(std::ostream& stream) const {
  if (!options.reset_after()) {
    stream << ", reset_after=false";
  }
}

std::tuple<torch::Tensor, GRUImpl::States> GRUImpl::run_op(const torch::Tensor& input,
                                                           const torch::Tensor& batch_sizes,
                                                           const States& hx) {
  const bool reset_after = options.reset_after();
  return run_state_op(reset_after ? PaddedStateOp(&torch_ext::gru)
                                  : PaddedStateOp(&torch_ext::gru_reset_before),
                      reset_after ? PackedStateOp(&torch_ext::gru)
                                  : PackedStateOp(&torch_ext::gru_reset_before),
                      input, batch_sizes, hx[0], flat_weights_, options_base, is_training());
}

std::tuple<torch::Tensor, torch::Tensor> GRUImpl::forward(const torch::Tensor& input,
                                                          torch::Tensor hx) {
  auto [output, hy] = forward_padded(input, detail::to_states(hx));
  return {output, detail::to_tensor(hy)};
}

std::tuple<torch::nn::utils::rnn::PackedSequence, torch::Tensor>
GRUImpl::forward_with_packed_input(const torch::nn::utils::rnn::PackedSequence& packed_input,
                                   torch::Tensor hx) {
  auto [output, hy] = forward_packed(packed_input, detail::to_states(hx));
  return {output, detail::to_tensor(hy)};
}

RNNImpl::RNNImpl(const RNNOptions& options_)
    : RNNImplBase(detail::base_options_of(options_), kRnnGates), options(options_) {
  reset();
}

void RNNImpl::pretty_print_options(std::ostream& stream) const {
  if (std::holds_alternative<torch::enumtype::kReLU>(options.nonlinearity())) {
    stream << ", nonlinearity=" << torch::enumtype::get_enum_name(options.nonlinearity());
  }
}

std::tuple<torch::Tensor, RNNImpl::States> RNNImpl::run_op(const torch::Tensor& input,
                                                           const torch::Tensor& batch_sizes,
                                                           const States& hx) {
  const bool relu = std::holds_alternative<torch::enumtype::kReLU>(options.nonlinearity());
  return run_state_op(relu ? PaddedStateOp(&torch_ext::rnn_relu)
                           : PaddedStateOp(&torch_ext::rnn_tanh),
                      relu ? PackedStateOp(&torch_ext::rnn_relu)
                           : PackedStateOp(&torch_ext::rnn_tanh),
                      input, batch_sizes, hx[0], flat_weights_, options_base, is_training());
}

std::tuple<torch::Tensor, torch::Tensor> RNNImpl::forward(const torch::Tensor& input,
                                                          torch::Tensor hx) {
  auto [output, hy] = forward_padded(input, detail::to_states(hx));
  return {output, detail::to_tensor(hy)};
}

std::tuple<torch::nn::utils::rnn::PackedSequence, torch::Tensor>
RNNImpl::forward_with_packed_input(const torch::nn::utils::rnn::PackedSequence& packed_input,
                                   torch::Tensor hx) {
  auto [output, hy] = forward_packed(packed_input, detail::to_states(hx));
  return {output, detail::to_tensor(hy)};
}

namespace detail {
template class RNNImplBase<LSTMImpl>;
template class RNNImplBase<GRUImpl>;
template class RNNImplBase<RNNImpl>;
template class RNNImplBase<LayerNormLSTMImpl>;
template class RNNImplBase<LayerNormGRUImpl>;
}  // namespace detail

}  // namespace torch_ext::nn
