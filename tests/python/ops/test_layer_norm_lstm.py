"""torch.ops.torch_ext layer-normalised LSTM operators (csrc/ops/layer_norm_lstm.cpp,
csrc/kernels/layer_norm_lstm.cpp) against the plain-PyTorch reference of layer_norm_rnn_testing:

    gates = LN(x W_ih^T; ln_ih) + b_ih + LN(h W_hh^T; ln_hh) + b_hh      (i, f, g, o)
    c' = sigmoid(f) c + sigmoid(i) tanh(g)       h' = sigmoid(o) tanh(LN(c'; ln_cell))

It passes every check of layer_norm_rnn_op_checks; below, what is particular to the LSTM: two
states, and what the layer's forward half saves."""

import pytest
import torch

from layer_norm_rnn_op_checks import LayerNormOpChecks
from layer_norm_rnn_testing import EPS, LAYER_NORM_LSTM, plain_layer_norm

ops = torch.ops.torch_ext


class TestLayerNormLstm(LayerNormOpChecks):
    family = LAYER_NORM_LSTM


def _normalized(a: torch.Tensor) -> torch.Tensor:
    return plain_layer_norm(a, torch.ones(a.shape[-1], dtype=a.dtype), torch.zeros(a.shape[-1], dtype=a.dtype), EPS)


def test_forward_half_saves_normalized_products_gates_cells_and_rstd():
    """_layer_norm_lstm_layer_forward saves gates [D, 2, N, 4H] (the normalised x W_ih^T and
    h W_hh^T before their gains: the backward forms i, f, g, o again from them), cells [D, 2, N, H]
    (c' and its normalised form) and rstd [D, N, 3] (1 / sqrt(var + eps) of the two products and
    of c')."""
    torch.manual_seed(0)
    I, H, B = 3, 4, 2
    params = LAYER_NORM_LSTM.params(I, H, requires_grad=False)
    w_ih, w_hh, b_ih, b_hh, ln_ih_w, ln_ih_b, ln_hh_w, ln_hh_b, ln_c_w, ln_c_b = params
    x = torch.randn(1, B, I, dtype=torch.float64)
    h0, c0 = torch.randn(1, B, H, dtype=torch.float64), torch.randn(1, B, H, dtype=torch.float64)
    output, hy, cy, gates, cells, rstd = ops._layer_norm_lstm_layer_forward(x, None, h0, c0, params, True, False, EPS)
    assert (gates.shape, cells.shape, rstd.shape) == ((1, 2, B, 4 * H), (1, 2, B, H), (1, B, 3))
    x_products, h_products = x[0] @ w_ih.t(), h0[0] @ w_hh.t()
    pre = _normalized(x_products) * ln_ih_w + ln_ih_b + b_ih + _normalized(h_products) * ln_hh_w + ln_hh_b + b_hh
    i, f, g, o = pre.chunk(4, dim=1)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    c = f * c0[0] + i * g
    c_hat = _normalized(c)
    torch.testing.assert_close(gates[0, 0], _normalized(x_products))
    torch.testing.assert_close(gates[0, 1], _normalized(h_products))
    torch.testing.assert_close(cells[0], torch.stack([c, c_hat]))
    rstd_of = lambda a: 1 / torch.sqrt(a.var(-1, unbiased=False) + EPS)  # noqa: E731
    torch.testing.assert_close(rstd[0], torch.stack([rstd_of(x_products), rstd_of(h_products), rstd_of(c)], dim=1))
    torch.testing.assert_close(output[0], o * torch.tanh(c_hat * ln_c_w + ln_c_b))
    torch.testing.assert_close((hy, cy), (output, c.unsqueeze(0)))


@pytest.mark.parametrize("count", [1, 3])
def test_state_must_be_h_and_c(count):
    params = LAYER_NORM_LSTM.params(3, 4, requires_grad=False)
    states = [torch.zeros(1, 2, 4, dtype=torch.float64)] * count
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    message = f"torch_ext::layer_norm_lstm: expects two hidden states \\(h_0, c_0\\), got {count}"
    with pytest.raises(RuntimeError, match=message):
        ops.layer_norm_lstm.input(x, states, params, True, 1, 0.0, False, False, False)
    with pytest.raises(RuntimeError, match=f"expects two hidden states \\(h, c\\), got {count}"):
        ops.layer_norm_lstm_cell(torch.randn(2, 3, dtype=torch.float64), [s[0] for s in states], params)


def test_cell_state_is_carried_unnormalized():
    """c_n is c' itself (the layer norm only feeds h'): from c_0 = 0 with the input gate shut, c
    stays exactly 0 while h' = sigmoid(o) tanh(ln_cell_bias)."""
    torch.manual_seed(1)
    params = LAYER_NORM_LSTM.params(3, 4, requires_grad=False)
    H = 4
    with torch.no_grad():
        params[2][:H] = -1e4  # b_ih of the input gate: i = 0
    x = torch.randn(3, 2, 3, dtype=torch.float64)
    zeros = [torch.zeros(1, 2, H, dtype=torch.float64)] * 2
    args = (True, 1, 0.0, False, False, False)
    output, h_n, c_n = ops.layer_norm_lstm.input(x, zeros, params, *args)
    assert not c_n.any()
    expected_h = LAYER_NORM_LSTM.reference_input(x, zeros, params, *args)[0]
    torch.testing.assert_close(output, expected_h)
    ln_cell_bias = params[-1]
    assert torch.allclose(output.abs(), output.abs().clamp(max=float(torch.tanh(ln_cell_bias.abs()).max())))
