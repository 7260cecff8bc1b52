r"""Multi-layer recurrent modules that run on the ``torch.ops.torch_ext`` kernels.

:class:`RNNBase` holds what every multi-layer recurrent module shares with its ``torch.nn``
namesake: the constructor checks and their messages, the parameters (names, shapes, order and
initialisation), and the forward's handling of batched, unbatched and packed input. A concrete
module names its mode (which fixes the gates per hidden unit), says how its recurrent state is
laid out (one tensor ``h`` by default; ``(h, c)`` for :class:`LSTM`), and maps a call onto its
operator: :class:`LSTM`, :class:`GRU` (both GRU forms) and :class:`RNN` (tanh or ReLU).
"""

import math
import numbers
import warnings
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union, overload

import torch
from torch import Tensor
from torch.nn import Module, init
from torch._ops import OpOverloadPacket
from torch.nn.parameter import Parameter
from torch.nn.utils.rnn import PackedSequence

from torch_ext import ops

__all__ = ["RNNBase", "LSTM", "GRU", "RNN"]

# Gates per hidden unit: the rows of ``weight_ih`` and ``weight_hh`` are this times ``hidden_size``.
_GATES_PER_MODE: Dict[str, int] = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}

# A recurrent state as the user passes it: one tensor (GRU, RNN) or a pair (h, c) (LSTM).
State = Any
Input = Union[Tensor, PackedSequence]


