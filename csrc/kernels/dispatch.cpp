// Runtime choice of the kernels' CPU variant, and the entry points that forward to it.
#include "kernels/dispatch.h"

#include "kernels/lstm.h"

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

template <typename scalar_t>
void lstm_layer_forward(const LstmForwardArgs<scalar_t>* directions, int64_t count) {
  TORCH_EXT_CPU_DISPATCH(lstm_layer_forward<scalar_t>, directions, count);
}

template <typename scalar_t>
void lstm_layer_backward(const LstmBackwardArgs<scalar_t>* directions, int64_t count) {
  TORCH_EXT_CPU_DISPATCH(lstm_layer_backward<scalar_t>, directions, count);
}

template void lstm_layer_forward<float>(const LstmForwardArgs<float>*, int64_t);
template void lstm_layer_forward<double>(const LstmForwardArgs<double>*, int64_t);
template void lstm_layer_backward<float>(const LstmBackwardArgs<float>*, int64_t);
template void lstm_layer_backward<double>(const LstmBackwardArgs<double>*, int64_t);

}  // namespace torch_ext::kernels
