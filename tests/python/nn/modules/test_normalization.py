"""torch_ext.LayerNorm against torch.nn.LayerNorm: construction arguments, parameters and their
initial values, state dicts both ways, repr, forward and backward over shapes (a normalized_shape
of one and two dimensions, widths off the vector width, 0 to 3 leading dimensions), and errors;
and that its forward runs torch_ext's kernel, not ATen's."""

import copy
import pickle
from typing import Any, Dict

import pytest
import torch
from module_parity import assert_close, assert_same_forward_backward, assert_same_parameters, ops_run_by, raised_by
from torch import nn

import torch_ext

CONSTRUCTIONS = [
    ((10,), {}),
    ((17,), dict(eps=1e-3)),
    (([3, 4],), {}),
    (((5, 20),), dict(elementwise_affine=False)),
    ((100,), dict(bias=False)),
    ((8,), dict(elementwise_affine=False, bias=False)),
    ((6,), dict(dtype=torch.float64, device="cpu")),
    ((torch.Size([2, 3]),), dict(eps=0.0)),
]
CONSTRUCTION_IDS = [
    f"{args[0]}-{','.join(f'{k}={v}' for k, v in kwargs.items()) or 'default'}" for args, kwargs in CONSTRUCTIONS
]


def build_pair(args: Any, kwargs: Dict[str, Any]):
    return nn.LayerNorm(*args, **kwargs), torch_ext.LayerNorm(*args, **kwargs)


@pytest.mark.parametrize("args,kwargs", CONSTRUCTIONS, ids=CONSTRUCTION_IDS)
def test_construction_matches_nn(args, kwargs):
    """Attributes, parameter names, shapes, dtypes and initial values (ones, zeros), and repr."""
    reference, ours = build_pair(args, kwargs)
    assert isinstance(ours, nn.LayerNorm)
    for attribute in ("normalized_shape", "eps", "elementwise_affine"):
        assert getattr(ours, attribute) == getattr(reference, attribute)
    assert_same_parameters(ours, reference)
    assert (ours.weight is None, ours.bias is None) == (reference.weight is None, reference.bias is None)
    assert repr(ours) == repr(reference)


@pytest.mark.parametrize("direction", ["nn_to_ours", "ours_to_nn"])
@pytest.mark.parametrize("bias", [True, False])
def test_state_dict_loads_both_ways(direction, bias):
    reference, ours = build_pair(((3, 4),), dict(bias=bias))
    source, target = (reference, ours) if direction == "nn_to_ours" else (ours, reference)
    with torch.no_grad():
        for p in source.parameters():
            p.normal_()
    assert list(source.state_dict()) == list(target.state_dict())
    target.load_state_dict(source.state_dict())  # strict: the same keys
    assert_same_parameters(ours, reference)


# (input shape, normalized_shape): widths 17 and 100 off the vector width, 1000 wide, two dims;
# 0 to 3 leading dimensions, and an empty batch.
SHAPES = [
    ((17,), (17,)),
    ((4, 100), (100,)),
    ((2, 3, 1000), (1000,)),
    ((2, 2, 3, 33), (33,)),
    ((5, 3, 4), (3, 4)),
    ((2, 5, 20), (5, 20)),
    ((0, 8), (8,)),
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(
    "affine", [dict(), dict(bias=False), dict(elementwise_affine=False)], ids=["affine", "no bias", "plain"]
)
@pytest.mark.parametrize("shape,normalized", SHAPES, ids=[f"{s}-{n}" for s, n in SHAPES])
def test_forward_backward_match_nn(shape, normalized, affine, dtype):
    reference, ours = build_pair((normalized,), dict(dtype=dtype, **affine))
    with torch.no_grad():
        for module in (reference, ours):
            for p in module.parameters():
                p.copy_(torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel()), dtype=dtype))

    def make_inputs():
        x = (torch.randn(shape, generator=torch.Generator().manual_seed(1), dtype=dtype) * 2 + 3).requires_grad_()
        return (x,), {"input": x}

    assert_same_forward_backward(ours, reference, make_inputs)


def test_eps_is_used():
    x = torch.randn(4, 6)
    reference, ours = build_pair((6,), dict(eps=0.5))
    assert_close(ours(x), reference(x), "output")
    assert (ours(x) - torch_ext.LayerNorm(6)(x)).abs().max() > 1e-2


def test_runs_torch_ext_kernel_not_atens():
    def make_inputs():
        x = torch.randn(2, 3, 4, requires_grad=True)
        return (x,), {"input": x}

    names = ops_run_by(torch_ext.LayerNorm((3, 4)), make_inputs)
    assert {"torch_ext._layer_norm_forward.default", "torch_ext._layer_norm_backward.default"} <= names, names
    assert not [name for name in names if name.startswith("aten.") and "layer_norm" in name]


ERRORS = {
    "last dim": ((4,), lambda: torch.randn(3, 5)),
    "two dims": ((3, 4), lambda: torch.randn(2, 4, 3)),
    "input too small": ((2, 4), lambda: torch.randn(4)),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_forward_errors_like_nn(case):
    normalized, make_input = ERRORS[case]
    reference, ours = build_pair((normalized,), {})
    x = make_input()
    expected, actual = raised_by(lambda: reference(x)), raised_by(lambda: ours(x))
    assert (type(actual), str(actual)) == (type(expected), str(expected))


@pytest.mark.parametrize(
    "args", [((-1,), {}), (("a",), {}), ((3,), dict(dtype=torch.int64))], ids=["negative", "str", "int dtype"]
)
def test_constructor_errors_like_nn(args):
    positional, kwargs = args
    expected = raised_by(lambda: nn.LayerNorm(*positional, **kwargs))
    actual = raised_by(lambda: torch_ext.LayerNorm(*positional, **kwargs))
    assert (type(actual), str(actual)) == (type(expected), str(expected))


@pytest.mark.parametrize("duplicate", ["deepcopy", "pickle"])
def test_copies_and_float64_conversion(duplicate):
    norm = torch_ext.LayerNorm(5)
    twin = copy.deepcopy(norm) if duplicate == "deepcopy" else pickle.loads(pickle.dumps(norm))
    assert type(twin) is torch_ext.LayerNorm and repr(twin) == repr(norm)
    x = torch.randn(3, 5)
    assert torch.equal(twin(x), norm(x))
    assert twin.double() is twin and twin.weight.dtype == torch.float64
    assert_close(twin(x.double()), nn.LayerNorm(5, dtype=torch.float64)(x.double()), "float64 output")
