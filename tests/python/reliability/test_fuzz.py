"""Property-based fuzzing of every op and module (fuzz_worker.py), each chunk in a subprocess so
that a crash (a segfault, an abort) fails the test with the case that caused it.

The normal suite runs CHUNKS chunks of EXAMPLES_PER_CHUNK hypothesis examples, each from a fixed
seed (reproducible). A deeper run spreads ``$TORCH_EXT_FUZZ_EXAMPLES`` examples over the chunks::

    TORCH_EXT_FUZZ_EXAMPLES=20000 python -m pytest -q -n 2 tests/python/reliability/test_fuzz.py
"""

import json
import os
import signal
import subprocess
import sys
from typing import List

import pytest

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fuzz_worker.py")
CHUNKS = 2
EXAMPLES_PER_CHUNK = 150
# A chunk's time limit: generous for a busy machine; the long run scales it.
SECONDS_PER_EXAMPLE = 2.0


def examples_per_chunk() -> int:
    total = os.environ.get("TORCH_EXT_FUZZ_EXAMPLES")
    return -(-int(total) // CHUNKS) if total else EXAMPLES_PER_CHUNK


def run_worker(arguments: List[str], timeout: float) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, *arguments], capture_output=True, text=True, timeout=timeout, env=env)


def last_case(stdout: str) -> str:
    cases = [line for line in stdout.splitlines() if line.startswith("case ")]
    return cases[-1] if cases else "(no case started)"


def assert_worker_passed(result: subprocess.CompletedProcess) -> None:
    """Exit status 0; else a failure that shows how it ended, the last case it started and the
    end of its output (hypothesis' smallest failing case comes last)."""
    if result.returncode == 0:
        return
    if result.returncode < 0:
        ending = f"crashed: signal {signal.Signals(-result.returncode).name}"
    else:
        ending = f"exit status {result.returncode}"
    tail = "\n".join((result.stdout + "\n" + result.stderr).strip().splitlines()[-40:])
    pytest.fail(f"fuzz worker {ending}\nlast case started: {last_case(result.stdout)}\n--- output (end) ---\n{tail}",
                pytrace=False)


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_fuzz_chunk(chunk: int) -> None:
    examples = examples_per_chunk()
    result = run_worker([WORKER, "--examples", str(examples), "--seed", str(chunk)],
                        timeout=60 + SECONDS_PER_EXAMPLE * examples)
    assert_worker_passed(result)
    assert "cases passed" in result.stdout, result.stdout[-2000:]


def test_a_crash_fails_with_the_case_it_started() -> None:
    """The harness itself: a worker killed by a signal fails the test and names its last case."""
    case = json.dumps({"target": "op", "family": "lstm"})
    script = f"print('case 1: {case}', flush=True); import os; os.abort()"
    result = run_worker(["-c", script], timeout=60)
    assert result.returncode == -signal.SIGABRT
    with pytest.raises(pytest.fail.Exception) as failure:
        assert_worker_passed(result)
    assert "crashed: signal SIGABRT" in str(failure.value) and case in str(failure.value)


def test_a_printed_case_replays() -> None:
    """``--case`` reruns one printed configuration (here a malformed batch_sizes)."""
    config = {
        "B": 2, "H": 3, "I": 2, "P": 0, "T": 3, "batch_first": False, "batch_sizes_layout": "contiguous",
        "bidirectional": True, "dropout": 0.0, "dtype": "float32", "eps": 1e-05, "family": "gru", "form": "data",
        "has_biases": True, "input_layout": "contiguous", "lengths": [3, 2], "mutation": "batch_sizes",
        "mutation_choice": 4, "num_layers": 2, "packed": True, "param_layouts": ["contiguous"],
        "requires_grad": True, "seed": 1, "state_layouts": ["contiguous", "contiguous"], "target": "op",
        "train": False,
    }
    result = run_worker([WORKER, "--case", json.dumps(config)], timeout=120)
    assert_worker_passed(result)
    assert "passed: raised" in result.stdout
