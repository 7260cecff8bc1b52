"""examples/pronoun_task: the readers train, their gradients by distance are measured right, caching works.

The gradient measurement (one word at a time through our op, ``retain_grad`` on each ``h_t``) is
checked against a second way of computing the same derivative, the whole op run from step ``t``
with the state ``(h_t, c_t)`` given (``hx.grad``), and against torch.nn's modules holding the same
weights. Training with torch.nn's module in the reader gives the same losses as with ours, and a
vanilla RNN that has learned short sentences is right at any length (the README's demo section).
"""

import pytest
import torch
from pronoun_task import models
from pronoun_task.models import ModelConfig, PronounReader, change_of_mind, confidence_per_word
from pronoun_task.task import PRONOUNS, SLOT, encode, fixed_length_batch, split_words
from pronoun_task.training import (
    TrainingConfig,
    accuracy_by_length,
    hidden_state_gradient_norms,
    last_slot,
    train,
    train_or_load,
)
from torch import nn
from torch.nn import functional as F

KINDS = ("rnn", "lstm", "gru")
TORCH_NN = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
SMALL = TrainingConfig(steps=150, batch_size=32, max_filler=3, learning_rate=0.02, embedding_size=8, hidden_size=16)


@pytest.mark.parametrize("kind", KINDS)
def test_readers_learn_short_sentences(kind: str) -> None:
    model, losses = train(kind, SMALL, progress=False)
    assert isinstance(model.recurrent, models.RECURRENT_MODULES[kind]) and not model.training
    assert sum(losses[-10:]) / 10 < 0.2 < 1.2 < sum(losses[:10]) / 10, (losses[:10], losses[-10:])
    accuracies = accuracy_by_length(model, (0, 1, 2, 3), size=200)
    assert min(accuracies.values()) >= 0.95, accuracies


def test_training_is_reproducible() -> None:
    config = TrainingConfig(steps=5, batch_size=8, max_filler=10, embedding_size=8, hidden_size=16)
    first, first_losses = train("lstm", config, progress=False)
    second, second_losses = train("lstm", config, progress=False)
    assert first_losses == second_losses
    for a, b in zip(first.parameters(), second.parameters()):
        assert torch.equal(a, b)


@pytest.mark.parametrize("kind", KINDS)
def test_training_matches_torch_nn_on_the_same_weights_and_data(kind: str, monkeypatch) -> None:
    # What the demo shows of each model is the model's, not our kernels': with torch.nn's module in
    # the reader (same parameter draws, same sentences, same Adam steps) the losses agree.
    config = TrainingConfig(steps=30, batch_size=32, max_filler=30)

    def initial_weights() -> dict[str, torch.Tensor]:
        torch.manual_seed(config.seed)  # as train() does
        return PronounReader(config.model_config(kind)).state_dict()

    ours_initially = initial_weights()
    ours, our_losses = train(kind, config, progress=False)
    monkeypatch.setitem(models.RECURRENT_MODULES, kind, TORCH_NN[kind])
    reference_initially = initial_weights()
    assert ours_initially.keys() == reference_initially.keys()
    for name, value in ours_initially.items():
        assert torch.equal(value, reference_initially[name]), name
    reference, reference_losses = train(kind, config, progress=False)
    assert isinstance(reference.recurrent, TORCH_NN[kind]) and not isinstance(ours.recurrent, TORCH_NN[kind])
    torch.testing.assert_close(torch.tensor(our_losses), torch.tensor(reference_losses), rtol=0, atol=1e-5)


def test_a_vanilla_rnn_that_learns_short_sentences_carries_the_subject_any_distance() -> None:
    # Why the demo's vanilla RNN is flat in sentence length: trained on 0 to 10 filler words only,
    # it holds the subject in a saturated "latch" that filler and distractors do not move, and is
    # right 100 and 500 words on, where its gradient ||dL/dh_t|| vanished long before.
    model, _ = train("rnn", TrainingConfig(steps=250, max_filler=10), progress=False)
    accuracies = accuracy_by_length(model, (0, 5, 10, 100, 500), size=300)
    assert min(accuracies.values()) >= 0.95, accuracies


def _whole_op_gradients(model: PronounReader, tokens: torch.Tensor, targets: torch.Tensor, t: int):
    """dL/dh_t (and dL/dc_t) from the full-sequence op run over steps t+1.. from the given state."""
    embedded = model.embedding(tokens)
    _, state = model.recurrent(embedded[:, : t + 1])
    if isinstance(state, tuple):
        state = tuple(part.detach().requires_grad_() for part in state)
    else:
        state = state.detach().requires_grad_()
    output, _ = model.recurrent(embedded[:, t + 1 :], state)
    F.cross_entropy(model.head(output[:, -1]), targets[:, -1], reduction="sum").backward()
    parts = state if isinstance(state, tuple) else (state,)
    return [part.grad[0].norm(dim=-1).mean() for part in parts]


