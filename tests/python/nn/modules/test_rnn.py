"""torch_ext.LSTM, GRU and RNN (tanh, relu) against their torch.nn namesakes: parameters, forward,
gradients, errors and the module API.

Each test runs for every family that it fits (LSTM's projections and two-tensor state only for
LSTM). The original GRU form, ``reset_after=False``, has no torch.nn namesake: see
test_gru_reset_before.py.

Tolerances: float32 atol = rtol = 1e-5, float64 atol = rtol = 1e-10 (module_parity.TOLERANCES).
"""

import copy
import itertools
import pickle
import warnings
from typing import Any, Callable, Dict, List, Tuple

import numpy as np
import pytest
import torch
from module_parity import (
    INPUT_KINDS,
    UNSORTED_LENGTHS,
    Inputs,
    Namesakes,
    assert_close,
    assert_same_error,
    assert_same_forward_backward,
    assert_same_parameters,
    build_pair,
    flatten_result,
    ops_run_by,
    parametrize_namesakes,
    raised_by,
    recorded_warnings,
    sequence_inputs,
)
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

import torch_ext

pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")

SEQ_LEN, BATCH, INPUT_SIZE, HIDDEN_SIZE, PROJ_SIZE = 4, 3, 3, 5, 2


class Family(Namesakes):
    """A torch_ext multi-layer module, its torch.nn namesake and the options that select the variant."""

    @property
    def is_lstm(self) -> bool:
        return self.ours is torch_ext.LSTM

    @property
    def proj_sizes(self) -> Tuple[int, ...]:
        """The proj_size values the family takes (only LSTM projects)."""
        return (0, PROJ_SIZE) if self.is_lstm else (0,)

    def pair(self, seed: int = 0, proj_size: int = 0, **kwargs: Any) -> Tuple[nn.Module, nn.Module]:
        """(nn module, ours) from one seed, with the family's options; proj_size only when > 0."""
        if proj_size:
            kwargs["proj_size"] = proj_size
        return self.build_pair(INPUT_SIZE, HIDDEN_SIZE, seed=seed, **kwargs)

    def inputs(
        self,
        kind: str,
        num_layers: int,
        bidirectional: bool,
        with_state: bool,
        proj_size: int = 0,
        dtype: torch.dtype = torch.float32,
        batch: int = BATCH,
    ) -> Callable[[], Inputs]:
        """Fresh seeded inputs of one of INPUT_KINDS; the state is h0, or (h0, c0) for LSTM."""
        features = (proj_size or HIDDEN_SIZE, HIDDEN_SIZE) if self.is_lstm else (HIDDEN_SIZE,)
        layers = num_layers * (2 if bidirectional else 1)
        return sequence_inputs(kind, INPUT_SIZE, features, layers, with_state, dtype, batch, SEQ_LEN)


LSTM = Family("LSTM", torch_ext.LSTM, nn.LSTM)
GRU = Family("GRU", torch_ext.GRU, nn.GRU)
RNN_TANH = Family("RNN_TANH", torch_ext.RNN, nn.RNN)
RNN_RELU = Family("RNN_RELU", torch_ext.RNN, nn.RNN, (("nonlinearity", "relu"),))
FAMILIES = [LSTM, GRU, RNN_TANH, RNN_RELU]
SINGLE_STATE_FAMILIES = [GRU, RNN_TANH, RNN_RELU]
# One family per class, built without options (the constructor tests pass their own).
CLASSES = [LSTM, GRU, RNN_TANH]


def families(selection: List[Family] = FAMILIES) -> Any:
    return parametrize_namesakes(selection)


def state_list(state: Any) -> List[Tensor]:
    return [state] if isinstance(state, Tensor) else list(state)


def map_state(state: Any, function: Callable[[Tensor], Tensor]) -> Any:
    return function(state) if isinstance(state, Tensor) else tuple(function(t) for t in state)


# ------------------------------------------------------------------------------------- parity

GRID = [
    (family, *options)
    for family in FAMILIES
    for options in itertools.product(
        [1, 2, 3], [True, False], [False, True], family.proj_sizes, INPUT_KINDS, [False, True]
    )
]


@pytest.mark.parametrize(
    "family, num_layers, bias, bidirectional, proj_size, kind, with_state",
    GRID,
    ids=[
        f"{f.id}-L{n}-{'bias' if b else 'nobias'}-{'bi' if d else 'uni'}-proj{p}-{k}-{'hx' if s else 'nohx'}"
        for f, n, b, d, p, k, s in GRID
    ],
)
def test_forward_and_gradients_match_nn(
    family: Family, num_layers: int, bias: bool, bidirectional: bool, proj_size: int, kind: str, with_state: bool
) -> None:
    reference, ours = family.pair(
        num_layers=num_layers,
        bias=bias,
        batch_first=kind.endswith("batch_first"),
        bidirectional=bidirectional,
        proj_size=proj_size,
    )
    make_inputs = family.inputs(kind, num_layers, bidirectional, with_state, proj_size)
    assert_same_forward_backward(ours, reference, make_inputs)


