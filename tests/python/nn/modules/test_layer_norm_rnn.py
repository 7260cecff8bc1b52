"""torch_ext.LayerNormLSTM, LayerNormGRU and their cells against the plain-PyTorch reference of
layer_norm_rnn_testing (torch.nn has no layer-normalised recurrence).

The reference runs every sequence alone, on the module's own parameters, so that the module's
bookkeeping (unbatched input, batch_first, PackedSequence sorted or not, the initial state in the
caller's order, zero states) is checked along with the values and every gradient. Where torch.nn
has the same thing (parameter names and initial draws of weight_ih/weight_hh/bias_ih/bias_hh,
constructor checks, warnings and error messages), the modules are held to torch.nn.LSTM / GRU.

Tolerances: layer_norm_rnn_testing.assert_close_to_reference (the reference in float64).
"""

import itertools
import warnings
from dataclasses import dataclass
from typing import Any, Dict, List, Sequence, Tuple, Type

import pytest
import torch
from layer_norm_rnn_testing import LAYER_NORM_GRU, LAYER_NORM_LSTM, LayerNormRecurrence, assert_close_to_reference
from module_parity import INPUT_KINDS, SORTED_LENGTHS, UNSORTED_LENGTHS, leaf, ops_run_by, raised_by, sequence_inputs
from rnn_testing import intra_op_threads
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

import torch_ext

SEQ_LEN, BATCH, INPUT_SIZE, HIDDEN_SIZE = 4, 3, 3, 5


@dataclass(frozen=True)
class Kind:
    """A layer-normalised module or cell, its op family, and its torch.nn namesake."""

    id: str
    ours: Type[nn.Module]
    family: LayerNormRecurrence
    namesake: Type[nn.Module]

    def build(self, *args: Any, seed: int = 0, **kwargs: Any) -> nn.Module:
        torch.manual_seed(seed)
        return self.ours(*args, **kwargs)

    def build_namesake(self, *args: Any, seed: int = 0, **kwargs: Any) -> nn.Module:
        torch.manual_seed(seed)
        return self.namesake(*args, **kwargs)


MODULES = [
    Kind("LayerNormLSTM", torch_ext.LayerNormLSTM, LAYER_NORM_LSTM, nn.LSTM),
    Kind("LayerNormGRU", torch_ext.LayerNormGRU, LAYER_NORM_GRU, nn.GRU),
]
CELLS = [
    Kind("LayerNormLSTMCell", torch_ext.LayerNormLSTMCell, LAYER_NORM_LSTM, nn.LSTMCell),
    Kind("LayerNormGRUCell", torch_ext.LayerNormGRUCell, LAYER_NORM_GRU, nn.GRUCell),
]
each_module = pytest.mark.parametrize("kind", MODULES, ids=[k.id for k in MODULES])
each_cell = pytest.mark.parametrize("kind", CELLS, ids=[k.id for k in CELLS])


