"""The targets of issue 6 and how a run is reported: the stdout tables, the summary and the plot."""

from typing import Dict, List, Optional, Sequence

from cases import FLOP_TARGET_SIZE, LAYER_NORM_CELLS, Case

TARGET_THREADS = 2  # the targets are checked at 2 threads (the machine's cores)
PEAK_FRACTION_TARGET = 0.70
# Resident-set measurements move in pages and heap chunks: a difference below this is no difference.
MEMORY_RESOLUTION_BYTES = 64 * 1024


def speedup_target(case: Case, mode: str, baseline: str) -> Optional[float]:
    """The least speedup (baseline time / ours) the case must reach, or None where none is set.

    LSTM ≥ 1.3× training, ≥ 1.0× inference; GRU and RNN ≥ 2× training, ≥ 1.2× inference (the
    2-layer bidirectional and packed variants included); LSTM with proj_size or PackedSequence
    ≥ 2× (both modes); layer-norm cells in training ≥ 5× the eager reference, ≥ 2× TorchScript.
    bfloat16 (issue 7): LSTM training ≥ 2× our own float32; against torch.nn in bfloat16, and for
    GRU and RNN, no target is set.
    """
    if case.variant == "bf16":
        return 2.0 if case.cell == "LSTM" and mode == "training" and baseline == "ours_float32" else None
    if case.cell in LAYER_NORM_CELLS:
        return {"eager": 5.0, "torchscript": 2.0}[baseline] if mode == "training" else None
    if case.cell == "LSTM" and case.variant in ("proj", "packed"):
        return 2.0
    if case.cell == "LSTM":
        return 1.3 if mode == "training" else 1.0
    return 2.0 if mode == "training" else 1.2


def peak_fraction_target(case: Case, mode: str) -> Optional[float]:
    """Training of the plain cells at T=100,B=64,I=H=512: ≥ 70 % of the matmul peak's GFLOP/s."""
    if mode == "training" and case.variant == "base" and case.size == FLOP_TARGET_SIZE and case.cell not in LAYER_NORM_CELLS:
        return PEAK_FRACTION_TARGET
    return None


def _verdict(passed: bool) -> str:
    return "PASS" if passed else "MISS"


def evaluate(rows: List[Dict], memory: List[Dict], cases_by_name: Dict[str, Case]) -> List[Dict]:
    """Attach targets and verdicts to the rows (at TARGET_THREADS) and memory entries; return one
    record per checked target."""
    checks = []
    for row in rows:
        case = cases_by_name[row["case"]]
        row["target_speedup"] = row["target_peak_fraction"] = None
        if row["threads"] != TARGET_THREADS:
            continue
        target = speedup_target(case, row["mode"], row["baseline"])
        if target is not None:
            row["target_speedup"] = target
            row["speedup_verdict"] = _verdict(row["speedup_median"] >= target)
            checks.append({"what": f"{row['mode']} {row['case']} vs {row['baseline']}",
                           "value": row["speedup_median"], "target": target, "verdict": row["speedup_verdict"],
                           "text": f"{row['speedup_median']:.2f}× (≥ {target:g}×)"})
        target = peak_fraction_target(case, row["mode"])
        if target is not None:
            row["target_peak_fraction"] = target
            row["peak_fraction_verdict"] = _verdict(row["ours_peak_fraction"] >= target)
            checks.append({"what": f"{row['mode']} {row['case']} GFLOP/s / matmul peak",
                           "value": row["ours_peak_fraction"], "target": target,
                           "verdict": row["peak_fraction_verdict"],
                           "text": f"{100 * row['ours_peak_fraction']:.0f} % (≥ {100 * target:.0f} %)"})
    for entry in memory:
        if entry["baseline"] != "nn" or "ours_peak_bytes" not in entry:
            continue
        entry["verdict"] = _verdict(entry["ours_peak_bytes"] <= entry["baseline_peak_bytes"] + MEMORY_RESOLUTION_BYTES)
        checks.append({"what": f"training peak memory {entry['case']}", "value": entry["ratio"], "target": 1.0,
                       "verdict": entry["verdict"],
                       "text": f"{entry['ours_peak_bytes'] / 2**20:.1f} MiB vs nn {entry['baseline_peak_bytes'] / 2**20:.1f} MiB"})
    return checks


# --- text -----------------------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{1e3 * seconds:.3f}" if seconds < 0.01 else f"{1e3 * seconds:.1f}"


def format_row(row: Dict) -> List[str]:
    target = row.get("target_speedup")
    fraction_target = row.get("target_peak_fraction")
    return [
        row["case"],
        row["baseline"],
        f"{_ms(row['ours_median_s'])} ({_ms(row['ours_min_s'])})",
        f"{_ms(row['baseline_median_s'])} ({_ms(row['baseline_min_s'])})",
        f"{row['speedup_median']:.2f}× [{row['speedup_min']:.2f}–{row['speedup_max']:.2f}]",
        f"≥{target:g}× {row['speedup_verdict']}" if target is not None else "",
        f"{row['ours_gflops']:.1f} / {row['baseline_gflops']:.1f}",
        f"{100 * row['ours_peak_fraction']:.0f}%"
        + (f" ≥{100 * fraction_target:.0f}% {row['peak_fraction_verdict']}" if fraction_target is not None else ""),
    ]


