#include "support/sequence_reference.h"

#include "support/lstm_reference.h"

#include <ATen/ATen.h>

namespace torch_ext::testing {

std::pair<at::Tensor, std::vector<at::Tensor>> reference_direction(
    const at::Tensor& data, c10::IntArrayRef batch_sizes, const std::vector<at::Tensor>& initial,
    const ReferenceStep& step, bool reverse) {
  const int64_t steps = static_cast<int64_t>(batch_sizes.size());
  std::vector<int64_t> offsets(batch_sizes.size());
  for (int64_t t = 1; t < steps; ++t) {
    offsets[t] = offsets[t - 1] + batch_sizes[t - 1];
  }
  std::vector<at::Tensor> outputs(batch_sizes.size());
  std::vector<at::Tensor> states;
  if (!reverse) {
    // Batch sizes shrink with t: the rows that drop out have reached their final state.
    states = initial;
    std::vector<std::vector<at::Tensor>> finished(initial.size());
    for (int64_t t = 0; t < steps; ++t) {
      const int64_t batch = batch_sizes[t];
      const int64_t running = states.front().size(0);
      for (size_t k = 0; k < states.size() && batch < running; ++k) {
        finished[k].insert(finished[k].begin(), states[k].narrow(0, batch, running - batch));
        states[k] = states[k].narrow(0, 0, batch);
      }
      states = step(data.narrow(0, offsets[t], batch), states);
      outputs[t] = states.front();
    }
    for (size_t k = 0; k < states.size(); ++k) {
      finished[k].insert(finished[k].begin(), states[k]);
      states[k] = at::cat(finished[k], 0);
    }
    return {at::cat(outputs, 0), states};
  }
  // Reverse: batch sizes grow as t falls; a sequence joins at its last step from its initial state.
  for (const at::Tensor& state : initial) {
    states.push_back(state.narrow(0, 0, 0));
  }
  for (int64_t t = steps - 1; t >= 0; --t) {
    const int64_t batch = batch_sizes[t];
    const int64_t running = states.front().size(0);
    for (size_t k = 0; k < states.size() && batch > running; ++k) {
      states[k] = at::cat({states[k], initial[k].narrow(0, running, batch - running)}, 0);
    }
    states = step(data.narrow(0, offsets[t], batch), states);
    outputs[t] = states.front();
  }
  return {at::cat(outputs, 0), states};
}

std::vector<at::Tensor> reference_stack_packed(const at::Tensor& data,
                                               c10::IntArrayRef batch_sizes,
                                               const std::vector<at::Tensor>& initial,
                                               int64_t num_layers, int64_t directions,
                                               const ReferenceStepFor& step_for) {
  at::Tensor layer_input = data;
  std::vector<std::vector<at::Tensor>> finals(initial.size());
  for (int64_t layer = 0; layer < num_layers; ++layer) {
    std::vector<at::Tensor> direction_outputs;
    for (int64_t direction = 0; direction < directions; ++direction) {
      const int64_t index = layer * directions + direction;
      std::vector<at::Tensor> states;
      for (const at::Tensor& state : initial) {
        states.push_back(state[index]);
      }
      auto [output, final_states] = reference_direction(
          layer_input, batch_sizes, states, step_for(layer, direction), direction == 1);
      direction_outputs.push_back(output);
      for (size_t k = 0; k < final_states.size(); ++k) {
        finals[k].push_back(final_states[k]);
      }
    }
    layer_input = at::cat(direction_outputs, 1);
  }
  std::vector<at::Tensor> results{layer_input};
  for (const std::vector<at::Tensor>& per_direction : finals) {
    results.push_back(at::stack(per_direction));
  }
  return results;
}

std::vector<at::Tensor> reference_stack(const at::Tensor& input,
                                        const std::vector<at::Tensor>& initial, int64_t num_layers,
                                        int64_t directions, const ReferenceStepFor& step_for,
                                        bool batch_first) {
  const at::Tensor x = batch_first ? input.transpose(0, 1) : input;
  const int64_t steps = x.size(0);
  const int64_t batch = x.size(1);
  const std::vector<int64_t> batch_sizes(static_cast<size_t>(steps), batch);
  std::vector<at::Tensor> results =
      reference_stack_packed(x.reshape({steps * batch, x.size(2)}), batch_sizes, initial,
                             num_layers, directions, step_for);
  results[0] = results[0].reshape({steps, batch, results[0].size(1)});
  if (batch_first) {
    results[0] = results[0].transpose(0, 1);
  }
  return results;
}

at::Tensor random_sequence_input(int64_t steps, int64_t batch, bool batch_first,
                                 const std::vector<int64_t>& lengths, int64_t input_size,
                                 double scale, const at::TensorOptions& options,
                                 std::vector<int64_t>* batch_sizes) {
  if (!lengths.empty()) {
    *batch_sizes = batch_sizes_for_lengths(lengths);
    int64_t rows = 0;
    for (const int64_t size : *batch_sizes) {
      rows += size;
    }
    return at::randn({rows, input_size}, options) * scale;
  }
  const at::Tensor input = batch_first ? at::randn({batch, steps, input_size}, options)
                                       : at::randn({steps, batch, input_size}, options);
  return input * scale;
}

}  // namespace torch_ext::testing
