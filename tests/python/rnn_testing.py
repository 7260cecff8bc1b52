"""Shared helpers for the recurrent-op tests: parameter lists in ATen's flat layout, a plain-PyTorch
reference of every recurrence, the op families that share the one-state signature (GRU in both
forms, vanilla RNNs), and comparisons of outputs and gradients against a reference."""

import contextlib
import functools
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from typing import Callable, Iterator, List, Optional, Sequence, Tuple, Union

import pytest
import torch
from torch import Tensor

# float32 results of our kernels and ATen's differ only by rounding order.
TOLERANCES = {torch.float32: dict(atol=1e-5, rtol=1e-5), torch.float64: dict(atol=1e-10, rtol=1e-10)}


def flat_params(
    mode: str,
    input_size: int,
    hidden_size: int,
    num_layers: int = 1,
    bias: bool = True,
    bidirectional: bool = False,
    proj_size: int = 0,
    dtype: torch.dtype = torch.float64,
    requires_grad: bool = True,
) -> List[Tensor]:
    """Random parameters in the _flat_weights order of nn.RNNBase of `mode` ("LSTM", "GRU",
    "RNN_TANH", "RNN_RELU"), drawn as the torch.nn module initialises them."""
    module = torch.nn.RNNBase(
        mode, input_size, hidden_size, num_layers, bias, bidirectional=bidirectional, proj_size=proj_size, dtype=dtype
    )
    return [p.detach().clone().requires_grad_(requires_grad) for p in module._flat_weights]


# Random parameters in nn.LSTM's _flat_weights order, drawn as nn.LSTM initialises them.
lstm_flat_params = functools.partial(flat_params, "LSTM")


def assert_close_all(actual: Sequence[Optional[Tensor]], expected: Sequence[Optional[Tensor]], what: str) -> None:
    assert len(actual) == len(expected), f"{what}: {len(actual)} results, expected {len(expected)}"
    for index, (a, e) in enumerate(zip(actual, expected)):
        if e is None:
            assert a is None or bool((a == 0).all()), f"{what}[{index}]: expected no gradient"
            continue
        assert a is not None, f"{what}[{index}]: missing"
        torch.testing.assert_close(a, e, **TOLERANCES[e.dtype], msg=lambda m: f"{what}[{index}]: {m}")


def compare_with_gradients(
    ours: Callable[..., Tuple[Tensor, ...]],
    reference: Callable[..., Tuple[Tensor, ...]],
    inputs: Sequence[Tensor],
    seed: int = 0,
    threads: Optional[int] = None,
) -> None:
    """Runs both functions on the same inputs, compares every output, then every gradient of a
    random weighted sum of the outputs with respect to every input that requires grad. With
    `threads`, ours runs (forward and backward) on that many intra-op threads, the reference on one."""
    differentiable = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    with intra_op_threads(1) if threads else contextlib.nullcontext():
        expected = reference(*inputs)
        expected = (expected,) if isinstance(expected, Tensor) else expected
        generator = torch.Generator().manual_seed(seed)
        weights = [torch.randn(e.shape, dtype=e.dtype, generator=generator) for e in expected]
        grads_expected = torch.autograd.grad(expected, differentiable, weights, allow_unused=True)
    with intra_op_threads(threads) if threads else contextlib.nullcontext():
        actual = ours(*inputs)
        actual = (actual,) if isinstance(actual, Tensor) else actual
        grads_actual = torch.autograd.grad(actual, differentiable, weights, allow_unused=True)
    assert_close_all(actual, expected, "output")
    assert_close_all(grads_actual, grads_expected, "gradient")


# --- a plain-PyTorch reference of every recurrence ----------------------------------------------------
#
# A step maps (the rows of x at one time step, the states of those rows, one direction's weights
# [w_ih, w_hh, (b_ih, b_hh), (w_hr)]) to the new states; the first new state is the step's output.
Step = Callable[[Tensor, Tuple[Tensor, ...], Sequence[Tensor]], Tuple[Tensor, ...]]


def _affine(x: Tensor, weight: Tensor, bias: Optional[Tensor]) -> Tensor:
    return x @ weight.t() if bias is None else x @ weight.t() + bias


def _biases(weights: Sequence[Tensor]) -> Tuple[Optional[Tensor], Optional[Tensor]]:
    return (weights[2], weights[3]) if len(weights) >= 4 else (None, None)


