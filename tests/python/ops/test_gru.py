"""torch.ops.torch_ext GRU operators (csrc/ops/gru.cpp, csrc/kernels/gru.cpp) in both forms.

PyTorch's form (gru.input, gru.data, gru_cell, gru_layer with reset_after=True) is held to ATen's
torch.gru / torch.gru_cell; the original form (gru_reset_before.*, gru_layer with
reset_after=False), which ATen lacks, to the plain-PyTorch recurrence of rnn_testing.gru_step:
    r = σ(W_ir x + b_ir + W_hr h + b_hr)   z = σ(W_iz x + b_iz + W_hz h + b_hz)
    n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn)   h' = (1 − z) ⊙ n + z ⊙ h
Both pass every check of recurrent_op_checks; below, what is particular to the GRU."""

import pytest
import torch

from recurrent_op_checks import RecurrenceOpChecks
from rnn_testing import GRU, GRU_RESET_BEFORE

ops = torch.ops.torch_ext


class TestGru(RecurrenceOpChecks):
    family = GRU


class TestGruResetBefore(RecurrenceOpChecks):
    family = GRU_RESET_BEFORE


# --- the two forms on the same weights ------------------------------------------------------------------


def test_reset_before_differs_from_reset_after_on_the_same_weights():
    torch.manual_seed(20)
    params = GRU.params(3, 4, 2, True, True)
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    h0 = torch.randn(4, 2, 4, dtype=torch.float64)
    args = (True, 2, 0.0, False, True, False)
    after, before = GRU.sequence(x, h0, params, *args), GRU_RESET_BEFORE.sequence(x, h0, params, *args)
    for a, b in zip(after, before):
        assert (a - b).abs().max() > 1e-3
    # Each is the form it claims to be (and not the other).
    torch.testing.assert_close(after, torch.gru(x, h0, params, *args))
    torch.testing.assert_close(before, GRU_RESET_BEFORE.plain_sequence(x, h0, params, *args))
    w_ih, w_hh, b_ih, b_hh = params[:4]
    cells = [family.cell(x[0], h0[0], w_ih, w_hh, b_ih, b_hh) for family in (GRU, GRU_RESET_BEFORE)]
    assert (cells[0] - cells[1]).abs().max() > 1e-3
    layers = [family.layer(x, None, h0[:2], params[:8], True, True) for family in (GRU, GRU_RESET_BEFORE)]
    assert (layers[0][0] - layers[1][0]).abs().max() > 1e-3


def test_forms_agree_where_the_reset_gate_cannot_matter():
    """Without biases and from h = 0, r ⊙ (W_hn h) = W_hn (r ⊙ h) = 0: the first step is the same in
    both forms (and the gradient of everything but W_hh); later steps differ."""
    torch.manual_seed(21)
    params = GRU.params(3, 4, 1, False, False)
    x = torch.randn(3, 2, 3, dtype=torch.float64)
    h0 = torch.zeros(1, 2, 4, dtype=torch.float64)
    args = (False, 1, 0.0, False, False, False)
    after, before = GRU.sequence(x, h0, params, *args)[0], GRU_RESET_BEFORE.sequence(x, h0, params, *args)[0]
    torch.testing.assert_close(after[0], before[0], atol=1e-12, rtol=0)
    assert (after[1:] - before[1:]).abs().max() > 1e-3


# --- the layer op's halves ------------------------------------------------------------------------------