def _check_bool_option(name: str, value: Any) -> None:
    """Raise ``TypeError`` with ``torch.nn``'s wording unless ``value`` is a bool."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} should be of type bool, got: {type(value).__name__}")


def _check_constructor_args(
    input_size: Any,
    hidden_size: Any,
    num_layers: Any,
    bias: Any,
    batch_first: Any,
    dropout: Any,
    proj_size: Any,
) -> None:
    """Raise (or warn) for bad constructor arguments in the order and words of ``torch.nn``."""
    if not isinstance(dropout, numbers.Number) or isinstance(dropout, bool) or not 0 <= dropout <= 1:
        raise ValueError(
            "dropout should be a number in range [0, 1] representing the probability of an "
            "element being zeroed"
        )
    if dropout > 0 and num_layers == 1:
        # stacklevel 4 points past this helper, RNNBase.__init__ and the subclass's __init__ at
        # the line that built the module.
        warnings.warn(
            "dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
            f"expects num_layers greater than 1, but got dropout={dropout} and "
            f"num_layers={num_layers}",
            stacklevel=4,
        )
    _check_bool_option("bias", bias)
    _check_bool_option("batch_first", batch_first)
    for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
        if not isinstance(value, int):
            raise TypeError(f"{name} should be of type int, got: {type(value).__name__}")
        if value <= 0:
            raise ValueError(f"{name} must be greater than zero")
    if num_layers <= 0:
        raise ValueError("num_layers must be greater than zero")
    if proj_size < 0:
        raise ValueError("proj_size should be a positive integer or zero to disable projections")
    if proj_size >= hidden_size:
        raise ValueError("proj_size has to be smaller than hidden_size")


class RNNBase(Module):
    r"""Base of the multi-layer recurrent modules (:class:`LSTM`, :class:`GRU`, :class:`RNN`).

    It builds the parameters of every (layer, direction) in ``torch.nn.RNNBase``'s order, so that
    the same seed gives the same values and state dicts move freely between the two, and it runs
    the forward's bookkeeping: unbatched input, ``batch_first``, :class:`PackedSequence` (sorting
    the initial state into the packed order and the final state back), zero initial states and
    the argument checks with ``torch.nn``'s messages.

    A subclass supplies:

    * ``mode``, passed to this constructor: a key of the gate table (``"LSTM"``: 4 gates per
      hidden unit, ``"GRU"``: 3, ``"RNN_TANH"``/``"RNN_RELU"``: 1);
    * :meth:`_operator`: the ``torch.ops.torch_ext`` packet whose ``.input`` and ``.data``
      overloads take ATen's ``gru``/``rnn_tanh`` arguments, which the default :meth:`_run_op`
      calls (a module with another calling convention overrides :meth:`_run_op` instead), and
      :meth:`_operator_options` when that op takes arguments after ATen's (a layer norm's ``eps``);
    * :meth:`_direction_parameter_shapes` when one direction of a layer holds more parameters than
      ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh`` (and ``weight_hr`` with projections),
      e.g. layer-norm gains, together with :meth:`reset_parameters` for their initial values;
    * for a state of more than the one tensor ``h`` (the default, as for GRU and RNN):
      :meth:`_state_features`, :meth:`_split_state` and :meth:`_join_state` (the state's tensors
      and their feature sizes; ``(h, c)`` for LSTM) and :meth:`_check_state_dims` (the check,
      with ``torch.nn``'s message, that a given initial state has as many dimensions as the input
      calls for);
    * :meth:`_check_packed_args` when packed input should be checked otherwise than as
      ``torch.nn.GRU`` and ``torch.nn.RNN`` check it (in Python, with their messages).

    Args:
        mode: the recurrence, see above.
        input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
        proj_size, device, dtype: as for :class:`LSTM`.
    """

    mode: str
    input_size: int
    hidden_size: int
    num_layers: int
    bias: bool
    batch_first: bool
    dropout: float
    bidirectional: bool
    proj_size: int

    # The message for padded input of the wrong rank ("LSTM: Expected input ...").
    _name_in_errors: str = "RNN"
    _input_rank_error: str = "{name}: Expected input to be 2D or 3D, got {dim}D instead"

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: Optional[Union[torch.device, str, int]] = None,
        dtype: Optional[torch.dtype] = None,
    ) -> None:
        super().__init__()
        # float() comes first, as in torch.nn: a string or None fails here with Python's message.
        dropout_probability = float(dropout)
        _check_constructor_args(input_size, hidden_size, num_layers, bias, batch_first, dropout, proj_size)
        if mode not in _GATES_PER_MODE:
            raise ValueError("Unrecognized RNN mode: " + mode)
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = dropout_probability
        self.bidirectional = bidirectional
        self.proj_size = proj_size

        self._flat_weights_names: List[str] = []
        self._all_weights: List[List[str]] = []
        for layer in range(num_layers):
            for direction in range(self._num_directions):
                suffix = "_reverse" if direction == 1 else ""
                names = []
                for stem, shape in self._direction_parameter_shapes(layer):
                    name = f"{stem}_l{layer}{suffix}"
                    setattr(self, name, Parameter(torch.empty(shape, device=device, dtype=dtype)))
                    names.append(name)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    @property
    def _num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def _output_size(self) -> int:
        """Features of ``h``: ``proj_size`` with projections, else ``hidden_size``."""
        return self.proj_size if self.proj_size > 0 else self.hidden_size

    def _direction_parameter_shapes(self, layer: int) -> List[Tuple[str, Tuple[int, ...]]]:
        """Name stems and shapes of one direction's parameters of ``layer``, in registration order.

        The registered name is ``f"{stem}_l{layer}"``, plus ``"_reverse"`` for the second
        direction; this order is also the order of the operator's ``params``.
        """
        gate_size = _GATES_PER_MODE[self.mode] * self.hidden_size
        layer_input_size = self.input_size if layer == 0 else self._output_size * self._num_directions
        shapes: List[Tuple[str, Tuple[int, ...]]] = [
            ("weight_ih", (gate_size, layer_input_size)),
            ("weight_hh", (gate_size, self._output_size)),
        ]
        if self.bias:
            shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
        if self.proj_size > 0:
            shapes.append(("weight_hr", (self.proj_size, self.hidden_size)))
        return shapes

    def reset_parameters(self) -> None:
        r"""Draw every parameter from :math:`\mathcal{U}(-\sqrt{k}, \sqrt{k})`,
        :math:`k = 1 / \text{hidden\_size}`, in registration order."""
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for parameter in self.parameters():
            init.uniform_(parameter, -bound, bound)

    @property
    def _flat_weights(self) -> List[Optional[Tensor]]:
        """The parameters in the operator's order, read now (so ``functional_call`` swaps apply)."""
        return [getattr(self, name, None) for name in self._flat_weights_names]

    @property
    def all_weights(self) -> List[List[Parameter]]:
        """The parameters grouped per (layer, direction), in registration order."""
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def flatten_parameters(self) -> None:
        """Do nothing: kept for ``torch.nn`` compatibility (the kernels read the weights as they are)."""

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            text += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if self.bias is not True:
            text += f", bias={self.bias}"
        if self.batch_first is not False:
            text += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            text += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            text += f", bidirectional={self.bidirectional}"
        return text

    # ----------------------------------------------------------------- recurrent state hooks
    # The defaults describe a state of one tensor h (GRU, RNN); LSTM overrides them for (h, c).

    def _state_features(self) -> Tuple[int, ...]:
        """Feature size of each tensor of the recurrent state, in :meth:`_split_state` order; the
        zero initial state is built with these sizes."""
        # hidden_size, not _output_size: torch.nn.GRU/RNN build their zero state so even when a
        # positional proj_size slipped past their constructor (which refuses it by keyword only),
        # and then fail the size check below with the same message as this module.
        return (self.hidden_size,)

    def _split_state(self, hx: State) -> List[Tensor]:
        """The tensors of a recurrent state as the user passes it."""
        return [hx]

    def _join_state(self, tensors: Sequence[Tensor]) -> State:
        """A recurrent state as the user gets it back, from its tensors."""
        return tensors[0]

    def _check_state_dims(self, hx: State, expected_dim: int) -> None:
        """Raise unless each tensor of a given initial state has ``expected_dim`` dimensions."""
        if hx.dim() != expected_dim:
            kind = "batched 3-D" if expected_dim == 3 else "unbatched 2-D"
            raise RuntimeError(f"For {kind} input, hx should also be {expected_dim}-D but got {hx.dim()}-D tensor")

    def _operator(self) -> OpOverloadPacket:
        """The ``torch.ops.torch_ext`` op (``.input`` and ``.data`` overloads) the default
        :meth:`_run_op` calls."""
        raise NotImplementedError(f"{type(self).__name__} does not define its operator")

    def _operator_options(self) -> Tuple[Any, ...]:
        """The arguments :meth:`_operator`'s overloads take after ATen's (none by default)."""
        return ()

    def _run_op(self, input: Tensor, batch_sizes: Optional[Tensor], hx: State) -> Tuple[Tensor, State]:
        """Run the operator: padded ``input`` when ``batch_sizes`` is None, else packed data."""
        operator = self._operator()
        weights = self._flat_weights
        if batch_sizes is None:
            return operator.input(
                input,
                hx,
                weights,
                self.bias,
                self.num_layers,
                self.dropout,
                self.training,
                self.bidirectional,
                self.batch_first,
                *self._operator_options(),
            )
        return operator.data(
            input,
            batch_sizes,
            hx,
            weights,
            self.bias,
            self.num_layers,
            self.dropout,
            self.training,
            self.bidirectional,
            *self._operator_options(),
        )

    def _check_state_before_permuting(self, hx: State, batch: int, sorted_indices: Optional[Tensor]) -> None:
        """A state that the packed order cannot index fails there in torch.nn, with index_select's
        words ("INDICES element is out of DATA bounds", "Dimension out of range", "self indexing
        axis dim should be positive"): the same exception types here, with messages that name the
        state."""
        if sorted_indices is None:
            return
        if len(self._state_features()) > 1 and not isinstance(hx, (tuple, list)):
            return  # a tensor where a pair belongs: permute_hidden says so, as torch.nn fails there
        tensors = self._split_state(hx)
        for index, tensor in enumerate(tensors):
            if not isinstance(tensor, Tensor):
                continue
            name = "hx" if len(tensors) == 1 else f"hx[{index}]"
            if tensor.dim() < 2:
                raise IndexError(
                    f"{self._name_in_errors}: expected {name} to be 3-D for packed input, got a {tensor.dim()}-D tensor"
                )
            if tensor.size(1) < batch:
                raise RuntimeError(
                    f"{self._name_in_errors}: expected {name} to hold the packed input's {batch} sequences "
                    f"(dimension 1), got shape {list(tensor.shape)}"
                )

    def _check_packed_args(self, data: Tensor, hx: State, batch_sizes: Tensor, batch: int) -> None:
        """Check packed input of ``batch`` sequences and the (sorted) initial state before the
        operator runs, as torch.nn.GRU and torch.nn.RNN do."""
        self._check_forward_args(data, hx, batch_sizes, batch)

    def _check_scalar_args(self) -> None:
        """Raise ``TypeError`` where ATen's argument parser does.

        The constructor, like ``torch.nn``'s, takes any truthy ``bidirectional`` and a bool
        ``num_layers``; ``torch.nn``'s forward then fails in the parser, and so does this one.
        """
        op_name = self.mode.lower()
        if isinstance(self.num_layers, bool):
            raise TypeError(f"{op_name}(): argument 'num_layers' must be int, not bool")
        if not isinstance(self.bidirectional, bool):
            raise TypeError(
                f"{op_name}(): argument 'bidirectional' must be bool, not {type(self.bidirectional).__name__}"
            )

    def _map_state(self, hx: State, function: Any) -> State:
        return self._join_state([function(tensor) for tensor in self._split_state(hx)])

    def _zero_state(self, input: Tensor, batch: int) -> State:
        layers = self.num_layers * self._num_directions
        return self._join_state(
            [
                torch.zeros(layers, batch, features, dtype=input.dtype, device=input.device)
                for features in self._state_features()
            ]
        )

    # ----------------------------------------------------------------- checks (torch.nn's API)

    def check_input(self, input: Tensor, batch_sizes: Optional[Tensor]) -> None:
        """Raise unless ``input`` has the weights' dtype, the expected rank and ``input_size`` features."""
        weight_dtype = getattr(self, self._flat_weights_names[0]).dtype
        if input.dtype != weight_dtype and not torch._C._is_any_autocast_enabled():
            raise ValueError(
                f"RNN input dtype ({input.dtype}) does not match weight dtype ({weight_dtype}). "
                f"Convert input: input.to({weight_dtype}), or convert model: model.to({input.dtype})"
            )
        expected_dim = 2 if batch_sizes is not None else 3
        if input.dim() != expected_dim:
            raise RuntimeError(f"input must have {expected_dim} dimensions, got {input.dim()}")
        if self.input_size != input.size(-1):
            raise RuntimeError(
                "input.size(-1) must be equal to input_size. "
                f"Expected {self.input_size}, got {input.size(-1)}"
            )

    def _expected_state_size(
        self, input: Tensor, batch_sizes: Optional[Tensor], features: int, batch: Optional[int] = None
    ) -> Tuple[int, int, int]:
        """``(D * num_layers, N, features)``; ``batch``, when given, is ``N`` (see :meth:`_packed_batch_size`)."""
        if batch is None:
            if batch_sizes is not None:
                batch = int(batch_sizes[0])
            else:
                batch = input.size(0) if self.batch_first else input.size(1)
        return (self.num_layers * self._num_directions, batch, features)

    def get_expected_hidden_size(self, input: Tensor, batch_sizes: Optional[Tensor]) -> Tuple[int, int, int]:
        """Shape ``(D * num_layers, N, H_out)`` the hidden state ``h`` must have for ``input``."""
        return self._expected_state_size(input, batch_sizes, self._output_size)

    def check_hidden_size(
        self,
        hx: Tensor,
        expected_hidden_size: Tuple[int, int, int],
        msg: str = "Expected hidden size {}, got {}",
    ) -> None:
        """Raise ``RuntimeError(msg)`` unless ``hx`` has shape ``expected_hidden_size``."""
        if hx.size() != expected_hidden_size:
            raise RuntimeError(msg.format(expected_hidden_size, list(hx.size())))

    def check_forward_args(self, input: Tensor, hidden: State, batch_sizes: Optional[Tensor]) -> None:
        """Check ``input`` and every tensor of the initial state ``hidden`` against the module."""
        self._check_forward_args(input, hidden, batch_sizes, None)

    def _check_forward_args(
        self, input: Tensor, hidden: State, batch_sizes: Optional[Tensor], batch: Optional[int]
    ) -> None:
        self.check_input(input, batch_sizes)
        tensors = self._split_state(hidden)
        # h must have H_out features (get_expected_hidden_size), any further state its own.
        features = (self._output_size, *self._state_features()[1:])
        for index, (tensor, size) in enumerate(zip(tensors, features)):
            message = "Expected hidden size {}, got {}"
            if len(tensors) > 1:
                message = f"Expected hidden[{index}] size {{}}, got {{}}"
            self.check_hidden_size(tensor, self._expected_state_size(input, batch_sizes, size, batch), message)

    def permute_hidden(self, hx: State, permutation: Optional[Tensor]) -> State:
        """Reorder the batch dimension (1) of every tensor of ``hx``; ``None`` keeps it as is."""
        if permutation is None:
            return hx
        return self._map_state(hx, lambda tensor: tensor.index_select(1, permutation))

    # ----------------------------------------------------------------- forward

    def forward(self, input: Input, hx: Optional[State] = None) -> Tuple[Input, State]:
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx)
        return self._forward_padded(input, hx)

    @staticmethod
    def _packed_batch_size(batch_sizes: Tensor, sorted_indices: Optional[Tensor]) -> int:
        """How many sequences a PackedSequence holds.

        ``sorted_indices.numel()`` equals ``batch_sizes[0]`` but is a size, not data: under
        non-strict ``torch.export`` (and other tracing) it stays symbolic, where
        ``int(batch_sizes[0])`` would be a data-dependent value to guard on.
        """
        if sorted_indices is not None:
            return sorted_indices.numel()
        return int(batch_sizes[0])

    def _forward_packed(self, input: PackedSequence, hx: Optional[State]) -> Tuple[PackedSequence, State]:
        data, batch_sizes, sorted_indices, unsorted_indices = input
        batch = self._packed_batch_size(batch_sizes, sorted_indices)
        if hx is None:
            hx = self._zero_state(data, batch)
        else:
            # The user orders the initial state like the original batch; the kernel wants the
            # packed order (longest sequence first).
            self._check_state_before_permuting(hx, batch, sorted_indices)
            hx = self.permute_hidden(hx, sorted_indices)
        self._check_packed_args(data, hx, batch_sizes, batch)
        self._check_scalar_args()
        output, hidden = self._run_op(data, batch_sizes, hx)
        packed = PackedSequence(output, batch_sizes, sorted_indices, unsorted_indices)
        return packed, self.permute_hidden(hidden, unsorted_indices)

    def _forward_padded(self, input: Tensor, hx: Optional[State]) -> Tuple[Tensor, State]:
        if input.dim() not in (2, 3):
            raise ValueError(self._input_rank_error.format(name=self._name_in_errors, dim=input.dim()))
        is_batched = input.dim() == 3
        batch_dim = 0 if self.batch_first else 1
        if not is_batched:
            input = input.unsqueeze(batch_dim)
        if hx is None:
            hx = self._zero_state(input, input.size(batch_dim))
        else:
            self._check_state_dims(hx, 3 if is_batched else 2)
            if not is_batched:
                hx = self._map_state(hx, lambda tensor: tensor.unsqueeze(1))
        self.check_forward_args(input, hx, None)
        self._check_scalar_args()
        output, hidden = self._run_op(input, None, hx)
        if not is_batched:
            output = output.squeeze(batch_dim)
            hidden = self._map_state(hidden, lambda tensor: tensor.squeeze(1))
        return output, hidden


