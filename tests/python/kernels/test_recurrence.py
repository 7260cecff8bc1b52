"""What every cell's kernel shares (csrc/kernels/recurrence.h): inference computes the input
projection chunk by chunk of steps (gate scratch of 512 rows, not the whole sequence), and must
give what the one-chunk training path and ATen give, padded or packed, in either direction."""

import pytest
import torch

import torch_ext  # noqa: F401
from rnn_testing import flat_params, intra_op_threads

ops = torch.ops.torch_ext

# (steps, batch): more than 512 rows, and batches that do not divide 512.
SHAPES = [(40, 17), (9, 100)]
MODES = ["lstm", "gru", "gru_reset_before", "rnn_tanh", "rnn_relu"]


def _run(mode, inputs, batch_sizes, hx, params):
    args = (True, 2, 0.0, False, True)
    if mode == "lstm":
        hx = list(hx)
    op = getattr(ops, mode)
    if batch_sizes is None:
        return op.input(inputs, hx, params, *args, False)
    return op.data(inputs, batch_sizes, hx, params, *args)


def _aten(mode, inputs, batch_sizes, hx, params):
    args = (True, 2, 0.0, False, True)
    if mode == "lstm":
        hx = list(hx)
    fn = getattr(torch, mode)
    if batch_sizes is None:
        return fn(inputs, hx, params, *args, False)
    return fn(inputs, batch_sizes, hx, params, *args)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("packed", [False, True])
@pytest.mark.parametrize("shape", SHAPES, ids=[f"T={t},B={b}" for t, b in SHAPES])
@pytest.mark.parametrize("mode", MODES)
def test_chunked_inference_matches_the_whole_sequence(mode, shape, packed, threads):
    steps, batch = shape
    generator = torch.Generator().manual_seed(0)
    I, H = 12, 40
    cell = {"lstm": "LSTM", "gru": "GRU", "gru_reset_before": "GRU", "rnn_tanh": "RNN_TANH", "rnn_relu": "RNN_RELU"}[mode]
    params = flat_params(cell, I, H, 2, True, True, dtype=torch.float32, requires_grad=False)
    if packed:
        lengths = torch.linspace(steps, 1, batch).round().long().tolist()
        sequence = torch.nn.utils.rnn.pack_sequence([torch.randn(n, I, generator=generator) for n in lengths])
        inputs, batch_sizes = sequence.data, sequence.batch_sizes
    else:
        inputs, batch_sizes = torch.randn(steps, batch, I, generator=generator), None
    h = torch.randn(4, batch, H, generator=generator)
    hx = (h, torch.randn(4, batch, H, generator=generator)) if mode == "lstm" else h
    with intra_op_threads(threads):
        with torch.inference_mode():
            chunked = _run(mode, inputs, batch_sizes, hx, params)
        # With grad, the forward saves every row's gates: one chunk.
        whole = _run(mode, inputs, batch_sizes, hx, [p.clone().requires_grad_() for p in params])
    for a, b in zip(chunked, whole):
        torch.testing.assert_close(a, b.detach(), atol=1e-5, rtol=1e-5)
    if mode != "gru_reset_before":  # ATen has no reset-before GRU
        for a, b in zip(chunked, _aten(mode, inputs, batch_sizes, hx, params)):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


# --- Batch slices: a direction run as independent slices of its batch, one thread each --------------
#
# TORCH_EXT_RECURRENCE_SPLIT=batch forces the split (csrc/kernels/recurrence.h batch_slice_count),
# =units forbids it; unset, small batches of small cells slice and large ones split the units. The
# kernels read the variable at each layer call. The sizes give each direction more than the 2^21
# FLOPs below which a call stays on one thread, and more than the 512 rows of inference's gate
# scratch (a slice then projects its input a step at a time); packed lengths run down to 1, so the
# later slices end in steps without rows.
SLICED_MODULES = ["LSTM", "LSTM-proj", "GRU", "GRU-reset-before", "RNN-tanh", "RNN-relu", "LayerNormLSTM",
                  "LayerNormGRU"]


