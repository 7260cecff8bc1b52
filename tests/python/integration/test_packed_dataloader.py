"""examples/packed_dataloader.py: PackedSequence batches from DataLoader workers train torch_ext.LSTM.

Batches come from two worker processes through the example's collate function; the classifier
trains on them (the loss falls), and on the same packed batch it gives torch.nn.LSTM's logits
and gradients when both hold the same weights.
"""

import torch
from example_scripts import load_example
from module_parity import assert_same_forward_backward
from torch import nn
from torch.nn.utils.rnn import PackedSequence

VOCABULARY, BATCH, WORKERS = 6, 8, 2


def test_workers_deliver_packed_batches_that_train_and_match_torch_nn() -> None:
    example = load_example("packed_dataloader.py")
    dataset = example.VariableLengthSequences(256, 2, 9, VOCABULARY, seed=0)
    loader = example.make_loader(dataset, BATCH, WORKERS, seed=0)
    assert loader.num_workers == WORKERS

    batches = [batch for _, batch in zip(range(3), loader)]
    for packed, labels in batches:
        assert isinstance(packed, PackedSequence) and packed.sorted_indices is not None
        assert packed.data.dtype == torch.int64 and labels.shape == (BATCH,)
        assert int(packed.batch_sizes[0]) == BATCH and packed.data.shape[0] == int(packed.batch_sizes.sum())
    lengths = nn.utils.rnn.pad_packed_sequence(batches[0][0], batch_first=True)[1]
    assert len(set(lengths.tolist())) > 1, "the batch should hold sequences of several lengths"

    torch.manual_seed(0)
    model = example.PackedClassifier(VOCABULARY, embedding=8, hidden=12)
    losses = example.train(model, loader, steps=40, lr=2e-2)
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < 0.7 * first, f"loss {first:.3f} -> {last:.3f}: the model did not train"

    # The trained weights in torch.nn.LSTM: the same logits and gradients on a packed batch.
    reference = example.PackedClassifier(VOCABULARY, embedding=8, hidden=12, lstm_class=nn.LSTM)
    reference.load_state_dict(model.state_dict())
    packed, _ = batches[0]
    assert_same_forward_backward(model, reference, lambda: ((packed,), {}))
