"""torch_ext.LSTM against torch.nn.LSTM: parameters, forward, gradients, errors and the module API.

Tolerances: float32 atol = rtol = 1e-5, float64 atol = rtol = 1e-10 (module_parity.TOLERANCES).
"""

import copy
import itertools
import pickle
import warnings
from typing import Any, Callable, Dict, List, Sequence, Tuple

import numpy as np
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
    raised_by,
    recorded_warnings,
)
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence
from torch.utils._python_dispatch import TorchDispatchMode

import torch_ext

pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")

SEQ_LEN, BATCH, INPUT_SIZE, HIDDEN_SIZE, PROJ_SIZE = 4, 3, 3, 5, 2
# Lengths of the packed batches: already sorted (enforce_sorted=True), and in no order.
SORTED_LENGTHS = [4, 3, 1]
UNSORTED_LENGTHS = [2, 4, 3]
INPUT_KINDS = ["batched", "batch_first", "unbatched", "unbatched_batch_first", "packed", "packed_unsorted"]


def lstm_inputs(
    kind: str,
    num_layers: int,
    bidirectional: bool,
    proj_size: int,
    with_state: bool,
    dtype: torch.dtype = torch.float32,
    batch: int = BATCH,
    seq_len: int = SEQ_LEN,
) -> Callable[[], Inputs]:
    """A factory of fresh, seeded inputs of one kind for an LSTM(INPUT_SIZE, HIDDEN_SIZE, ...)."""

    def make() -> Inputs:
        generator = torch.Generator().manual_seed(7)
        unbatched = kind.startswith("unbatched")
        if kind == "batch_first":
            x = leaf(generator, (batch, seq_len, INPUT_SIZE), dtype)
        elif unbatched:
            x = leaf(generator, (seq_len, INPUT_SIZE), dtype)
        else:
            x = leaf(generator, (seq_len, batch, INPUT_SIZE), dtype)
        leaves: Dict[str, torch.Tensor] = {"input": x}
        input: Any = x
        if kind.startswith("packed"):
            lengths = SORTED_LENGTHS if kind == "packed" else UNSORTED_LENGTHS
            input = pack_padded_sequence(x, torch.tensor(lengths), enforce_sorted=kind == "packed")
        if not with_state:
            return (input,), leaves
        layers = num_layers * (2 if bidirectional else 1)
        batch_shape = () if unbatched else (batch,)
        h0 = leaf(generator, (layers, *batch_shape, proj_size or HIDDEN_SIZE), dtype)
        c0 = leaf(generator, (layers, *batch_shape, HIDDEN_SIZE), dtype)
        leaves.update(h0=h0, c0=c0)
        return (input, (h0, c0)), leaves

    return make


def lstm_pair(seed: int = 0, **kwargs: Any) -> Tuple[nn.LSTM, torch_ext.LSTM]:
    return build_pair(nn.LSTM, torch_ext.LSTM, INPUT_SIZE, HIDDEN_SIZE, seed=seed, **kwargs)


# ------------------------------------------------------------------------------------- parity

GRID = list(
    itertools.product([1, 2, 3], [True, False], [False, True], [0, PROJ_SIZE], INPUT_KINDS, [False, True])
)


@pytest.mark.parametrize(
    "num_layers, bias, bidirectional, proj_size, kind, with_state",
    GRID,
    ids=[
        f"L{n}-{'bias' if b else 'nobias'}-{'bi' if d else 'uni'}-proj{p}-{k}-{'hx' if s else 'nohx'}"
        for n, b, d, p, k, s in GRID
    ],
)
def test_forward_and_gradients_match_nn(
    num_layers: int, bias: bool, bidirectional: bool, proj_size: int, kind: str, with_state: bool
) -> None:
    reference, ours = lstm_pair(
        num_layers=num_layers,
        bias=bias,
        batch_first=kind.endswith("batch_first"),
        bidirectional=bidirectional,
        proj_size=proj_size,
    )
    make_inputs = lstm_inputs(kind, num_layers, bidirectional, proj_size, with_state)
    assert_same_forward_backward(ours, reference, make_inputs)