class LSTM(RNNBase):
    r"""A multi-layer long short-term memory (LSTM) network over a sequence; a drop-in
    replacement of :class:`torch.nn.LSTM` whose forward and backward run torch_ext's kernels.

    Every layer turns each element :math:`x_t` of its input sequence, its previous hidden state
    :math:`h_{t-1}` and cell state :math:`c_{t-1}` into

    .. math::
        \begin{array}{ll}
            i_t = \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi}) \\
            f_t = \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf}) \\
            g_t = \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg}) \\
            o_t = \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho}) \\
            c_t = f_t \odot c_{t-1} + i_t \odot g_t \\
            h_t = o_t \odot \tanh(c_t)
        \end{array}

    with the input, forget, cell and output gates :math:`i_t, f_t, g_t, o_t`, the sigmoid
    :math:`\sigma` and the element-wise product :math:`\odot`; :math:`h_0, c_0` are the given
    initial states (zeros by default). Layer :math:`l \ge 2` reads the hidden states of layer
    :math:`l - 1`; in training, with ``dropout > 0``, each of those is zeroed with probability
    ``dropout`` (and the rest scaled by :math:`1 / (1 - \text{dropout})`), for every layer but the last.

    With ``proj_size > 0`` each layer projects its hidden state, :math:`h_t = W_{hr}(o_t \odot
    \tanh(c_t))`, so :math:`h_t` (and the output) has ``proj_size`` features while :math:`c_t`
    keeps ``hidden_size`` (https://arxiv.org/abs/1402.1128).

    Args:
        input_size: features of each input element :math:`x_t`.
        hidden_size: features of the cell state (and of the hidden state without projections).
        num_layers: how many LSTM layers are stacked, each reading the previous one's output.
            Default: 1
        bias: if ``False``, the layers have no biases :math:`b_{ih}, b_{hh}`. Default: ``True``
        batch_first: if ``True``, ``input`` and ``output`` are ``(batch, seq, feature)`` rather
            than ``(seq, batch, feature)``; the states keep the batch in dimension 1 either way,
            and unbatched input ignores it. Default: ``False``
        dropout: probability of zeroing each output feature of every layer but the last, in
            training. Default: 0
        bidirectional: if ``True``, every layer also runs over the reversed sequence and
            concatenates both directions' outputs. Default: ``False``
        proj_size: if ``> 0``, the size the hidden state is projected to; it must be smaller than
            ``hidden_size``. Default: 0
        device: where the parameters are created. Default: the current default device
        dtype: the parameters' dtype. Default: the default floating-point dtype

    Inputs: input, (h_0, c_0)
        * **input**: :math:`(L, H_{in})` for an unbatched sequence, :math:`(L, N, H_{in})`, or
          :math:`(N, L, H_{in})` with ``batch_first=True``; or a
          :class:`torch.nn.utils.rnn.PackedSequence` of sequences of several lengths (see
          :func:`torch.nn.utils.rnn.pack_padded_sequence`).
        * **h_0**: :math:`(D \cdot \text{num\_layers}, H_{out})` unbatched, else
          :math:`(D \cdot \text{num\_layers}, N, H_{out})`: each sequence's initial hidden state,
          in the order of the original batch (also for packed input).
        * **c_0**: :math:`(D \cdot \text{num\_layers}, H_{cell})` unbatched, else
          :math:`(D \cdot \text{num\_layers}, N, H_{cell})`: each sequence's initial cell state.

        Without ``(h_0, c_0)`` both start at zero. Here

        .. math::
            \begin{aligned}
                N ={} & \text{batch size} \\
                L ={} & \text{sequence length} \\
                D ={} & 2 \text{ if bidirectional else } 1 \\
                H_{in} ={} & \text{input\_size} \\
                H_{cell} ={} & \text{hidden\_size} \\
                H_{out} ={} & \text{proj\_size if proj\_size} > 0 \text{ else hidden\_size}
            \end{aligned}

    Outputs: output, (h_n, c_n)
        * **output**: :math:`(L, D \cdot H_{out})` unbatched, :math:`(L, N, D \cdot H_{out})`, or
          :math:`(N, L, D \cdot H_{out})` with ``batch_first=True``: the last layer's :math:`h_t`
          for every :math:`t` (both directions side by side, forward first). A packed input gives
          a packed output with the input's ``batch_sizes`` and indices.
        * **h_n**: :math:`(D \cdot \text{num\_layers}, H_{out})` unbatched, else
          :math:`(D \cdot \text{num\_layers}, N, H_{out})`: every layer's and direction's final
          hidden state (for the reverse direction, the state after reading the first element).
        * **c_n**: :math:`(D \cdot \text{num\_layers}, H_{cell})` unbatched, else
          :math:`(D \cdot \text{num\_layers}, N, H_{cell})`: the final cell states, likewise.

    Attributes:
        weight_ih_l[k]: input-to-hidden weights :math:`(W_{ii}|W_{if}|W_{ig}|W_{io})` of layer
            :math:`k`, of shape ``(4*hidden_size, input_size)`` for :math:`k = 0`, else
            ``(4*hidden_size, D * H_out)``.
        weight_hh_l[k]: hidden-to-hidden weights :math:`(W_{hi}|W_{hf}|W_{hg}|W_{ho})` of layer
            :math:`k`, of shape ``(4*hidden_size, H_out)``.
        bias_ih_l[k]: input-to-hidden bias :math:`(b_{ii}|b_{if}|b_{ig}|b_{io})`, of shape
            ``(4*hidden_size)``; only with ``bias=True``.
        bias_hh_l[k]: hidden-to-hidden bias :math:`(b_{hi}|b_{hf}|b_{hg}|b_{ho})`, of shape
            ``(4*hidden_size)``; only with ``bias=True``.
        weight_hr_l[k]: projection :math:`W_{hr}` of layer :math:`k`, of shape
            ``(proj_size, hidden_size)``; only with ``proj_size > 0``.
        weight_ih_l[k]_reverse, weight_hh_l[k]_reverse, bias_ih_l[k]_reverse,
        bias_hh_l[k]_reverse, weight_hr_l[k]_reverse: the same for the reverse direction; only
            with ``bidirectional=True``.

    All parameters start from :math:`\mathcal{U}(-\sqrt{k}, \sqrt{k})` with
    :math:`k = 1 / \text{hidden\_size}`, drawn in the order above (layer by layer, forward
    direction first), exactly as :class:`torch.nn.LSTM` draws them: the same seed gives the same
    values, and state dicts load both ways.

    Examples::

        >>> lstm = torch_ext.LSTM(10, 20, num_layers=2)
        >>> input = torch.randn(5, 3, 10)
        >>> h0, c0 = torch.randn(2, 3, 20), torch.randn(2, 3, 20)
        >>> output, (hn, cn) = lstm(input, (h0, c0))
        >>> output.shape, hn.shape
        (torch.Size([5, 3, 20]), torch.Size([2, 3, 20]))
    """

    _name_in_errors = "LSTM"

    @overload
    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: Optional[Union[torch.device, str, int]] = None,
        dtype: Optional[torch.dtype] = None,
    ) -> None: ...

    @overload
    def __init__(self, *args: Any, **kwargs: Any) -> None: ...

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Arguments pass through untouched so that a wrong call fails with RNNBase.__init__'s
        # message, as torch.nn.LSTM's does.
        super().__init__("LSTM", *args, **kwargs)

    def _state_features(self) -> Tuple[int, ...]:
        return (self._output_size, self.hidden_size)

    def _split_state(self, hx: State) -> List[Tensor]:
        return [hx[0], hx[1]]

    def _join_state(self, tensors: Sequence[Tensor]) -> Tuple[Tensor, Tensor]:
        return (tensors[0], tensors[1])

    def _check_state_dims(self, hx: State, expected_dim: int) -> None:
        if hx[0].dim() != expected_dim or hx[1].dim() != expected_dim:
            kind = "batched 3-D" if expected_dim == 3 else "unbatched 2-D"
            raise RuntimeError(
                f"For {kind} input, hx and cx should also be {expected_dim}-D but got "
                f"({hx[0].dim()}-D, {hx[1].dim()}-D) tensors"
            )

    def _check_packed_args(self, data: Tensor, hx: State, batch_sizes: Tensor, batch: int) -> None:
        # torch.nn.LSTM leaves packed input to ATen: its argument parser runs first, then
        # torch.lstm reads size(2) of both states (to tell projections apart) before it checks
        # anything else, so a state of fewer than three dimensions fails there with IndexError.
        self._check_scalar_args()
        if isinstance(hx, (tuple, list)) and len(hx) == 2:
            for index, state in enumerate(hx):
                if isinstance(state, Tensor) and state.dim() < 3:
                    # torch.nn's type, with a message that names the state.
                    raise IndexError(
                        f"{self._name_in_errors}: expected hx[{index}] to be 3-D for packed input, got a "
                        f"{state.dim()}-D tensor (Dimension out of range reading its size(2))"
                    )
                state.size(2)

    def permute_hidden(self, hx: State, permutation: Optional[Tensor]) -> State:
        if permutation is None or isinstance(hx, (tuple, list)):
            return super().permute_hidden(hx, permutation)
        # torch.nn reorders hx[0], then reads hx[1]: a tensor where the pair (h_0, c_0) belongs
        # fails there with IndexError or RuntimeError by its sizes. The same types here, saying
        # what is wrong.
        try:
            return (hx[0].index_select(1, permutation), hx[1].index_select(1, permutation))
        except (IndexError, RuntimeError) as error:
            raise type(error)(
                f"{self._name_in_errors}: expected hx to be a tuple (h_0, c_0), got a {type(hx).__name__} ({error})"
            ) from error

    def get_expected_cell_size(self, input: Tensor, batch_sizes: Optional[Tensor]) -> Tuple[int, int, int]:
        """Shape ``(D * num_layers, N, hidden_size)`` the cell state ``c`` must have for ``input``."""
        return self._expected_state_size(input, batch_sizes, self.hidden_size)

    def _run_op(
        self, input: Tensor, batch_sizes: Optional[Tensor], hx: State
    ) -> Tuple[Tensor, Tuple[Tensor, Tensor]]:
        if not isinstance(hx, (tuple, list)):
            raise TypeError(f"lstm(): argument 'hx' must be tuple of Tensors, not {type(hx).__name__}")
        weights = self._flat_weights
        if batch_sizes is None:
            output, h_n, c_n = ops.lstm(
                input,
                hx,
                weights,
                self.bias,
                self.num_layers,
                self.dropout,
                self.training,
                self.bidirectional,
                self.batch_first,
            )
        else:
            output, h_n, c_n = ops.lstm_packed(
                input,
                batch_sizes,
                hx,
                weights,
                self.bias,
                self.num_layers,
                self.dropout,
                self.training,
                self.bidirectional,
            )
        return output, (h_n, c_n)

    @overload
    def forward(
        self, input: Tensor, hx: Optional[Tuple[Tensor, Tensor]] = None
    ) -> Tuple[Tensor, Tuple[Tensor, Tensor]]: ...

    @overload
    def forward(
        self, input: PackedSequence, hx: Optional[Tuple[Tensor, Tensor]] = None
    ) -> Tuple[PackedSequence, Tuple[Tensor, Tensor]]: ...

    def forward(
        self, input: Input, hx: Optional[Tuple[Tensor, Tensor]] = None
    ) -> Tuple[Input, Tuple[Tensor, Tensor]]:
        """Run the LSTM over ``input`` from ``hx = (h_0, c_0)``; returns ``output, (h_n, c_n)``."""
        return super().forward(input, hx)