HEADER = ["case", "vs", "ours ms med (min)", "base ms med (min)", "speedup med [pair range]", "target",
          "GFLOP/s ours/base", "ours %mm"]


def table(lines: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *lines)]
    render = lambda cells: "  ".join(str(cell).ljust(width) for cell, width in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([render(header), render(["-" * width for width in widths]), *map(render, lines)])


def timing_tables(rows: List[Dict], matmul_peak: Dict[int, float],
                  onednn: Optional[Dict[int, Optional[float]]] = None) -> str:
    parts = []
    for threads in sorted({row["threads"] for row in rows}):
        for mode in ("inference", "training"):
            group = [row for row in rows if row["threads"] == threads and row["mode"] == mode]
            if group:
                rate = (onednn or {}).get(threads)
                parts.append(f"\n== {mode}, {threads} thread{'s' if threads > 1 else ''} "
                             f"(torch.mm 1024² peak {matmul_peak[threads]:.1f} GFLOP/s"
                             + (f"; oneDNN 1024² {rate:.1f}" if rate else "") + ") ==")
                parts.append(table([format_row(row) for row in group], HEADER))
    return "\n".join(parts)


def memory_table(memory: List[Dict]) -> str:
    lines = []
    for entry in memory:
        if "error" in entry:
            lines.append([entry["case"], entry["baseline"], "", "", "", f"error: {entry['error']}"])
            continue
        lines.append([entry["case"], entry["baseline"], f"{entry['ours_peak_bytes'] / 2**20:.1f}",
                      f"{entry['baseline_peak_bytes'] / 2**20:.1f}", f"{entry['ratio']:.2f}",
                      f"≤ base {entry['verdict']}" if "verdict" in entry else ""])
    header = ["case", "vs", "ours MiB", "base MiB", "ours/base", "target"]
    return table(lines, header)


def summary(checks: List[Dict]) -> str:
    passed = sum(check["verdict"] == "PASS" for check in checks)
    text = [f"targets: {len(checks)} checked at {TARGET_THREADS} threads, {passed} PASS, {len(checks) - passed} MISS"]
    text += [f"  MISS  {check['what']}: {check['text']}" for check in checks if check["verdict"] == "MISS"]
    return "\n".join(text)


# --- plot -----------------------------------------------------------------------------------------


def plot(rows: List[Dict], path: str) -> None:
    """Speedup per case (median of pair ratios, whiskers over the pairs' range), one panel per
    (threads, mode), log scale, a line at 1× and each row's target marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    threads_list = sorted({row["threads"] for row in rows})
    modes = [mode for mode in ("inference", "training") if any(row["mode"] == mode for row in rows)]
    height = max(len([row for row in rows if row["threads"] == threads_list[0] and row["mode"] == mode]) for mode in modes)
    figure, axes = plt.subplots(len(threads_list), len(modes), squeeze=False, sharey="row",
                                figsize=(7 * len(modes), 1.2 + 0.24 * height * len(threads_list)))
    for row_index, threads in enumerate(threads_list):
        for column, mode in enumerate(modes):
            axis = axes[row_index][column]
            group = [row for row in rows if row["threads"] == threads and row["mode"] == mode]
            labels = [f"{row['case']} vs {row['baseline']}" for row in group]
            positions = list(range(len(group)))[::-1]
            speedups = [row["speedup_median"] for row in group]
            errors = [[row["speedup_median"] - row["speedup_min"] for row in group],
                      [row["speedup_max"] - row["speedup_median"] for row in group]]
            colours = ["tab:green" if (row.get("speedup_verdict") or "PASS") == "PASS" and row["speedup_median"] >= 1
                       else "tab:orange" for row in group]
            # Bars grow from 1× (no difference): right where ours is faster, left where slower.
            axis.barh(positions, [speedup - 1 for speedup in speedups], left=1, xerr=None, color=colours, height=0.7)
            axis.errorbar(speedups, positions, xerr=errors, fmt="none", ecolor="black", elinewidth=1, capsize=2)
            targets = [(position, row["target_speedup"]) for position, row in zip(positions, group)
                       if row.get("target_speedup")]
            if targets:
                axis.scatter([value for _, value in targets], [position for position, _ in targets], marker="|",
                             s=120, color="tab:red", zorder=3, label="target")
                axis.legend(loc="lower right", fontsize=7)
            axis.axvline(1.0, color="black", linewidth=1)
            axis.set_xscale("log")
            axis.set_yticks(positions)
            axis.set_yticklabels(labels, fontsize=7)
            axis.set_title(f"{mode}, {threads} thread{'s' if threads > 1 else ''}", fontsize=9)
            axis.set_xlabel("speedup (baseline time / torch_ext time)", fontsize=8)
            axis.grid(axis="x", which="both", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def ceiling(row: Dict) -> float:
    """The largest speedup over the baseline that a kernel multiplying at the machine's best
    measured matmul rate (torch.mm's or oneDNN's, whichever is higher) and doing nothing else
    could show: that rate / the baseline's GFLOP/s (both sides do the same FLOPs). Runs before
    oneDNN's rate was measured have torch.mm's only."""
    return row.get("ceiling_speedup") or 1.0 / row["baseline_peak_fraction"]


# --- the README's table -------------------------------------------------------------------------------


def markdown(results: Dict) -> str:
    """The results of a run as Markdown: the machine, a speedup table (a column per thread count
    and mode, the 2-thread training target beside it), GFLOP/s at the FLOP target size, and peak memory."""
    meta, rows = results["meta"], results["rows"]
    threads_list = sorted({row["threads"] for row in rows})
    columns = [(threads, mode) for threads in threads_list for mode in ("inference", "training")
               if any(row["threads"] == threads and row["mode"] == mode for row in rows)]
    by_key = {(row["case"], row["baseline"], row["threads"], row["mode"]): row for row in rows}
    peaks = ", ".join(f"{float(peak):.0f} GFLOP/s at {threads} thread{'s' if int(threads) > 1 else ''}"
                      for threads, peak in results["matmul_peak_gflops"].items())
    onednn = ", ".join(f"{float(rate):.0f} at {threads}" for threads, rate in
                       results.get("onednn_matmul_gflops", {}).items() if rate)
    if onednn:
        peaks += f"; oneDNN's 1024² product {onednn} (the ceilings' rate)"
    load = meta.get("load_average_at_start", [0.0])[0]
    lines = [f"Measured {meta['date'][:10]} on {meta['cpu']} ({meta['logical_cpus']} logical CPUs, "
             f"{meta['cpu_capability']} kernels), torch {meta['torch']}, torch_ext {meta['torch_ext']} "
             f"({meta['torch_ext_commit']}), load average {load:.1f} at the start, {meta['seconds'] / 60:.0f} min; "
             f"torch.mm 1024² float32 peak {peaks}. Speedup = median over {meta['settings']['repeats']} interleaved "
             f"rounds of "
             f"baseline time / torch_ext time (> 1: ours faster); a target applies to the 2-thread column.", ""]
    header = ["case", "vs"] + [f"{mode} {threads}t" for threads, mode in columns] + ["target (2t)",
                                                                                      "ceiling inf./train. (2t)"]
    lines += ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    seen = []
    for row in rows:
        key = (row["case"], row["baseline"])
        if key not in seen:
            seen.append(key)
    for case, baseline in seen:
        cells, targets, ceilings = [], [], []
        for threads, mode in columns:
            row = by_key.get((case, baseline, threads, mode))
            cells.append(f"{row['speedup_median']:.2f}×" if row else "")
            if row and row.get("target_speedup") is not None:
                targets.append(f"{mode[:5]}. ≥{row['target_speedup']:g}× {row['speedup_verdict']}")
            if row and threads == TARGET_THREADS:
                ceilings.append(f"{ceiling(row):.2f}×")
        lines.append("| " + " | ".join([case, baseline, *cells, "; ".join(targets), " / ".join(ceilings)]) + " |")
    fraction_rows = [row for row in rows if row.get("target_peak_fraction") is not None
                     or (row["mode"] == "training" and row["variant"] == "base" and row["baseline"] == "nn"
                         and row["case"].endswith(FLOP_TARGET_SIZE.label))]
    if fraction_rows:
        lines += ["", "| training at " + FLOP_TARGET_SIZE.label + " | threads | ours GFLOP/s (% of mm) "
                  "| nn GFLOP/s (% of mm) | target |", "|---|---|---|---|---|"]
        for row in fraction_rows:
            target = (f"≥{100 * row['target_peak_fraction']:.0f}% {row['peak_fraction_verdict']}"
                      if row.get("target_peak_fraction") is not None else "")
            lines.append(f"| {row['case'].split()[0]} | {row['threads']} | {row['ours_gflops']:.0f} "
                         f"({100 * row['ours_peak_fraction']:.0f}%) | {row['baseline_gflops']:.0f} "
                         f"({100 * row['baseline_peak_fraction']:.0f}%) | {target} |")
    memory = [entry for entry in results.get("memory", []) if "ours_peak_bytes" in entry]
    if memory:
        lines += ["", f"| training step peak memory ({memory[0]['threads']} threads) | vs | ours MiB | "
                  "baseline MiB | ≤ baseline |", "|---|---|---|---|---|"]
        for entry in memory:
            lines.append(f"| {entry['case']} | {entry['baseline']} | {entry['ours_peak_bytes'] / 2**20:.1f} | "
                         f"{entry['baseline_peak_bytes'] / 2**20:.1f} | {entry.get('verdict', '')} |")
    checks = results.get("checks", [])
    if checks:
        passed = sum(check["verdict"] == "PASS" for check in checks)
        lines += ["", f"Targets: {passed} of {len(checks)} met at 2 threads."]
    return "\n".join(lines)


if __name__ == "__main__":
    import json
    import sys

    path = sys.argv[1] if len(sys.argv) > 1 else str(__import__("pathlib").Path(__file__).resolve().parent
                                                      / "results" / "latest.json")
    with open(path) as file:
        print(markdown(json.load(file)))
