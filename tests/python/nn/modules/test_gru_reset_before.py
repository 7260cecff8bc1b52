"""torch_ext.GRU and torch_ext.GRUCell with ``reset_after=False``: the original GRU, where the reset
gate acts before the product with W_hn,

    n = tanh(W_in x + b_in + W_hn (r * h) + b_hn),

against a plain-PyTorch reference of the equations written below (torch.nn has no such form).
The reference runs every sequence alone, step by step, layer by layer and direction by direction,
on the module's own parameters, so that values and every gradient can be compared; it is itself
checked against torch.nn.GRU in PyTorch's form (reset_after=True).

Tolerances: float32 atol = rtol = 1e-5, float64 atol = rtol = 1e-10 (module_parity.TOLERANCES).
"""

import copy
import itertools
import pickle
from typing import Any, Dict, List, Optional, Sequence, Tuple

import pytest
import torch
from module_parity import (
    INPUT_KINDS,
    SORTED_LENGTHS,
    UNSORTED_LENGTHS,
    assert_close,
    assert_same_parameters,
    leaf,
    ops_run_by,
    sequence_inputs,
)
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

import torch_ext

SEQ_LEN, BATCH, INPUT_SIZE, HIDDEN_SIZE = 4, 3, 3, 5


# ------------------------------------------------------------------------------------- reference


def reference_step(
    x: Tensor,
    h: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Optional[Tensor],
    b_hh: Optional[Tensor],
    reset_after: bool,
) -> Tensor:
    """One GRU step from the equations; the rows of the weights are the gates r, z, n (nn.GRU's order)."""
    w_ir, w_iz, w_in = w_ih.chunk(3)
    w_hr, w_hz, w_hn = w_hh.chunk(3)
    zero = torch.zeros(w_hh.shape[1], dtype=h.dtype)
    b_ir, b_iz, b_in = b_ih.chunk(3) if b_ih is not None else (zero, zero, zero)
    b_hr, b_hz, b_hn = b_hh.chunk(3) if b_hh is not None else (zero, zero, zero)
    r = torch.sigmoid(x @ w_ir.T + b_ir + h @ w_hr.T + b_hr)
    z = torch.sigmoid(x @ w_iz.T + b_iz + h @ w_hz.T + b_hz)
    if reset_after:
        n = torch.tanh(x @ w_in.T + b_in + r * (h @ w_hn.T + b_hn))
    else:
        n = torch.tanh(x @ w_in.T + b_in + (r * h) @ w_hn.T + b_hn)
    return (1 - z) * n + z * h


