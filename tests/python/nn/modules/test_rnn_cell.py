"""torch_ext.LSTMCell, GRUCell and RNNCell (tanh, relu) against their torch.nn namesakes:
parameters, forward, gradients, errors, module API.

The original GRU form, ``GRUCell(reset_after=False)``, has no torch.nn namesake: see
test_gru_reset_before.py.

Tolerances: float32 atol = rtol = 1e-5, float64 atol = rtol = 1e-10 (module_parity.TOLERANCES).
"""

import copy
import itertools
import pickle
import re
from typing import Any, Callable, Dict, List, Tuple

import pytest
import torch
from module_parity import (
    Inputs,
    Namesakes,
    assert_close,
    assert_same_error,
    assert_same_forward_backward,
    assert_same_parameters,
    build_pair,
    leaf,
    parametrize_namesakes,
)
from torch import Tensor, nn

import torch_ext

BATCH, INPUT_SIZE, HIDDEN_SIZE = 3, 4, 5


class CellFamily(Namesakes):
    """A torch_ext cell, its torch.nn namesake and the options that select the variant."""

    @property
    def num_states(self) -> int:
        return 2 if self.ours is torch_ext.LSTMCell else 1

    def pair(self, seed: int = 0, hidden_size: int = HIDDEN_SIZE, **kwargs: Any) -> Tuple[nn.Module, nn.Module]:
        return self.build_pair(INPUT_SIZE, hidden_size, seed=seed, **kwargs)

    def inputs(
        self, batched: bool, with_state: bool, dtype: torch.dtype = torch.float32, batch: int = BATCH
    ) -> Callable[[], Inputs]:
        """Fresh seeded inputs; the state is h0, or (h0, c0) for the LSTM cell."""

        def make() -> Inputs:
            generator = torch.Generator().manual_seed(7)
            batch_shape = (batch,) if batched else ()
            x = leaf(generator, (*batch_shape, INPUT_SIZE), dtype)
            if not with_state:
                return (x,), {"input": x}
            states = [leaf(generator, (*batch_shape, HIDDEN_SIZE), dtype) for _ in range(self.num_states)]
            leaves = {"input": x, **dict(zip(["h0", "c0"], states))}
            return (x, states[0] if len(states) == 1 else tuple(states)), leaves

        return make

    def states(self, *shape: int) -> Any:
        """A random state of the family's structure, each tensor of ``shape``."""
        states = [torch.randn(shape) for _ in range(self.num_states)]
        return states[0] if len(states) == 1 else tuple(states)


LSTM_CELL = CellFamily("LSTMCell", torch_ext.LSTMCell, nn.LSTMCell)
GRU_CELL = CellFamily("GRUCell", torch_ext.GRUCell, nn.GRUCell)
RNN_TANH_CELL = CellFamily("RNNCell_tanh", torch_ext.RNNCell, nn.RNNCell)
RNN_RELU_CELL = CellFamily("RNNCell_relu", torch_ext.RNNCell, nn.RNNCell, (("nonlinearity", "relu"),))
FAMILIES = [LSTM_CELL, GRU_CELL, RNN_TANH_CELL, RNN_RELU_CELL]
CLASSES = [LSTM_CELL, GRU_CELL, RNN_TANH_CELL]


def families(selection: List[CellFamily] = FAMILIES) -> Any:
    return parametrize_namesakes(selection)


def first_state(state: Any) -> Tensor:
    return state if isinstance(state, Tensor) else state[0]


GRID = list(itertools.product([True, False], [True, False], [True, False]))


@families()
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
    family: CellFamily, batched: bool, with_state: bool, bias: bool, dtype: torch.dtype
) -> None:
    reference, ours = family.pair(bias=bias, dtype=dtype)
    assert_same_forward_backward(ours, reference, family.inputs(batched, with_state, dtype))


@families()
def test_unrolled_sequence_matches_nn(family: CellFamily) -> None:
    """Stepping the cell over a sequence, gradients flowing through every step."""
    reference, ours = family.pair()

    def run(cell: nn.Module) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        generator = torch.Generator().manual_seed(3)
        inputs = leaf(generator, (6, BATCH, INPUT_SIZE))
        initial = [leaf(generator, (BATCH, HIDDEN_SIZE)) for _ in range(family.num_states)]
        state: Any = initial[0] if len(initial) == 1 else tuple(initial)
        outputs = []
        for x_t in inputs:
            state = cell(x_t, state)
            outputs.append(first_state(state))
        result = torch.stack(outputs)
        last = state if isinstance(state, Tensor) else state[-1]
        (result.square().sum() + last.sum()).backward()
        gradients = {"input": inputs.grad, **{f"state {i}": t.grad for i, t in enumerate(initial)}}
        gradients.update({name: p.grad for name, p in cell.named_parameters()})
        return result.detach(), gradients

    actual, actual_gradients = run(ours)
    expected, expected_gradients = run(reference)
    assert_close(actual, expected, "outputs")
    for name, gradient in expected_gradients.items():
        assert_close(actual_gradients[name], gradient, f"grad of {name}")


