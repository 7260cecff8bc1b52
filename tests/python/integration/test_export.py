"""torch.export of models built on torch_ext modules, in eval mode.

The exported program keeps our ops (they are not decomposed into aten::lstm and friends, also
after lowering to core ATen), runs like eager for other batch sizes and lengths (dynamic
dimensions), and survives torch.export.save / torch.export.load.
"""

import io

import pytest
import torch
from module_parity import assert_close
from recurrent_modules import (
    SEQUENCE_MODULES,
    RecurrentModule,
    Tagger,
    assert_no_aten_recurrent_op,
    packed_tokens,
    parametrize,
    random_tokens,
    torch_ext_ops,
)
from torch import Tensor, nn
from torch.export import Dim, ExportedProgram
from torch.nn.utils.rnn import PackedSequence
from torch.utils._pytree import tree_leaves

# (batch, time) of the example input, and of the inputs the exported program must also take.
EXAMPLE_SHAPE = (2, 5)
OTHER_SHAPES = [(3, 7), (1, 2)]


def assert_same_results(actual: object, expected: object, what: str) -> None:
    actual_leaves, expected_leaves = tree_leaves(actual), tree_leaves(expected)
    assert len(actual_leaves) == len(expected_leaves), what
    for index, (a, e) in enumerate(zip(actual_leaves, expected_leaves)):
        assert_close(a, e, f"{what}[{index}]")


def assert_keeps_our_ops(program: ExportedProgram) -> None:
    assert torch_ext_ops(program.graph_module), f"no torch_ext op in:\n{program.graph_module.code}"
    assert_no_aten_recurrent_op(program.graph_module)


def export_tagger(module: RecurrentModule) -> tuple[nn.Module, ExportedProgram]:
    torch.manual_seed(0)
    model = Tagger(module).eval()
    dynamic = {"tokens": {0: Dim("batch", min=1, max=64), 1: Dim("time", min=2, max=256)}}
    return model, torch.export.export(model, (random_tokens(*EXAMPLE_SHAPE),), dynamic_shapes=dynamic)


def assert_runs_like(program: ExportedProgram, model: nn.Module) -> None:
    runnable = program.module()
    with torch.no_grad():
        for seed, shape in enumerate([EXAMPLE_SHAPE, *OTHER_SHAPES]):
            tokens = random_tokens(*shape, seed=seed)
            assert_same_results(runnable(tokens), model(tokens), f"shape {shape}")


@pytest.mark.parametrize("module", parametrize(SEQUENCE_MODULES))
def test_exported_program_keeps_our_ops_and_matches_eager(module: RecurrentModule) -> None:
    model, program = export_tagger(module)
    assert_keeps_our_ops(program)
    assert_runs_like(program, model)
    lowered = program.run_decompositions()  # core ATen: our ops are leaves, not decomposed
    assert_keeps_our_ops(lowered)
    assert_runs_like(lowered, model)


@pytest.mark.parametrize("module", parametrize(SEQUENCE_MODULES))
def test_exported_program_saves_and_loads(module: RecurrentModule) -> None:
    model, program = export_tagger(module)
    buffer = io.BytesIO()
    torch.export.save(program, buffer)
    buffer.seek(0)
    loaded = torch.export.load(buffer)
    assert_keeps_our_ops(loaded)
    assert_runs_like(loaded, model)


class PackedTagger(nn.Module):
    """A Tagger whose inputs are a PackedSequence's four tensors (export takes tensors; the
    PackedSequence is built inside)."""

    def __init__(self, tagger: nn.Module) -> None:
        super().__init__()
        self.tagger = tagger

    def forward(self, data: Tensor, batch_sizes: Tensor, sorted_indices: Tensor, unsorted_indices: Tensor) -> object:
        return self.tagger(PackedSequence(data, batch_sizes, sorted_indices, unsorted_indices))


PACKED_DYNAMIC_SHAPES = ({0: Dim("rows", min=2)}, {0: Dim("time", min=2)}, {0: Dim("batch", min=2)}, {0: Dim("batch", min=2)})


def export_packed_tagger(module: RecurrentModule, strict: bool) -> tuple[nn.Module, ExportedProgram]:
    torch.manual_seed(0)
    model = Tagger(module).eval()
    example = tuple(packed_tokens([2, 5, 3]))
    return model, torch.export.export(PackedTagger(model), example, dynamic_shapes=PACKED_DYNAMIC_SHAPES, strict=strict)


def assert_packed_runs_like(program: ExportedProgram, model: nn.Module) -> None:
    runnable = program.module()
    with torch.no_grad():
        for lengths in ([2, 5, 3], [4, 1, 6, 4], [3, 3]):
            packed = packed_tokens(lengths, seed=len(lengths))
            assert_same_results(runnable(*packed), model(packed), f"lengths {lengths}")


@pytest.mark.parametrize("module", parametrize(SEQUENCE_MODULES))
def test_packed_sequence_exports_strict(module: RecurrentModule) -> None:
    """Strict export (Dynamo) turns batch_sizes[0] into an unbacked size: the program takes
    packed batches of any size."""
    model, program = export_packed_tagger(module, strict=True)
    assert_keeps_our_ops(program)
    assert_packed_runs_like(program, model)


def test_packed_sequence_exports_non_strict() -> None:
    model, program = export_packed_tagger(SEQUENCE_MODULES[0], strict=False)
    assert_packed_runs_like(program, model)
