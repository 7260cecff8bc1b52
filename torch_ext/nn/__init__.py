"""Drop-in replacements of ``torch.nn`` modules that run on the torch_ext operators.

``torch_ext.nn.LSTM`` stands wherever ``torch.nn.LSTM`` stands: same constructor, parameters,
initialisation, state dict, forward and error messages.
"""

from torch_ext.nn.modules import LSTM, LSTMCell, RNNBase, RNNCellBase

__all__ = ["RNNBase", "LSTM", "RNNCellBase", "LSTMCell"]
