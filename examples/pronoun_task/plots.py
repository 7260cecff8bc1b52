"""The two pictures: accuracy against sentence length, and the gradient against distance."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display needed
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from torch import Tensor  # noqa: E402

from .models import DISPLAY_NAMES  # noqa: E402
from .task import PRONOUNS  # noqa: E402

COLORS = {"rnn": "tab:red", "lstm": "tab:blue", "gru": "tab:green"}
# Lines that lie on top of each other (LSTM and GRU at 100%) stay visible: different widths and markers.
STYLES = {
    "rnn": {"color": COLORS["rnn"], "marker": "o", "linewidth": 2},
    "lstm": {"color": COLORS["lstm"], "marker": "s", "markersize": 9, "linewidth": 4, "alpha": 0.6},
    "gru": {"color": COLORS["gru"], "marker": "^", "linewidth": 1.5, "linestyle": "--"},
}


def plot_accuracy(accuracies: Mapping[str, Mapping[int, float]], path: Path,
                  trained_range: tuple[int, int] | None = None) -> Path:
    """Accuracy at the pronoun slot against the number of filler words, one line per model."""
    figure, axes = plt.subplots(figsize=(7, 5))
    if trained_range is not None:
        axes.axvspan(*trained_range, color="0.93", label=f"trained on {trained_range[0]}–{trained_range[1]} filler words")
    for kind, by_length in accuracies.items():
        lengths = sorted(by_length)
        axes.plot(lengths, [100 * by_length[n] for n in lengths], **STYLES.get(kind, {}), label=DISPLAY_NAMES.get(kind, kind))
    axes.axhline(100 / len(PRONOUNS), color="0.4", linestyle=":", label=f"chance (1 in {len(PRONOUNS)})")
    axes.set(xlabel="filler words between the subject and the pronoun", ylabel="pronoun accuracy (%)", ylim=(0, 105),
             title='"My teacher said I was slow, but ___ …": who is ___?')
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3, frameon=False)
    axes.grid(alpha=0.3)
    return _save(figure, path)


def plot_gradient_norms(norms: Mapping[str, Tensor], path: Path, cell_norms: Mapping[str, Tensor] | None = None,
                        title: str = "How much gradient reaches each earlier word") -> Path:
    """``||dL/dh_t||`` against the distance from the loss, log scale, one line per model."""
    figure, axes = plt.subplots(figsize=(7, 4.5))
    draw_gradient_norms(axes, norms, cell_norms, title)
    return _save(figure, path)


def plot_gradient_panels(panels: Mapping[str, tuple[Mapping[str, Tensor], Mapping[str, Tensor]]], path: Path) -> Path:
    """Side by side, one panel per ``title -> (norms, cell_norms)``, sharing the log axis."""
    figure, all_axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 4.5), sharey=True)
    for axes, (title, (norms, cell_norms)) in zip(all_axes, panels.items()):
        draw_gradient_norms(axes, norms, cell_norms, title)
    return _save(figure, path)


def draw_gradient_norms(axes, norms: Mapping[str, Tensor], cell_norms: Mapping[str, Tensor] | None, title: str) -> None:
    """Norms that underflow to zero in float32 are left off the log axis (the line stops there);
    ``cell_norms`` (the LSTM's ``||dL/dc_t||``) are drawn dashed."""
    for kind, values in norms.items():
        _plot_positive(axes, values, "-", COLORS.get(kind), f"{DISPLAY_NAMES.get(kind, kind)}: ‖∂L/∂h_t‖")
    for kind, values in (cell_norms or {}).items():
        _plot_positive(axes, values, "--", COLORS.get(kind), f"{DISPLAY_NAMES.get(kind, kind)}: ‖∂L/∂c_t‖ (cell state)")
    axes.set_yscale("log")
    axes.set(xlabel="distance from the loss at the pronoun (words)", ylabel="gradient norm (mean over sentences)", title=title)
    axes.legend(loc="lower left")
    axes.grid(alpha=0.3, which="both")


def plot_losses(losses: Mapping[str, list[float]], path: Path, window: int = 25) -> Path:
    """Training loss (cross-entropy at the pronoun, a running mean over ``window`` steps) per model."""
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for kind, values in losses.items():
        series = torch.tensor(values)
        smooth = series.unfold(0, window, 1).mean(dim=1) if len(values) >= window else series
        steps = torch.arange(len(values) - len(smooth) + 1, len(values) + 1)
        axes.plot(steps.tolist(), smooth.tolist(), color=COLORS.get(kind), label=DISPLAY_NAMES.get(kind, kind))
    axes.axhline(math.log(len(PRONOUNS)), color="0.4", linestyle=":", label="guessing (ln 4)")
    axes.axhline(math.log(2), color="0.7", linestyle=":", label="one of two pairs known (ln 2)")
    axes.set(xlabel="training step", ylabel="loss at the pronoun", title="Training: the same data, steps and optimiser for all three")
    axes.legend(loc="upper right")
    axes.grid(alpha=0.3)
    return _save(figure, path)


def _plot_positive(axes, values: Tensor, style: str, color: str | None, label: str) -> None:
    values = values.detach().double()
    shown = torch.where(values > 0, values, torch.nan)
    axes.plot(torch.arange(len(values)).tolist(), shown.tolist(), style, color=color, label=label)


def _save(figure, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