def _refuse_proj_size(kwargs: Dict[str, Any]) -> None:
    # torch.nn.GRU and torch.nn.RNN refuse proj_size by keyword only (a positional one reaches
    # RNNBase, which builds weight_hr; the forward then fails on the state's size), and so do these.
    if "proj_size" in kwargs:
        raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")


class GRU(RNNBase):
    r"""A multi-layer gated recurrent unit (GRU) network over a sequence; a drop-in replacement of
    :class:`torch.nn.GRU` whose forward and backward run torch_ext's kernels, with the original
    form of the GRU (``reset_after=False``) as an option.

    Every layer turns each element :math:`x_t` of its input sequence and its previous hidden state
    :math:`h_{t-1}` into

    .. math::
        \begin{array}{ll}
            r_t = \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr}) \\
            z_t = \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz}) \\
            n_t = \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn})) \\
            h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}
        \end{array}

    with the reset, update and new gates :math:`r_t, z_t, n_t`, the sigmoid :math:`\sigma` and
    the element-wise product :math:`\odot`; :math:`h_0` is the given initial state (zeros by
    default). This is PyTorch's form (``reset_after=True``, the default): the reset gate scales
    :math:`W_{hn} h_{t-1} + b_{hn}` *after* the product, so that all three :math:`W_{h\cdot}
    h_{t-1}` products are one matrix product per step. With ``reset_after=False`` the module
    computes the original GRU (Cho et al., 2014, arXiv:1406.1078v1), where the reset gate acts
    *before* the product:

    .. math::
        n_t = \tanh(W_{in} x_t + b_{in} + W_{hn} (r_t \odot h_{t-1}) + b_{hn})

    and everything else as above. Both forms have the same parameters (names, shapes, order and
    initialisation), so state dicts load into :class:`torch.nn.GRU` and back either way; only the
    results differ.

    How the reset-before form maps onto other notations:

    * The text this project teaches writes, without biases, :math:`r = \sigma(W_r [h_{t-1},
      x_t])`, :math:`z = \sigma(W_z [h_{t-1}, x_t])`, :math:`\tilde h = \tanh(W [r \odot h_{t-1},
      x_t])` and :math:`h_t = (1 - z) \odot h_{t-1} + z \odot \tilde h`. Its candidate
      :math:`\tilde h` is :math:`n_t` of ``reset_after=False`` and its :math:`r` is
      :math:`r_t`, but its :math:`z` weighs the *new* candidate where PyTorch's weighs the old
      state: :math:`z_\text{text} = 1 - z_t`. As :math:`1 - \sigma(a) = \sigma(-a)`, the text's
      weights are :math:`W_r = [W_{hr} | W_{ir}]`, :math:`W = [W_{hn} | W_{in}]` and
      :math:`W_z = -[W_{hz} | W_{iz}]` (with biases :math:`b_r = b_{ir} + b_{hr}`,
      :math:`b = b_{in} + b_{hn}`, :math:`b_z = -(b_{iz} + b_{hz})`).
    * Keras' ``GRU(reset_after=False)`` (with ``recurrent_activation="sigmoid"``) is this form
      with PyTorch's :math:`z` (:math:`h_t = z \odot h_{t-1} + (1 - z) \odot \tilde h`). Its
      ``kernel`` is ``(input_size, 3 * units)`` and ``recurrent_kernel`` ``(units, 3 * units)``
      with the gates in the order :math:`z, r, h`: ``weight_ih_l0`` is ``kernel`` transposed
      with its row blocks reordered to :math:`r, z, n`, ``weight_hh_l0`` likewise from
      ``recurrent_kernel``, ``bias_ih_l0`` its single ``bias`` reordered, and ``bias_hh_l0``
      zero. Keras' default since TensorFlow 2, ``reset_after=True`` (two bias rows, input and
      recurrent), is PyTorch's form, this module's default.

    Layer :math:`l \ge 2` reads the hidden states of layer :math:`l - 1`; in training, with
    ``dropout > 0``, each of those is zeroed with probability ``dropout`` (and the rest scaled by
    :math:`1 / (1 - \text{dropout})`), for every layer but the last.

    Args:
        input_size: features of each input element :math:`x_t`.
        hidden_size: features of the hidden state :math:`h_t`.
        num_layers: how many GRU layers are stacked, each reading the previous one's output.
            Default: 1
        bias: if ``False``, the layers have no biases :math:`b_{ih}, b_{hh}`. Default: ``True``
        batch_first: if ``True``, ``input`` and ``output`` are ``(batch, seq, feature)`` rather
            than ``(seq, batch, feature)``; the state keeps the batch in dimension 1 either way,
            and unbatched input ignores it. Default: ``False``
        dropout: probability of zeroing each output feature of every layer but the last, in
            training. Default: 0
        bidirectional: if ``True``, every layer also runs over the reversed sequence and
            concatenates both directions' outputs. Default: ``False``
        device: where the parameters are created. Default: the current default device
        dtype: the parameters' dtype. Default: the default floating-point dtype
        reset_after: keyword only. ``True`` for PyTorch's form (the reset gate after the
            product with :math:`W_{hn}`, as :class:`torch.nn.GRU`), ``False`` for the original
            form (before it). Default: ``True``

    Inputs: input, h_0
        * **input**: :math:`(L, H_{in})` for an unbatched sequence, :math:`(L, N, H_{in})`, or
          :math:`(N, L, H_{in})` with ``batch_first=True``; or a
          :class:`torch.nn.utils.rnn.PackedSequence` of sequences of several lengths (see
          :func:`torch.nn.utils.rnn.pack_padded_sequence`).
        * **h_0**: :math:`(D \cdot \text{num\_layers}, H_{out})` unbatched, else
          :math:`(D \cdot \text{num\_layers}, N, H_{out})`: each sequence's initial hidden state,
          in the order of the original batch (also for packed input). Zeros when not given.

        Here

        .. math::
            \begin{aligned}
                N ={} & \text{batch size} \\
                L ={} & \text{sequence length} \\
                D ={} & 2 \text{ if bidirectional else } 1 \\
                H_{in} ={} & \text{input\_size} \\
                H_{out} ={} & \text{hidden\_size}
            \end{aligned}

    Outputs: output, h_n
        * **output**: :math:`(L, D \cdot H_{out})` unbatched, :math:`(L, N, D \cdot H_{out})`, or
          :math:`(N, L, D \cdot H_{out})` with ``batch_first=True``: the last layer's :math:`h_t`
          for every :math:`t` (both directions side by side, forward first). A packed input gives
          a packed output with the input's ``batch_sizes`` and indices.
        * **h_n**: :math:`(D \cdot \text{num\_layers}, H_{out})` unbatched, else
          :math:`(D \cdot \text{num\_layers}, N, H_{out})`: every layer's and direction's final
          hidden state (for the reverse direction, the state after reading the first element).

    Attributes:
        weight_ih_l[k]: input-to-hidden weights :math:`(W_{ir}|W_{iz}|W_{in})` of layer :math:`k`,
            of shape ``(3*hidden_size, input_size)`` for :math:`k = 0`, else
            ``(3*hidden_size, D * hidden_size)``.
        weight_hh_l[k]: hidden-to-hidden weights :math:`(W_{hr}|W_{hz}|W_{hn})` of layer
            :math:`k`, of shape ``(3*hidden_size, hidden_size)``.
        bias_ih_l[k]: input-to-hidden bias :math:`(b_{ir}|b_{iz}|b_{in})`, of shape
            ``(3*hidden_size)``; only with ``bias=True``.
        bias_hh_l[k]: hidden-to-hidden bias :math:`(b_{hr}|b_{hz}|b_{hn})`, of shape
            ``(3*hidden_size)``; only with ``bias=True``.
        weight_ih_l[k]_reverse, weight_hh_l[k]_reverse, bias_ih_l[k]_reverse,
        bias_hh_l[k]_reverse: the same for the reverse direction; only with
            ``bidirectional=True``.

    All parameters start from :math:`\mathcal{U}(-\sqrt{k}, \sqrt{k})` with
    :math:`k = 1 / \text{hidden\_size}`, drawn in the order above (layer by layer, forward
    direction first), exactly as :class:`torch.nn.GRU` draws them: the same seed gives the same
    values, and state dicts load both ways.

    Examples::

        >>> gru = torch_ext.GRU(10, 20, num_layers=2)
        >>> input = torch.randn(5, 3, 10)
        >>> h0 = torch.randn(2, 3, 20)
        >>> output, hn = gru(input, h0)
        >>> output.shape, hn.shape
        (torch.Size([5, 3, 20]), torch.Size([2, 3, 20]))
        >>> original = torch_ext.GRU(10, 20, num_layers=2, reset_after=False)
        >>> original.load_state_dict(gru.state_dict())  # same parameters, other equations
        <All keys matched successfully>
    """

    _name_in_errors = "GRU"
    # A class default, so that a pickle of a module without the attribute loads as PyTorch's form.
    reset_after: bool = True

    @overload
    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: Optional[Union[torch.device, str, int]] = None,
        dtype: Optional[torch.dtype] = None,
        *,
        reset_after: bool = True,
    ) -> None: ...

    @overload
    def __init__(self, *args: Any, reset_after: bool = True, **kwargs: Any) -> None: ...

    def __init__(self, *args: Any, reset_after: bool = True, **kwargs: Any) -> None:
        _refuse_proj_size(kwargs)
        _check_bool_option("reset_after", reset_after)
        # The rest passes through untouched, so that a wrong call fails with RNNBase.__init__'s
        # message, as torch.nn.GRU's does.
        super().__init__("GRU", *args, **kwargs)
        self.reset_after = reset_after

    def _operator(self) -> OpOverloadPacket:
        if self.reset_after:
            return torch.ops.torch_ext.gru
        return torch.ops.torch_ext.gru_reset_before

    def extra_repr(self) -> str:
        text = super().extra_repr()
        if not self.reset_after:
            text += ", reset_after=False"
        return text

    @overload
    def forward(self, input: Tensor, hx: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]: ...

    @overload
    def forward(self, input: PackedSequence, hx: Optional[Tensor] = None) -> Tuple[PackedSequence, Tensor]: ...

    def forward(self, input: Input, hx: Optional[Tensor] = None) -> Tuple[Input, Tensor]:
        """Run the GRU over ``input`` from ``h_0 = hx``; returns ``output, h_n``."""
        return super().forward(input, hx)


