"""torch_ext against torch.nn (LSTM, GRU, RNN) and against plain-PyTorch layer-norm cells (eager
and TorchScript): time, GFLOP/s against the machine's matmul peak, and peak memory of a training
step, with the targets of issue 6 checked at 2 threads.

    python benchmarks/run.py                      # the full run (make bench)
    python benchmarks/run.py --quick              # a smoke run on tiny sizes, under a minute
    python benchmarks/run.py --cases 'lstm.*T=50,B=16' --threads 2

Everything is compared in one process, interleaved (ours, baseline, ours, baseline, …) after
warm-up; a speedup is the median of the per-round ratios baseline time / our time. See the README's
"Benchmarks" section for what is reported.
"""

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Dict, List, Optional

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import torch  # noqa: E402

import torch_ext  # noqa: E402

import cases as cases_module  # noqa: E402
import peak_memory  # noqa: E402
import report  # noqa: E402
import timing  # noqa: E402
from cases import Case  # noqa: E402

# TorchScript's profiling executor optimises a graph after its profiling run(s): these calls
# beyond the common warm-up make sure the timed calls run the optimised graph.
TORCHSCRIPT_EXTRA_WARMUP = 2


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2],
                        help="torch.set_num_threads values to run at (default: 1 2; targets are checked at 2)")
    parser.add_argument("--repeats", type=int, default=None, help="timed rounds per case and mode (default 5; --quick 3)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed rounds first (default 2; --quick 1)")
    parser.add_argument("--min-time", type=float, default=None,
                        help="seconds a timed sample lasts at least: short calls are repeated and averaged "
                             "(default 0.05; --quick 0.005)")
    parser.add_argument("--cases", default=None, help="regex (case-insensitive search) over case names, "
                        "e.g. '^LSTM T', 'GRU.*T=50,B=16', 'packed|proj'")
    parser.add_argument("--modes", nargs="+", choices=["inference", "training"], default=["inference", "training"])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, few repeats: checks the harness in under a minute")
    parser.add_argument("--memory-cases", default=None,
                        help="regex over case names whose training peak memory is measured, each side in a fresh "
                             "process (default: every selected case; --quick: '^LSTM '); 'none' skips it")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--list", action="store_true", help="print the selected cases and exit")
    parser.add_argument("--json", default=str(HERE / "results" / "latest.json"), help="where the results go")
    parser.add_argument("--plot", default=str(HERE / "results" / "speedup.png"), help="where the PNG goes")
    args = parser.parse_args(argv)
    quick_defaults = {"repeats": 3, "warmup": 1, "min_time": 0.005, "memory_cases": "^LSTM "}
    full_defaults = {"repeats": 5, "warmup": 2, "min_time": 0.05, "memory_cases": "."}
    for key, value in (quick_defaults if args.quick else full_defaults).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.repeats < 1 or args.warmup < 0 or any(threads < 1 for threads in args.threads):
        parser.error("--repeats must be ≥ 1, --warmup ≥ 0 and every --threads value ≥ 1")
    return args


def _git_commit() -> str:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=HERE,
                               capture_output=True, text=True).stdout.strip()
        return commit + ("+dirty" if dirty else "")
    except OSError:
        return "unknown"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def metadata(args: argparse.Namespace) -> Dict:
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "torch": torch.__version__,
        "torch_ext": torch_ext.__version__,
        "torch_ext_commit": _git_commit(),
        "cpu_capability": str(torch.ops.torch_ext._cpu_capability()),
        "cpu": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_at_start": os.getloadavg(),
        "settings": {key: getattr(args, key) for key in ("threads", "repeats", "warmup", "min_time", "cases",
                                                          "modes", "quick", "memory_cases", "seed")},
    }


def select_cases(args: argparse.Namespace) -> List[Case]:
    selected = cases_module.default_cases(args.quick)
    if args.cases:
        pattern = re.compile(args.cases, re.IGNORECASE)
        selected = [case for case in selected if pattern.search(case.name)]
    return selected


