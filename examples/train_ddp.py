"""Train torch_ext.LSTM with DistributedDataParallel over the gloo backend, on CPU.

The task: read a sequence of random tokens and name its first token. The model has to carry that
token across the whole sequence; guessing scores a cross-entropy of log(vocabulary). Every global
batch is split across the processes (DistributedSampler); each process runs forward and backward
on its share, DDP averages the gradients, and every process takes the same Adam step that one
process would take on the whole global batch. Rank 0 prints the loss over the global batch.

    torchrun --nproc_per_node=2 --master_addr=127.0.0.1 --master_port=29500 examples/train_ddp.py [--steps 500]

With --save-gradients DIR each process writes the indices of its first local batch and the
averaged gradients of that step to DIR/rank<r>.pt (the test compares them with one process).
"""

import argparse
import os
import time
from datetime import timedelta
from pathlib import Path
from typing import List, Optional, Tuple

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler

import torch_ext


class FirstToken(Dataset):
    """Seeded sequences of random tokens, each labelled with its first token."""

    def __init__(self, size: int, length: int, vocabulary: int, seed: int) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.tokens = torch.randint(0, vocabulary, (size, length), generator=generator)
        self.labels = self.tokens[:, 0].clone()

    def __len__(self) -> int:
        return self.tokens.shape[0]

    def __getitem__(self, index: int) -> Tuple[Tensor, Tensor]:
        return self.tokens[index], self.labels[index]


class Classifier(nn.Module):
    """Embedding -> torch_ext.LSTM (batch_first) -> linear head on the last layer's final state."""

    def __init__(self, vocabulary: int, embedding: int, hidden: int, num_layers: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocabulary, embedding)
        self.lstm = torch_ext.LSTM(embedding, hidden, num_layers=num_layers, batch_first=True)
        self.head = nn.Linear(hidden, vocabulary)

    def forward(self, tokens: Tensor) -> Tensor:
        _, (h_n, _) = self.lstm(self.embedding(tokens))
        return self.head(h_n[-1])


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--global-batch", type=int, default=64, help="sequences per step over all processes")
    parser.add_argument("--length", type=int, default=12)
    parser.add_argument("--vocabulary", type=int, default=8)
    parser.add_argument("--embedding", type=int, default=16)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--dataset-size", type=int, default=8192)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save-gradients", type=Path, default=None, metavar="DIR")
    return parser.parse_args(argv)


def build_dataset(args: argparse.Namespace) -> FirstToken:
    return FirstToken(args.dataset_size, args.length, args.vocabulary, args.seed)


def build_model(args: argparse.Namespace) -> Classifier:
    """The same initial weights in every process (DDP also broadcasts rank 0's at the start)."""
    torch.manual_seed(args.seed)
    return Classifier(args.vocabulary, args.embedding, args.hidden, args.layers)


def loss_function(logits: Tensor, labels: Tensor) -> Tensor:
    """Mean over the batch: with equal shares, DDP's average of the per-process means is the
    mean over the global batch."""
    return nn.functional.cross_entropy(logits, labels)


def save_gradients(directory: Path, rank: int, indices: List[int], model: nn.Module) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    gradients = {name: p.grad.detach().clone() for name, p in model.named_parameters()}
    torch.save({"indices": indices, "gradients": gradients}, directory / f"rank{rank}.pt")


def main() -> None:
    args = parse_args()
    # The problem is small and several processes share the cores: one thread each.
    torch.set_num_threads(1)
    dist.init_process_group("gloo", timeout=timedelta(seconds=60))
    rank, world_size = dist.get_rank(), dist.get_world_size()
    if args.global_batch % world_size != 0:
        raise ValueError(f"--global-batch {args.global_batch} does not split over {world_size} processes")
    local_batch = args.global_batch // world_size

    dataset = build_dataset(args)
    sampler = DistributedSampler(dataset, shuffle=True, seed=args.seed, drop_last=True)
    loader = DataLoader(dataset, batch_size=local_batch, sampler=sampler, drop_last=True)
    model = DistributedDataParallel(build_model(args))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)

    start = time.perf_counter()
    step, epoch = 0, 0
    while step < args.steps:
        sampler.set_epoch(epoch)
        for tokens, labels in loader:
            loss = loss_function(model(tokens), labels)
            optimizer.zero_grad()
            loss.backward()  # DDP all-reduces (averages) the gradients here
            if args.save_gradients is not None and step == 0:
                save_gradients(args.save_gradients, rank, list(sampler)[:local_batch], model.module)
            optimizer.step()
            step += 1
            global_loss = loss.detach().clone()
            dist.all_reduce(global_loss)
            if rank == 0 and (step % 25 == 0 or step in (1, args.steps)):
                print(f"step {step:4d}  loss {global_loss.item() / world_size:.4f}", flush=True)
            if step == args.steps:
                break
        epoch += 1
    if rank == 0:
        print(
            f"{world_size} processes, {step} steps of {args.global_batch} sequences in "
            f"{time.perf_counter() - start:.1f} s (chance: loss {torch.log(torch.tensor(args.vocabulary)):.4f})",
            flush=True,
        )
    # Both processes reach the teardown together: one that tears gloo down while its peer still
    # works on the last step's collectives can die in gloo's threads (seen once in CI as
    # "terminate called without an active exception" in rank 1, after rank 0's last print).
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    # Under torchrun these are set; say so clearly when the script is started by hand.
    if "RANK" not in os.environ:
        raise SystemExit("start me with torchrun, e.g.: torchrun --nproc_per_node=2 examples/train_ddp.py")
    main()
