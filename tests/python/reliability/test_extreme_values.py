"""Extreme values through every module family (tests/python/recurrent_modules.py): pre-activations
of ±1e4 saturate the gates without overflow, forward and backward, to the reference's values; a
NaN in the input reaches exactly the outputs that depend on it; sequences of 20,000 steps and
4,096 hidden units run without overflow of index arithmetic."""

from typing import Any, List

import pytest
import torch
from reliability_testing import (
    CELL_VARIANTS,
    SEQUENCE_VARIANTS,
    Built,
    Variant,
    assert_close_sampled,
    assert_close_scaled,
    build,
    forward_backward,
    make_input,
    output_count,
    parametrize,
    plain_reference,
    random_cotangents,
    result_names,
)
from rnn_testing import intra_op_threads
from torch import Tensor

import torch_ext

PADDED = [variant for variant in SEQUENCE_VARIANTS if variant.input == "padded"]
UNIDIRECTIONAL = [variant for variant in PADDED if not variant.bidirectional]


@pytest.fixture(autouse=True)
def one_intra_op_thread():
    """Small problems: one thread (the thread splits are test_threads.py's and test_determinism.py's)."""
    with intra_op_threads(1):
        yield


def random_state(built: Built, batch: int, generator: torch.Generator, scale: float = 1.0) -> Any:
    """A random initial state of ``built``'s module for ``batch`` rows: ``h`` or ``(h, c)``."""
    module, variant = built.module, built.variant
    if variant.is_cell:
        shapes = [(batch, module.hidden_size)] * variant.num_states
    else:
        layers = module.num_layers * (2 if module.bidirectional else 1)
        h_size = module.proj_size if getattr(module, "proj_size", 0) else module.hidden_size
        shapes = [(layers, batch, h_size), (layers, batch, module.hidden_size)][: variant.num_states]
    states = [scale * torch.randn(shape, generator=generator, dtype=built.dtype) for shape in shapes]
    states = [state.requires_grad_() for state in states]
    return tuple(states) if len(states) == 2 else states[0]


def detached(state: Any) -> Any:
    """A fresh leaf copy of a state (so each run has its own gradient)."""
    if isinstance(state, tuple):
        return tuple(detached(s) for s in state)
    return state.detach().clone().requires_grad_()


def scale_to_saturation(built: Built) -> None:
    """Scales the parameters so that pre-activations reach ±1e4 once the input is scaled by 1e4:
    W_hh by 1e3 (the recurrent part is large too), the layer norms' gains by 1e4 (a layer norm
    brings its input back to unit scale). The ReLU RNN keeps W_hh: its state is unbounded."""
    relu = dict(built.variant.module.options).get("nonlinearity") == "relu"
    with torch.no_grad():
        for name, parameter in built.module.named_parameters():
            if name.startswith("weight_hh") and not relu:
                parameter.mul_(1e3)
            elif name.startswith("ln_") and "_weight" in name:
                parameter.mul_(1e4)