@pytest.mark.parametrize(
    "num_layers, bias, bidirectional, proj_size, kind",
    [
        (2, True, True, PROJ_SIZE, "packed_unsorted"),
        (3, False, False, 0, "batch_first"),
        (1, True, True, 0, "unbatched"),
        (2, True, False, PROJ_SIZE, "batched"),
    ],
)
def test_float64_matches_nn(
    num_layers: int, bias: bool, bidirectional: bool, proj_size: int, kind: str
) -> None:
    reference, ours = lstm_pair(
        num_layers=num_layers,
        bias=bias,
        batch_first=kind == "batch_first",
        bidirectional=bidirectional,
        proj_size=proj_size,
        dtype=torch.float64,
    )
    make_inputs = lstm_inputs(kind, num_layers, bidirectional, proj_size, True, dtype=torch.float64)
    assert_same_forward_backward(ours, reference, make_inputs)


def test_non_contiguous_input_matches_nn() -> None:
    reference, ours = lstm_pair(num_layers=2, batch_first=True)

    def make() -> Inputs:
        x = leaf(torch.Generator().manual_seed(3), (SEQ_LEN, BATCH, INPUT_SIZE))
        return (x.transpose(0, 1),), {"input": x}

    assert_same_forward_backward(ours, reference, make)


def test_packed_states_follow_the_original_batch_order() -> None:
    """With enforce_sorted=False, h_0 and h_n are indexed like the unsorted batch: each sequence's
    final state equals running that sequence alone from its own initial state."""
    _, lstm = lstm_pair(num_layers=2, bidirectional=True)
    (packed, (h0, c0)), leaves = lstm_inputs("packed_unsorted", 2, True, 0, True)()
    output, (h_n, c_n) = lstm(packed, (h0, c0))
    padded, lengths = pad_packed_sequence(output)
    for index, length in enumerate(UNSORTED_LENGTHS):
        sequence = leaves["input"][:length, index]
        alone, (h_alone, c_alone) = lstm(sequence, (h0[:, index], c0[:, index]))
        assert_close(padded[:length, index], alone, f"output of sequence {index}")
        assert_close(h_n[:, index], h_alone, f"h_n of sequence {index}")
        assert_close(c_n[:, index], c_alone, f"c_n of sequence {index}")


def test_packed_output_fields() -> None:
    reference, ours = lstm_pair()
    (packed,), _ = lstm_inputs("packed_unsorted", 1, False, 0, False)()
    expected, _ = reference(packed)
    actual, _ = ours(packed)
    assert isinstance(actual, PackedSequence)
    assert actual.batch_sizes is packed.batch_sizes
    assert torch.equal(actual.sorted_indices, expected.sorted_indices)
    assert torch.equal(actual.unsorted_indices, expected.unsorted_indices)


@pytest.mark.parametrize("batch_first", [False, True])
def test_empty_batch_matches_nn(batch_first: bool) -> None:
    reference, ours = lstm_pair(num_layers=2, bidirectional=True, batch_first=batch_first)
    kind = "batch_first" if batch_first else "batched"
    assert_same_forward_backward(ours, reference, lstm_inputs(kind, 2, True, 0, True, batch=0))
    empty = torch.randn((0, SEQ_LEN, INPUT_SIZE) if batch_first else (SEQ_LEN, 0, INPUT_SIZE))
    output, (h_n, c_n) = ours(empty)
    assert output.numel() == 0 and h_n.shape == (4, 0, HIDDEN_SIZE) and c_n.shape == (4, 0, HIDDEN_SIZE)


def test_sequence_length_zero_raises_like_nn() -> None:
    reference, ours = lstm_pair()
    x = torch.randn(0, BATCH, INPUT_SIZE)
    # nn's message comes from ATen's internals ("Expected sequence length to be larger than 0
    # in RNN"); ours names the op and the shape.
    error = assert_same_error(lambda: reference(x), lambda: ours(x), compare_message=False)
    assert isinstance(error, RuntimeError) and "sequence length" in str(error)


def test_forward_runs_torch_ext_ops_only() -> None:
    """Nothing falls back to ATen's LSTM: the dispatcher sees our ops and no aten RNN kernel."""

    class OpLog(TorchDispatchMode):
        def __init__(self) -> None:
            super().__init__()
            self.names: set = set()

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
            self.names.add(str(func))
            return func(*args, **(kwargs or {}))

    _, ours = lstm_pair(num_layers=2, bidirectional=True)
    for kind in ("batched", "packed_unsorted"):
        args, _ = lstm_inputs(kind, 2, True, 0, True)()
        with OpLog() as log:
            output, (h_n, c_n) = ours(*args)
            data = output.data if isinstance(output, PackedSequence) else output
            (data.sum() + h_n.sum() + c_n.sum()).backward()
        assert any(name.startswith("torch_ext.") for name in log.names)
        aten_names = [name for name in log.names if not name.startswith("torch_ext.")]
        assert not [name for name in aten_names if "lstm" in name.lower() or "rnn" in name.lower()]
    assert not isinstance(ours, nn.RNNBase)


