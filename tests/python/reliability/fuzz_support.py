"""What the fuzz cases share: the case's tensors (ours and the float64 reference's), their memory
layouts, the comparison of results and gradients, and the verdict on a call that should fail.

A case holds every tensor twice: a leaf in the case's dtype that our op or module receives, and a
float64 leaf of the same (rounded) values that the reference receives. Both go through the same
layout (a transposed or strided view, an expanded or offset one), so the reference sees the same
values in its own layout and gradients are taken with respect to the leaves.
"""

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence

# The exceptions a bad call may raise (a reference's own type is accepted too, e.g. IndexError
# where ATen's cell ops read a missing dimension).
ALLOWED_ERRORS = (RuntimeError, ValueError, TypeError)

FLOATING = {"float32": torch.float32, "float64": torch.float64, "bfloat16": torch.bfloat16}
DTYPES = dict(FLOATING, float16=torch.float16, int64=torch.int64, int32=torch.int32, bool=torch.bool)

# Layouts of a tensor that must give the same numbers as a contiguous one.
LAYOUTS = ("contiguous", "transposed", "strided", "offset", "expanded")


class CaseFailure(AssertionError):
    """A fuzz case's verdict: our op or module disagrees with its reference."""


def fail(message: str) -> None:
    raise CaseFailure(message)


# --- tensors ---------------------------------------------------------------------------------------


def apply_layout(tensor: Tensor, layout: str) -> Tensor:
    """A tensor of the same shape and values (``expanded``: the first slice repeated) in another
    memory layout, differentiable with respect to ``tensor``."""
    if tensor.dim() == 0 or tensor.numel() == 0 or layout == "contiguous":
        return tensor
    if layout == "transposed":
        if tensor.dim() == 1:
            return tensor.flip(0).contiguous().flip(0)  # the same: 1-D has no transpose
        return tensor.transpose(0, -1).contiguous().transpose(0, -1)
    if layout == "strided":
        return torch.stack([tensor, torch.zeros_like(tensor)], dim=-1)[..., 0]
    if layout == "offset":
        padding = torch.zeros((3,) + tuple(tensor.shape[1:]), dtype=tensor.dtype)
        return torch.cat([padding, tensor])[3:]
    if layout == "expanded":
        return tensor[:1].expand(tensor.shape)
    raise ValueError(f"unknown layout {layout}")


@dataclass
class TensorPair:
    """One argument tensor: ``ours`` (the case's dtype and layout), ``reference`` (float64) and,
    for a float32 case, ``yardstick``: the same float32 values for the reference run in float32,
    whose distance from float64 measures how much rounding the problem itself amplifies."""

    ours: Tensor
    reference: Tensor
    yardstick: Optional[Tensor] = None


