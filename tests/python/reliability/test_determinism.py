"""Determinism of every module family (tests/python/recurrent_modules.py) and torch_ext.LayerNorm,
at sizes where the kernels split each layer between a team of two threads.

What holds (README, "Threads and determinism"):

* Repeated runs with the same inputs and thread count give bitwise identical outputs and
  gradients: float32 and float64, every family, any thread count.
* float32 LSTM (with projection, bidirectional, packed), GRU (both forms), RNN (tanh, ReLU) and
  their cells give bitwise identical results at 1 and 2 threads: threads split the hidden units
  in whole 32-unit panels, and every unit's dot products run the same way whichever thread owns
  them; the whole-sequence products and the bias gradients are cut by rows or columns, never
  along a sum.
* The layer-normalised modules and cells, and LayerNorm's gain and bias gradients (not its output
  or input gradient) change in the last bits with the thread count: a row's statistics are summed
  per thread and then merged, and the gradients of the gains are summed per block of rows, one
  block per thread.
* float64 changes in the last bits with the thread count in every family: its products run on
  BLAS (MKL), whose rounding depends on how the call is cut between threads.
"""

from typing import Callable, List

import pytest
import torch
from reliability_testing import (
    CELL_VARIANTS,
    SEQUENCE_VARIANTS,
    Variant,
    assert_close_scaled,
    build_layer_norm,
    build_threaded,
    forward_backward,
    layer_norm_input,
    threaded_input,
)
from rnn_testing import intra_op_threads
from torch import Tensor

VARIANTS = SEQUENCE_VARIANTS + CELL_VARIANTS


def is_layer_normalised(variant: Variant) -> bool:
    return variant.module.name.startswith("LayerNorm")


def runs_at(threads: int, run: Callable[[], List[Tensor]], times: int = 1) -> List[List[Tensor]]:
    with intra_op_threads(threads):
        return [run() for _ in range(times)]


def module_run(variant: Variant, dtype: torch.dtype) -> Callable[[], List[Tensor]]:
    built = build_threaded(variant, dtype)
    x = threaded_input(built, seed=0)
    return lambda: forward_backward(built.module, x)


def layer_norm_run(dtype: torch.dtype) -> Callable[[], List[Tensor]]:
    module, x = build_layer_norm(dtype), layer_norm_input(0, dtype)
    return lambda: forward_backward(module, x)


def assert_bitwise_equal(actual: List[Tensor], expected: List[Tensor], what: str) -> None:
    assert len(actual) == len(expected)
    for index, (a, e) in enumerate(zip(actual, expected)):
        assert torch.equal(a, e), f"{what}: result {index} differs (by up to {(a - e).abs().max().item():.3g})"


def assert_last_bits(actual: List[Tensor], expected: List[Tensor], what: str) -> None:
    """Equal but for rounding: within a few units in the last place of the largest value."""
    rtol = 1e-5 if actual[0].dtype == torch.float32 else 1e-12
    for index, (a, e) in enumerate(zip(actual, expected)):
        assert_close_scaled(a, e, f"{what}: result {index}", rtol=rtol)


def cases() -> List:
    """float32: every variant and LayerNorm; float64: one layer of each family (padded), the
    cells and LayerNorm."""
    params = []
    for dtype in (torch.float32, torch.float64):
        name = str(dtype).replace("torch.", "")
        for variant in VARIANTS:
            if dtype == torch.float64 and (variant.bidirectional or variant.input == "packed"):
                continue
            marks = pytest.mark.skipif(not variant.module.available, reason=f"no torch_ext.{variant.module.name}")
            params.append(pytest.param(variant, dtype, id=f"{variant.id}-{name}", marks=marks))
        params.append(pytest.param("LayerNorm", dtype, id=f"LayerNorm-{name}"))
    return params


@pytest.mark.parametrize("variant, dtype", cases())
def test_repeatable_and_what_the_thread_count_changes(variant, dtype: torch.dtype) -> None:
    """Two runs at 2 threads are bitwise identical; against a run at 1 thread, float32 without layer
    norms is bitwise identical, and so are LayerNorm's output and input gradient; the rest is
    equal to the last bits."""
    run = layer_norm_run(dtype) if variant == "LayerNorm" else module_run(variant, dtype)
    (one,) = runs_at(1, run)
    first, second = runs_at(2, run, times=2)
    assert_bitwise_equal(second, first, "a second run at 2 threads")
    if variant == "LayerNorm":
        assert_bitwise_equal(first[:2], one[:2], "output and input gradient, 2 threads against 1")
        assert_last_bits(first[2:], one[2:], "gain and bias gradients, 2 threads against 1")
    elif dtype == torch.float32 and not is_layer_normalised(variant):
        assert_bitwise_equal(first, one, "2 threads against 1")
    else:
        assert_last_bits(first, one, "2 threads against 1")


@pytest.mark.parametrize("cell, hidden", [("LSTM", 128), ("GRU", 128), ("RNN", 256)])
def test_whole_sequence_products_cut_the_same_at_any_thread_count(cell: str, hidden: int) -> None:
    """800 rows (25 steps of 32) make dX a packed whole-sequence product (kernels/packed_matrix.h
    sequence_gemm), whose rows go to the threads in blocks. The blocks depend on the row count
    alone (8 of 100 rows here, equal shares for 1, 2 or 4 threads), so float32 results are bitwise
    the same at 1, 2 and 4 threads."""
    import torch_ext

    torch.manual_seed(3)
    module = getattr(torch_ext, cell)(64, hidden)
    x = torch.randn(25, 32, 64)

    def run() -> List[Tensor]:
        module.zero_grad()
        leaf = x.clone().requires_grad_()
        output, _ = module(leaf)
        (output * torch.linspace(-1, 1, output.shape[-1])).sum().backward()
        return [output.detach(), leaf.grad] + [p.grad.clone() for p in module.parameters()]

    (one,) = runs_at(1, run)
    (two,) = runs_at(2, run)
    (four,) = runs_at(4, run)
    assert_bitwise_equal(two, one, f"{cell}: 2 threads against 1")
    assert_bitwise_equal(four, one, f"{cell}: 4 threads against 1")