def reference_gru(
    module: nn.Module, sequences: Sequence[Tensor], h0: Tensor, reset_after: bool
) -> Tuple[List[Tensor], Tensor]:
    """Run each sequence ``(L_i, input_size)`` alone from ``h0[:, i]`` through the module's layers
    (no dropout). Returns each sequence's output ``(L_i, D * hidden_size)`` and ``h_n`` of shape
    ``(num_layers * D, len(sequences), hidden_size)``."""
    parameters = dict(module.named_parameters())
    directions = 2 if module.bidirectional else 1
    outputs, finals = [], []
    for index, sequence in enumerate(sequences):
        layer_input, final = sequence, []
        for layer in range(module.num_layers):
            direction_outputs = []
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                weights = [parameters.get(stem + suffix) for stem in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
                h = h0[layer * directions + direction, index]
                times = range(len(sequence)) if direction == 0 else reversed(range(len(sequence)))
                states: Dict[int, Tensor] = {}
                for t in times:
                    h = states[t] = reference_step(layer_input[t], h, *weights, reset_after)
                direction_outputs.append(torch.stack([states[t] for t in range(len(sequence))]))
                final.append(h)
            layer_input = torch.cat(direction_outputs, dim=-1)
        outputs.append(layer_input)
        finals.append(torch.stack(final))
    return outputs, torch.stack(finals, dim=1)


def lengths_of(kind: str, batch: int) -> List[int]:
    if kind == "packed":
        return SORTED_LENGTHS
    if kind == "packed_unsorted":
        return UNSORTED_LENGTHS
    return [SEQ_LEN] * batch


def module_per_sequence(output: Any, h_n: Tensor, kind: str) -> Tuple[List[Tensor], Tensor]:
    """The module's results in the reference's layout: one output per sequence, a batched h_n."""
    if isinstance(output, PackedSequence):
        padded, lengths = pad_packed_sequence(output)
        return [padded[:length, index] for index, length in enumerate(lengths.tolist())], h_n
    if kind.startswith("unbatched"):
        return [output], h_n.unsqueeze(1)
    if kind == "batch_first":
        return list(output.unbind(0)), h_n
    return list(output.unbind(1)), h_n


def reference_per_sequence(
    module: nn.Module, leaves: Dict[str, Tensor], kind: str, reset_after: bool
) -> Tuple[List[Tensor], Tensor]:
    """The reference on the inputs the module got (read back from their leaves)."""
    x = leaves["input"]
    if kind.startswith("unbatched"):
        sequences = [x]
    elif kind == "batch_first":
        sequences = list(x.unbind(0))
    else:
        sequences = [x[:length, index] for index, length in enumerate(lengths_of(kind, x.shape[1]))]
    layers = module.num_layers * (2 if module.bidirectional else 1)
    h0 = leaves.get("h0")
    if h0 is None:
        h0 = torch.zeros(layers, len(sequences), module.hidden_size, dtype=x.dtype)
    elif kind.startswith("unbatched"):
        h0 = h0.unsqueeze(1)
    return reference_gru(module, sequences, h0, reset_after)


def assert_matches_reference(
    module: nn.Module, kind: str, with_state: bool, dtype: torch.dtype, reset_after: bool = False
) -> None:
    """Values and gradients (inputs, h0, every parameter) of the module match the reference."""
    layers = module.num_layers * (2 if module.bidirectional else 1)
    make_inputs = sequence_inputs(kind, INPUT_SIZE, (HIDDEN_SIZE,), layers, with_state, dtype, BATCH, SEQ_LEN)
    args, leaves = make_inputs()
    actual_outputs, actual_h_n = module_per_sequence(*module(*args), kind)
    expected_outputs, expected_h_n = reference_per_sequence(module, leaves, kind, reset_after)
    for index, (actual, expected) in enumerate(zip(actual_outputs, expected_outputs, strict=True)):
        assert_close(actual, expected, f"output of sequence {index}")
    assert_close(actual_h_n, expected_h_n, "h_n")

    generator = torch.Generator().manual_seed(3)
    weights = [torch.randn(t.shape, dtype=dtype, generator=generator) for t in [*expected_outputs, expected_h_n]]
    differentiable = [*leaves.values(), *module.parameters()]
    names = [*leaves, *(name for name, _ in module.named_parameters())]

    def gradients(results: Sequence[Tensor]) -> Tuple[Tensor, ...]:
        loss = sum((result * weight).sum() for result, weight in zip(results, weights, strict=True))
        return torch.autograd.grad(loss, differentiable, retain_graph=True)

    expected_gradients = gradients([*expected_outputs, expected_h_n])
    actual_gradients = gradients([*actual_outputs, actual_h_n])
    for name, actual, expected in zip(names, actual_gradients, expected_gradients, strict=True):
        assert_close(actual, expected, f"grad of {name}")


def reset_before_gru(seed: int = 0, **kwargs: Any) -> torch_ext.GRU:
    torch.manual_seed(seed)
    return torch_ext.GRU(INPUT_SIZE, HIDDEN_SIZE, reset_after=False, **kwargs)


# ------------------------------------------------------------------------------------- the reference


@pytest.mark.parametrize("kind", ["batched", "unbatched", "packed_unsorted"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_reference_in_pytorch_form_matches_nn_gru(kind: str, bidirectional: bool) -> None:
    """The reference is right: with the reset gate after the product it is torch.nn.GRU."""
    torch.manual_seed(0)
    gru = nn.GRU(INPUT_SIZE, HIDDEN_SIZE, num_layers=2, bidirectional=bidirectional, dtype=torch.float64)
    assert_matches_reference(gru, kind, True, torch.float64, reset_after=True)


# ------------------------------------------------------------------------------------- GRU


GRID = list(itertools.product([1, 2, 3], [True, False], [False, True], INPUT_KINDS, [False, True]))


@pytest.mark.parametrize(
    "num_layers, bias, bidirectional, kind, with_state",
    GRID,
    ids=[
        f"L{n}-{'bias' if b else 'nobias'}-{'bi' if d else 'uni'}-{k}-{'hx' if s else 'nohx'}"
        for n, b, d, k, s in GRID
    ],
)
def test_gru_matches_reference(num_layers: int, bias: bool, bidirectional: bool, kind: str, with_state: bool) -> None:
    gru = reset_before_gru(
        num_layers=num_layers, bias=bias, bidirectional=bidirectional, batch_first=kind.endswith("batch_first")
    )
    assert_matches_reference(gru, kind, with_state, torch.float32)


@pytest.mark.parametrize("kind", ["batched", "batch_first", "unbatched", "packed", "packed_unsorted"])
def test_gru_float64_matches_reference(kind: str) -> None:
    gru = reset_before_gru(num_layers=2, bidirectional=True, batch_first=kind == "batch_first", dtype=torch.float64)
    assert_matches_reference(gru, kind, True, torch.float64)


@pytest.mark.parametrize("kind", ["batched", "packed_unsorted", "unbatched"])
@pytest.mark.parametrize("bias", [True, False])
def test_gru_gradcheck(kind: str, bias: bool) -> None:
    """torch.autograd.gradcheck of the module's functional form (parameters as inputs), float64."""
    torch.manual_seed(0)
    gru = torch_ext.GRU(2, 2, num_layers=2, bias=bias, bidirectional=True, reset_after=False, dtype=torch.float64)
    names = [name for name, _ in gru.named_parameters()]
    generator = torch.Generator().manual_seed(1)
    unbatched = kind == "unbatched"
    x = torch.randn((3, 2) if unbatched else (3, 2, 2), dtype=torch.float64, generator=generator)
    h0 = torch.randn((4, 2) if unbatched else (4, 2, 2), dtype=torch.float64, generator=generator)

    def functional(x: Tensor, h0: Tensor, *parameters: Tensor) -> Tuple[Tensor, Tensor]:
        input: Any = x
        if kind == "packed_unsorted":
            input = pack_padded_sequence(x, torch.tensor([2, 3]), enforce_sorted=False)
        output, h_n = torch.func.functional_call(gru, dict(zip(names, parameters)), (input, h0))
        return (output.data if isinstance(output, PackedSequence) else output), h_n

    inputs = [x, h0, *(p.detach().clone() for p in gru.parameters())]
    assert torch.autograd.gradcheck(functional, [t.requires_grad_() for t in inputs])


def test_gru_differs_from_reset_after_on_the_same_weights() -> None:
    reset_before = reset_before_gru(num_layers=2, bidirectional=True)
    reset_after = torch_ext.GRU(INPUT_SIZE, HIDDEN_SIZE, num_layers=2, bidirectional=True)
    reset_after.load_state_dict(reset_before.state_dict())
    x = torch.randn(SEQ_LEN, BATCH, INPUT_SIZE, generator=torch.Generator().manual_seed(2))
    h0 = torch.randn(4, BATCH, HIDDEN_SIZE, generator=torch.Generator().manual_seed(3))
    output_before, h_before = reset_before(x, h0)
    output_after, h_after = reset_after(x, h0)
    assert (output_before - output_after).abs().max() > 1e-3
    assert (h_before - h_after).abs().max() > 1e-3


@pytest.mark.parametrize("direction", ["nn_to_ours", "ours_to_nn"])
def test_gru_state_dict_is_interchangeable_with_nn(direction: str) -> None:
    """Same parameter names and shapes as nn.GRU: state dicts load both ways (the math differs)."""
    kwargs: Dict[str, Any] = dict(num_layers=2, bidirectional=True, bias=True)
    torch.manual_seed(1)
    reference = nn.GRU(INPUT_SIZE, HIDDEN_SIZE, **kwargs)
    ours = reset_before_gru(seed=2, **kwargs)
    source, target = (reference, ours) if direction == "nn_to_ours" else (ours, reference)
    target.load_state_dict(source.state_dict())
    assert_same_parameters(ours, reference)
    assert_matches_reference(ours, "batched", True, torch.float32)


def test_gru_initialisation_and_layout_match_nn() -> None:
    torch.manual_seed(0)
    reference = nn.GRU(INPUT_SIZE, HIDDEN_SIZE, 3, bidirectional=True)
    ours = reset_before_gru(num_layers=3, bidirectional=True)
    assert_same_parameters(ours, reference)
    assert ours._flat_weights_names == reference._flat_weights_names and ours.mode == "GRU"


def test_gru_repr_shows_reset_after_only_when_false() -> None:
    assert repr(reset_before_gru()) == "GRU(3, 5, reset_after=False)"
    assert repr(reset_before_gru(num_layers=2, bias=False)) == "GRU(3, 5, num_layers=2, bias=False, reset_after=False)"
    assert repr(torch_ext.GRU(3, 5, reset_after=True)) == repr(nn.GRU(3, 5)) == "GRU(3, 5)"


@pytest.mark.parametrize("duplicate", ["deepcopy", "pickle"])
def test_gru_copies_keep_the_form(duplicate: str) -> None:
    gru = reset_before_gru(num_layers=2)
    twin = copy.deepcopy(gru) if duplicate == "deepcopy" else pickle.loads(pickle.dumps(gru))
    assert twin.reset_after is False and repr(twin) == repr(gru)
    x = torch.randn(SEQ_LEN, BATCH, INPUT_SIZE)
    assert torch.equal(twin(x)[0], gru(x)[0])


def test_gru_eval_ignores_dropout_and_training_draws_it() -> None:
    gru = reset_before_gru(num_layers=3, dropout=0.5)
    x = torch.randn(SEQ_LEN, BATCH, INPUT_SIZE, generator=torch.Generator().manual_seed(4))
    torch.manual_seed(11)
    first, _ = gru(x)
    torch.manual_seed(11)
    repeated, _ = gru(x)
    second, _ = gru(x)
    assert torch.equal(first, repeated) and not torch.equal(first, second)
    gru.eval()
    assert not torch.allclose(first, gru(x)[0])
    assert_matches_reference(gru, "batched", True, torch.float32)


@pytest.mark.parametrize("packed", [False, True])
def test_gru_runs_torch_ext_ops_only(packed: bool) -> None:
    """Forward and backward run our GRU layer kernels (the public op composes them, so the
    dispatcher sees the layer halves), never ATen's GRU."""
    gru = reset_before_gru(num_layers=2, bidirectional=True)
    make_inputs = sequence_inputs("packed_unsorted" if packed else "batched", INPUT_SIZE, (HIDDEN_SIZE,), 4, True)
    names = ops_run_by(gru, make_inputs)
    assert {"torch_ext._gru_layer_forward.default", "torch_ext._gru_layer_backward.default"} <= names, names
    assert not [name for name in names if "gru" in name and not name.startswith("torch_ext.")]


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: torch_ext.GRU(3, 4, reset_after=0), "reset_after should be of type bool, got: int"),
        (lambda: torch_ext.GRU(3, 4, reset_after=None), "reset_after should be of type bool, got: NoneType"),
        (lambda: torch_ext.GRUCell(3, 4, reset_after="no"), "reset_after should be of type bool, got: str"),
    ],
)
def test_reset_after_must_be_a_bool(make: Any, message: str) -> None:
    with pytest.raises(TypeError) as error:
        make()
    assert str(error.value) == message