@pytest.mark.parametrize("kind", KINDS)
def test_gradient_by_distance_is_the_derivative_bptt_computes(kind: str) -> None:
    torch.manual_seed(0)
    model = PronounReader(ModelConfig(kind, 8, 12)).double()
    tokens, targets = fixed_length_batch(9, 5, seed=0)
    norms = hidden_state_gradient_norms(model, tokens, targets)
    steps = tokens.shape[1]
    assert norms.hidden.shape == (steps,) and (norms.cell is not None) == (kind == "lstm")
    for t in range(steps - 1):
        expected = _whole_op_gradients(model, tokens, targets, t)
        distance = steps - 1 - t
        torch.testing.assert_close(norms.hidden[distance], expected[0], rtol=1e-9, atol=0)
        if kind == "lstm":
            torch.testing.assert_close(norms.cell[distance], expected[1], rtol=1e-9, atol=0)

    # torch.nn's module with the same weights gives the same curve.
    reference = PronounReader(ModelConfig(kind, 8, 12)).double()
    reference.recurrent = TORCH_NN[kind](8, 12, batch_first=True).double()
    reference.load_state_dict(model.state_dict())
    expected = hidden_state_gradient_norms(reference, tokens, targets)
    torch.testing.assert_close(norms.hidden, expected.hidden, rtol=1e-9, atol=1e-300)
    if kind == "lstm":
        torch.testing.assert_close(norms.cell, expected.cell, rtol=1e-9, atol=1e-300)


def test_confidence_per_word_asks_at_a_slot_after_each_word() -> None:
    torch.manual_seed(0)
    model = PronounReader(ModelConfig("gru", 8, 12))
    words = split_words("my sister said the dog was late but she")  # "she" becomes the slot
    assert words[-1] == SLOT
    confidences = confidence_per_word(model, words)
    assert confidences.shape == (len(words), len(PRONOUNS))
    torch.testing.assert_close(confidences.sum(dim=-1), torch.ones(len(words)))
    for i in range(len(words)):
        prefix = words[: i + 1] + ([] if words[i] == SLOT else [SLOT])
        expected = torch.softmax(model(encode(prefix).unsqueeze(0))[0, -1], dim=-1)
        torch.testing.assert_close(confidences[i], expected)


def test_change_of_mind_is_where_the_top_choice_leaves_the_answer() -> None:
    def probabilities(choices):
        return torch.nn.functional.one_hot(torch.tensor(choices), len(PRONOUNS)).float()

    assert change_of_mind(probabilities([2, 0, 0, 1, 0, 1]), answer=0, start=1) == 3
    assert change_of_mind(probabilities([2, 0, 0, 0]), answer=0, start=1) is None
    assert change_of_mind(probabilities([1, 1, 1, 1]), answer=0, start=1) is None  # never right, never changes
    assert change_of_mind(probabilities([0, 1, 0, 0]), answer=0, start=2) is None


def test_accuracy_reads_the_slot_of_each_padded_sentence() -> None:
    torch.manual_seed(0)
    model = PronounReader(ModelConfig("rnn", 8, 12))
    tokens, targets = fixed_length_batch(3, 50, seed=7, max_lead_in=6)  # lengths differ: padded
    slots = last_slot(targets)
    assert len(set(slots.tolist())) > 1
    expected = sum(
        int(model(tokens[row : row + 1, : int(slot) + 1])[0, -1].argmax() == targets[row, slot])
        for row, slot in enumerate(slots.tolist())
    ) / 50
    assert accuracy_by_length(model, (3,), size=50, max_lead_in=6, seed=7 - 3)[3] == pytest.approx(expected)


def test_trained_weights_are_cached(tmp_path) -> None:
    config = TrainingConfig(steps=3, batch_size=4, max_filler=5, embedding_size=8, hidden_size=8)
    steps_seen = []
    model, record = train_or_load("gru", config, tmp_path, progress=False, on_step=lambda step, loss: steps_seen.append(step))
    assert steps_seen == [1, 2, 3] and not record["cached"] and len(record["losses"]) == 3
    assert (tmp_path / config.cache_name("gru")).exists()
    loaded, loaded_record = train_or_load("gru", config, tmp_path, progress=False)
    assert loaded_record["cached"] and loaded_record["losses"] == record["losses"]
    for a, b in zip(model.state_dict().values(), loaded.state_dict().values()):
        assert torch.equal(a, b)
    assert config.cache_name("gru") != TrainingConfig(steps=4).cache_name("gru") != config.cache_name("rnn")
