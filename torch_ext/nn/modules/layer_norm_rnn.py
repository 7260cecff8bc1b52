r"""Layer-normalised LSTM and GRU (Ba, Kiros and Hinton, 2016, arXiv:1607.06450) over sequences.

:class:`LayerNormLSTM` and :class:`LayerNormGRU` are a :class:`torch_ext.LSTM` and a
:class:`torch_ext.GRU` (PyTorch's reset-after form) whose gate pre-activations, and for the LSTM
the cell state read out into ``h``, pass through a layer normalisation with learnable gains and
biases. They run on the ``torch.ops.torch_ext.layer_norm_lstm`` / ``layer_norm_gru`` kernels.

Parameters: each (layer, direction) registers, in this order,

* ``weight_ih``, ``weight_hh`` and (with ``bias``) ``bias_ih``, ``bias_hh``, exactly as
  :class:`torch.nn.LSTM` / :class:`torch.nn.GRU` (names, shapes, and initial values: they are
  drawn from :math:`\mathcal{U}(-1/\sqrt{H}, 1/\sqrt{H})` in torch.nn's order, so the same seed
  gives the same values);
* then ``ln_ih_weight``, ``ln_ih_bias``, ``ln_hh_weight``, ``ln_hh_bias`` (``G * hidden_size``
  each) and, for the LSTM, ``ln_cell_weight``, ``ln_cell_bias`` (``hidden_size``): gains start at
  one and biases at zero, which draws no random numbers.

That is also the order of the operator's ``params``. The ``ln_*`` entries are the only keys that
torch.nn lacks: ``load_state_dict(..., strict=False)`` moves the torch.nn-named subset between
:class:`LayerNormLSTM` and :class:`torch.nn.LSTM` (and :class:`LayerNormGRU` and
:class:`torch.nn.GRU`) either way, reporting the ``ln_*`` keys as unexpected (into torch.nn) or
missing (from torch.nn; they keep their values).
"""

import math
import numbers
from typing import Any, List, Optional, Tuple, Union

import torch
from torch import Tensor
from torch._ops import OpOverloadPacket
from torch.nn import init

from torch_ext.nn.modules.rnn import GRU, LSTM, RNNBase, State

__all__ = ["LayerNormLSTM", "LayerNormGRU"]

DEFAULT_EPS = 1e-5


def checked_eps(eps: Any) -> float:
    """``eps`` as a float; raise unless it is a non-negative real number."""
    if not isinstance(eps, numbers.Real) or isinstance(eps, bool):
        raise TypeError(f"eps should be a real number, got: {type(eps).__name__}")
    if not eps >= 0:  # also refuses NaN
        raise ValueError(f"eps should be a non-negative number, got {eps}")
    return float(eps)


def layer_norm_parameter_shapes(
    gate_size: int, hidden_size: int, normalizes_cell: bool
) -> List[Tuple[str, Tuple[int, ...]]]:
    """Names and shapes of one direction's layer-norm parameters, in the operator's order."""
    # int(): torch.nn takes a bool for a size (an int in Python) and builds its weights with it;
    # torch.empty would refuse a bool in a shape.
    gate_size, hidden_size = int(gate_size), int(hidden_size)
    shapes: List[Tuple[str, Tuple[int, ...]]] = [
        (f"ln_{product}_{kind}", (gate_size,)) for product in ("ih", "hh") for kind in ("weight", "bias")
    ]
    if normalizes_cell:
        shapes += [("ln_cell_weight", (hidden_size,)), ("ln_cell_bias", (hidden_size,))]
    return shapes


class LayerNormParameters:
    r"""What the layer-normalised modules and cells share: the initialisation (torch.nn's draws for
    the torch.nn-named parameters, ones and zeros for the ``ln_*`` ones) and ``eps`` in the repr.

    A class using it sets ``_normalizes_cell`` (``True`` where the cell state is normalised too)
    and ``eps``; it mixes in ahead of a :class:`torch.nn.Module`.
    """

    eps: float
    hidden_size: int
    _normalizes_cell: bool

    def reset_parameters(self) -> None:
        r"""Draw the torch.nn-named parameters from :math:`\mathcal{U}(-\sqrt{k}, \sqrt{k})`,
        :math:`k = 1 / \text{hidden\_size}`, in registration order (torch.nn's draws), and set the
        ``ln_*`` gains to one and biases to zero."""
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for name, parameter in self.named_parameters():  # type: ignore[attr-defined]
            if not name.startswith("ln_"):
                init.uniform_(parameter, -bound, bound)
        self._reset_layer_norm_parameters()

    def _reset_layer_norm_parameters(self) -> None:
        for name, parameter in self.named_parameters():  # type: ignore[attr-defined]
            if name.startswith("ln_"):
                # ln_{ih,hh,cell}_{weight,bias}[_l{k}[_reverse]]
                (init.ones_ if name.split("_")[2] == "weight" else init.zeros_)(parameter)

    def extra_repr(self) -> str:
        text = super().extra_repr()  # type: ignore[misc]
        if self.eps != DEFAULT_EPS:
            text += f", eps={self.eps}"
        return text


