"""torch_ext.LSTMCell against torch.nn.LSTMCell: parameters, forward, gradients, errors, module API.

Tolerances: float32 atol = rtol = 1e-5, float64 atol = rtol = 1e-10 (module_parity.TOLERANCES).
"""

import copy
import itertools
import pickle
from typing import Any, Callable, Dict, Tuple

import pytest
import torch
from module_parity import (
    Inputs,
    assert_close,
    assert_same_error,
    assert_same_forward_backward,
    assert_same_parameters,
    build_pair,
    leaf,
)
from torch import nn

import torch_ext

BATCH, INPUT_SIZE, HIDDEN_SIZE = 3, 4, 5


def cell_inputs(
    batched: bool, with_state: bool, dtype: torch.dtype = torch.float32, batch: int = BATCH
) -> Callable[[], Inputs]:
    """A factory of fresh, seeded inputs for an LSTMCell(INPUT_SIZE, HIDDEN_SIZE)."""

    def make() -> Inputs:
        generator = torch.Generator().manual_seed(7)
        batch_shape = (batch,) if batched else ()
        x = leaf(generator, (*batch_shape, INPUT_SIZE), dtype)
        if not with_state:
            return (x,), {"input": x}
        h0 = leaf(generator, (*batch_shape, HIDDEN_SIZE), dtype)
        c0 = leaf(generator, (*batch_shape, HIDDEN_SIZE), dtype)
        return (x, (h0, c0)), {"input": x, "h0": h0, "c0": c0}

    return make


def cell_pair(seed: int = 0, **kwargs: Any) -> Tuple[nn.LSTMCell, torch_ext.LSTMCell]:
    return build_pair(nn.LSTMCell, torch_ext.LSTMCell, INPUT_SIZE, HIDDEN_SIZE, seed=seed, **kwargs)


GRID = list(itertools.product([True, False], [True, False], [True, False]))


@pytest.mark.parametrize(
    "batched, with_state, bias",
    GRID,
    ids=[
        f"{'batched' if b else 'unbatched'}-{'hx' if s else 'nohx'}-{'bias' if bias else 'nobias'}"
        for b, s, bias in GRID
    ],
)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_forward_and_gradients_match_nn(
    batched: bool, with_state: bool, bias: bool, dtype: torch.dtype
) -> None:
    reference, ours = cell_pair(bias=bias, dtype=dtype)
    assert_same_forward_backward(ours, reference, cell_inputs(batched, with_state, dtype))


def test_unrolled_sequence_matches_nn() -> None:
    """Stepping the cell over a sequence, gradients flowing through every step."""
    reference, ours = cell_pair()

    def run(cell: nn.Module) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        generator = torch.Generator().manual_seed(3)
        inputs = leaf(generator, (6, BATCH, INPUT_SIZE))
        hx, cx = leaf(generator, (BATCH, HIDDEN_SIZE)), leaf(generator, (BATCH, HIDDEN_SIZE))
        state = (hx, cx)
        outputs = []
        for x_t in inputs:
            state = cell(x_t, state)
            outputs.append(state[0])
        result = torch.stack(outputs)
        (result.square().sum() + state[1].sum()).backward()
        gradients = {"input": inputs.grad, "h0": hx.grad, "c0": cx.grad}
        gradients.update({name: p.grad for name, p in cell.named_parameters()})
        return result.detach(), gradients

    actual, actual_gradients = run(ours)
    expected, expected_gradients = run(reference)
    assert_close(actual, expected, "outputs")
    for name, gradient in expected_gradients.items():
        assert_close(actual_gradients[name], gradient, f"grad of {name}")


def test_empty_batch_matches_nn() -> None:
    reference, ours = cell_pair()
    assert_same_forward_backward(ours, reference, cell_inputs(True, True, batch=0))


@pytest.mark.parametrize("kwargs", [{}, dict(bias=False), dict(bias=True)])
def test_repr_and_attributes_match_nn(kwargs: Dict[str, Any]) -> None:
    reference, ours = cell_pair(**kwargs)
    assert repr(ours) == repr(reference)
    for name in ["input_size", "hidden_size", "bias", "bias_ih", "bias_hh"]:
        if getattr(reference, name) is None:
            assert getattr(ours, name) is None, name
        elif isinstance(getattr(reference, name), torch.Tensor):
            assert torch.equal(getattr(ours, name), getattr(reference, name)), name
        else:
            assert getattr(ours, name) == getattr(reference, name), name
    assert list(ours.state_dict()) == list(reference.state_dict())
    assert not isinstance(ours, nn.RNNCellBase)