@families()
@pytest.mark.parametrize(
    "num_layers, bias, bidirectional, projected, kind",
    [
        (2, True, True, True, "packed_unsorted"),
        (3, False, False, False, "batch_first"),
        (1, True, True, False, "unbatched"),
        (2, True, False, True, "batched"),
    ],
)
def test_float64_matches_nn(
    family: Family, num_layers: int, bias: bool, bidirectional: bool, projected: bool, kind: str
) -> None:
    proj_size = family.proj_sizes[-1] if projected else 0
    reference, ours = family.pair(
        num_layers=num_layers,
        bias=bias,
        batch_first=kind == "batch_first",
        bidirectional=bidirectional,
        proj_size=proj_size,
        dtype=torch.float64,
    )
    make_inputs = family.inputs(kind, num_layers, bidirectional, True, proj_size, dtype=torch.float64)
    assert_same_forward_backward(ours, reference, make_inputs)


@families()
def test_non_contiguous_input_matches_nn(family: Family) -> None:
    reference, ours = family.pair(num_layers=2, batch_first=True)

    def make() -> Inputs:
        x = torch.randn(SEQ_LEN, BATCH, INPUT_SIZE, generator=torch.Generator().manual_seed(3)).requires_grad_()
        return (x.transpose(0, 1),), {"input": x}

    assert_same_forward_backward(ours, reference, make)


@families()
def test_packed_states_follow_the_original_batch_order(family: Family) -> None:
    """With enforce_sorted=False, h_0 and h_n are indexed like the unsorted batch: each sequence's
    final state equals running that sequence alone from its own initial state."""
    _, module = family.pair(num_layers=2, bidirectional=True)
    (packed, h0), leaves = family.inputs("packed_unsorted", 2, True, True)()
    output, h_n = module(packed, h0)
    padded, _ = pad_packed_sequence(output)
    for index, length in enumerate(UNSORTED_LENGTHS):
        sequence = leaves["input"][:length, index]
        alone, h_alone = module(sequence, map_state(h0, lambda t: t[:, index]))
        assert_close(padded[:length, index], alone, f"output of sequence {index}")
        for position, (final, expected) in enumerate(zip(state_list(h_n), state_list(h_alone))):
            assert_close(final[:, index], expected, f"final state {position} of sequence {index}")


@families()
def test_packed_output_fields(family: Family) -> None:
    reference, ours = family.pair()
    (packed,), _ = family.inputs("packed_unsorted", 1, False, False)()
    expected, _ = reference(packed)
    actual, _ = ours(packed)
    assert isinstance(actual, PackedSequence)
    assert actual.batch_sizes is packed.batch_sizes
    assert torch.equal(actual.sorted_indices, expected.sorted_indices)
    assert torch.equal(actual.unsorted_indices, expected.unsorted_indices)


@families()
@pytest.mark.parametrize("batch_first", [False, True])
def test_empty_batch_matches_nn(family: Family, batch_first: bool) -> None:
    reference, ours = family.pair(num_layers=2, bidirectional=True, batch_first=batch_first)
    kind = "batch_first" if batch_first else "batched"
    assert_same_forward_backward(ours, reference, family.inputs(kind, 2, True, True, batch=0))
    empty = torch.randn((0, SEQ_LEN, INPUT_SIZE) if batch_first else (SEQ_LEN, 0, INPUT_SIZE))
    output, state = ours(empty)
    assert output.numel() == 0
    assert all(t.shape == (4, 0, HIDDEN_SIZE) for t in state_list(state))


@families()
def test_sequence_length_zero_raises_like_nn(family: Family) -> None:
    reference, ours = family.pair()
    x = torch.randn(0, BATCH, INPUT_SIZE)
    # nn's message comes from ATen's internals ("Expected sequence length to be larger than 0
    # in RNN"); ours names the op and the shape.
    error = assert_same_error(lambda: reference(x), lambda: ours(x), compare_message=False)
    assert isinstance(error, RuntimeError) and "sequence length" in str(error)


@families()
@pytest.mark.parametrize("kind", ["batched", "packed_unsorted"])
def test_forward_runs_torch_ext_ops_only(family: Family, kind: str) -> None:
    """Nothing falls back to ATen's recurrent ops: the dispatcher sees ours and no aten RNN kernel."""
    _, ours = family.pair(num_layers=2, bidirectional=True)
    names = ops_run_by(ours, family.inputs(kind, 2, True, True))
    assert any(name.startswith("torch_ext.") for name in names)
    aten_names = [name.lower() for name in names if not name.startswith("torch_ext.")]
    assert not [name for name in aten_names if any(word in name for word in ("lstm", "gru", "rnn"))], aten_names
    assert not isinstance(ours, nn.RNNBase)


# ------------------------------------------------------------------------------------- dropout


