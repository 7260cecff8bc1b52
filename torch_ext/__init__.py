"""torch_ext: recurrent cells for PyTorch with hand-written CPU kernels.

Importing the package loads the operator library, which registers ``torch.ops.torch_ext.*``
(the same ops C++ programs reach through ``torch_ext/torch_ext.h``). The modules replace their
``torch.nn`` namesakes line for line.
"""

from torch_ext import _library

_library.load()

from torch_ext import ops  # noqa: E402
from torch_ext._library import library_path  # noqa: E402
from torch_ext import nn  # noqa: E402
from torch_ext.nn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell  # noqa: E402
from torch_ext.nn import LayerNorm, LayerNormGRU, LayerNormGRUCell, LayerNormLSTM, LayerNormLSTMCell  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "ops",
    "nn",
    "LSTM",
    "GRU",
    "RNN",
    "LSTMCell",
    "GRUCell",
    "RNNCell",
    "LayerNorm",
    "LayerNormLSTM",
    "LayerNormGRU",
    "LayerNormLSTMCell",
    "LayerNormGRUCell",
    "library_path",
    "__version__",
]