def randomize_layer_norm_parameters(module: nn.Module, seed: int = 1) -> None:
    """Move the ln_* gains and biases off their initial ones and zeros, so that their gradients and
    the affine part of every layer norm are exercised."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in module.named_parameters():
            if name.startswith("ln_"):
                noise = torch.randn(parameter.shape, generator=generator, dtype=torch.float64)
                parameter.add_(0.5 * noise.to(parameter.dtype))


def assert_layer_norms_at_identity(module: nn.Module) -> None:
    """Every ln_* gain is one and every ln_* bias zero."""
    for name, parameter in module.named_parameters():
        if name.startswith("ln_"):
            assert torch.equal(parameter, torch.full_like(parameter, 1.0 if "_weight" in name else 0.0)), name


# ------------------------------------------------------------------------------------- the reference


def lengths_of(kind: str, batch: int) -> List[int]:
    if kind == "packed":
        return SORTED_LENGTHS
    if kind == "packed_unsorted":
        return UNSORTED_LENGTHS
    return [SEQ_LEN] * batch


def module_per_sequence(result: Tuple[Any, Any], kind: str) -> Tuple[List[Tensor], List[Tensor]]:
    """The module's results in the reference's layout: each sequence's output, and each state
    tensor with a batch dimension."""
    output, state = result
    finals = [state] if isinstance(state, Tensor) else list(state)
    if isinstance(output, PackedSequence):
        padded, lengths = pad_packed_sequence(output)
        return [padded[:length, index] for index, length in enumerate(lengths.tolist())], finals
    if kind.startswith("unbatched"):
        return [output], [final.unsqueeze(1) for final in finals]
    return list(output.unbind(0 if kind == "batch_first" else 1)), finals


def reference_per_sequence(
    module: nn.Module, family: LayerNormRecurrence, leaves: Dict[str, Tensor], kind: str
) -> Tuple[List[Tensor], List[Tensor]]:
    """Each sequence of the module's input run alone through the reference on the module's
    parameters (in float64), from its own column of the initial state (zeros when none)."""
    x = leaves["input"].double()
    if kind.startswith("unbatched"):
        sequences = [x]
    elif kind == "batch_first":
        sequences = list(x.unbind(0))
    else:
        sequences = [x[:length, index] for index, length in enumerate(lengths_of(kind, x.shape[1]))]
    layers = module.num_layers * (2 if module.bidirectional else 1)
    states = [leaves[name].double() for name in ("h0", "c0") if name in leaves]
    if not states:
        states = [torch.zeros(layers, len(sequences), module.hidden_size, dtype=torch.float64)] * family.num_states
    elif kind.startswith("unbatched"):
        states = [state.unsqueeze(1) for state in states]
    params = [p.double() for p in module._flat_weights]
    outputs, finals = [], []
    for index, sequence in enumerate(sequences):
        output, *sequence_finals = family.reference_input(
            sequence.unsqueeze(1), [s[:, index : index + 1] for s in states], params, module.bias, module.num_layers,
            0.0, False, module.bidirectional, False, eps=module.eps,
        )  # fmt: skip
        outputs.append(output[:, 0])
        finals.append(sequence_finals)
    return outputs, [torch.cat([f[k] for f in finals], dim=1) for k in range(family.num_states)]


def assert_matches_reference(
    module: nn.Module, family: LayerNormRecurrence, kind: str, with_state: bool, dtype: torch.dtype
) -> None:
    """Values and gradients (input, initial states, every parameter) of the module match the
    reference."""
    layers = module.num_layers * (2 if module.bidirectional else 1)
    features = (module.hidden_size,) * family.num_states
    args, leaves = sequence_inputs(kind, INPUT_SIZE, features, layers, with_state, dtype, BATCH, SEQ_LEN)()
    actual_outputs, actual_finals = module_per_sequence(module(*args), kind)
    with intra_op_threads(1):
        expected_outputs, expected_finals = reference_per_sequence(module, family, leaves, kind)
    actual, expected = [*actual_outputs, *actual_finals], [*expected_outputs, *expected_finals]
    assert len(actual) == len(expected)
    for index, (a, e) in enumerate(zip(actual, expected)):
        assert_close_to_reference(a, e, f"result {index}")

    generator = torch.Generator().manual_seed(3)
    weights = [torch.randn(t.shape, dtype=torch.float64, generator=generator) for t in expected]
    differentiable = [*leaves.values(), *module.parameters()]
    names = [*leaves, *(name for name, _ in module.named_parameters())]
    expected_gradients = torch.autograd.grad(expected, differentiable, weights)
    actual_gradients = torch.autograd.grad(actual, differentiable, [w.to(dtype) for w in weights])
    for name, a, e in zip(names, actual_gradients, expected_gradients, strict=True):
        assert_close_to_reference(a, e, f"grad of {name}")


def build_randomized(kind: Kind, dtype: torch.dtype = torch.float32, **kwargs: Any) -> nn.Module:
    module = kind.build(INPUT_SIZE, HIDDEN_SIZE, dtype=dtype, **kwargs)
    randomize_layer_norm_parameters(module)
    return module


# ------------------------------------------------------------------------------------- forward


GRID = list(itertools.product([(1, True), (2, False), (3, True)], [False, True], INPUT_KINDS, [False, True]))


@each_module
@pytest.mark.parametrize(
    "layers_bias, bidirectional, input_kind, with_state",
    GRID,
    ids=[
        f"L{n}-{'bias' if b else 'nobias'}-{'bi' if d else 'uni'}-{k}-{'hx' if s else 'nohx'}"
        for (n, b), d, k, s in GRID
    ],
)
def test_matches_reference(kind: Kind, layers_bias, bidirectional: bool, input_kind: str, with_state: bool) -> None:
    num_layers, bias = layers_bias
    batch_first = input_kind.endswith("batch_first")
    options = dict(num_layers=num_layers, bias=bias, bidirectional=bidirectional, batch_first=batch_first)
    module = build_randomized(kind, **options)
    assert_matches_reference(module, kind.family, input_kind, with_state, torch.float32)


@each_module
@pytest.mark.parametrize("input_kind", ["batched", "batch_first", "unbatched", "packed", "packed_unsorted"])
def test_float64_matches_reference(kind: Kind, input_kind: str) -> None:
    batch_first = input_kind == "batch_first"
    module = build_randomized(kind, torch.float64, num_layers=2, bidirectional=True, batch_first=batch_first)
    assert_matches_reference(module, kind.family, input_kind, True, torch.float64)


@each_module
def test_eps_is_the_layer_norms_epsilon(kind: Kind) -> None:
    module = build_randomized(kind, torch.float64, num_layers=2, eps=0.5)
    assert_matches_reference(module, kind.family, "packed_unsorted", True, torch.float64)
    default = build_randomized(kind, torch.float64, num_layers=2)
    x = torch.randn(SEQ_LEN, BATCH, INPUT_SIZE, dtype=torch.float64)
    assert (module(x)[0] - default(x)[0]).abs().max() > 1e-3


@each_module
@pytest.mark.parametrize("input_kind", ["batched", "packed_unsorted", "unbatched"])
def test_gradcheck(kind: Kind, input_kind: str) -> None:
    """torch.autograd.gradcheck of the module's functional form (parameters as inputs), float64."""
    module = kind.build(2, 2, num_layers=2, bidirectional=True, dtype=torch.float64)
    randomize_layer_norm_parameters(module)
    names = [name for name, _ in module.named_parameters()]
    generator = torch.Generator().manual_seed(1)
    batch_shape = () if input_kind == "unbatched" else (2,)
    x = torch.randn((3, *batch_shape, 2), dtype=torch.float64, generator=generator)
    shape = (4, *batch_shape, 2)
    states = [torch.randn(shape, dtype=torch.float64, generator=generator) for _ in range(kind.family.num_states)]

    def functional(x: Tensor, *tensors: Tensor) -> Tuple[Tensor, ...]:
        count = kind.family.num_states
        input: Any = x
        if input_kind == "packed_unsorted":
            input = pack_padded_sequence(x, torch.tensor([2, 3]), enforce_sorted=False)
        hx = tensors[0] if count == 1 else tuple(tensors[:count])
        output, state = torch.func.functional_call(module, dict(zip(names, tensors[count:])), (input, hx))
        output = output.data if isinstance(output, PackedSequence) else output
        return (output, *([state] if count == 1 else state))

    inputs = [x, *states, *(p.detach().clone() for p in module.parameters())]
    assert torch.autograd.gradcheck(functional, [t.requires_grad_() for t in inputs])


