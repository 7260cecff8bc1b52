"""Helpers that hold a torch_ext module against its torch.nn namesake.

Both modules are built from one seed, run on the same inputs, and compared on every output,
every gradient (inputs and parameters) and every error they raise.
"""

import warnings
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Type

import pytest
import torch
from torch import Tensor
from torch.nn import Module
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence
from torch.utils._python_dispatch import TorchDispatchMode

# float32: our kernels and ATen (oneDNN or its op-by-op path) differ only in rounding order.
TOLERANCES = {torch.float32: dict(atol=1e-5, rtol=1e-5), torch.float64: dict(atol=1e-10, rtol=1e-10)}

# Lengths of the packed batches that sequence_inputs builds: already sorted (enforce_sorted=True),
# and in no order (enforce_sorted=False).
SORTED_LENGTHS = [4, 3, 1]
UNSORTED_LENGTHS = [2, 4, 3]
# The input layouts a multi-layer module takes; "unbatched_batch_first" is unbatched input to a
# batch_first module (which ignores the flag for it).
INPUT_KINDS = ["batched", "batch_first", "unbatched", "unbatched_batch_first", "packed", "packed_unsorted"]

# What a test feeds both modules: the call's positional arguments, and the leaf tensors whose
# gradients are compared.
Inputs = Tuple[Tuple[Any, ...], Dict[str, Tensor]]
# Every tensor of a module's result, with a path that names where it sits.
FlatResult = List[Tuple[str, Optional[Tensor]]]


def build_pair(
    reference_class: Type[Module], our_class: Type[Module], *args: Any, seed: int = 0, **kwargs: Any
) -> Tuple[Module, Module]:
    """Build ``reference_class(*args, **kwargs)`` and ours after the same ``torch.manual_seed``;
    assert they hold the same parameters (this tests the initialisation)."""
    torch.manual_seed(seed)
    reference = reference_class(*args, **kwargs)
    torch.manual_seed(seed)
    ours = our_class(*args, **kwargs)
    assert_same_parameters(ours, reference)
    return reference, ours


@dataclass(frozen=True)
class Namesakes:
    """A torch_ext module class, its torch.nn namesake, and the constructor options (for both)
    that select one variant, e.g. ``nonlinearity="relu"``; ``id`` names it in test ids."""

    id: str
    ours: Type[Module]
    reference: Type[Module]
    options: Tuple[Tuple[str, Any], ...] = ()

    def build_pair(self, *args: Any, seed: int = 0, **kwargs: Any) -> Tuple[Module, Module]:
        """:func:`build_pair` of the two classes with the variant's options."""
        return build_pair(self.reference, self.ours, *args, seed=seed, **dict(self.options), **kwargs)


def parametrize_namesakes(selection: Sequence[Namesakes]) -> Any:
    """``pytest.mark.parametrize("family", selection)`` with the families' ids."""
    return pytest.mark.parametrize("family", list(selection), ids=[family.id for family in selection])


def assert_same_parameters(actual: Module, expected: Module) -> None:
    """Same parameter names in the same order, with identical shapes, dtypes and values."""
    actual_parameters = list(actual.named_parameters())
    expected_parameters = list(expected.named_parameters())
    assert [name for name, _ in actual_parameters] == [name for name, _ in expected_parameters]
    for (name, a), (_, e) in zip(actual_parameters, expected_parameters):
        assert (a.shape, a.dtype) == (e.shape, e.dtype), f"{name}: {a.shape} {a.dtype} vs {e.shape} {e.dtype}"
        assert torch.equal(a, e), f"{name} differs"


def flatten_result(result: Any, path: str = "result") -> FlatResult:
    """``(path, tensor)`` for every tensor in a nest of tuples, lists and PackedSequences; the
    paths name the container types, so comparing them compares the structure."""
    if isinstance(result, PackedSequence):
        return [(f"{path}.PackedSequence.{field}", getattr(result, field)) for field in result._fields]
    if isinstance(result, (tuple, list)):
        flat = []
        for index, item in enumerate(result):
            flat += flatten_result(item, f"{path}.{type(result).__name__}[{index}]")
        return flat
    assert result is None or isinstance(result, Tensor), f"{path}: unexpected {type(result).__name__}"
    return [(path, result)]


def assert_close(actual: Optional[Tensor], expected: Optional[Tensor], what: str) -> None:
    if expected is None:
        assert actual is None, f"{what}: expected None"
        return
    assert actual is not None, f"{what}: missing"
    assert actual.shape == expected.shape and actual.dtype == expected.dtype, (
        f"{what}: {actual.shape} {actual.dtype} vs {expected.shape} {expected.dtype}"
    )
    if expected.is_floating_point():
        tolerance = TOLERANCES[expected.dtype]
        torch.testing.assert_close(actual, expected, **tolerance, msg=lambda m: f"{what}: {m}")
    else:
        assert torch.equal(actual, expected), f"{what}: {actual} vs {expected}"


