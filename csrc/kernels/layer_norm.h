// Layer normalisation over the last `features` elements of each of `rows` rows (any leading
// dims and a normalized_shape of several dims flatten to that). The equations are in
// normalization.h; forward and backward are in layer_norm.cpp.
#pragma once

#include <cstdint>

namespace torch_ext::kernels {

template <typename scalar_t>
struct LayerNormForwardArgs {
  int64_t rows = 0;
  int64_t features = 0;
  scalar_t eps = 0;
  const scalar_t* input = nullptr;   // [rows, features]
  const scalar_t* weight = nullptr;  // [features] or nullptr
  const scalar_t* bias = nullptr;    // [features] or nullptr
  scalar_t* output = nullptr;        // [rows, features]
  scalar_t* mean = nullptr;          // [rows]
  scalar_t* rstd = nullptr;          // [rows]
};

template <typename scalar_t>
struct LayerNormBackwardArgs {
  int64_t rows = 0;
  int64_t features = 0;
  const scalar_t* grad_output = nullptr;  // [rows, features]
  const scalar_t* input = nullptr;        // [rows, features]
  const scalar_t* mean = nullptr;         // [rows]
  const scalar_t* rstd = nullptr;         // [rows]
  const scalar_t* weight = nullptr;       // [features] or nullptr
  scalar_t* grad_input = nullptr;         // [rows, features] or nullptr (not needed)
  scalar_t* grad_weight = nullptr;        // [features] or nullptr (not needed)
  scalar_t* grad_bias = nullptr;          // [features] or nullptr (not needed)
};

template <typename scalar_t>
void layer_norm_forward(const LayerNormForwardArgs<scalar_t>* args, int64_t count);

template <typename scalar_t>
void layer_norm_backward(const LayerNormBackwardArgs<scalar_t>* args, int64_t count);

#define TORCH_EXT_DECLARE_LAYER_NORM_KERNELS(capability)                                        \
  namespace capability {                                                                        \
  template <typename scalar_t>                                                                  \
  void layer_norm_forward(const LayerNormForwardArgs<scalar_t>* args, int64_t count);           \
  template <typename scalar_t>                                                                  \
  void layer_norm_backward(const LayerNormBackwardArgs<scalar_t>* args, int64_t count);         \
  }
TORCH_EXT_DECLARE_LAYER_NORM_KERNELS(DEFAULT)
TORCH_EXT_DECLARE_LAYER_NORM_KERNELS(AVX2)
TORCH_EXT_DECLARE_LAYER_NORM_KERNELS(AVX512)
#undef TORCH_EXT_DECLARE_LAYER_NORM_KERNELS

}  // namespace torch_ext::kernels