class RNN(RNNBase):
    r"""A multi-layer Elman recurrent network with :math:`\tanh` or ReLU over a sequence; a
    drop-in replacement of :class:`torch.nn.RNN` whose forward and backward run torch_ext's
    kernels.

    Every layer turns each element :math:`x_t` of its input sequence and its previous hidden state
    :math:`h_{t-1}` into

    .. math::
        h_t = \tanh(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})

    with :math:`\text{ReLU}` in place of :math:`\tanh` when ``nonlinearity='relu'``;
    :math:`h_0` is the given initial state (zeros by default). Layer :math:`l \ge 2` reads the
    hidden states of layer :math:`l - 1`; in training, with ``dropout > 0``, each of those is
    zeroed with probability ``dropout`` (and the rest scaled by :math:`1 / (1 - \text{dropout})`),
    for every layer but the last.

    Args:
        input_size: features of each input element :math:`x_t`.
        hidden_size: features of the hidden state :math:`h_t`.
        num_layers: how many layers are stacked, each reading the previous one's output.
            Default: 1
        nonlinearity: ``'tanh'`` or ``'relu'``. Default: ``'tanh'``
        bias: if ``False``, the layers have no biases :math:`b_{ih}, b_{hh}`. Default: ``True``
        batch_first: if ``True``, ``input`` and ``output`` are ``(batch, seq, feature)`` rather
            than ``(seq, batch, feature)``; the state keeps the batch in dimension 1 either way,
            and unbatched input ignores it. Default: ``False``
        dropout: probability of zeroing each output feature of every layer but the last, in
            training. Default: 0
        bidirectional: if ``True``, every layer also runs over the reversed sequence and
            concatenates both directions' outputs. Default: ``False``
        device: where the parameters are created. Default: the current default device
        dtype: the parameters' dtype. Default: the default floating-point dtype

    Inputs: input, h_0
        * **input**: :math:`(L, H_{in})` for an unbatched sequence, :math:`(L, N, H_{in})`, or
          :math:`(N, L, H_{in})` with ``batch_first=True``; or a
          :class:`torch.nn.utils.rnn.PackedSequence` of sequences of several lengths.
        * **h_0**: :math:`(D \cdot \text{num\_layers}, H_{out})` unbatched, else
          :math:`(D \cdot \text{num\_layers}, N, H_{out})`: each sequence's initial hidden state,
          in the order of the original batch (also for packed input). Zeros when not given.

        Here :math:`N` is the batch size, :math:`L` the sequence length, :math:`D` 2 if
        bidirectional else 1, :math:`H_{in}` ``input_size`` and :math:`H_{out}` ``hidden_size``.

    Outputs: output, h_n
        * **output**: :math:`(L, D \cdot H_{out})` unbatched, :math:`(L, N, D \cdot H_{out})`, or
          :math:`(N, L, D \cdot H_{out})` with ``batch_first=True``: the last layer's :math:`h_t`
          for every :math:`t` (both directions side by side, forward first). A packed input gives
          a packed output with the input's ``batch_sizes`` and indices.
        * **h_n**: :math:`(D \cdot \text{num\_layers}, H_{out})` unbatched, else
          :math:`(D \cdot \text{num\_layers}, N, H_{out})`: every layer's and direction's final
          hidden state.

    Attributes:
        weight_ih_l[k]: input-to-hidden weights of layer :math:`k`, of shape
            ``(hidden_size, input_size)`` for :math:`k = 0`, else ``(hidden_size, D * hidden_size)``.
        weight_hh_l[k]: hidden-to-hidden weights of layer :math:`k`, of shape
            ``(hidden_size, hidden_size)``.
        bias_ih_l[k]: input-to-hidden bias, of shape ``(hidden_size)``; only with ``bias=True``.
        bias_hh_l[k]: hidden-to-hidden bias, of shape ``(hidden_size)``; only with ``bias=True``.
        weight_ih_l[k]_reverse, weight_hh_l[k]_reverse, bias_ih_l[k]_reverse,
        bias_hh_l[k]_reverse: the same for the reverse direction; only with
            ``bidirectional=True``.

    All parameters start from :math:`\mathcal{U}(-\sqrt{k}, \sqrt{k})` with
    :math:`k = 1 / \text{hidden\_size}`, drawn in the order above, exactly as
    :class:`torch.nn.RNN` draws them.

    Examples::

        >>> rnn = torch_ext.RNN(10, 20, num_layers=2, nonlinearity="relu")
        >>> input = torch.randn(5, 3, 10)
        >>> h0 = torch.randn(2, 3, 20)
        >>> output, hn = rnn(input, h0)
        >>> output.shape, hn.shape
        (torch.Size([5, 3, 20]), torch.Size([2, 3, 20]))
    """

    _name_in_errors = "RNN"
    # torch.nn.RNN's wording, which differs from GRU's and LSTM's by the word "tensor".
    _input_rank_error = "{name}: Expected input to be 2D or 3D, got {dim}D tensor instead"
    nonlinearity: str

    @overload
    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: Optional[Union[torch.device, str, int]] = None,
        dtype: Optional[torch.dtype] = None,
    ) -> None: ...

    @overload
    def __init__(self, *args: Any, **kwargs: Any) -> None: ...

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _refuse_proj_size(kwargs)
        # nonlinearity is RNN's own 4th argument; the others go to RNNBase as for torch.nn.RNN
        # (so a nonlinearity given both ways fails there, as it does for torch.nn.RNN).
        if len(args) > 3:
            nonlinearity = args[3]
            args = args[:3] + args[4:]
        else:
            nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        super().__init__(mode, *args, **kwargs)
        self.nonlinearity = nonlinearity

    def _operator(self) -> OpOverloadPacket:
        if self.mode == "RNN_TANH":
            return torch.ops.torch_ext.rnn_tanh
        return torch.ops.torch_ext.rnn_relu

    @overload
    def forward(self, input: Tensor, hx: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]: ...

    @overload
    def forward(self, input: PackedSequence, hx: Optional[Tensor] = None) -> Tuple[PackedSequence, Tensor]: ...

    def forward(self, input: Input, hx: Optional[Tensor] = None) -> Tuple[Input, Tensor]:
        """Run the RNN over ``input`` from ``h_0 = hx``; returns ``output, h_n``."""
        return super().forward(input, hx)
