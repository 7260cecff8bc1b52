"""What the reliability tests (tests/python/reliability/) share: every module of
:mod:`recurrent_modules` built at given sizes, a reference for each (its ``torch.nn`` namesake with
the same weights, or the plain-PyTorch recurrences of :mod:`rnn_testing` and
:mod:`layer_norm_rnn_testing`), and one forward and backward pass that returns every output and
gradient as a flat list of tensors.

A module is run with ``torch.autograd.grad`` (never ``.backward()``), so that several threads can
run one shared module at once without racing on the parameters' ``.grad``.
"""

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import pytest
import torch
from layer_norm_rnn_testing import LAYER_NORM_GRU, LAYER_NORM_LSTM, LayerNormRecurrence
from recurrent_modules import CELL_MODULES, SEQUENCE_MODULES, RecurrentModule
from rnn_testing import GRU, GRU_RESET_BEFORE, RNN_RELU, RNN_TANH, Step, lstm_step, reference_stack
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence

import torch_ext


# The layer-normalised families of the plain-PyTorch reference, by module name.
LAYER_NORM_FAMILIES: Dict[str, LayerNormRecurrence] = {
    "LayerNormLSTM": LAYER_NORM_LSTM,
    "LayerNormGRU": LAYER_NORM_GRU,
    "LayerNormLSTMCell": LAYER_NORM_LSTM,
    "LayerNormGRUCell": LAYER_NORM_GRU,
}


@dataclass(frozen=True)
class Variant:
    """A module of :mod:`recurrent_modules` with constructor options (``kwargs``; ``projected``
    adds ``proj_size=hidden_size // 2``) and the input it reads: ``"padded"`` (time-major),
    ``"packed"`` (a PackedSequence of unsorted lengths), or ``"step"`` for a cell
    (``(batch, input_size)``)."""

    module: RecurrentModule
    kwargs: Tuple[Tuple[str, Any], ...] = ()
    input: str = "padded"
    projected: bool = False

    @property
    def id(self) -> str:
        options = [f"{key}={value}" for key, value in self.kwargs] + (["proj_size=H/2"] if self.projected else [])
        return "-".join([self.module.id, *options, *([self.input] if self.input == "packed" else [])])

    @property
    def bidirectional(self) -> bool:
        return bool(dict(self.kwargs).get("bidirectional", False))

    @property
    def is_cell(self) -> bool:
        return self.input == "step"

    @property
    def num_states(self) -> int:
        return 2 if "LSTM" in self.module.name else 1


def sequence_variants(spec: RecurrentModule) -> List[Variant]:
    """One layer; two bidirectional layers; packed input (bidirectional); LSTM with proj_size."""
    variants = [
        Variant(spec),
        Variant(spec, (("num_layers", 2), ("bidirectional", True))),
        Variant(spec, (("bidirectional", True),), "packed"),
    ]
    if spec.name == "LSTM":
        variants.append(Variant(spec, projected=True))
    return variants


def parametrize(variants: Sequence[Variant], *extra: Any) -> Any:
    """``pytest.mark.parametrize("variant", ...)`` over ``variants`` (skipped while torch_ext lacks
    the module), plus the ``extra`` values (e.g. "LayerNorm") as they are."""
    params = [
        pytest.param(
            variant,
            id=variant.id,
            marks=pytest.mark.skipif(not variant.module.available, reason=f"no torch_ext.{variant.module.name}"),
        )
        for variant in variants
    ]
    return pytest.mark.parametrize("variant", params + list(extra))


# Every module family and form the reliability tests cover.
SEQUENCE_VARIANTS: List[Variant] = [variant for spec in SEQUENCE_MODULES for variant in sequence_variants(spec)]
CELL_VARIANTS: List[Variant] = [Variant(spec, (), "step") for spec in CELL_MODULES]


@dataclass
class Built:
    """A module built for a test, with the constructor arguments its reference needs."""

    variant: Variant
    module: nn.Module
    args: Tuple[Any, ...]
    kwargs: Dict[str, Any] = field(default_factory=dict)

    @property
    def dtype(self) -> torch.dtype:
        return next(self.module.parameters()).dtype

    def reference(self) -> nn.Module:
        """The module computed another way (:func:`reference_of`)."""
        return reference_of(self)


