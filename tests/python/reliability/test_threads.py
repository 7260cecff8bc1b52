"""Several Python threads running forward and backward on one shared module at once get exactly
the results of the same runs one after another, for every module family
(tests/python/recurrent_modules.py) and torch_ext.LayerNorm, with two intra-op threads per call
(sizes at which the kernels split each layer between a team of two threads: a call's parallel
region runs beside the other threads' regions).

Gradients are taken with torch.autograd.grad, which writes no ``.grad``: accumulating into shared
``.grad`` fields from several threads is a race of the caller's making, not the module's.
"""

import threading
from typing import Callable, List

import torch
from reliability_testing import (
    CELL_VARIANTS,
    SEQUENCE_VARIANTS,
    Variant,
    build_layer_norm,
    build_threaded,
    forward_backward,
    layer_norm_input,
    parametrize,
    threaded_input,
)
from rnn_testing import intra_op_threads
from torch import Tensor

THREADS, ROUNDS = 3, 1


def run_concurrently(jobs: List[Callable[[], List[Tensor]]]) -> List[List[Tensor]]:
    """Runs each job on its own thread, all released at once; returns their results in order and
    re-raises the first failure."""
    results: List[List[Tensor]] = [[] for _ in jobs]
    errors: List[BaseException] = []
    start = threading.Barrier(len(jobs))

    def work(index: int) -> None:
        try:
            start.wait()
            results[index] = jobs[index]()
        except BaseException as error:  # noqa: BLE001 (handed to the main thread)
            errors.append(error)

    threads = [threading.Thread(target=work, args=(index,)) for index in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
        assert not thread.is_alive(), "a thread hangs"
    if errors:
        raise errors[0]
    return results


def assert_concurrent_runs_match_serial(make_jobs: Callable[[], List[Callable[[], List[Tensor]]]]) -> None:
    """THREADS threads each run their jobs' ROUNDS; every result equals, bitwise, that of the same
    job run alone, at the same intra-op thread count (2, set in each thread: the setting is
    per thread)."""
    jobs = make_jobs()

    def on_two_threads(job: Callable[[], List[Tensor]]) -> Callable[[], List[Tensor]]:
        def run() -> List[Tensor]:
            with intra_op_threads(2):
                return job()

        return run

    serial = [on_two_threads(job)() for job in jobs]
    concurrent = run_concurrently([on_two_threads(job) for job in jobs])
    for index, (expected, actual) in enumerate(zip(serial, concurrent)):
        assert len(actual) == len(expected)
        for position, (a, e) in enumerate(zip(actual, expected)):
            assert torch.equal(a, e), f"job {index}, result {position}: differs from the serial run"


@parametrize(SEQUENCE_VARIANTS + CELL_VARIANTS)
def test_threads_sharing_a_module(variant: Variant) -> None:
    """One module, THREADS Python threads, each running ROUNDS forward + backward passes on inputs
    of its own (so that a result read from another thread's buffers would show)."""
    built = build_threaded(variant)
    inputs = [[threaded_input(built, seed=10 * thread + round) for round in range(ROUNDS)] for thread in range(THREADS)]

    def make_jobs() -> List[Callable[[], List[Tensor]]]:
        def job(thread: int) -> Callable[[], List[Tensor]]:
            return lambda: [r for x in inputs[thread] for r in forward_backward(built.module, x, seed=thread)]

        return [job(thread) for thread in range(THREADS)]

    assert_concurrent_runs_match_serial(make_jobs)


def test_threads_sharing_a_layer_norm() -> None:
    module = build_layer_norm()
    inputs = [[layer_norm_input(seed=10 * thread + round) for round in range(ROUNDS)] for thread in range(THREADS)]

    def make_jobs() -> List[Callable[[], List[Tensor]]]:
        def job(thread: int) -> Callable[[], List[Tensor]]:
            return lambda: [r for x in inputs[thread] for r in forward_backward(module, x, seed=thread)]

        return [job(thread) for thread in range(THREADS)]

    assert_concurrent_runs_match_serial(make_jobs)


def test_threads_running_different_families_at_once() -> None:
    """One thread per family (LSTM with projection, bidirectional GRU, reset-before GRU over a
    PackedSequence, ReLU RNN, layer-normalised LSTM, a GRU cell): their parallel regions and
    scratch buffers overlap in time."""
    chosen = [
        "LSTM-proj_size=H/2",
        "GRU-num_layers=2-bidirectional=True",
        "GRU-reset_after=False-bidirectional=True-packed",
        "RNN-nonlinearity=relu",
        "LayerNormLSTM",
        "GRUCell",
    ]
    variants = {v.id: v for v in SEQUENCE_VARIANTS + CELL_VARIANTS}
    built = [build_threaded(variants[name]) for name in chosen]
    inputs = [threaded_input(b, seed=index) for index, b in enumerate(built)]

    def make_jobs() -> List[Callable[[], List[Tensor]]]:
        def job(index: int) -> Callable[[], List[Tensor]]:
            return lambda: [r for _ in range(ROUNDS) for r in forward_backward(built[index].module, inputs[index])]

        return [job(index) for index in range(len(built))]

    assert_concurrent_runs_match_serial(make_jobs)