@families()
def test_eval_mode_ignores_dropout_exactly(family: Family) -> None:
    reference, ours = family.pair(num_layers=3, dropout=0.5)
    _, without_dropout = family.pair(num_layers=3)
    ours.eval(), without_dropout.eval(), reference.eval()
    (x, hx), _ = family.inputs("batched", 3, False, True)()
    actual = flatten_result(ours(x, hx))
    expected = flatten_result(without_dropout(x, hx))
    assert all(torch.equal(a, e) for (_, a), (_, e) in zip(actual, expected))
    assert_close(actual[0][1], reference(x, hx)[0], "output")


@families()
def test_training_dropout_is_random_and_seeded(family: Family) -> None:
    _, ours = family.pair(num_layers=2, dropout=0.5)
    (x,), _ = family.inputs("batched", 2, False, False)()
    torch.manual_seed(11)
    first, state_first = ours(x)
    second, _ = ours(x)
    torch.manual_seed(11)
    repeated, _ = ours(x)
    ours.eval()
    evaluated, state_eval = ours(x)
    h_first, h_eval = state_list(state_first)[0], state_list(state_eval)[0]
    assert not torch.equal(first, second), "two training calls should draw different masks"
    assert not torch.allclose(first, evaluated)
    assert torch.equal(first, repeated), "the same seed should give the same mask"
    # The last layer's states depend on the mask; the first layer's do not.
    assert torch.equal(h_first[0], h_eval[0]) and not torch.allclose(h_first[1], h_eval[1])


@families()
def test_training_dropout_backward(family: Family) -> None:
    _, ours = family.pair(num_layers=2, dropout=0.3)
    (x,), _ = family.inputs("batched", 2, False, False)()
    output, _ = ours(x)
    output.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in ours.parameters())


@families()
@pytest.mark.parametrize("dropout", [0.0, 1.0])
@pytest.mark.parametrize("kind", ["batched", "packed_unsorted"])
def test_deterministic_dropout_in_training_matches_nn(family: Family, dropout: float, kind: str) -> None:
    """dropout=0 drops nothing and dropout=1 zeroes every inner layer's output: both are
    deterministic, so values and gradients must match nn's in training mode."""
    reference, ours = family.pair(num_layers=3, dropout=dropout, bidirectional=True)
    assert ours.training and reference.training
    assert_same_forward_backward(ours, reference, family.inputs(kind, 3, True, True))


@families()
def test_dropout_with_one_layer_changes_nothing_in_training(family: Family) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference, ours = family.pair(dropout=0.9)
    assert_same_forward_backward(ours, reference, family.inputs("batched", 1, False, True))


# ------------------------------------------------------------------------------------- module API


@families()
def test_attributes_match_nn(family: Family) -> None:
    reference, ours = family.pair(
        num_layers=2, bias=False, batch_first=True, dropout=0.25, bidirectional=True, proj_size=family.proj_sizes[-1]
    )
    names = [
        "mode",
        "input_size",
        "hidden_size",
        "num_layers",
        "bias",
        "batch_first",
        "dropout",
        "bidirectional",
        "proj_size",
        "_flat_weights_names",
        "_all_weights",
        "training",
    ]
    if hasattr(reference, "nonlinearity"):
        names.append("nonlinearity")
    for name in names:
        assert getattr(ours, name) == getattr(reference, name), name
        assert type(getattr(ours, name)) is type(getattr(reference, name)), name
    assert len(ours._flat_weights) == len(ours._flat_weights_names)
    assert all(w is p for w, p in zip(ours._flat_weights, ours.parameters()))
    shapes = [[p.shape for p in layer] for layer in ours.all_weights]
    assert shapes == [[p.shape for p in layer] for layer in reference.all_weights]
    assert all(
        p is getattr(ours, name)
        for names, layer in zip(ours._all_weights, ours.all_weights)
        for name, p in zip(names, layer)
    )
    assert ours.flatten_parameters() is None
    assert_same_parameters(ours, reference)


@families()
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("projected", [False, True])
def test_parameter_layout_matches_nn(family: Family, bias: bool, projected: bool) -> None:
    proj_size = family.proj_sizes[-1] if projected else 0
    reference, ours = family.pair(num_layers=3, bias=bias, bidirectional=True, proj_size=proj_size, seed=3)
    assert list(ours.state_dict()) == list(reference.state_dict())
    assert ours._flat_weights_names == reference._flat_weights_names


@families()
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        dict(num_layers=2),
        dict(bias=False),
        dict(batch_first=True),
        dict(num_layers=2, dropout=0.5),
        dict(bidirectional=True),
        dict(proj_size=2),
        dict(num_layers=3, bias=False, batch_first=True, dropout=1, bidirectional=True, proj_size=4),
    ],
)
def test_repr_matches_nn(family: Family, kwargs: Dict[str, Any]) -> None:
    if "proj_size" in kwargs and not family.is_lstm:
        kwargs = {key: value for key, value in kwargs.items() if key != "proj_size"}
    reference, ours = family.pair(**kwargs)
    assert repr(ours) == repr(reference)


