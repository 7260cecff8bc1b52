"""torch.ops.torch_ext vanilla RNN operators (csrc/ops/rnn.cpp, csrc/kernels/rnn.cpp): rnn_tanh and
rnn_relu (.input, .data, _cell) against ATen's torch.rnn_tanh / torch.rnn_relu and their cells,
and rnn_layer against the plain-PyTorch recurrence h' = act(W_ih x + b_ih + W_hh h + b_hh). Both
pass every check of recurrent_op_checks; below, what is particular to the vanilla RNN."""

import pytest
import torch

from recurrent_op_checks import RecurrenceOpChecks
from rnn_testing import RNN_RELU, RNN_TANH, compare_with_gradients

ops = torch.ops.torch_ext


class TestRnnTanh(RecurrenceOpChecks):
    family = RNN_TANH


class TestRnnRelu(RecurrenceOpChecks):
    family = RNN_RELU


def _layer_args(device: str = "cpu"):
    params = RNN_TANH.params(3, 4, 1, True, False, torch.float32, requires_grad=False)
    return torch.randn(5, 2, 3, device=device), torch.zeros(1, 2, 4, device=device), [p.to(device) for p in params]


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_rnn_layer_refuses_an_unknown_nonlinearity(device):
    x, h0, params = _layer_args(device)
    message = "torch_ext::rnn_layer: unknown nonlinearity 'sigmoid', expected 'tanh' or 'relu'"
    with pytest.raises(RuntimeError, match=message):
        ops.rnn_layer(x, None, h0, params, True, False, "sigmoid")


def test_backward_half_refuses_an_unknown_nonlinearity():
    x, h0, params = _layer_args()
    output, _ = ops.rnn_layer(x, None, h0, params, True, False, "tanh")
    message = "torch_ext::_rnn_layer_backward: unknown nonlinearity 'Tanh', expected 'tanh' or 'relu'"
    with pytest.raises(RuntimeError, match=message):
        ops._rnn_layer_backward(torch.ones_like(output), None, x, None, h0, params, True, False, "Tanh", output, True)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_relu_with_many_dead_units_matches_aten(dtype):
    """relu' = [h > 0] read from the output: units at zero pass no gradient, as in ATen."""
    torch.manual_seed(30)
    params = RNN_RELU.params(4, 16, 2, True, True, dtype)
    with torch.no_grad():
        for bias in params[2::4]:  # bias_ih of every layer and direction
            bias -= 0.1  # about half the units end at zero
    x = torch.randn(6, 3, 4, dtype=dtype, requires_grad=True)
    h0 = torch.randn(4, 3, 16, dtype=dtype).relu().requires_grad_()
    args = (True, 2, 0.0, False, True, False)
    output, _ = RNN_RELU.sequence(x, h0, params, *args)
    dead = float((output == 0).double().mean())
    assert 0.2 < dead < 0.8, dead
    compare_with_gradients(
        lambda x, h0, *p: RNN_RELU.sequence(x, h0, list(p), *args),
        lambda x, h0, *p: torch.rnn_relu(x, h0, list(p), *args),
        [x, h0, *params],
    )


def test_the_two_biases_get_equal_gradients_in_separate_tensors():
    """b_ih and b_hh enter as one sum: their gradients are equal, but each accumulates on its own."""
    torch.manual_seed(31)
    params = RNN_TANH.params(3, 4, 1, True, True)
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    h0 = torch.zeros(2, 2, 4, dtype=torch.float64)
    for _ in range(2):
        output, hy = RNN_TANH.sequence(x, h0, params, True, 1, 0.0, True, True, False)
        (output.sum() + hy.sum()).backward()
    aten = torch.rnn_tanh(x, h0, params, True, 1, 0.0, True, True, False)
    expected = torch.autograd.grad(aten[0].sum() + aten[1].sum(), params)
    for index in (2, 3, 6, 7):  # bias_ih_l0, bias_hh_l0, and the reverse direction's
        torch.testing.assert_close(params[index].grad, 2 * expected[index])
    assert params[2].grad.data_ptr() != params[3].grad.data_ptr()