def _sliced_module(name: str, bidirectional: bool, dtype: torch.dtype) -> torch.nn.Module:
    torch.manual_seed(0)
    I, H = 24, 64
    if name == "LSTM":
        module = torch_ext.LSTM(I, H, num_layers=2, bidirectional=bidirectional)
    elif name == "LSTM-proj":
        module = torch_ext.LSTM(I, H, num_layers=2, bidirectional=bidirectional, proj_size=48)
    elif name.startswith("GRU"):
        module = torch_ext.GRU(I, H, num_layers=2, bidirectional=bidirectional, reset_after=name == "GRU")
    elif name.startswith("RNN"):
        module = torch_ext.RNN(I, H, num_layers=2, bidirectional=bidirectional, nonlinearity=name[4:])
    else:
        module = getattr(torch_ext, name)(I, H, num_layers=2, bidirectional=bidirectional)
        with torch.no_grad():  # away from the layer norms' initial weight 1 and bias 0
            for parameter in module.parameters():
                parameter.add_(torch.randn_like(parameter) * 0.1)
    return module.to(dtype)


def _sliced_input(packed: bool, dtype: torch.dtype):
    generator = torch.Generator().manual_seed(1)
    steps, batch, features = 80, 9, 24
    if not packed:
        return torch.randn(steps, batch, features, generator=generator, dtype=dtype)
    lengths = [80, 3, 77, 1, 80, 74, 69, 72, 65]  # unsorted, 521 rows; the shortest is one step
    return torch.nn.utils.rnn.pack_sequence(
        [torch.randn(n, features, generator=generator, dtype=dtype) for n in lengths], enforce_sorted=False
    )


def _forward_backward(module: torch.nn.Module, inputs, split: str, threads: int, training: bool, monkeypatch):
    """Output, final states and (training) the gradients of every parameter and of the input."""
    monkeypatch.setenv("TORCH_EXT_RECURRENCE_SPLIT", split)
    module.zero_grad()
    data = inputs.data if isinstance(inputs, torch.nn.utils.rnn.PackedSequence) else inputs
    data = data.detach().requires_grad_(training)
    if isinstance(inputs, torch.nn.utils.rnn.PackedSequence):
        inputs = torch.nn.utils.rnn.PackedSequence(data, inputs.batch_sizes, inputs.sorted_indices,
                                                   inputs.unsorted_indices)
    else:
        inputs = data
    with torch.set_grad_enabled(training), intra_op_threads(threads):
        output, state = module(inputs)
        output = output.data if isinstance(output, torch.nn.utils.rnn.PackedSequence) else output
        states = list(state) if isinstance(state, tuple) else [state]
        results = [output] + states
        if not training:
            return [r.detach() for r in results]
        weights = [torch.linspace(-1, 1, r.numel(), dtype=r.dtype).view_as(r) for r in results]
        sum(((r * w).sum() for r, w in zip(results, weights))).backward()
    return [r.detach() for r in results] + [data.grad] + [p.grad for p in module.parameters()]


def _assert_results_close(actual, expected, tolerance: float, label: str = "") -> None:
    """Each result within `tolerance`, relative and absolute (scaled by the result's largest value)."""
    assert len(actual) == len(expected)
    for index, (a, b) in enumerate(zip(actual, expected)):
        scale = max(1.0, b.abs().max().item())
        torch.testing.assert_close(a, b, atol=tolerance * scale, rtol=tolerance,
                                   msg=lambda m: f"result {index}{label}: {m}")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