# ------------------------------------------------------------------------------------- dropout


def test_eval_mode_ignores_dropout_exactly() -> None:
    reference, ours = lstm_pair(num_layers=3, dropout=0.5)
    _, without_dropout = lstm_pair(num_layers=3)
    ours.eval(), without_dropout.eval(), reference.eval()
    (x, hx), _ = lstm_inputs("batched", 3, False, 0, True)()
    actual = ours(x, hx)
    expected = without_dropout(x, hx)
    assert torch.equal(actual[0], expected[0]) and torch.equal(actual[1][0], expected[1][0])
    assert torch.equal(actual[1][1], expected[1][1])
    assert_close(actual[0], reference(x, hx)[0], "output")


def test_training_dropout_is_random_and_seeded() -> None:
    _, ours = lstm_pair(num_layers=2, dropout=0.5)
    (x,), _ = lstm_inputs("batched", 2, False, 0, False)()
    torch.manual_seed(11)
    first, (h_first, _) = ours(x)
    second, _ = ours(x)
    torch.manual_seed(11)
    repeated, _ = ours(x)
    ours.eval()
    evaluated, (h_eval, _) = ours(x)
    assert not torch.equal(first, second), "two training calls should draw different masks"
    assert not torch.allclose(first, evaluated)
    assert torch.equal(first, repeated), "the same seed should give the same mask"
    # The last layer's states depend on the mask; the first layer's do not.
    assert torch.equal(h_first[0], h_eval[0]) and not torch.allclose(h_first[1], h_eval[1])


def test_training_dropout_backward() -> None:
    _, ours = lstm_pair(num_layers=2, dropout=0.3)
    (x,), _ = lstm_inputs("batched", 2, False, 0, False)()
    output, _ = ours(x)
    output.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in ours.parameters())


@pytest.mark.parametrize("dropout", [0.0, 1.0])
@pytest.mark.parametrize("kind", ["batched", "packed_unsorted"])
def test_deterministic_dropout_in_training_matches_nn(dropout: float, kind: str) -> None:
    """dropout=0 drops nothing and dropout=1 zeroes every inner layer's output: both are
    deterministic, so values and gradients must match nn's in training mode."""
    reference, ours = lstm_pair(num_layers=3, dropout=dropout, bidirectional=True)
    assert ours.training and reference.training
    assert_same_forward_backward(ours, reference, lstm_inputs(kind, 3, True, 0, True))


def test_dropout_with_one_layer_changes_nothing_in_training() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference, ours = lstm_pair(dropout=0.9)
    assert_same_forward_backward(ours, reference, lstm_inputs("batched", 1, False, 0, True))


# ------------------------------------------------------------------------------------- module API


def test_attributes_match_nn() -> None:
    reference, ours = lstm_pair(
        num_layers=2, bias=False, batch_first=True, dropout=0.25, bidirectional=True, proj_size=2
    )
    for name in [
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
    ]:
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


@pytest.mark.parametrize("bias, proj_size", [(True, 0), (False, 0), (True, 2), (False, 2)])
def test_parameter_layout_matches_nn(bias: bool, proj_size: int) -> None:
    reference, ours = lstm_pair(num_layers=3, bias=bias, bidirectional=True, proj_size=proj_size, seed=3)
    assert list(ours.state_dict()) == list(reference.state_dict())
    assert ours._flat_weights_names == reference._flat_weights_names


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
def test_repr_matches_nn(kwargs: Dict[str, Any]) -> None:
    reference, ours = lstm_pair(**kwargs)
    assert repr(ours) == repr(reference)


@pytest.mark.parametrize("direction", ["nn_to_ours", "ours_to_nn"])
def test_state_dict_loads_both_ways(direction: str) -> None:
    kwargs = dict(num_layers=2, bidirectional=True, proj_size=2)
    reference, _ = lstm_pair(seed=1, **kwargs)
    _, ours = lstm_pair(seed=2, **kwargs)
    source, target = (reference, ours) if direction == "nn_to_ours" else (ours, reference)
    target.load_state_dict(source.state_dict())
    assert_same_parameters(ours, reference)
    assert_same_forward_backward(ours, reference, lstm_inputs("batched", 2, True, 2, True))


