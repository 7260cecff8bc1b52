// The GoogleTest checks every recurrence of one state passes (the GRU in both forms, the tanh and
// ReLU RNNs), through the public C++ API of torch_ext/ops.h (torch_ext::gru, gru_reset_before,
// rnn_tanh, rnn_relu, their cells and layer ops), which reaches the kernels through the dispatcher
// and the C++ autograd node: forward values (training and inference) and every gradient against
// the ATen-op reference of recurrence_reference.h, the reference against ATen's own op, results
// under several thread counts, the layer op, the cell op, and bad arguments thrown as c10::Error
// naming the argument.
//
// The suites are parametrized; kernels/test_gru.cpp and kernels/test_rnn.cpp instantiate them
// for their cells under the prefixes Gru and Rnn (the ctest entries select tests by prefix).
#pragma once

#include "support/recurrence_reference.h"

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace torch_ext::testing {

// One problem: the configuration and the shape of its input.
struct RecurrenceCase {
  std::string name;
  RecurrenceConfig config;
  int64_t steps = 4;
  int64_t batch = 3;
  bool batch_first = false;
  std::vector<int64_t> lengths;  // non-empty: a PackedSequence of these lengths (longest first)
  double input_scale = 1.0;      // large values drive the gates into saturation

  bool packed() const { return !lengths.empty(); }
};

struct RecurrenceParam {
  RecurrenceCase problem;
  at::ScalarType dtype;
};

// The cases every cell is checked on, in float32 and float64, named "<case>_<cell>_<dtype>".
std::vector<RecurrenceParam> recurrence_params(const std::vector<Cell>& cells);

std::string recurrence_param_label(const ::testing::TestParamInfo<RecurrenceParam>& info);

// Forward (training and inference) and backward against the reference.
class RecurrenceNumerics : public ::testing::TestWithParam<RecurrenceParam> {};

// The reference agrees with ATen's op (cells ATen has).
class RecurrenceAtenParity : public ::testing::TestWithParam<RecurrenceParam> {};

struct CellParam {
  Cell cell;
  at::ScalarType dtype;
};

// Each cell in float32 and float64.
std::vector<CellParam> cell_params(const std::vector<Cell>& cells);

std::string cell_param_label(const ::testing::TestParamInfo<CellParam>& info);

// The cases whose rows let a direction's threads split the hidden units, under 1, 3 and 4 threads.
class RecurrenceThreads : public ::testing::TestWithParam<CellParam> {};

// The layer op (gru_layer / rnn_layer), padded and packed, both directions.
class RecurrenceLayer : public ::testing::TestWithParam<CellParam> {};

// The cell op with both, no, or either bias, and an empty batch, against the reference and ATen.
class RecurrenceCellOp : public ::testing::TestWithParam<CellParam> {};

// Bad arguments raise a c10::Error that names the op and the argument.
class RecurrenceErrors : public ::testing::TestWithParam<Cell> {};

std::string cell_label(const ::testing::TestParamInfo<Cell>& info);

// Restores the intra-op thread count when it goes out of scope.
class ThreadCountGuard {
 public:
  explicit ThreadCountGuard(int threads);
  ~ThreadCountGuard();
  ThreadCountGuard(const ThreadCountGuard&) = delete;
  ThreadCountGuard& operator=(const ThreadCountGuard&) = delete;

 private:
  int saved_;
};

}  // namespace torch_ext::testing
