"""The LSTM kernels (csrc/kernels/lstm.cpp) at sizes where their threads split the hidden units,
under every thread count, and in every compiled CPU variant (DEFAULT, AVX2, AVX512)."""

import pytest
import torch

import torch_ext  # noqa: F401  (registers the ops)
from rnn_testing import CPU_CAPABILITIES, check_cpu_variant, compare_with_gradients, lstm_flat_params

ops = torch.ops.torch_ext


def _run_case(T, B, I, H, proj_size, bidirectional, packed, dtype):
    torch.manual_seed(0)
    num_layers = 2
    D = 2 if bidirectional else 1
    R = proj_size or H
    params = lstm_flat_params(I, H, num_layers, True, bidirectional, proj_size, dtype)
    h0 = torch.randn(num_layers * D, B, R, dtype=dtype, requires_grad=True)
    c0 = torch.randn(num_layers * D, B, H, dtype=dtype, requires_grad=True)
    if packed:
        lengths = torch.linspace(T, max(1, T // 3), B).round().long().tolist()
        sequences = [torch.randn(n, I, dtype=dtype) for n in lengths]
        packed_input = torch.nn.utils.rnn.pack_sequence(sequences)
        data = packed_input.data.clone().requires_grad_()
        args = (True, num_layers, 0.0, False, bidirectional)

        def ours(data, h0, c0, *p):
            return ops.lstm.data(data, packed_input.batch_sizes, [h0, c0], list(p), *args)

        def reference(data, h0, c0, *p):
            return torch.lstm(data, packed_input.batch_sizes, [h0, c0], list(p), *args)

        inputs = [data, h0, c0, *params]
    else:
        x = torch.randn(T, B, I, dtype=dtype, requires_grad=True)
        args = (True, num_layers, 0.0, False, bidirectional, False)

        def ours(x, h0, c0, *p):
            return ops.lstm.input(x, [h0, c0], list(p), *args)

        def reference(x, h0, c0, *p):
            return torch.lstm(x, [h0, c0], list(p), *args)

        inputs = [x, h0, c0, *params]
    compare_with_gradients(ours, reference, inputs)


# Sizes large enough that a direction's team takes both threads (several 32-unit blocks, and
# per-step work above the threshold), including hidden sizes that end in a partial block.
CASES = [
    (6, 16, 24, 100, 0, False, False),
    (6, 16, 24, 96, 0, True, False),
    (5, 12, 20, 100, 40, False, True),
    (7, 16, 24, 80, 0, True, True),
    (5, 9, 16, 72, 24, True, True),
]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("case", CASES, ids=[str(c) for c in CASES])
def test_multithreaded_recurrence_matches_aten(case, dtype, threads):
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        _run_case(*case, dtype=dtype)
    finally:
        torch.set_num_threads(previous)


# Whole-sequence products above 16 MFLOP run on packed panels (packed_matrix.h, sequence_gemm):
# the input projection and dX, with row blocks and panel widths that do not divide evenly.
LARGE_CASES = [
    (45, 30, 70, 72, 0, False, False),
    (40, 29, 66, 70, 0, True, True),
]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("case", LARGE_CASES, ids=[str(c) for c in LARGE_CASES])
def test_whole_sequence_products_on_packed_panels(case, threads):
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        _run_case(*case, dtype=torch.float32)
    finally:
        torch.set_num_threads(previous)


def test_results_do_not_depend_on_the_thread_count():
    torch.manual_seed(1)
    params = lstm_flat_params(32, 128, 1, True, True, dtype=torch.float32)
    x = torch.randn(10, 32, 32)
    hx = [torch.randn(2, 32, 128), torch.randn(2, 32, 128)]
    previous = torch.get_num_threads()
    results = []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            xs = x.clone().requires_grad_()
            out = ops.lstm.input(xs, hx, params, True, 1, 0.0, False, True, False)
            grads = torch.autograd.grad(sum(o.sum() for o in out), [xs, *params])
            results.append([o.detach() for o in out] + list(grads))
    finally:
        torch.set_num_threads(previous)
    # Per-unit work is identical whatever thread owns the unit; only the BLAS products that
    # span all threads may round differently.
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("capability", CPU_CAPABILITIES)
def test_every_cpu_variant_matches_aten(capability):
    check_cpu_variant(capability, "lstm")
