// LSTM layer, forward and backward over a whole sequence. The equations are in lstm.h.
//
// This file is compiled once per CPU capability (CPU_CAPABILITY names the namespace).
#include "kernels/lstm.h"

#include "kernels/gemm.h"
#include "kernels/parallel.h"
#include "kernels/vec_math.h"

#include <algorithm>
#include <cstring>

namespace torch_ext::kernels {
namespace CPU_CAPABILITY {
namespace {

// One row of the forward pointwise pass. `gates` holds x·W_ihᵀ + h·W_hhᵀ; with SaveForBackward it
// is overwritten by the activated i, f, g, o. The new hidden value goes to `hidden` (and
// `hidden_copy` when not null): the state buffer and the output row, or the projection's input.
template <bool SaveForBackward, typename scalar_t>
void forward_row(int64_t hidden_size, const scalar_t* bias, scalar_t* gates, scalar_t* c_state,
                 scalar_t* cell_saved, scalar_t* hidden, scalar_t* hidden_copy) {
  using V = Vec<scalar_t>;
  const int64_t H = hidden_size;
  for (int64_t j = 0; j < H; j += V::size()) {
    const int64_t n = std::min<int64_t>(V::size(), H - j);
    const V i = sigmoid(load(gates + j, n) + load(bias + j, n));
    const V f = sigmoid(load(gates + H + j, n) + load(bias + H + j, n));
    const V g = tanh(load(gates + 2 * H + j, n) + load(bias + 2 * H + j, n));
    const V o = sigmoid(load(gates + 3 * H + j, n) + load(bias + 3 * H + j, n));
    const V c = f * load(c_state + j, n) + i * g;
    const V h = o * tanh(c);
    store(c, c_state + j, n);
    store(h, hidden + j, n);
    if (hidden_copy != nullptr) {
      store(h, hidden_copy + j, n);
    }
    if constexpr (SaveForBackward) {
      store(c, cell_saved + j, n);
      store(i, gates + j, n);
      store(f, gates + H + j, n);
      store(g, gates + 2 * H + j, n);
      store(o, gates + 3 * H + j, n);
    }
  }
}

// One row of the backward pointwise pass: from the saved gates and cells and the incoming
// dh (+ dy when not null) and dc, writes dG and replaces dc by dc_{t-1}. With `projection_in`
// not null it also stores r_t = o ⊙ tanh(c_t), the projection's input, for dW_hr.
template <typename scalar_t>
void backward_row(int64_t hidden_size, const scalar_t* gates, const scalar_t* cell,
                  const scalar_t* cell_previous, const scalar_t* grad_hidden,
                  const scalar_t* grad_output, scalar_t* grad_cell, scalar_t* grad_gates,
                  scalar_t* projection_in) {
  using V = Vec<scalar_t>;
  const int64_t H = hidden_size;
  const V one(scalar_t(1));
  for (int64_t j = 0; j < H; j += V::size()) {
    const int64_t n = std::min<int64_t>(V::size(), H - j);
    const V i = load(gates + j, n);
    const V f = load(gates + H + j, n);
    const V g = load(gates + 2 * H + j, n);
    const V o = load(gates + 3 * H + j, n);
    const V tanh_c = tanh(load(cell + j, n));
    V dh = load(grad_hidden + j, n);
    if (grad_output != nullptr) {
      dh = dh + load(grad_output + j, n);
    }
    const V dc = load(grad_cell + j, n) + dh * o * (one - tanh_c * tanh_c);
    store(dc * f, grad_cell + j, n);
    store(dc * g * i * (one - i), grad_gates + j, n);
    store(dc * load(cell_previous + j, n) * f * (one - f), grad_gates + H + j, n);
    store(dc * i * (one - g * g), grad_gates + 2 * H + j, n);
    store(dh * tanh_c * o * (one - o), grad_gates + 3 * H + j, n);
    if (projection_in != nullptr) {
      store(o * tanh_c, projection_in + j, n);
    }
  }
}

template <bool SaveForBackward, typename scalar_t>
void forward_impl(const LstmForwardArgs<scalar_t>& args) {
  const SequenceLayout& seq = args.sequence;
  const LstmSizes& sizes = args.sizes;
  const LstmWeights<scalar_t>& w = args.weights;
  const int64_t H = sizes.hidden_size;
  const int64_t R = sizes.state_size();
  const int64_t G = sizes.gate_size();
  const bool projected = sizes.proj_size > 0;

  // Input projection of every step at once.
  gemm(Transpose::No, Transpose::Yes, seq.rows, G, sizes.input_size, scalar_t(1), args.input,
       args.input_stride, w.w_ih, sizes.input_size, scalar_t(0), args.gates, G);

  for (int64_t position = 0; position < seq.steps; ++position) {
    const int64_t t = seq.step_at(position, args.reverse);
    const int64_t batch = seq.batch_size(t);
    const int64_t row0 = seq.offset(t);
    scalar_t* gates = args.gates + row0 * G;
    scalar_t* output = args.output + row0 * args.output_stride;

    gemm(Transpose::No, Transpose::Yes, batch, G, R, scalar_t(1), args.h_state, R, w.w_hh, R,
         scalar_t(1), gates, G);

    for_each_row_block(batch, G, [&](int64_t begin, int64_t end) {
      for (int64_t b = begin; b < end; ++b) {
        scalar_t* cell_saved = SaveForBackward ? args.cells + (row0 + b) * H : nullptr;
        if (projected) {
          forward_row<SaveForBackward>(H, w.bias, gates + b * G, args.c_state + b * H,
                                       cell_saved, args.projection_in + b * H,
                                       static_cast<scalar_t*>(nullptr));
        } else {
          forward_row<SaveForBackward>(H, w.bias, gates + b * G, args.c_state + b * H,
                                       cell_saved, args.h_state + b * H,
                                       output + b * args.output_stride);
        }
      }
    });

    if (projected) {
      gemm(Transpose::No, Transpose::Yes, batch, R, H, scalar_t(1), args.projection_in, H, w.w_hr,
           H, scalar_t(0), output, args.output_stride);
      for (int64_t b = 0; b < batch; ++b) {
        std::memcpy(args.h_state + b * R, output + b * args.output_stride, R * sizeof(scalar_t));
      }
    }
  }
}

// ∂L/∂W_hh = Σ_rows dG_rowᵀ · h_prev(row), h_prev being the state the row's step read.
template <typename scalar_t>
void grad_weight_hh(const LstmBackwardArgs<scalar_t>& args) {
  const SequenceLayout& seq = args.sequence;
  const int64_t R = args.sizes.state_size();
  const int64_t G = args.sizes.gate_size();
  const int64_t B = seq.batch;
  if (seq.uniform) {
    // Unpacked: the previous states of all steps but the first processed are the outputs of
    // the neighbouring steps, one contiguous block of rows; the first processed step read h_0.
    const int64_t later_rows = seq.rows - B;
    const scalar_t* grad_later = args.grad_gates + (args.reverse ? 0 : B * G);
    const scalar_t* previous = args.output + (args.reverse ? B * args.output_stride : 0);
    const scalar_t* grad_first = args.grad_gates + (args.reverse ? later_rows * G : 0);
    gemm(Transpose::Yes, Transpose::No, G, R, later_rows, scalar_t(1), grad_later, G, previous,
         args.output_stride, scalar_t(0), args.grad_w_hh, R);
    gemm(Transpose::Yes, Transpose::No, G, R, B, scalar_t(1), grad_first, G, args.h0, R,
         scalar_t(1), args.grad_w_hh, R);
    return;
  }
  // Packed: gather each row's previous state, then one GEMM.
  for (int64_t t = 0; t < seq.steps; ++t) {
    const int64_t row0 = seq.offset(t);
    for (int64_t b = 0; b < seq.batch_size(t); ++b) {
      const int64_t previous = seq.previous_step(t, b, args.reverse);
      const scalar_t* source = previous >= 0
                                   ? args.output + (seq.offset(previous) + b) * args.output_stride
                                   : args.h0 + b * R;
      std::memcpy(args.previous_h + (row0 + b) * R, source, R * sizeof(scalar_t));
    }
  }
  gemm(Transpose::Yes, Transpose::No, G, R, seq.rows, scalar_t(1), args.grad_gates, G,
       args.previous_h, R, scalar_t(0), args.grad_w_hh, R);
}

}  // namespace

template <typename scalar_t>
void lstm_layer_forward(const LstmForwardArgs<scalar_t>& args) {
  if (args.cells != nullptr) {
    forward_impl<true>(args);
  } else {
    forward_impl<false>(args);
  }
}

template <typename scalar_t>
void lstm_layer_backward(const LstmBackwardArgs<scalar_t>& args) {
  const SequenceLayout& seq = args.sequence;
  const LstmSizes& sizes = args.sizes;
  const LstmWeights<scalar_t>& w = args.weights;
  const int64_t H = sizes.hidden_size;
  const int64_t P = sizes.proj_size;
  const int64_t R = sizes.state_size();
  const int64_t G = sizes.gate_size();
  const bool projected = P > 0;

  // Back through time: the reverse of the order the forward pass took.
  for (int64_t position = 0; position < seq.steps; ++position) {
    const int64_t t = seq.step_at(position, !args.reverse);
    const int64_t batch = seq.batch_size(t);
    const int64_t row0 = seq.offset(t);
    const scalar_t* grad_output =
        args.grad_output != nullptr ? args.grad_output + row0 * args.grad_output_stride : nullptr;

    if (projected) {
      // dh_t = dy_t + dh carried; dr = dh_t · W_hr.
      scalar_t* grad_h_rows = args.grad_h_rows + row0 * P;
      for (int64_t b = 0; b < batch; ++b) {
        for (int64_t j = 0; j < P; ++j) {
          grad_h_rows[b * P + j] =
              args.grad_h_state[b * P + j] +
              (grad_output != nullptr ? grad_output[b * args.grad_output_stride + j] : scalar_t(0));
        }
      }
      gemm(Transpose::No, Transpose::No, batch, H, P, scalar_t(1), grad_h_rows, P, w.w_hr, H,
           scalar_t(0), args.grad_projection_in, H);
    }

    for_each_row_block(batch, G, [&](int64_t begin, int64_t end) {
      for (int64_t b = begin; b < end; ++b) {
        const int64_t row = row0 + b;
        const int64_t previous = seq.previous_step(t, b, args.reverse);
        const scalar_t* cell_previous =
            previous >= 0 ? args.cells + (seq.offset(previous) + b) * H : args.c0 + b * H;
        if (projected) {
          backward_row(H, args.gates + row * G, args.cells + row * H, cell_previous,
                       args.grad_projection_in + b * H, static_cast<const scalar_t*>(nullptr),
                       args.grad_c_state + b * H, args.grad_gates + row * G,
                       args.projection_in + row * H);
        } else {
          backward_row(H, args.gates + row * G, args.cells + row * H, cell_previous,
                       args.grad_h_state + b * R,
                       grad_output != nullptr ? grad_output + b * args.grad_output_stride
                                              : nullptr,
                       args.grad_c_state + b * H, args.grad_gates + row * G,
                       static_cast<scalar_t*>(nullptr));
        }
      }
    });

    // dh_{t-1} = dG · W_hh.
    gemm(Transpose::No, Transpose::No, batch, R, G, scalar_t(1), args.grad_gates + row0 * G, G,
         w.w_hh, R, scalar_t(0), args.grad_h_state, R);
  }

  // The weight and input gradients, each one GEMM over every row of the sequence.
  if (args.grad_input != nullptr) {
    gemm(Transpose::No, Transpose::No, seq.rows, sizes.input_size, G, scalar_t(1),
         args.grad_gates, G, w.w_ih, sizes.input_size,
         args.accumulate_grad_input ? scalar_t(1) : scalar_t(0), args.grad_input,
         args.grad_input_stride);
  }
  gemm(Transpose::Yes, Transpose::No, G, sizes.input_size, seq.rows, scalar_t(1),
       args.grad_gates, G, args.input, args.input_stride, scalar_t(0), args.grad_w_ih,
       sizes.input_size);
  grad_weight_hh(args);
  if (args.grad_bias != nullptr) {
    sum_rows(args.grad_gates, seq.rows, G, args.grad_bias);
  }
  if (projected) {
    gemm(Transpose::Yes, Transpose::No, P, H, seq.rows, scalar_t(1), args.grad_h_rows, P,
         args.projection_in, H, scalar_t(0), args.grad_w_hr, H);
  }
}

template void lstm_layer_forward<float>(const LstmForwardArgs<float>&);
template void lstm_layer_forward<double>(const LstmForwardArgs<double>&);
template void lstm_layer_backward<float>(const LstmBackwardArgs<float>&);
template void lstm_layer_backward<double>(const LstmBackwardArgs<double>&);

}  // namespace CPU_CAPABILITY
}  // namespace torch_ext::kernels
