r"""Single steps of the layer-normalised LSTM and GRU (Ba, Kiros and Hinton, 2016).

:class:`LayerNormLSTMCell` and :class:`LayerNormGRUCell` are a :class:`torch_ext.LSTMCell` and a
:class:`torch_ext.GRUCell` with the ``ln_*`` parameters of :class:`torch_ext.LayerNormLSTM` /
:class:`torch_ext.LayerNormGRU` (same names without the ``_l{k}`` suffix, registered after
``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``); they run the
``torch.ops.torch_ext.layer_norm_lstm_cell`` / ``layer_norm_gru_cell`` kernels.
"""

from typing import List, Optional, Tuple, Union

import torch
from torch import Tensor
from torch.nn.parameter import Parameter

from torch_ext.nn.modules.layer_norm_rnn import (
    DEFAULT_EPS,
    LayerNormParameters,
    checked_eps,
    layer_norm_parameter_shapes,
)
from torch_ext.nn.modules.rnn_cell import GRUCell, LSTMCell, RNNCellBase, State

__all__ = ["LayerNormLSTMCell", "LayerNormGRUCell"]


class _LayerNormCell(LayerNormParameters):
    """The constructor of the layer-normalised cells (torch.nn's with ``eps``; ``_num_chunks``
    gates per unit): :class:`RNNCellBase`'s parameters (drawn as torch.nn draws them), then the
    ``ln_*`` ones (ones and zeros, no draws)."""

    bias: bool
    _num_chunks: int

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        eps: float = DEFAULT_EPS,
        device: Optional[Union[torch.device, str, int]] = None,
        dtype: Optional[torch.dtype] = None,
    ) -> None:
        eps = checked_eps(eps)
        # RNNCellBase.__init__ calls reset_parameters() before the ln_* parameters exist: it draws
        # exactly torch.nn's values for weight_ih, weight_hh, bias_ih, bias_hh.
        RNNCellBase.__init__(self, input_size, hidden_size, bias, self._num_chunks, device, dtype)  # type: ignore
        gate_size = self._num_chunks * hidden_size
        for name, shape in layer_norm_parameter_shapes(gate_size, hidden_size, self._normalizes_cell):
            setattr(self, name, Parameter(torch.empty(shape, device=device, dtype=dtype)))
        self._reset_layer_norm_parameters()
        self.eps = eps

    def _operator_params(self) -> List[Tensor]:
        """The parameters in the operator's order (registration order, without absent biases),
        read now so that ``functional_call`` swaps apply."""
        parameters = self._parameters.values()  # type: ignore[attr-defined]
        return [parameter for parameter in parameters if parameter is not None]


class LayerNormLSTMCell(_LayerNormCell, LSTMCell):
    r"""One step of the layer-normalised LSTM cell of :class:`torch_ext.LayerNormLSTM`:

    .. math::
        \begin{array}{ll}
            (i, f, g, o) = \mathrm{LN}(W_{ih} x;\ \gamma_{ih}, \beta_{ih}) + b_{ih}
                + \mathrm{LN}(W_{hh} h;\ \gamma_{hh}, \beta_{hh}) + b_{hh} \\
            c' = \sigma(f) \odot c + \sigma(i) \odot \tanh(g) \\
            h' = \sigma(o) \odot \tanh(\mathrm{LN}(c';\ \gamma_{cell}, \beta_{cell}))
        \end{array}

    Args:
        input_size, hidden_size, bias, device, dtype: as for :class:`torch.nn.LSTMCell`.
        eps: :math:`\epsilon` of the layer normalisations. Default: 1e-5

    Inputs: input, (h_0, c_0) and Outputs: (h_1, c_1) as for :class:`torch.nn.LSTMCell`
    (batched or unbatched; zeros when no state is given).

    Attributes:
        weight_ih, weight_hh, bias_ih, bias_hh: as :class:`torch.nn.LSTMCell`'s (same draws for
            the same seed).
        ln_ih_weight, ln_ih_bias, ln_hh_weight, ln_hh_bias: ``(4*hidden_size)``; ones, zeros.
        ln_cell_weight, ln_cell_bias: ``(hidden_size)``; ones, zeros.

    Examples::

        >>> cell = torch_ext.LayerNormLSTMCell(10, 20)
        >>> h, c = cell(torch.randn(3, 10))
        >>> h.shape
        torch.Size([3, 20])
    """

    _name_in_errors = "LayerNormLSTMCell"
    _num_chunks = 4
    _normalizes_cell = True

    def _run_cell(self, input: Tensor, hx: State) -> Tuple[Tensor, Tensor]:
        if not isinstance(hx, (tuple, list)):
            raise TypeError(
                f"layer_norm_lstm_cell(): argument 'hx' (position 2) must be tuple of Tensors, not {type(hx).__name__}"
            )
        h, c = torch.ops.torch_ext.layer_norm_lstm_cell(input, list(hx), self._operator_params(), self.bias, self.eps)
        return h, c


class LayerNormGRUCell(_LayerNormCell, GRUCell):
    r"""One step of the layer-normalised GRU cell of :class:`torch_ext.LayerNormGRU` (PyTorch's
    form, the reset gate after the product with :math:`W_{hn}`):

    .. math::
        \begin{array}{ll}
            (a_r, a_z, a_n) = \mathrm{LN}(W_{ih} x;\ \gamma_{ih}, \beta_{ih}) + b_{ih} \qquad
            (u_r, u_z, u_n) = \mathrm{LN}(W_{hh} h;\ \gamma_{hh}, \beta_{hh}) + b_{hh} \\
            r = \sigma(a_r + u_r) \qquad z = \sigma(a_z + u_z) \qquad n = \tanh(a_n + r \odot u_n) \\
            h' = (1 - z) \odot n + z \odot h
        \end{array}

    Args:
        input_size, hidden_size, bias, device, dtype: as for :class:`torch.nn.GRUCell`.
        eps: :math:`\epsilon` of the layer normalisations. Default: 1e-5

    Inputs: input, hidden and Outputs: h' as for :class:`torch.nn.GRUCell`.

    Attributes:
        weight_ih, weight_hh, bias_ih, bias_hh: as :class:`torch.nn.GRUCell`'s (same draws for
            the same seed).
        ln_ih_weight, ln_ih_bias, ln_hh_weight, ln_hh_bias: ``(3*hidden_size)``; ones, zeros.

    Examples::

        >>> cell = torch_ext.LayerNormGRUCell(10, 20)
        >>> cell(torch.randn(3, 10)).shape
        torch.Size([3, 20])
    """

    _name_in_errors = "LayerNormGRUCell"
    _num_chunks = 3
    _normalizes_cell = False

    def _run_cell(self, input: Tensor, hx: State) -> Tensor:
        return torch.ops.torch_ext.layer_norm_gru_cell(input, hx, self._operator_params(), self.bias, self.eps)