def time_case(case: Case, threads: int, args: argparse.Namespace, agreement: Dict[str, float]) -> List[Dict]:
    """Both modes of one case at ``threads``: one row per (mode, baseline)."""
    implementations = ("ours", *case.baselines)
    modules = cases_module.build_modules(case, implementations, args.seed)
    if case.name not in agreement:
        agreement[case.name] = cases_module.check_agreement(case, modules, args.seed)
    rows = []
    for mode in args.modes:
        steps = {name: cases_module.make_step(modules[name], cases_module.build_input(
                     case, args.seed, requires_grad=mode == "training", implementation=name), mode)
                 for name in implementations}
        extra = {"torchscript": TORCHSCRIPT_EXTRA_WARMUP} if "torchscript" in steps else None
        timings = timing.time_interleaved(steps, args.warmup, args.repeats, args.min_time, extra)
        flops = cases_module.step_flops(case, mode)
        for baseline in case.baselines:
            row = {"case": case.name, "cell": case.cell, "variant": case.variant, "threads": threads, "mode": mode,
                   "baseline": baseline, **timing.summarise(timings, baseline), "flops": flops,
                   "max_abs_difference": agreement[case.name], "samples_s": timings.samples}
            row["ours_gflops"] = flops / row["ours_median_s"] / 1e9
            row["baseline_gflops"] = flops / row["baseline_median_s"] / 1e9
            rows.append(row)
    return rows


