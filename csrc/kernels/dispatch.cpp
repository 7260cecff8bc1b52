// Runtime choice of the kernels' CPU variant, and the entry points that forward to it.
#include "kernels/dispatch.h"

#include "kernels/gru.h"
#include "kernels/layer_norm.h"
#include "kernels/layer_norm_gru.h"
#include "kernels/layer_norm_lstm.h"
#include "kernels/lstm.h"
#include "kernels/rnn.h"

#include <ATen/Version.h>

#include <string>

namespace torch_ext::kernels {

CpuCapability cpu_capability() {
  static const CpuCapability capability = [] {
    const std::string name = at::get_cpu_capability();
    if (name == "AVX512") {
      return CpuCapability::Avx512;
    }
    if (name == "AVX2") {
      return CpuCapability::Avx2;
    }
    return CpuCapability::Default;
  }();
  return capability;
}

const char* to_string(CpuCapability capability) {
  switch (capability) {
    case CpuCapability::Avx512:
      return "AVX512";
    case CpuCapability::Avx2:
      return "AVX2";
    case CpuCapability::Default:
      break;
  }
  return "DEFAULT";
}

// The entry points declared beside each kernel: forward to the variant for this CPU, for float
// and double.
#define TORCH_EXT_DISPATCHED_KERNEL(name, Args)                      \
  template <typename scalar_t>                                        \
  void name(const Args<scalar_t>* args, int64_t count) {             \
    TORCH_EXT_CPU_DISPATCH(name<scalar_t>, args, count);              \
  }                                                                   \
  template void name<float>(const Args<float>*, int64_t);             \
  template void name<double>(const Args<double>*, int64_t);

TORCH_EXT_DISPATCHED_KERNEL(lstm_layer_forward, LstmForwardArgs)
TORCH_EXT_DISPATCHED_KERNEL(lstm_layer_backward, LstmBackwardArgs)
TORCH_EXT_DISPATCHED_KERNEL(gru_layer_forward, GruForwardArgs)
TORCH_EXT_DISPATCHED_KERNEL(gru_layer_backward, GruBackwardArgs)
TORCH_EXT_DISPATCHED_KERNEL(rnn_layer_forward, RnnForwardArgs)
TORCH_EXT_DISPATCHED_KERNEL(rnn_layer_backward, RnnBackwardArgs)
TORCH_EXT_DISPATCHED_KERNEL(layer_norm_forward, LayerNormForwardArgs)
TORCH_EXT_DISPATCHED_KERNEL(layer_norm_backward, LayerNormBackwardArgs)
TORCH_EXT_DISPATCHED_KERNEL(layer_norm_lstm_layer_forward, LayerNormLstmForwardArgs)
TORCH_EXT_DISPATCHED_KERNEL(layer_norm_lstm_layer_backward, LayerNormLstmBackwardArgs)
TORCH_EXT_DISPATCHED_KERNEL(layer_norm_gru_layer_forward, LayerNormGruForwardArgs)
TORCH_EXT_DISPATCHED_KERNEL(layer_norm_gru_layer_backward, LayerNormGruBackwardArgs)

#undef TORCH_EXT_DISPATCHED_KERNEL

}  // namespace torch_ext::kernels
