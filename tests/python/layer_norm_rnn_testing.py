"""A plain-PyTorch reference of the layer-normalised LSTM and GRU (Ba, Kiros and Hinton, 2016) and
their torch_ext ops, for the op tests (ops/test_layer_norm_lstm.py, ops/test_layer_norm_gru.py)
and the module tests (nn/modules/test_layer_norm_rnn.py).

The equations, with LN(a; w, b) = (a - E[a]) / sqrt(Var[a] + eps) * w + b over all features of a
row (biased variance):

    LSTM (gates i, f, g, o):
        gates = LN(x W_ih^T; ln_ih) + b_ih + LN(h W_hh^T; ln_hh) + b_hh
        c' = sigmoid(f) c + sigmoid(i) tanh(g)       h' = sigmoid(o) tanh(LN(c'; ln_cell))
    GRU (gates r, z, n):
        gi = LN(x W_ih^T; ln_ih) + b_ih              gh = LN(h W_hh^T; ln_hh) + b_hh
        r = sigmoid(gi_r + gh_r)   z = sigmoid(gi_z + gh_z)   n = tanh(gi_n + r gh_n)
        h' = (1 - z) n + z h

One direction's parameters, in the ops' order: weight_ih, weight_hh, (bias_ih, bias_hh),
ln_ih_weight, ln_ih_bias, ln_hh_weight, ln_hh_bias, (LSTM: ln_cell_weight, ln_cell_bias).

Run as a script (``python layer_norm_rnn_testing.py layer_norm_lstm ...``) it checks, in the CPU
variant that ATEN_CPU_CAPABILITY selects, each named op against the reference
(:func:`check_cpu_variant`).
"""

import os
import subprocess
import sys
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple, Union

import pytest
import torch
from torch import Tensor

import torch_ext  # noqa: F401  (registers the ops)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rnn_testing import Step, flat_params, intra_op_threads, reference_layer, reference_stack  # noqa: E402

EPS = 1e-5
State = Union[Tensor, List[Tensor]]


def plain_layer_norm(a: Tensor, weight: Tensor, bias: Tensor, eps: float) -> Tensor:
    """LN over the last dimension, written out (not torch.layer_norm)."""
    mean = a.mean(-1, keepdim=True)
    variance = (a - mean).square().mean(-1, keepdim=True)
    return (a - mean) / torch.sqrt(variance + eps) * weight + bias


def _split(
    weights: Sequence[Tensor], has_biases: bool
) -> Tuple[Tensor, Tensor, Optional[Tensor], Optional[Tensor], Sequence[Tensor]]:
    """(w_ih, w_hh, b_ih, b_hh, the layer-norm parameters) of one direction."""
    if has_biases:
        return weights[0], weights[1], weights[2], weights[3], weights[4:]
    return weights[0], weights[1], None, None, weights[2:]


def _plus(a: Tensor, bias: Optional[Tensor]) -> Tensor:
    return a if bias is None else a + bias


def layer_norm_lstm_step(has_biases: bool, eps: float) -> Step:
    def step(x: Tensor, states: Tuple[Tensor, ...], weights: Sequence[Tensor]) -> Tuple[Tensor, ...]:
        h, c = states
        w_ih, w_hh, b_ih, b_hh, ln = _split(weights, has_biases)
        gates = _plus(plain_layer_norm(x @ w_ih.t(), ln[0], ln[1], eps), b_ih)
        gates = gates + _plus(plain_layer_norm(h @ w_hh.t(), ln[2], ln[3], eps), b_hh)
        i, f, g, o = gates.chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(plain_layer_norm(c, ln[4], ln[5], eps))
        return h, c

    return step


def layer_norm_gru_step(has_biases: bool, eps: float) -> Step:
    def step(x: Tensor, states: Tuple[Tensor, ...], weights: Sequence[Tensor]) -> Tuple[Tensor, ...]:
        (h,) = states
        w_ih, w_hh, b_ih, b_hh, ln = _split(weights, has_biases)
        gi_r, gi_z, gi_n = _plus(plain_layer_norm(x @ w_ih.t(), ln[0], ln[1], eps), b_ih).chunk(3, dim=1)
        gh_r, gh_z, gh_n = _plus(plain_layer_norm(h @ w_hh.t(), ln[2], ln[3], eps), b_hh).chunk(3, dim=1)
        r = torch.sigmoid(gi_r + gh_r)
        z = torch.sigmoid(gi_z + gh_z)
        n = torch.tanh(gi_n + r * gh_n)
        return ((1 - z) * n + z * h,)

    return step