@each_module
@pytest.mark.parametrize("packed", [False, True])
def test_runs_the_layer_norm_kernels(kind: Kind, packed: bool) -> None:
    """Forward and backward run the layer-normalised layer kernels (the dispatcher sees the layer
    op's halves), never ATen's recurrent ops or ATen's layer norm."""
    module = kind.build(INPUT_SIZE, HIDDEN_SIZE, num_layers=2, bidirectional=True)
    features = (HIDDEN_SIZE,) * kind.family.num_states
    make_inputs = sequence_inputs("packed_unsorted" if packed else "batched", INPUT_SIZE, features, 4, True)
    names = ops_run_by(module, make_inputs)
    name = kind.family.name
    assert {f"torch_ext._{name}_layer_forward.default", f"torch_ext._{name}_layer_backward.default"} <= names, names
    aten = [n for n in names if not n.startswith("torch_ext.")]
    assert not [n for n in aten if any(word in n for word in ("lstm", "gru", "layer_norm"))], aten


# ------------------------------------------------------------------------------------- parameters


CONFIGS = [
    dict(),
    dict(num_layers=3, bidirectional=True),
    dict(num_layers=2, bias=False),
    dict(bias=False, bidirectional=True),
]


@each_module
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()) or "default")
def test_initialisation_matches_nn_and_layer_norms_start_at_identity(kind: Kind, config: Dict[str, Any]) -> None:
    """Under one seed the torch.nn-named parameters are torch.nn's (same draws in the same order),
    the ln_* gains are ones and their biases zeros; per (layer, direction) the ln_* parameters
    follow torch.nn's four, which is the op's order."""
    ours = kind.build(INPUT_SIZE, HIDDEN_SIZE, **config)
    reference = kind.build_namesake(INPUT_SIZE, HIDDEN_SIZE, **config)
    named = dict(ours.named_parameters())
    assert [n for n in named if not n.startswith("ln_")] == [n for n, _ in reference.named_parameters()]
    for name, expected in reference.named_parameters():
        assert named[name].shape == expected.shape and torch.equal(named[name], expected), name
    G, H = kind.family.gates, HIDDEN_SIZE
    expected_names: List[str] = []
    for layer in range(config.get("num_layers", 1)):
        for suffix in ["", "_reverse"] if config.get("bidirectional") else [""]:
            stems = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if config.get("bias", True) else [])
            stems += list(kind.family.layer_norm_names)
            expected_names += [f"{stem}_l{layer}{suffix}" for stem in stems]
    assert list(named) == expected_names == ours._flat_weights_names
    for name, parameter in named.items():
        if name.startswith("ln_"):
            assert parameter.shape == ((H,) if name.startswith("ln_cell") else (G * H,)), name
            assert torch.equal(parameter, torch.full_like(parameter, 1.0 if "_weight" in name else 0.0)), name
    assert all(p is q for p, q in zip(ours._flat_weights, ours.parameters()))