@families()
@pytest.mark.parametrize("direction", ["nn_to_ours", "ours_to_nn"])
def test_state_dict_loads_both_ways(family: Family, direction: str) -> None:
    proj_size = family.proj_sizes[-1]
    kwargs = dict(num_layers=2, bidirectional=True, proj_size=proj_size)
    reference, _ = family.pair(seed=1, **kwargs)
    _, ours = family.pair(seed=2, **kwargs)
    source, target = (reference, ours) if direction == "nn_to_ours" else (ours, reference)
    target.load_state_dict(source.state_dict())
    assert_same_parameters(ours, reference)
    assert_same_forward_backward(ours, reference, family.inputs("batched", 2, True, True, proj_size))


@families()
def test_functional_call_uses_the_given_parameters(family: Family) -> None:
    reference, ours = family.pair(num_layers=2, bidirectional=True)
    before = {name: p.detach().clone() for name, p in ours.named_parameters()}
    replacement = {name: (p.detach() * 0.5).requires_grad_() for name, p in ours.named_parameters()}
    reference_replacement = {name: p.detach().clone().requires_grad_() for name, p in replacement.items()}
    (x, hx), _ = family.inputs("batched", 2, True, True)()
    actual, actual_state = torch.func.functional_call(ours, replacement, (x, hx))
    expected, expected_state = torch.func.functional_call(reference, reference_replacement, (x, hx))
    h_n, h_expected = state_list(actual_state)[0], state_list(expected_state)[0]
    assert_close(actual, expected, "output")
    assert_close(h_n, h_expected, "h_n")
    assert not torch.allclose(actual, ours(x, hx)[0]), "the replacement parameters should change the output"
    (actual.sum() + h_n.sum()).backward()
    (expected.sum() + h_expected.sum()).backward()
    for name in replacement:
        assert_close(replacement[name].grad, reference_replacement[name].grad, f"grad of {name}")
        assert torch.equal(getattr(ours, name), before[name]), f"{name} changed"


@families()
def test_weight_norm_parametrization_matches_nn(family: Family) -> None:
    """A parametrized weight is computed on access: the forward must read it then."""
    reference, ours = family.pair(num_layers=2)
    for module in (reference, ours):
        nn.utils.parametrizations.weight_norm(module, "weight_hh_l0")
        with torch.no_grad():
            module.parametrizations.weight_hh_l0.original0.mul_(2.0)
    assert_same_forward_backward(ours, reference, family.inputs("batched", 2, False, True))


@families()
def test_reassigned_parameter_is_used(family: Family) -> None:
    reference, ours = family.pair(num_layers=2)
    new_weight = torch.randn_like(ours.weight_hh_l1)
    ours.weight_hh_l1 = nn.Parameter(new_weight.clone())
    reference.weight_hh_l1 = nn.Parameter(new_weight.clone())
    assert ours._flat_weights[ours._flat_weights_names.index("weight_hh_l1")] is ours.weight_hh_l1
    assert_same_forward_backward(ours, reference, family.inputs("batched", 2, False, True))


@families()
@pytest.mark.parametrize("convert", ["double", "to_dtype"])
def test_dtype_conversion(family: Family, convert: str) -> None:
    proj_size = family.proj_sizes[-1]
    reference, ours = family.pair(num_layers=2, proj_size=proj_size)
    if convert == "double":
        reference, ours = reference.double(), ours.double()
    else:
        reference, ours = reference.to(torch.float64), ours.to(torch.float64)
    assert all(w.dtype == torch.float64 for w in ours._flat_weights)
    make_inputs = family.inputs("batched", 2, False, True, proj_size, dtype=torch.float64)
    assert_same_forward_backward(ours, reference, make_inputs)
    ours.float()
    assert all(w.dtype == torch.float32 for w in ours._flat_weights)


@families()
@pytest.mark.parametrize("duplicate", ["deepcopy", "pickle"])
def test_copies_are_independent_and_equal(family: Family, duplicate: str) -> None:
    reference, ours = family.pair(num_layers=2, bidirectional=True, dropout=0.5)
    ours.eval()
    twin = copy.deepcopy(ours) if duplicate == "deepcopy" else pickle.loads(pickle.dumps(ours))
    assert type(twin) is family.ours and repr(twin) == repr(ours) and not twin.training
    assert twin.mode == ours.mode
    assert_same_parameters(twin, ours)
    assert all(a is not b for a, b in zip(twin.parameters(), ours.parameters()))
    assert all(w is p for w, p in zip(twin._flat_weights, twin.parameters()))
    (x, hx), _ = family.inputs("batched", 2, True, True)()
    assert torch.equal(twin(x, hx)[0], ours(x, hx)[0])
    with torch.no_grad():
        twin.weight_ih_l0.add_(1.0)
    assert not torch.equal(twin(x, hx)[0], ours(x, hx)[0])
    assert_same_parameters(ours, reference)


@families()
def test_torch_compile_without_graph_breaks(family: Family) -> None:
    reference, ours = family.pair(num_layers=2, bidirectional=True)
    (x, hx), _ = family.inputs("batched", 2, True, True)()
    compiled = torch.compile(ours, backend="eager", fullgraph=True)
    actual = flatten_result(compiled(x, hx))
    expected = flatten_result(reference(x, hx))
    assert [path for path, _ in actual] == [path for path, _ in expected]
    for (path, a), (_, e) in zip(actual, expected):
        assert_close(a, e, path)