@pytest.mark.parametrize("direction", ["nn_to_ours", "ours_to_nn"])
@pytest.mark.parametrize("bias", [True, False])
def test_state_dict_loads_both_ways(direction: str, bias: bool) -> None:
    reference, _ = cell_pair(seed=1, bias=bias)
    _, ours = cell_pair(seed=2, bias=bias)
    source, target = (reference, ours) if direction == "nn_to_ours" else (ours, reference)
    target.load_state_dict(source.state_dict())
    assert_same_parameters(ours, reference)
    assert_same_forward_backward(ours, reference, cell_inputs(True, True))


def test_functional_call_uses_the_given_parameters() -> None:
    reference, ours = cell_pair()
    replacement = {name: (p.detach() * -2.0).requires_grad_() for name, p in ours.named_parameters()}
    reference_replacement = {name: p.detach().clone().requires_grad_() for name, p in replacement.items()}
    (x, hx), _ = cell_inputs(True, True)()
    h_1, c_1 = torch.func.functional_call(ours, replacement, (x, hx))
    h_expected, c_expected = torch.func.functional_call(reference, reference_replacement, (x, hx))
    assert_close(h_1, h_expected, "h_1")
    assert_close(c_1, c_expected, "c_1")
    assert not torch.allclose(h_1, ours(x, hx)[0]), "the replacement parameters should change the output"
    (h_1.sum() + c_1.sum()).backward()
    (h_expected.sum() + c_expected.sum()).backward()
    for name in replacement:
        assert_close(replacement[name].grad, reference_replacement[name].grad, f"grad of {name}")


@pytest.mark.parametrize("convert", ["double", "to_dtype"])
def test_dtype_conversion(convert: str) -> None:
    reference, ours = cell_pair()
    if convert == "double":
        reference, ours = reference.double(), ours.double()
    else:
        reference, ours = reference.to(torch.float64), ours.to(torch.float64)
    assert ours.weight_ih.dtype == torch.float64
    assert_same_forward_backward(ours, reference, cell_inputs(True, True, torch.float64))


@pytest.mark.parametrize("duplicate", ["deepcopy", "pickle"])
def test_copies_are_independent_and_equal(duplicate: str) -> None:
    _, ours = cell_pair()
    twin = copy.deepcopy(ours) if duplicate == "deepcopy" else pickle.loads(pickle.dumps(ours))
    assert type(twin) is torch_ext.LSTMCell and repr(twin) == repr(ours)
    assert_same_parameters(twin, ours)
    (x, hx), _ = cell_inputs(True, True)()
    assert torch.equal(twin(x, hx)[0], ours(x, hx)[0])
    with torch.no_grad():
        twin.weight_hh.mul_(2.0)
    assert not torch.equal(twin(x, hx)[0], ours(x, hx)[0])


# ------------------------------------------------------------------------------------- errors

CONSTRUCTOR_ERRORS: Dict[str, Tuple[Tuple[Any, ...], Dict[str, Any]]] = {
    "no_arguments": ((), {}),
    "missing_hidden_size": ((3,), {}),
    "too_many_positional": ((3, 4, True, None, None, 5), {}),
    "unknown_keyword": ((3, 4), dict(foo=1)),
    "hidden_size_negative": ((3, -1), {}),
    "input_size_negative": ((-3, 4), {}),
    "input_size_float": ((3.0, 4), {}),
    "hidden_size_float": ((3, 4.0), {}),
    "input_size_string": (("3", 4), {}),
    "integer_dtype": ((3, 4), dict(dtype=torch.int64)),
}