@dataclass(frozen=True)
class LayerNormRecurrence:
    """A layer-normalised recurrence and its torch_ext ops: <name>.input, <name>.data, <name>_cell,
    <name>_layer and the layer's halves _<name>_layer_forward / _backward."""

    name: str  # layer_norm_lstm, layer_norm_gru
    mode: str  # the nn.RNNBase mode whose torch.nn-named parameters it takes
    gates: int
    num_states: int  # 2: (h, c); 1: h
    layer_norm_names: Tuple[str, ...]  # one direction's ln_* parameters, in the ops' order

    def __str__(self) -> str:
        return self.name

    def step(self, has_biases: bool, eps: float = EPS) -> Step:
        make = layer_norm_lstm_step if self.mode == "LSTM" else layer_norm_gru_step
        return make(has_biases, eps)

    # --- arguments ------------------------------------------------------------------------------------

    def params(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        bidirectional: bool = False,
        dtype: torch.dtype = torch.float64,
        requires_grad: bool = True,
        generator: Optional[torch.Generator] = None,
    ) -> List[Tensor]:
        """Every (layer, direction)'s parameters in the ops' order: the torch.nn-named ones drawn as
        torch.nn draws them, and random layer-norm gains around one and biases around zero (not
        the initial ones and zeros, so that every gradient and the affine part are exercised)."""
        nn_params = flat_params(self.mode, input_size, hidden_size, num_layers, bias, bidirectional, 0, dtype, False)
        per_direction = 4 if bias else 2
        generator = generator or torch.Generator().manual_seed(input_size * 1000 + hidden_size)
        params: List[Tensor] = []
        for start in range(0, len(nn_params), per_direction):
            params += nn_params[start : start + per_direction]
            for name in self.layer_norm_names:
                size = hidden_size if name.startswith("ln_cell") else self.gates * hidden_size
                noise = 0.5 * torch.randn(size, generator=generator, dtype=torch.float64).to(dtype)
                params.append(noise + 1 if name.endswith("weight") else noise)
        return [p.detach().clone().requires_grad_(requires_grad) for p in params]

    def states(
        self, layers: int, batch: int, hidden_size: int, dtype: torch.dtype = torch.float64, requires_grad: bool = True
    ) -> List[Tensor]:
        """Random initial states, each ``(layers, batch, hidden_size)``."""
        return [
            torch.randn(layers, batch, hidden_size, dtype=dtype).requires_grad_(requires_grad)
            for _ in range(self.num_states)
        ]

    def hx(self, states: Sequence[Tensor]) -> State:
        """The state as the ops take it: the list [h, c], or h."""
        return list(states) if self.num_states == 2 else states[0]

    # --- the ops under test (states as a list; results as a tuple) ------------------------------------

    def op(self, suffix: str = ""):
        return getattr(torch.ops.torch_ext, self.name + suffix)

    def input(self, x: Tensor, states, params, *args, eps: float = EPS) -> Tuple[Tensor, ...]:
        """<name>.input; ``args``: has_biases, num_layers, dropout, train, bidirectional, batch_first."""
        return tuple(self.op().input(x, self.hx(states), list(params), *args, eps))

    def data(self, data: Tensor, batch_sizes: Tensor, states, params, *args, eps: float = EPS) -> Tuple[Tensor, ...]:
        """<name>.data; ``args``: has_biases, num_layers, dropout, train, bidirectional."""
        return tuple(self.op().data(data, batch_sizes, self.hx(states), list(params), *args, eps))

    def cell(self, x: Tensor, states, params, has_biases: bool = True, eps: float = EPS) -> Tuple[Tensor, ...]:
        result = self.op("_cell")(x, self.hx(states), list(params), has_biases, eps)
        return tuple(result) if self.num_states == 2 else (result,)

    def layer(self, x: Tensor, batch_sizes, states, params, has_biases, bidirectional, eps=EPS) -> Tuple[Tensor, ...]:
        return tuple(self.op("_layer")(x, batch_sizes, *states, list(params), has_biases, bidirectional, eps))

    # --- the reference (no dropout) ---------------------------------------------------------------------

    def reference_input(
        self, x, states, params, has_biases, num_layers, dropout, train, bidirectional, batch_first, eps=EPS
    ) -> Tuple[Tensor, ...]:
        assert dropout == 0 or not train, "the reference has no dropout"
        step = self.step(has_biases, eps)
        return reference_stack(step, x, None, list(states), list(params), num_layers, bidirectional, batch_first)

    def reference_data(
        self, data, batch_sizes, states, params, has_biases, num_layers, dropout, train, bidirectional, eps=EPS
    ) -> Tuple[Tensor, ...]:
        assert dropout == 0 or not train, "the reference has no dropout"
        step, sizes = self.step(has_biases, eps), batch_sizes.tolist()
        return reference_stack(step, data, sizes, list(states), list(params), num_layers, bidirectional)

    def reference_cell(self, x, states, params, has_biases=True, eps=EPS) -> Tuple[Tensor, ...]:
        return self.step(has_biases, eps)(x, tuple(states), list(params))

    def reference_layer(self, x, batch_sizes, states, params, has_biases, bidirectional, eps=EPS) -> Tuple[Tensor, ...]:
        sizes = batch_sizes.tolist() if batch_sizes is not None else None
        return reference_layer(self.step(has_biases, eps), x, sizes, list(states), list(params), bidirectional)


