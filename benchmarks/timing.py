"""Timing: interleaved rounds (ours, baseline, ours, baseline, …) in one process, after warm-up,
summarised by medians, minima and the median of the per-round ratios; and the matrix-multiply
rates the FLOP rates are measured against (torch.mm's, and oneDNN's for the ceilings)."""

import gc
import math
import statistics
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional

import torch
from torch import Tensor


@dataclass
class Timings:
    """Seconds per call: ``samples[name][k]`` is round k's sample of implementation ``name``."""

    samples: Dict[str, List[float]]
    calls_per_sample: Dict[str, int]

    def median(self, name: str) -> float:
        return statistics.median(self.samples[name])

    def minimum(self, name: str) -> float:
        return min(self.samples[name])

    def ratios(self, baseline: str, ours: str = "ours") -> List[float]:
        """Per round, baseline time / our time: > 1 means ours is faster."""
        return [theirs / mine for theirs, mine in zip(self.samples[baseline], self.samples[ours])]


def _calls_for(seconds_per_call: float, min_sample_time: float) -> int:
    """Calls per sample so that a sample lasts at least ``min_sample_time`` (timer and scheduler
    noise shrink against it)."""
    if seconds_per_call <= 0:
        return 1
    return max(1, math.ceil(min_sample_time / seconds_per_call))


def time_interleaved(
    steps: Dict[str, Callable[[], None]],
    warmup: int,
    repeats: int,
    min_sample_time: float = 0.0,
    extra_warmup: Optional[Dict[str, int]] = None,
    settled_after: float = 1.0,
) -> Timings:
    """Run ``warmup`` untimed rounds, then ``repeats`` timed rounds; a round calls every step in the
    order given (ours first). ``extra_warmup`` gives some steps more untimed calls first (a
    TorchScript function optimises its graph only after profiling runs). A step whose warm-up
    call lasted ``settled_after`` seconds or more skips the remaining warm-up rounds: beside such
    a call the first call's one-time costs are small, and the big cases dominate the run's
    length. A sample is the mean of ``calls_per_sample`` back-to-back calls, chosen from the last
    warm-up call's time (and, for a call shorter than ``min_sample_time``, one more call's)."""
    names = list(steps)
    for name, count in (extra_warmup or {}).items():
        for _ in range(count):
            steps[name]()
    last_call = {name: 0.0 for name in names}
    for round in range(warmup):
        for name in names:
            if round > 0 and last_call[name] >= settled_after:
                continue
            start = time.perf_counter()
            steps[name]()
            last_call[name] = time.perf_counter() - start
    calls = {}
    for name in names:
        seconds = last_call[name]
        if 0 < seconds < min_sample_time:
            # A short call: one more, now that the first call's one-time costs are behind us.
            start = time.perf_counter()
            steps[name]()
            seconds = min(seconds, time.perf_counter() - start)
        calls[name] = _calls_for(seconds, min_sample_time) if warmup else 1
    samples: Dict[str, List[float]] = {name: [] for name in names}
    gc.collect()
    gc_was_enabled = gc.isenabled()
    gc.disable()  # a collection inside one side's sample would charge it to that side
    try:
        for _ in range(repeats):
            for name in names:
                step, count = steps[name], calls[name]
                start = time.perf_counter()
                for _ in range(count):
                    step()
                samples[name].append((time.perf_counter() - start) / count)
    finally:
        if gc_was_enabled:
            gc.enable()
    return Timings(samples, calls)


def _square_product_gflops(threads: int, size: int, repeats: int,
                           product: Callable[[Tensor, Tensor], Callable[[], object]]) -> float:
    """The best of ``repeats`` calls (after 3 of warm-up) at ``threads`` threads of the call that
    ``product`` makes of two seeded size×size float32 matrices, in GFLOP/s (2·size³ FLOPs)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        generator = torch.Generator().manual_seed(0)
        call = product(torch.randn(size, size, generator=generator),
                       torch.randn(size, size, generator=generator))
        for _ in range(3):
            call()
        best = math.inf
        for _ in range(repeats):
            start = time.perf_counter()
            call()
            best = min(best, time.perf_counter() - start)
        return 2 * size**3 / best / 1e9
    finally:
        torch.set_num_threads(previous)


def matmul_peak_gflops(threads: int, size: int = 1024, repeats: int = 20) -> float:
    """The machine's float32 matrix-multiply rate at ``threads`` threads: the best of ``repeats``
    calls of torch.mm on size×size matrices (2·size³ FLOPs each), after warm-up."""

    def product(a: Tensor, b: Tensor) -> Callable[[], object]:
        out = torch.empty(size, size)
        return lambda: torch.mm(a, b, out=out)

    return _square_product_gflops(threads, size, repeats, product)


def onednn_matmul_gflops(threads: int, size: int = 1024, repeats: int = 20) -> Optional[float]:
    """The same float32 product through oneDNN (torch's ``mkldnn_linear`` on oneDNN tensors, its
    brgemm kernels): on this AMD EPYC MKL's sgemm, behind torch.mm, runs its generic code path and
    oneDNN multiplies ~10 % faster, so the ceilings use the better of the two. None where torch
    has no oneDNN or its product fails."""
    if not (torch.backends.mkldnn.is_available() and hasattr(torch._C._nn, "mkldnn_linear")):
        return None

    def product(a: Tensor, b: Tensor) -> Callable[[], object]:
        a, b = a.to_mkldnn(), b.to_mkldnn()
        return lambda: torch._C._nn.mkldnn_linear(a, b)

    try:
        return _square_product_gflops(threads, size, repeats, product)
    except RuntimeError:  # oneDNN built in, but unable to run this product here
        return None


def summarise(timings: Timings, baseline: str) -> Dict[str, float]:
    """Medians and minima of both sides, and the per-round ratios' median, minimum and maximum."""
    ratios = timings.ratios(baseline)
    return {
        "ours_median_s": timings.median("ours"),
        "ours_min_s": timings.minimum("ours"),
        "baseline_median_s": timings.median(baseline),
        "baseline_min_s": timings.minimum(baseline),
        "speedup_median": statistics.median(ratios),
        "speedup_min": min(ratios),
        "speedup_max": max(ratios),
        "speedup_of_minima": timings.minimum(baseline) / timings.minimum("ours"),
        "rounds": len(ratios),
        "ours_calls_per_sample": timings.calls_per_sample["ours"],
        "baseline_calls_per_sample": timings.calls_per_sample[baseline],
    }