def test_functional_call_uses_the_given_parameters() -> None:
    reference, ours = lstm_pair(num_layers=2, bidirectional=True)
    before = {name: p.detach().clone() for name, p in ours.named_parameters()}
    replacement = {name: (p.detach() * 0.5).requires_grad_() for name, p in ours.named_parameters()}
    reference_replacement = {name: p.detach().clone().requires_grad_() for name, p in replacement.items()}
    (x, hx), _ = lstm_inputs("batched", 2, True, 0, True)()
    actual, (h_n, _) = torch.func.functional_call(ours, replacement, (x, hx))
    expected, (h_expected, _) = torch.func.functional_call(reference, reference_replacement, (x, hx))
    assert_close(actual, expected, "output")
    assert_close(h_n, h_expected, "h_n")
    assert not torch.allclose(actual, ours(x, hx)[0]), "the replacement parameters should change the output"
    (actual.sum() + h_n.sum()).backward()
    (expected.sum() + h_expected.sum()).backward()
    for name in replacement:
        assert_close(replacement[name].grad, reference_replacement[name].grad, f"grad of {name}")
        assert torch.equal(getattr(ours, name), before[name]), f"{name} changed"


def test_weight_norm_parametrization_matches_nn() -> None:
    """A parametrized weight is computed on access: the forward must read it then."""
    reference, ours = lstm_pair(num_layers=2)
    for module in (reference, ours):
        nn.utils.parametrizations.weight_norm(module, "weight_hh_l0")
        with torch.no_grad():
            module.parametrizations.weight_hh_l0.original0.mul_(2.0)
    assert_same_forward_backward(ours, reference, lstm_inputs("batched", 2, False, 0, True))


def test_reassigned_parameter_is_used() -> None:
    reference, ours = lstm_pair(num_layers=2)
    new_weight = torch.randn_like(ours.weight_hh_l1)
    ours.weight_hh_l1 = nn.Parameter(new_weight.clone())
    reference.weight_hh_l1 = nn.Parameter(new_weight.clone())
    assert ours._flat_weights[ours._flat_weights_names.index("weight_hh_l1")] is ours.weight_hh_l1
    assert_same_forward_backward(ours, reference, lstm_inputs("batched", 2, False, 0, True))


@pytest.mark.parametrize("convert", ["double", "to_dtype"])
def test_dtype_conversion(convert: str) -> None:
    reference, ours = lstm_pair(num_layers=2, proj_size=2)
    if convert == "double":
        reference, ours = reference.double(), ours.double()
    else:
        reference, ours = reference.to(torch.float64), ours.to(torch.float64)
    assert all(w.dtype == torch.float64 for w in ours._flat_weights)
    make_inputs = lstm_inputs("batched", 2, False, 2, True, dtype=torch.float64)
    assert_same_forward_backward(ours, reference, make_inputs)
    ours.float()
    assert all(w.dtype == torch.float32 for w in ours._flat_weights)


@pytest.mark.parametrize("duplicate", ["deepcopy", "pickle"])
def test_copies_are_independent_and_equal(duplicate: str) -> None:
    reference, ours = lstm_pair(num_layers=2, bidirectional=True, dropout=0.5)
    ours.eval()
    twin = copy.deepcopy(ours) if duplicate == "deepcopy" else pickle.loads(pickle.dumps(ours))
    assert type(twin) is torch_ext.LSTM and repr(twin) == repr(ours) and not twin.training
    assert_same_parameters(twin, ours)
    assert all(a is not b for a, b in zip(twin.parameters(), ours.parameters()))
    assert all(w is p for w, p in zip(twin._flat_weights, twin.parameters()))
    (x, hx), _ = lstm_inputs("batched", 2, True, 0, True)()
    assert torch.equal(twin(x, hx)[0], ours(x, hx)[0])
    with torch.no_grad():
        twin.weight_ih_l0.add_(1.0)
    assert not torch.equal(twin(x, hx)[0], ours(x, hx)[0])
    assert_same_parameters(ours, reference)


