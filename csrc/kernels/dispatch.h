// Which compiled variant of the kernels runs on this CPU.
#pragma once

namespace torch_ext::kernels {

enum class CpuCapability { Default, Avx2, Avx512 };

// The capability ATen chose for this process (the CPU's best, or ATEN_CPU_CAPABILITY when set),
// read once.
CpuCapability cpu_capability();

const char* to_string(CpuCapability capability);

}  // namespace torch_ext::kernels

// Calls capability::function(args...) for the capability the process runs with.
#define TORCH_EXT_CPU_DISPATCH(function, ...)                                  \
  do {                                                                         \
    switch (::torch_ext::kernels::cpu_capability()) {                          \
      case ::torch_ext::kernels::CpuCapability::Avx512:                        \
        return ::torch_ext::kernels::AVX512::function(__VA_ARGS__);            \
      case ::torch_ext::kernels::CpuCapability::Avx2:                          \
        return ::torch_ext::kernels::AVX2::function(__VA_ARGS__);              \
      case ::torch_ext::kernels::CpuCapability::Default:                       \
        break;                                                                 \
    }                                                                          \
    return ::torch_ext::kernels::DEFAULT::function(__VA_ARGS__);               \
  } while (false)