class _LayerNormRNN(LayerNormParameters):
    """The constructor of the layer-normalised modules (torch.nn's without ``proj_size``, with
    ``eps``; ``_mode`` names the recurrence) and the hooks of :class:`RNNBase` they fill: the
    ``ln_*`` parameters per (layer, direction) and ``eps`` as the operator's last argument."""

    _mode: str

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        eps: float = DEFAULT_EPS,
        device: Optional[Union[torch.device, str, int]] = None,
        dtype: Optional[torch.dtype] = None,
    ) -> None:
        eps = checked_eps(eps)
        # RNNBase.__init__ straight from here (not through LSTM.__init__ or GRU.__init__), so that
        # its dropout warning points at the caller's line.
        RNNBase.__init__(
            self,  # type: ignore[arg-type]
            self._mode,
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            0,
            device,
            dtype,
        )
        self.eps = eps

    def _direction_parameter_shapes(self, layer: int) -> List[Tuple[str, Tuple[int, ...]]]:
        shapes = super()._direction_parameter_shapes(layer)  # type: ignore[misc]
        gate_size = shapes[0][1][0]  # the rows of weight_ih
        return shapes + layer_norm_parameter_shapes(gate_size, self.hidden_size, self._normalizes_cell)

    def _operator_options(self) -> Tuple[Any, ...]:
        return (self.eps,)


class LayerNormLSTM(_LayerNormRNN, LSTM):
    r"""A multi-layer layer-normalised LSTM over a sequence (Ba, Kiros and Hinton, 2016).

    Every layer turns each element :math:`x_t`, the previous hidden state :math:`h_{t-1}` and
    cell state :math:`c_{t-1}` into

    .. math::
        \begin{array}{ll}
            (i_t, f_t, g_t, o_t) = \mathrm{LN}(W_{ih} x_t;\ \gamma_{ih}, \beta_{ih}) + b_{ih}
                + \mathrm{LN}(W_{hh} h_{t-1};\ \gamma_{hh}, \beta_{hh}) + b_{hh} \\
            c_t = \sigma(f_t) \odot c_{t-1} + \sigma(i_t) \odot \tanh(g_t) \\
            h_t = \sigma(o_t) \odot \tanh(\mathrm{LN}(c_t;\ \gamma_{cell}, \beta_{cell}))
        \end{array}

    where :math:`\mathrm{LN}(a; \gamma, \beta) = (a - \mathrm{E}[a]) / \sqrt{\mathrm{Var}[a] +
    \epsilon} \odot \gamma + \beta` normalises each row over all its features (the
    ``4 * hidden_size`` gate pre-activations of a product at once; the ``hidden_size`` units of
    the cell), and the gates are split in torch.nn.LSTM's order :math:`i, f, g, o`. The state
    carried to the next step is :math:`c_t` itself (not normalised). Layer :math:`l \ge 2` reads
    the hidden states of layer :math:`l - 1`; in training, with ``dropout > 0``, each of those is
    zeroed with probability ``dropout`` (the rest scaled by :math:`1 / (1 - \text{dropout})`), for
    every layer but the last.

    The constructor, inputs and outputs are :class:`torch.nn.LSTM`'s without ``proj_size`` and
    with ``eps``; it is a :class:`torch_ext.LSTM` (whose docstring details the shapes) with more
    parameters.

    Args:
        input_size: features of each input element :math:`x_t`.
        hidden_size: features of the hidden and cell states.
        num_layers: how many layers are stacked. Default: 1
        bias: if ``False``, the layers have no biases :math:`b_{ih}, b_{hh}` (the layer norms
            keep theirs). Default: ``True``
        batch_first: if ``True``, ``input`` and ``output`` are ``(batch, seq, feature)``.
            Default: ``False``
        dropout: probability of zeroing each output feature of every layer but the last, in
            training. Default: 0
        bidirectional: if ``True``, every layer also runs over the reversed sequence.
            Default: ``False``
        eps: :math:`\epsilon` of every layer normalisation. Default: 1e-5
        device: where the parameters are created. Default: the current default device
        dtype: the parameters' dtype (float32 or float64). Default: the default floating-point dtype

    Inputs: input, (h_0, c_0) as for :class:`torch.nn.LSTM`: ``input`` of shape
    :math:`(L, H_{in})` unbatched, :math:`(L, N, H_{in})`, :math:`(N, L, H_{in})` with
    ``batch_first``, or a :class:`~torch.nn.utils.rnn.PackedSequence`; ``h_0`` and ``c_0`` of
    shape :math:`(D \cdot \text{num\_layers}, N, H)` (no :math:`N` unbatched), zeros when not given.

    Outputs: output, (h_n, c_n) as for :class:`torch.nn.LSTM`.

    Attributes (layer :math:`k`; ``_reverse`` appended for the reverse direction):
        weight_ih_l[k], weight_hh_l[k], bias_ih_l[k], bias_hh_l[k]: as :class:`torch.nn.LSTM`'s.
        ln_ih_weight_l[k], ln_ih_bias_l[k]: :math:`\gamma_{ih}, \beta_{ih}`, ``(4*hidden_size)``.
        ln_hh_weight_l[k], ln_hh_bias_l[k]: :math:`\gamma_{hh}, \beta_{hh}`, ``(4*hidden_size)``.
        ln_cell_weight_l[k], ln_cell_bias_l[k]: :math:`\gamma_{cell}, \beta_{cell}`, ``(hidden_size)``.

    Each (layer, direction) registers its parameters in the order above; the torch.nn-named ones
    are drawn as :class:`torch.nn.LSTM` draws them (same seed, same values), the ``ln_*`` gains
    start at one and their biases at zero. The state dict loads into :class:`torch.nn.LSTM` and
    back with ``strict=False`` (the ``ln_*`` keys are the extra ones).

    Examples::

        >>> lstm = torch_ext.LayerNormLSTM(10, 20, num_layers=2)
        >>> output, (h_n, c_n) = lstm(torch.randn(5, 3, 10))
        >>> output.shape, h_n.shape
        (torch.Size([5, 3, 20]), torch.Size([2, 3, 20]))
    """

    _name_in_errors = "LayerNormLSTM"
    _mode = "LSTM"
    _normalizes_cell = True

    def _operator(self) -> OpOverloadPacket:
        return torch.ops.torch_ext.layer_norm_lstm

    def _run_op(self, input: Tensor, batch_sizes: Optional[Tensor], hx: State) -> Tuple[Tensor, Tuple[Tensor, Tensor]]:
        if not isinstance(hx, (tuple, list)):
            raise TypeError(f"layer_norm_lstm(): argument 'hx' must be tuple of Tensors, not {type(hx).__name__}")
        output, h_n, c_n = RNNBase._run_op(self, input, batch_sizes, list(hx))
        return output, (h_n, c_n)