_LN = ("ln_ih_weight", "ln_ih_bias", "ln_hh_weight", "ln_hh_bias")
LAYER_NORM_LSTM = LayerNormRecurrence("layer_norm_lstm", "LSTM", 4, 2, _LN + ("ln_cell_weight", "ln_cell_bias"))
LAYER_NORM_GRU = LayerNormRecurrence("layer_norm_gru", "GRU", 3, 1, _LN)
LAYER_NORM_RECURRENCES = {family.name: family for family in (LAYER_NORM_LSTM, LAYER_NORM_GRU)}


# --- comparisons against the reference ---------------------------------------------------------------


def assert_close_to_reference(actual: Optional[Tensor], expected: Optional[Tensor], what: str) -> None:
    """``actual`` (float32 or float64) against the float64 reference. Layer norm divides by the
    rows' spread, so float32 rounding grows with the magnitudes: the absolute tolerance scales with
    the largest ``|expected|`` (float32: 1e-4 of it, and rtol 1e-4; float64: 1e-10)."""
    if expected is None:
        assert actual is None or not bool(actual.any()), f"{what}: expected no gradient"
        return
    assert actual is not None, f"{what}: missing"
    assert actual.shape == expected.shape, f"{what}: shape {tuple(actual.shape)}, expected {tuple(expected.shape)}"
    scale = max(1.0, expected.abs().max().item()) if expected.numel() else 1.0
    if actual.dtype == torch.float32:
        tolerance = dict(rtol=1e-4, atol=1e-4 * scale)
    else:
        tolerance = dict(rtol=1e-10, atol=1e-10 * scale)
    torch.testing.assert_close(actual.to(expected.dtype), expected, **tolerance, msg=lambda m: f"{what}: {m}")