@dataclass
class Tensors:
    """Draws a case's tensors from one seed and keeps their leaves for the gradients."""

    seed: int
    dtype: torch.dtype
    requires_grad: bool
    generator: torch.Generator = field(init=False)
    our_leaves: List[Tensor] = field(default_factory=list)
    reference_leaves: List[Tensor] = field(default_factory=list)
    yardstick_leaves: List[Tensor] = field(default_factory=list)
    names: List[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.generator = torch.Generator().manual_seed(self.seed)

    def values(self, shape: Sequence[int], kind: str = "normal", scale: float = 1.0) -> Tensor:
        """float64 values: ``normal`` (N(0, scale²)), ``uniform`` (U(-scale, scale)), ``gain``
        (1 + N(0, 0.25) as the layer-norm tests draw gains)."""
        shape = tuple(shape)
        if kind == "uniform":
            return (torch.rand(shape, generator=self.generator, dtype=torch.float64) * 2 - 1) * scale
        noise = torch.randn(shape, generator=self.generator, dtype=torch.float64)
        if kind == "gain":
            return 1 + 0.5 * noise
        return noise * scale

    def pair(self, name: str, shape: Sequence[int], layout: str = "contiguous", kind: str = "normal",
             scale: float = 1.0, grad: bool = True) -> TensorPair:
        values = self.values(shape, kind, scale)
        ours = values.to(self.dtype)
        reference = ours.double()
        yardstick = ours.clone() if self.dtype == torch.float32 else None
        if self.requires_grad and grad:
            ours.requires_grad_()
            reference.requires_grad_()
            self.our_leaves.append(ours)
            self.reference_leaves.append(reference)
            self.names.append(name)
            if yardstick is not None:
                self.yardstick_leaves.append(yardstick.requires_grad_())
        return TensorPair(apply_layout(ours, layout), apply_layout(reference, layout),
                          None if yardstick is None else apply_layout(yardstick, layout))


# --- verdicts ---------------------------------------------------------------------------------------

# Words that name an argument or a quantity: an error message should contain one of them.
_ARGUMENT_WORDS = re.compile(
    r"input|hx|cx|hidden|weight|bias|param|batch|sequence|size|shape|dtype|device|layers|dropout|"
    r"nonlinearity|grad|gates|cells|output|rstd|mean|normalized|eps|state|float|double|half|long|"
    r"int|bool|dimension|tensor|mode|proj|expected|must|should",
    re.IGNORECASE,
)


def check_message(error: BaseException, keywords: Sequence[str] = ()) -> None:
    """The error says what is wrong: a message that names an argument (one of ``keywords`` when
    given), not an internal assertion."""
    message = str(error)
    if not message.strip():
        fail(f"{type(error).__name__} with an empty message")
    if "INTERNAL ASSERT" in message or "please report a bug" in message.lower():
        fail(f"internal assertion instead of an argument check: {message}")
    if not _ARGUMENT_WORDS.search(message):
        fail(f"the message names no argument: {message!r}")
    if keywords and not any(word.lower() in message.lower() for word in keywords):
        fail(f"the message names none of {list(keywords)}: {message!r}")


def check_raises(error: Optional[BaseException], reference_error: Optional[BaseException] = None,
                 keywords: Sequence[str] = (), also: Tuple[type, ...] = ()) -> None:
    """Our call failed as a bad call should: an allowed exception type (or the reference's own,
    or one of ``also``) with a clear message."""
    if error is None:
        because = ""
        if reference_error is not None:
            because = f" (the reference raised {type(reference_error).__name__}: {reference_error})"
        fail("the call succeeded; it should have raised" + because)
    allowed = ALLOWED_ERRORS + also + ((type(reference_error),) if reference_error is not None else ())
    if not isinstance(error, allowed):
        fail(f"raised {type(error).__name__} ({error}); expected one of RuntimeError, ValueError, TypeError")
    check_message(error, keywords)


def attempt(call: Callable[[], Any]) -> Tuple[Any, Optional[BaseException]]:
    """``(result, None)`` or ``(None, the exception)``."""
    try:
        return call(), None
    except Exception as error:  # noqa: BLE001 - any exception is the subject under test
        return None, error


# --- comparisons ------------------------------------------------------------------------------------


def flatten(result: Any, path: str = "result") -> List[Tuple[str, Optional[Tensor]]]:
    """``(path, tensor)`` for every tensor in a nest of tuples, lists and PackedSequences."""
    if isinstance(result, PackedSequence):
        return [(f"{path}.{name}", getattr(result, name)) for name in result._fields]
    if isinstance(result, (tuple, list)):
        flat: List[Tuple[str, Optional[Tensor]]] = []
        for index, item in enumerate(result):
            flat += flatten(item, f"{path}[{index}]")
        return flat
    if result is not None and not isinstance(result, Tensor):
        fail(f"{path}: a {type(result).__name__}, not a tensor")
    return [(path, result)]


def tolerance(dtype: torch.dtype, scale: float) -> Dict[str, float]:
    """Ours in ``dtype`` against the float64 reference on the same values. Layer norms divide by
    a row's spread, so rounding grows with the magnitudes: the absolute part scales with them."""
    # bfloat16: results are rounded to 8 bits between layers, which deep stacks and layer norms
    # amplify (to 0.15 of the largest magnitude in 3-layer cases, as ATen's own bfloat16).
    relative = {torch.float64: 1e-9, torch.float32: 2e-4, torch.bfloat16: 0.2}[dtype]
    return dict(rtol=relative, atol=relative * scale)


# How far ours may lie from float64, in multiples of the float32 reference's own distance.
YARDSTICK_MULTIPLE = 8


def assert_close(actual: Optional[Tensor], expected: Optional[Tensor], dtype: torch.dtype, what: str,
                 yardstick: Optional[Tensor] = None) -> None:
    """``actual`` (ours, in ``dtype``; None counts as zeros) against the float64 ``expected``;
    with a ``yardstick`` (the reference computed in ``dtype``), within eight times its distance
    from ``expected`` too: a problem that amplifies rounding does so for every implementation.

    The yardstick is one sample of that amplified rounding, and another summation order lands
    elsewhere: a layer norm over an exactly constant row (an expanded weight) has a float64
    gradient of 0 (±1e-13) and float32 gradients that are rounding times 1/sqrt(eps); ATen's
    float32 reached 9.2e-5 there and our blocked products 4.9e-4 (fuzz seed 2, case 1741)."""
    if expected is None and actual is None:
        return
    if expected is None or actual is None:
        present = actual if actual is not None else expected
        if present is not None and present.is_floating_point() and bool(present.any()):
            fail(f"{what}: {'missing' if actual is None else 'unexpected'} (the other side is not zero)")
        return
    if tuple(actual.shape) != tuple(expected.shape):
        fail(f"{what}: shape {tuple(actual.shape)}, expected {tuple(expected.shape)}")
    if not expected.is_floating_point():
        if not torch.equal(actual, expected):
            fail(f"{what}: {actual} != {expected}")
        return
    if actual.dtype != dtype:
        fail(f"{what}: dtype {actual.dtype}, expected {dtype}")
    if actual.device.type == "meta":
        return
    finite = expected[torch.isfinite(expected)]
    scale = max(1.0, finite.abs().max().item()) if finite.numel() else 1.0
    limits = tolerance(dtype, scale)
    if yardstick is not None and yardstick.shape == expected.shape and expected.numel():
        spread = (yardstick.detach().double() - expected.detach()).abs().nan_to_num(0.0).max().item()
        limits["atol"] = max(limits["atol"], YARDSTICK_MULTIPLE * spread)
    try:
        torch.testing.assert_close(actual.double(), expected.double(), equal_nan=True, **limits)
    except AssertionError as error:
        fail(f"{what}: {error}")


def assert_same_results(actual: Any, expected: Any, dtype: torch.dtype, what: str = "output",
                        yardstick: Any = None) -> None:
    flat_actual, flat_expected = flatten(actual, what), flatten(expected, what)
    if [path for path, _ in flat_actual] != [path for path, _ in flat_expected]:
        fail(f"{what}: structure {[p for p, _ in flat_actual]}, expected {[p for p, _ in flat_expected]}")
    flat_yardstick = [t for _, t in flatten(yardstick, what)] if yardstick is not None else []
    if len(flat_yardstick) != len(flat_expected):
        flat_yardstick = [None] * len(flat_expected)
    for (path, a), (_, e), y in zip(flat_actual, flat_expected, flat_yardstick):
        assert_close(a, e, dtype, path, y)


def assert_same_shapes(actual: Any, expected: Any, dtype: torch.dtype, what: str = "output") -> None:
    """Only shapes (and our dtype): a meta call, or a random dropout mask."""
    flat_actual, flat_expected = flatten(actual, what), flatten(expected, what)
    if len(flat_actual) != len(flat_expected):
        fail(f"{what}: {len(flat_actual)} results, expected {len(flat_expected)}")
    for (path, a), (_, e) in zip(flat_actual, flat_expected):
        if (a is None) != (e is None):
            fail(f"{path}: {a} vs {e}")
        if a is None:
            continue
        if tuple(a.shape) != tuple(e.shape):
            fail(f"{path}: shape {tuple(a.shape)}, expected {tuple(e.shape)}")
        if e.is_floating_point() and a.dtype != dtype:
            fail(f"{path}: dtype {a.dtype}, expected {dtype}")


def floating_outputs(result: Any) -> List[Tensor]:
    return [t for _, t in flatten(result) if t is not None and t.is_floating_point()]


def output_weights(outputs: Sequence[Tensor], seed: int, dtype: torch.dtype) -> List[Tensor]:
    """Random weights of the outputs, as float64 values that ``dtype`` holds exactly (both sides
    start the backward from the same numbers): the gradients compared are those of
    ``Σ weight · output``."""
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(tuple(t.shape), generator=generator, dtype=torch.float64).to(dtype).double() for t in outputs]


