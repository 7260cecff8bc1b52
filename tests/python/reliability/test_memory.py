"""1,000 training iterations of a model holding every module family keep the resident memory flat.

The training runs in a fresh process (this file run as a script), so that nothing else of the test
session allocates meanwhile; it prints its resident set size (from /proc/self/statm, after
returning freed heap pages with malloc_trim) after iteration 100 and after the last.
"""

import ctypes
import os
import subprocess
import sys
from typing import List, Tuple

import pytest
import torch

ITERATIONS, SETTLED = 1000, 100
# What the resident set may grow by between iteration 100 and 1000. A leak of 100 bytes per
# module call would add 1.4 MB (15 modules, 900 iterations).
GROWTH_ALLOWED = 1 << 20


def resident_bytes() -> int:
    """Resident set size after handing freed heap pages back to the system."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:  # not glibc
        pass
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def train() -> List[Tuple[int, int]]:
    """Trains one model of every family with SGD; returns (iteration, RSS) pairs. The model: a
    two-layer bidirectional projected LSTM over a PackedSequence, a bidirectional GRU over a
    PackedSequence, the reset-before GRU, the tanh RNN, a bidirectional ReLU RNN over a
    PackedSequence, a bidirectional layer-normalised LSTM over a PackedSequence, the
    layer-normalised GRU, every cell, and LayerNorm; the loss sums the squares of every output."""
    from reliability_testing import CELL_VARIANTS, SEQUENCE_MODULES, Variant, build, input_leaf, make_input

    import torch_ext

    torch.set_num_threads(1)
    lstm, gru, gru_reset_before, rnn, rnn_relu, layer_norm_lstm, layer_norm_gru = SEQUENCE_MODULES
    bidirectional = (("bidirectional", True),)
    variants = [
        Variant(lstm, (("num_layers", 2), *bidirectional), "packed", projected=True),
        Variant(gru, bidirectional, "packed"),
        Variant(gru_reset_before),
        Variant(rnn),
        Variant(rnn_relu, bidirectional, "packed"),
        Variant(layer_norm_lstm, bidirectional, "packed"),
        Variant(layer_norm_gru),
        *CELL_VARIANTS,
    ]
    generator = torch.Generator().manual_seed(0)
    built = [build(variant, 4, 6) for variant in variants]
    inputs = [make_input(b, 5, 3, generator) for b in built]
    norm = torch_ext.LayerNorm(6)
    norm_input = torch.randn(3, 6, generator=generator)
    parameters = [p for b in built for p in b.module.parameters()] + list(norm.parameters())
    optimizer = torch.optim.SGD(parameters, lr=1e-3, momentum=0.9)
    samples = []
    for iteration in range(1, ITERATIONS + 1):
        optimizer.zero_grad(set_to_none=True)
        loss = norm(norm_input).square().sum()
        for b, x in zip(built, inputs):
            result = b.module(x)
            first = result[0] if isinstance(result, tuple) else result
            loss = loss + input_leaf(first).square().sum()
        loss.backward()
        optimizer.step()
        if iteration in (SETTLED, ITERATIONS):
            samples.append((iteration, resident_bytes()))
    return samples


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc/self/statm (Linux)")
def test_training_keeps_resident_memory_flat() -> None:
    tests_python = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([tests_python, os.environ.get("PYTHONPATH", "")]))
    result = subprocess.run(
        [sys.executable, os.path.abspath(__file__)], capture_output=True, text=True, env=env, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr
    samples = dict(tuple(map(int, line.split()[1:])) for line in result.stdout.splitlines() if line.startswith("rss"))
    growth = samples[ITERATIONS] - samples[SETTLED]
    assert growth <= GROWTH_ALLOWED, (
        f"resident memory grew by {growth / 2**20:.2f} MiB from iteration {SETTLED} to {ITERATIONS} "
        f"({samples[SETTLED] / 2**20:.1f} MiB to {samples[ITERATIONS] / 2**20:.1f} MiB)"
    )


if __name__ == "__main__":
    for iteration, rss in train():
        print("rss", iteration, rss)