def test_reset_after_is_keyword_only() -> None:
    with pytest.raises(TypeError, match="positional"):
        torch_ext.GRUCell(3, 4, True, None, None, False)  # type: ignore[misc]
    with pytest.raises(TypeError, match="positional"):
        torch_ext.GRU(3, 4, 1, True, False, 0.0, False, 0, None, None, False)


# ------------------------------------------------------------------------------------- GRUCell


def reset_before_cell(seed: int = 0, **kwargs: Any) -> torch_ext.GRUCell:
    torch.manual_seed(seed)
    return torch_ext.GRUCell(INPUT_SIZE, HIDDEN_SIZE, reset_after=False, **kwargs)


CELL_GRID = list(itertools.product([True, False], [True, False], [True, False], [torch.float32, torch.float64]))


@pytest.mark.parametrize("batched, with_state, bias, dtype", CELL_GRID)
def test_cell_matches_reference(batched: bool, with_state: bool, bias: bool, dtype: torch.dtype) -> None:
    cell = reset_before_cell(bias=bias, dtype=dtype)
    generator = torch.Generator().manual_seed(5)
    batch_shape = (BATCH,) if batched else ()
    x = leaf(generator, (*batch_shape, INPUT_SIZE), dtype)
    h = leaf(generator, (*batch_shape, HIDDEN_SIZE), dtype) if with_state else None
    actual = cell(x, h)
    h_or_zeros = h if h is not None else torch.zeros(*batch_shape, HIDDEN_SIZE, dtype=dtype)
    expected = reference_step(x, h_or_zeros, cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh, False)
    assert_close(actual, expected, "h'")
    weight = torch.randn(expected.shape, dtype=dtype, generator=generator)
    differentiable = [x, *([h] if h is not None else []), *cell.parameters()]
    expected_gradients = torch.autograd.grad((expected * weight).sum(), differentiable)
    actual_gradients = torch.autograd.grad((actual * weight).sum(), differentiable)
    for index, (a, e) in enumerate(zip(actual_gradients, expected_gradients, strict=True)):
        assert_close(a, e, f"gradient {index}")


