"""The pronoun task: carry the subject of a sentence across filler words to the pronoun.

"My teacher said I was slow, but he didn't know I was just getting started." To know that "he"
is the teacher you must hold "my teacher" in mind while you read the rest. The sentences here have
that shape::

    my teacher said i was slow but the sister was late so ... ___
    └subject─┘ └──────────── N filler words ────────────────┘ └pronoun slot

The first two words name the subject ("my" and one of sixteen nouns); its pronoun (he, she, it,
they) is the class to predict. Then come N filler words, among them distractor nouns ("the
sister") of any class, and last the pronoun slot ``___``. A model reads word by word and says after
every word which pronoun the slot takes; its prediction after the slot is the one that is scored.
A reader that has forgotten the subject can do no better than chance (one in four), and one swayed
by the latest distractor does no better either: distractors are drawn from every class alike.

Everything is generated from a seed: sentence ``i`` of a dataset with seed ``s`` is the same on
every machine and in every run.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch
from torch import Tensor
from torch.utils.data import Dataset

PRONOUNS = ("he", "she", "it", "they")

# The nouns that may name the subject, by the pronoun that refers to them. The text's teacher is "he".
NOUNS_BY_PRONOUN = {
    "he": ("teacher", "brother", "father", "uncle"),
    "she": ("sister", "mother", "aunt", "grandmother"),
    "it": ("dog", "cat", "car", "phone"),
    "they": ("friends", "parents", "neighbours", "cousins"),
}
NOUNS = tuple(noun for nouns in NOUNS_BY_PRONOUN.values() for noun in nouns)
PRONOUN_OF_NOUN = {noun: pronoun for pronoun, nouns in NOUNS_BY_PRONOUN.items() for noun in nouns}

SUBJECT_MARKER = "my"  # only ever the first word: it announces the subject
DISTRACTOR_MARKER = "the"  # precedes every distractor noun
SLOT = "___"  # where the pronoun goes
PAD = "<pad>"

# Words of the text's sentence first, then everyday words; no pronoun of the four classes among them.
FILLER_WORDS = (
    "said", "i", "was", "slow", "but", "didn't", "know", "just", "getting", "started",
    "and", "then", "so", "very", "really", "always", "never", "thought", "that", "we",
    "were", "late", "tired", "happy", "at", "school", "home", "today", "yesterday", "after",
    "lunch", "again", "because", "quite", "busy", "with", "homework", "in", "town", "on",
)

VOCABULARY = (PAD, SUBJECT_MARKER, DISTRACTOR_MARKER, SLOT, *NOUNS, *FILLER_WORDS)
WORD_INDEX = {word: index for index, word in enumerate(VOCABULARY)}
PAD_INDEX = WORD_INDEX[PAD]
IGNORE_INDEX = -100  # targets where nothing can be known yet ("my") or nothing was read (padding)

# The text's own sentence, as the task writes it.
TEXT_SENTENCE = "my teacher said i was slow but ___ didn't know i was just getting started"

DEFAULT_DISTRACTOR_RATE = 0.1


def _filler(rng: random.Random, count: int, distractor_rate: float) -> list[str]:
    """``count`` filler words; a distractor takes two of them (``the <noun>``, any of the sixteen nouns)."""
    words: list[str] = []
    while len(words) < count:
        if count - len(words) >= 2 and rng.random() < distractor_rate:
            words += [DISTRACTOR_MARKER, rng.choice(NOUNS)]
        else:
            words.append(rng.choice(FILLER_WORDS))
    return words


def generate_sentence(rng: random.Random, filler_count: int, lead_in_count: int = 0,
                      distractor_rate: float = DEFAULT_DISTRACTOR_RATE) -> list[str]:
    """One sentence: ``lead_in_count`` words, ``my <noun>``, ``filler_count`` filler words, the slot ``___``."""
    pronoun = PRONOUNS[rng.randrange(len(PRONOUNS))]
    subject = [SUBJECT_MARKER, rng.choice(NOUNS_BY_PRONOUN[pronoun])]
    lead_in = _filler(rng, lead_in_count, distractor_rate)
    return lead_in + subject + _filler(rng, filler_count, distractor_rate) + [SLOT]


def split_words(sentence: str) -> list[str]:
    """The words of a typed sentence, lower case, punctuation dropped; raises on unknown words.

    A pronoun (he, she, it, they) is the question itself: it becomes the slot ``___``, so the text's
    sentence can be typed as it stands.
    """
    words = [word.strip(".,;:!?\"") for word in sentence.lower().replace("\u2019", "'").split()]
    words = [SLOT if word in PRONOUNS else word for word in words if word]
    unknown = [word for word in words if word not in WORD_INDEX or word == PAD]
    if unknown:
        raise ValueError(f"unknown words {unknown}; the vocabulary is {sorted(VOCABULARY[1:])}")
    if not words:
        raise ValueError("the sentence is empty")
    return words


def subject_position(words: Sequence[str]) -> int | None:
    """Where the subject's noun is: after the first "my" (None when there is no "my <noun>")."""
    for position, (word, following) in enumerate(zip(words, words[1:])):
        if word == SUBJECT_MARKER:
            return position + 1 if following in PRONOUN_OF_NOUN else None
    return None