@pytest.mark.parametrize("args, kwargs", CONSTRUCTOR_ERRORS.values(), ids=CONSTRUCTOR_ERRORS.keys())
def test_constructor_errors_match_nn(args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> None:
    assert_same_error(lambda: nn.LSTMCell(*args, **kwargs), lambda: torch_ext.LSTMCell(*args, **kwargs))


def _states(*shape: int) -> Tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(shape), torch.randn(shape)


X = torch.randn(2, INPUT_SIZE)
FORWARD_ERRORS: Dict[str, Callable[[], Tuple[Any, ...]]] = {
    "input_3d": lambda: (torch.randn(1, 2, INPUT_SIZE),),
    "input_0d": lambda: (torch.tensor(1.0),),
    "h0_3d": lambda: (X, (torch.randn(1, 2, HIDDEN_SIZE), torch.randn(2, HIDDEN_SIZE))),
    "c0_3d": lambda: (X, (torch.randn(2, HIDDEN_SIZE), torch.randn(1, 2, HIDDEN_SIZE))),
    "h0_0d": lambda: (X, (torch.tensor(0.0), torch.randn(2, HIDDEN_SIZE))),
    "input_size": lambda: (torch.randn(2, 7),),
    "input_size_unbatched": lambda: (torch.randn(7),),
    "h0_features": lambda: (X, (torch.randn(2, 7), torch.randn(2, HIDDEN_SIZE))),
    "c0_features": lambda: (X, (torch.randn(2, HIDDEN_SIZE), torch.randn(2, 7))),
    "h0_batch": lambda: (X, (torch.randn(3, HIDDEN_SIZE), torch.randn(2, HIDDEN_SIZE))),
    "c0_batch": lambda: (X, (torch.randn(2, HIDDEN_SIZE), torch.randn(3, HIDDEN_SIZE))),
    "unbatched_h0_features": lambda: (torch.randn(INPUT_SIZE), (torch.randn(7), torch.randn(HIDDEN_SIZE))),
    "hx_single_tensor": lambda: (X, torch.randn(2, HIDDEN_SIZE)),
    "hx_single_3d_tensor": lambda: (X, torch.randn(2, 2, HIDDEN_SIZE)),
    "hx_one_tuple": lambda: (X, (torch.randn(2, HIDDEN_SIZE),)),
    "hx_three_tuple": lambda: (X, (torch.randn(2, HIDDEN_SIZE),) * 3),
    "hx_with_none": lambda: (X, (torch.randn(2, HIDDEN_SIZE), None)),
    "input_not_a_tensor": lambda: ([1.0, 2.0],),
}


@pytest.mark.parametrize("make_args", FORWARD_ERRORS.values(), ids=FORWARD_ERRORS.keys())
def test_forward_errors_match_nn(make_args: Callable[[], Tuple[Any, ...]]) -> None:
    reference, ours = cell_pair()
    args = make_args()
    assert_same_error(lambda: reference(*args), lambda: ours(*args))


# nn's messages for these come from ATen's kernels (e.g. "mat1 and mat2 must have the same
# dtype", or a batch-size message for a 1-D state given with a batch); ours raises the same type
# with a message that names the argument and its shape.
FORWARD_ERRORS_SAME_TYPE: Dict[str, Callable[[], Tuple[Any, ...]]] = {
    "batched_input_1d_states": lambda: (X, _states(HIDDEN_SIZE)),
    "unbatched_input_2d_states": lambda: (torch.randn(INPUT_SIZE), _states(1, HIDDEN_SIZE)),
    "input_dtype": lambda: (X.double(),),
    "h0_dtype": lambda: (X, (torch.randn(2, HIDDEN_SIZE, dtype=torch.float64), torch.randn(2, HIDDEN_SIZE))),
    "input_integer": lambda: (X.long(),),
}


@pytest.mark.parametrize("make_args", FORWARD_ERRORS_SAME_TYPE.values(), ids=FORWARD_ERRORS_SAME_TYPE.keys())
def test_forward_errors_match_nn_type(make_args: Callable[[], Tuple[Any, ...]]) -> None:
    reference, ours = cell_pair()
    args = make_args()
    assert_same_error(lambda: reference(*args), lambda: ours(*args), compare_message=False)


def test_batched_input_with_1d_states_of_batch_length_raises_like_nn() -> None:
    reference, ours = build_pair(nn.LSTMCell, torch_ext.LSTMCell, INPUT_SIZE, 4)
    args = (torch.randn(4, INPUT_SIZE), (torch.randn(4), torch.randn(4)))
    assert_same_error(lambda: reference(*args), lambda: ours(*args))