# --- ±1e4 pre-activations ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@parametrize(PADDED + CELL_VARIANTS)
def test_saturated_pre_activations_stay_finite_and_match_the_reference(variant: Variant, dtype: torch.dtype) -> None:
    """Input ×1e4 (and W_hh ×1e3, layer-norm gains ×1e4): sigmoid and tanh saturate. Every output
    and gradient is finite, equal to the reference where the reference saturates (0 or ±1) and
    close to it elsewhere."""
    built = build(variant, 6, 40, dtype)
    scale_to_saturation(built)
    generator = torch.Generator().manual_seed(0)
    x = make_input(built, 5, 3, generator)
    with torch.no_grad():
        x.mul_(1e4)
    state = random_state(built, 3, generator)
    ours = forward_backward(built.module, x, state)
    reference = forward_backward(built.reference(), x, detached(state))
    names = result_names(built, state_given=True)
    outputs = output_count(built)
    for index, (name, actual, expected) in enumerate(zip(names, ours, reference)):
        assert bool(torch.isfinite(expected).all()), f"{name}: the reference overflows"
        assert bool(torch.isfinite(actual).all()), f"{name}: not finite"
        # float32 rounds products of 1e4-sized terms to about 1e-3, and the backward multiplies
        # such errors by W_hh (×1e3): 1e-3 of the largest output, 1e-2 of the largest gradient.
        rtol = 1e-9 if dtype == torch.float64 else 1e-3 if index < outputs else 1e-2
        assert_close_scaled(actual, expected, name, rtol=rtol)
    saturated = 0
    for name, actual, expected in zip(names[:outputs], ours, reference):
        at_limit = (expected == 0) | (expected.abs() == 1)
        saturated += int(at_limit.sum())
        # The same limit: within one unit in the last place of 1 (a gate at 17 rounds to 1 or to
        # the float below it; an exp near its underflow leaves a subnormal number, not 0).
        gap = (actual[at_limit] - expected[at_limit]).abs()
        assert bool((gap <= torch.finfo(dtype).eps).all()), f"{name}: saturated values differ by {gap.max()}"
    assert saturated > 0, "nothing saturated: the scaling does not reach the limits"


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_layer_norm_of_large_offsets(dtype: torch.dtype) -> None:
    """Rows of 1e4 + N(0, 1), N(0, 1e4²) and (float64) −1e4 + N(0, 1e-4): the moments are taken
    in two passes, so the variance keeps its precision where E[x²] − E[x]² loses all of it (NaN
    here). Forward and backward against torch.nn.LayerNorm in float64 on the same values: float64
    to 1e-9; float32 at least as close as torch.nn.LayerNorm's own float32 (which holds the mean of
    1e4-sized rows only to its spacing there, 1e-3)."""
    generator = torch.Generator().manual_seed(0)
    parts = [
        1e4 + torch.randn(4, 300, generator=generator, dtype=torch.float64),
        1e4 * torch.randn(4, 300, generator=generator, dtype=torch.float64),
    ]
    if dtype == torch.float64:
        parts.append(-1e4 + 1e-2 * torch.randn(4, 300, generator=generator, dtype=torch.float64))
    rows = torch.cat(parts).to(dtype)
    ours = torch_ext.LayerNorm(300, dtype=dtype)
    with torch.no_grad():
        ours.weight.copy_(torch.rand(300, generator=generator, dtype=torch.float64) + 0.5)
        ours.bias.copy_(torch.randn(300, generator=generator, dtype=torch.float64))
    exact = torch.nn.LayerNorm(300, dtype=torch.float64)
    aten = torch.nn.LayerNorm(300, dtype=dtype)
    exact.load_state_dict({key: value.double() for key, value in ours.state_dict().items()})
    aten.load_state_dict(ours.state_dict())
    actual = forward_backward(ours, rows.clone().requires_grad_())
    expected = forward_backward(exact, rows.double().requires_grad_())
    names = ["output", "grad of input", "grad of weight", "grad of bias"]
    if dtype == torch.float64:
        for name, a, e in zip(names, actual, expected):
            assert_close_scaled(a, e, name, rtol=1e-9)
        return
    baseline = forward_backward(aten, rows.clone().requires_grad_())
    for name, a, b, e in zip(names, actual, baseline, expected):
        assert bool(torch.isfinite(a).all()), f"{name}: not finite"
        error, aten_error = (a.double() - e).abs().max().item(), (b.double() - e).abs().max().item()
        assert error <= aten_error + 1e-6 * e.abs().max().item(), f"{name}: off by {error}, ATen's by {aten_error}"
    assert (actual[0].double() - expected[0]).abs().max().item() < 1e-3


# --- NaN ----------------------------------------------------------------------------------------------


def batch_dim(variant: Variant) -> int:
    return 0 if variant.is_cell else 1


@parametrize(PADDED + CELL_VARIANTS)
def test_nan_reaches_only_its_own_batch_element(variant: Variant) -> None:
    """One NaN feature in batch element 1 at step 3 (of 7): the other elements' outputs, final
    states and input and state gradients are bitwise those of the clean input; element 1's
    outputs are NaN exactly where the reference's are (a ReLU passes NaN on, as torch.relu does);
    in a unidirectional layer every step before 3 is clean."""
    built = build(variant, 5, 40)
    generator = torch.Generator().manual_seed(0)
    clean = make_input(built, 7, 4, generator)
    state = random_state(built, 4, generator)
    poisoned = clean.detach().clone()
    position = (1, 2) if variant.is_cell else (3, 1, 2)
    poisoned[position] = float("nan")
    poisoned.requires_grad_()

    expected = forward_backward(built.module, clean, detached(state))
    actual = forward_backward(built.module, poisoned, detached(state))
    reference = forward_backward(built.reference(), poisoned.detach().clone().requires_grad_(), detached(state))
    names = result_names(built, state_given=True)
    outputs = output_count(built)
    states = variant.num_states
    for index, (name, a, e, r) in enumerate(zip(names, actual, expected, reference)):
        if index >= outputs + 1 + states:
            break  # parameter gradients sum over the batch: NaN, naturally
        # outputs and the input gradient carry the batch in dim 1 (cells: 0); states in dim 1 (cells: 0)
        dim = 0 if variant.is_cell else 1
        others = [b for b in range(a.shape[dim]) if b != 1]
        assert torch.equal(a.index_select(dim, torch.tensor(others)), e.index_select(dim, torch.tensor(others))), (
            f"{name}: the NaN reached other batch elements"
        )
        mine = a.select(dim, 1)
        if index < outputs:
            assert torch.equal(torch.isnan(mine), torch.isnan(r.select(dim, 1))), f"{name}: NaN pattern differs"
            assert bool(torch.isnan(mine).any()), f"{name}: the NaN vanished"
    if variant.is_cell or variant not in UNIDIRECTIONAL:
        return
    assert torch.equal(actual[0][:3], expected[0][:3]), "steps before the NaN changed"
    assert bool(torch.isnan(actual[0][3:, 1]).all()), "steps from the NaN on should be NaN in element 1"


