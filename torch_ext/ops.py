"""Typed Python entry points of the torch_ext operators.

Each function calls ``torch.ops.torch_ext.<name>`` and takes the same arguments as its ATen
namesake (``torch.lstm``, ``torch.lstm_cell``, ...), so it can stand where that stands.
"""

from typing import List, Optional, Sequence, Tuple

import torch
from torch import Tensor

__all__ = ["lstm", "lstm_packed", "lstm_cell", "lstm_layer"]


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
