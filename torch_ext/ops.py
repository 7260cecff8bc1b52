"""Typed Python entry points of the torch_ext operators.

Each function calls ``torch.ops.torch_ext.<name>`` and takes the same arguments as its ATen
namesake (``torch.lstm``, ``torch.gru_cell``, ``torch.layer_norm``, ...), so it can stand where
that stands. The ops without an ATen namesake (the reset-before GRU, the layer-normalised LSTM and
GRU) take the arguments of their closest one, plus ``eps`` for layer normalisation. ``*_packed``
functions are the PackedSequence overloads (``.data``), over ``data`` and ``batch_sizes``.

``params`` lists are the flat weights in the order of the module's ``_flat_weights``: per layer
and direction ``w_ih, w_hh[, b_ih, b_hh][, w_hr]`` (LSTM with a projection), and for the
layer-normalised cells then ``ln_ih_weight, ln_ih_bias, ln_hh_weight, ln_hh_bias`` and, for the
LSTM, ``ln_cell_weight, ln_cell_bias``.
"""

from typing import List, Optional, Sequence, Tuple

import torch
from torch import Tensor

__all__ = [
    "lstm", "lstm_packed", "lstm_cell", "lstm_layer",
    "gru", "gru_packed", "gru_cell", "gru_layer",
    "gru_reset_before", "gru_reset_before_packed", "gru_reset_before_cell",
    "rnn_tanh", "rnn_tanh_packed", "rnn_tanh_cell", "rnn_relu", "rnn_relu_packed", "rnn_relu_cell",
    "rnn_layer",
    "layer_norm",
    "layer_norm_lstm", "layer_norm_lstm_packed", "layer_norm_lstm_cell", "layer_norm_lstm_layer",
    "layer_norm_gru", "layer_norm_gru_packed", "layer_norm_gru_cell", "layer_norm_gru_layer",
]


def lstm(
    input: Tensor,
    hx: Sequence[Tensor],
    params: Sequence[Tensor],
    has_biases: bool,
    num_layers: int,
    dropout: float,
    train: bool,
    bidirectional: bool,
    batch_first: bool,
) -> Tuple[Tensor, Tensor, Tensor]:
    r"""Multi-layer LSTM over a padded sequence, like ``torch.lstm`` (``aten::lstm.input``).

    Args:
        input: ``(L, N, H_in)``, or ``(N, L, H_in)`` when ``batch_first``.
        hx: ``(h_0, c_0)`` of shapes ``(D * num_layers, N, H_out)`` and ``(D * num_layers, N, H_cell)``.
        params: the flat weights in ``nn.LSTM._flat_weights`` order.

    Returns:
        ``(output, h_n, c_n)``.
    """
    return torch.ops.torch_ext.lstm.input(
        input, list(hx), list(params), has_biases, num_layers, dropout, train, bidirectional, batch_first
    )


def lstm_packed(
    data: Tensor,
    batch_sizes: Tensor,
    hx: Sequence[Tensor],
    params: Sequence[Tensor],
    has_biases: bool,
    num_layers: int,
    dropout: float,
    train: bool,
    bidirectional: bool,
) -> Tuple[Tensor, Tensor, Tensor]:
    r"""Multi-layer LSTM over a PackedSequence's ``data`` and ``batch_sizes`` (``aten::lstm.data``)."""
    return torch.ops.torch_ext.lstm.data(
        data, batch_sizes, list(hx), list(params), has_biases, num_layers, dropout, train, bidirectional
    )


def lstm_cell(
    input: Tensor,
    hx: Sequence[Tensor],
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Optional[Tensor] = None,
    b_hh: Optional[Tensor] = None,
) -> Tuple[Tensor, Tensor]:
    r"""One LSTM step on a batch, like ``torch.lstm_cell``: returns ``(h_1, c_1)``."""
    return torch.ops.torch_ext.lstm_cell(input, list(hx), w_ih, w_hh, b_ih, b_hh)


def lstm_layer(
    input: Tensor,
    batch_sizes: Optional[Tensor],
    hx: Tensor,
    cx: Tensor,
    params: List[Tensor],
    has_biases: bool,
    bidirectional: bool,
) -> Tuple[Tensor, Tensor, Tensor]:
    r"""One LSTM layer (both directions when ``bidirectional``) over a whole sequence.

    The building block of :func:`lstm`: one autograd node per call. ``input`` is ``(L, N, H_in)``,
    or packed ``(rows, H_in)`` with ``batch_sizes``; ``hx`` is ``(D, N, H_out)``, ``cx`` ``(D, N, H_cell)``.
    """
    return torch.ops.torch_ext.lstm_layer(input, batch_sizes, hx, cx, params, has_biases, bidirectional)