@families()
def test_adam_training_matches_nn(family: Family) -> None:
    """20 Adam steps on the same data from the same start: the losses agree step by step."""
    torch.manual_seed(0)
    head = nn.Linear(2 * HIDDEN_SIZE, 1)
    generator = torch.Generator().manual_seed(5)
    inputs = torch.randn(6, 4, INPUT_SIZE, generator=generator)
    targets = torch.randn(6, 4, 1, generator=generator)
    losses = {}
    for name, recurrent in zip(["nn", "ours"], family.pair(num_layers=2, bidirectional=True)):
        model = nn.ModuleDict({"recurrent": recurrent, "head": copy.deepcopy(head)})
        optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
        trajectory = []
        for _ in range(20):
            optimizer.zero_grad()
            output, _ = model["recurrent"](inputs)
            loss = nn.functional.mse_loss(model["head"](output), targets)
            loss.backward()
            optimizer.step()
            trajectory.append(loss.item())
        losses[name] = torch.tensor(trajectory, dtype=torch.float64)
    assert losses["ours"][-1] < losses["ours"][0]
    torch.testing.assert_close(losses["ours"], losses["nn"], rtol=1e-5, atol=0)


# ------------------------------------------------------------------------------------- errors

CONSTRUCTOR_CASES: Dict[str, Tuple[Tuple[Any, ...], Dict[str, Any]]] = {
    "no_arguments": ((), {}),
    "missing_hidden_size": ((3,), {}),
    "too_many_positional": ((3, 4, 1, True, False, 0.0, False, 0, None, None, 5), {}),
    "unknown_keyword": ((3, 4), dict(foo=1)),
    "mode_keyword": ((3, 4), dict(mode="GRU")),
    "nonlinearity_keyword": ((3, 4), dict(nonlinearity="tanh")),
    "nonlinearity_relu": ((3, 4), dict(nonlinearity="relu")),
    "nonlinearity_unknown": ((3, 4), dict(nonlinearity="sigmoid")),
    "nonlinearity_upper_case": ((3, 4), dict(nonlinearity="TANH")),
    "nonlinearity_none": ((3, 4), dict(nonlinearity=None)),
    "nonlinearity_positional": ((3, 4, 2, "relu"), {}),
    "nonlinearity_positional_unknown": ((3, 4, 2, "gelu", True), {}),
    "nonlinearity_both_ways": ((3, 4, 2, "relu"), dict(nonlinearity="relu")),
    "dropout_string_number": ((3, 4, 2), dict(dropout="0.5")),
    "dropout_string": ((3, 4, 2), dict(dropout="abc")),
    "dropout_none": ((3, 4, 2), dict(dropout=None)),
    "dropout_bool": ((3, 4, 2), dict(dropout=True)),
    "dropout_negative": ((3, 4, 2), dict(dropout=-0.1)),
    "dropout_above_one": ((3, 4, 2), dict(dropout=1.5)),
    "dropout_nan": ((3, 4, 2), dict(dropout=float("nan"))),
    "dropout_complex": ((3, 4, 2), dict(dropout=1j)),
    "dropout_tensor": ((3, 4, 2), dict(dropout=torch.tensor(0.5))),
    "bias_int": ((3, 4), dict(bias=1)),
    "batch_first_none": ((3, 4), dict(batch_first=None)),
    "input_size_float": ((3.0, 4), {}),
    "input_size_zero": ((0, 4), {}),
    "input_size_negative": ((-2, 4), {}),
    "hidden_size_zero": ((3, 0), {}),
    "hidden_size_negative": ((3, -1), {}),
    "hidden_size_string": ((3, "4"), {}),
    "hidden_size_numpy": ((3, np.int64(4)), {}),
    "num_layers_zero": ((3, 4, 0), {}),
    "num_layers_negative": ((3, 4, -1), {}),
    "num_layers_float": ((3, 4, 2.0), {}),
    "num_layers_string": ((3, 4, "2"), {}),
    "num_layers_none": ((3, 4, None), {}),
    "proj_size_zero": ((3, 4), dict(proj_size=0)),
    "proj_size_valid": ((3, 4), dict(proj_size=2)),
    "proj_size_negative": ((3, 4), dict(proj_size=-1)),
    "proj_size_equal_hidden": ((3, 4), dict(proj_size=4)),
    "proj_size_above_hidden": ((3, 4), dict(proj_size=5)),
    "proj_size_float": ((3, 4), dict(proj_size=1.5)),
    "proj_size_string": ((3, 4), dict(proj_size="1")),
    "proj_size_none": ((3, 4), dict(proj_size=None)),
    # nn.GRU and nn.RNN refuse proj_size by keyword only: positionally it reaches RNNBase.
    "proj_size_positional": ((3, 4, 1, True, False, 0.0, False, 2), {}),
    "integer_dtype": ((3, 4), dict(dtype=torch.int64)),
}


