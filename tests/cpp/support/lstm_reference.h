// The reference the kernels are tested against: an LSTM written as a step loop of ATen ops
// (matmul, sigmoid, tanh, chunk), differentiated by ATen's autograd. It follows the equations of
// csrc/kernels/lstm.h and nn.LSTM's conventions (gate order i, f, g, o; flat params in ATen's
// order; PackedSequence rows), and nothing of the code under test.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>
#include <c10/util/ArrayRef.h>
#include <c10/util/Exception.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

namespace torch_ext::testing {

// The hyper-parameters of nn.LSTM.
struct LstmConfig {
  int64_t input_size = 3;
  int64_t hidden_size = 5;
  int64_t proj_size = 0;  // 0: no projection
  int64_t num_layers = 1;
  bool bidirectional = false;
  bool has_biases = true;

  int64_t directions() const { return bidirectional ? 2 : 1; }
  int64_t state_size() const { return proj_size > 0 ? proj_size : hidden_size; }  // R
  int64_t params_per_direction() const { return 2 + (has_biases ? 2 : 0) + (proj_size > 0); }
};

// The weights of one (layer, direction); biases and w_hr undefined when absent.
struct LstmDirectionWeights {
  at::Tensor w_ih, w_hh, b_ih, b_hh, w_hr;
};

// output, h_n, c_n
using LstmOutputs = std::tuple<at::Tensor, at::Tensor, at::Tensor>;

// The shapes of the flat params, in ATen's order.
std::vector<std::vector<int64_t>> lstm_param_shapes(const LstmConfig& config);

// Flat params in ATen's order, drawn like nn.LSTM's: uniform in [-1/sqrt(H), 1/sqrt(H)].
std::vector<at::Tensor> make_lstm_params(const LstmConfig& config, at::ScalarType dtype,
                                         bool requires_grad);

// nn.LSTM's names of the flat params ("weight_hh_l1_reverse"), for failure messages.
std::vector<std::string> lstm_param_names(const LstmConfig& config);

LstmDirectionWeights direction_weights(at::TensorList params, const LstmConfig& config,
                                       int64_t layer, int64_t direction);

// PackedSequence batch_sizes of sequences with these lengths (sorted longest first).
std::vector<int64_t> batch_sizes_for_lengths(const std::vector<int64_t>& lengths);

// One step of the cell: h', c' from x [B, I], h [B, R], c [B, H].
std::tuple<at::Tensor, at::Tensor> reference_lstm_cell(const at::Tensor& x, const at::Tensor& h,
                                                       const at::Tensor& c,
                                                       const LstmDirectionWeights& weights);

// One direction over packed rows: data [N, I] holds step t in rows
// [Σ_{s<t} batch_sizes[s], +batch_sizes[t]); h0 [B, R], c0 [B, H] with B = batch_sizes[0].
// The reverse direction starts each sequence at its own last step, from h0 / c0.
// Returns output [N, R], h_n [B, R], c_n [B, H].
LstmOutputs reference_lstm_direction(const at::Tensor& data, c10::IntArrayRef batch_sizes,
                                     const at::Tensor& h0, const at::Tensor& c0,
                                     const LstmDirectionWeights& weights, bool reverse);

// aten::lstm.data: data [N, I]; h0 [L·D, B, R], c0 [L·D, B, H]. Output [N, D·R].
LstmOutputs reference_lstm_packed(const at::Tensor& data, c10::IntArrayRef batch_sizes,
                                  const at::Tensor& h0, const at::Tensor& c0,
                                  at::TensorList params, const LstmConfig& config);

// aten::lstm.input: input [T, B, I] ([B, T, I] when batch_first). Output [T, B, D·R] ([B, T, ·]).
LstmOutputs reference_lstm(const at::Tensor& input, const at::Tensor& h0, const at::Tensor& c0,
                           at::TensorList params, const LstmConfig& config, bool batch_first);

// Σ ⟨outputs[k], weights[k]⟩ over the defined outputs: a scalar loss whose gradient w.r.t.
// outputs[k] is weights[k].
at::Tensor weighted_sum(at::TensorList outputs, at::TensorList weights);

// "float32" / "float64", for test names.
std::string dtype_name(at::ScalarType dtype);

// Tolerances per dtype: float64 results must agree to ~1e-10, float32 to ~1e-5.
struct Tolerance {
  double rtol;
  double atol;
};
Tolerance tolerance_for(at::ScalarType dtype);

// For EXPECT_PRED_FORMAT2: same dtype and shape, and |actual − expected| ≤ atol + rtol·|expected|
// everywhere (NaN never matches), with the tolerance of the dtype.
::testing::AssertionResult tensors_close(const char* actual_expr, const char* expected_expr,
                                         const at::Tensor& actual, const at::Tensor& expected);

#define EXPECT_TENSORS_CLOSE(actual, expected) \
  EXPECT_PRED_FORMAT2(::torch_ext::testing::tensors_close, actual, expected)

// Compares gradient lists entry by entry, naming each entry on failure.
void expect_gradients_close(const std::vector<at::Tensor>& actual,
                            const std::vector<at::Tensor>& expected,
                            const std::vector<std::string>& names);

// Runs `fn` and checks that it throws a c10::Error whose message contains every fragment.
template <typename Fn>
::testing::AssertionResult throws_error_with(Fn&& fn, const std::vector<std::string>& fragments) {
  try {
    fn();
  } catch (const c10::Error& error) {
    const std::string message = error.what_without_backtrace();
    for (const std::string& fragment : fragments) {
      if (message.find(fragment) == std::string::npos) {
        return ::testing::AssertionFailure()
               << "the c10::Error's message lacks \"" << fragment << "\":\n  " << message;
      }
    }
    return ::testing::AssertionSuccess();
  } catch (const std::exception& error) {
    return ::testing::AssertionFailure() << "threw a non-c10 exception: " << error.what();
  }
  return ::testing::AssertionFailure() << "threw nothing";
}

#define EXPECT_ERROR_WITH(statement, ...)                                                 \
  EXPECT_TRUE(::torch_ext::testing::throws_error_with([&] { (void)(statement); },         \
                                                       std::vector<std::string>{__VA_ARGS__}))

}  // namespace torch_ext::testing