def test_nan_in_one_layer_norm_row() -> None:
    """torch_ext.LayerNorm: a NaN reaches only its own row (and the gains' gradients)."""
    ours = torch_ext.LayerNorm(50)
    x = torch.randn(6, 50, generator=torch.Generator().manual_seed(0))
    poisoned = x.clone()
    poisoned[2, 7] = float("nan")
    clean = forward_backward(ours, x.requires_grad_())
    dirty = forward_backward(ours, poisoned.requires_grad_())
    for name, a, e in zip(["output", "grad of input"], dirty, clean):
        rows = torch.tensor([0, 1, 3, 4, 5])
        assert torch.equal(a[rows], e[rows]), name
        assert bool(torch.isnan(a[2]).all()), name


# --- long sequences, wide layers ---------------------------------------------------------------------


def window_reference_check(built: Built, x: Tensor, ours: List[Tensor], window: int) -> None:
    """The last ``window`` steps of a long unidirectional run (``ours``: :func:`forward_backward`
    with seed 0) against the reference started from our state after the steps before them (our
    run over those steps alone, which must give the long run's outputs there bitwise): outputs,
    final states, and the input gradient of those steps (which only their outputs and the final
    state reach), from the long run's cotangents."""
    steps, outputs = x.shape[0], output_count(built)
    head = x.detach()[: steps - window]
    with torch.no_grad():
        head_output, head_state = built.module(head)
    assert torch.equal(head_output, ours[0][: steps - window]), "a shorter run differs from the long one"
    tail = x.detach()[steps - window :].clone().requires_grad_()
    full_cotangents = random_cotangents(ours[:outputs])
    cotangents = [full_cotangents[0][steps - window :], *full_cotangents[1:]]
    expected = forward_backward(built.reference(), tail, detached(head_state), cotangents=cotangents)
    names = ["output of the last steps", "h_n", "c_n"][:outputs]
    window_results = [ours[0][steps - window :], *ours[1:outputs], ours[outputs][steps - window :]]
    for name, actual, wanted in zip(names + ["grad of the last inputs"], window_results, expected[: outputs + 1]):
        assert_close_scaled(actual, wanted, name, rtol=1e-4)


def chunked_run(built: Built, x: Tensor, chunks: int) -> List[Tensor]:
    """:func:`forward_backward` over ``x`` cut into ``chunks`` calls, each starting from the state
    the one before ended with (gradients flow through it)."""
    pieces, state = [], None
    for piece in x.chunk(chunks):
        output, state = built.module(piece) if state is None else built.module(piece, state)
        pieces.append(output)
    return forward_backward(lambda _x: (torch.cat(pieces), state), x, module_params=list(built.module.parameters()))


@parametrize(UNIDIRECTIONAL)
def test_twenty_thousand_steps(variant: Variant) -> None:
    """T = 20,000 (B = 2, H = 8): every output and gradient finite; the same as four calls over
    5,000 steps each, the state handed on (outputs bitwise, gradients to rounding); the last 40
    steps against the reference started from our state; the plain LSTM (whose torch.nn namesake
    runs oneDNN, fast) against torch.nn over the whole sequence."""
    built = build(variant, 4, 8)
    x = make_input(built, 20_000, 2, torch.Generator().manual_seed(0))
    ours = forward_backward(built.module, x)
    names = result_names(built)
    for name, tensor in zip(names, ours):
        assert bool(torch.isfinite(tensor).all()), f"{name}: not finite"
    chunked = chunked_run(built, x, 4)
    assert torch.equal(ours[0], chunked[0]), "output: one call and four calls differ"
    for name, a, e in zip(names, ours, chunked):
        assert_close_scaled(a, e, f"{name}, one call vs four", rtol=1e-5)
    window_reference_check(built, x, ours, 40)
    if variant.module.name == "LSTM" and not variant.projected:
        expected = forward_backward(built.reference(), x.detach().clone().requires_grad_())
        for name, a, e in zip(names, ours, expected):
            assert_close_scaled(a, e, name, rtol=1e-4)


# One of each kernel (the cells are the layer kernels over one step; the ReLU RNN is the tanh one's).
WIDE = [v for v in UNIDIRECTIONAL if not v.projected and dict(v.module.options).get("nonlinearity") != "relu"]


@parametrize(WIDE)
def test_four_thousand_ninety_six_hidden_units(variant: Variant) -> None:
    """H = 4,096 (B = 1, T = 2, I = 8): the gate matrices hold up to 4·4096² values. Every output
    and gradient finite and, on every 37th row and the last, equal to the plain-PyTorch
    reference's (cheaper than torch.nn's modules here)."""
    built = build(variant, 8, 4096)
    x = make_input(built, 2, 1, torch.Generator().manual_seed(0))
    ours = forward_backward(built.module, x)
    expected = forward_backward(plain_reference(built), x.detach().clone().requires_grad_())
    for name, a, e in zip(result_names(built), ours, expected):
        assert_close_sampled(a, e, name, rtol=1e-4)