@pytest.mark.parametrize("packed", [False, True], ids=["padded", "packed"])
@pytest.mark.parametrize(
    "threads,bidirectional", [(2, False), (3, False), (4, True)], ids=["2-threads", "3-threads", "bidir-4-threads"]
)
@pytest.mark.parametrize("name", SLICED_MODULES)
def test_batch_slices_match_split_units(name, threads, bidirectional, packed, training, dtype, monkeypatch):
    module = _sliced_module(name, bidirectional, dtype)
    inputs = _sliced_input(packed, dtype)
    sliced = _forward_backward(module, inputs, "batch", threads, training, monkeypatch)
    units = _forward_backward(module, inputs, "units", threads, training, monkeypatch)
    tolerance = 2e-5 if dtype == torch.float32 else 1e-12
    if name.startswith("LayerNorm"):
        # Row statistics and the norms' parameter gradients are summed in another order: per slice,
        # then added (a parameter gradient sums ~700 rows' terms, with cancellation).
        tolerance = 2e-4 if dtype == torch.float32 else 1e-9
    _assert_results_close(sliced, units, tolerance)
    reference = None  # torch.nn's module of the same weights, where torch.nn has the cell
    if name.startswith("LSTM"):
        reference = torch.nn.LSTM(24, 64, num_layers=2, bidirectional=bidirectional,
                                  proj_size=48 if name == "LSTM-proj" else 0)
    elif name == "GRU":
        reference = torch.nn.GRU(24, 64, num_layers=2, bidirectional=bidirectional)
    elif name.startswith("RNN"):
        reference = torch.nn.RNN(24, 64, num_layers=2, bidirectional=bidirectional, nonlinearity=name[4:])
    if reference is not None:
        reference = reference.to(dtype)
        reference.load_state_dict(module.state_dict())
        expected = _forward_backward(reference, inputs, "units", threads, training, monkeypatch)
        _assert_results_close(sliced, expected, 5 * tolerance, " vs torch.nn")


# --- Backward windows: a long sequence goes back a window of steps at a time -------------------------
#
# Every cell's backward (LSTM, GRU in both forms, RNN, layer-norm LSTM and GRU) keeps its gradient workspaces to one window's rows
# (csrc/kernels/sequence.h backward_window_steps; 16 MiB per workspace by default, so these sizes
# run as one window). TORCH_EXT_BACKWARD_WINDOW_BYTES sets the budget: 1 byte gives one-step
# windows, 40000 bytes windows of 3 steps (rows of 4H = 256 float64 values; 4 steps for the GRU, 8 for the RNN). Both directions of a
# bidirectional layer reach a window's rows of the input gradient in different rounds; the
# layer-norm cells sum their norms' parameter gradients over the windows (and over slices).
WINDOWED_MODULES = ["LSTM", "LSTM-proj", "GRU", "GRU-reset-before", "RNN-tanh", "RNN-relu", "LayerNormLSTM",
                    "LayerNormGRU"]
@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16], ids=["float64", "bfloat16"])
@pytest.mark.parametrize("budget", ["1", "40000"], ids=["1-step-windows", "3-step-windows"])
@pytest.mark.parametrize("packed", [False, True], ids=["padded", "packed"])
@pytest.mark.parametrize(
    "split,threads,bidirectional",
    [("batch", 2, False), ("units", 2, False), ("units", 4, True), ("batch", 4, True)],
    ids=["slices", "units", "bidir-units", "bidir-slices"],
)
@pytest.mark.parametrize("name", WINDOWED_MODULES)
def test_backward_windows_match_the_whole_sequence(name, split, threads, bidirectional, packed, budget, dtype,
                                                   monkeypatch):
    if dtype == torch.bfloat16 and name.startswith("LayerNorm"):
        dtype = torch.float32  # the layer-norm cells' bfloat16 calls widen to these float32 kernels
    module = _sliced_module(name, bidirectional, dtype)
    inputs = _sliced_input(packed, dtype)
    monkeypatch.delenv("TORCH_EXT_BACKWARD_WINDOW_BYTES", raising=False)
    whole = _forward_backward(module, inputs, split, threads, True, monkeypatch)
    monkeypatch.setenv("TORCH_EXT_BACKWARD_WINDOW_BYTES", budget)
    windowed = _forward_backward(module, inputs, split, threads, True, monkeypatch)
    # Only the order of the parameter gradients' sums differs; bfloat16 results are then rounded to
    # 8 bits.
    tolerance = {torch.float64: 1e-12, torch.float32: 2e-4, torch.bfloat16: 2e-2}[dtype]
    _assert_results_close(windowed, whole, tolerance)
