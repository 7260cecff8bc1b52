// The references the GRU and vanilla RNN kernels are tested against: each cell written as ATen ops
// (matmul, sigmoid, tanh, relu, chunk), run over sequences by sequence_reference.h and
// differentiated by ATen's autograd. They follow the equations of csrc/kernels/gru.h and rnn.h and
// nn.GRU's / nn.RNN's conventions (gate order r, z, n; flat params in ATen's order), and nothing
// of the code under test.
#pragma once

#include "support/lstm_reference.h"

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>
#include <c10/util/ArrayRef.h>

#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

namespace torch_ext::testing {

// The recurrences of one state h.
//   Gru:            PyTorch's GRU, n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
//   GruResetBefore: the original GRU, n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn)
//   RnnTanh, RnnRelu: h' = act(W_ih x + b_ih + W_hh h + b_hh)
enum class Cell { Gru, GruResetBefore, RnnTanh, RnnRelu };

// The op's name: "gru", "gru_reset_before", "rnn_tanh", "rnn_relu".
std::string cell_name(Cell cell);

// Whether ATen computes the same function (it has no reset-before GRU).
bool aten_has(Cell cell);

// The hyper-parameters of nn.GRU / nn.RNN.
struct RecurrenceConfig {
  Cell cell = Cell::Gru;
  int64_t input_size = 3;
  int64_t hidden_size = 5;
  int64_t num_layers = 1;
  bool bidirectional = false;
  bool has_biases = true;

  bool is_gru() const { return cell == Cell::Gru || cell == Cell::GruResetBefore; }
  int64_t gates() const { return is_gru() ? 3 : 1; }
  int64_t directions() const { return bidirectional ? 2 : 1; }
  int64_t params_per_direction() const { return has_biases ? 4 : 2; }
};

// The weights of one (layer, direction); biases undefined when absent.
struct CellWeights {
  at::Tensor w_ih, w_hh, b_ih, b_hh;
};

// output, h_n
using StateOutputs = std::tuple<at::Tensor, at::Tensor>;

// Flat params in ATen's order, drawn like nn.GRU's / nn.RNN's: uniform in [-1/sqrt(H), 1/sqrt(H)].
std::vector<at::Tensor> make_recurrence_params(const RecurrenceConfig& config, at::ScalarType dtype,
                                               bool requires_grad);

// nn.GRU's / nn.RNN's names of the flat params ("bias_hh_l1_reverse"), for failure messages.
std::vector<std::string> recurrence_param_names(const RecurrenceConfig& config);

CellWeights cell_weights(at::TensorList params, const RecurrenceConfig& config, int64_t layer,
                         int64_t direction);

// One step: h' from x [B, I] and h [B, H].
at::Tensor reference_cell(Cell cell, const at::Tensor& x, const at::Tensor& h,
                          const CellWeights& weights);

// The .data op: data [N, I], h0 [L·D, B, H]. Output [N, D·H].
StateOutputs reference_recurrence_packed(const at::Tensor& data, c10::IntArrayRef batch_sizes,
                                         const at::Tensor& h0, at::TensorList params,
                                         const RecurrenceConfig& config);

// The .input op: input [T, B, I] ([B, T, I] when batch_first). Output [T, B, D·H] ([B, T, ·]).
StateOutputs reference_recurrence(const at::Tensor& input, const at::Tensor& h0,
                                  at::TensorList params, const RecurrenceConfig& config,
                                  bool batch_first);

}  // namespace torch_ext::testing
