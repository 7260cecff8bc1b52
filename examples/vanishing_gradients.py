"""The vanishing gradient of the text, measured: ||dL/dh_t|| against the distance from the loss.

    python examples/vanishing_gradients.py [--filler 100] [--steps 500] [--out examples/artifacts]

"At each step backward, the gradient gets multiplied by the weight matrix W_h. For a sequence of
50 words, that's 50 multiplications." The loss is the cross-entropy at the pronoun of sentences
with ``--filler`` filler words; the curve is the mean norm of its gradient with respect to the
hidden state ``d`` words earlier. Two panels: the three models as initialised, where all three
lose the gradient about as fast, and after training on the pronoun task (the demo's weights,
loaded from the cache when `make demo` has run, trained here otherwise), where the LSTM's and
the GRU's gates have learned to keep it flowing and the vanilla RNN's still dies out
exponentially. How it is measured: pronoun_task.training.hidden_state_gradient_norms.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from pronoun_task.models import DISPLAY_NAMES, PronounReader
from pronoun_task.plots import plot_gradient_panels
from pronoun_task.training import TrainingConfig, gradient_norms_by_distance, train_or_load

KINDS = ("rnn", "lstm", "gru")
DEFAULT_OUT = Path(__file__).resolve().parent / "artifacts"


def measure(config: TrainingConfig, filler: int, cache_dir: Path | None, progress: bool = True) -> dict:
    """``{"initialised" | "trained": {kind: GradientNorms}}``."""
    measured: dict = {"initialised": {}, "trained": {}}
    for kind in KINDS:
        torch.manual_seed(config.seed)  # the very weights training starts from
        measured["initialised"][kind] = gradient_norms_by_distance(PronounReader(config.model_config(kind)), filler)
        model, _ = train_or_load(kind, config, cache_dir, progress=progress)
        measured["trained"][kind] = gradient_norms_by_distance(model, filler)
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--filler", type=int, default=100, help="filler words between the subject and the pronoun")
    parser.add_argument("--steps", type=int, default=TrainingConfig().steps, help="training steps (the demo's by default)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (see demo.py)")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    config = TrainingConfig(steps=args.steps)
    measured = measure(config, args.filler, args.out / "weights")
    titles = {"initialised": "as initialised", "trained": f"after {config.steps} training steps"}
    panels = {
        f"{titles[state]} ({args.filler} filler words)": (
            {kind: norms.hidden for kind, norms in by_kind.items()},
            {kind: norms.cell for kind, norms in by_kind.items() if norms.cell is not None},
        )
        for state, by_kind in measured.items()
    }
    path = plot_gradient_panels(panels, args.out / "vanishing_gradients.png")
    distances = [d for d in (0, 1, 5, 10, 20, 50, 100) if d <= args.filler]
    for state, by_kind in measured.items():
        print(f"{state}: mean ||dL/dh_t|| at distance d")
        print(f"  {'d':<12}" + "".join(f"{d:>10}" for d in distances))
        for kind, norms in by_kind.items():
            print(f"  {DISPLAY_NAMES[kind]:<12}" + "".join(f"{float(norms.hidden[d]):>10.1e}" for d in distances))
    print(path)


if __name__ == "__main__":
    main()