class LayerNormGRU(_LayerNormRNN, GRU):
    r"""A multi-layer layer-normalised GRU over a sequence (Ba, Kiros and Hinton, 2016), in
    PyTorch's GRU form (the reset gate after the product with :math:`W_{hn}`).

    Every layer turns each element :math:`x_t` and the previous hidden state :math:`h_{t-1}` into

    .. math::
        \begin{array}{ll}
            (a_r, a_z, a_n) = \mathrm{LN}(W_{ih} x_t;\ \gamma_{ih}, \beta_{ih}) + b_{ih} \\
            (u_r, u_z, u_n) = \mathrm{LN}(W_{hh} h_{t-1};\ \gamma_{hh}, \beta_{hh}) + b_{hh} \\
            r_t = \sigma(a_r + u_r) \qquad z_t = \sigma(a_z + u_z) \\
            n_t = \tanh(a_n + r_t \odot u_n) \\
            h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}
        \end{array}

    where :math:`\mathrm{LN}` normalises each row over all ``3 * hidden_size`` features of the
    product (see :class:`LayerNormLSTM`), and the gates are split in torch.nn.GRU's order
    :math:`r, z, n`. Dropout between layers as for :class:`torch.nn.GRU`.

    The constructor, inputs and outputs are :class:`torch.nn.GRU`'s with ``eps`` after
    ``bidirectional``; it is a :class:`torch_ext.GRU` (``reset_after=True``) with more parameters.

    Args:
        input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, device,
        dtype: as for :class:`torch.nn.GRU`.
        eps: :math:`\epsilon` of every layer normalisation. Default: 1e-5

    Inputs: input, h_0 and Outputs: output, h_n as for :class:`torch.nn.GRU`.

    Attributes (layer :math:`k`; ``_reverse`` appended for the reverse direction):
        weight_ih_l[k], weight_hh_l[k], bias_ih_l[k], bias_hh_l[k]: as :class:`torch.nn.GRU`'s.
        ln_ih_weight_l[k], ln_ih_bias_l[k]: :math:`\gamma_{ih}, \beta_{ih}`, ``(3*hidden_size)``.
        ln_hh_weight_l[k], ln_hh_bias_l[k]: :math:`\gamma_{hh}, \beta_{hh}`, ``(3*hidden_size)``.

    Initialisation and state dicts as for :class:`LayerNormLSTM`, with :class:`torch.nn.GRU`.

    Examples::

        >>> gru = torch_ext.LayerNormGRU(10, 20, num_layers=2, batch_first=True)
        >>> output, h_n = gru(torch.randn(3, 5, 10))
        >>> output.shape, h_n.shape
        (torch.Size([3, 5, 20]), torch.Size([2, 3, 20]))
    """

    _name_in_errors = "LayerNormGRU"
    _mode = "GRU"
    _normalizes_cell = False

    def _operator(self) -> OpOverloadPacket:
        return torch.ops.torch_ext.layer_norm_gru
