"""torch.compile of models built on torch_ext modules: one graph, no graph break, eager's results.

torch.nn's recurrent modules graph-break under torch.compile by design (pytorch#118740); ours are
custom ops with Meta kernels and C++ autograd, so Dynamo captures the whole model and AOT
autograd traces our backward op into the backward graph. The models are tiny (recurrent_modules)
so that compiling stays quick; outputs and every parameter's gradient must match eager within
float32 tolerances (module_parity.TOLERANCES).
"""

import copy
from typing import Any, Callable, Dict, List

import pytest
import torch
from functorch.compile import make_boxed_func
from module_parity import Inputs, assert_same_forward_backward
from recurrent_modules import (
    CELL_MODULES,
    SEQUENCE_MODULES,
    CellTagger,
    RecurrentModule,
    Tagger,
    assert_no_aten_recurrent_op,
    packed_tokens,
    parametrize,
    random_tokens,
    torch_ext_ops,
)
from torch import nn
from torch._dynamo.backends.common import aot_autograd
from torch._dynamo.testing import CompileCounterWithBackend

def tokens_input(batch: int = 3, time: int = 5) -> Callable[[], Inputs]:
    return lambda: ((random_tokens(batch, time),), {})


def assert_compiles_whole_and_matches_eager(
    eager: nn.Module, backend: Any, make_inputs: Callable[[], Inputs], expected_frames: int = 1
) -> CompileCounterWithBackend:
    """Compile a copy of ``eager`` with ``fullgraph=True`` (a graph break raises), check its
    outputs and every gradient against ``eager`` and that Dynamo captured our ops."""
    counter = CompileCounterWithBackend(backend)
    compiled = copy.deepcopy(eager)
    compiled.compile(backend=counter, fullgraph=True)
    assert_same_forward_backward(compiled, eager, make_inputs)
    assert counter.frame_count == expected_frames
    for graph in counter.graphs:
        assert torch_ext_ops(graph), f"no torch_ext op in the captured graph:\n{graph.code}"
    return counter


@pytest.mark.parametrize("backend", ["aot_eager", "inductor"])
@pytest.mark.parametrize("module", parametrize(SEQUENCE_MODULES))
def test_model_compiles_whole_and_matches_eager(module: RecurrentModule, backend: str) -> None:
    torch.manual_seed(0)
    assert_compiles_whole_and_matches_eager(Tagger(module), backend, tokens_input())


@pytest.mark.parametrize("module", parametrize(SEQUENCE_MODULES))
def test_packed_sequence_model_compiles_whole_and_matches_eager(module: RecurrentModule) -> None:
    """A PackedSequence built outside the compiled region (Dynamo skips pack_padded_sequence and
    pack_sequence by design) goes through whole; batch_sizes[0] becomes an unbacked size."""
    torch.manual_seed(0)
    eager = Tagger(module)
    counter = CompileCounterWithBackend("aot_eager")
    compiled = copy.deepcopy(eager)
    compiled.compile(backend=counter, fullgraph=True)
    for lengths in ([2, 5, 3], [4, 1, 6, 4]):
        assert_same_forward_backward(compiled, eager, lambda: ((packed_tokens(lengths),), {}))
    # The second batch may recompile once with dynamic shapes, never break the graph.
    assert 1 <= counter.frame_count <= 2


@pytest.mark.parametrize("module", parametrize(CELL_MODULES))
def test_cell_loop_compiles_whole_and_matches_eager(module: RecurrentModule) -> None:
    torch.manual_seed(0)
    assert_compiles_whole_and_matches_eager(CellTagger(module), "aot_eager", tokens_input(time=3))


@pytest.mark.parametrize("module", parametrize(SEQUENCE_MODULES + CELL_MODULES))
def test_explain_finds_one_graph_and_no_break(module: RecurrentModule) -> None:
    torch.manual_seed(0)
    model = CellTagger(module) if module in CELL_MODULES else Tagger(module)
    explanation = torch._dynamo.explain(model)(random_tokens(3, 5))
    assert (explanation.graph_count, explanation.graph_break_count) == (1, 0), explanation.break_reasons


@pytest.mark.parametrize("module", parametrize(SEQUENCE_MODULES))
def test_aot_autograd_traces_our_forward_and_backward_ops(module: RecurrentModule) -> None:
    """The joint graph holds our forward op and our backward op (the C++ autograd kernel's
    halves), not a decomposition into ATen's recurrent ops or a Python-level backward."""
    graphs: Dict[str, List[torch.fx.GraphModule]] = {"forward": [], "backward": []}

    def recorder(kind: str) -> Callable[..., Any]:
        def compiler(graph_module: torch.fx.GraphModule, example_inputs: List[Any]) -> Any:
            graphs[kind].append(graph_module)
            return make_boxed_func(graph_module.forward)

        return compiler

    torch.manual_seed(0)
    model = Tagger(module)
    compiled = torch.compile(
        model, backend=aot_autograd(fw_compiler=recorder("forward"), bw_compiler=recorder("backward")), fullgraph=True
    )
    logits, _ = compiled(random_tokens(3, 5))
    logits.sum().backward()
    assert [len(graphs["forward"]), len(graphs["backward"])] == [1, 1]
    for kind, (graph,) in graphs.items():
        assert torch_ext_ops(graph), f"no torch_ext op in the {kind} graph:\n{graph.code}"
        assert_no_aten_recurrent_op(graph)
    assert all(p.grad is not None for p in model.parameters())