@each_module
def test_reset_parameters_redraws_as_nn(kind: Kind) -> None:
    ours, reference = build_randomized(kind, num_layers=2), kind.build_namesake(INPUT_SIZE, HIDDEN_SIZE, num_layers=2)
    torch.manual_seed(5)
    ours.reset_parameters()
    torch.manual_seed(5)
    reference.reset_parameters()
    named = dict(ours.named_parameters())
    assert all(torch.equal(named[name], p) for name, p in reference.named_parameters())
    assert_layer_norms_at_identity(ours)


@each_module
def test_dtype_and_device_arguments(kind: Kind) -> None:
    module = kind.build(INPUT_SIZE, HIDDEN_SIZE, 2, True, False, 0.0, True, 1e-5, "cpu", torch.float64)
    assert all(p.dtype == torch.float64 and p.device.type == "cpu" for p in module.parameters())
    assert module.eps == 1e-5 and module.bidirectional and module.num_layers == 2


@each_module
def test_state_dict_round_trip(kind: Kind) -> None:
    source = build_randomized(kind, num_layers=2, bidirectional=True)
    target = kind.build(INPUT_SIZE, HIDDEN_SIZE, num_layers=2, bidirectional=True, seed=7)
    assert target.load_state_dict(source.state_dict()) is not None
    for (name, a), (_, b) in zip(target.named_parameters(), source.named_parameters()):
        assert torch.equal(a, b), name
    x = torch.randn(SEQ_LEN, BATCH, INPUT_SIZE)
    assert torch.equal(target(x)[0], source(x)[0])


@each_module
@pytest.mark.parametrize("direction", ["ours_to_nn", "nn_to_ours"])
def test_state_dict_moves_to_and_from_nn_without_strict(kind: Kind, direction: str) -> None:
    """The torch.nn-named subset loads with strict=False; the ln_* keys are the only difference."""
    config = dict(num_layers=2, bidirectional=True)
    ours = build_randomized(kind, **config)
    reference = kind.build_namesake(INPUT_SIZE, HIDDEN_SIZE, seed=9, **config)
    ln_keys = [name for name in ours.state_dict() if name.startswith("ln_")]
    ln_before = {name: ours.state_dict()[name].clone() for name in ln_keys}
    if direction == "ours_to_nn":
        result = reference.load_state_dict(ours.state_dict(), strict=False)
        assert (result.missing_keys, sorted(result.unexpected_keys)) == ([], sorted(ln_keys))
    else:
        result = ours.load_state_dict(reference.state_dict(), strict=False)
        assert (sorted(result.missing_keys), result.unexpected_keys) == (sorted(ln_keys), [])
        assert all(torch.equal(ours.state_dict()[name], value) for name, value in ln_before.items())
    named = dict(ours.named_parameters())
    assert all(torch.equal(named[name], p) for name, p in reference.named_parameters())
    with pytest.raises(RuntimeError, match="Unexpected key"):
        kind.build_namesake(INPUT_SIZE, HIDDEN_SIZE, **config).load_state_dict(ours.state_dict())


@each_module
def test_repr(kind: Kind) -> None:
    name = kind.id
    assert repr(kind.build(3, 5)) == f"{name}(3, 5)"
    assert repr(kind.build(3, 5, num_layers=2, bias=False, batch_first=True, dropout=0.25, bidirectional=True)) == (
        f"{name}(3, 5, num_layers=2, bias=False, batch_first=True, dropout=0.25, bidirectional=True)"
    )
    assert repr(kind.build(3, 5, eps=1e-3)) == f"{name}(3, 5, eps=0.001)"
    # torch.nn's repr, the module's name aside, where the arguments are torch.nn's.
    assert repr(kind.build(3, 5, 2)).replace(name, kind.namesake.__name__) == repr(kind.namesake(3, 5, 2))


