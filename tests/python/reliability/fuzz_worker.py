#!/usr/bin/env python3
"""Property-based fuzzing of every torch_ext operator and module (hypothesis).

Each example draws a target (a recurrent op in one of its forms, ``layer_norm`` and its halves,
a module, or a module's constructor), a valid configuration (sizes, dtype, memory layouts,
options) and at most one mutation (a wrong dtype, a params list of the wrong length, a weight or
hidden state of the wrong shape, malformed batch_sizes, an empty batch or sequence, meta tensors
...). A valid call must match its reference (ATen's op or the torch.nn module, or the
plain-PyTorch recurrence for what PyTorch lacks) in values and gradients; a malformed one must
raise RuntimeError, ValueError or TypeError with a message that names what is wrong. See
fuzz_ops.py and fuzz_modules.py for the cases and their rules.

Each case is printed (flushed) before it runs, so a crash names its input; rerun one case with
``--case '<the printed JSON>'``. Exit status 0 when every case passed, 1 on a failure (hypothesis
then shrinks it and prints the smallest failing case last). Runs as a plain script, also under
an instrumented (sanitizer) build of the library::

    python tests/python/reliability/fuzz_worker.py --examples 20000 --seed 0
"""

import argparse
import collections
import faulthandler
import json
import os
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]  # the cases, and the shared references of tests/python

import torch  # noqa: E402
from hypothesis import HealthCheck, Phase, given, note, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.configuration import set_hypothesis_home_dir  # noqa: E402

import torch_ext  # noqa: E402, F401  (registers the ops)
from fuzz_layer_norm import layer_norm_configs, run_layer_norm  # noqa: E402
from fuzz_modules import constructor_configs, module_configs, run_constructor, run_module  # noqa: E402
from fuzz_ops import SequenceCase, sequence_configs  # noqa: E402
from fuzz_support import CaseFailure  # noqa: E402

@dataclass(frozen=True)
class Target:
    """What an example may call: its configurations, how one runs (returning the kind of
    outcome, raising CaseFailure on a bad one), and how often it is drawn against the others."""

    configs: st.SearchStrategy
    run: Callable[[Dict[str, Any]], str]
    weight: int


TARGETS: Dict[str, Target] = {
    "op": Target(sequence_configs(), lambda config: SequenceCase(config).run(), 6),
    "layer_norm": Target(layer_norm_configs(), run_layer_norm, 1),
    "module": Target(module_configs(), run_module, 3),
    "constructor": Target(constructor_configs(), run_constructor, 1),
}


def run_config(config: Dict[str, Any]) -> str:
    """Runs one configuration (warnings silenced: torch.nn's, for a dropout with one layer)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return TARGETS[config["target"]].run(config)


def case_label(config: Dict[str, Any]) -> str:
    """"op lstm data", "module GRU", ...: what the summary counts outcomes of."""
    return " ".join([config["target"], *(str(config[key]) for key in ("family", "form", "module") if key in config)])


def fuzz(examples: int, seed_value: int, targets: Sequence[str], shrink: bool, verbose: bool) -> int:
    """Runs ``examples`` hypothesis examples; returns the exit status."""
    counts: "collections.Counter[str]" = collections.Counter()
    started = [0]
    weighted = [name for name in targets for _ in range(TARGETS[name].weight)]
    strategy = st.sampled_from(weighted).flatmap(lambda name: TARGETS[name].configs)

    phases = [Phase.explicit, Phase.generate] + ([Phase.shrink] if shrink else [])

    @seed(seed_value)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=False,
        phases=phases,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
        report_multiple_bugs=False,
    )
    @given(strategy)
    def one_case(config: Dict[str, Any]) -> None:
        started[0] += 1
        line = json.dumps(config, sort_keys=True)
        print(f"case {started[0]}: {line}", flush=True)
        note(f"replay: python {os.path.relpath(__file__)} --case '{line}'")
        outcome = run_config(config)
        counts[f"{case_label(config)}: {outcome}"] += 1
        if verbose:
            print(f"  -> {outcome}", flush=True)

    begin = time.perf_counter()
    try:
        one_case()
    except CaseFailure as failure:
        print(f"FAILED: {failure}", flush=True)
        return 1
    elapsed = time.perf_counter() - begin
    print(f"fuzz: {sum(counts.values())} cases passed ({started[0]} run) in {elapsed:.1f}s, seed {seed_value}")
    for key, count in sorted(counts.items()):
        print(f"  {count:6d}  {key}")
    return 0


def replay(line: str) -> int:
    config = json.loads(line)
    print(f"case: {json.dumps(config, sort_keys=True)}", flush=True)
    try:
        outcome = run_config(config)
    except CaseFailure as failure:
        print(f"FAILED: {failure}")
        return 1
    print(f"passed: {outcome}")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=int(os.environ.get("TORCH_EXT_FUZZ_EXAMPLES", "200")),
                        help="hypothesis examples to run (default: $TORCH_EXT_FUZZ_EXAMPLES or 200)")
    parser.add_argument("--seed", type=int, default=0, help="hypothesis seed (default 0)")
    parser.add_argument("--targets", default=",".join(TARGETS),
                        help=f"comma-separated subset of {','.join(TARGETS)}")
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads (default 1)")
    parser.add_argument("--no-shrink", action="store_true", help="report the first failing case unshrunk")
    parser.add_argument("--verbose", action="store_true", help="print each case's outcome")
    parser.add_argument("--case", help="replay one printed configuration (JSON) instead of fuzzing")
    args = parser.parse_args(argv)
    faulthandler.enable()
    torch.set_num_threads(args.threads)
    if args.case:
        return replay(args.case)
    targets = [name for name in args.targets.split(",") if name]
    unknown = [name for name in targets if name not in TARGETS]
    if unknown:
        parser.error(f"unknown targets {unknown}; choose from {list(TARGETS)}")
    with tempfile.TemporaryDirectory(prefix="torch_ext_fuzz_") as home:
        # Hypothesis keeps caches under its home directory even without a database: not in the
        # working tree.
        set_hypothesis_home_dir(home)
        return fuzz(args.examples, args.seed, targets, not args.no_shrink, args.verbose)


if __name__ == "__main__":
    sys.exit(main())