@families(CLASSES)
@pytest.mark.parametrize("args, kwargs", CONSTRUCTOR_CASES.values(), ids=CONSTRUCTOR_CASES.keys())
def test_constructor_matches_nn(family: Family, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> None:
    """Each call fails with nn's exception type and message, or, where nn accepts it, builds the
    same module (as several calls do for one class and not another)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.manual_seed(0)
        try:
            reference = family.reference(*args, **kwargs)
        except Exception:  # noqa: BLE001 - the error is the subject under test
            assert_same_error(lambda: family.reference(*args, **kwargs), lambda: family.ours(*args, **kwargs))
            return
        torch.manual_seed(0)
        ours = family.ours(*args, **kwargs)
    assert_same_parameters(ours, reference)
    assert repr(ours) == repr(reference) and ours.mode == reference.mode


@families(CLASSES)
@pytest.mark.parametrize("dropout", [0.5, 1, np.float64(0.25)])
def test_dropout_with_one_layer_warns_like_nn(family: Family, dropout: Any) -> None:
    expected = recorded_warnings(lambda: family.reference(3, 4, dropout=dropout))
    actual = recorded_warnings(lambda: family.ours(3, 4, dropout=dropout))
    assert [(w.category, str(w.message)) for w in actual] == [(w.category, str(w.message)) for w in expected]
    assert len(actual) == 1 and actual[0].category is UserWarning
    assert actual[0].filename == __file__, "the warning should point at the line that built the module"


@families(CLASSES)
@pytest.mark.parametrize("kwargs", [dict(dropout=0.5, num_layers=2), dict(dropout=0.0)])
def test_no_dropout_warning_otherwise(family: Family, kwargs: Dict[str, Any]) -> None:
    assert recorded_warnings(lambda: family.ours(3, 4, **kwargs)) == []


def _states(layers: int, batch: Any, h_features: int, c_features: int) -> Tuple[torch.Tensor, torch.Tensor]:
    batch_shape = () if batch is None else (batch,)
    return torch.randn(layers, *batch_shape, h_features), torch.randn(layers, *batch_shape, c_features)


def _packed(
    lengths: Any = (SEQ_LEN, 2), enforce_sorted: bool = True, features: int = INPUT_SIZE, dtype: Any = torch.float32
) -> PackedSequence:
    padded = torch.randn(SEQ_LEN, 2, features, dtype=dtype)
    return pack_padded_sequence(padded, list(lengths), enforce_sorted=enforce_sorted)


X = torch.randn(SEQ_LEN, 2, INPUT_SIZE)
X_UNBATCHED = torch.randn(SEQ_LEN, INPUT_SIZE)
H = HIDDEN_SIZE
# A bad forward call: the module's keyword arguments, and a maker of the forward's arguments.
ForwardCase = Tuple[Dict[str, Any], Callable[[], Tuple[Any, ...]]]
INPUT_ERRORS: Dict[str, ForwardCase] = {
    "input_4d": ({}, lambda: (torch.randn(1, SEQ_LEN, 2, INPUT_SIZE),)),
    "input_1d": ({}, lambda: (torch.randn(INPUT_SIZE),)),
    "input_0d": ({}, lambda: (torch.tensor(1.0),)),
    "input_not_a_tensor": ({}, lambda: ([1.0, 2.0],)),
    "input_size": ({}, lambda: (torch.randn(SEQ_LEN, 2, 7),)),
    "input_size_batch_first": (dict(batch_first=True), lambda: (torch.randn(2, SEQ_LEN, 7),)),
    "input_size_unbatched": ({}, lambda: (torch.randn(SEQ_LEN, 7),)),
    "input_dtype": ({}, lambda: (X.double(),)),
    "input_integer": ({}, lambda: (X.long(),)),
}
LSTM_STATE_ERRORS: Dict[str, ForwardCase] = {
    "h0_features": ({}, lambda: (X, _states(1, 2, 6, H))),
    "h0_batch": ({}, lambda: (X, (torch.randn(1, 3, H), torch.randn(1, 2, H)))),
    "h0_layers": (dict(num_layers=2), lambda: (X, _states(1, 2, H, H))),
    "c0_features": ({}, lambda: (X, _states(1, 2, H, 6))),
    "c0_batch": ({}, lambda: (X, (torch.randn(1, 2, H), torch.randn(1, 3, H)))),
    "bidirectional_states": (dict(bidirectional=True), lambda: (X, _states(1, 2, H, H))),
    "h0_without_projection": (dict(proj_size=2), lambda: (X, _states(1, 2, H, H))),
    "c0_projected": (dict(proj_size=2), lambda: (X, _states(1, 2, 2, 2))),
    "unbatched_h0_features": ({}, lambda: (X_UNBATCHED, _states(1, None, 6, H))),
    "unbatched_input_batched_states": ({}, lambda: (X_UNBATCHED, _states(1, 2, H, H))),
    "batched_input_unbatched_states": ({}, lambda: (X, _states(1, None, H, H))),
    "batched_input_mixed_states": ({}, lambda: (X, (torch.randn(1, 2, H), torch.randn(1, 5)))),
    "hx_single_tensor": ({}, lambda: (X, torch.randn(1, 2, H))),
    "hx_one_tuple": ({}, lambda: (X, (torch.randn(1, 2, H),))),
    "hx_three_tuple": ({}, lambda: (X, (torch.randn(1, 2, H),) * 3)),
    "hx_with_none": ({}, lambda: (X, (torch.randn(1, 2, H), None))),
}
SINGLE_STATE_ERRORS: Dict[str, ForwardCase] = {
    "h0_features": ({}, lambda: (X, torch.randn(1, 2, 6))),
    "h0_batch": ({}, lambda: (X, torch.randn(1, 3, H))),
    "h0_layers": (dict(num_layers=2), lambda: (X, torch.randn(1, 2, H))),
    "bidirectional_state": (dict(bidirectional=True), lambda: (X, torch.randn(1, 2, H))),
    "h0_4d": ({}, lambda: (X, torch.randn(1, 1, 2, H))),
    "unbatched_h0_features": ({}, lambda: (X_UNBATCHED, torch.randn(1, 6))),
    "unbatched_input_batched_state": ({}, lambda: (X_UNBATCHED, torch.randn(1, 2, H))),
    "batched_input_unbatched_state": ({}, lambda: (X, torch.randn(1, H))),
    "hx_tuple": ({}, lambda: (X, (torch.randn(1, 2, H),))),
    "hx_pair": ({}, lambda: (X, _states(1, 2, H, H))),
    "hx_list": ({}, lambda: (X, [torch.randn(1, 2, H)])),
    "packed_input_size": ({}, lambda: (_packed(features=6),)),
    "packed_dtype": ({}, lambda: (_packed(dtype=torch.float64),)),
    "packed_h0_2d": ({}, lambda: (_packed(), torch.randn(1, H))),
    "packed_h0_features": ({}, lambda: (_packed(), torch.randn(1, 2, 6))),
    "packed_h0_layers": ({}, lambda: (_packed(), torch.randn(2, 2, H))),
    "packed_h0_batch": ({}, lambda: (_packed(), torch.randn(1, 3, H))),
    "packed_unsorted_h0_features": ({}, lambda: (_packed((2, SEQ_LEN), False), torch.randn(1, 2, 6))),
    "packed_unsorted_h0_tuple": ({}, lambda: (_packed((2, SEQ_LEN), False), (torch.randn(1, 2, H),))),
    "packed_h0_tuple": ({}, lambda: (_packed(), (torch.randn(1, 2, H),))),
}


def cases_per_family(
    common: Dict[str, ForwardCase], lstm: Dict[str, ForwardCase], single_state: Dict[str, ForwardCase]
) -> List[Any]:
    """``pytest.param(family, module_kwargs, make_args)`` per family and case: the common cases
    and those of the family's kind of state."""
    return [
        pytest.param(family, *case, id=f"{family.id}-{name}")
        for family in FAMILIES
        for table in [common, lstm if family.is_lstm else single_state]
        for name, case in table.items()
    ]


FORWARD_ERRORS = cases_per_family(INPUT_ERRORS, LSTM_STATE_ERRORS, SINGLE_STATE_ERRORS)


@pytest.mark.parametrize("family, module_kwargs, make_args", FORWARD_ERRORS)
def test_forward_errors_match_nn(family: Family, module_kwargs: Dict[str, Any], make_args: Callable[[], Any]) -> None:
    reference, ours = family.pair(**module_kwargs)
    args = make_args()
    assert_same_error(lambda: reference(*args), lambda: ours(*args))


# nn's message for these comes from ATen's argument parser or kernels ("mat1 and mat2 shapes
# cannot be multiplied", "got an incorrect number of RNN parameters", ...); ours raises the same
# type with a message that names the argument and sizes.
SCALAR_AND_DTYPE_ERRORS: Dict[str, ForwardCase] = {
    "bidirectional_not_bool": (dict(bidirectional=1), lambda: (X,)),
    "num_layers_bool": (dict(num_layers=True), lambda: (X,)),
    "bidirectional_not_bool_packed": (dict(bidirectional=1), lambda: (_packed((2, SEQ_LEN), False),)),
}
LSTM_ERRORS_SAME_TYPE: Dict[str, ForwardCase] = {
    "hx_stacked_tensor": ({}, lambda: (X, torch.randn(2, 1, 2, H))),
    "h0_dtype": ({}, lambda: (X, (torch.randn(1, 2, 5, dtype=torch.float64), torch.randn(1, 2, 5)))),
    "packed_single_tensor": ({}, lambda: (_packed(), torch.randn(1, 2, H))),
    "packed_input_size": ({}, lambda: (_packed(features=6),)),
    "packed_dtype": ({}, lambda: (_packed(dtype=torch.float64),)),
    "packed_h0_features": ({}, lambda: (_packed(), _states(1, 2, 6, H))),
    # nn: IndexError "Dimension out of range" from ATen; ours the same type, naming the state.
    "packed_states_2d": ({}, lambda: (_packed(), _states(1, None, H, H))),
    # nn: index_select's IndexError or RuntimeError by the sizes; ours the same, saying hx is no pair.
    "packed_unsorted_single_tensor": ({}, lambda: (_packed((2, SEQ_LEN), False), torch.randn(1, 2, 5))),
    "packed_unsorted_single_narrow_tensor": ({}, lambda: (_packed((2, SEQ_LEN), False), torch.randn(1, 2, 1))),
}
SINGLE_STATE_ERRORS_SAME_TYPE: Dict[str, ForwardCase] = {
    "h0_dtype": ({}, lambda: (X, torch.randn(1, 2, H, dtype=torch.float64))),
    "h0_integer": ({}, lambda: (X, torch.zeros(1, 2, H, dtype=torch.int64))),
    "packed_h0_dtype": ({}, lambda: (_packed(), torch.randn(1, 2, H, dtype=torch.float64))),
}
FORWARD_ERRORS_SAME_TYPE = cases_per_family(
    SCALAR_AND_DTYPE_ERRORS, LSTM_ERRORS_SAME_TYPE, SINGLE_STATE_ERRORS_SAME_TYPE
)


@pytest.mark.parametrize("family, module_kwargs, make_args", FORWARD_ERRORS_SAME_TYPE)
def test_forward_errors_match_nn_type(
    family: Family, module_kwargs: Dict[str, Any], make_args: Callable[[], Any]
) -> None:
    reference, ours = family.pair(**module_kwargs)
    args = make_args()
    assert_same_error(lambda: reference(*args), lambda: ours(*args), compare_message=False)


def test_lstm_packed_unsorted_single_tensor_state_says_so() -> None:
    _, ours = LSTM.pair()
    error = raised_by(lambda: ours(_packed((2, SEQ_LEN), False), torch.randn(1, 2, H)))
    assert "LSTM: expected hx to be a tuple (h_0, c_0), got a Tensor" in str(error)


def test_lstm_packed_2d_state_names_the_state() -> None:
    """nn.LSTM's IndexError names nothing ("Dimension out of range"); ours says which state and
    what it should be (found by fuzzing)."""
    _, ours = LSTM.pair()
    error = raised_by(lambda: ours(_packed(), _states(1, None, H, H)))
    assert isinstance(error, IndexError) and "LSTM: expected hx[0] to be 3-D for packed input, got a 2-D" in str(error)


@pytest.mark.parametrize(
    "make_args, message",
    [
        (lambda: (_packed(), _states(2, 2, 5, 5)), "expected hx[0] of shape [1, 2, 5], got [2, 2, 5]"),
        (lambda: (_packed(), _states(1, 3, 5, 5)), "hidden state holds 3 sequences"),
    ],
    ids=["packed_h0_layers", "packed_h0_batch"],
)
def test_lstm_packed_state_errors(make_args: Callable[[], Any], message: str) -> None:
    """nn.LSTM leaves these to ATen, which crashes (segfault) on the first one; ours raises."""
    _, ours = LSTM.pair()
    error = raised_by(lambda: ours(*make_args()))
    assert isinstance(error, RuntimeError) and message in str(error)


@families()
@pytest.mark.parametrize("state_shape", [(1, 1, H), (1, 0, H), (H,)], ids=["fewer", "none", "1d"])
def test_packed_unsorted_state_that_cannot_be_reordered_names_the_state(family: Family, state_shape) -> None:
    """torch.nn reorders the state into the packed order first and fails in index_select, whose
    words name nothing ("index out of range in self"); ours raises the same type and names the
    state (found by fuzzing)."""
    reference, ours = family.pair()
    packed = _packed((2, SEQ_LEN), False)
    state = torch.randn(*state_shape)
    hx = (state, state) if family.is_lstm else state
    expected, actual = raised_by(lambda: reference(packed, hx)), raised_by(lambda: ours(packed, hx))
    assert type(actual) is type(expected), (actual, expected)
    name = "hx[0]" if family.is_lstm else "hx"
    assert f"expected {name} to" in str(actual) and ("3-D" in str(actual) or "2 sequences" in str(actual))


@families(SINGLE_STATE_FAMILIES[:2])
@pytest.mark.parametrize("kind", ["batched", "packed"])
def test_positional_proj_size_fails_in_forward_like_nn(family: Family, kind: str) -> None:
    """nn.GRU and nn.RNN take proj_size positionally (their keyword check misses it) and build
    weight_hr; their forward then fails on the zero state's size. Ours does the same."""
    args = (INPUT_SIZE, HIDDEN_SIZE, 1, True, False, 0.0, False, PROJ_SIZE)
    if family.ours is torch_ext.RNN:
        args = args[:3] + ("tanh",) + args[3:]
    reference, ours = build_pair(family.reference, family.ours, *args)
    assert "weight_hr_l0" in dict(ours.named_parameters())
    input = X if kind == "batched" else _packed()
    assert_same_error(lambda: reference(input), lambda: ours(input))
