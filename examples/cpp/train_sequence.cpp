// Trains a sequence model written with torch_ext's C++ API, the way a LibTorch program trains a
// torch::nn one: a torch::data data set and DataLoader, torch::optim::Adam, and torch_ext::nn::LSTM
// where torch::nn::LSTM would stand.
//
// The task is the adding problem (Hochreiter & Schmidhuber, 1997): each step of a sequence holds a
// random number in [0, 1) and a marker; exactly two steps are marked, one in each half, and the
// target is the sum of the two marked numbers. Always answering the mean, 1.0, scores a mean
// squared error of 1/6 ≈ 0.167; a model that remembers the marked numbers across the sequence
// gets close to 0.
//
//   train_sequence [--steps N] [--seq-len T] [--hidden H] [--batch-size B] [--lr R]
//                  [--log-every K] [--seed S]
//
// It prints the mean training loss every K steps (by default a tenth of the steps), then the error
// on held-out sequences, and exits with status 1 if the loss did not fall.
#include <torch_ext/torch_ext.h>

#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <iomanip>
#include <iostream>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>

namespace {

struct Settings {
  int64_t steps = 600;
  int64_t seq_len = 25;
  int64_t hidden = 32;
  int64_t batch_size = 64;
  double lr = 0.01;
  int64_t log_every = 0;  // 0: a tenth of the steps
  uint64_t seed = 0;
};

Settings parse_settings(int argc, char** argv) {
  Settings settings;
  const std::map<std::string, int64_t*> integers{{"--steps", &settings.steps},
                                                 {"--seq-len", &settings.seq_len},
                                                 {"--hidden", &settings.hidden},
                                                 {"--batch-size", &settings.batch_size},
                                                 {"--log-every", &settings.log_every}};
  for (int k = 1; k < argc; k += 2) {
    const std::string flag = argv[k];
    if (k + 1 >= argc) {
      throw std::invalid_argument("missing value after " + flag);
    }
    const std::string value = argv[k + 1];
    if (const auto found = integers.find(flag); found != integers.end()) {
      *found->second = std::stoll(value);
      if (*found->second <= 0) {
        throw std::invalid_argument(flag + " must be positive, got " + value);
      }
    } else if (flag == "--lr") {
      settings.lr = std::stod(value);
    } else if (flag == "--seed") {
      settings.seed = std::stoull(value);
    } else {
      throw std::invalid_argument("unknown option " + flag);
    }
  }
  if (settings.seq_len < 2) {
    throw std::invalid_argument("--seq-len must be at least 2");
  }
  if (settings.log_every == 0) {
    settings.log_every = std::max<int64_t>(1, settings.steps / 10);
  }
  return settings;
}

// The adding problem: `size` sequences of `steps` steps, [steps, 2] each (number, marker), and
// their targets [1]. Drawn once, from torch's generator.
class AddingProblem : public torch::data::datasets::Dataset<AddingProblem> {
 public:
  AddingProblem(int64_t size, int64_t steps) {
    const torch::Tensor numbers = torch::rand({size, steps});
    const int64_t half = steps / 2;
    const torch::Tensor first = torch::randint(0, half, {size, 1}, torch::kLong);
    const torch::Tensor second = torch::randint(half, steps, {size, 1}, torch::kLong);
    const torch::Tensor markers = torch::zeros({size, steps})
                                      .scatter_(1, first, 1.0)
                                      .scatter_(1, second, 1.0);
    inputs_ = torch::stack({numbers, markers}, /*dim=*/2);
    targets_ = (numbers * markers).sum(1, /*keepdim=*/true);
  }

  torch::data::Example<> get(size_t index) override {
    const auto row = static_cast<int64_t>(index);
    return {inputs_[row], targets_[row]};
  }

  std::optional<size_t> size() const override { return static_cast<size_t>(inputs_.size(0)); }

  const torch::Tensor& inputs() const { return inputs_; }
  const torch::Tensor& targets() const { return targets_; }

 private:
  torch::Tensor inputs_;
  torch::Tensor targets_;
};

// An LSTM reads the sequence (batch first); a linear layer maps its last hidden state to the sum.
struct AdderImpl : torch::nn::Module {
  explicit AdderImpl(int64_t hidden)
      : torch::nn::Module("Adder"),
        lstm(register_module(
            "lstm", torch_ext::nn::LSTM(torch_ext::nn::LSTMOptions(2, hidden).batch_first(true)))),
        head(register_module("head", torch::nn::Linear(hidden, 1))) {}

  torch::Tensor forward(const torch::Tensor& sequences) {
    const auto [output, state] = lstm->forward(sequences);
    const torch::Tensor& h_n = std::get<0>(state);  // [layers, batch, hidden]
    return head->forward(h_n[-1]);
  }

  torch_ext::nn::LSTM lstm;
  torch::nn::Linear head;
};
TORCH_MODULE(Adder);

int run(const Settings& settings) {
  torch::manual_seed(settings.seed);
  AddingProblem train_set(/*size=*/8192, settings.seq_len);
  const AddingProblem test_set(/*size=*/1024, settings.seq_len);
  auto loader = torch::data::make_data_loader<torch::data::samplers::RandomSampler>(
      std::move(train_set).map(torch::data::transforms::Stack<>()),
      torch::data::DataLoaderOptions().batch_size(static_cast<size_t>(settings.batch_size)));

  Adder model(settings.hidden);
  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(settings.lr));
  std::cout << *model << "\n\nadding problem, " << settings.seq_len
            << " steps per sequence; always answering 1.0 scores 0.1667\n";

  std::cout << std::fixed << std::setprecision(4);
  int64_t step = 0;
  double window_loss = 0.0;
  int64_t window_steps = 0;
  std::optional<double> first_logged;
  double last_logged = 0.0;
  while (step < settings.steps) {
    for (auto& batch : *loader) {
      optimizer.zero_grad();
      const torch::Tensor loss = torch::mse_loss(model->forward(batch.data), batch.target);
      loss.backward();
      torch::nn::utils::clip_grad_norm_(model->parameters(), /*max_norm=*/1.0);
      optimizer.step();
      ++step;
      window_loss += loss.item<double>();
      ++window_steps;
      if (step % settings.log_every == 0 || step == settings.steps) {
        last_logged = window_loss / static_cast<double>(window_steps);
        first_logged = first_logged.value_or(last_logged);
        std::cout << "step " << std::setw(5) << step << "  loss " << last_logged << std::endl;
        window_loss = 0.0;
        window_steps = 0;
      }
      if (step == settings.steps) {
        break;
      }
    }
  }

  model->eval();
  torch::NoGradGuard no_grad;
  const double test_loss =
      torch::mse_loss(model->forward(test_set.inputs()), test_set.targets()).item<double>();
  std::cout << "held-out mean squared error " << test_loss << "\n";
  if (!first_logged.has_value() || !(last_logged < *first_logged)) {
    std::cerr << "the training loss did not fall\n";
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse_settings(argc, argv));
  } catch (const std::exception& error) {
    std::cerr << "train_sequence: " << error.what() << "\n";
    return 2;
  }
}