def compare_with_reference(ours, reference, inputs: Sequence[Tensor], seed: int = 0) -> None:
    """``ours(*inputs)`` against ``reference`` on float64 copies of ``inputs``: every output, then
    the gradients of a random weighted sum of the outputs with respect to every input that
    requires grad. The reference runs on one thread (its many tiny ops would spend far longer
    waking a thread pool than computing); ours on the threads the caller set."""
    upcast = [t.detach().double().requires_grad_(t.requires_grad) for t in inputs]
    wanted = [index for index, t in enumerate(inputs) if t.requires_grad]
    generator = torch.Generator().manual_seed(seed)
    with intra_op_threads(1):
        expected = reference(*upcast)
        weights = [torch.randn(e.shape, dtype=torch.float64, generator=generator) for e in expected]
        grads_expected = torch.autograd.grad(expected, [upcast[i] for i in wanted], weights, allow_unused=True)
    actual = ours(*inputs)
    assert len(actual) == len(expected), f"{len(actual)} outputs, expected {len(expected)}"
    for index, (a, e) in enumerate(zip(actual, expected)):
        assert_close_to_reference(a, e, f"output[{index}]")
    grads_actual = torch.autograd.grad(
        actual, [inputs[i] for i in wanted], [w.to(a.dtype) for w, a in zip(weights, actual)], allow_unused=True
    )
    for index, a, e in zip(wanted, grads_actual, grads_expected):
        assert_close_to_reference(a, e, f"gradient of input {index}")


# --- CPU variants ----------------------------------------------------------------------------------------

# The compiled variants in ATen's order: a CPU runs the one ATen picks for it and those before it.
CPU_VARIANTS = ["default", "avx2", "avx512"]


def check_cpu_variant(capability: str, name: str) -> None:
    """In a fresh process with ATEN_CPU_CAPABILITY=`capability`, the op family `name` runs that
    variant of our kernels and matches the reference (this file run as a script). Skips a variant
    beyond the one ATen picks for this CPU (ATen trusts the variable without asking the CPU)."""
    best = torch.backends.cpu.get_cpu_capability().lower()
    if best not in CPU_VARIANTS or CPU_VARIANTS.index(capability) > CPU_VARIANTS.index(best):
        pytest.skip(f"this CPU runs {best}, not the {capability} variant")
    env = dict(os.environ, ATEN_CPU_CAPABILITY=capability)
    command = [sys.executable, os.path.abspath(__file__), name]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"capability {capability.upper()}, {name}: matches" in result.stdout, result.stdout


def compare_sequence(
    family: LayerNormRecurrence,
    kind: str,
    x: Tensor,
    states: Sequence[Tensor],
    params: Sequence[Tensor],
    *args,
    batch_sizes: Optional[Tensor] = None,
    eps: float = EPS,
) -> None:
    """:func:`compare_with_reference` of one op of ``family`` (``kind``: input, data, cell or layer)
    with its reference, on ``x``, ``states`` and ``params`` (each a tensor input of the comparison)
    and the op's other arguments ``args`` (``batch_sizes`` for data and layer)."""
    count = len(states)
    before = () if kind in ("input", "cell") else (batch_sizes,)

    def call(method: str):
        def run(x: Tensor, *tensors: Tensor) -> Tuple[Tensor, ...]:
            return getattr(family, method)(x, *before, list(tensors[:count]), list(tensors[count:]), *args, eps=eps)

        return run

    compare_with_reference(call(kind), call("reference_" + kind), [x, *states, *params])


def _check_variant(family: LayerNormRecurrence, dtype: torch.dtype) -> None:
    """A 2-layer bidirectional op over a PackedSequence, forward and backward; 45 hidden units end
    in a partial vector. (One thread: the threads' split of the units is the in-process tests'.)"""
    torch.manual_seed(0)
    lengths = [9, 7, 7, 3, 1]
    packed = torch.nn.utils.rnn.pack_sequence([torch.randn(n, 20, dtype=dtype) for n in lengths])
    data = packed.data.clone().requires_grad_()
    params = family.params(20, 45, 2, True, True, dtype)
    states = family.states(4, len(lengths), 45, dtype)
    compare_sequence(family, "data", data, states, params, True, 2, 0.0, False, True, batch_sizes=packed.batch_sizes)


if __name__ == "__main__":
    ours = torch.ops.torch_ext._cpu_capability()
    assert ours == torch.backends.cpu.get_cpu_capability(), (ours, torch.backends.cpu.get_cpu_capability())
    torch.set_num_threads(1)
    for name in sys.argv[1:]:
        for dtype in (torch.float32, torch.float64):
            _check_variant(LAYER_NORM_RECURRENCES[name], dtype)
        print(f"capability {ours}, {name}: matches its reference")
