"""examples/pronoun_task/task.py: the seeded sentences of the text's pronoun task."""

import random

import pytest
import torch
from pronoun_task.task import (
    DISTRACTOR_MARKER,
    FILLER_WORDS,
    IGNORE_INDEX,
    NOUNS,
    NOUNS_BY_PRONOUN,
    PAD_INDEX,
    PRONOUN_OF_NOUN,
    PRONOUNS,
    SLOT,
    SUBJECT_MARKER,
    TEXT_SENTENCE,
    VOCABULARY,
    PronounSentences,
    encode,
    fixed_length_batch,
    generate_sentence,
    pad_batch,
    split_words,
    subject_pronoun,
    targets_for,
)


def test_vocabulary_has_the_text_sentence_and_no_pronoun_among_the_fillers() -> None:
    assert len(set(VOCABULARY)) == len(VOCABULARY)
    assert PRONOUN_OF_NOUN["teacher"] == "he"  # the text's teacher
    assert not set(PRONOUNS) & set(FILLER_WORDS) and not set(PRONOUNS) & set(VOCABULARY)
    assert all(len(nouns) == len(NOUNS_BY_PRONOUN["he"]) for nouns in NOUNS_BY_PRONOUN.values())
    words = split_words("My teacher said I was slow, but he didn't know I was just getting started.")
    assert " ".join(words) == TEXT_SENTENCE and subject_pronoun(words) == "he"


def test_sentences_are_seeded_and_have_the_asked_lengths() -> None:
    first = PronounSentences(200, 0, 60, seed=3)
    again = PronounSentences(200, 0, 60, seed=3)
    other = PronounSentences(200, 0, 60, seed=4)
    assert [first.words(i) for i in range(200)] == [again.words(i) for i in range(200)]
    assert [first.words(i) for i in range(200)] != [other.words(i) for i in range(200)]
    fillers = [len(first.words(i)) - 3 for i in range(200)]  # my, noun, ..., ___
    assert min(fillers) >= 0 and max(fillers) <= 60 and len(set(fillers)) > 30
    for count in (0, 1, 5, 50):
        assert all(len(words) == count + 3 for words in [PronounSentences(20, count, count, seed=0).words(i) for i in range(20)])
    with pytest.raises(IndexError):
        first.words(200)


def test_subject_pronoun_and_targets_agree() -> None:
    sentences = PronounSentences(400, 0, 30, seed=0)
    counts = {pronoun: 0 for pronoun in PRONOUNS}
    for index in range(len(sentences)):
        words = sentences.words(index)
        tokens, targets = sentences[index]
        assert words[0] == SUBJECT_MARKER and words[1] in NOUNS and words[-1] == SLOT
        assert words.count(SUBJECT_MARKER) == 1 and words.count(SLOT) == 1
        pronoun = PRONOUN_OF_NOUN[words[1]]
        counts[pronoun] += 1
        assert torch.equal(tokens, encode(words))
        # Asked only at the slot; with every_word, from the subject's noun on.
        assert targets[:-1].eq(IGNORE_INDEX).all() and int(targets[-1]) == PRONOUNS.index(pronoun)
        every = targets_for(words, every_word=True)
        assert int(every[0]) == IGNORE_INDEX and every[1:].eq(PRONOUNS.index(pronoun)).all()
    assert min(counts.values()) > 70, counts  # classes come about equally often


def test_distractors_are_nouns_of_every_class_after_the() -> None:
    """Distractors name all four pronouns alike, so they tell nothing about the subject."""
    sentences = PronounSentences(500, 40, 40, seed=1)
    seen_pronouns, with_distractor = set(), 0
    for index in range(len(sentences)):
        words = sentences.words(index)
        distractors = [following for word, following in zip(words, words[1:]) if word == DISTRACTOR_MARKER]
        assert all(noun in NOUNS for noun in distractors)
        assert all(word in FILLER_WORDS or word in NOUNS or word == DISTRACTOR_MARKER for word in words[2:-1])
        assert all(words[position - 1] == DISTRACTOR_MARKER for position in range(2, len(words)) if words[position] in NOUNS)
        with_distractor += bool(distractors)
        seen_pronouns |= {PRONOUN_OF_NOUN[noun] for noun in distractors}
        if PRONOUN_OF_NOUN[words[1]] in {PRONOUN_OF_NOUN[noun] for noun in distractors}:
            seen_pronouns.add("same class as the subject")
    assert with_distractor > 450
    assert seen_pronouns == {*PRONOUNS, "same class as the subject"}


def test_lead_in_puts_words_before_the_subject() -> None:
    words = generate_sentence(random.Random(0), 4, lead_in_count=6)
    assert len(words) == 6 + 2 + 4 + 1 and words[6] == SUBJECT_MARKER and words[7] in NOUNS
    assert subject_pronoun(words) == PRONOUN_OF_NOUN[words[7]]


def test_padding_and_fixed_length_batches() -> None:
    sentences = PronounSentences(8, 0, 20, seed=0)
    tokens, targets = pad_batch([sentences[i] for i in range(8)])
    lengths = [len(sentences.words(i)) for i in range(8)]
    assert tokens.shape == targets.shape == (8, max(lengths))
    for row, length in enumerate(lengths):
        assert tokens[row, length:].eq(PAD_INDEX).all() and targets[row, length:].eq(IGNORE_INDEX).all()
    tokens, targets = fixed_length_batch(10, 16, seed=0)
    assert tokens.shape == (16, 13) and tokens.ne(PAD_INDEX).all()


def test_typed_sentences_are_checked() -> None:
    with pytest.raises(ValueError, match="unknown words"):
        split_words("my teacher said hello")
    with pytest.raises(ValueError, match="empty"):
        split_words("  ,  ")
    assert subject_pronoun(["said", "my", "dog"]) == "it"
    assert subject_pronoun(["my", "said"]) is None
    with pytest.raises(ValueError, match="names its subject"):
        targets_for(["the", "dog", SLOT])