def test_the_modules_are_torch_ext_lstm_and_gru() -> None:
    """A LayerNormLSTM is a torch_ext.LSTM (same forward signature and state), a LayerNormGRU a
    torch_ext.GRU in PyTorch's reset-after form; torch_ext.nn exports them too."""
    lstm, gru = torch_ext.LayerNormLSTM(3, 4), torch_ext.LayerNormGRU(3, 4)
    assert isinstance(lstm, torch_ext.LSTM) and isinstance(gru, torch_ext.GRU) and gru.reset_after
    assert lstm.proj_size == 0 and (lstm.mode, gru.mode) == ("LSTM", "GRU")
    assert torch_ext.nn.LayerNormLSTM is torch_ext.LayerNormLSTM
    assert torch_ext.nn.LayerNormGRUCell is torch_ext.LayerNormGRUCell


# ------------------------------------------------------------------------------------- dropout


@each_module
def test_dropout_warning_with_one_layer_like_nn(kind: Kind) -> None:
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        kind.ours(INPUT_SIZE, HIDDEN_SIZE, dropout=0.5)
    with warnings.catch_warnings(record=True) as reference:
        warnings.simplefilter("always")
        kind.namesake(INPUT_SIZE, HIDDEN_SIZE, dropout=0.5)
    assert [(w.category, str(w.message)) for w in ours] == [(w.category, str(w.message)) for w in reference]
    assert len(ours) == 1 and ours[0].filename == __file__  # points at the line that built the module


@each_module
def test_dropout_only_in_training(kind: Kind) -> None:
    module = build_randomized(kind, num_layers=3, dropout=0.5)
    x = torch.randn(SEQ_LEN, BATCH, INPUT_SIZE, generator=torch.Generator().manual_seed(4))
    torch.manual_seed(11)
    first, _ = module(x)
    torch.manual_seed(11)
    repeated, _ = module(x)
    second, _ = module(x)
    assert torch.equal(first, repeated) and not torch.equal(first, second)
    module.eval()
    assert not torch.allclose(first, module(x)[0])
    assert_matches_reference(module, kind.family, "batched", True, torch.float32)


# ------------------------------------------------------------------------------------- errors


def _nn_message(error: BaseException, kind: Kind) -> str:
    """torch.nn's message with the module's name in place of torch.nn's (LSTM: -> LayerNormLSTM:)."""
    return str(error).replace(f"{kind.namesake.__name__}:", f"{kind.id}:")


def _states(kind: Kind, *shape: int, last: int = HIDDEN_SIZE) -> Any:
    tensors = [torch.zeros(*shape[:-1], size) for size in [shape[-1]] + [last] * (kind.family.num_states - 1)]
    return tensors[0] if len(tensors) == 1 else tuple(tensors)


FORWARD_ERRORS = {
    "input 4-D": lambda kind: (torch.randn(2, 3, 4, INPUT_SIZE),),
    "input 1-D": lambda kind: (torch.randn(INPUT_SIZE),),
    "input size": lambda kind: (torch.randn(SEQ_LEN, BATCH, INPUT_SIZE + 1),),
    "input dtype": lambda kind: (torch.randn(SEQ_LEN, BATCH, INPUT_SIZE, dtype=torch.float64),),
    "h0 size": lambda kind: (torch.randn(SEQ_LEN, BATCH, INPUT_SIZE), _states(kind, 1, BATCH, HIDDEN_SIZE + 1)),
    "h0 batch": lambda kind: (torch.randn(SEQ_LEN, BATCH, INPUT_SIZE), _states(kind, 1, BATCH + 1, HIDDEN_SIZE)),
    "h0 layers": lambda kind: (torch.randn(SEQ_LEN, BATCH, INPUT_SIZE), _states(kind, 2, BATCH, HIDDEN_SIZE)),
    "state rank batched": lambda kind: (torch.randn(SEQ_LEN, BATCH, INPUT_SIZE), _states(kind, 1, HIDDEN_SIZE)),
    "state rank unbatched": lambda kind: (torch.randn(SEQ_LEN, INPUT_SIZE), _states(kind, 1, BATCH, HIDDEN_SIZE)),
    "packed h0 size": lambda kind: (
        pack_padded_sequence(torch.randn(SEQ_LEN, BATCH, INPUT_SIZE), torch.tensor([4, 3, 1])),
        _states(kind, 1, BATCH, HIDDEN_SIZE + 1),
    ),
}