def build(
    variant: Variant, input_size: int, hidden_size: int, dtype: torch.dtype = torch.float32, seed: int = 0
) -> Built:
    """``variant``'s module, seeded; the ``ln_*`` gains and biases are moved off one and zero so
    that the affine part of every layer norm counts."""
    torch.manual_seed(seed)
    kwargs = dict(variant.kwargs, dtype=dtype)
    if variant.projected:
        kwargs["proj_size"] = hidden_size // 2
    module = variant.module.build(input_size, hidden_size, **kwargs)
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, parameter in module.named_parameters():
            if name.startswith("ln_"):
                noise = 0.3 * torch.randn(parameter.shape, generator=generator, dtype=torch.float64)
                parameter.add_(noise.to(dtype))
    return Built(variant, module, (input_size, hidden_size), kwargs)


def make_input(built: Built, steps: int, batch: int, generator: torch.Generator) -> Union[Tensor, PackedSequence]:
    """A random input for ``built``'s module whose data tensor requires grad: ``(steps, batch,
    input_size)``, a PackedSequence of ``batch`` unsorted lengths from ``steps // 2`` to ``steps``
    (one of ``steps``), or ``(batch, input_size)`` for a cell."""
    input_size, dtype = built.args[0], built.dtype
    if built.variant.is_cell:
        return torch.randn(batch, input_size, generator=generator, dtype=dtype).requires_grad_()
    if built.variant.input == "packed":
        lengths = torch.randint(max(1, steps // 2), steps + 1, (batch,), generator=generator)
        lengths[0] = steps
        lengths = lengths[torch.randperm(batch, generator=generator)].tolist()
        sequences = [torch.randn(n, input_size, generator=generator, dtype=dtype) for n in lengths]
        packed = nn.utils.rnn.pack_sequence(sequences, enforce_sorted=False)
        return PackedSequence(
            packed.data.requires_grad_(), packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices
        )
    return torch.randn(steps, batch, input_size, generator=generator, dtype=dtype).requires_grad_()


def input_leaf(x: Union[Tensor, PackedSequence]) -> Tensor:
    return x.data if isinstance(x, PackedSequence) else x


def flat_tensors(result: Any) -> List[Tensor]:
    """Every floating tensor of a nest of tuples, lists and PackedSequences, in order."""
    if isinstance(result, PackedSequence):
        return [result.data]
    if isinstance(result, (tuple, list)):
        return [tensor for item in result for tensor in flat_tensors(item)]
    return [result] if isinstance(result, Tensor) else []


def random_cotangents(outputs: Sequence[Tensor], seed: int = 0) -> List[Tensor]:
    """Random weights, one tensor per output, of a weighted sum that a backward pass starts from."""
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(o.shape, generator=generator, dtype=o.dtype) for o in outputs]


def forward_backward(
    module: Callable[..., Any],
    x: Union[Tensor, PackedSequence],
    state: Any = None,
    seed: int = 0,
    cotangents: Optional[Sequence[Tensor]] = None,
    module_params: Optional[Sequence[Tensor]] = None,
) -> List[Tensor]:
    """The module's outputs, then the gradients of a weighted sum of them (the ``cotangents``, or
    :func:`random_cotangents` of ``seed``) with respect to the input, the state (when given) and
    every parameter (``module_params``, or the module's; ``torch.autograd.grad``: no ``.grad`` is
    written)."""
    outputs = flat_tensors(module(x) if state is None else module(x, state))
    weights = random_cotangents(outputs, seed) if cotangents is None else list(cotangents)
    params = list(module.parameters()) if module_params is None else list(module_params)
    leaves = [input_leaf(x), *flat_tensors(state), *params]
    gradients = torch.autograd.grad(outputs, leaves, weights, allow_unused=True)
    gradients = [g if g is not None else torch.zeros_like(leaf) for g, leaf in zip(gradients, leaves)]
    return [o.detach() for o in outputs] + gradients


def output_count(built: Built) -> int:
    """How many tensors the module returns: ``output`` and the final states, or a cell's states."""
    return built.variant.num_states + (0 if built.variant.is_cell else 1)


def result_names(built: Built, state_given: bool = False) -> List[str]:
    """Names of what :func:`forward_backward` returns, for messages."""
    module = built.module
    if built.variant.is_cell:
        outputs = ["h'", "c'"][: built.variant.num_states]
    else:
        outputs = ["output", "h_n", "c_n"][: 1 + built.variant.num_states]
    states = ["h_0", "c_0"][: built.variant.num_states] if state_given else []
    return (
        outputs
        + ["grad of input"]
        + [f"grad of {name}" for name in states]
        + [f"grad of {name}" for name, _ in module.named_parameters()]
    )


# --- references -------------------------------------------------------------------------------


class PlainReference(nn.Module):
    """A plain-PyTorch function of ``(input, state=None)`` over ``module``'s own parameters, as a
    module whose ``parameters()`` are those (in the same order)."""

    def __init__(self, module: nn.Module, function: Callable[..., Any]) -> None:
        super().__init__()
        self.inner = module
        self.function = function

    def forward(self, x: Tensor, state: Any = None) -> Any:
        return self.function(x, state)


def reference_of(built: Built) -> nn.Module:
    """``built``'s module computed another way, with the module's results and its parameters in
    the same order: its ``torch.nn`` namesake with the same weights, or (the reset-before GRU and
    the layer-normalised modules, which torch.nn lacks) a plain-PyTorch recurrence on the module's
    own parameters (:class:`PlainReference`). Padded input and cells only."""
    variant, module = built.variant, built.module
    assert variant.input != "packed", "the plain references take padded input"
    if variant.module.reference is not None:
        reference = variant.module.build_reference(*built.args, **built.kwargs)
        reference.load_state_dict(module.state_dict())
        return reference
    return PlainReference(module, _plain_cell(built)) if variant.is_cell else plain_reference(built)


def _zero_states(built: Built, x: Tensor) -> List[Tensor]:
    module = built.module
    layers = module.num_layers * (2 if module.bidirectional else 1)
    batch = x.shape[0 if module.batch_first else 1]
    h_size = getattr(module, "proj_size", 0) or module.hidden_size
    sizes = [h_size, module.hidden_size][: built.variant.num_states]
    return [x.new_zeros(layers, batch, size) for size in sizes]


# The plain-PyTorch step of each family of torch.nn's (LSTM with or without projection), by
# module name and options.
def _plain_step(built: Built) -> Step:
    spec, module = built.variant.module, built.module
    family = LAYER_NORM_FAMILIES.get(spec.name)
    if family is not None:
        return family.step(module.bias, module.eps)
    if spec.name == "LSTM":
        return lstm_step
    if spec.name == "GRU":
        return GRU_RESET_BEFORE.step if not getattr(module, "reset_after", True) else GRU.step
    return RNN_RELU.step if module.nonlinearity == "relu" else RNN_TANH.step


def plain_reference(built: Built) -> nn.Module:
    """``built``'s multi-layer module as a plain-PyTorch recurrence (of rnn_testing or
    layer_norm_rnn_testing) over its own parameters, for padded input without dropout."""
    module, step = built.module, _plain_step(built)

    def run(x: Tensor, state: Any = None) -> Tuple[Tensor, Any]:
        states = flat_tensors(state) if state is not None else _zero_states(built, x)
        weights = list(module._flat_weights)
        layers, bidirectional, batch_first = module.num_layers, module.bidirectional, module.batch_first
        output, *finals = reference_stack(step, x, None, states, weights, layers, bidirectional, batch_first)
        return output, (tuple(finals) if len(finals) == 2 else finals[0])

    return PlainReference(module, run)


def _plain_cell(built: Built) -> Callable[..., Any]:
    module = built.module
    family = LAYER_NORM_FAMILIES.get(built.variant.module.name)

    def run(x: Tensor, state: Any = None) -> Any:
        states = flat_tensors(state) if state is not None else [
            x.new_zeros(x.shape[0], module.hidden_size) for _ in range(built.variant.num_states)
        ]
        if family is not None:
            result = family.reference_cell(x, states, list(module.parameters()), module.bias, module.eps)
            return tuple(result) if len(result) == 2 else result[0]
        weights = (module.weight_ih, module.weight_hh, module.bias_ih, module.bias_hh)
        return GRU_RESET_BEFORE.plain_cell(x, states[0], *weights)

    return run


def assert_close_scaled(actual: Tensor, expected: Tensor, what: str, rtol: float = 1e-5) -> None:
    """``actual`` against ``expected`` (NaN where it is NaN), with an absolute tolerance of
    ``rtol`` times the largest finite magnitude of ``expected``: sums of large terms round in
    proportion to the terms, not to the result."""
    assert actual.shape == expected.shape, f"{what}: shape {tuple(actual.shape)}, expected {tuple(expected.shape)}"
    finite = expected[torch.isfinite(expected)]
    scale = max(1.0, finite.abs().max().item()) if finite.numel() else 1.0
    torch.testing.assert_close(
        actual, expected.to(actual.dtype), rtol=rtol, atol=rtol * scale, equal_nan=True, msg=lambda m: f"{what}: {m}"
    )


def sampled_rows(tensor: Tensor, stride: int = 37) -> Tensor:
    """Every ``stride``-th row of a tensor seen as a matrix of its last dimension's rows, and its
    last row (where an overflowing index would go wrong first)."""
    matrix = tensor.reshape(-1, tensor.shape[-1]) if tensor.dim() > 0 else tensor.reshape(1, 1)
    rows = torch.cat([torch.arange(0, matrix.shape[0], stride), torch.tensor([matrix.shape[0] - 1])])
    return matrix[rows]


def assert_close_sampled(actual: Tensor, expected: Tensor, what: str, rtol: float = 1e-5) -> None:
    """:func:`assert_close_scaled` on :func:`sampled_rows` of both, and every value of ``actual``
    finite: for tensors of tens of millions of values, which torch.testing takes seconds over."""
    assert actual.shape == expected.shape, f"{what}: shape {tuple(actual.shape)}, expected {tuple(expected.shape)}"
    assert bool(torch.isfinite(actual.sum())), f"{what}: not finite"
    assert_close_scaled(sampled_rows(actual), sampled_rows(expected), what + " (sampled rows)", rtol=rtol)


# --- sizes at which the kernels split the work between threads --------------------------------------

# Every family's recurrence gets a team of two threads per direction at these sizes (csrc/kernels/
# team.h: 2·B·G·H² ≥ 2^19 flops per step, two 32-unit blocks, ≥ 2^21 flops per team), a cell too
# (one step of CELL_BATCH rows); LAYER_NORM_ROWS × LAYER_NORM_FEATURES spreads over row blocks.
THREADED_INPUT_SIZE, THREADED_HIDDEN_SIZE, THREADED_STEPS, THREADED_BATCH, CELL_BATCH = 32, 64, 8, 64, 256
LAYER_NORM_ROWS, LAYER_NORM_FEATURES = 512, 256


def gates_of(variant: Variant) -> int:
    name = variant.module.name
    return 4 if "LSTM" in name else 3 if "GRU" in name else 1


def threads_used(variant: Variant, rows: int, available: int = 2) -> int:
    """How many threads a layer of ``variant`` runs on at the THREADED sizes, over ``rows`` rows
    of input (all steps' batch rows), with ``available`` intra-op threads, by csrc/kernels/team.h's
    rules: a direction's work (2·rows·G·H·R flops) below 2^21 stays on the calling thread; else a
    team per direction, of up to one thread per 2^18 flops of a step's product and per 32-unit
    block of hidden units (the directions of a bidirectional layer run at once, sharing the
    threads)."""
    batch = CELL_BATCH if variant.is_cell else THREADED_BATCH
    hidden = THREADED_HIDDEN_SIZE
    state = hidden // 2 if variant.projected else hidden
    gates = gates_of(variant)
    if 2 * rows * gates * hidden * state < (1 << 21):
        return 1
    teams = 2 if variant.bidirectional else 1
    useful = max(1, min(2 * batch * gates * hidden * state >> 18, -(-hidden // 32)))
    team_size = max(1, min(useful, available // teams))
    return min(teams, max(1, available // team_size)) * team_size


def build_threaded(variant: Variant, dtype: torch.dtype = torch.float32, seed: int = 0) -> Built:
    return build(variant, THREADED_INPUT_SIZE, THREADED_HIDDEN_SIZE, dtype, seed)


def threaded_input(built: Built, seed: int) -> Union[Tensor, PackedSequence]:
    """An input of the THREADED sizes; asserts that the kernels split it between 2 threads."""
    batch = CELL_BATCH if built.variant.is_cell else THREADED_BATCH
    x = make_input(built, THREADED_STEPS, batch, torch.Generator().manual_seed(seed))
    rows = input_leaf(x).shape[0] * (1 if isinstance(x, PackedSequence) or built.variant.is_cell else batch)
    assert threads_used(built.variant, rows) == 2, f"{built.variant.id} would run on one thread"
    return x


def layer_norm_input(seed: int, dtype: torch.dtype = torch.float32) -> Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(LAYER_NORM_ROWS, LAYER_NORM_FEATURES, generator=generator, dtype=dtype).requires_grad_()


def build_layer_norm(dtype: torch.dtype = torch.float32, seed: int = 0) -> nn.Module:
    """torch_ext.LayerNorm with random gains and biases."""
    module = torch_ext.LayerNorm(LAYER_NORM_FEATURES, dtype=dtype)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        module.weight.copy_(1 + 0.3 * torch.randn(LAYER_NORM_FEATURES, generator=generator, dtype=dtype))
        module.bias.copy_(0.3 * torch.randn(LAYER_NORM_FEATURES, generator=generator, dtype=dtype))
    return module
