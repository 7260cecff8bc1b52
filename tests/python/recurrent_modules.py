"""The torch_ext recurrent modules that the integration tests run over, and small models around them.

Each module is one line of :data:`SEQUENCE_MODULES` or :data:`CELL_MODULES` (a class, with the
constructor options of a variant such as the reset-before GRU); a test parametrized with
:func:`parametrize` runs for every module that ``torch_ext`` has and shows the others as skipped,
so a new module joins every integration test the moment it is exported.
"""

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple, Union

import pytest
import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence

import torch_ext


@dataclass(frozen=True)
class RecurrentModule:
    """A torch_ext module by name (and constructor options), with its ``torch.nn`` namesake where
    there is one."""

    name: str
    reference: Optional[str]  # the torch.nn class of the same parameters and results, if any
    options: Tuple[Tuple[str, Any], ...] = ()  # keyword arguments that make a variant

    @property
    def id(self) -> str:
        return "-".join([self.name, *(f"{key}={value}" for key, value in self.options)])

    @property
    def available(self) -> bool:
        return hasattr(torch_ext, self.name)

    def build(self, *args: Any, **kwargs: Any) -> nn.Module:
        options: Dict[str, Any] = dict(self.options)
        return getattr(torch_ext, self.name)(*args, **options, **kwargs)

    def build_reference(self, *args: Any, **kwargs: Any) -> nn.Module:
        assert self.reference is not None, f"torch.nn has no counterpart of torch_ext.{self.id}"
        return getattr(nn, self.reference)(*args, **dict(self.options), **kwargs)


# Multi-layer modules over whole sequences: (input, state) -> (output, state).
SEQUENCE_MODULES: Tuple[RecurrentModule, ...] = (
    RecurrentModule("LSTM", "LSTM"),
    RecurrentModule("GRU", "GRU"),
    RecurrentModule("GRU", None, (("reset_after", False),)),  # the original GRU: nn has no such form
    RecurrentModule("RNN", "RNN"),
    RecurrentModule("RNN", "RNN", (("nonlinearity", "relu"),)),
    RecurrentModule("LayerNormLSTM", None),
    RecurrentModule("LayerNormGRU", None),
)

# Single-step cells: (input, state) -> state.
CELL_MODULES: Tuple[RecurrentModule, ...] = (
    RecurrentModule("LSTMCell", "LSTMCell"),
    RecurrentModule("GRUCell", "GRUCell"),
    RecurrentModule("GRUCell", None, (("reset_after", False),)),
    RecurrentModule("RNNCell", "RNNCell"),
    RecurrentModule("RNNCell", "RNNCell", (("nonlinearity", "relu"),)),
    RecurrentModule("LayerNormLSTMCell", None),
    RecurrentModule("LayerNormGRUCell", None),
)


def parametrize(modules: Sequence[RecurrentModule], with_reference: bool = False) -> List[Any]:
    """``pytest.param`` per module, skipped while torch_ext lacks it (or, with ``with_reference``,
    while torch.nn has no counterpart to compare with)."""
    params = []
    for module in modules:
        marks = [pytest.mark.skipif(not module.available, reason=f"torch_ext.{module.name} does not exist yet")]
        if with_reference and module.reference is None:
            marks.append(pytest.mark.skip(reason=f"torch.nn has no counterpart of {module.id}"))
        params.append(pytest.param(module, id=module.id, marks=marks))
    return params


# Sizes of the models below: small, so that compiling them stays quick.
VOCABULARY, EMBEDDING, HIDDEN, CLASSES = 13, 4, 3, 2


def state_tensors(state: Union[Tensor, Sequence[Tensor]]) -> List[Tensor]:
    """The tensors of a recurrent state: ``h`` alone, or ``(h, c)``."""
    return [state] if isinstance(state, Tensor) else list(state)


class Tagger(nn.Module):
    """Embedding -> a 2-layer bidirectional batch_first recurrent module -> linear head per step.

    Takes token ids ``(batch, time)``, or a :class:`PackedSequence` of token ids; returns the
    logits (``(batch, time, classes)``, or ``(rows, classes)`` for packed input) and the final
    recurrent state, so that gradients flow through both.
    """

    def __init__(self, module: RecurrentModule, layer_class: Optional[Callable[..., nn.Module]] = None) -> None:
        super().__init__()
        self.embedding = nn.Embedding(VOCABULARY, EMBEDDING)
        build = layer_class or module.build
        self.recurrent = build(EMBEDDING, HIDDEN, num_layers=2, bidirectional=True, batch_first=True)
        self.head = nn.Linear(2 * HIDDEN, CLASSES)

    def forward(self, tokens: Union[Tensor, PackedSequence]) -> Tuple[Tensor, Any]:
        if isinstance(tokens, PackedSequence):
            embedded = PackedSequence(
                self.embedding(tokens.data), tokens.batch_sizes, tokens.sorted_indices, tokens.unsorted_indices
            )
            output, state = self.recurrent(embedded)
            return self.head(output.data), state
        output, state = self.recurrent(self.embedding(tokens))
        return self.head(output), state


class CellTagger(nn.Module):
    """Embedding -> a recurrent cell stepped over time (a Python loop) -> linear head per step."""

    def __init__(self, module: RecurrentModule) -> None:
        super().__init__()
        self.embedding = nn.Embedding(VOCABULARY, EMBEDDING)
        self.cell = module.build(EMBEDDING, HIDDEN)
        self.head = nn.Linear(HIDDEN, CLASSES)

    def forward(self, tokens: Tensor) -> Tuple[Tensor, Any]:
        embedded = self.embedding(tokens)
        state = None
        hidden = []
        for step in range(embedded.shape[1]):
            state = self.cell(embedded[:, step], state)
            hidden.append(state_tensors(state)[0])
        return self.head(torch.stack(hidden, dim=1)), state


def random_tokens(batch: int, time: int, seed: int = 0) -> Tensor:
    return torch.randint(0, VOCABULARY, (batch, time), generator=torch.Generator().manual_seed(seed))


def packed_tokens(lengths: Sequence[int], seed: int = 0) -> PackedSequence:
    """Token ids of the given lengths (in this order, unsorted) as a PackedSequence."""
    generator = torch.Generator().manual_seed(seed)
    sequences = [torch.randint(0, VOCABULARY, (length,), generator=generator) for length in lengths]
    return nn.utils.rnn.pack_sequence(sequences, enforce_sorted=False)


# Names that would betray a recurrent op of ATen's in a graph (aten::lstm, aten::gru_cell, ...).
ATEN_RECURRENT_NAMES = ("lstm", "gru", "rnn")


def call_targets(graph_module: torch.fx.GraphModule) -> Set[str]:
    return {str(node.target) for node in graph_module.graph.nodes if node.op == "call_function"}


def torch_ext_ops(graph_module: torch.fx.GraphModule) -> Set[str]:
    return {target for target in call_targets(graph_module) if target.startswith("torch_ext.")}


def assert_no_aten_recurrent_op(graph_module: torch.fx.GraphModule) -> None:
    aten = [t for t in call_targets(graph_module) if t.startswith("aten.")]
    assert not [t for t in aten if any(name in t for name in ATEN_RECURRENT_NAMES)], aten
