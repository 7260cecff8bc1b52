// torch_ext::nn: the recurrent modules and their options, mirroring torch::nn.
#pragma once

#include <torch_ext/nn/modules/rnn.h>
#include <torch_ext/nn/modules/rnn_cell.h>
#include <torch_ext/nn/options/rnn.h>
