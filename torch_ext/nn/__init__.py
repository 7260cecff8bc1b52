"""Drop-in replacements of ``torch.nn`` modules that run on the torch_ext operators.

``torch_ext.nn.LSTM`` stands wherever ``torch.nn.LSTM`` stands (and likewise ``GRU``, ``RNN`` and
the cells ``LSTMCell``, ``GRUCell``, ``RNNCell``): same constructor, parameters, initialisation,
state dict, forward and error messages. ``GRU`` and ``GRUCell`` also offer the original GRU form,
``reset_after=False``.

Beyond torch.nn: ``LayerNorm`` (a ``torch.nn.LayerNorm`` on our kernel) and the layer-normalised
recurrences ``LayerNormLSTM``, ``LayerNormGRU``, ``LayerNormLSTMCell``, ``LayerNormGRUCell``.
"""

from torch_ext.nn.modules import (
    GRU,
    LSTM,
    RNN,
    GRUCell,
    LayerNorm,
    LayerNormGRU,
    LayerNormGRUCell,
    LayerNormLSTM,
    LayerNormLSTMCell,
    LSTMCell,
    RNNBase,
    RNNCell,
    RNNCellBase,
)

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