@pytest.mark.parametrize("bias", [True, False])
def test_cell_gradcheck(bias: bool) -> None:
    cell = reset_before_cell(bias=bias, dtype=torch.float64)
    names = [name for name, _ in cell.named_parameters()]
    generator = torch.Generator().manual_seed(6)
    x = torch.randn(2, INPUT_SIZE, dtype=torch.float64, generator=generator)
    h = torch.randn(2, HIDDEN_SIZE, dtype=torch.float64, generator=generator)

    def functional(x: Tensor, h: Tensor, *parameters: Tensor) -> Tensor:
        return torch.func.functional_call(cell, dict(zip(names, parameters)), (x, h))

    inputs = [x, h, *(p.detach().clone() for p in cell.parameters())]
    assert torch.autograd.gradcheck(functional, [t.requires_grad_() for t in inputs])


def test_cell_differs_from_reset_after_and_loads_nn_state_dict() -> None:
    torch.manual_seed(0)
    reference = nn.GRUCell(INPUT_SIZE, HIDDEN_SIZE)
    cell = reset_before_cell(seed=1)
    cell.load_state_dict(reference.state_dict())
    assert_same_parameters(cell, reference)
    reference.load_state_dict(cell.state_dict())
    x, h = torch.randn(BATCH, INPUT_SIZE), torch.randn(BATCH, HIDDEN_SIZE)
    assert (cell(x, h) - reference(x, h)).abs().max() > 1e-3