def gradients(result: Any, leaves: Sequence[Tensor], weights: Sequence[Tensor]) -> List[Optional[Tensor]]:
    """Of ``Σ weight · output`` over the floating outputs (one weight each, in order; an output
    that depends on no leaf, such as an empty batch's final state, adds nothing)."""
    pairs = [(o, w.to(o.dtype)) for o, w in zip(floating_outputs(result), weights) if o.requires_grad]
    if not pairs or not leaves:
        return [None] * len(leaves)
    outputs, grads = zip(*pairs)
    return list(torch.autograd.grad(list(outputs), list(leaves), list(grads), allow_unused=True))


@dataclass
class Yardstick:
    """The reference's results computed in float32, and its float32 leaves (in the order of the
    compared leaves)."""

    result: Any
    leaves: Sequence[Tensor]


def compare_forward_backward(ours: Any, reference: Any, our_leaves: Sequence[Tensor],
                             reference_leaves: Sequence[Tensor], names: Sequence[str], dtype: torch.dtype,
                             seed: int, yardstick: Optional[Yardstick] = None) -> None:
    """Outputs, then the gradients of a random weighted sum of the outputs for every leaf."""
    assert_same_results(ours, reference, dtype, yardstick=None if yardstick is None else yardstick.result)
    expected_outputs = floating_outputs(reference)
    if not reference_leaves or not expected_outputs:
        return
    weights = output_weights(expected_outputs, seed, dtype)
    if len(floating_outputs(ours)) != len(expected_outputs):
        fail(f"{len(floating_outputs(ours))} differentiable outputs, expected {len(expected_outputs)}")
    expected = gradients(reference, reference_leaves, weights)
    actual = gradients(ours, our_leaves, weights)
    yardsticks: List[Optional[Tensor]] = [None] * len(expected)
    if yardstick is not None and len(yardstick.leaves) == len(reference_leaves) \
            and len(floating_outputs(yardstick.result)) == len(expected_outputs):
        yardsticks = gradients(yardstick.result, yardstick.leaves, weights)
    for name, a, e, y in zip(names, actual, expected, yardsticks):
        assert_gradient(a, e, dtype, f"gradient of {name}", y)