@each_module
@pytest.mark.parametrize("case", list(FORWARD_ERRORS))
def test_forward_errors_like_nn(kind: Kind, case: str) -> None:
    """The same exception as torch.nn's, with its message (torch.nn's module name replaced)."""
    ours = kind.build(INPUT_SIZE, HIDDEN_SIZE)
    reference = kind.build_namesake(INPUT_SIZE, HIDDEN_SIZE)
    args = FORWARD_ERRORS[case](kind)
    expected, actual = raised_by(lambda: reference(*args)), raised_by(lambda: ours(*args))
    assert type(actual) is type(expected), f"{type(actual).__name__}({actual}) vs {type(expected).__name__}({expected})"
    if case == "packed h0 size" and kind.family.num_states == 2:
        # torch.nn.LSTM leaves packed input to ATen's op, as torch_ext.LSTM leaves it to ours.
        assert f"torch_ext::{kind.family.name}: expected hx[0] of shape" in str(actual)
    else:
        assert str(actual) == _nn_message(expected, kind)


def test_lstm_cell_state_size_checked_like_nn() -> None:
    kind = MODULES[0]
    ours, reference = kind.build(INPUT_SIZE, HIDDEN_SIZE), kind.build_namesake(INPUT_SIZE, HIDDEN_SIZE)
    args = (torch.randn(SEQ_LEN, BATCH, INPUT_SIZE), _states(kind, 1, BATCH, HIDDEN_SIZE, last=HIDDEN_SIZE + 2))
    assert str(raised_by(lambda: ours(*args))) == str(raised_by(lambda: reference(*args)))


CONSTRUCTOR_ERRORS = {
    "dropout above 1": dict(dropout=1.5),
    "dropout bool": dict(dropout=True),
    "hidden_size 0": dict(hidden_size=0),
    "hidden_size float": dict(hidden_size=5.0),
    "input_size negative": dict(input_size=-1),
    "num_layers 0": dict(num_layers=0),
    "bias not bool": dict(bias=1),
    "batch_first not bool": dict(batch_first=None),
}


@each_module
@pytest.mark.parametrize("case", list(CONSTRUCTOR_ERRORS))
def test_constructor_errors_like_nn(kind: Kind, case: str) -> None:
    arguments = {"input_size": INPUT_SIZE, "hidden_size": HIDDEN_SIZE, **CONSTRUCTOR_ERRORS[case]}
    expected, actual = raised_by(lambda: kind.namesake(**arguments)), raised_by(lambda: kind.ours(**arguments))
    assert (type(actual), str(actual)) == (type(expected), str(expected))


@pytest.mark.parametrize("kind", MODULES + CELLS, ids=[k.id for k in MODULES + CELLS])
def test_a_bool_hidden_size_builds_like_nn(kind: Kind) -> None:
    """torch.nn takes a bool for a size (an int in Python); the ln_* shapes used to keep the bool,
    which torch.empty refuses (found by fuzzing)."""
    torch.manual_seed(0)
    expected = [(name, tuple(p.shape)) for name, p in kind.namesake(INPUT_SIZE, True).named_parameters()]
    ours = [(name, tuple(p.shape)) for name, p in kind.ours(INPUT_SIZE, True).named_parameters()]
    assert [entry for entry in ours if not entry[0].startswith("ln_")] == expected
    gate_size = expected[0][1][0]  # the rows of weight_ih: gates x 1 unit
    assert {shape for name, shape in ours if name.startswith("ln_")} <= {(gate_size,), (1,)}


