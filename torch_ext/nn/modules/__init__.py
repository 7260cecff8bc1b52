"""The torch_ext modules, one file per family as in ``torch.nn.modules``."""

from torch_ext.nn.modules.layer_norm_rnn import LayerNormGRU, LayerNormLSTM
from torch_ext.nn.modules.layer_norm_rnn_cell import LayerNormGRUCell, LayerNormLSTMCell
from torch_ext.nn.modules.normalization import LayerNorm
from torch_ext.nn.modules.rnn import GRU, LSTM, RNN, RNNBase
from torch_ext.nn.modules.rnn_cell import GRUCell, LSTMCell, RNNCell, RNNCellBase

__all__ = [
    "RNNBase",
    "LSTM",
    "GRU",
    "RNN",
    "RNNCellBase",
    "LSTMCell",
    "GRUCell",
    "RNNCell",
    "LayerNorm",
    "LayerNormLSTM",
    "LayerNormGRU",
    "LayerNormLSTMCell",
    "LayerNormGRUCell",
]
