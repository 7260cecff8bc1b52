"""What every cell's kernel shares (csrc/kernels/recurrence.h): inference computes the input
projection chunk by chunk of steps (gate scratch of 512 rows, not the whole sequence), and must
give what the one-chunk training path and ATen give, padded or packed, in either direction."""

import pytest
import torch

import torch_ext  # noqa: F401
from rnn_testing import flat_params

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
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.inference_mode():
            chunked = _run(mode, inputs, batch_sizes, hx, params)
        # With grad, the forward saves every row's gates: one chunk.
        whole = _run(mode, inputs, batch_sizes, hx, [p.clone().requires_grad_() for p in params])
    finally:
        torch.set_num_threads(previous)
    for a, b in zip(chunked, whole):
        torch.testing.assert_close(a, b.detach(), atol=1e-5, rtol=1e-5)
    if mode != "gru_reset_before":  # ATen has no reset-before GRU
        for a, b in zip(chunked, _aten(mode, inputs, batch_sizes, hx, params)):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
