"""Layer-normalised LSTM and GRU as a user writes them today in plain PyTorch: the baselines of
torch_ext.LayerNormLSTM / LayerNormGRU in the benchmark, run eagerly and through
``torch.jit.script`` (the same code; it is written to be scriptable).

The equations are those of our kernels (csrc/kernels/layer_norm_lstm.h, layer_norm_gru.h), Ba,
Kiros and Hinton (2016), with layer norm over all gate features of a row:

    LSTM (gates i, f, g, o):
      ĝi = LN(x·W_ihᵀ)  ĝh = LN(h_{t-1}·W_hhᵀ)
      pre = ĝi ⊙ w_ih_ln + b_ih_ln + b_ih + ĝh ⊙ w_hh_ln + b_hh_ln + b_hh
      c_t = σ(f) ⊙ c_{t-1} + σ(i) ⊙ tanh(g)      h_t = σ(o) ⊙ tanh(LN(c_t) ⊙ w_c + b_c)
    GRU (gates r, z, n):
      gi = ĝi ⊙ w_ih_ln + b_ih_ln + b_ih          gh = ĝh ⊙ w_hh_ln + b_hh_ln + b_hh
      r = σ(gi_r + gh_r)  z = σ(gi_z + gh_z)  n = tanh(gi_n + r ⊙ gh_n)  h_t = (1 − z) ⊙ n + z ⊙ h_{t-1}

A reasonable user implementation: the input product and its layer norm for all steps at once
(one ``F.linear`` + ``F.layer_norm``), then a Python loop over the steps with ``F.layer_norm``.
Each (layer, direction) holds its parameters in the operator's order (see ``PARAMETER_NAMES``),
so :func:`copy_weights_from` can take them from a torch_ext module by position.
"""

from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# One (layer, direction)'s parameters in the order of the torch_ext operators' ``params``.
PARAMETER_NAMES = {
    "LSTM": ["weight_ih", "weight_hh", "bias_ih", "bias_hh", "ln_ih_weight", "ln_ih_bias",
             "ln_hh_weight", "ln_hh_bias", "ln_cell_weight", "ln_cell_bias"],
    "GRU": ["weight_ih", "weight_hh", "bias_ih", "bias_hh", "ln_ih_weight", "ln_ih_bias",
            "ln_hh_weight", "ln_hh_bias"],
}
GATES = {"LSTM": 4, "GRU": 3}