def test_cell_repr_and_copies() -> None:
    cell = reset_before_cell(bias=False)
    assert repr(cell) == "GRUCell(3, 5, bias=False, reset_after=False)"
    assert repr(torch_ext.GRUCell(3, 5)) == repr(nn.GRUCell(3, 5))
    twin = pickle.loads(pickle.dumps(cell))
    assert twin.reset_after is False and repr(twin) == repr(cell)


def test_cell_unrolled_equals_the_one_layer_gru() -> None:
    """The cell op and the layer op compute the same recurrence: stepping the cell over a sequence
    gives the GRU's output, final state and gradients."""
    gru = reset_before_gru()
    cell = torch_ext.GRUCell(INPUT_SIZE, HIDDEN_SIZE, reset_after=False)
    with torch.no_grad():
        for name, p in cell.named_parameters():
            p.copy_(getattr(gru, f"{name}_l0"))
    generator = torch.Generator().manual_seed(8)
    x = leaf(generator, (SEQ_LEN, BATCH, INPUT_SIZE))
    h0 = leaf(generator, (BATCH, HIDDEN_SIZE))
    output, h_n = gru(x, h0.unsqueeze(0))
    h, steps = h0, []
    for x_t in x:
        h = cell(x_t, h)
        steps.append(h)
    assert_close(torch.stack(steps), output, "output")
    assert_close(h, h_n[0], "h_n")
    grads_layer = torch.autograd.grad(output.square().sum(), [x, h0, *gru.parameters()])
    grads_cell = torch.autograd.grad(torch.stack(steps).square().sum(), [x, h0, *cell.parameters()])
    for index, (a, e) in enumerate(zip(grads_cell, grads_layer, strict=True)):
        assert_close(a, e, f"gradient {index}")


