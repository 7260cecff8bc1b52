// torch_ext::nn: the modules and their options, mirroring torch::nn: LSTM, GRU, RNN and their
// cells (LSTMCell, GRUCell, RNNCell), LayerNorm, and the layer-normalised LayerNormLSTM,
// LayerNormGRU, LayerNormLSTMCell and LayerNormGRUCell.
#pragma once

#include <torch_ext/nn/modules/layer_norm_rnn.h>
#include <torch_ext/nn/modules/layer_norm_rnn_cell.h>
#include <torch_ext/nn/modules/normalization.h>
#include <torch_ext/nn/modules/rnn.h>
#include <torch_ext/nn/modules/rnn_cell.h>
#include <torch_ext/nn/options/layer_norm_rnn.h>
#include <torch_ext/nn/options/normalization.h>
#include <torch_ext/nn/options/rnn.h>