def gru(
    input: Tensor,
    hx: Tensor,
    params: Sequence[Tensor],
    has_biases: bool,
    num_layers: int,
    dropout: float,
    train: bool,
    bidirectional: bool,
    batch_first: bool,
) -> Tuple[Tensor, Tensor]:
    r"""Multi-layer GRU over a padded sequence, like ``torch.gru`` (``aten::gru.input``).

    Args:
        input: ``(L, N, H_in)``, or ``(N, L, H_in)`` when ``batch_first``.
        hx: ``h_0`` of shape ``(D * num_layers, N, H_out)``.
        params: the flat weights in ``nn.GRU._flat_weights`` order.

    Returns:
        ``(output, h_n)``.
    """
    return torch.ops.torch_ext.gru.input(
        input, hx, list(params), has_biases, num_layers, dropout, train, bidirectional, batch_first
    )


def gru_packed(
    data: Tensor,
    batch_sizes: Tensor,
    hx: Tensor,
    params: Sequence[Tensor],
    has_biases: bool,
    num_layers: int,
    dropout: float,
    train: bool,
    bidirectional: bool,
) -> Tuple[Tensor, Tensor]:
    r"""Multi-layer GRU over a PackedSequence's ``data`` and ``batch_sizes`` (``aten::gru.data``)."""
    return torch.ops.torch_ext.gru.data(
        data, batch_sizes, hx, list(params), has_biases, num_layers, dropout, train, bidirectional
    )


def gru_cell(
    input: Tensor,
    hx: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Optional[Tensor] = None,
    b_hh: Optional[Tensor] = None,
) -> Tensor:
    r"""One GRU step on a batch, like ``torch.gru_cell``: returns ``h_1``."""
    return torch.ops.torch_ext.gru_cell(input, hx, w_ih, w_hh, b_ih, b_hh)


def gru_layer(
    input: Tensor,
    batch_sizes: Optional[Tensor],
    hx: Tensor,
    params: List[Tensor],
    has_biases: bool,
    bidirectional: bool,
    reset_after: bool = True,
) -> Tuple[Tensor, Tensor]:
    r"""One GRU layer (both directions when ``bidirectional``) over a whole sequence.

    ``reset_after=False`` is the reset-before form (``torch_ext.GRU(..., reset_after=False)``).
    Shapes as in :func:`lstm_layer`; returns ``(output, h_n)``.
    """
    return torch.ops.torch_ext.gru_layer(input, batch_sizes, hx, params, has_biases, bidirectional, reset_after)


def gru_reset_before(
    input: Tensor,
    hx: Tensor,
    params: Sequence[Tensor],
    has_biases: bool,
    num_layers: int,
    dropout: float,
    train: bool,
    bidirectional: bool,
    batch_first: bool,
) -> Tuple[Tensor, Tensor]:
    r"""Multi-layer GRU in the reset-before form, n = tanh(W_in x + b_in + W_hn (r * h) + b_hn).

    Arguments and results as :func:`gru`.
    """
    return torch.ops.torch_ext.gru_reset_before.input(
        input, hx, list(params), has_biases, num_layers, dropout, train, bidirectional, batch_first
    )


def gru_reset_before_packed(
    data: Tensor,
    batch_sizes: Tensor,
    hx: Tensor,
    params: Sequence[Tensor],
    has_biases: bool,
    num_layers: int,
    dropout: float,
    train: bool,
    bidirectional: bool,
) -> Tuple[Tensor, Tensor]:
    r"""The reset-before GRU over a PackedSequence's ``data`` and ``batch_sizes``."""
    return torch.ops.torch_ext.gru_reset_before.data(
        data, batch_sizes, hx, list(params), has_biases, num_layers, dropout, train, bidirectional
    )


def gru_reset_before_cell(
    input: Tensor,
    hx: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Optional[Tensor] = None,
    b_hh: Optional[Tensor] = None,
) -> Tensor:
    r"""One step of the reset-before GRU; arguments as ``torch.gru_cell``. Returns ``h_1``."""
    return torch.ops.torch_ext.gru_reset_before_cell(input, hx, w_ih, w_hh, b_ih, b_hh)