def lstm_step(x: Tensor, states: Tuple[Tensor, ...], weights: Sequence[Tensor]) -> Tuple[Tensor, ...]:
    """nn.LSTM (gates i, f, g, o), with weight_hr when `weights` holds 3 or 5 tensors."""
    h, c = states
    b_ih, b_hh = _biases(weights)
    gates = _affine(x, weights[0], b_ih) + _affine(h, weights[1], b_hh)
    i, f, g, o = gates.chunk(4, dim=1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h = torch.sigmoid(o) * torch.tanh(c)
    if len(weights) in (3, 5):
        h = h @ weights[-1].t()
    return h, c


def gru_step(reset_after: bool) -> Step:
    """nn.GRU (gates r, z, n) when reset_after; else the original GRU, whose reset gate scales the
    state before its product: n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn)."""

    def step(x: Tensor, states: Tuple[Tensor, ...], weights: Sequence[Tensor]) -> Tuple[Tensor, ...]:
        (h,) = states
        b_ih, b_hh = _biases(weights)
        x_r, x_z, x_n = _affine(x, weights[0], b_ih).chunk(3, dim=1)
        w_hr, w_hz, w_hn = weights[1].chunk(3, dim=0)
        b_hr, b_hz, b_hn = b_hh.chunk(3) if b_hh is not None else (None, None, None)
        r = torch.sigmoid(x_r + _affine(h, w_hr, b_hr))
        z = torch.sigmoid(x_z + _affine(h, w_hz, b_hz))
        if reset_after:
            n = torch.tanh(x_n + r * _affine(h, w_hn, b_hn))
        else:
            n = torch.tanh(x_n + _affine(r * h, w_hn, b_hn))
        return ((1 - z) * n + z * h,)

    return step


def rnn_step(activation: Callable[[Tensor], Tensor]) -> Step:
    """nn.RNN: h' = act(W_ih x + b_ih + W_hh h + b_hh)."""

    def step(x: Tensor, states: Tuple[Tensor, ...], weights: Sequence[Tensor]) -> Tuple[Tensor, ...]:
        (h,) = states
        b_ih, b_hh = _biases(weights)
        return (activation(_affine(x, weights[0], b_ih) + _affine(h, weights[1], b_hh)),)

    return step


def reference_direction(
    step: Step,
    rows: Tensor,
    batch_sizes: Sequence[int],
    states: Tuple[Tensor, ...],
    weights: Sequence[Tensor],
    reverse: bool,
) -> Tuple[Tensor, Tuple[Tensor, ...]]:
    """One direction of one layer over packed time-major rows (step t's batch_sizes[t] rows follow
    step t-1's; a padded [T, B, ·] input is the case of equal sizes). Each sequence's final state
    is the one after its own last step; the reverse direction starts each from its last step.
    Returns the output rows and the final states, each [B, ·]."""
    offsets = [0]
    for size in batch_sizes:
        offsets.append(offsets[-1] + size)
    running = [list(state.unbind(0)) for state in states]

    def stacked(k: int, n: int) -> Tensor:  # the first n rows of running state k (n may be 0)
        return torch.stack(running[k][:n]) if n else states[k][:0]

    outputs: List[Optional[Tensor]] = [None] * len(batch_sizes)
    for t in reversed(range(len(batch_sizes))) if reverse else range(len(batch_sizes)):
        n = batch_sizes[t]
        previous = tuple(stacked(k, n) for k in range(len(running)))
        new_states = step(rows[offsets[t] : offsets[t] + n], previous, weights)
        for state, new_state in zip(running, new_states):
            state[:n] = new_state.unbind(0)
        outputs[t] = new_states[0]
    return torch.cat(outputs), tuple(stacked(k, len(running[k])) for k in range(len(running)))


def reference_layer(
    step: Step,
    x: Tensor,
    batch_sizes: Optional[Sequence[int]],
    states: Sequence[Tensor],
    params: Sequence[Tensor],
    bidirectional: bool,
) -> Tuple[Tensor, ...]:
    """A layer op (lstm_layer, gru_layer, rnn_layer): x [T, B, I], or packed [N, I] with
    batch_sizes; each state [D, B, ·]; the layer's params. Returns (output, *final states)."""
    D = 2 if bidirectional else 1
    per_direction = len(params) // D
    sizes = [int(n) for n in batch_sizes] if batch_sizes is not None else [x.shape[1]] * x.shape[0]
    rows = x if batch_sizes is not None else x.flatten(0, 1)
    results = [
        reference_direction(
            step,
            rows,
            sizes,
            tuple(state[d] for state in states),
            params[d * per_direction : (d + 1) * per_direction],
            reverse=d == 1,
        )
        for d in range(D)
    ]
    output = torch.cat([output for output, _ in results], dim=1)
    if batch_sizes is None:
        output = output.reshape(x.shape[0], x.shape[1], output.shape[-1])
    return (output, *(torch.stack([finals[k] for _, finals in results]) for k in range(len(states))))


def reference_stack(
    step: Step,
    x: Tensor,
    batch_sizes: Optional[Sequence[int]],
    states: Sequence[Tensor],
    params: Sequence[Tensor],
    num_layers: int,
    bidirectional: bool,
    batch_first: bool = False,
) -> Tuple[Tensor, ...]:
    """A multi-layer public op without dropout: .input (x padded; [B, T, I] when batch_first) or,
    with batch_sizes, .data. Returns (output, *final states of every layer)."""
    D = 2 if bidirectional else 1
    per_layer = len(params) // num_layers
    layer_input = x.transpose(0, 1) if batch_first else x
    finals: List[List[Tensor]] = [[] for _ in states]
    for layer in range(num_layers):
        output, *layer_finals = reference_layer(
            step,
            layer_input,
            batch_sizes,
            [state[layer * D : (layer + 1) * D] for state in states],
            params[layer * per_layer : (layer + 1) * per_layer],
            bidirectional,
        )
        for collected, final in zip(finals, layer_finals):
            collected.append(final)
        layer_input = output
    output = layer_input.transpose(0, 1) if batch_first else layer_input
    return (output, *(torch.cat(collected) for collected in finals))


# --- the op families of one state h --------------------------------------------------------------------


@dataclass(frozen=True)
class Recurrence:
    """A recurrence with one state h and its torch_ext ops: <name>.input, <name>.data and
    <name>_cell (ATen's signatures), and the layer op <layer_name>(..., layer_mode)."""

    name: str  # gru, gru_reset_before, rnn_tanh, rnn_relu
    mode: str  # the nn.RNNBase mode whose parameters it takes
    layer_name: str
    layer_mode: Union[bool, str]  # gru_layer's reset_after, rnn_layer's nonlinearity
    step: Step
    aten_name: str  # the ATen op of the same signature: torch.<aten_name>, torch.<aten_name>_cell

    @property
    def matches_aten(self) -> bool:
        """ATen's op computes the same function (the reset-before GRU has none)."""
        return self.aten_name == self.name

    def __str__(self) -> str:
        return self.name

    @property
    def gates(self) -> int:
        return 3 if self.mode == "GRU" else 1

    def params(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        bidirectional: bool = False,
        dtype: torch.dtype = torch.float64,
        requires_grad: bool = True,
    ) -> List[Tensor]:
        """Random parameters in the _flat_weights order of the torch.nn module of this mode."""
        return flat_params(self.mode, input_size, hidden_size, num_layers, bias, bidirectional, 0, dtype, requires_grad)

    # The ops under test.
    def op(self, suffix: str = ""):
        return getattr(torch.ops.torch_ext, self.name + suffix)

    def sequence(self, *args) -> Tuple[Tensor, Tensor]:
        """<name>.input(input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first)"""
        return self.op().input(*args)

    def packed(self, *args) -> Tuple[Tensor, Tensor]:
        """<name>.data(data, batch_sizes, hx, params, has_biases, num_layers, dropout, train, bidirectional)"""
        return self.op().data(*args)

    def cell(self, *args) -> Tensor:
        """<name>_cell(input, hx, w_ih, w_hh, b_ih, b_hh)"""
        return self.op("_cell")(*args)

    def layer(self, input, batch_sizes, hx, params, has_biases, bidirectional) -> Tuple[Tensor, Tensor]:
        """<layer_name>(input, batch_sizes, hx, params, has_biases, bidirectional, layer_mode)"""
        layer_op = getattr(torch.ops.torch_ext, self.layer_name)
        return layer_op(input, batch_sizes, hx, list(params), has_biases, bidirectional, self.layer_mode)

    # References: ATen's op where there is one, else the plain-PyTorch recurrence.
    def plain_sequence(self, x, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first):
        assert dropout == 0 or not train, "the plain reference has no dropout"
        return reference_stack(self.step, x, None, [hx], list(params), num_layers, bidirectional, batch_first)

    def plain_packed(self, data, batch_sizes, hx, params, has_biases, num_layers, dropout, train, bidirectional):
        assert dropout == 0 or not train, "the plain reference has no dropout"
        return reference_stack(self.step, data, batch_sizes.tolist(), [hx], list(params), num_layers, bidirectional)

    def plain_cell(self, x, hx, w_ih, w_hh, b_ih=None, b_hh=None) -> Tensor:
        weights = [w_ih, w_hh] if b_ih is None and b_hh is None else [w_ih, w_hh, b_ih, b_hh]
        weights = [w if w is not None else torch.zeros_like(w_hh[:, 0]) for w in weights]
        return self.step(x, (hx,), weights)[0]

    def plain_layer(self, input, batch_sizes, hx, params, has_biases, bidirectional) -> Tuple[Tensor, Tensor]:
        sizes = batch_sizes.tolist() if batch_sizes is not None else None
        return reference_layer(self.step, input, sizes, [hx], list(params), bidirectional)

    def reference_sequence(self, *args):
        return getattr(torch, self.name)(*args) if self.matches_aten else self.plain_sequence(*args)

    def reference_packed(self, *args):
        return getattr(torch, self.name)(*args) if self.matches_aten else self.plain_packed(*args)

    def reference_cell(self, *args) -> Tensor:
        return getattr(torch, self.name + "_cell")(*args) if self.matches_aten else self.plain_cell(*args)


GRU = Recurrence("gru", "GRU", "gru_layer", True, gru_step(reset_after=True), aten_name="gru")
GRU_RESET_BEFORE = Recurrence(
    "gru_reset_before", "GRU", "gru_layer", False, gru_step(reset_after=False), aten_name="gru"
)
RNN_TANH = Recurrence("rnn_tanh", "RNN_TANH", "rnn_layer", "tanh", rnn_step(torch.tanh), aten_name="rnn_tanh")
RNN_RELU = Recurrence("rnn_relu", "RNN_RELU", "rnn_layer", "relu", rnn_step(torch.relu), aten_name="rnn_relu")
RECURRENCES = {family.name: family for family in (GRU, GRU_RESET_BEFORE, RNN_TANH, RNN_RELU)}


# --- runs at sizes of the kernel tests ------------------------------------------------------------------


@contextlib.contextmanager
def intra_op_threads(threads: int) -> Iterator[None]:
    """torch.set_num_threads(threads) for the duration of the block."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def useful_team_size(gates: int, batch: int, hidden_size: int) -> int:
    """The threads one direction's recurrence takes at most (csrc/kernels/team.h useful_team_size of
    recurrence.h's per-step work 2·B·G·H·H): one per 2^18 flops of a step's W_hh product, no more
    than the 32-unit blocks of the hidden units."""
    blocks = -(-hidden_size // 32)
    return max(1, min(2 * batch * gates * hidden_size * hidden_size // (1 << 18), blocks))


def batch_for_two_threads(gates: int, hidden_size: int) -> int:
    """The smallest batch whose per-step work is worth two threads to a direction."""
    batch = 1
    while useful_team_size(gates, batch, hidden_size) < 2:
        batch += 1
    return batch


def compare_recurrence_with_reference(
    family: Recurrence,
    steps: int,
    batch: int,
    input_size: int,
    hidden_size: int,
    bidirectional: bool,
    packed: bool,
    dtype: torch.dtype,
    threads: int,
    num_layers: int = 2,
) -> None:
    """<family>.input over [steps, batch, input_size], or <family>.data over `batch` sequences of
    lengths falling from `steps` to about steps / 3, on `threads` intra-op threads, against the
    family's reference: values and every gradient."""
    torch.manual_seed(0)
    D = 2 if bidirectional else 1
    params = family.params(input_size, hidden_size, num_layers, True, bidirectional, dtype)
    h0 = torch.randn(num_layers * D, batch, hidden_size, dtype=dtype, requires_grad=True)
    if packed:
        lengths = torch.linspace(steps, max(1, steps // 3), batch).round().long().tolist()
        sequences = torch.nn.utils.rnn.pack_sequence([torch.randn(n, input_size, dtype=dtype) for n in lengths])
        x, batch_sizes = sequences.data.clone().requires_grad_(), sequences.batch_sizes
        args = (True, num_layers, 0.0, False, bidirectional)
        ours = lambda x, h0, *p: family.packed(x, batch_sizes, h0, list(p), *args)  # noqa: E731
        reference = lambda x, h0, *p: family.reference_packed(x, batch_sizes, h0, list(p), *args)  # noqa: E731
    else:
        x = torch.randn(steps, batch, input_size, dtype=dtype, requires_grad=True)
        args = (True, num_layers, 0.0, False, bidirectional, False)
        ours = lambda x, h0, *p: family.sequence(x, h0, list(p), *args)  # noqa: E731
        reference = lambda x, h0, *p: family.reference_sequence(x, h0, list(p), *args)  # noqa: E731
    compare_with_gradients(ours, reference, [x, h0, *params], threads=threads)


# --- properties measured outside the values --------------------------------------------------------


def autograd_graph_size(output: Tensor) -> int:
    """How many autograd nodes produce `output`."""
    seen, stack = set(), [output.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        stack.extend(next_node for next_node, _ in node.next_functions)
    return len(seen)


_LONG_SEQUENCE_SCRIPT = textwrap.dedent(
    """
    import resource, sys, torch, torch_ext
    name, mode = sys.argv[1], sys.argv[2]
    torch.manual_seed(0)
    params = [p.detach().requires_grad_() for p in torch.nn.RNNBase(mode, 8, 16)._flat_weights]

    def train(steps):
        x = torch.randn(steps, 2, 8, requires_grad=True)
        hx = torch.zeros(1, 2, 16)
        hx = [hx, hx] if mode == "LSTM" else hx
        outputs = getattr(torch.ops.torch_ext, name).input(x, hx, params, True, 1, 0.0, True, False, False)
        sum(output.sum() for output in outputs).backward()
        assert torch.isfinite(x.grad).all()

    train(10)  # loads what a first call loads
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for steps in map(int, sys.argv[3:]):
        train(steps)
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - baseline)
    """
)


def assert_memory_linear_in_length(name: str, mode: str, short: int = 5_000, long: int = 20_000) -> None:
    """torch_ext.<name>.input trains (forward + backward) on a `long`-step sequence in a fresh
    process; its peak memory grows about as the length does, never quadratically. Peak memory is
    the high-water mark of the process, so the shorter sequence runs first."""
    result = subprocess.run(
        [sys.executable, "-c", _LONG_SEQUENCE_SCRIPT, name, mode, str(short), str(long)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    short_kib, long_kib = (int(line) for line in result.stdout.split())
    # `long / short` times the steps: about as much more memory (the saved gates and outputs).
    assert long_kib < 1.5 * (long / short) * max(short_kib, 1024), (short_kib, long_kib)


# --- CPU variants of the kernels ---------------------------------------------------------------------


def _cpu_flags() -> set:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


# ATen trusts ATEN_CPU_CAPABILITY without asking the CPU: only request what this CPU runs.
_CAPABILITY_NEEDS = {
    "default": set(),
    "avx2": {"avx2", "fma"},
    "avx512": {"avx512f", "avx512bw", "avx512vl", "avx512dq"},
}
CPU_CAPABILITIES = list(_CAPABILITY_NEEDS)


def check_cpu_variant(capability: str, *names: str) -> None:
    """ATEN_CPU_CAPABILITY selects the compiled variant our kernels run (csrc/kernels/dispatch.cpp):
    in a fresh process under `capability`, the ops `names` run that variant and match their
    reference, forward and backward (kernels/variant_check.py). Skips what this CPU cannot run."""
    if not _CAPABILITY_NEEDS[capability] <= _cpu_flags():
        pytest.skip(f"this CPU cannot run the {capability} variant")
    helper = os.path.join(os.path.dirname(__file__), "kernels", "variant_check.py")
    env = dict(os.environ, ATEN_CPU_CAPABILITY=capability)
    result = subprocess.run([sys.executable, helper, *names], capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in names:
        assert f"{name}: matches" in result.stdout, result.stdout
