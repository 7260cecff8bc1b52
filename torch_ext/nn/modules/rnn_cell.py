r"""Single-step recurrent cells that run on the ``torch.ops.torch_ext`` cell kernels.

:class:`RNNCellBase` holds what every cell shares with its ``torch.nn`` namesake: the
parameters (names, shapes, order, initialisation), the ``repr`` and the forward's handling of
unbatched input and of a missing state. A concrete cell says how its state is laid out (one
tensor ``h`` by default; ``(h, c)`` for :class:`LSTMCell`) and maps a step onto its operator:
:class:`LSTMCell`, :class:`GRUCell` (both GRU forms) and :class:`RNNCell` (tanh or ReLU).
"""

import math
from typing import Any, Callable, List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor
from torch.nn import Module, init
from torch.nn.parameter import Parameter

from torch_ext import ops
from torch_ext.nn.modules.rnn import _check_bool_option

__all__ = ["RNNCellBase", "LSTMCell", "GRUCell", "RNNCell"]

# A cell state as the user passes it: one tensor (GRU, RNN cells) or a pair (h, c) (LSTM cell).
State = Any


class RNNCellBase(Module):
    r"""Base of the recurrent cells (:class:`LSTMCell`, :class:`GRUCell`, :class:`RNNCell`).

    It creates ``weight_ih`` ``(num_chunks * hidden_size, input_size)``, ``weight_hh``
    ``(num_chunks * hidden_size, hidden_size)`` and, with ``bias``, ``bias_ih`` and ``bias_hh``
    ``(num_chunks * hidden_size)`` (else registers them as ``None``), in that order, and draws
    them as :class:`torch.nn.RNNCellBase` does. Its forward accepts unbatched input and a missing
    state. A subclass supplies ``_name_in_errors`` and :meth:`_cell_operator`, the op with ATen's
    ``gru_cell`` arguments that the default :meth:`_run_cell` calls (or overrides
    :meth:`_run_cell`); a cell whose state is more than one tensor ``h`` also sets
    ``_num_states`` and overrides :meth:`_split_state`, :meth:`_join_state` and
    :meth:`_check_state_dims` (the state's tensors and the rank check with ``torch.nn``'s
    message).

    Args:
        input_size: features of the input :math:`x`.
        hidden_size: features of the hidden state :math:`h`.
        bias: if ``False``, the cell has no biases :math:`b_{ih}, b_{hh}`.
        num_chunks: gates per hidden unit (4 for the LSTM cell).
        device: where the parameters are created.
        dtype: the parameters' dtype.
    """

    input_size: int
    hidden_size: int
    bias: bool
    weight_ih: Tensor
    weight_hh: Tensor

    # Prefix of the rank-check messages ("LSTMCell: Expected input ...").
    _name_in_errors: str = "RNNCell"
    # Tensors in the cell state: 2 for (h, c), 1 for h alone.
    _num_states: int = 1

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool,
        num_chunks: int,
        device: Optional[Union[torch.device, str, int]] = None,
        dtype: Optional[torch.dtype] = None,
    ) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        gate_size = num_chunks * hidden_size
        self.weight_ih = Parameter(torch.empty((gate_size, input_size), device=device, dtype=dtype))
        self.weight_hh = Parameter(torch.empty((gate_size, hidden_size), device=device, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(torch.empty(gate_size, device=device, dtype=dtype))
            self.bias_hh = Parameter(torch.empty(gate_size, device=device, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        r"""Draw every parameter from :math:`\mathcal{U}(-\sqrt{k}, \sqrt{k})`,
        :math:`k = 1 / \text{hidden\_size}`, in registration order."""
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for parameter in self.parameters():
            init.uniform_(parameter, -bound, bound)

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            text += f", bias={self.bias}"
        return text

    # The state hooks' defaults describe a state of one tensor h (GRU and RNN cells).

    def _split_state(self, hx: State) -> List[Tensor]:
        """The tensors of a cell state as the user passes it."""
        return [hx]

    def _join_state(self, tensors: Sequence[Tensor]) -> State:
        """A cell state as the user gets it back, from its tensors."""
        return tensors[0]

    def _check_state_dims(self, hx: State) -> None:
        """Raise ``ValueError`` unless each tensor of a given state is 1-D or 2-D."""
        if hx.dim() not in (1, 2):
            raise ValueError(f"{self._name_in_errors}: Expected hidden to be 1D or 2D, got {hx.dim()}D instead")

    def _cell_operator(self) -> Callable[..., Tensor]:
        """The op ``(input, hx, w_ih, w_hh, b_ih, b_hh) -> h'`` the default :meth:`_run_cell` calls."""
        raise NotImplementedError(f"{type(self).__name__} does not define its operator")

    def _run_cell(self, input: Tensor, hx: State) -> State:
        """One step of the operator on a batch: 2-D ``input`` and a state of 2-D tensors."""
        return self._cell_operator()(input, hx, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)

    def _map_state(self, hx: State, function: Any) -> State:
        return self._join_state([function(tensor) for tensor in self._split_state(hx)])

    def forward(self, input: Tensor, hx: Optional[State] = None) -> State:
        if input.dim() not in (1, 2):
            raise ValueError(
                f"{self._name_in_errors}: Expected input to be 1D or 2D, got {input.dim()}D instead"
            )
        if hx is not None:
            self._check_state_dims(hx)
        is_batched = input.dim() == 2
        if not is_batched:
            input = input.unsqueeze(0)
        if hx is None:
            zeros = torch.zeros(input.size(0), self.hidden_size, dtype=input.dtype, device=input.device)
            hx = self._join_state([zeros] * self._num_states)
        elif not is_batched:
            # torch.nn unsqueezes a 2-D state too and hands ATen a 3-D one, which it may read out
            # of bounds (a crash where the sizes happen to pass its checks): refuse it here.
            states = self._split_state(hx)
            for index, tensor in enumerate(states):
                if tensor.dim() != 1:
                    name = "hx" if len(states) == 1 else f"hx[{index}]"
                    raise RuntimeError(
                        f"{self._name_in_errors}: For unbatched 1-D input, {name} should also be 1-D "
                        f"but got {tensor.dim()}-D tensor"
                    )
            hx = self._map_state(hx, lambda tensor: tensor.unsqueeze(0))
        result = self._run_cell(input, hx)
        if not is_batched:
            result = self._map_state(result, lambda tensor: tensor.squeeze(0))
        return result


class LSTMCell(RNNCellBase):
    r"""One step of a long short-term memory (LSTM) cell; a drop-in replacement of
    :class:`torch.nn.LSTMCell` whose forward and backward run torch_ext's kernels.

    From the input :math:`x`, the hidden state :math:`h` and the cell state :math:`c` it computes

    .. math::
        \begin{array}{ll}
            i = \sigma(W_{ii} x + b_{ii} + W_{hi} h + b_{hi}) \\
            f = \sigma(W_{if} x + b_{if} + W_{hf} h + b_{hf}) \\
            g = \tanh(W_{ig} x + b_{ig} + W_{hg} h + b_{hg}) \\
            o = \sigma(W_{io} x + b_{io} + W_{ho} h + b_{ho}) \\
            c' = f \odot c + i \odot g \\
            h' = o \odot \tanh(c')
        \end{array}

    with the sigmoid :math:`\sigma` and the element-wise product :math:`\odot`.

    Args:
        input_size: features of the input :math:`x`.
        hidden_size: features of the hidden and cell states.
        bias: if ``False``, the cell has no biases :math:`b_{ih}, b_{hh}`. Default: ``True``
        device: where the parameters are created. Default: the current default device
        dtype: the parameters' dtype. Default: the default floating-point dtype

    Inputs: input, (h_0, c_0)
        - **input** of shape ``(batch, input_size)``, or ``(input_size)`` unbatched.
        - **h_0** of shape ``(batch, hidden_size)``, or ``(hidden_size)`` unbatched: the hidden
          state before the step.
        - **c_0** of shape ``(batch, hidden_size)``, or ``(hidden_size)`` unbatched: the cell
          state before the step.

          Without ``(h_0, c_0)`` both start at zero.

    Outputs: (h_1, c_1)
        - **h_1** of shape ``(batch, hidden_size)``, or ``(hidden_size)`` unbatched: the hidden
          state after the step.
        - **c_1** of shape ``(batch, hidden_size)``, or ``(hidden_size)`` unbatched: the cell
          state after the step.

    Attributes:
        weight_ih: input-to-hidden weights :math:`(W_{ii}|W_{if}|W_{ig}|W_{io})`, of shape
            ``(4*hidden_size, input_size)``.
        weight_hh: hidden-to-hidden weights :math:`(W_{hi}|W_{hf}|W_{hg}|W_{ho})`, of shape
            ``(4*hidden_size, hidden_size)``.
        bias_ih: input-to-hidden bias, of shape ``(4*hidden_size)``; ``None`` with ``bias=False``.
        bias_hh: hidden-to-hidden bias, of shape ``(4*hidden_size)``; ``None`` with ``bias=False``.

    All parameters start from :math:`\mathcal{U}(-\sqrt{k}, \sqrt{k})` with
    :math:`k = 1 / \text{hidden\_size}`, drawn in the order above, exactly as
    :class:`torch.nn.LSTMCell` draws them.

    Examples::

        >>> cell = torch_ext.LSTMCell(10, 20)
        >>> input = torch.randn(6, 3, 10)  # (time, batch, input_size)
        >>> hx, cx = torch.zeros(3, 20), torch.zeros(3, 20)
        >>> outputs = []
        >>> for x_t in input:
        ...     hx, cx = cell(x_t, (hx, cx))
        ...     outputs.append(hx)
        >>> torch.stack(outputs).shape
        torch.Size([6, 3, 20])
    """

    _name_in_errors = "LSTMCell"
    _num_states = 2

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: Optional[Union[torch.device, str, int]] = None,
        dtype: Optional[torch.dtype] = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=4, device=device, dtype=dtype)

    def _split_state(self, hx: State) -> List[Tensor]:
        return [hx[0], hx[1]]

    def _join_state(self, tensors: Sequence[Tensor]) -> Tuple[Tensor, Tensor]:
        return (tensors[0], tensors[1])

    def _check_state_dims(self, hx: State) -> None:
        for index, tensor in enumerate(hx):
            if tensor.dim() not in (1, 2):
                raise ValueError(
                    f"{self._name_in_errors}: Expected hx[{index}] to be 1D or 2D, "
                    f"got {tensor.dim()}D instead"
                )

    def _run_cell(self, input: Tensor, hx: State) -> Tuple[Tensor, Tensor]:
        if not isinstance(hx, (tuple, list)):
            raise TypeError(
                f"lstm_cell(): argument 'hx' (position 2) must be tuple of Tensors, not {type(hx).__name__}"
            )
        return ops.lstm_cell(input, hx, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)

    def forward(self, input: Tensor, hx: Optional[Tuple[Tensor, Tensor]] = None) -> Tuple[Tensor, Tensor]:
        """One step from ``hx = (h_0, c_0)`` (zeros when ``None``); returns ``(h_1, c_1)``."""
        return super().forward(input, hx)


class GRUCell(RNNCellBase):
    r"""One step of a gated recurrent unit (GRU) cell; a drop-in replacement of
    :class:`torch.nn.GRUCell` whose forward and backward run torch_ext's kernels, with the
    original form of the GRU (``reset_after=False``) as an option.

    From the input :math:`x` and the hidden state :math:`h` it computes

    .. math::
        \begin{array}{ll}
            r = \sigma(W_{ir} x + b_{ir} + W_{hr} h + b_{hr}) \\
            z = \sigma(W_{iz} x + b_{iz} + W_{hz} h + b_{hz}) \\
            n = \tanh(W_{in} x + b_{in} + r \odot (W_{hn} h + b_{hn})) \\
            h' = (1 - z) \odot n + z \odot h
        \end{array}

    with the sigmoid :math:`\sigma` and the element-wise product :math:`\odot`: PyTorch's form,
    the reset gate after the product with :math:`W_{hn}` (``reset_after=True``, the default).
    With ``reset_after=False`` it computes the original GRU, the reset gate before the product,

    .. math::
        n = \tanh(W_{in} x + b_{in} + W_{hn} (r \odot h) + b_{hn})

    and the rest as above, on the same parameters (a state dict loads into
    :class:`torch.nn.GRUCell` and back either way). :class:`torch_ext.GRU` tells how this form
    maps onto the text this project teaches (whose :math:`z` is :math:`1 - z` here) and onto
    Keras' ``GRU(reset_after=False)``.

    Args:
        input_size: features of the input :math:`x`.
        hidden_size: features of the hidden state :math:`h`.
        bias: if ``False``, the cell has no biases :math:`b_{ih}, b_{hh}`. Default: ``True``
        device: where the parameters are created. Default: the current default device
        dtype: the parameters' dtype. Default: the default floating-point dtype
        reset_after: keyword only. ``True`` for PyTorch's form (as :class:`torch.nn.GRUCell`),
            ``False`` for the original form. Default: ``True``

    Inputs: input, hidden
        - **input** of shape ``(batch, input_size)``, or ``(input_size)`` unbatched.
        - **hidden** of shape ``(batch, hidden_size)``, or ``(hidden_size)`` unbatched: the hidden
          state before the step; zeros when not given.

    Outputs: h'
        - **h'** of shape ``(batch, hidden_size)``, or ``(hidden_size)`` unbatched: the hidden
          state after the step.

    Attributes:
        weight_ih: input-to-hidden weights :math:`(W_{ir}|W_{iz}|W_{in})`, of shape
            ``(3*hidden_size, input_size)``.
        weight_hh: hidden-to-hidden weights :math:`(W_{hr}|W_{hz}|W_{hn})`, of shape
            ``(3*hidden_size, hidden_size)``.
        bias_ih: input-to-hidden bias :math:`(b_{ir}|b_{iz}|b_{in})`, of shape
            ``(3*hidden_size)``; ``None`` with ``bias=False``.
        bias_hh: hidden-to-hidden bias :math:`(b_{hr}|b_{hz}|b_{hn})`, of shape
            ``(3*hidden_size)``; ``None`` with ``bias=False``.

    All parameters start from :math:`\mathcal{U}(-\sqrt{k}, \sqrt{k})` with
    :math:`k = 1 / \text{hidden\_size}`, drawn in the order above, exactly as
    :class:`torch.nn.GRUCell` draws them.

    Examples::

        >>> cell = torch_ext.GRUCell(10, 20)
        >>> input = torch.randn(6, 3, 10)  # (time, batch, input_size)
        >>> hx = torch.zeros(3, 20)
        >>> outputs = []
        >>> for x_t in input:
        ...     hx = cell(x_t, hx)
        ...     outputs.append(hx)
        >>> torch.stack(outputs).shape
        torch.Size([6, 3, 20])
    """

    _name_in_errors = "GRUCell"
    # A class default, so that a pickle of a cell without the attribute loads as PyTorch's form.
    reset_after: bool = True

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: Optional[Union[torch.device, str, int]] = None,
        dtype: Optional[torch.dtype] = None,
        *,
        reset_after: bool = True,
    ) -> None:
        _check_bool_option("reset_after", reset_after)
        super().__init__(input_size, hidden_size, bias, num_chunks=3, device=device, dtype=dtype)
        self.reset_after = reset_after

    def _cell_operator(self) -> Callable[..., Tensor]:
        if self.reset_after:
            return torch.ops.torch_ext.gru_cell
        return torch.ops.torch_ext.gru_reset_before_cell

    def extra_repr(self) -> str:
        text = super().extra_repr()
        if not self.reset_after:
            text += ", reset_after=False"
        return text

    def forward(self, input: Tensor, hx: Optional[Tensor] = None) -> Tensor:
        """One step from ``hx`` (zeros when ``None``); returns ``h'``."""
        return super().forward(input, hx)


class RNNCell(RNNCellBase):
    r"""One step of an Elman recurrent cell with :math:`\tanh` or ReLU; a drop-in replacement of
    :class:`torch.nn.RNNCell` whose forward and backward run torch_ext's kernels.

    From the input :math:`x` and the hidden state :math:`h` it computes

    .. math::
        h' = \tanh(W_{ih} x + b_{ih} + W_{hh} h + b_{hh})

    with :math:`\text{ReLU}` in place of :math:`\tanh` when ``nonlinearity='relu'``.

    Args:
        input_size: features of the input :math:`x`.
        hidden_size: features of the hidden state :math:`h`.
        bias: if ``False``, the cell has no biases :math:`b_{ih}, b_{hh}`. Default: ``True``
        nonlinearity: ``'tanh'`` or ``'relu'``; as for :class:`torch.nn.RNNCell`, another value
            fails at the forward with ``RuntimeError``. Default: ``'tanh'``
        device: where the parameters are created. Default: the current default device
        dtype: the parameters' dtype. Default: the default floating-point dtype

    Inputs: input, hidden
        - **input** of shape ``(batch, input_size)``, or ``(input_size)`` unbatched.
        - **hidden** of shape ``(batch, hidden_size)``, or ``(hidden_size)`` unbatched: the hidden
          state before the step; zeros when not given.

    Outputs: h'
        - **h'** of shape ``(batch, hidden_size)``, or ``(hidden_size)`` unbatched: the hidden
          state after the step.

    Attributes:
        weight_ih: input-to-hidden weights, of shape ``(hidden_size, input_size)``.
        weight_hh: hidden-to-hidden weights, of shape ``(hidden_size, hidden_size)``.
        bias_ih: input-to-hidden bias, of shape ``(hidden_size)``; ``None`` with ``bias=False``.
        bias_hh: hidden-to-hidden bias, of shape ``(hidden_size)``; ``None`` with ``bias=False``.

    All parameters start from :math:`\mathcal{U}(-\sqrt{k}, \sqrt{k})` with
    :math:`k = 1 / \text{hidden\_size}`, drawn in the order above, exactly as
    :class:`torch.nn.RNNCell` draws them.

    Examples::

        >>> cell = torch_ext.RNNCell(10, 20, nonlinearity="relu")
        >>> input = torch.randn(6, 3, 10)  # (time, batch, input_size)
        >>> hx = torch.zeros(3, 20)
        >>> for x_t in input:
        ...     hx = cell(x_t, hx)
        >>> hx.shape
        torch.Size([3, 20])
    """

    _name_in_errors = "RNNCell"
    nonlinearity: str

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device: Optional[Union[torch.device, str, int]] = None,
        dtype: Optional[torch.dtype] = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=1, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def _cell_operator(self) -> Callable[..., Tensor]:
        if self.nonlinearity == "tanh":
            return torch.ops.torch_ext.rnn_tanh_cell
        if self.nonlinearity == "relu":
            return torch.ops.torch_ext.rnn_relu_cell
        raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")

    def extra_repr(self) -> str:
        text = super().extra_repr()
        if self.nonlinearity != "tanh":
            text += f", nonlinearity={self.nonlinearity}"
        return text

    def forward(self, input: Tensor, hx: Optional[Tensor] = None) -> Tensor:
        """One step from ``hx`` (zeros when ``None``); returns ``h'``."""
        return super().forward(input, hx)