def rnn_tanh(
    input: Tensor,
    hx: Tensor,
    params: Sequence[Tensor],
    has_biases: bool,
    num_layers: int,
    dropout: float,
    train: bool,
    bidirectional: bool,
    batch_first: bool,
) -> Tuple[Tensor, Tensor]:
    r"""Multi-layer Elman RNN with tanh, like ``torch.rnn_tanh`` (``aten::rnn_tanh.input``).

    Arguments as :func:`gru`; returns ``(output, h_n)``.
    """
    return torch.ops.torch_ext.rnn_tanh.input(
        input, hx, list(params), has_biases, num_layers, dropout, train, bidirectional, batch_first
    )


def rnn_tanh_packed(
    data: Tensor,
    batch_sizes: Tensor,
    hx: Tensor,
    params: Sequence[Tensor],
    has_biases: bool,
    num_layers: int,
    dropout: float,
    train: bool,
    bidirectional: bool,
) -> Tuple[Tensor, Tensor]:
    r"""The tanh RNN over a PackedSequence's ``data`` and ``batch_sizes`` (``aten::rnn_tanh.data``)."""
    return torch.ops.torch_ext.rnn_tanh.data(
        data, batch_sizes, hx, list(params), has_biases, num_layers, dropout, train, bidirectional
    )


def rnn_tanh_cell(
    input: Tensor,
    hx: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Optional[Tensor] = None,
    b_hh: Optional[Tensor] = None,
) -> Tensor:
    r"""One tanh RNN step on a batch, like ``torch.rnn_tanh_cell``: returns ``h_1``."""
    return torch.ops.torch_ext.rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih, b_hh)


def rnn_relu(
    input: Tensor,
    hx: Tensor,
    params: Sequence[Tensor],
    has_biases: bool,
    num_layers: int,
    dropout: float,
    train: bool,
    bidirectional: bool,
    batch_first: bool,
) -> Tuple[Tensor, Tensor]:
    r"""Multi-layer Elman RNN with ReLU, like ``torch.rnn_relu`` (``aten::rnn_relu.input``)."""
    return torch.ops.torch_ext.rnn_relu.input(
        input, hx, list(params), has_biases, num_layers, dropout, train, bidirectional, batch_first
    )


def rnn_relu_packed(
    data: Tensor,
    batch_sizes: Tensor,
    hx: Tensor,
    params: Sequence[Tensor],
    has_biases: bool,
    num_layers: int,
    dropout: float,
    train: bool,
    bidirectional: bool,
) -> Tuple[Tensor, Tensor]:
    r"""The ReLU RNN over a PackedSequence's ``data`` and ``batch_sizes`` (``aten::rnn_relu.data``)."""
    return torch.ops.torch_ext.rnn_relu.data(
        data, batch_sizes, hx, list(params), has_biases, num_layers, dropout, train, bidirectional
    )


def rnn_relu_cell(
    input: Tensor,
    hx: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Optional[Tensor] = None,
    b_hh: Optional[Tensor] = None,
) -> Tensor:
    r"""One ReLU RNN step on a batch, like ``torch.rnn_relu_cell``: returns ``h_1``."""
    return torch.ops.torch_ext.rnn_relu_cell(input, hx, w_ih, w_hh, b_ih, b_hh)


def rnn_layer(
    input: Tensor,
    batch_sizes: Optional[Tensor],
    hx: Tensor,
    params: List[Tensor],
    has_biases: bool,
    bidirectional: bool,
    nonlinearity: str = "tanh",
) -> Tuple[Tensor, Tensor]:
    r"""One Elman RNN layer (``nonlinearity`` 'tanh' or 'relu') over a whole sequence: ``(output, h_n)``."""
    return torch.ops.torch_ext.rnn_layer(input, batch_sizes, hx, params, has_biases, bidirectional, nonlinearity)


def layer_norm(
    input: Tensor,
    normalized_shape: Sequence[int],
    weight: Optional[Tensor] = None,
    bias: Optional[Tensor] = None,
    eps: float = 1e-5,
) -> Tensor:
    r"""Layer normalisation over the trailing ``normalized_shape`` dims, like ``torch.layer_norm``."""
    return torch.ops.torch_ext.layer_norm(input, list(normalized_shape), weight, bias, eps)


def layer_norm_lstm(
    input: Tensor,
    hx: Sequence[Tensor],
    params: Sequence[Tensor],
    has_biases: bool,
    num_layers: int,
    dropout: float,
    train: bool,
    bidirectional: bool,
    batch_first: bool,
    eps: float = 1e-5,
) -> Tuple[Tensor, Tensor, Tensor]:
    r"""Multi-layer layer-normalised LSTM (``torch_ext.LayerNormLSTM``) over a padded sequence.

    Arguments as :func:`lstm` (no projection), the flat weights in
    ``LayerNormLSTM._flat_weights`` order, and ``eps`` of the layer norms. Returns ``(output, h_n, c_n)``.
    """
    return torch.ops.torch_ext.layer_norm_lstm.input(
        input, list(hx), list(params), has_biases, num_layers, dropout, train, bidirectional, batch_first, eps
    )