class _Direction(nn.Module):
    """One direction of one layer: the parameters, and the input gates of all steps."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, bias: bool, eps: float) -> None:
        super().__init__()
        gate_size = GATES[mode] * hidden_size
        self.hidden_size = hidden_size
        self.gate_size = gate_size
        self.eps = eps
        self.weight_ih = nn.Parameter(torch.empty(gate_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(gate_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.zeros(gate_size)) if bias else None
        self.bias_hh = nn.Parameter(torch.zeros(gate_size)) if bias else None
        self.ln_ih_weight = nn.Parameter(torch.ones(gate_size))
        self.ln_ih_bias = nn.Parameter(torch.zeros(gate_size))
        self.ln_hh_weight = nn.Parameter(torch.ones(gate_size))
        self.ln_hh_bias = nn.Parameter(torch.zeros(gate_size))
        bound = hidden_size**-0.5
        nn.init.uniform_(self.weight_ih, -bound, bound)
        nn.init.uniform_(self.weight_hh, -bound, bound)

    def _normalised(self, product: Tensor, weight: Tensor, bias: Tensor, extra_bias: Optional[Tensor]) -> Tensor:
        """LN(product) ⊙ weight + bias (+ the cell's own bias)."""
        gates = F.layer_norm(product, [self.gate_size], weight, bias, self.eps)
        if extra_bias is not None:
            gates = gates + extra_bias
        return gates

    def input_gates(self, input: Tensor) -> Tensor:
        """ĝi ⊙ w_ih_ln + b_ih_ln (+ b_ih) for every step: [T, B, G·H]."""
        return self._normalised(F.linear(input, self.weight_ih), self.ln_ih_weight, self.ln_ih_bias, self.bias_ih)

    def hidden_gates(self, h: Tensor) -> Tensor:
        """ĝh ⊙ w_hh_ln + b_hh_ln (+ b_hh) for one step: [B, G·H]."""
        return self._normalised(F.linear(h, self.weight_hh), self.ln_hh_weight, self.ln_hh_bias, self.bias_hh)


class LayerNormLSTMDirection(_Direction):
    def __init__(self, input_size: int, hidden_size: int, bias: bool, eps: float) -> None:
        super().__init__("LSTM", input_size, hidden_size, bias, eps)
        self.ln_cell_weight = nn.Parameter(torch.ones(hidden_size))
        self.ln_cell_bias = nn.Parameter(torch.zeros(hidden_size))

    def forward(self, input: Tensor, state: List[Tensor], reverse: bool) -> Tuple[Tensor, List[Tensor]]:
        input_gates = self.input_gates(input)
        h, c = state[0], state[1]
        steps = input.size(0)
        outputs: List[Tensor] = []
        for step in range(steps):
            t = steps - 1 - step if reverse else step
            i, f, g, o = (input_gates[t] + self.hidden_gates(h)).chunk(4, 1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            c_hat = F.layer_norm(c, [self.hidden_size], self.ln_cell_weight, self.ln_cell_bias, self.eps)
            h = torch.sigmoid(o) * torch.tanh(c_hat)
            outputs.append(h)
        if reverse:
            outputs.reverse()
        return torch.stack(outputs), [h, c]


class LayerNormGRUDirection(_Direction):
    def __init__(self, input_size: int, hidden_size: int, bias: bool, eps: float) -> None:
        super().__init__("GRU", input_size, hidden_size, bias, eps)

    def forward(self, input: Tensor, state: List[Tensor], reverse: bool) -> Tuple[Tensor, List[Tensor]]:
        input_gates = self.input_gates(input)
        h = state[0]
        steps = input.size(0)
        outputs: List[Tensor] = []
        for step in range(steps):
            t = steps - 1 - step if reverse else step
            input_r, input_z, input_n = input_gates[t].chunk(3, 1)
            hidden_r, hidden_z, hidden_n = self.hidden_gates(h).chunk(3, 1)
            r = torch.sigmoid(input_r + hidden_r)
            z = torch.sigmoid(input_z + hidden_z)
            n = torch.tanh(input_n + r * hidden_n)
            h = (1 - z) * n + z * h
            outputs.append(h)
        if reverse:
            outputs.reverse()
        return torch.stack(outputs), [h]


class _Stack(nn.Module):
    """Layers × directions of one direction class, composed as torch.nn.LSTM / GRU compose them."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int, bias: bool,
                 batch_first: bool, dropout: float, bidirectional: bool, eps: float) -> None:
        super().__init__()
        direction_class = LayerNormLSTMDirection if mode == "LSTM" else LayerNormGRUDirection
        self.mode = mode
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.batch_first = batch_first
        self.dropout = dropout
        self.num_directions = 2 if bidirectional else 1
        cells = []
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * self.num_directions
            for _ in range(self.num_directions):
                cells.append(direction_class(layer_input, hidden_size, bias, eps))
        self.cells = nn.ModuleList(cells)

    def run(self, input: Tensor, states: List[Tensor]) -> Tuple[Tensor, List[List[Tensor]]]:
        """``states``: each [layers·directions, B, H]; returns the output and, per state, the
        final value of every (layer, direction)."""
        if self.batch_first:
            input = input.transpose(0, 1)
        finals: List[List[Tensor]] = [[] for _ in states]
        layer_outputs: List[Tensor] = []
        for index, cell in enumerate(self.cells):
            direction = index % self.num_directions
            output, final = cell(input, [state[index] for state in states], direction == 1)
            for kind, value in enumerate(final):
                finals[kind].append(value)
            layer_outputs.append(output)
            if direction == self.num_directions - 1:
                input = torch.cat(layer_outputs, 2) if self.num_directions == 2 else layer_outputs[0]
                layer_outputs = []
                if self.dropout > 0 and self.training and index // self.num_directions < self.num_layers - 1:
                    input = F.dropout(input, self.dropout, True)
        if self.batch_first:
            input = input.transpose(0, 1)
        return input, finals

    def zero_state(self, input: Tensor) -> Tensor:
        batch = input.size(0) if self.batch_first else input.size(1)
        return torch.zeros(self.num_layers * self.num_directions, batch, self.hidden_size,
                           dtype=input.dtype, device=input.device)


class LayerNormLSTMReference(_Stack):
    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 eps: float = 1e-5) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, eps)

    def forward(self, input: Tensor, hx: Optional[Tuple[Tensor, Tensor]] = None
                ) -> Tuple[Tensor, Tuple[Tensor, Tensor]]:
        if hx is None:
            hx = (self.zero_state(input), self.zero_state(input))
        output, finals = self.run(input, [hx[0], hx[1]])
        return output, (torch.stack(finals[0]), torch.stack(finals[1]))


class LayerNormGRUReference(_Stack):
    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 eps: float = 1e-5) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, eps)

    def forward(self, input: Tensor, hx: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        if hx is None:
            hx = self.zero_state(input)
        output, finals = self.run(input, [hx])
        return output, torch.stack(finals[0])


REFERENCES = {"LayerNormLSTM": LayerNormLSTMReference, "LayerNormGRU": LayerNormGRUReference}


def direction_parameter_groups(module: nn.Module, groups: int) -> List[List[Tensor]]:
    """A torch_ext module's parameters per (layer, direction), in the operator's order: its
    ``all_weights`` when it has them (as RNNBase does), else its parameters split evenly."""
    if hasattr(module, "all_weights"):
        return [list(group) for group in module.all_weights]
    parameters = list(module.parameters())
    if len(parameters) % groups:
        raise ValueError(f"{type(module).__name__}: {len(parameters)} parameters do not split into {groups} groups")
    size = len(parameters) // groups
    return [parameters[index * size:(index + 1) * size] for index in range(groups)]


@torch.no_grad()
def copy_weights_from(reference: _Stack, module: nn.Module) -> None:
    """Give ``reference`` the weights of the torch_ext module ``module`` (same configuration)."""
    cells = list(reference.cells)
    groups = direction_parameter_groups(module, len(cells))
    for index, (cell, values) in enumerate(zip(cells, groups)):
        names = [name for name in PARAMETER_NAMES[reference.mode] if getattr(cell, name) is not None]
        if len(names) != len(values):
            raise ValueError(f"(layer, direction) {index}: expected {len(names)} parameters {names}, "
                             f"{type(module).__name__} has {len(values)}")
        for name, value in zip(names, values):
            target = getattr(cell, name)
            if target.shape != value.shape:
                raise ValueError(f"(layer, direction) {index}: {name} expects {list(target.shape)}, "
                                 f"got {list(value.shape)}")
            target.copy_(value)
