"""torch.ops.torch_ext layer-normalised GRU operators (csrc/ops/layer_norm_gru.cpp,
csrc/kernels/layer_norm_gru.cpp) against the plain-PyTorch reference of layer_norm_rnn_testing:

    gi = LN(x W_ih^T; ln_ih) + b_ih      gh = LN(h W_hh^T; ln_hh) + b_hh      (r, z, n)
    r = sigmoid(gi_r + gh_r)   z = sigmoid(gi_z + gh_z)   n = tanh(gi_n + r gh_n)
    h' = (1 - z) n + z h

It passes every check of layer_norm_rnn_op_checks; below, what is particular to the GRU."""

import torch

from layer_norm_rnn_op_checks import LayerNormOpChecks
from layer_norm_rnn_testing import EPS, LAYER_NORM_GRU, plain_layer_norm

ops = torch.ops.torch_ext


class TestLayerNormGru(LayerNormOpChecks):
    family = LAYER_NORM_GRU


def test_forward_half_saves_normalized_products_gates_and_rstd():
    """_layer_norm_gru_layer_forward saves gates [D, 2, N, 3H] (the normalised x W_ih^T and
    h W_hh^T before their gains: the backward forms r, z, n again from them) and rstd [D, N, 2]."""
    torch.manual_seed(0)
    I, H, B = 3, 4, 2
    params = LAYER_NORM_GRU.params(I, H, requires_grad=False)
    w_ih, w_hh, b_ih, b_hh, ln_ih_w, ln_ih_b, ln_hh_w, ln_hh_b = params
    x = torch.randn(1, B, I, dtype=torch.float64)
    h0 = torch.randn(1, B, H, dtype=torch.float64)
    output, hy, gates, rstd = ops._layer_norm_gru_layer_forward(x, None, h0, params, True, False, EPS)
    assert (gates.shape, rstd.shape) == ((1, 2, B, 3 * H), (1, B, 2))
    ones, zeros = torch.ones(3 * H, dtype=torch.float64), torch.zeros(3 * H, dtype=torch.float64)
    x_hat = plain_layer_norm(x[0] @ w_ih.t(), ones, zeros, EPS)
    h_hat = plain_layer_norm(h0[0] @ w_hh.t(), ones, zeros, EPS)
    gi_r, gi_z, gi_n = (x_hat * ln_ih_w + ln_ih_b + b_ih).chunk(3, dim=1)
    gh_r, gh_z, gh_n = (h_hat * ln_hh_w + ln_hh_b + b_hh).chunk(3, dim=1)
    r, z = torch.sigmoid(gi_r + gh_r), torch.sigmoid(gi_z + gh_z)
    n = torch.tanh(gi_n + r * gh_n)
    torch.testing.assert_close(gates[0], torch.stack([x_hat, h_hat]))
    rstd_of = lambda a: 1 / torch.sqrt(a.var(-1, unbiased=False) + EPS)  # noqa: E731
    torch.testing.assert_close(rstd[0], torch.stack([rstd_of(x[0] @ w_ih.t()), rstd_of(h0[0] @ w_hh.t())], dim=1))
    torch.testing.assert_close(output[0], (1 - z) * n + z * h0[0])
    torch.testing.assert_close(hy, output)


def test_reset_gate_scales_the_normalized_hidden_product_with_its_bias():
    """PyTorch's form: r multiplies gh_n = LN(h W_hn^T) + b_hn as a whole. From h = 0 the hidden
    product is zero, LN(0) = 0, so gh = ln_hh_bias + b_hh and changing b_hn moves n by r."""
    torch.manual_seed(1)
    params = LAYER_NORM_GRU.params(3, 4, requires_grad=False)
    x = torch.randn(1, 2, 3, dtype=torch.float64)
    h0 = torch.zeros(1, 2, 4, dtype=torch.float64)
    expected = LAYER_NORM_GRU.reference_input(x, [h0], params, True, 1, 0.0, False, False, False)
    actual = ops.layer_norm_gru.input(x, h0, params, True, 1, 0.0, False, False, False)
    torch.testing.assert_close(actual, expected)