def assert_gradient(actual: Optional[Tensor], expected: Optional[Tensor], dtype: torch.dtype, what: str,
                    yardstick: Optional[Tensor] = None) -> None:
    """:func:`assert_close`, but for bfloat16 only shapes, dtypes and finiteness: a gradient
    through ReLU's kink or a layer norm of a near-constant row moves by its whole magnitude when
    an input moves by bfloat16's rounding (float64 shows the same for a 2^-8 perturbation), so
    no tolerance separates rounding from error. bfloat16's accuracy is test_precision.py's."""
    if dtype != torch.bfloat16 or actual is None or expected is None:
        assert_close(actual, expected, dtype, what, yardstick)
        return
    if tuple(actual.shape) != tuple(expected.shape) or actual.dtype != dtype:
        fail(f"{what}: {tuple(actual.shape)} {actual.dtype}, expected {tuple(expected.shape)} {dtype}")
    if actual.device.type != "meta" and not bool(torch.isfinite(actual).all()) and bool(torch.isfinite(expected).all()):
        fail(f"{what}: not finite")


def finite(result: Any, what: str = "output") -> None:
    for path, tensor in flatten(result, what):
        if tensor is not None and tensor.is_floating_point() and tensor.device.type != "meta":
            if not bool(torch.isfinite(tensor).all()):
                fail(f"{path}: not finite")


def to_meta(value: Any) -> Any:
    """Tensors (in lists too) moved to the meta device, strides kept."""
    if isinstance(value, Tensor):
        return value.detach().to("meta")
    if isinstance(value, list):
        return [to_meta(item) for item in value]
    return value