@pytest.mark.parametrize("kind", MODULES + CELLS, ids=[k.id for k in MODULES + CELLS])
@pytest.mark.parametrize(
    "eps,error,message",
    [(-1e-5, ValueError, "eps should be a non-negative number, got -1e-05"), (float("nan"), ValueError, "got nan"),
     ("0.1", TypeError, "eps should be a real number, got: str"), (True, TypeError, "got: bool")],
)  # fmt: skip
def test_eps_must_be_a_non_negative_number(kind: Kind, eps: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        kind.ours(INPUT_SIZE, HIDDEN_SIZE, eps=eps)
    assert kind.ours(INPUT_SIZE, HIDDEN_SIZE, eps=0).eps == 0.0


@each_module
def test_proj_size_is_not_an_argument(kind: Kind) -> None:
    with pytest.raises(TypeError, match="proj_size"):
        kind.ours(INPUT_SIZE, HIDDEN_SIZE, proj_size=2)


# ------------------------------------------------------------------------------------- training


@each_module
def test_training_loss_falls(kind: Kind) -> None:
    """A 2-layer module with a linear head learns to output, at every step, the running mean of the
    first input feature (Adam, 60 steps): the loss falls to a fifth."""
    torch.manual_seed(0)
    module = kind.ours(2, 16, num_layers=2, batch_first=True)
    head = nn.Linear(16, 1)
    optimizer = torch.optim.Adam([*module.parameters(), *head.parameters()], lr=0.02)
    x = torch.randn(16, 10, 2)
    target = x[..., :1].cumsum(1) / torch.arange(1, 11).view(1, 10, 1)
    losses = []
    for _ in range(60):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(head(module(x)[0]), target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 5, losses[::10]
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for name, p in module.named_parameters())


# ------------------------------------------------------------------------------------- cells


CELL_GRID = list(itertools.product([True, False], [True, False], [True, False], [torch.float32, torch.float64]))


@each_cell
@pytest.mark.parametrize("batched, with_state, bias, dtype", CELL_GRID)
def test_cell_matches_reference(kind: Kind, batched: bool, with_state: bool, bias: bool, dtype: torch.dtype) -> None:
    cell = build_randomized(kind, dtype, bias=bias)
    generator = torch.Generator().manual_seed(5)
    batch_shape = (BATCH,) if batched else ()
    x = leaf(generator, (*batch_shape, INPUT_SIZE), dtype)
    states = [leaf(generator, (*batch_shape, HIDDEN_SIZE), dtype) for _ in range(kind.family.num_states)]
    hx = (states[0] if len(states) == 1 else tuple(states)) if with_state else None
    result = cell(x, hx)
    actual = [result] if isinstance(result, Tensor) else list(result)
    given = states if with_state else [torch.zeros(*batch_shape, HIDDEN_SIZE, dtype=dtype)] * len(states)
    params = [p.double() for p in cell.parameters()]
    rows = [s.double().reshape(-1, HIDDEN_SIZE) for s in given]
    expected = kind.family.reference_cell(x.double().reshape(-1, INPUT_SIZE), rows, params, bias)
    expected = [e.reshape(*batch_shape, HIDDEN_SIZE) for e in expected]
    for index, (a, e) in enumerate(zip(actual, expected, strict=True)):
        assert_close_to_reference(a, e, f"state {index}")
    weights = [torch.randn(e.shape, dtype=torch.float64, generator=generator) for e in expected]
    differentiable = [x, *(states if with_state else []), *cell.parameters()]
    expected_gradients = torch.autograd.grad(expected, differentiable, weights)
    actual_gradients = torch.autograd.grad(actual, differentiable, [w.to(dtype) for w in weights])
    for index, (a, e) in enumerate(zip(actual_gradients, expected_gradients, strict=True)):
        assert_close_to_reference(a, e, f"gradient {index}")


@each_cell
@pytest.mark.parametrize("bias", [True, False])
def test_cell_gradcheck(kind: Kind, bias: bool) -> None:
    cell = build_randomized(kind, torch.float64, bias=bias)
    names = [name for name, _ in cell.named_parameters()]
    generator = torch.Generator().manual_seed(6)
    x = torch.randn(2, INPUT_SIZE, dtype=torch.float64, generator=generator)
    states = [
        torch.randn(2, HIDDEN_SIZE, dtype=torch.float64, generator=generator) for _ in range(kind.family.num_states)
    ]

    def functional(x: Tensor, *tensors: Tensor) -> Any:
        count = kind.family.num_states
        hx = tensors[0] if count == 1 else tuple(tensors[:count])
        return torch.func.functional_call(cell, dict(zip(names, tensors[count:])), (x, hx))

    inputs = [x, *states, *(p.detach().clone() for p in cell.parameters())]
    assert torch.autograd.gradcheck(functional, [t.requires_grad_() for t in inputs])


@each_cell
@pytest.mark.parametrize("bias", [True, False])
def test_cell_parameters_initialisation_and_state_dict(kind: Kind, bias: bool) -> None:
    cell = kind.build(INPUT_SIZE, HIDDEN_SIZE, bias=bias)
    reference = kind.build_namesake(INPUT_SIZE, HIDDEN_SIZE, bias=bias)
    stems = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if bias else []) + list(kind.family.layer_norm_names)
    assert [name for name, _ in cell.named_parameters()] == stems
    named = dict(cell.named_parameters())
    assert all(torch.equal(named[name], p) for name, p in reference.named_parameters())
    assert_layer_norms_at_identity(cell)
    if not bias:
        assert cell.bias_ih is None and cell.bias_hh is None
    ln_keys = [name for name in stems if name.startswith("ln_")]
    result = reference.load_state_dict(cell.state_dict(), strict=False)
    assert result.unexpected_keys == ln_keys and result.missing_keys == []
    other = kind.build_namesake(INPUT_SIZE, HIDDEN_SIZE, bias=bias, seed=3)
    result = cell.load_state_dict(other.state_dict(), strict=False)
    assert result.missing_keys == ln_keys
    twin = kind.build(INPUT_SIZE, HIDDEN_SIZE, bias=bias, seed=4)
    twin.load_state_dict(cell.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(twin.parameters(), cell.parameters()))


