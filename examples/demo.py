"""The main job: a vanilla RNN, an LSTM and a GRU learn who "he" is; tables and pictures.

    python examples/demo.py [--steps 600] [--out examples/artifacts] [--seed 0]

"My teacher said I was slow, but he didn't know I was just getting started": to resolve "he" you
carry "my teacher" across the sentence. Each model (embedding, one torch_ext recurrent layer,
linear head) reads seeded sentences ``my <noun> <N filler words, distractor nouns among them>
___`` and is asked at the slot ``___`` which pronoun goes there; all three get the same data, steps
and optimiser. Then:

- a table of accuracy at the pronoun against N (chance is 25%);
- accuracy_by_length.png: that table as lines;
- gradient_norms.png: ||dL/dh_t|| against the distance from the loss, the vanishing gradient;
- training_loss.png: the loss of each model as it trains.

The trained weights land in <out>/weights, where the playground (examples/rnn_playground.py)
finds them: after this, `streamlit run examples/rnn_playground.py` starts with all three trained.
"""

from __future__ import annotations

import argparse
import time
from typing import NamedTuple
from pathlib import Path

import torch

from pronoun_task.models import DISPLAY_NAMES
from pronoun_task.plots import plot_accuracy, plot_gradient_norms, plot_losses
from pronoun_task.training import (
    DEFAULT_LENGTHS,
    GradientNorms,
    TrainingConfig,
    accuracy_by_length,
    gradient_norms_by_distance,
    train_or_load,
)

KINDS = ("rnn", "lstm", "gru")
DEFAULT_OUT = Path(__file__).resolve().parent / "artifacts"


class DemoResult(NamedTuple):
    accuracies: dict[str, dict[int, float]]  # kind -> filler words -> accuracy
    gradients: dict[str, GradientNorms]  # kind -> norms by distance
    seconds: dict[str, float]  # kind -> training time
    records: dict[str, dict]
    plots: dict[str, Path]


def run_demo(config: TrainingConfig, out: Path, lengths=DEFAULT_LENGTHS, evaluation_size: int = 1000,
             gradient_filler: int = 100, reuse: bool = False, progress: bool = True) -> DemoResult:
    """Train (or, with ``reuse``, load cached) models, evaluate them, write the plots."""
    accuracies, gradients, seconds, records = {}, {}, {}, {}
    for kind in KINDS:
        model, record = train_or_load(kind, config, out / "weights", progress=progress, retrain=not reuse)
        records[kind], seconds[kind] = record, record["seconds"]
        accuracies[kind] = accuracy_by_length(model, lengths, evaluation_size)
        gradients[kind] = gradient_norms_by_distance(model, gradient_filler)
    plots = {
        "accuracy": plot_accuracy(accuracies, out / "accuracy_by_length.png", (config.min_filler, config.max_filler)),
        "gradients": plot_gradient_norms(
            {kind: norms.hidden for kind, norms in gradients.items()}, out / "gradient_norms.png",
            {kind: norms.cell for kind, norms in gradients.items() if norms.cell is not None},
            title=f"Gradient reaching each earlier word (trained models, {gradient_filler} filler words)"),
        "loss": plot_losses({kind: record["losses"] for kind, record in records.items()}, out / "training_loss.png"),
    }
    return DemoResult(accuracies, gradients, seconds, records, plots)


def format_table(result: DemoResult, evaluation_size: int) -> str:
    lengths = sorted(next(iter(result.accuracies.values())))
    lines = [f"accuracy at the pronoun ({evaluation_size} fresh sentences per length; chance is 25%)",
             f"{'filler words':<14}" + "".join(f"{n:>8}" for n in lengths) + f"{'training':>12}"]
    for kind, by_length in result.accuracies.items():
        cells = "".join(f"{100 * by_length[n]:>7.1f}%" for n in lengths)
        lines.append(f"{DISPLAY_NAMES[kind]:<14}{cells}{result.seconds[kind]:>11.1f}s")
    return "\n".join(lines)


def format_gradients(result: DemoResult, distances=(0, 1, 2, 5, 10, 20, 50, 100)) -> str:
    lines = ["mean ||dL/dh_t|| at distance d from the loss (words before the pronoun)",
             f"{'d':<14}" + "".join(f"{d:>10}" for d in distances)]
    for kind, norms in result.gradients.items():
        lines.append(f"{DISPLAY_NAMES[kind]:<14}" + "".join(f"{float(norms.hidden[d]):>10.1e}" for d in distances))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults = TrainingConfig()
    parser.add_argument("--steps", type=int, default=defaults.steps, help="training steps per model")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the PNGs and the weights")
    parser.add_argument("--every-word", action="store_true",
                        help="ask the question after every word, not only at the pronoun (see the README)")
    parser.add_argument("--reuse", action="store_true", help="load weights trained before with the same settings")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads; the results do not depend on it. One is the safe choice for models "
                             "this small: on two busy cores, two threads made training ten times slower")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    config = TrainingConfig(steps=args.steps, seed=args.seed, every_word=args.every_word)
    print(f"training {', '.join(DISPLAY_NAMES[kind] for kind in KINDS)} on torch_ext: {config.steps} steps of "
          f"{config.batch_size} sentences with {config.min_filler}-{config.max_filler} filler words, seed {config.seed}")
    start = time.perf_counter()
    result = run_demo(config, args.out, reuse=args.reuse)
    print()
    print(format_table(result, 1000))
    print()
    print(format_gradients(result))
    print()
    for name, path in result.plots.items():
        print(f"{name:>9}: {path}")
    print(f"weights for the playground: {args.out / 'weights'}  (streamlit run examples/rnn_playground.py)")
    print(f"total {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
