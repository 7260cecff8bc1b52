"""Training, accuracy by sentence length, and the gradient that reaches each earlier word.

``train`` is a plain loop: a DataLoader over seeded sentences in a fixed order, Adam, gradient
clipping, cross-entropy at every word after the subject, a tqdm bar. ``accuracy_by_length``
scores the prediction at the pronoun slot. ``hidden_state_gradient_norms`` measures
``||dL/dh_t||`` against the distance from the loss (see its docstring for how).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.utils.data import DataLoader
from tqdm import tqdm

from .models import ModelConfig, PronounReader
from .task import DEFAULT_DISTRACTOR_RATE, IGNORE_INDEX, PronounSentences, fixed_length_batch, pad_batch

EVALUATION_SEED = 1_000_003  # far from any training seed: evaluation sentences are never trained on
DEFAULT_LENGTHS = (0, 5, 10, 20, 50, 100)


@dataclass(frozen=True)
class TrainingConfig:
    steps: int = 500
    batch_size: int = 64
    learning_rate: float = 3e-3
    min_filler: int = 0
    max_filler: int = 60
    max_lead_in: int = 0
    distractor_rate: float = DEFAULT_DISTRACTOR_RATE
    every_word: bool = False  # the question asked after every word (True) or only at the slot
    max_grad_norm: float = 1.0
    embedding_size: int = 32
    hidden_size: int = 64
    seed: int = 0

    def model_config(self, kind: str) -> ModelConfig:
        return ModelConfig(kind, self.embedding_size, self.hidden_size)

    def cache_name(self, kind: str) -> str:
        """A file name that changes whenever anything that shapes the trained weights changes."""
        fields = "-".join(f"{value}" for value in asdict(self).values())
        return f"{kind}-{fields}.pt"


def train(kind: str, config: TrainingConfig, progress: bool = True,
          on_step: Callable[[int, float], None] | None = None) -> tuple[PronounReader, list[float]]:
    """Train a fresh reader of ``kind`` ('rnn', 'lstm', 'gru'); returns it (in eval mode) and the losses.

    ``on_step(step, loss)`` is called after every step (the playground drives its bar with it).
    """
    torch.manual_seed(config.seed)
    model = PronounReader(config.model_config(kind))
    sentences = PronounSentences(config.steps * config.batch_size, config.min_filler, config.max_filler, config.seed,
                                 config.max_lead_in, config.distractor_rate, config.every_word)
    loader = DataLoader(sentences, batch_size=config.batch_size, shuffle=False, collate_fn=pad_batch)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    losses: list[float] = []
    model.train()
    bar = tqdm(loader, desc=f"training {kind:>4}", unit="step", disable=not progress, leave=True)
    for step, (tokens, targets) in enumerate(bar, start=1):
        logits = model(tokens)
        loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE_INDEX)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
        optimizer.step()
        losses.append(loss.item())
        if step % 25 == 0:
            bar.set_postfix(loss=f"{sum(losses[-25:]) / 25:.3f}")
        if on_step is not None:
            on_step(step, losses[-1])
    model.eval()
    return model, losses


def train_or_load(kind: str, config: TrainingConfig, cache_dir: Path | None, progress: bool = True,
                  on_step: Callable[[int, float], None] | None = None, retrain: bool = False) -> tuple[PronounReader, dict]:
    """The trained reader from ``cache_dir`` when it holds one for this config, else train and save it.

    Returns the model and its record: ``{"kind", "config", "seconds", "final_loss", "losses", "cached"}``
    (``seconds`` is the training time, also when the weights come from the cache).
    """
    path = None if cache_dir is None else Path(cache_dir) / config.cache_name(kind)
    if path is not None and path.exists() and not retrain:
        saved = torch.load(path, weights_only=True)
        model = PronounReader(config.model_config(kind))
        model.load_state_dict(saved["state_dict"])
        model.eval()
        return model, {**json.loads(saved["record"]), "cached": True}
    start = time.perf_counter()
    model, losses = train(kind, config, progress, on_step)
    record = {"kind": kind, "config": asdict(config), "seconds": time.perf_counter() - start,
              "final_loss": sum(losses[-50:]) / len(losses[-50:]), "losses": losses}
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"state_dict": model.state_dict(), "record": json.dumps(record)}, path)
    return model, {**record, "cached": False}


@torch.no_grad()
def accuracy_by_length(model: PronounReader, lengths: Sequence[int] = DEFAULT_LENGTHS, size: int = 1000,
                       max_lead_in: int = 0, seed: int = EVALUATION_SEED) -> dict[int, float]:
    """Share of ``size`` fresh sentences per filler count whose pronoun the model gets right at the slot."""
    model.eval()
    accuracies = {}
    for filler_count in lengths:
        tokens, targets = fixed_length_batch(filler_count, size, seed + filler_count, max_lead_in)
        rows = torch.arange(size)
        slots = last_slot(targets)
        predictions = model(tokens)[rows, slots].argmax(dim=-1)
        accuracies[filler_count] = (predictions == targets[rows, slots]).float().mean().item()
    return accuracies


def last_slot(targets: Tensor) -> Tensor:
    """Per row of ``targets`` ``(batch, time)``, the position of the last pronoun slot."""
    positions = torch.arange(targets.shape[1]).expand_as(targets)
    return torch.where(targets != IGNORE_INDEX, positions, -1).amax(dim=1)


class GradientNorms(NamedTuple):
    """Mean gradient norms by distance from the loss: entry ``d`` is ``d`` words before the pronoun."""

    hidden: Tensor  # ||dL/dh_t||, shape (T,)
    cell: Tensor | None  # ||dL/dc_t|| for the LSTM, else None


def hidden_state_gradient_norms(model: PronounReader, tokens: Tensor, targets: Tensor) -> GradientNorms:
    """``||dL/dh_t||`` for every step ``t``, indexed by distance ``T-1-t`` from the loss at the last word.

    ``L`` is the cross-entropy at the last word (the pronoun slot), summed over the batch so that
    each sentence's gradient is its own; the result is the mean over sentences of the Euclidean norm
    of ``dL/dh_t``, entry ``d`` at distance ``d``.

    How: the module's ``output`` holds every ``h_t``, but the recurrence runs inside the op, so
    ``output[:, t].grad`` would only hold the direct path from the head, which is zero here for
    ``t < T-1``. To get the total derivative the module is run one word at a time (sequence length
    1: our op's forward and backward at every step) with the state handed back in: each ``h_t`` is
    then one tensor that feeds both the next step and, at ``T-1``, the head, and ``retain_grad`` on
    it holds ``dL/dh_t`` as backpropagation through time computes it. For the LSTM the cell state
    ``c_t`` is handed on as its own tensor, so ``dL/dh_t`` is the partial derivative at fixed
    ``c_t``, and ``dL/dc_t`` comes too: both equal ``hx[0].grad`` and ``hx[1].grad`` after running
    the whole op over steps ``t+1..T-1`` from the state ``(h_t, c_t)``, which the tests check.
    """
    model.eval()
    embedded = model.embedding(tokens)
    hidden_states: list[Tensor] = []
    cell_states: list[Tensor] = []
    state = None
    for t in range(tokens.shape[1]):
        output, state = model.recurrent(embedded[:, t : t + 1], state)
        hidden = output[:, 0]
        hidden.retain_grad()
        hidden_states.append(hidden)
        # Hand on this very tensor as the next step's h, so that every path to L passes through it.
        if isinstance(state, tuple):
            cell = state[1]
            cell.retain_grad()
            cell_states.append(cell)
            state = (hidden.unsqueeze(0), cell)
        else:
            state = hidden.unsqueeze(0)
    loss = F.cross_entropy(model.head(hidden_states[-1]), targets[:, -1], reduction="sum")
    model.zero_grad()
    loss.backward()

    def mean_norms(states: list[Tensor]) -> Tensor:
        # The last cell state reaches no loss: its gradient is None, i.e. zero.
        grads = [torch.zeros_like(state) if state.grad is None else state.grad for state in states]
        return torch.stack([grad.reshape(-1, grad.shape[-1]).norm(dim=-1).mean() for grad in grads]).flip(0)

    return GradientNorms(mean_norms(hidden_states), mean_norms(cell_states) if cell_states else None)


def gradient_norms_by_distance(model: PronounReader, filler_count: int = 100, size: int = 256,
                               seed: int = EVALUATION_SEED) -> GradientNorms:
    """``hidden_state_gradient_norms`` on ``size`` fresh sentences with ``filler_count`` filler words."""
    tokens, targets = fixed_length_batch(filler_count, size, seed + filler_count)
    return hidden_state_gradient_norms(model, tokens, targets)


def with_overrides(config: TrainingConfig, **overrides) -> TrainingConfig:
    return replace(config, **{name: value for name, value in overrides.items() if value is not None})