def test_torch_compile_without_graph_breaks() -> None:
    reference, ours = lstm_pair(num_layers=2, bidirectional=True)
    (x, hx), _ = lstm_inputs("batched", 2, True, 0, True)()
    compiled = torch.compile(ours, backend="eager", fullgraph=True)
    actual, (h_n, c_n) = compiled(x, hx)
    expected, (h_expected, c_expected) = reference(x, hx)
    assert_close(actual, expected, "output")
    assert_close(h_n, h_expected, "h_n")
    assert_close(c_n, c_expected, "c_n")


def test_adam_training_matches_nn() -> None:
    """20 Adam steps on the same data from the same start: the losses agree step by step."""
    torch.manual_seed(0)
    head = nn.Linear(2 * HIDDEN_SIZE, 1)
    generator = torch.Generator().manual_seed(5)
    inputs = torch.randn(6, 4, INPUT_SIZE, generator=generator)
    targets = torch.randn(6, 4, 1, generator=generator)
    losses = {}
    for name, lstm in zip(["nn", "ours"], lstm_pair(num_layers=2, bidirectional=True)):
        model = nn.ModuleDict({"lstm": lstm, "head": copy.deepcopy(head)})
        optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
        trajectory = []
        for _ in range(20):
            optimizer.zero_grad()
            output, _ = model["lstm"](inputs)
            loss = nn.functional.mse_loss(model["head"](output), targets)
            loss.backward()
            optimizer.step()
            trajectory.append(loss.item())
        losses[name] = torch.tensor(trajectory, dtype=torch.float64)
    assert losses["ours"][-1] < losses["ours"][0]
    torch.testing.assert_close(losses["ours"], losses["nn"], rtol=1e-5, atol=0)


# ------------------------------------------------------------------------------------- errors

CONSTRUCTOR_ERRORS: Dict[str, Tuple[Tuple[Any, ...], Dict[str, Any]]] = {
    "no_arguments": ((), {}),
    "missing_hidden_size": ((3,), {}),
    "too_many_positional": ((3, 4, 1, True, False, 0.0, False, 0, None, None, 5), {}),
    "unknown_keyword": ((3, 4), dict(foo=1)),
    "mode_keyword": ((3, 4), dict(mode="GRU")),
    "nonlinearity_keyword": ((3, 4), dict(nonlinearity="tanh")),
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
    "proj_size_negative": ((3, 4), dict(proj_size=-1)),
    "proj_size_equal_hidden": ((3, 4), dict(proj_size=4)),
    "proj_size_above_hidden": ((3, 4), dict(proj_size=5)),
    "proj_size_float": ((3, 4), dict(proj_size=1.5)),
    "proj_size_string": ((3, 4), dict(proj_size="1")),
    "proj_size_none": ((3, 4), dict(proj_size=None)),
    "integer_dtype": ((3, 4), dict(dtype=torch.int64)),
}