def subject_pronoun(words: Sequence[str]) -> str | None:
    """The pronoun of the subject, the noun after "my" (None when there is none)."""
    position = subject_position(words)
    return None if position is None else PRONOUN_OF_NOUN[words[position]]


def encode(words: Sequence[str]) -> Tensor:
    """Word indices, shape ``(len(words),)``."""
    return torch.tensor([WORD_INDEX[word] for word in words], dtype=torch.int64)


def targets_for(words: Sequence[str], every_word: bool = False) -> Tensor:
    """The class (index into PRONOUNS) to predict after each word, IGNORE_INDEX where none is asked.

    The question is asked at the slot ``___``; with ``every_word`` it is asked after every word
    from the subject's noun on.
    """
    pronoun = subject_pronoun(words)
    if pronoun is None:
        raise ValueError(f"a sentence names its subject with '{SUBJECT_MARKER} <noun>': {' '.join(words)}")
    targets = torch.full((len(words),), IGNORE_INDEX, dtype=torch.int64)
    if every_word:
        targets[subject_position(words) :] = PRONOUNS.index(pronoun)
    else:
        targets[[word == SLOT for word in words]] = PRONOUNS.index(pronoun)
    return targets


class PronounSentences(Dataset):
    """``size`` sentences with a filler count drawn uniformly from ``[min_filler, max_filler]``.

    Item ``i`` is generated on demand from the seed and ``i`` alone, so the data order is fixed
    and nothing is held in memory. Items are ``(tokens, targets)``, both int64 of one length.
    """

    def __init__(self, size: int, min_filler: int, max_filler: int, seed: int, max_lead_in: int = 0,
                 distractor_rate: float = DEFAULT_DISTRACTOR_RATE, every_word: bool = False) -> None:
        if not 0 <= min_filler <= max_filler:
            raise ValueError(f"need 0 <= min_filler <= max_filler, got {min_filler} and {max_filler}")
        self.size, self.min_filler, self.max_filler, self.max_lead_in = size, min_filler, max_filler, max_lead_in
        self.seed, self.distractor_rate, self.every_word = seed, distractor_rate, every_word

    def __len__(self) -> int:
        return self.size

    def words(self, index: int) -> list[str]:
        if not 0 <= index < self.size:
            raise IndexError(f"index {index} out of range for {self.size} sentences")
        rng = random.Random(f"{self.seed}:{index}")
        filler_count = rng.randint(self.min_filler, self.max_filler)
        return generate_sentence(rng, filler_count, rng.randint(0, self.max_lead_in), self.distractor_rate)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        words = self.words(index)
        return encode(words), targets_for(words, self.every_word)


def pad_batch(items: Sequence[tuple[Tensor, Tensor]]) -> tuple[Tensor, Tensor]:
    """DataLoader collate: pad at the end to ``(batch, longest)``; padded targets are ignored.

    The models read left to right, so padding after a sentence never changes what they say
    within it.
    """
    longest = max(tokens.numel() for tokens, _ in items)
    tokens = torch.full((len(items), longest), PAD_INDEX, dtype=torch.int64)
    targets = torch.full((len(items), longest), IGNORE_INDEX, dtype=torch.int64)
    for row, (sentence, classes) in enumerate(items):
        tokens[row, : sentence.numel()] = sentence
        targets[row, : classes.numel()] = classes
    return tokens, targets


def fixed_length_batch(filler_count: int, size: int, seed: int, max_lead_in: int = 0,
                       distractor_rate: float = DEFAULT_DISTRACTOR_RATE) -> tuple[Tensor, Tensor]:
    """``size`` sentences with exactly ``filler_count`` filler words: ``(tokens, targets)``."""
    sentences = PronounSentences(size, filler_count, filler_count, seed, max_lead_in, distractor_rate)
    return pad_batch([sentences[index] for index in range(size)])