# ------------------------------------------------------------------------------------- GRU's docstring


def test_docstring_mapping_to_the_text_form() -> None:
    """GRU's docstring: the text's GRU (r and z from [h, x], candidate from [r * h, x],
    h = (1 - z) h_prev + z h~) is reset_after=False with W_r = [W_hr | W_ir], W = [W_hn | W_in],
    W_z = -[W_hz | W_iz] and the biases summed (negated for z)."""
    cell = reset_before_cell(seed=3, dtype=torch.float64)
    w_ir, w_iz, w_in = cell.weight_ih.detach().chunk(3)
    w_hr, w_hz, w_hn = cell.weight_hh.detach().chunk(3)
    b_ir, b_iz, b_in = cell.bias_ih.detach().chunk(3)
    b_hr, b_hz, b_hn = cell.bias_hh.detach().chunk(3)
    text_w_r, text_b_r = torch.cat([w_hr, w_ir], 1), b_ir + b_hr
    text_w_z, text_b_z = -torch.cat([w_hz, w_iz], 1), -(b_iz + b_hz)
    text_w, text_b = torch.cat([w_hn, w_in], 1), b_in + b_hn

    generator = torch.Generator().manual_seed(9)
    x = torch.randn(BATCH, INPUT_SIZE, dtype=torch.float64, generator=generator)
    h_prev = torch.randn(BATCH, HIDDEN_SIZE, dtype=torch.float64, generator=generator)
    r = torch.sigmoid(torch.cat([h_prev, x], 1) @ text_w_r.T + text_b_r)
    z = torch.sigmoid(torch.cat([h_prev, x], 1) @ text_w_z.T + text_b_z)
    candidate = torch.tanh(torch.cat([r * h_prev, x], 1) @ text_w.T + text_b)
    text_h = (1 - z) * h_prev + z * candidate
    assert_close(cell(x, h_prev).detach(), text_h, "h")


def test_docstring_mapping_from_keras_reset_after_false() -> None:
    """GRU's docstring: Keras' GRU(reset_after=False) cell, with kernel (input, 3u) and
    recurrent_kernel (u, 3u) in gate order z, r, h and one bias, is reset_after=False with the
    transposed blocks reordered to r, z, n, bias_ih = the bias reordered and bias_hh = 0."""
    units, generator = HIDDEN_SIZE, torch.Generator().manual_seed(10)
    kernel = torch.randn(INPUT_SIZE, 3 * units, dtype=torch.float64, generator=generator)
    recurrent_kernel = torch.randn(units, 3 * units, dtype=torch.float64, generator=generator)
    bias = torch.randn(3 * units, dtype=torch.float64, generator=generator)
    x = torch.randn(BATCH, INPUT_SIZE, dtype=torch.float64, generator=generator)
    h_prev = torch.randn(BATCH, units, dtype=torch.float64, generator=generator)

    # Keras' step (reset_after=False, recurrent_activation="sigmoid"), gate blocks z, r, h.
    z_block, r_block, h_block = slice(0, units), slice(units, 2 * units), slice(2 * units, 3 * units)
    x_z, x_r, x_h = (x @ kernel[:, block] + bias[block] for block in (z_block, r_block, h_block))
    z = torch.sigmoid(x_z + h_prev @ recurrent_kernel[:, z_block])
    r = torch.sigmoid(x_r + h_prev @ recurrent_kernel[:, r_block])
    candidate = torch.tanh(x_h + (r * h_prev) @ recurrent_kernel[:, h_block])
    keras_h = z * h_prev + (1 - z) * candidate

    def to_torch_order(blocks: Tensor) -> Tensor:  # z, r, h along dim 0 -> r, z, n
        z_part, r_part, n_part = blocks.chunk(3)
        return torch.cat([r_part, z_part, n_part])

    cell = torch_ext.GRUCell(INPUT_SIZE, units, reset_after=False, dtype=torch.float64)
    cell.load_state_dict(
        {
            "weight_ih": to_torch_order(kernel.T),
            "weight_hh": to_torch_order(recurrent_kernel.T),
            "bias_ih": to_torch_order(bias),
            "bias_hh": torch.zeros(3 * units, dtype=torch.float64),
        }
    )
    assert_close(cell(x, h_prev).detach(), keras_h, "h")