def layer_norm_lstm_packed(
    data: Tensor,
    batch_sizes: Tensor,
    hx: Sequence[Tensor],
    params: Sequence[Tensor],
    has_biases: bool,
    num_layers: int,
    dropout: float,
    train: bool,
    bidirectional: bool,
    eps: float = 1e-5,
) -> Tuple[Tensor, Tensor, Tensor]:
    r"""The layer-normalised LSTM over a PackedSequence's ``data`` and ``batch_sizes``."""
    return torch.ops.torch_ext.layer_norm_lstm.data(
        data, batch_sizes, list(hx), list(params), has_biases, num_layers, dropout, train, bidirectional, eps
    )


def layer_norm_lstm_cell(
    input: Tensor,
    hx: Sequence[Tensor],
    params: Sequence[Tensor],
    has_biases: bool = True,
    eps: float = 1e-5,
) -> Tuple[Tensor, Tensor]:
    r"""One step of the layer-normalised LSTM (``torch_ext.LayerNormLSTMCell``): returns ``(h_1, c_1)``."""
    return torch.ops.torch_ext.layer_norm_lstm_cell(input, list(hx), list(params), has_biases, eps)


def layer_norm_lstm_layer(
    input: Tensor,
    batch_sizes: Optional[Tensor],
    hx: Tensor,
    cx: Tensor,
    params: List[Tensor],
    has_biases: bool,
    bidirectional: bool,
    eps: float = 1e-5,
) -> Tuple[Tensor, Tensor, Tensor]:
    r"""One layer-normalised LSTM layer over a whole sequence: ``(output, h_n, c_n)``."""
    return torch.ops.torch_ext.layer_norm_lstm_layer(input, batch_sizes, hx, cx, params, has_biases, bidirectional, eps)


def layer_norm_gru(
    input: Tensor,
    hx: Tensor,
    params: Sequence[Tensor],
    has_biases: bool,
    num_layers: int,
    dropout: float,
    train: bool,
    bidirectional: bool,
    batch_first: bool,
    eps: float = 1e-5,
) -> Tuple[Tensor, Tensor]:
    r"""Multi-layer layer-normalised GRU (``torch_ext.LayerNormGRU``) over a padded sequence.

    Arguments as :func:`gru`, the flat weights in ``LayerNormGRU._flat_weights`` order, and ``eps``.
    Returns ``(output, h_n)``.
    """
    return torch.ops.torch_ext.layer_norm_gru.input(
        input, hx, list(params), has_biases, num_layers, dropout, train, bidirectional, batch_first, eps
    )


def layer_norm_gru_packed(
    data: Tensor,
    batch_sizes: Tensor,
    hx: Tensor,
    params: Sequence[Tensor],
    has_biases: bool,
    num_layers: int,
    dropout: float,
    train: bool,
    bidirectional: bool,
    eps: float = 1e-5,
) -> Tuple[Tensor, Tensor]:
    r"""The layer-normalised GRU over a PackedSequence's ``data`` and ``batch_sizes``."""
    return torch.ops.torch_ext.layer_norm_gru.data(
        data, batch_sizes, hx, list(params), has_biases, num_layers, dropout, train, bidirectional, eps
    )


def layer_norm_gru_cell(
    input: Tensor,
    hx: Tensor,
    params: Sequence[Tensor],
    has_biases: bool = True,
    eps: float = 1e-5,
) -> Tensor:
    r"""One step of the layer-normalised GRU (``torch_ext.LayerNormGRUCell``): returns ``h_1``."""
    return torch.ops.torch_ext.layer_norm_gru_cell(input, hx, list(params), has_biases, eps)


def layer_norm_gru_layer(
    input: Tensor,
    batch_sizes: Optional[Tensor],
    hx: Tensor,
    params: List[Tensor],
    has_biases: bool,
    bidirectional: bool,
    eps: float = 1e-5,
) -> Tuple[Tensor, Tensor]:
    r"""One layer-normalised GRU layer over a whole sequence: ``(output, h_n)``."""
    return torch.ops.torch_ext.layer_norm_gru_layer(input, batch_sizes, hx, params, has_biases, bidirectional, eps)
