"""Train a torch_ext.LSTM classifier on variable-length sequences fed as PackedSequences.

Each sequence holds 4 to 24 random tokens; its label is its last token. A DataLoader with
worker processes draws the sequences, and its collate function pads them and packs them
into a PackedSequence (lengths unsorted, enforce_sorted=False). The LSTM then stops every
sequence at its own length, so its final state h_n holds each sequence's real last token
rather than padding; guessing scores a cross-entropy of log(vocabulary).

    python examples/packed_dataloader.py [--steps 200] [--workers 2]
"""

import argparse
import time
from typing import Callable, List, Sequence, Tuple

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_sequence
from torch.utils.data import DataLoader, Dataset

import torch_ext


class VariableLengthSequences(Dataset):
    """Seeded token sequences of random lengths in [min_length, max_length], labelled with
    their last token."""

    def __init__(self, size: int, min_length: int, max_length: int, vocabulary: int, seed: int) -> None:
        generator = torch.Generator().manual_seed(seed)
        lengths = torch.randint(min_length, max_length + 1, (size,), generator=generator)
        self.sequences = [torch.randint(0, vocabulary, (int(n),), generator=generator) for n in lengths]

    def __len__(self) -> int:
        return len(self.sequences)

    def __getitem__(self, index: int) -> Tuple[Tensor, Tensor]:
        tokens = self.sequences[index]
        return tokens, tokens[-1]


def collate_packed(batch: Sequence[Tuple[Tensor, Tensor]]) -> Tuple[PackedSequence, Tensor]:
    """Pad a list of (tokens, label) to (batch, longest) and pack it, in the batch's order."""
    sequences, labels = zip(*batch)
    lengths = torch.tensor([len(tokens) for tokens in sequences])
    padded = pad_sequence(list(sequences), batch_first=True)
    packed = pack_padded_sequence(padded, lengths, batch_first=True, enforce_sorted=False)
    return packed, torch.stack(labels)


class PackedClassifier(nn.Module):
    """Embedding -> LSTM over a PackedSequence -> linear head on the last layer's final state.

    ``lstm_class`` is torch_ext.LSTM; torch.nn.LSTM takes the same arguments and state dict.
    """

    def __init__(
        self, vocabulary: int, embedding: int, hidden: int, lstm_class: Callable[..., nn.Module] = torch_ext.LSTM
    ) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocabulary, embedding)
        self.lstm = lstm_class(embedding, hidden)
        self.head = nn.Linear(hidden, vocabulary)

    def forward(self, tokens: PackedSequence) -> Tensor:
        # The embedding reads the packed rows; the PackedSequence keeps its batch_sizes and order.
        embedded = PackedSequence(
            self.embedding(tokens.data), tokens.batch_sizes, tokens.sorted_indices, tokens.unsorted_indices
        )
        _, (h_n, _) = self.lstm(embedded)  # h_n in the batch's original order
        return self.head(h_n[-1])


def make_loader(dataset: Dataset, batch_size: int, workers: int, seed: int) -> DataLoader:
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=True,
        num_workers=workers,
        collate_fn=collate_packed,
        generator=torch.Generator().manual_seed(seed),
        persistent_workers=workers > 0,
    )


def train(model: nn.Module, loader: DataLoader, steps: int, lr: float = 1e-2) -> List[float]:
    """Adam on cross-entropy for ``steps`` batches (cycling the loader); the loss of every step."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses: List[float] = []
    while len(losses) < steps:
        for tokens, labels in loader:
            loss = nn.functional.cross_entropy(model(tokens), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            if len(losses) == steps:
                break
    return losses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--vocabulary", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    train_set = VariableLengthSequences(4096, 4, 24, args.vocabulary, args.seed)
    test_set = VariableLengthSequences(512, 4, 24, args.vocabulary, args.seed + 1)
    torch.manual_seed(args.seed)
    model = PackedClassifier(args.vocabulary, embedding=16, hidden=32)

    start = time.perf_counter()
    losses = train(model, make_loader(train_set, args.batch, args.workers, args.seed), args.steps)
    for step in range(0, args.steps, max(1, args.steps // 8)):
        print(f"step {step + 1:4d}  loss {losses[step]:.4f}")
    model.eval()
    with torch.inference_mode():
        tokens, labels = collate_packed([test_set[i] for i in range(len(test_set))])
        accuracy = (model(tokens).argmax(dim=1) == labels).float().mean().item()
    print(
        f"after {args.steps} steps ({time.perf_counter() - start:.1f} s): loss {losses[-1]:.4f} "
        f"(chance {torch.log(torch.tensor(float(args.vocabulary))):.4f}), test accuracy {accuracy:.1%}"
    )


if __name__ == "__main__":
    main()
