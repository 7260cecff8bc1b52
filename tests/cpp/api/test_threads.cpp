// Several C++ threads running forward and backward on one shared torch_ext::nn module at once get
// exactly (bitwise) the results of the same runs one after another: every module family (LSTM
// with a projection, bidirectional and over a PackedSequence; GRU in both forms; RNN tanh and
// ReLU; LayerNormLSTM, LayerNormGRU; every cell; LayerNorm), with two intra-op threads per call
// at sizes where the kernels split each layer between a team of two threads.
//
// Gradients are taken with torch::autograd::grad, which writes no .grad: accumulating into one
// module's .grad from several threads would be a race of the caller's making.
#include <torch_ext/torch_ext.h>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <gtest/gtest.h>

#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace torch_ext::testing {
namespace {

using torch::Tensor;
using Results = std::vector<Tensor>;
// One forward + backward over the input of job `index`.
using Job = std::function<Results(int index)>;

// Sizes at which a layer's recurrence gets a team of two threads per direction (team.h: at least
// 2^19 flops per step, two 32-unit blocks, 2^21 flops per team), a cell's one step too.
constexpr int64_t kInput = 32;
constexpr int64_t kHidden = 64;
constexpr int64_t kSteps = 8;
constexpr int64_t kBatch = 64;
constexpr int64_t kCellBatch = 256;
constexpr int kThreads = 3;
constexpr int kIntraOpThreads = 2;

// The outputs, then the gradients of Σ ⟨output_k, w_k⟩ (fixed random w_k) with respect to the
// input and every parameter.
Results outputs_and_gradients(const std::vector<Tensor>& outputs, const Tensor& input,
                              const torch::nn::Module& module) {
  // A generator of its own: the global one would hand concurrent jobs each other's numbers.
  const auto generator = at::make_generator<at::CPUGeneratorImpl>(1);
  std::vector<Tensor> weights;
  for (const Tensor& output : outputs) {
    weights.push_back(torch::randn(output.sizes(), generator, output.options()));
  }
  std::vector<Tensor> leaves{input};
  for (const Tensor& parameter : module.parameters()) {
    leaves.push_back(parameter);
  }
  Results results;
  for (const Tensor& output : outputs) {
    results.push_back(output.detach());
  }
  for (const Tensor& gradient :
       torch::autograd::grad(outputs, leaves, weights, /*retain_graph=*/false,
                             /*create_graph=*/false, /*allow_unused=*/true)) {
    results.push_back(gradient);
  }
  return results;
}

// A leaf input of job `index`: [T, B, I] (or [B, I] for a cell).
Tensor job_input(int index, bool cell) {
  const auto generator = at::make_generator<at::CPUGeneratorImpl>(100 + index);
  const std::vector<int64_t> shape = cell ? std::vector<int64_t>{kCellBatch, kInput}
                                          : std::vector<int64_t>{kSteps, kBatch, kInput};
  return torch::randn(shape, generator).requires_grad_(true);
}

// Lengths from kSteps / 2 to kSteps (unsorted, one of kSteps) of the packed input of a job.
Tensor job_lengths(int index) {
  const auto generator = at::make_generator<at::CPUGeneratorImpl>(200 + index);
  Tensor lengths = torch::randint(kSteps / 2, kSteps + 1, {kBatch}, generator, torch::kLong);
  lengths[index % kBatch] = kSteps;
  return lengths;
}

// Runs every job of `job` (indices 0..kThreads-1) alone, then all at once on kThreads threads
// (released together), each at kIntraOpThreads intra-op threads; every result must be equal.
void expect_concurrent_runs_match_serial(const Job& job) {
  at::set_num_threads(kIntraOpThreads);
  std::vector<Results> serial;
  for (int index = 0; index < kThreads; ++index) {
    serial.push_back(job(index));
  }
  std::vector<Results> concurrent(kThreads);
  std::vector<std::exception_ptr> errors(kThreads);
  std::mutex mutex;
  std::condition_variable released;
  int ready = 0;
  std::vector<std::thread> threads;
  for (int index = 0; index < kThreads; ++index) {
    threads.emplace_back([&, index] {
      try {
        at::set_num_threads(kIntraOpThreads);
        {
          std::unique_lock<std::mutex> lock(mutex);
          ++ready;
          released.notify_all();
          released.wait(lock, [&] { return ready == kThreads; });
        }
        concurrent[index] = job(index);
      } catch (...) {
        errors[index] = std::current_exception();
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  for (int index = 0; index < kThreads; ++index) {
    SCOPED_TRACE("thread " + std::to_string(index));
    if (errors[index]) {
      std::rethrow_exception(errors[index]);
    }
    ASSERT_EQ(concurrent[index].size(), serial[index].size());
    for (size_t k = 0; k < serial[index].size(); ++k) {
      SCOPED_TRACE("result " + std::to_string(k));
      ASSERT_EQ(concurrent[index][k].defined(), serial[index][k].defined());
      if (serial[index][k].defined()) {
        EXPECT_TRUE(torch::equal(concurrent[index][k], serial[index][k]))
            << "differs from the serial run by up to "
            << (concurrent[index][k] - serial[index][k]).abs().max().item<double>();
      }
    }
  }
}

// The tensors of a final state (or a cell's next state): h, or (h, c).
std::vector<Tensor> state_tensors(const Tensor& h) { return {h}; }
std::vector<Tensor> state_tensors(const std::tuple<Tensor, Tensor>& state) {
  return {std::get<0>(state), std::get<1>(state)};
}

// A sequence module over padded input (forward(input) -> (output, state)) or, with `packed`,
// over a PackedSequence of unsorted lengths (forward_with_packed_input).
template <typename Module>
Job sequence_job(Module module, bool packed = false) {
  return [module, packed](int index) mutable {
    const Tensor x = job_input(index, false);
    std::vector<Tensor> outputs;
    if (packed) {
      auto [output, state] = module->forward_with_packed_input(
          torch::nn::utils::rnn::pack_padded_sequence(x, job_lengths(index), /*batch_first=*/false,
                                                      /*enforce_sorted=*/false));
      outputs = state_tensors(state);
      outputs.insert(outputs.begin(), output.data());
    } else {
      auto [output, state] = module->forward(x);
      outputs = state_tensors(state);
      outputs.insert(outputs.begin(), output);
    }
    return outputs_and_gradients(outputs, x, *module);
  };
}

// A cell: forward(input) -> h' or (h', c').
template <typename Cell>
Job cell_job(Cell cell) {
  return [cell](int index) mutable {
    const Tensor x = job_input(index, true);
    return outputs_and_gradients(state_tensors(cell->forward(x)), x, *cell);
  };
}

// Moves the layer norms' gains and biases off one and zero.
void perturb_layer_norms(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (auto& parameter : module.named_parameters()) {
    if (parameter.key().rfind("ln_", 0) == 0) {
      parameter.value().add_(0.3 * torch::randn_like(parameter.value()));
    }
  }
}

TEST(ApiThreadsLstm, ProjectedBidirectional) {
  torch::manual_seed(0);
  expect_concurrent_runs_match_serial(sequence_job(torch_ext::nn::LSTM(
      torch_ext::nn::LSTMOptions(kInput, kHidden).num_layers(2).bidirectional(true).proj_size(
          kHidden / 2))));
}

TEST(ApiThreadsLstm, OneLayer) {
  torch::manual_seed(0);
  expect_concurrent_runs_match_serial(
      sequence_job(torch_ext::nn::LSTM(torch_ext::nn::LSTMOptions(kInput, kHidden))));
}

TEST(ApiThreadsLstm, Packed) {
  torch::manual_seed(0);
  torch_ext::nn::LSTM lstm(torch_ext::nn::LSTMOptions(kInput, kHidden).bidirectional(true));
  expect_concurrent_runs_match_serial(sequence_job(lstm, /*packed=*/true));
}

TEST(ApiThreadsGru, ResetAfterAndBefore) {
  for (const bool reset_after : {true, false}) {
    SCOPED_TRACE(reset_after ? "reset_after" : "reset_before");
    torch::manual_seed(0);
    expect_concurrent_runs_match_serial(sequence_job(torch_ext::nn::GRU(
        torch_ext::nn::GRUOptions(kInput, kHidden).reset_after(reset_after))));
    torch_ext::nn::GRU bidirectional(
        torch_ext::nn::GRUOptions(kInput, kHidden).reset_after(reset_after).bidirectional(true));
    expect_concurrent_runs_match_serial(sequence_job(bidirectional, /*packed=*/true));
  }
}

TEST(ApiThreadsRnn, TanhAndRelu) {
  torch::manual_seed(0);
  expect_concurrent_runs_match_serial(sequence_job(torch_ext::nn::RNN(
      torch_ext::nn::RNNOptions(kInput, kHidden).num_layers(2).bidirectional(true))));
  expect_concurrent_runs_match_serial(sequence_job(
      torch_ext::nn::RNN(torch_ext::nn::RNNOptions(kInput, kHidden).nonlinearity(torch::kReLU))));
}

TEST(ApiThreadsLayerNormRnn, LstmAndGru) {
  torch::manual_seed(0);
  torch_ext::nn::LayerNormLSTM lstm(
      torch_ext::nn::LayerNormLSTMOptions(kInput, kHidden).bidirectional(true));
  perturb_layer_norms(*lstm);
  expect_concurrent_runs_match_serial(sequence_job(lstm));
  torch_ext::nn::LayerNormGRU gru(torch_ext::nn::LayerNormGRUOptions(kInput, kHidden));
  perturb_layer_norms(*gru);
  expect_concurrent_runs_match_serial(sequence_job(gru, /*packed=*/true));
}

TEST(ApiThreadsCells, EveryCell) {
  torch::manual_seed(0);
  {
    SCOPED_TRACE("LSTMCell");
    expect_concurrent_runs_match_serial(
        cell_job(torch_ext::nn::LSTMCell(torch_ext::nn::LSTMCellOptions(kInput, kHidden))));
  }
  for (const bool reset_after : {true, false}) {
    SCOPED_TRACE(reset_after ? "GRUCell" : "GRUCell reset_after=false");
    expect_concurrent_runs_match_serial(cell_job(torch_ext::nn::GRUCell(
        torch_ext::nn::GRUCellOptions(kInput, kHidden).reset_after(reset_after))));
  }
  for (const auto nonlinearity : {torch_ext::nn::RNNCellOptions::nonlinearity_t(torch::kTanh),
                                  torch_ext::nn::RNNCellOptions::nonlinearity_t(torch::kReLU)}) {
    SCOPED_TRACE("RNNCell");
    expect_concurrent_runs_match_serial(cell_job(torch_ext::nn::RNNCell(
        torch_ext::nn::RNNCellOptions(kInput, kHidden).nonlinearity(nonlinearity))));
  }
  {
    SCOPED_TRACE("LayerNormLSTMCell");
    torch_ext::nn::LayerNormLSTMCell cell(
        torch_ext::nn::LayerNormLSTMCellOptions(kInput, kHidden));
    perturb_layer_norms(*cell);
    expect_concurrent_runs_match_serial(cell_job(cell));
  }
  {
    SCOPED_TRACE("LayerNormGRUCell");
    torch_ext::nn::LayerNormGRUCell cell(torch_ext::nn::LayerNormGRUCellOptions(kInput, kHidden));
    perturb_layer_norms(*cell);
    expect_concurrent_runs_match_serial(cell_job(cell));
  }
}

TEST(ApiThreadsLayerNorm, Rows) {
  torch::manual_seed(0);
  torch_ext::nn::LayerNorm norm(torch_ext::nn::LayerNormOptions({256}));
  {
    torch::NoGradGuard no_grad;
    norm->weight.add_(0.3 * torch::randn_like(norm->weight));
    norm->bias.add_(0.3 * torch::randn_like(norm->bias));
  }
  expect_concurrent_runs_match_serial([norm](int index) mutable {
    const auto generator = at::make_generator<at::CPUGeneratorImpl>(300 + index);
    const Tensor x = torch::randn({512, 256}, generator).requires_grad_(true);
    return outputs_and_gradients({norm->forward(x)}, x, *norm);
  });
}

}  // namespace
}  // namespace torch_ext::testing
