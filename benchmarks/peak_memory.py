"""Peak memory of one training step, each implementation of each case in a fresh Python process.

tracemalloc sees none of torch's allocations and torch has no CPU peak counter, so the process's
resident set is measured. In the fresh process: build the module and input, run one warm-up
training step (library initialisation, thread pools, oneDNN primitives), drop the gradients,
return the freed heap pages to the system (glibc's ``malloc_trim(0)``: a block the measured step
reuses is counted again when touched), reset the kernel's peak-RSS mark (write ``5`` to
``/proc/self/clear_refs``, which resets VmHWM and ``ru_maxrss``), read the current RSS, run one
training step, and report peak RSS − RSS before the step: activations saved for backward,
workspaces, gradients, and the allocator's fragmentation as a user's process would see it.

Without a writable clear_refs the warm-up is skipped and the first step is measured
(peak RSS since start − RSS before, an upper bound); the result's ``method`` says which was used.

Run as a worker: ``python benchmarks/peak_memory.py '<json: case, implementation, threads, seed>'``;
it prints one JSON line.
"""

import ctypes
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict

HERE = Path(__file__).resolve().parent


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return _status_kib("VmHWM") == _status_kib("VmRSS")


def _release_free_memory() -> None:
    """Give the pages of freed heap blocks back to the system (glibc's malloc_trim), so that a
    block the measured step reuses counts again when it is touched."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _worker(spec: Dict) -> Dict:
    import gc

    import torch

    import cases

    torch.set_num_threads(spec["threads"])
    case = cases.Case.from_dict(spec["case"])
    name = spec["implementation"]
    module = cases.build_modules(case, (name,), spec["seed"])[name]
    input = cases.build_input(case, spec["seed"], requires_grad=True, implementation=name)
    step = cases.make_step(module, input, "training")

    def drop_gradients() -> None:
        for parameter in module.parameters():
            parameter.grad = None
        (input.data if isinstance(input, torch.nn.utils.rnn.PackedSequence) else input).grad = None
        gc.collect()
        _release_free_memory()

    if _reset_peak():
        step()
        drop_gradients()
        _reset_peak()
        method = "VmHWM after clear_refs, after one warm-up step"
    else:
        drop_gradients()
        method = "VmHWM around the first step (clear_refs not writable: an upper bound)"
    before_kib = _status_kib("VmRSS")
    step()
    peak_kib = _status_kib("VmHWM")
    return {"peak_bytes": (peak_kib - before_kib) * 1024, "rss_before_bytes": before_kib * 1024, "method": method}


def measure(case, implementation: str, threads: int, seed: int, timeout: float = 900) -> Dict:
    """Run the worker for one implementation of one case; its result, or ``{"error": …}``."""
    spec = {"case": case.to_dict(), "implementation": implementation, "threads": threads, "seed": seed}
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    try:
        completed = subprocess.run([sys.executable, str(HERE / "peak_memory.py"), json.dumps(spec)],
                                   capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    lines = completed.stdout.strip().splitlines()
    if completed.returncode != 0 or not lines:
        tail = (completed.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"worker exited {completed.returncode}: {tail}"}
    return json.loads(lines[-1])


if __name__ == "__main__":
    import warnings

    warnings.simplefilter("ignore")
    print(json.dumps(_worker(json.loads(sys.argv[1]))))