def measure_memory(selected: List[Case], args: argparse.Namespace, threads: int) -> List[Dict]:
    if args.memory_cases.lower() == "none":
        return []
    pattern = re.compile(args.memory_cases, re.IGNORECASE)
    memory = []
    for case in selected:
        if not pattern.search(case.name):
            continue
        baseline = case.baselines[0]
        entry = {"case": case.name, "baseline": baseline, "threads": threads}
        ours = peak_memory.measure(case, "ours", threads, args.seed)
        theirs = peak_memory.measure(case, baseline, threads, args.seed)
        if "error" in ours or "error" in theirs:
            entry["error"] = ours.get("error") or theirs.get("error")
        else:
            entry.update(ours_peak_bytes=ours["peak_bytes"], baseline_peak_bytes=theirs["peak_bytes"],
                         ratio=ours["peak_bytes"] / max(theirs["peak_bytes"], 1), method=ours["method"])
        print(f"  memory {case.name} vs {baseline}: "
              + (entry.get("error") or f"{entry['ours_peak_bytes'] / 2**20:.1f} vs {entry['baseline_peak_bytes'] / 2**20:.1f} MiB"),
              flush=True)
        memory.append(entry)
    return memory


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    warnings.filterwarnings("ignore", message="LSTM with projections is not supported with oneDNN")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    selected = select_cases(args)
    if args.list:
        print("\n".join(f"{case.name}  (vs {', '.join(case.baselines)})" for case in selected))
        return 0
    skipped = {case.name: reason for case in selected if (reason := cases_module.available(case))}
    runnable = [case for case in selected if case.name not in skipped]
    if not runnable:
        print("no case selected" + (f" that can run: {skipped}" if skipped else ""), file=sys.stderr)
        return 2
    started = time.perf_counter()
    results = {"meta": metadata(args), "matmul_peak_gflops": {}, "matmul_gflops_before_after": {},
               "onednn_matmul_gflops": {}, "skipped": skipped, "errors": [], "rows": [], "memory": []}
    for name, reason in skipped.items():
        print(f"skipped {name}: {reason}")
    agreement: Dict[str, float] = {}
    previous_threads = torch.get_num_threads()
    for threads in args.threads:
        peak_before = timing.matmul_peak_gflops(threads)
        onednn_before = timing.onednn_matmul_gflops(threads)
        torch.set_num_threads(threads)
        print(f"{threads} thread(s): torch.mm 1024×1024 float32 {peak_before:.1f} GFLOP/s"
              + (f", oneDNN {onednn_before:.1f}" if onednn_before else ""), flush=True)
        rows = []
        for case in runnable:
            try:
                case_rows = time_case(case, threads, args, agreement)
            except Exception as error:  # a module still in progress must not end the run
                results["errors"].append({"case": case.name, "threads": threads, "error": repr(error)})
                print(f"  ERROR {case.name}: {error!r}", flush=True)
                continue
            for row in case_rows:
                rows.append(row)
                print(f"  [{time.perf_counter() - started:6.0f} s] {threads}t {row['mode']:<9} {row['case']:<40} "
                      f"vs {row['baseline']:<11} {row['speedup_median']:6.2f}×", flush=True)
        # The peak is measured before and after the cases and the higher taken: a busy moment
        # lowers one measurement, and a low peak would flatter every fraction.
        peak_after = timing.matmul_peak_gflops(threads)
        peak = max(peak_before, peak_after)
        results["matmul_peak_gflops"][threads] = peak
        results["matmul_gflops_before_after"][threads] = [peak_before, peak_after]
        onednn = max(filter(None, (onednn_before, timing.onednn_matmul_gflops(threads))), default=None)
        results["onednn_matmul_gflops"][threads] = onednn
        for row in rows:
            row["ours_peak_fraction"] = row["ours_gflops"] / peak
            row["baseline_peak_fraction"] = row["baseline_gflops"] / peak
            # A kernel multiplying at the better of the two measured rates, and doing nothing
            # else, could be this much faster than the baseline.
            row["ceiling_speedup"] = max(peak, onednn or 0.0) / row["baseline_gflops"]
        results["rows"] += rows
    memory_threads = report.TARGET_THREADS if report.TARGET_THREADS in args.threads else max(args.threads)
    torch.set_num_threads(previous_threads)
    results["memory"] = measure_memory(runnable, args, memory_threads)
    checks = report.evaluate(results["rows"], results["memory"], {case.name: case for case in runnable})
    results["checks"] = checks
    results["meta"]["load_average_at_end"] = os.getloadavg()
    results["meta"]["seconds"] = time.perf_counter() - started

    print(report.timing_tables(results["rows"], results["matmul_peak_gflops"], results["onednn_matmul_gflops"]))
    if results["memory"]:
        print(f"\n== peak memory of a training step, {memory_threads} thread(s), each side in a fresh process ==")
        print(report.memory_table(results["memory"]))
    by_name = {case.name: case for case in runnable}
    disagreeing = {name: value for name, value in agreement.items()
                   if value > cases_module.agreement_tolerance(by_name[name])}
    if disagreeing:
        print(f"\nWARNING: outputs differ between ours and the baseline (max |difference|): {disagreeing}")
    print()
    if args.quick:
        print("(--quick: tiny sizes, not the issue's; the verdicts only exercise the harness)")
    if report.TARGET_THREADS not in args.threads:
        print(f"(targets are checked at {report.TARGET_THREADS} threads, which this run left out)")
    print(report.summary(checks))
    for name, reason in skipped.items():
        print(f"  skipped {name}: {reason}")
    for error in results["errors"]:
        print(f"  ERROR {error['case']} ({error['threads']} threads): {error['error']}")
    load = results["meta"]["load_average_at_start"][0]
    if load > (os.cpu_count() or 1) * 0.5:
        print(f"note: load average {load:.1f} at the start on {os.cpu_count()} CPUs: timings are noisy")

    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    with open(args.json, "w") as file:
        json.dump(results, file, indent=1)
    Path(args.plot).parent.mkdir(parents=True, exist_ok=True)
    report.plot(results["rows"], args.plot)
    print(f"wrote {args.json} and {args.plot} ({results['meta']['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