@families()
def test_empty_batch_matches_nn(family: CellFamily) -> None:
    reference, ours = family.pair()
    assert_same_forward_backward(ours, reference, family.inputs(True, True, batch=0))


@families()
@pytest.mark.parametrize("kwargs", [{}, dict(bias=False), dict(bias=True)])
def test_repr_and_attributes_match_nn(family: CellFamily, kwargs: Dict[str, Any]) -> None:
    reference, ours = family.pair(**kwargs)
    assert repr(ours) == repr(reference)
    names = ["input_size", "hidden_size", "bias", "bias_ih", "bias_hh"]
    if hasattr(reference, "nonlinearity"):
        names.append("nonlinearity")
    for name in names:
        if getattr(reference, name) is None:
            assert getattr(ours, name) is None, name
        elif isinstance(getattr(reference, name), torch.Tensor):
            assert torch.equal(getattr(ours, name), getattr(reference, name)), name
        else:
            assert getattr(ours, name) == getattr(reference, name), name
    assert list(ours.state_dict()) == list(reference.state_dict())
    assert not isinstance(ours, nn.RNNCellBase)


@pytest.mark.parametrize("args, kwargs", [((), dict(nonlinearity="relu")), ((False, "relu"), {}), ((), dict(bias=False))])
def test_rnn_cell_repr_shows_nonlinearity_like_nn(args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> None:
    reference, ours = build_pair(nn.RNNCell, torch_ext.RNNCell, INPUT_SIZE, HIDDEN_SIZE, *args, **kwargs)
    assert repr(ours) == repr(reference)


@families()
@pytest.mark.parametrize("direction", ["nn_to_ours", "ours_to_nn"])
@pytest.mark.parametrize("bias", [True, False])
def test_state_dict_loads_both_ways(family: CellFamily, direction: str, bias: bool) -> None:
    reference, _ = family.pair(seed=1, bias=bias)
    _, ours = family.pair(seed=2, bias=bias)
    source, target = (reference, ours) if direction == "nn_to_ours" else (ours, reference)
    target.load_state_dict(source.state_dict())
    assert_same_parameters(ours, reference)
    assert_same_forward_backward(ours, reference, family.inputs(True, True))


@families()
def test_functional_call_uses_the_given_parameters(family: CellFamily) -> None:
    reference, ours = family.pair()
    replacement = {name: (p.detach() * -2.0).requires_grad_() for name, p in ours.named_parameters()}
    reference_replacement = {name: p.detach().clone().requires_grad_() for name, p in replacement.items()}
    (x, hx), _ = family.inputs(True, True)()
    actual = torch.func.functional_call(ours, replacement, (x, hx))
    expected = torch.func.functional_call(reference, reference_replacement, (x, hx))
    for index, (a, e) in enumerate(zip(torch.utils._pytree.tree_leaves(actual), torch.utils._pytree.tree_leaves(expected))):
        assert_close(a, e, f"result {index}")
    assert not torch.allclose(first_state(actual), first_state(ours(x, hx))), "the parameters should change the result"
    sum(t.sum() for t in torch.utils._pytree.tree_leaves(actual)).backward()
    sum(t.sum() for t in torch.utils._pytree.tree_leaves(expected)).backward()
    for name in replacement:
        assert_close(replacement[name].grad, reference_replacement[name].grad, f"grad of {name}")


@families()
@pytest.mark.parametrize("convert", ["double", "to_dtype"])
def test_dtype_conversion(family: CellFamily, convert: str) -> None:
    reference, ours = family.pair()
    if convert == "double":
        reference, ours = reference.double(), ours.double()
    else:
        reference, ours = reference.to(torch.float64), ours.to(torch.float64)
    assert ours.weight_ih.dtype == torch.float64
    assert_same_forward_backward(ours, reference, family.inputs(True, True, torch.float64))


@families()
@pytest.mark.parametrize("duplicate", ["deepcopy", "pickle"])
def test_copies_are_independent_and_equal(family: CellFamily, duplicate: str) -> None:
    _, ours = family.pair()
    twin = copy.deepcopy(ours) if duplicate == "deepcopy" else pickle.loads(pickle.dumps(ours))
    assert type(twin) is family.ours and repr(twin) == repr(ours)
    assert_same_parameters(twin, ours)
    (x, hx), _ = family.inputs(True, True)()
    assert torch.equal(first_state(twin(x, hx)), first_state(ours(x, hx)))
    with torch.no_grad():
        twin.weight_hh.mul_(2.0)
    assert not torch.equal(first_state(twin(x, hx)), first_state(ours(x, hx)))


# ------------------------------------------------------------------------------------- errors

CONSTRUCTOR_CASES: Dict[str, Tuple[Tuple[Any, ...], Dict[str, Any]]] = {
    "no_arguments": ((), {}),
    "missing_hidden_size": ((3,), {}),
    "too_many_positional": ((3, 4, True, None, None, 5), {}),
    "too_many_positional_rnn_cell": ((3, 4, True, "tanh", None, None, 5), {}),
    "unknown_keyword": ((3, 4), dict(foo=1)),
    "hidden_size_negative": ((3, -1), {}),
    "input_size_negative": ((-3, 4), {}),
    "input_size_float": ((3.0, 4), {}),
    "hidden_size_float": ((3, 4.0), {}),
    "input_size_string": (("3", 4), {}),
    "integer_dtype": ((3, 4), dict(dtype=torch.int64)),
    "nonlinearity_keyword": ((3, 4), dict(nonlinearity="relu")),
    # nn.RNNCell takes any nonlinearity here and refuses it in the forward (see below).
    "nonlinearity_unknown": ((3, 4), dict(nonlinearity="sigmoid")),
    "nonlinearity_positional": ((3, 4, False, "relu"), {}),
}


@families(CLASSES)
@pytest.mark.parametrize("args, kwargs", CONSTRUCTOR_CASES.values(), ids=CONSTRUCTOR_CASES.keys())
def test_constructor_matches_nn(family: CellFamily, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> None:
    """Each call fails with nn's exception type and message, or, where nn accepts it, builds the
    same cell."""
    torch.manual_seed(0)
    try:
        reference = family.reference(*args, **kwargs)
    except Exception:  # noqa: BLE001 - the error is the subject under test
        assert_same_error(lambda: family.reference(*args, **kwargs), lambda: family.ours(*args, **kwargs))
        return
    torch.manual_seed(0)
    ours = family.ours(*args, **kwargs)
    assert_same_parameters(ours, reference)
    assert repr(ours) == repr(reference)


@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("nonlinearity", ["sigmoid", "RELU", None])
def test_rnn_cell_unknown_nonlinearity_fails_in_forward_like_nn(batched: bool, nonlinearity: Any) -> None:
    reference, ours = build_pair(nn.RNNCell, torch_ext.RNNCell, INPUT_SIZE, HIDDEN_SIZE, nonlinearity=nonlinearity)
    x = torch.randn(2, INPUT_SIZE) if batched else torch.randn(INPUT_SIZE)
    error = assert_same_error(lambda: reference(x), lambda: ours(x))
    assert isinstance(error, RuntimeError)
    # The rank checks come first, as in nn.
    assert_same_error(lambda: reference(torch.randn(1, 2, INPUT_SIZE)), lambda: ours(torch.randn(1, 2, INPUT_SIZE)))


X = torch.randn(2, INPUT_SIZE)
H = HIDDEN_SIZE
LSTM_CELL_ERRORS: Dict[str, Callable[[], Tuple[Any, ...]]] = {
    "h0_3d_c0_2d": lambda: (X, (torch.randn(1, 2, H), torch.randn(2, H))),
    "c0_3d": lambda: (X, (torch.randn(2, H), torch.randn(1, 2, H))),
    "h0_0d": lambda: (X, (torch.tensor(0.0), torch.randn(2, H))),
    "c0_features": lambda: (X, (torch.randn(2, H), torch.randn(2, 7))),
    "c0_batch": lambda: (X, (torch.randn(2, H), torch.randn(3, H))),
    "hx_single_tensor": lambda: (X, torch.randn(2, H)),
    "hx_single_3d_tensor": lambda: (X, torch.randn(2, 2, H)),
    "hx_one_tuple": lambda: (X, (torch.randn(2, H),)),
    "hx_three_tuple": lambda: (X, (torch.randn(2, H),) * 3),
    "hx_with_none": lambda: (X, (torch.randn(2, H), None)),
}
SINGLE_STATE_CELL_ERRORS: Dict[str, Callable[[], Tuple[Any, ...]]] = {
    "h0_0d": lambda: (X, torch.tensor(0.0)),
    "hx_tuple": lambda: (X, (torch.randn(2, H),)),
    "hx_list": lambda: (X, [torch.randn(2, H)]),
}
# Errors of every cell: the rank checks in Python, the rest from the op (whose messages are ATen's).
COMMON_CELL_ERRORS: Dict[str, Callable[[CellFamily], Tuple[Any, ...]]] = {
    "input_3d": lambda f: (torch.randn(1, 2, INPUT_SIZE),),
    "input_0d": lambda f: (torch.tensor(1.0),),
    "h0_3d": lambda f: (X, f.states(1, 2, H)),
    "input_size": lambda f: (torch.randn(2, 7),),
    "input_size_unbatched": lambda f: (torch.randn(7),),
    "h0_features": lambda f: (X, f.states(2, 7)),
    "h0_batch": lambda f: (X, f.states(3, H)),
    "unbatched_h0_features": lambda f: (torch.randn(INPUT_SIZE), f.states(7)),
    "input_not_a_tensor": lambda f: ([1.0, 2.0],),
}
FORWARD_ERRORS = [
    pytest.param(family, make, id=f"{family.id}-{name}")
    for family in FAMILIES
    for name, make in [
        *((name, lambda f, make=make: make(f)) for name, make in COMMON_CELL_ERRORS.items()),
        *(
            (name, lambda f, make=make: make())
            for name, make in (LSTM_CELL_ERRORS if family.num_states == 2 else SINGLE_STATE_CELL_ERRORS).items()
        ),
    ]
]


@pytest.mark.parametrize("family, make_args", FORWARD_ERRORS)
def test_forward_errors_match_nn(family: CellFamily, make_args: Callable[[CellFamily], Tuple[Any, ...]]) -> None:
    reference, ours = family.pair()
    args = make_args(family)
    assert_same_error(lambda: reference(*args), lambda: ours(*args))


# nn's messages for these come from ATen's kernels (e.g. "mat1 and mat2 must have the same
# dtype"); ours raises the same type with a message that names the argument and its shape.
FORWARD_ERRORS_SAME_TYPE: Dict[str, Callable[[CellFamily], Tuple[Any, ...]]] = {
    "batched_input_1d_states": lambda f: (X, f.states(H)),
    "unbatched_input_2d_states": lambda f: (torch.randn(INPUT_SIZE), f.states(1, H)),
    "input_dtype": lambda f: (X.double(),),
    "h0_dtype": lambda f: (X, f.states(2, H).double() if f.num_states == 1 else (torch.randn(2, H).double(), f.states(2, H)[1])),
    "input_integer": lambda f: (X.long(),),
}


@families()
@pytest.mark.parametrize("make_args", FORWARD_ERRORS_SAME_TYPE.values(), ids=FORWARD_ERRORS_SAME_TYPE.keys())
def test_forward_errors_match_nn_type(family: CellFamily, make_args: Callable[[CellFamily], Tuple[Any, ...]]) -> None:
    reference, ours = family.pair()
    args = make_args(family)
    assert_same_error(lambda: reference(*args), lambda: ours(*args), compare_message=False)


@pytest.mark.parametrize(
    "cell", [torch_ext.LSTMCell, torch_ext.GRUCell, torch_ext.RNNCell, torch_ext.LayerNormLSTMCell, torch_ext.LayerNormGRUCell]
)
def test_unbatched_input_with_2d_states_is_refused(cell: Any) -> None:
    """nn unsqueezes the 2-D state to 3-D and ATen reads it out of bounds where the sizes pass its
    checks (one unit, a batch of one: nn.LSTMCell crashes; found by fuzzing). Ours refuses it."""
    module = cell(1, 1)
    state = torch.zeros(1, 1)
    hx = (state, state) if cell in (torch_ext.LSTMCell, torch_ext.LayerNormLSTMCell) else state
    name = "hx[0]" if isinstance(hx, tuple) else "hx"
    with pytest.raises(RuntimeError, match=rf"For unbatched 1-D input, {re.escape(name)} should also be 1-D but got 2-D tensor"):
        module(torch.randn(1), hx)


@families()
def test_batched_input_with_1d_states_of_batch_length_raises_like_nn(family: CellFamily) -> None:
    """nn's IndexError ("Dimension out of range", from ATen reading the state's size(1)); ours the
    same type, with a message that names the state."""
    reference, ours = family.pair(hidden_size=4)
    args = (torch.randn(4, INPUT_SIZE), family.states(4))
    error = assert_same_error(lambda: reference(*args), lambda: ours(*args), compare_message=False)
    assert isinstance(error, IndexError) and "expected hx[0] to be 2-D [batch, hidden_size]" in str(error)
