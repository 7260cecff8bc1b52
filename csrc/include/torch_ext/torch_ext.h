// The whole C++ API of torch_ext for LibTorch programs: the operators as functions
// (torch_ext::lstm, torch_ext::gru, torch_ext::layer_norm_lstm, ...: torch_ext/ops.h) and the
// modules of torch_ext::nn (LSTM, GRU, RNN, their cells, LayerNorm, LayerNormLSTM, LayerNormGRU
// and their cells: torch_ext/nn.h). Link torch_ext::torch_ext:
//
//   find_package(torch_ext REQUIRED)
//   target_link_libraries(app PRIVATE torch_ext::torch_ext)
#pragma once

#include <torch_ext/nn.h>
#include <torch_ext/ops.h>
