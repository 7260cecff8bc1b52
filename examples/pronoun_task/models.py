"""The readers: word embedding, one torch_ext recurrent layer, a linear head over the pronouns.

``logits[:, t]`` is the model's answer to "which pronoun?" having read words ``0..t``; it is
trained where word ``t`` is the slot ``___``, and ``confidence_per_word`` asks it after every word
by putting a slot there. The recurrent layer is ``torch_ext.RNN`` (tanh), ``torch_ext.LSTM`` or
``torch_ext.GRU``: the hand-written kernels do all the recurrent work, forward and backward.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

import torch_ext

from .task import PAD_INDEX, PRONOUNS, SLOT, VOCABULARY, encode

RECURRENT_MODULES = {"rnn": torch_ext.RNN, "lstm": torch_ext.LSTM, "gru": torch_ext.GRU}
DISPLAY_NAMES = {"rnn": "vanilla RNN", "lstm": "LSTM", "gru": "GRU"}


@dataclass(frozen=True)
class ModelConfig:
    kind: str  # a key of RECURRENT_MODULES
    embedding_size: int = 32
    hidden_size: int = 64


class PronounReader(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        if config.kind not in RECURRENT_MODULES:
            raise ValueError(f"kind must be one of {sorted(RECURRENT_MODULES)}, got {config.kind!r}")
        self.config = config
        self.embedding = nn.Embedding(len(VOCABULARY), config.embedding_size)
        self.recurrent = RECURRENT_MODULES[config.kind](config.embedding_size, config.hidden_size, batch_first=True)
        self.head = nn.Linear(config.hidden_size, len(PRONOUNS))

    def forward(self, tokens: Tensor) -> Tensor:
        """``tokens`` ``(batch, time)`` -> logits ``(batch, time, len(PRONOUNS))``."""
        hidden, _ = self.recurrent(self.embedding(tokens))
        return self.head(hidden)


@torch.no_grad()
def confidence_per_word(model: PronounReader, words: Sequence[str]) -> Tensor:
    """The pronoun probabilities ``(len(words), len(PRONOUNS))`` if the slot came right after each word.

    Row ``i`` is what the model answers at a slot ``___`` placed after ``words[:i+1]`` (at the word
    itself when it is the slot): the confidence bar of word ``i``. The prefixes run as one padded
    batch; padding comes after each prefix's slot, so it never changes the answer.
    """
    model.eval()
    prefixes = [list(words[: i + 1]) + ([] if words[i] == SLOT else [SLOT]) for i in range(len(words))]
    tokens = torch.full((len(prefixes), max(map(len, prefixes))), PAD_INDEX, dtype=torch.int64)
    for row, prefix in enumerate(prefixes):
        tokens[row, : len(prefix)] = encode(prefix)
    slots = torch.tensor([len(prefix) - 1 for prefix in prefixes])
    return torch.softmax(model(tokens)[torch.arange(len(prefixes)), slots], dim=-1)


def change_of_mind(probabilities: Tensor, answer: int, start: int = 0) -> int | None:
    """The first word (from ``start`` on) after which the top choice leaves ``answer``, having held it."""
    choices = probabilities.argmax(dim=-1).tolist()
    for position in range(max(start, 1), len(choices)):
        if choices[position - 1] == answer and choices[position] != answer:
            return position
    return None
