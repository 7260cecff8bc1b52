"""torch_ext/ops.py: every typed wrapper reaches its op and gives the module's results.

The ops themselves are tested in tests/python/ops/; here each wrapper is called with the flat
weights of a module (or the weights of a cell) and must give exactly what the module gives, which
checks the argument order of the wrapper against the op's schema.
"""

from __future__ import annotations

import pytest
import torch
from torch import Tensor
from torch.nn.utils.rnn import pack_padded_sequence

import torch_ext
from torch_ext import ops

L, N, I, H = 5, 3, 4, 6


def _weights(module: torch.nn.Module) -> list[Tensor]:
    return [w for w in module._flat_weights if w is not None]  # type: ignore[attr-defined]


def _packed(x: Tensor):
    return pack_padded_sequence(x, torch.tensor([5, 4, 2]), enforce_sorted=True)


def test_every_public_op_has_a_wrapper() -> None:
    public = {name.split("::")[1].split(".")[0] for name in torch._C._dispatch_get_all_op_names()
              if name.startswith("torch_ext::") and not name.split("::")[1].startswith("_")}
    assert public <= set(ops.__all__), public - set(ops.__all__)
    for name in ops.__all__:
        assert getattr(ops, name).__doc__, name


@pytest.mark.parametrize("kind", ["gru", "gru_reset_before", "rnn_tanh", "rnn_relu"])
def test_single_state_sequence_wrappers(kind: str) -> None:
    torch.manual_seed(0)
    if kind.startswith("gru"):
        module = torch_ext.GRU(I, H, num_layers=2, bidirectional=True, reset_after=kind == "gru")
    else:
        module = torch_ext.RNN(I, H, num_layers=2, bidirectional=True, nonlinearity=kind[4:])
    module.eval()
    x = torch.randn(L, N, I)
    h0 = torch.randn(4, N, H)
    expected, expected_h = module(x, h0)
    out, h = getattr(ops, kind)(x, h0, _weights(module), True, 2, 0.0, False, True, False)
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    torch.testing.assert_close(h, expected_h, rtol=0, atol=0)

    packed = _packed(x)
    expected_packed, expected_h = module(packed, h0)
    data, h = getattr(ops, f"{kind}_packed")(packed.data, packed.batch_sizes, h0, _weights(module), True, 2, 0.0,
                                             False, True)
    torch.testing.assert_close(data, expected_packed.data, rtol=0, atol=0)
    torch.testing.assert_close(h, expected_h, rtol=0, atol=0)


@pytest.mark.parametrize("kind", ["gru", "gru_reset_before", "rnn_tanh", "rnn_relu"])
def test_single_state_cell_wrappers(kind: str) -> None:
    torch.manual_seed(0)
    if kind.startswith("gru"):
        cell = torch_ext.GRUCell(I, H, reset_after=kind == "gru")
    else:
        cell = torch_ext.RNNCell(I, H, nonlinearity=kind[4:])
    x, h0 = torch.randn(N, I), torch.randn(N, H)
    h = getattr(ops, f"{kind}_cell")(x, h0, cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
    torch.testing.assert_close(h, cell(x, h0), rtol=0, atol=0)


def test_layer_wrappers_match_the_sequence_ops() -> None:
    torch.manual_seed(0)
    x = torch.randn(L, N, I)
    h0 = torch.randn(2, N, H)
    gru = torch_ext.GRU(I, H, bidirectional=True)
    out, h = ops.gru_layer(x, None, h0, _weights(gru), True, True)
    expected, expected_h = ops.gru(x, h0, _weights(gru), True, 1, 0.0, False, True, False)
    torch.testing.assert_close((out, h), (expected, expected_h), rtol=0, atol=0)

    rnn = torch_ext.RNN(I, H, bidirectional=True, nonlinearity="relu")
    out, h = ops.rnn_layer(x, None, h0, _weights(rnn), True, True, "relu")
    expected, expected_h = ops.rnn_relu(x, h0, _weights(rnn), True, 1, 0.0, False, True, False)
    torch.testing.assert_close((out, h), (expected, expected_h), rtol=0, atol=0)


def test_layer_norm_wrapper() -> None:
    x = torch.randn(3, 4, 5)
    weight, bias = torch.randn(4, 5), torch.randn(4, 5)
    torch.testing.assert_close(ops.layer_norm(x, (4, 5), weight, bias, 1e-3),
                               torch.layer_norm(x, (4, 5), weight, bias, 1e-3))


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_layer_norm_rnn_wrappers(kind: str) -> None:
    torch.manual_seed(0)
    eps = 1e-3
    module = (torch_ext.LayerNormLSTM if kind == "lstm" else torch_ext.LayerNormGRU)(
        I, H, num_layers=2, bidirectional=True, eps=eps).eval()
    x = torch.randn(L, N, I)
    h0, c0 = torch.randn(4, N, H), torch.randn(4, N, H)
    hx = (h0, c0) if kind == "lstm" else h0
    run = getattr(ops, f"layer_norm_{kind}")
    run_packed = getattr(ops, f"layer_norm_{kind}_packed")
    expected = module(x, hx)
    got = run(x, hx, _weights(module), True, 2, 0.0, False, True, False, eps)
    torch.testing.assert_close(got[0], expected[0], rtol=0, atol=0)
    torch.testing.assert_close(got[1:], tuple(expected[1]) if kind == "lstm" else (expected[1],), rtol=0, atol=0)

    packed = _packed(x)
    expected = module(packed, hx)
    got = run_packed(packed.data, packed.batch_sizes, hx, _weights(module), True, 2, 0.0, False, True, eps)
    torch.testing.assert_close(got[0], expected[0].data, rtol=0, atol=0)

    layer = (torch_ext.LayerNormLSTM if kind == "lstm" else torch_ext.LayerNormGRU)(
        I, H, bidirectional=True, eps=eps)
    state = (h0[:2], c0[:2]) if kind == "lstm" else h0[:2]
    expected = layer(x, state)
    if kind == "lstm":
        got = ops.layer_norm_lstm_layer(x, None, h0[:2], c0[:2], _weights(layer), True, True, eps)
        torch.testing.assert_close(got, (expected[0], *expected[1]), rtol=0, atol=0)
    else:
        got = ops.layer_norm_gru_layer(x, None, h0[:2], _weights(layer), True, True, eps)
        torch.testing.assert_close(got, expected, rtol=0, atol=0)

    cell = (torch_ext.LayerNormLSTMCell if kind == "lstm" else torch_ext.LayerNormGRUCell)(I, H, eps=eps)
    params = [p for p in cell._parameters.values() if p is not None]
    xs = torch.randn(N, I)
    if kind == "lstm":
        got = ops.layer_norm_lstm_cell(xs, (h0[0], c0[0]), params, True, eps)
        torch.testing.assert_close(got, cell(xs, (h0[0], c0[0])), rtol=0, atol=0)
    else:
        torch.testing.assert_close(ops.layer_norm_gru_cell(xs, h0[0], params, True, eps), cell(xs, h0[0]),
                                   rtol=0, atol=0)
