// Layer normalisation, forward and backward. The equations are in normalization.h.
//
// Rows are split between threads. The backward's weight and bias gradients are sums over rows:
// each thread sums its rows into its own buffer, and the buffers are added at the end.
//
// This file is compiled once per CPU capability (CPU_CAPABILITY names the namespace).
#include "kernels/layer_norm.h"

#include "kernels/normalization.h"
#include "kernels/parallel.h"
#include "kernels/team.h"
#include "kernels/vec_math.h"

#include <algorithm>
#include <vector>

namespace torch_ext::kernels {
namespace CPU_CAPABILITY {
namespace {

template <typename scalar_t>
void forward_rows(const LayerNormForwardArgs<scalar_t>& args, int64_t begin, int64_t end) {
  using V = Vec<scalar_t>;
  const int64_t n = args.features;
  for (int64_t row = begin; row < end; ++row) {
    const scalar_t* x = args.input + row * n;
    scalar_t* y = args.output + row * n;
    const Moments<scalar_t> m = moments(x, n);
    const scalar_t rstd = m.rstd(args.eps);
    args.mean[row] = m.mean;
    args.rstd[row] = rstd;
    const V mean_v(m.mean);
    const V rstd_v(rstd);
    for (int64_t j = 0; j < n; j += V::size()) {
      const int64_t c = std::min<int64_t>(V::size(), n - j);
      V value = (load(x + j, c) - mean_v) * rstd_v;
      if (args.weight != nullptr) {
        value = value * load(args.weight + j, c);
      }
      if (args.bias != nullptr) {
        value = value + load(args.bias + j, c);
      }
      store(value, y + j, c);
    }
  }
}

// dx for rows [begin, end); dw and db summed into `grad_weight` / `grad_bias` (nullable).
template <typename scalar_t>
void backward_rows(const LayerNormBackwardArgs<scalar_t>& args, int64_t begin, int64_t end,
                   scalar_t* grad_weight, scalar_t* grad_bias) {
  using V = Vec<scalar_t>;
  const int64_t n = args.features;
  const scalar_t inverse_n = scalar_t(1) / static_cast<scalar_t>(std::max<int64_t>(n, 1));
  for (int64_t row = begin; row < end; ++row) {
    const scalar_t* dy = args.grad_output + row * n;
    const scalar_t* x = args.input + row * n;
    const V mean(args.mean[row]);
    const V rstd(args.rstd[row]);
    if (args.grad_input != nullptr) {
      scalar_t sum_g = 0;
      scalar_t sum_g_xhat = 0;
      backward_sums(dy, x, args.weight, args.mean[row], args.rstd[row], n, sum_g, sum_g_xhat);
      const V mean_g(sum_g * inverse_n);
      const V mean_g_xhat(sum_g_xhat * inverse_n);
      scalar_t* dx = args.grad_input + row * n;
      for (int64_t j = 0; j < n; j += V::size()) {
        const int64_t c = std::min<int64_t>(V::size(), n - j);
        V g = load(dy + j, c);
        if (args.weight != nullptr) {
          g = g * load(args.weight + j, c);
        }
        const V xhat = (load(x + j, c) - mean) * rstd;
        store(rstd * (g - mean_g - xhat * mean_g_xhat), dx + j, c);
      }
    }
    for (int64_t j = 0; j < n && (grad_weight != nullptr || grad_bias != nullptr);
         j += V::size()) {
      const int64_t c = std::min<int64_t>(V::size(), n - j);
      const V g = load(dy + j, c);
      if (grad_weight != nullptr) {
        const V xhat = (load(x + j, c) - mean) * rstd;
        store(load(grad_weight + j, c) + g * xhat, grad_weight + j, c);
      }
      if (grad_bias != nullptr) {
        store(load(grad_bias + j, c) + g, grad_bias + j, c);
      }
    }
  }
}

template <typename scalar_t>
void backward_one(const LayerNormBackwardArgs<scalar_t>& args) {
  const int64_t n = args.features;
  const bool parameter_grads = args.grad_weight != nullptr || args.grad_bias != nullptr;
  if (!parameter_grads) {
    for_each_row_block(args.rows, n, [&](int64_t begin, int64_t end) {
      backward_rows<scalar_t>(args, begin, end, nullptr, nullptr);
    });
    return;
  }
  // One block of rows per thread, each with its own partial sums for dw and db.
  const int64_t blocks = std::max<int64_t>(
      1, std::min<int64_t>(at::get_num_threads(), args.rows * n / kValuesPerTask));
  std::vector<scalar_t> partial(static_cast<size_t>(blocks * 2 * n), scalar_t(0));
  at::parallel_for(0, blocks, 1, [&](int64_t first, int64_t last) {
    for (int64_t block = first; block < last; ++block) {
      const Share rows = share_of(args.rows, block, blocks);
      scalar_t* sums = partial.data() + block * 2 * n;
      backward_rows<scalar_t>(args, rows.begin, rows.end,
                              args.grad_weight != nullptr ? sums : nullptr,
                              args.grad_bias != nullptr ? sums + n : nullptr);
    }
  });
  for (int64_t j = 0; j < n; ++j) {
    scalar_t weight_total = 0;
    scalar_t bias_total = 0;
    for (int64_t block = 0; block < blocks; ++block) {
      weight_total += partial[static_cast<size_t>(block * 2 * n + j)];
      bias_total += partial[static_cast<size_t>(block * 2 * n + n + j)];
    }
    if (args.grad_weight != nullptr) {
      args.grad_weight[j] = weight_total;
    }
    if (args.grad_bias != nullptr) {
      args.grad_bias[j] = bias_total;
    }
  }
}

}  // namespace

template <typename scalar_t>
void layer_norm_forward(const LayerNormForwardArgs<scalar_t>* args, int64_t count) {
  for (int64_t i = 0; i < count; ++i) {
    const LayerNormForwardArgs<scalar_t>& one = args[i];
    for_each_row_block(one.rows, one.features, [&](int64_t begin, int64_t end) {
      forward_rows(one, begin, end);
    });
  }
}

template <typename scalar_t>
void layer_norm_backward(const LayerNormBackwardArgs<scalar_t>* args, int64_t count) {
  for (int64_t i = 0; i < count; ++i) {
    backward_one(args[i]);
  }
}

template void layer_norm_forward<float>(const LayerNormForwardArgs<float>*, int64_t);
template void layer_norm_forward<double>(const LayerNormForwardArgs<double>*, int64_t);
template void layer_norm_backward<float>(const LayerNormBackwardArgs<float>*, int64_t);
template void layer_norm_backward<double>(const LayerNormBackwardArgs<double>*, int64_t);

}  // namespace CPU_CAPABILITY
}  // namespace torch_ext::kernels
