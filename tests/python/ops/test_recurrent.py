"""csrc/ops/recurrent.cpp: what the layer ops of every recurrent module share.

gradient_rows: an output gradient whose rows are all one row (sum()'s and mean()'s, expanded
from a scalar, or a row expanded over the steps and the batch) reaches the backward kernels as
that row, read again for every row, instead of a contiguous copy of the whole output. The
gradients must be bitwise those of the same values made contiguous.
"""

from typing import Callable, List

import pytest
import torch
from torch import Tensor
from torch.nn.utils.rnn import pack_padded_sequence

from recurrent_modules import SEQUENCE_MODULES, RecurrentModule, parametrize

T, B, I, H = 6, 5, 7, 12
LENGTHS = torch.tensor([6, 6, 4, 3, 1])


def _gradients(module: torch.nn.Module, x: Tensor, packed: bool, output_grad: Callable[[Tensor], Tensor]) -> List[Tensor]:
    module.zero_grad()
    leaf = x.clone().requires_grad_()
    inputs = pack_padded_sequence(leaf, LENGTHS) if packed else leaf
    output, _ = module(inputs)
    output = output.data if packed else output
    torch.autograd.backward(output, output_grad(output))
    return [leaf.grad] + [p.grad for p in module.parameters()]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
@pytest.mark.parametrize("bidirectional,packed", [(False, False), (True, False), (True, True)])
@pytest.mark.parametrize("recurrent", parametrize(SEQUENCE_MODULES))
def test_broadcast_output_gradients_give_the_gradients_of_their_copies(recurrent: RecurrentModule,
                                                                      bidirectional: bool, packed: bool,
                                                                      dtype: torch.dtype) -> None:
    torch.manual_seed(7)
    module = recurrent.build(I, H, num_layers=2, bidirectional=bidirectional).to(dtype)
    x = torch.randn(T, B, I).to(dtype)
    width = H * (2 if bidirectional else 1)
    row = torch.randn(width).to(dtype)
    scalar = torch.tensor(0.37).to(dtype)
    broadcasts = {
        "scalar": lambda output: scalar.expand(output.shape),  # sum() (times a weight), mean()
        "row": lambda output: row.expand(output.shape),  # the same weight for every step and sample
    }
    for name, broadcast in broadcasts.items():
        expected = _gradients(module, x, packed, lambda output: broadcast(output).contiguous())
        actual = _gradients(module, x, packed, broadcast)
        for a, e in zip(actual, expected):
            assert a.dtype == e.dtype == dtype
            assert torch.equal(a, e), name


def test_an_expanded_gradient_of_other_strides_is_still_read_right() -> None:
    """A gradient whose rows differ though one of its strides is 0 (a column expanded over the
    features, a slice of a wider tensor) is made contiguous, not read as one row."""
    torch.manual_seed(8)
    module = SEQUENCE_MODULES[0].build(I, H)
    x = torch.randn(T, B, I)
    per_sample = torch.randn(T, B, 1)
    wide = torch.randn(T, B, 2 * H)
    for grad in (per_sample.expand(T, B, H), wide[..., ::2], torch.randn(B, H).expand(T, B, H)):
        expected = _gradients(module, x, False, lambda output: grad.contiguous())
        actual = _gradients(module, x, False, lambda output: grad)
        for a, e in zip(actual, expected):
            assert torch.equal(a, e)


def test_one_row_gradients_from_an_offset_or_of_one_step_and_sample() -> None:
    """A row expanded from the middle of a tensor (a storage offset), and the gradient of a
    one-step, one-sample output (every leading size 1, whatever its strides)."""
    torch.manual_seed(9)
    module = SEQUENCE_MODULES[0].build(I, H)
    rows = torch.randn(3, H)
    x = torch.randn(T, B, I)
    expected = _gradients(module, x, False, lambda output: rows[1].expand(T, B, H).contiguous())
    actual = _gradients(module, x, False, lambda output: rows[1].expand(T, B, H))
    for a, e in zip(actual, expected):
        assert torch.equal(a, e)
    single = torch.randn(1, 1, I)
    wide = torch.randn(2, 3, 2 * H)
    expected = _gradients(module, single, False, lambda output: wide[1:2, 2:3, ::2].contiguous())
    actual = _gradients(module, single, False, lambda output: wide[1:2, 2:3, ::2])
    for a, e in zip(actual, expected):
        assert torch.equal(a, e)