@each_cell
def test_cell_repr(kind: Kind) -> None:
    assert repr(kind.build(3, 5)) == f"{kind.id}(3, 5)"
    assert repr(kind.build(3, 5, bias=False, eps=0.01)) == f"{kind.id}(3, 5, bias=False, eps=0.01)"
    assert repr(kind.build(3, 5, False)).replace(kind.id, kind.namesake.__name__) == repr(kind.namesake(3, 5, False))


CELL_ERRORS = {
    "input 3-D": lambda kind: (torch.randn(2, 3, INPUT_SIZE),),
    "state 3-D": lambda kind: (torch.randn(BATCH, INPUT_SIZE), _states(kind, 1, BATCH, HIDDEN_SIZE)),
}


@each_cell
@pytest.mark.parametrize("case", list(CELL_ERRORS))
def test_cell_rank_errors_like_nn(kind: Kind, case: str) -> None:
    args = CELL_ERRORS[case](kind)
    expected = raised_by(lambda: kind.build_namesake(INPUT_SIZE, HIDDEN_SIZE)(*args))
    actual = raised_by(lambda: kind.build(INPUT_SIZE, HIDDEN_SIZE)(*args))
    assert (type(actual), str(actual)) == (type(expected), _nn_message(expected, kind))


@each_cell
@pytest.mark.parametrize("case", ["input size", "state size", "state batch"])
def test_cell_size_errors_name_the_sizes(kind: Kind, case: str) -> None:
    """torch.nn's cells leave these to ATen's cell ops, ours to the layer-norm cell ops: a
    RuntimeError that gives the given size (and names the state, not a weight)."""
    x, states = torch.randn(BATCH, INPUT_SIZE), [torch.zeros(BATCH, HIDDEN_SIZE)] * kind.family.num_states
    if case == "input size":
        x, sizes = torch.randn(BATCH, INPUT_SIZE + 1), (f"Expected {INPUT_SIZE}, got {INPUT_SIZE + 1}",)
    elif case == "state size":
        states, sizes = [torch.zeros(BATCH, HIDDEN_SIZE + 1)] * len(states), (f"{HIDDEN_SIZE + 1}",)
    else:
        states, sizes = [torch.zeros(BATCH + 1, HIDDEN_SIZE)] * len(states), (f"{BATCH + 1}",)
    hx = states[0] if len(states) == 1 else tuple(states)
    with pytest.raises(RuntimeError) as error:
        kind.build(INPUT_SIZE, HIDDEN_SIZE)(x, hx)
    assert all(size in str(error.value) for size in sizes), str(error.value)
    assert "weight" not in str(error.value)


@each_cell
def test_cell_unrolled_equals_the_one_layer_module(kind: Kind) -> None:
    """The cell op and the layer op compute the same recurrence: stepping the cell over a sequence
    gives the one-layer module's output, final states and gradients."""
    module_kind = MODULES[CELLS.index(kind)]
    module = build_randomized(module_kind)
    cell = kind.build(INPUT_SIZE, HIDDEN_SIZE)
    with torch.no_grad():
        for name, p in cell.named_parameters():
            p.copy_(getattr(module, f"{name}_l0"))
    generator = torch.Generator().manual_seed(8)
    x = leaf(generator, (SEQ_LEN, BATCH, INPUT_SIZE))
    states = [leaf(generator, (BATCH, HIDDEN_SIZE)) for _ in range(kind.family.num_states)]
    single = len(states) == 1
    output, finals = module(x, states[0].unsqueeze(0) if single else tuple(s.unsqueeze(0) for s in states))
    state: Any = states[0] if single else tuple(states)
    steps = []
    for x_t in x:
        state = cell(x_t, state)
        steps.append(state if single else state[0])
    cell_finals = [state] if single else list(state)
    module_finals = [finals] if single else list(finals)
    torch.testing.assert_close(torch.stack(steps), output, atol=1e-6, rtol=1e-6)
    for a, e in zip(cell_finals, module_finals):
        torch.testing.assert_close(a, e[0], atol=1e-6, rtol=1e-6)
    grads_layer = torch.autograd.grad(output.square().sum(), [x, *states, *module.parameters()])
    grads_cell = torch.autograd.grad(torch.stack(steps).square().sum(), [x, *states, *cell.parameters()])
    for index, (a, e) in enumerate(zip(grads_cell, grads_layer, strict=True)):
        torch.testing.assert_close(a, e, atol=1e-5, rtol=1e-5, msg=lambda m: f"gradient {index}: {m}")