@pytest.mark.parametrize("args, kwargs", CONSTRUCTOR_ERRORS.values(), ids=CONSTRUCTOR_ERRORS.keys())
def test_constructor_errors_match_nn(args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_same_error(lambda: nn.LSTM(*args, **kwargs), lambda: torch_ext.LSTM(*args, **kwargs))


@pytest.mark.parametrize("dropout", [0.5, 1, np.float64(0.25)])
def test_dropout_with_one_layer_warns_like_nn(dropout: Any) -> None:
    expected = recorded_warnings(lambda: nn.LSTM(3, 4, dropout=dropout))
    actual = recorded_warnings(lambda: torch_ext.LSTM(3, 4, dropout=dropout))
    assert [(w.category, str(w.message)) for w in actual] == [(w.category, str(w.message)) for w in expected]
    assert len(actual) == 1 and actual[0].category is UserWarning
    assert actual[0].filename == __file__, "the warning should point at the line that built the module"


@pytest.mark.parametrize("kwargs", [dict(dropout=0.5, num_layers=2), dict(dropout=0.0)])
def test_no_dropout_warning_otherwise(kwargs: Dict[str, Any]) -> None:
    assert recorded_warnings(lambda: torch_ext.LSTM(3, 4, **kwargs)) == []


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
# A bad forward call: the module's keyword arguments, and a maker of the forward's arguments.
ForwardCase = Tuple[Dict[str, Any], Callable[[], Tuple[Any, ...]]]
FORWARD_ERRORS: Dict[str, ForwardCase] = {
    "input_4d": ({}, lambda: (torch.randn(1, SEQ_LEN, 2, INPUT_SIZE),)),
    "input_1d": ({}, lambda: (torch.randn(INPUT_SIZE),)),
    "input_0d": ({}, lambda: (torch.tensor(1.0),)),
    "input_not_a_tensor": ({}, lambda: ([1.0, 2.0],)),
    "input_size": ({}, lambda: (torch.randn(SEQ_LEN, 2, 7),)),
    "input_size_batch_first": (dict(batch_first=True), lambda: (torch.randn(2, SEQ_LEN, 7),)),
    "input_size_unbatched": ({}, lambda: (torch.randn(SEQ_LEN, 7),)),
    "input_dtype": ({}, lambda: (X.double(),)),
    "input_integer": ({}, lambda: (X.long(),)),
    "h0_features": ({}, lambda: (X, _states(1, 2, 6, HIDDEN_SIZE))),
    "h0_batch": ({}, lambda: (X, (torch.randn(1, 3, HIDDEN_SIZE), torch.randn(1, 2, HIDDEN_SIZE)))),
    "h0_layers": (dict(num_layers=2), lambda: (X, _states(1, 2, HIDDEN_SIZE, HIDDEN_SIZE))),
    "c0_features": ({}, lambda: (X, _states(1, 2, HIDDEN_SIZE, 6))),
    "c0_batch": ({}, lambda: (X, (torch.randn(1, 2, HIDDEN_SIZE), torch.randn(1, 3, HIDDEN_SIZE)))),
    "bidirectional_states": (dict(bidirectional=True), lambda: (X, _states(1, 2, HIDDEN_SIZE, HIDDEN_SIZE))),
    "h0_without_projection": (dict(proj_size=2), lambda: (X, _states(1, 2, HIDDEN_SIZE, HIDDEN_SIZE))),
    "c0_projected": (dict(proj_size=2), lambda: (X, _states(1, 2, 2, 2))),
    "unbatched_h0_features": ({}, lambda: (X_UNBATCHED, _states(1, None, 6, HIDDEN_SIZE))),
    "unbatched_input_batched_states": ({}, lambda: (X_UNBATCHED, _states(1, 2, HIDDEN_SIZE, HIDDEN_SIZE))),
    "batched_input_unbatched_states": ({}, lambda: (X, _states(1, None, HIDDEN_SIZE, HIDDEN_SIZE))),
    "batched_input_mixed_states": ({}, lambda: (X, (torch.randn(1, 2, HIDDEN_SIZE), torch.randn(1, 5)))),
    "hx_single_tensor": ({}, lambda: (X, torch.randn(1, 2, HIDDEN_SIZE))),
    "hx_one_tuple": ({}, lambda: (X, (torch.randn(1, 2, HIDDEN_SIZE),))),
    "hx_three_tuple": ({}, lambda: (X, (torch.randn(1, 2, HIDDEN_SIZE),) * 3)),
    "hx_with_none": ({}, lambda: (X, (torch.randn(1, 2, HIDDEN_SIZE), None))),
    "packed_states_2d": ({}, lambda: (_packed(), _states(1, None, HIDDEN_SIZE, HIDDEN_SIZE))),
    "packed_unsorted_single_tensor": ({}, lambda: (_packed((2, SEQ_LEN), False), torch.randn(1, 2, 5))),
}


@pytest.mark.parametrize("module_kwargs, make_args", FORWARD_ERRORS.values(), ids=FORWARD_ERRORS.keys())
def test_forward_errors_match_nn(module_kwargs: Dict[str, Any], make_args: Callable[[], Any]) -> None:
    reference, ours = lstm_pair(**module_kwargs)
    args = make_args()
    assert_same_error(lambda: reference(*args), lambda: ours(*args))


# nn's message for these comes from ATen's argument parser or kernels ("mat1 and mat2 shapes
# cannot be multiplied", "got an incorrect number of RNN parameters", ...); ours raises the same
# type with a message that names the argument and sizes.
FORWARD_ERRORS_SAME_TYPE: Dict[str, ForwardCase] = {
    "hx_stacked_tensor": ({}, lambda: (X, torch.randn(2, 1, 2, HIDDEN_SIZE))),
    "h0_dtype": ({}, lambda: (X, (torch.randn(1, 2, 5, dtype=torch.float64), torch.randn(1, 2, 5)))),
    "bidirectional_not_bool": (dict(bidirectional=1), lambda: (X,)),
    "num_layers_bool": (dict(num_layers=True), lambda: (X,)),
    "packed_single_tensor": ({}, lambda: (_packed(), torch.randn(1, 2, HIDDEN_SIZE))),
    "packed_input_size": ({}, lambda: (_packed(features=6),)),
    "packed_dtype": ({}, lambda: (_packed(dtype=torch.float64),)),
    "packed_h0_features": ({}, lambda: (_packed(), _states(1, 2, 6, HIDDEN_SIZE))),
}


@pytest.mark.parametrize(
    "module_kwargs, make_args", FORWARD_ERRORS_SAME_TYPE.values(), ids=FORWARD_ERRORS_SAME_TYPE.keys()
)
def test_forward_errors_match_nn_type(module_kwargs: Dict[str, Any], make_args: Callable[[], Any]) -> None:
    reference, ours = lstm_pair(**module_kwargs)
    args = make_args()
    assert_same_error(lambda: reference(*args), lambda: ours(*args), compare_message=False)


@pytest.mark.parametrize(
    "make_args, message",
    [
        (lambda: (_packed(), _states(2, 2, 5, 5)), "expected hx[0] of shape [1, 2, 5], got [2, 2, 5]"),
        (lambda: (_packed(), _states(1, 3, 5, 5)), "hidden state holds 3 sequences"),
    ],
    ids=["packed_h0_layers", "packed_h0_batch"],
)
def test_packed_state_errors(make_args: Callable[[], Any], message: str) -> None:
    """nn.LSTM leaves these to ATen, which crashes (segfault) on the first one; ours raises."""
    _, ours = lstm_pair()
    error = raised_by(lambda: ours(*make_args()))
    assert isinstance(error, RuntimeError) and message in str(error)


# ------------------------------------------------------------------------------------- extension


class AtenGRU(torch_ext.nn.RNNBase):
    """A GRU built on RNNBase with ATen's ``torch.gru`` standing in for its op (test only): checks
    that a mode whose state is one tensor plugs into the base with the hooks alone."""

    _name_in_errors = "GRU"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__("GRU", *args, **kwargs)

    def _state_features(self) -> Tuple[int, ...]:
        return (self.hidden_size,)

    def _split_state(self, hx: torch.Tensor) -> List[torch.Tensor]:
        return [hx]

    def _join_state(self, tensors: Sequence[torch.Tensor]) -> torch.Tensor:
        return tensors[0]

    def _check_state_dims(self, hx: torch.Tensor, expected_dim: int) -> None:
        if hx.dim() != expected_dim:
            kind = "batched 3-D" if expected_dim == 3 else "unbatched 2-D"
            raise RuntimeError(
                f"For {kind} input, hx should also be {expected_dim}-D but got {hx.dim()}-D tensor"
            )

    def _check_packed_args(self, data: torch.Tensor, hx: torch.Tensor, batch_sizes: torch.Tensor) -> None:
        self.check_forward_args(data, hx, batch_sizes)

    def _run_op(
        self, input: torch.Tensor, batch_sizes: Any, hx: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        flags = (self.bias, self.num_layers, self.dropout, self.training, self.bidirectional)
        if batch_sizes is None:
            return torch.gru(input, hx, self._flat_weights, *flags, self.batch_first)
        return torch.gru(input, batch_sizes, hx, self._flat_weights, *flags)


@pytest.mark.parametrize("kind", ["batched", "batch_first", "unbatched", "packed_unsorted"])
@pytest.mark.parametrize("with_state", [False, True])
def test_single_state_mode_plugs_into_the_base(kind: str, with_state: bool) -> None:
    reference, ours = build_pair(
        nn.GRU, AtenGRU, INPUT_SIZE, HIDDEN_SIZE, 2, bidirectional=True, batch_first=kind == "batch_first"
    )
    assert repr(ours).replace("AtenGRU", "GRU") == repr(reference)
    make_lstm_inputs = lstm_inputs(kind, 2, True, 0, with_state)

    def make_inputs() -> Inputs:
        args, leaves = make_lstm_inputs()
        if with_state:
            leaves.pop("c0")
            args = (args[0], args[1][0])
        return args, leaves

    assert_same_forward_backward(ours, reference, make_inputs)
    for args in [
        (X, torch.randn(4, 2)),
        (X, torch.randn(4, 3, HIDDEN_SIZE)),
        (X_UNBATCHED, torch.randn(4, 1, HIDDEN_SIZE)),
        (_packed(), torch.randn(4, 3, HIDDEN_SIZE)),
    ]:
        assert_same_error(lambda: reference(*args), lambda: ours(*args))