@pytest.mark.parametrize("reset_after", [True, False])
def test_forward_half_saves_the_activated_gates(reset_after):
    """_gru_layer_forward returns the activated r, z, n of every row ([D, N, 3H]) and, in the
    reset-after form only, hidden_n = W_hn h + b_hn ([D, N, H]; else empty)."""
    torch.manual_seed(22)
    I, H, B = 3, 4, 2
    w_ih, w_hh, b_ih, b_hh = GRU.params(I, H, requires_grad=False)
    x = torch.randn(1, B, I, dtype=torch.float64)
    h0 = torch.randn(1, B, H, dtype=torch.float64)
    params = [w_ih, w_hh, b_ih, b_hh]
    output, hy, gates, hidden_n = ops._gru_layer_forward(x, None, h0, params, True, False, reset_after)
    assert gates.shape == (1, B, 3 * H)
    x_r, x_z, x_n = (x[0] @ w_ih.t() + b_ih).chunk(3, dim=1)
    h_r, h_z, h_n = (h0[0] @ w_hh.t() + b_hh).chunk(3, dim=1)
    r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
    if reset_after:
        n = torch.tanh(x_n + r * h_n)
        torch.testing.assert_close(hidden_n, h_n.unsqueeze(0))
    else:
        w_hn, b_hn = w_hh[2 * H :], b_hh[2 * H :]
        n = torch.tanh(x_n + (r * h0[0]) @ w_hn.t() + b_hn)
        assert hidden_n.numel() == 0
    torch.testing.assert_close(gates[0], torch.cat([r, z, n], dim=1))
    torch.testing.assert_close(output[0], (1 - z) * n + z * h0[0])
    torch.testing.assert_close(hy, output)


@pytest.mark.parametrize(
    "change,message",
    [
        ("gates", "expected gates of shape [2, 12, 12], got [2, 12, 11]"),
        ("hidden_n", "expected hidden_n of shape [2, 12, 4], got [2, 11, 4]"),
        ("output", "expected output of shape [4, 3, 8], got [4, 3, 4]"),
        ("grad_hy", "expected grad_hy of shape [2, 3, 4], got [1, 3, 4]"),
    ],
)
def test_backward_half_checks_the_saved_tensors(change, message):
    torch.manual_seed(23)
    x = torch.randn(4, 3, 3, dtype=torch.float64)
    h0 = torch.randn(2, 3, 4, dtype=torch.float64)
    params = GRU.params(3, 4, 1, True, True, requires_grad=False)
    output, hy, gates, hidden_n = ops._gru_layer_forward(x, None, h0, params, True, True, True)
    saved = dict(grad_hy=torch.ones_like(hy), output=output, gates=gates, hidden_n=hidden_n)
    saved[change] = {
        "gates": gates[..., :-1],
        "hidden_n": hidden_n[:, :-1],
        "output": output[..., :4],
        "grad_hy": hy[:1],
    }[change]
    with pytest.raises(RuntimeError) as error:
        ops._gru_layer_backward(
            None, saved["grad_hy"], x, None, h0, params, True, True, True, saved["output"], saved["gates"],
            saved["hidden_n"], True,
        )  # fmt: skip
    assert f"torch_ext::_gru_layer_backward: {message}" in str(error.value)


def test_backward_half_matches_autograd_of_the_layer():
    """The halves called by hand give what the layer op's autograd node gives."""
    torch.manual_seed(24)
    for family in (GRU, GRU_RESET_BEFORE):
        params = family.params(3, 4, 1, True, True)
        x = torch.randn(11, 3, dtype=torch.float64, requires_grad=True)
        h0 = torch.randn(2, 4, 4, dtype=torch.float64, requires_grad=True)
        batch_sizes = torch.tensor([4, 3, 2, 2])
        grad_output, grad_hy = torch.randn(11, 8, dtype=torch.float64), torch.randn(2, 4, 4, dtype=torch.float64)
        output, hy = family.layer(x, batch_sizes, h0, params, True, True)
        expected = torch.autograd.grad((output, hy), [x, h0, *params], (grad_output, grad_hy))
        detached = [p.detach() for p in params]
        mode = family.layer_mode
        saved = ops._gru_layer_forward(x.detach(), batch_sizes, h0.detach(), detached, True, True, mode)
        grad_input, grad_hx, grad_params = ops._gru_layer_backward(
            grad_output, grad_hy, x.detach(), batch_sizes, h0.detach(), detached, True, True, mode, saved[0], saved[2],
            saved[3], True,
        )  # fmt: skip
        torch.testing.assert_close([grad_input, grad_hx, *grad_params], list(expected), atol=1e-12, rtol=1e-12)

