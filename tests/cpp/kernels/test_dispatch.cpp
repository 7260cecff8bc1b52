// The per-CPU-capability variants of the LSTM kernels (csrc/kernels/dispatch.cpp): the variant
// chosen is the one ATen chose (ATEN_CPU_CAPABILITY included), and each variant the CPU can run —
// called directly through its namespace, on raw pointers with row strides wider than the rows —
// matches the ATen reference, forward and backward, for one layer in one or both directions.
#include "support/lstm_reference.h"

#include "kernels/dispatch.h"
#include "kernels/lstm.h"

#include <ATen/ATen.h>
#include <ATen/Version.h>
#include <torch/csrc/autograd/autograd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <string>
#include <type_traits>
#include <vector>

namespace torch_ext::testing {
namespace {

using kernels::CpuCapability;

TEST(DispatchCpuCapability, IsTheOneAtenChose) {
  const std::string aten = at::get_cpu_capability();
  EXPECT_EQ(std::string(kernels::to_string(kernels::cpu_capability())), aten);
  if (const char* requested = std::getenv("ATEN_CPU_CAPABILITY")) {
    std::string upper(requested);
    std::transform(upper.begin(), upper.end(), upper.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
    EXPECT_EQ(aten, upper) << "ATEN_CPU_CAPABILITY=" << requested << " was not honoured";
  }
}

bool cpu_supports(CpuCapability capability) {
  switch (capability) {
    case CpuCapability::Avx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("fma");
    case CpuCapability::Avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case CpuCapability::Default:
      break;
  }
  return true;
}

template <typename scalar_t>
struct LstmKernels {
  void (*forward)(const kernels::LstmForwardArgs<scalar_t>*, int64_t);
  void (*backward)(const kernels::LstmBackwardArgs<scalar_t>*, int64_t);
};

template <typename scalar_t>
LstmKernels<scalar_t> kernels_for(CpuCapability capability) {
  switch (capability) {
    case CpuCapability::Avx512:
      return {&kernels::AVX512::lstm_layer_forward<scalar_t>,
              &kernels::AVX512::lstm_layer_backward<scalar_t>};
    case CpuCapability::Avx2:
      return {&kernels::AVX2::lstm_layer_forward<scalar_t>,
              &kernels::AVX2::lstm_layer_backward<scalar_t>};
    case CpuCapability::Default:
      break;
  }
  return {&kernels::DEFAULT::lstm_layer_forward<scalar_t>,
          &kernels::DEFAULT::lstm_layer_backward<scalar_t>};
}

// The dispatching entry points, for comparison with the variant they should pick.
template <typename scalar_t>
LstmKernels<scalar_t> dispatching_kernels() {
  return {&kernels::lstm_layer_forward<scalar_t>, &kernels::lstm_layer_backward<scalar_t>};
}

// Extra columns beyond each row of the strided buffers: the kernels must honour the strides,
// and must leave these columns alone.
constexpr int64_t kInputPadding = 2;
constexpr int64_t kOutputPadding = 3;
constexpr int64_t kGradOutputPadding = 1;
constexpr int64_t kGradInputPadding = 1;
constexpr double kSentinel = 1234.5;

struct KernelCase {
  std::string name;
  bool packed = false;
  bool projected = false;
  // One call runs these directions (false: forward in time, true: reverse), as one layer.
  std::vector<bool> directions{false};
  bool with_grad_output = true;
};

struct KernelParam {
  KernelCase problem;
  CpuCapability capability;
  at::ScalarType dtype;
};

// One layer, one or two directions: data, states and weights as autograd leaves for the
// reference; direction d's output occupies columns [d·R, (d+1)·R) of the output rows.
struct LayerProblem {
  std::vector<int64_t> batch_sizes;
  std::vector<int64_t> offsets;
  int64_t input_size = 5;
  int64_t hidden_size = 20;  // full vectors of every width plus a tail
  int64_t proj_size = 0;
  std::vector<bool> reverse;  // per direction
  at::Tensor input_storage;   // [N, I + padding]
  at::Tensor input;           // [N, I] view of it
  std::vector<at::Tensor> h0;  // per direction [B, R]
  std::vector<at::Tensor> c0;  // per direction [B, H]
  std::vector<LstmDirectionWeights> weights;

  int64_t count() const { return static_cast<int64_t>(reverse.size()); }
  int64_t rows() const { return input.size(0); }
  int64_t batch() const { return batch_sizes.front(); }
  int64_t state_size() const { return proj_size > 0 ? proj_size : hidden_size; }
  bool uniform() const {
    return std::all_of(batch_sizes.begin(), batch_sizes.end(),
                       [&](int64_t size) { return size == batch(); });
  }

  kernels::SequenceLayout layout() const {
    kernels::SequenceLayout layout;
    layout.steps = static_cast<int64_t>(batch_sizes.size());
    layout.batch = batch();
    layout.rows = rows();
    layout.batch_sizes = batch_sizes.data();
    layout.offsets = offsets.data();
    layout.uniform = uniform();
    return layout;
  }

  kernels::LstmSizes sizes() const {
    kernels::LstmSizes sizes;
    sizes.input_size = input_size;
    sizes.hidden_size = hidden_size;
    sizes.proj_size = proj_size;
    return sizes;
  }
};

LayerProblem make_problem(const KernelCase& problem, at::ScalarType dtype) {
  at::manual_seed(99);
  LayerProblem p;
  p.batch_sizes = problem.packed ? batch_sizes_for_lengths({4, 3, 3, 1})
                                 : std::vector<int64_t>(3, int64_t{4});
  int64_t rows = 0;
  for (const int64_t size : p.batch_sizes) {
    p.offsets.push_back(rows);
    rows += size;
  }
  p.proj_size = problem.projected ? 7 : 0;
  p.reverse = problem.directions;
  const auto options = at::TensorOptions().dtype(dtype);
  const int64_t H = p.hidden_size;
  const int64_t R = p.state_size();
  p.input_storage = at::randn({rows, p.input_size + kInputPadding}, options);
  p.input = p.input_storage.narrow(1, 0, p.input_size).detach().requires_grad_(true);
  const auto weight = [&](at::IntArrayRef sizes) {
    return (at::rand(sizes, options) * 0.6 - 0.3).requires_grad_(true);
  };
  for (int64_t d = 0; d < p.count(); ++d) {
    p.h0.push_back(at::randn({p.batch(), R}, options).requires_grad_(true));
    p.c0.push_back(at::randn({p.batch(), H}, options).requires_grad_(true));
    LstmDirectionWeights w;
    w.w_ih = weight({4 * H, p.input_size});
    w.w_hh = weight({4 * H, R});
    w.b_ih = weight({4 * H});
    w.b_hh = weight({4 * H});
    if (problem.projected) {
      w.w_hr = weight({R, H});
    }
    p.weights.push_back(w);
  }
  return p;
}

// The kernel's view of one direction's weights, with the summed bias; holds what it points to.
struct KernelWeights {
  at::Tensor w_ih, w_hh, bias, w_hr;

  explicit KernelWeights(const LstmDirectionWeights& w)
      : w_ih(w.w_ih.detach().contiguous()),
        w_hh(w.w_hh.detach().contiguous()),
        bias((w.b_ih + w.b_hh).detach().contiguous()),
        w_hr(w.w_hr.defined() ? w.w_hr.detach().contiguous() : at::Tensor()) {}

  template <typename scalar_t>
  kernels::LstmWeights<scalar_t> pointers() const {
    kernels::LstmWeights<scalar_t> result;
    result.w_ih = w_ih.const_data_ptr<scalar_t>();
    result.w_hh = w_hh.const_data_ptr<scalar_t>();
    result.bias = bias.const_data_ptr<scalar_t>();
    result.w_hr = w_hr.defined() ? w_hr.const_data_ptr<scalar_t>() : nullptr;
    return result;
  }
};

std::vector<KernelWeights> kernel_weights(const LayerProblem& p) {
  return std::vector<KernelWeights>(p.weights.begin(), p.weights.end());
}

// The fields forward and backward arguments share, for direction d.
template <typename Args>
void set_layout_and_input(Args& args, const LayerProblem& p,
                          const std::vector<KernelWeights>& weights, int64_t d) {
  using scalar_t = std::remove_const_t<std::remove_pointer_t<decltype(args.h0)>>;
  args.sequence = p.layout();
  args.sizes = p.sizes();
  args.weights = weights[static_cast<size_t>(d)].pointers<scalar_t>();
  args.reverse = p.reverse[static_cast<size_t>(d)];
  args.input = p.input_storage.const_data_ptr<scalar_t>();
  args.input_stride = p.input_storage.stride(0);
}

// Row d of a [D, ...] tensor's data.
template <typename scalar_t>
scalar_t* slice_ptr(const at::Tensor& tensor, int64_t d) {
  return tensor.defined() ? tensor[d].mutable_data_ptr<scalar_t>() : nullptr;
}

at::Tensor stacked(const std::vector<at::Tensor>& tensors) {
  std::vector<at::Tensor> detached;
  for (const at::Tensor& tensor : tensors) {
    detached.push_back(tensor.detach());
  }
  return at::stack(detached).contiguous();
}

struct ForwardResult {
  at::Tensor output_storage;  // [N, D·R + padding]
  at::Tensor h_n, c_n;        // [D, B, R], [D, B, H]
  at::Tensor gates, cells;    // [D, N, 4H], [D, N, H]: saved for backward (training)

  at::Tensor output(const LayerProblem& p, int64_t d) const {
    return output_storage.narrow(1, d * p.state_size(), p.state_size());
  }
};

template <typename scalar_t>
ForwardResult run_forward(const LstmKernels<scalar_t>& kernels, const LayerProblem& p,
                          bool training) {
  const auto options = p.input.options();
  const int64_t D = p.count();
  const int64_t N = p.rows();
  const int64_t H = p.hidden_size;
  const int64_t R = p.state_size();
  const std::vector<KernelWeights> weights = kernel_weights(p);
  const at::Tensor h0 = stacked(p.h0);
  ForwardResult result;
  result.output_storage = at::full({N, D * R + kOutputPadding}, kSentinel, options);
  result.h_n = at::full({D, p.batch(), R}, kSentinel, options);  // every row must be written
  result.c_n = stacked(p.c0);
  // Training keeps the gates of every row; inference gets the smallest workspace the kernel
  // takes (one step's rows), so it computes the input projection one step at a time.
  const int64_t gates_rows = training ? N : std::min(N, p.batch());
  result.gates = at::empty({D, gates_rows, 4 * H}, options);
  if (training) {
    result.cells = at::empty({D, N, H}, options);
  }
  const at::Tensor projection_in =
      p.proj_size > 0 ? at::empty({D, p.batch(), H}, options) : at::Tensor();

  std::vector<kernels::LstmForwardArgs<scalar_t>> args(static_cast<size_t>(D));
  for (int64_t d = 0; d < D; ++d) {
    kernels::LstmForwardArgs<scalar_t>& a = args[static_cast<size_t>(d)];
    set_layout_and_input(a, p, weights, d);
    a.output = result.output_storage.mutable_data_ptr<scalar_t>() + d * R;
    a.output_stride = result.output_storage.stride(0);
    a.h0 = slice_ptr<scalar_t>(h0, d);
    a.h_state = slice_ptr<scalar_t>(result.h_n, d);
    a.c_state = slice_ptr<scalar_t>(result.c_n, d);
    a.gates = slice_ptr<scalar_t>(result.gates, d);
    a.gates_rows = gates_rows;
    a.cells = slice_ptr<scalar_t>(result.cells, d);
    a.projection_in = slice_ptr<scalar_t>(projection_in, d);
  }
  kernels.forward(args.data(), D);
  return result;
}

// Incoming gradients: for output (maybe undefined), h_n and c_n.
struct GradOutputs {
  at::Tensor output_storage;  // [N, D·R + padding] or undefined
  at::Tensor h_n, c_n;        // [D, B, R], [D, B, H]

  at::Tensor output(const LayerProblem& p, int64_t d) const {
    return output_storage.defined() ? output_storage.narrow(1, d * p.state_size(), p.state_size())
                                    : at::Tensor();
  }
};

GradOutputs make_grad_outputs(const LayerProblem& p, bool with_grad_output) {
  at::manual_seed(5);
  const auto options = p.input.options();
  GradOutputs grads;
  if (with_grad_output) {
    grads.output_storage =
        at::randn({p.rows(), p.count() * p.state_size() + kGradOutputPadding}, options);
  }
  grads.h_n = at::randn({p.count(), p.batch(), p.state_size()}, options);
  grads.c_n = at::randn({p.count(), p.batch(), p.hidden_size}, options);
  return grads;
}

// Gradients in the order of the reference's leaves: input, then per direction h0, c0, w_ih,
// w_hh, bias, (w_hr).
struct BackwardResult {
  std::vector<at::Tensor> grads;
  at::Tensor grad_input_storage;  // with its padding columns
};

std::vector<std::string> gradient_names(const LayerProblem& p) {
  std::vector<std::string> names{"input"};
  for (int64_t d = 0; d < p.count(); ++d) {
    const std::string suffix = p.reverse[static_cast<size_t>(d)] ? "_reverse" : "_forward";
    for (const char* name : {"h0", "c0", "w_ih", "w_hh", "bias"}) {
      names.push_back(name + suffix);
    }
    if (p.proj_size > 0) {
      names.push_back("w_hr" + suffix);
    }
  }
  return names;
}

// With `grad_input_prior` defined, the first direction accumulates into it too (as the second
// direction of a bidirectional layer always does). The backward goes back `window_steps` steps at
// a time (0: the whole sequence at once), with workspaces of one window's rows.
template <typename scalar_t>
BackwardResult run_backward(const LstmKernels<scalar_t>& kernels, const LayerProblem& p,
                            const ForwardResult& forward, const GradOutputs& incoming,
                            const at::Tensor& grad_input_prior, int64_t window_steps = 0) {
  const auto options = p.input.options();
  const int64_t D = p.count();
  const int64_t N = p.rows();
  const kernels::SequenceLayout layout = p.layout();
  if (window_steps <= 0) {
    window_steps = std::max<int64_t>(1, layout.steps);
  }
  const int64_t W = kernels::backward_window_rows(layout, window_steps);
  const int64_t I = p.input_size;
  const int64_t H = p.hidden_size;
  const int64_t P = p.proj_size;
  const int64_t R = p.state_size();
  const int64_t G = 4 * H;
  const int64_t B = p.batch();
  const std::vector<KernelWeights> weights = kernel_weights(p);
  const at::Tensor h0 = stacked(p.h0);
  const at::Tensor c0 = stacked(p.c0);

  BackwardResult result;
  result.grad_input_storage = at::full({N, I + kGradInputPadding}, kSentinel, options);
  if (grad_input_prior.defined()) {
    result.grad_input_storage.narrow(1, 0, I).copy_(grad_input_prior);
  }
  const at::Tensor grad_h = incoming.h_n.clone();
  const at::Tensor grad_c = incoming.c_n.clone();
  const at::Tensor grad_w_ih = at::empty({D, G, I}, options);
  const at::Tensor grad_w_hh = at::empty({D, G, R}, options);
  const at::Tensor grad_bias = at::empty({D, G}, options);
  const at::Tensor grad_w_hr = P > 0 ? at::empty({D, P, H}, options) : at::Tensor();
  const at::Tensor grad_gates = at::empty({D, W, G}, options);
  const at::Tensor previous_h = p.uniform() ? at::Tensor() : at::empty({D, W, R}, options);
  const at::Tensor grad_h_rows = P > 0 ? at::empty({D, W, P}, options) : at::Tensor();
  const at::Tensor projection_in = P > 0 ? at::empty({D, W, H}, options) : at::Tensor();
  const at::Tensor grad_projection_in = P > 0 ? at::empty({D, B, H}, options) : at::Tensor();

  std::vector<kernels::LstmBackwardArgs<scalar_t>> args(static_cast<size_t>(D));
  for (int64_t d = 0; d < D; ++d) {
    kernels::LstmBackwardArgs<scalar_t>& a = args[static_cast<size_t>(d)];
    set_layout_and_input(a, p, weights, d);
    a.output = forward.output_storage.const_data_ptr<scalar_t>() + d * R;
    a.output_stride = forward.output_storage.stride(0);
    a.h0 = slice_ptr<scalar_t>(h0, d);
    a.c0 = slice_ptr<scalar_t>(c0, d);
    a.gates = slice_ptr<scalar_t>(forward.gates, d);
    a.cells = slice_ptr<scalar_t>(forward.cells, d);
    if (incoming.output_storage.defined()) {
      a.grad_output = incoming.output_storage.const_data_ptr<scalar_t>() + d * R;
      a.grad_output_stride = incoming.output_storage.stride(0);
    }
    a.grad_h_state = slice_ptr<scalar_t>(grad_h, d);
    a.grad_c_state = slice_ptr<scalar_t>(grad_c, d);
    a.grad_input = result.grad_input_storage.mutable_data_ptr<scalar_t>();
    a.grad_input_stride = result.grad_input_storage.stride(0);
    a.accumulate_grad_input = d > 0 || grad_input_prior.defined();
    a.grad_w_ih = slice_ptr<scalar_t>(grad_w_ih, d);
    a.grad_w_hh = slice_ptr<scalar_t>(grad_w_hh, d);
    a.grad_bias = slice_ptr<scalar_t>(grad_bias, d);
    a.grad_w_hr = slice_ptr<scalar_t>(grad_w_hr, d);
    a.window_steps = window_steps;
    a.workspace_rows = W;
    a.grad_gates = slice_ptr<scalar_t>(grad_gates, d);
    a.previous_h = slice_ptr<scalar_t>(previous_h, d);
    a.grad_h_rows = slice_ptr<scalar_t>(grad_h_rows, d);
    a.projection_in = slice_ptr<scalar_t>(projection_in, d);
    a.grad_projection_in = slice_ptr<scalar_t>(grad_projection_in, d);
  }
  kernels.backward(args.data(), D);

  result.grads = {result.grad_input_storage.narrow(1, 0, I)};
  for (int64_t d = 0; d < D; ++d) {
    for (const at::Tensor& grad :
         {grad_h[d], grad_c[d], grad_w_ih[d], grad_w_hh[d], grad_bias[d]}) {
      result.grads.push_back(grad);
    }
    if (P > 0) {
      result.grads.push_back(grad_w_hr[d]);
    }
  }
  return result;
}

// The reference's outputs per direction, and its gradients in the kernel's order (the bias
// gradient is that of b_ih, which equals b_hh's).
std::vector<LstmOutputs> reference_outputs(const LayerProblem& p) {
  std::vector<LstmOutputs> outputs;
  for (int64_t d = 0; d < p.count(); ++d) {
    const size_t k = static_cast<size_t>(d);
    outputs.push_back(reference_lstm_direction(p.input, p.batch_sizes, p.h0[k], p.c0[k],
                                               p.weights[k], p.reverse[k]));
  }
  return outputs;
}

std::vector<at::Tensor> reference_gradients(const LayerProblem& p, const GradOutputs& incoming) {
  const std::vector<LstmOutputs> outputs = reference_outputs(p);
  at::Tensor loss;
  std::vector<at::Tensor> leaves{p.input};
  for (int64_t d = 0; d < p.count(); ++d) {
    const size_t k = static_cast<size_t>(d);
    const auto& [output, h_n, c_n] = outputs[k];
    const at::Tensor term = weighted_sum({output, h_n, c_n},
                                         {incoming.output(p, d), incoming.h_n[d], incoming.c_n[d]});
    loss = loss.defined() ? loss + term : term;
    const LstmDirectionWeights& w = p.weights[k];
    for (const at::Tensor& leaf : {p.h0[k], p.c0[k], w.w_ih, w.w_hh, w.b_ih}) {
      leaves.push_back(leaf);
    }
    if (w.w_hr.defined()) {
      leaves.push_back(w.w_hr);
    }
  }
  return torch::autograd::grad({loss}, leaves);
}

bool all_equal_to(const at::Tensor& tensor, double value) {
  return tensor.eq(value).all().item<bool>();
}

class LstmKernelVariants : public ::testing::TestWithParam<KernelParam> {
 protected:
  void SetUp() override {
    if (!cpu_supports(GetParam().capability)) {
      GTEST_SKIP() << "this CPU cannot run the " << kernels::to_string(GetParam().capability)
                   << " kernels";
    }
  }

  template <typename scalar_t>
  void check_forward() {
    const KernelParam& param = GetParam();
    const LayerProblem p = make_problem(param.problem, param.dtype);
    const std::vector<LstmOutputs> expected = reference_outputs(p);
    for (const bool training : {false, true}) {
      SCOPED_TRACE(training ? "training" : "inference");
      const ForwardResult result =
          run_forward(kernels_for<scalar_t>(param.capability), p, training);
      for (int64_t d = 0; d < p.count(); ++d) {
        SCOPED_TRACE("direction " + std::to_string(d));
        const auto& [output, h_n, c_n] = expected[static_cast<size_t>(d)];
        EXPECT_TENSORS_CLOSE(result.output(p, d), output);
        EXPECT_TENSORS_CLOSE(result.h_n[d], h_n);
        EXPECT_TENSORS_CLOSE(result.c_n[d], c_n);
        if (training) {
          // The saved cells are c_t of every row: the rows of the step each direction ends on
          // (the last, or the first in reverse) hold c_n of theirs.
          const size_t last = p.reverse[static_cast<size_t>(d)] ? 0 : p.batch_sizes.size() - 1;
          const int64_t rows = p.batch_sizes[last];
          EXPECT_TENSORS_CLOSE(result.cells[d].narrow(0, p.offsets[last], rows),
                               c_n.narrow(0, 0, rows));
        }
      }
      EXPECT_TRUE(all_equal_to(
          result.output_storage.narrow(1, p.count() * p.state_size(), kOutputPadding), kSentinel))
          << "the forward kernel wrote outside the output rows";
    }
  }

  template <typename scalar_t>
  void check_backward() {
    const KernelParam& param = GetParam();
    const LayerProblem p = make_problem(param.problem, param.dtype);
    const LstmKernels<scalar_t> kernels = kernels_for<scalar_t>(param.capability);
    const GradOutputs incoming = make_grad_outputs(p, param.problem.with_grad_output);
    const std::vector<at::Tensor> expected = reference_gradients(p, incoming);
    const ForwardResult forward = run_forward(kernels, p, /*training=*/true);
    // A lone reverse direction accumulates onto an input gradient already there.
    const bool accumulate = p.count() == 1 && p.reverse.front();
    const at::Tensor prior = accumulate ? at::randn_like(p.input.detach()) : at::Tensor();
    // The whole sequence at once, and windows of 1 and 2 steps (3 padded steps: the last window
    // shorter; 4 packed steps: windows of 7 and 4 rows).
    for (const int64_t window_steps : {int64_t(0), int64_t(1), int64_t(2)}) {
      SCOPED_TRACE("window_steps " + std::to_string(window_steps));
      const BackwardResult result = run_backward(kernels, p, forward, incoming, prior, window_steps);
      std::vector<at::Tensor> actual = result.grads;
      if (prior.defined()) {
        actual[0] = actual[0] - prior;
      }
      expect_gradients_close(actual, expected, gradient_names(p));
      EXPECT_TRUE(all_equal_to(
          result.grad_input_storage.narrow(1, p.input_size, kGradInputPadding), kSentinel))
          << "the backward kernel wrote outside the grad_input rows";
    }
  }
};

TEST_P(LstmKernelVariants, ForwardMatchesReference) {
  if (GetParam().dtype == at::kDouble) {
    check_forward<double>();
  } else {
    check_forward<float>();
  }
}

TEST_P(LstmKernelVariants, BackwardMatchesReference) {
  if (GetParam().dtype == at::kDouble) {
    check_backward<double>();
  } else {
    check_backward<float>();
  }
}

std::vector<KernelParam> kernel_params() {
  std::vector<KernelCase> cases;
  const std::vector<std::pair<std::string, std::vector<bool>>> direction_sets{
      {"forward", {false}}, {"reverse", {true}}, {"bidirectional", {false, true}}};
  for (const bool packed : {false, true}) {
    for (const bool projected : {false, true}) {
      for (const auto& [directions_name, directions] : direction_sets) {
        KernelCase problem;
        problem.name = std::string(packed ? "packed" : "padded") +
                       (projected ? "_projection_" : "_") + directions_name;
        problem.packed = packed;
        problem.projected = projected;
        problem.directions = directions;
        cases.push_back(problem);
      }
    }
  }
  for (const bool packed : {false, true}) {
    KernelCase no_grad_output;
    no_grad_output.name = std::string(packed ? "packed" : "padded") + "_no_grad_output";
    no_grad_output.packed = packed;
    no_grad_output.projected = packed;
    no_grad_output.directions = {false, true};
    no_grad_output.with_grad_output = false;
    cases.push_back(no_grad_output);
  }

  std::vector<KernelParam> params;
  for (const CpuCapability capability :
       {CpuCapability::Default, CpuCapability::Avx2, CpuCapability::Avx512}) {
    for (const at::ScalarType dtype : {at::kFloat, at::kDouble}) {
      for (const KernelCase& problem : cases) {
        params.push_back({problem, capability, dtype});
      }
    }
  }
  return params;
}

INSTANTIATE_TEST_SUITE_P(Dispatch, LstmKernelVariants, ::testing::ValuesIn(kernel_params()),
                         [](const ::testing::TestParamInfo<KernelParam>& info) {
                           return std::string(kernels::to_string(info.param.capability)) + "_" +
                                  dtype_name(info.param.dtype) + "_" + info.param.problem.name;
                         });

// The dispatching entry points run the variant of cpu_capability(): bit for bit its results.
template <typename scalar_t>
void expect_entry_points_run_chosen_variant(at::ScalarType dtype) {
  KernelCase problem;
  problem.packed = problem.projected = true;
  problem.directions = {false, true};
  const LayerProblem p = make_problem(problem, dtype);
  const LstmKernels<scalar_t> chosen = kernels_for<scalar_t>(kernels::cpu_capability());
  const ForwardResult expected_forward = run_forward(chosen, p, /*training=*/true);
  const ForwardResult actual_forward =
      run_forward(dispatching_kernels<scalar_t>(), p, /*training=*/true);
  EXPECT_TRUE(at::equal(actual_forward.output_storage, expected_forward.output_storage));
  EXPECT_TRUE(at::equal(actual_forward.h_n, expected_forward.h_n));
  EXPECT_TRUE(at::equal(actual_forward.c_n, expected_forward.c_n));

  const GradOutputs incoming = make_grad_outputs(p, /*with_grad_output=*/true);
  const BackwardResult expected =
      run_backward(chosen, p, expected_forward, incoming, at::Tensor());
  const BackwardResult actual =
      run_backward(dispatching_kernels<scalar_t>(), p, expected_forward, incoming, at::Tensor());
  const std::vector<std::string> names = gradient_names(p);
  for (size_t k = 0; k < expected.grads.size(); ++k) {
    EXPECT_TRUE(at::equal(actual.grads[k], expected.grads[k])) << "gradient w.r.t. " << names[k];
  }
}

TEST(DispatchEntryPoints, RunTheChosenVariant) {
  expect_entry_points_run_chosen_variant<float>(at::kFloat);
  expect_entry_points_run_chosen_variant<double>(at::kDouble);
}

}  // namespace
}  // namespace torch_ext::testing
