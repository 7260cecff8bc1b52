"""The torch_ext modules, one file per family as in ``torch.nn.modules``."""

from torch_ext.nn.modules.rnn import LSTM, RNNBase
from torch_ext.nn.modules.rnn_cell import LSTMCell, RNNCellBase

__all__ = ["RNNBase", "LSTM", "RNNCellBase", "LSTMCell"]
