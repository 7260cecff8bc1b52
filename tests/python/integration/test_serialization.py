"""torch_ext modules survive copies, pickling, torch.save/torch.load and dtype conversions.

Every check runs the module before and after on the same input: copies and round trips give
identical results (torch.equal); a float64 conversion agrees with float32 within float32
tolerances and converts back exactly.
"""

import copy
import io
import pickle
from pathlib import Path
from typing import Any, Callable, List

import pytest
import torch
from module_parity import Inputs, assert_close, assert_same_forward_backward, assert_same_parameters
from recurrent_modules import CELL_MODULES, SEQUENCE_MODULES, RecurrentModule, parametrize
from torch import Tensor, nn
from torch.utils._pytree import tree_leaves

INPUT_SIZE, HIDDEN_SIZE, BATCH, TIME = 4, 3, 3, 5
ALL_MODULES = SEQUENCE_MODULES + CELL_MODULES


def constructor_args(module: RecurrentModule) -> tuple[tuple[Any, ...], dict[str, Any]]:
    if module in CELL_MODULES:
        return (INPUT_SIZE, HIDDEN_SIZE), {}
    return (INPUT_SIZE, HIDDEN_SIZE), dict(num_layers=2, bidirectional=True, batch_first=True)


def build(module: RecurrentModule, seed: int = 0) -> nn.Module:
    args, kwargs = constructor_args(module)
    torch.manual_seed(seed)
    return module.build(*args, **kwargs)


def build_reference(module: RecurrentModule, seed: int = 0) -> nn.Module:
    args, kwargs = constructor_args(module)
    torch.manual_seed(seed)
    return module.build_reference(*args, **kwargs)


def make_inputs(module: RecurrentModule, dtype: torch.dtype = torch.float32) -> Callable[[], Inputs]:
    shape = (BATCH, INPUT_SIZE) if module in CELL_MODULES else (BATCH, TIME, INPUT_SIZE)

    def make() -> Inputs:
        # Drawn in float32 whatever the dtype, so that float32 and float64 runs see one input.
        x = torch.randn(shape, generator=torch.Generator().manual_seed(3)).to(dtype).requires_grad_()
        return (x,), {"input": x}

    return make


def run(model: nn.Module, module: RecurrentModule, dtype: torch.dtype = torch.float32) -> List[Tensor]:
    (x,), _ = make_inputs(module, dtype)()
    with torch.no_grad():
        return tree_leaves(model(x))


def assert_equal_results(actual: List[Tensor], expected: List[Tensor]) -> None:
    assert len(actual) == len(expected)
    for index, (a, e) in enumerate(zip(actual, expected)):
        assert a.dtype == e.dtype and torch.equal(a, e), f"result {index} differs"


def torch_save_load(model: nn.Module) -> nn.Module:
    buffer = io.BytesIO()
    torch.save(model, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=False)  # a whole module is a pickle: not weights only


DUPLICATES = {
    "deepcopy": copy.deepcopy,
    "pickle": lambda model: pickle.loads(pickle.dumps(model)),
    "torch.save(module)": torch_save_load,
}


@pytest.mark.parametrize("duplicate", list(DUPLICATES))
@pytest.mark.parametrize("module", parametrize(ALL_MODULES))
def test_duplicate_is_independent_and_equal(module: RecurrentModule, duplicate: str) -> None:
    original = build(module)
    twin = DUPLICATES[duplicate](original)
    assert type(twin) is type(original) and repr(twin) == repr(original)
    assert_same_parameters(twin, original)
    assert all(a is not b for a, b in zip(twin.parameters(), original.parameters()))
    assert_equal_results(run(twin, module), run(original, module))
    before = run(original, module)
    with torch.no_grad():
        # A random change: a layer norm over x·W_ihᵀ would cancel a constant shift of W_ih.
        first = next(twin.parameters())
        first.add_(torch.randn(first.shape, generator=torch.Generator().manual_seed(0), dtype=first.dtype))
    changed = run(twin, module)[0]
    assert (changed - before[0]).abs().max() > 1e-3, "the twin should follow its own weights"
    assert_equal_results(run(original, module), before)


@pytest.mark.parametrize("module", parametrize(ALL_MODULES))
def test_state_dict_file_loads_into_a_fresh_module(module: RecurrentModule, tmp_path: Path) -> None:
    source, target = build(module, seed=1), build(module, seed=2)
    path = tmp_path / "state_dict.pt"
    torch.save(source.state_dict(), path)
    target.load_state_dict(torch.load(path))  # weights_only=True: a state_dict is plain tensors
    assert_same_parameters(target, source)
    assert_equal_results(run(target, module), run(source, module))


@pytest.mark.parametrize("direction", ["ours_to_nn", "nn_to_ours"])
@pytest.mark.parametrize("module", parametrize(ALL_MODULES, with_reference=True))
def test_state_dict_file_loads_across_torch_nn(module: RecurrentModule, direction: str, tmp_path: Path) -> None:
    ours, reference = build(module, seed=1), build_reference(module, seed=2)
    source, target = (ours, reference) if direction == "ours_to_nn" else (reference, ours)
    path = tmp_path / "state_dict.pt"
    torch.save(source.state_dict(), path)
    target.load_state_dict(torch.load(path))
    assert_same_parameters(ours, reference)
    assert_same_forward_backward(ours, reference, make_inputs(module))


DOUBLE = {"to(torch.float64)": lambda model: model.to(torch.float64), "double()": lambda model: model.double()}


@pytest.mark.parametrize("convert", list(DOUBLE))
@pytest.mark.parametrize("module", parametrize(ALL_MODULES))
def test_float64_conversion_and_back(module: RecurrentModule, convert: str) -> None:
    model = build(module)
    parameters = {name: p.detach().clone() for name, p in model.named_parameters()}
    float32_results = run(model, module)

    assert DOUBLE[convert](model) is model  # in place, as for any nn.Module
    assert all(p.dtype == torch.float64 for p in model.parameters())
    float64_results = run(model, module, torch.float64)
    assert all(r.dtype == torch.float64 for r in float64_results)
    for index, (actual, expected) in enumerate(zip(float64_results, float32_results)):
        assert_close(actual.float(), expected, f"float64 result {index}")

    model.float()  # float32 -> float64 -> float32 is exact
    for name, p in model.named_parameters():
        assert p.dtype == torch.float32 and torch.equal(p, parameters[name]), name
    assert_equal_results(run(model, module), float32_results)


@pytest.mark.parametrize("module", parametrize(ALL_MODULES, with_reference=True))
def test_float64_module_matches_torch_nn(module: RecurrentModule) -> None:
    ours, reference = build(module).double(), build_reference(module).double()
    assert_same_forward_backward(ours, reference, make_inputs(module, torch.float64))
