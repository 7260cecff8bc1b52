"""Shared helpers for the recurrent-op tests: parameter lists in ATen's flat layout, and
comparisons of outputs and gradients against a reference."""

from typing import Callable, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

# float32 results of our kernels and ATen's differ only by rounding order.
TOLERANCES = {torch.float32: dict(atol=1e-5, rtol=1e-5), torch.float64: dict(atol=1e-10, rtol=1e-10)}


def lstm_flat_params(
    input_size: int,
    hidden_size: int,
    num_layers: int = 1,
    bias: bool = True,
    bidirectional: bool = False,
    proj_size: int = 0,
    dtype: torch.dtype = torch.float64,
    requires_grad: bool = True,
) -> List[Tensor]:
    """Random parameters in nn.LSTM's _flat_weights order, drawn as nn.LSTM initialises them."""
    module = torch.nn.LSTM(
        input_size, hidden_size, num_layers, bias=bias, bidirectional=bidirectional, proj_size=proj_size, dtype=dtype
    )
    return [p.detach().clone().requires_grad_(requires_grad) for p in module._flat_weights]


def assert_close_all(actual: Sequence[Optional[Tensor]], expected: Sequence[Optional[Tensor]], what: str) -> None:
    assert len(actual) == len(expected), f"{what}: {len(actual)} results, expected {len(expected)}"
    for index, (a, e) in enumerate(zip(actual, expected)):
        if e is None:
            assert a is None or bool((a == 0).all()), f"{what}[{index}]: expected no gradient"
            continue
        assert a is not None, f"{what}[{index}]: missing"
        torch.testing.assert_close(a, e, **TOLERANCES[e.dtype], msg=lambda m: f"{what}[{index}]: {m}")


def compare_with_gradients(
    ours: Callable[..., Tuple[Tensor, ...]],
    reference: Callable[..., Tuple[Tensor, ...]],
    inputs: Sequence[Tensor],
    seed: int = 0,
) -> None:
    """Runs both functions on the same inputs, compares every output, then every gradient of a
    random weighted sum of the outputs with respect to every input that requires grad."""
    expected = reference(*inputs)
    actual = ours(*inputs)
    assert_close_all(actual, expected, "output")
    generator = torch.Generator().manual_seed(seed)
    weights = [torch.randn(e.shape, dtype=e.dtype, generator=generator) for e in expected]
    differentiable = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    grads_expected = torch.autograd.grad(expected, differentiable, weights, allow_unused=True)
    grads_actual = torch.autograd.grad(actual, differentiable, weights, allow_unused=True)
    assert_close_all(grads_actual, grads_expected, "gradient")