def forward_backward(
    module: Module, make_inputs: Callable[[], Inputs]
) -> Tuple[FlatResult, Dict[str, Optional[Tensor]]]:
    """Run ``module`` on fresh inputs, backpropagate a fixed random projection of every floating
    output, and return the flattened outputs and the gradients of the input leaves and parameters."""
    args, leaves = make_inputs()
    outputs = flatten_result(module(*args))
    weights = torch.Generator().manual_seed(1234)
    loss = sum(
        (tensor * torch.randn(tensor.shape, generator=weights, dtype=tensor.dtype)).sum()
        for _, tensor in outputs
        if tensor is not None and tensor.is_floating_point()
    )
    module.zero_grad(set_to_none=True)
    loss.backward()
    gradients = {f"grad of {name}": leaf.grad for name, leaf in leaves.items()}
    gradients.update({f"grad of {name}": p.grad for name, p in module.named_parameters()})
    return [(path, None if t is None else t.detach()) for path, t in outputs], gradients


def assert_same_forward_backward(ours: Module, reference: Module, make_inputs: Callable[[], Inputs]) -> None:
    """Outputs (structure and values) and all gradients of ``ours`` match ``reference``'s."""
    expected_outputs, expected_gradients = forward_backward(reference, make_inputs)
    actual_outputs, actual_gradients = forward_backward(ours, make_inputs)
    assert [path for path, _ in actual_outputs] == [path for path, _ in expected_outputs]
    for (path, actual), (_, expected) in zip(actual_outputs, expected_outputs):
        assert_close(actual, expected, path)
    assert actual_gradients.keys() == expected_gradients.keys()
    for name, expected in expected_gradients.items():
        assert_close(actual_gradients[name], expected, name)


class OpLog(TorchDispatchMode):
    """Records the name of every op the dispatcher runs (below autograd and composite ops)."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        self.names.add(str(func))
        return func(*args, **(kwargs or {}))


def ops_run_by(module: Module, make_inputs: Callable[[], Inputs]) -> set:
    """Names of the ops the dispatcher runs for ``module``'s forward and backward (of the sum of
    every floating output) on fresh inputs."""
    args, _ = make_inputs()
    with OpLog() as log:
        outputs = [t for _, t in flatten_result(module(*args)) if t is not None and t.is_floating_point()]
        sum(t.sum() for t in outputs).backward()
    return log.names


def raised_by(call: Callable[[], Any]) -> BaseException:
    """The exception ``call()`` raises; fails the test if it returns."""
    try:
        call()
    except Exception as error:  # noqa: BLE001 - any exception is the subject under test
        return error
    raise AssertionError(f"{call} did not raise")


def assert_same_error(
    reference_call: Callable[[], Any], our_call: Callable[[], Any], compare_message: bool = True
) -> BaseException:
    """Both calls raise the same exception type (and, unless told otherwise, the same message)."""
    expected = raised_by(reference_call)
    actual = raised_by(our_call)
    assert type(actual) is type(expected), (
        f"raised {type(actual).__name__}({actual}), nn raised {type(expected).__name__}({expected})"
    )
    if compare_message:
        assert str(actual) == str(expected)
    return actual


def recorded_warnings(call: Callable[[], Any]) -> List[warnings.WarningMessage]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    return list(caught)


def leaf(generator: torch.Generator, shape: Sequence[int], dtype: torch.dtype = torch.float32) -> Tensor:
    """A random leaf tensor that requires grad, drawn from ``generator``."""
    return torch.randn(tuple(shape), generator=generator, dtype=dtype).requires_grad_()


def sequence_inputs(
    kind: str,
    input_size: int,
    state_features: Sequence[int],
    state_layers: int,
    with_state: bool,
    dtype: torch.dtype = torch.float32,
    batch: int = 3,
    seq_len: int = 4,
) -> Callable[[], Inputs]:
    """A factory of fresh, seeded inputs of one of :data:`INPUT_KINDS` for a multi-layer module.

    The initial state, with ``with_state``, has one tensor per entry of ``state_features`` (its
    feature size), each ``(state_layers, batch, features)`` (no batch dimension unbatched): a
    tensor ``h0`` for one entry, a tuple ``(h0, c0)`` for two. Packed kinds pack ``batch = 3``
    sequences of :data:`SORTED_LENGTHS` or :data:`UNSORTED_LENGTHS` (``seq_len >= 4``).
    """

    def make() -> Inputs:
        generator = torch.Generator().manual_seed(7)
        unbatched = kind.startswith("unbatched")
        if kind == "batch_first":
            x = leaf(generator, (batch, seq_len, input_size), dtype)
        elif unbatched:
            x = leaf(generator, (seq_len, input_size), dtype)
        else:
            x = leaf(generator, (seq_len, batch, input_size), dtype)
        leaves: Dict[str, Tensor] = {"input": x}
        input: Any = x
        if kind.startswith("packed"):
            lengths = SORTED_LENGTHS if kind == "packed" else UNSORTED_LENGTHS
            input = pack_padded_sequence(x, torch.tensor(lengths), enforce_sorted=kind == "packed")
        if not with_state:
            return (input,), leaves
        batch_shape = () if unbatched else (batch,)
        states = [leaf(generator, (state_layers, *batch_shape, features), dtype) for features in state_features]
        leaves.update(zip(["h0", "c0"], states))
        return (input, states[0] if len(states) == 1 else tuple(states)), leaves

    return make
