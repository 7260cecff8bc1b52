"""The float32 activations of the pointwise kernels (csrc/kernels/vec_math.h), in every compiled CPU
variant (each in a fresh process):

- tanh (a polynomial below |x| = 0.75, the inline e^{2|x|} above), seen through the vanilla tanh RNN
  with W_ih = I and no other term, so its output is tanh of its input: within 1.5 ulp of float64's
  tanh from tiny values to saturation, exactly ±1 at ±inf and far out, NaN for NaN;
- σ (1 / (1 + e^{−x}) with the inline e^x), seen through one LSTM step whose input gate's
  pre-activation is the input and whose other gates saturate, so c_1 = σ(x): within 3.5 ulp of
  float64's σ wherever σ is a normal float (3.06 measured, near x = −16.6, where e^{−x}, the sum
  and the division each round; ATen's float32 torch.sigmoid measures 2.38 on the same points), off
  by less than the smallest normal float below that, exactly 1 and 0 far out, NaN for NaN. (±inf
  cannot be seen this way: the product with W_ih gives the other gates 0·inf = NaN.)"""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import torch_ext
from rnn_testing import CPU_CAPABILITIES

HIDDEN = 64


def kernel_tanh(values: torch.Tensor) -> torch.Tensor:
    """tanh of float32 `values` computed by the RNN kernel: one step, a batch row per HIDDEN values."""
    rnn = torch_ext.RNN(HIDDEN, HIDDEN, nonlinearity="tanh", bias=False)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.eye(HIDDEN))
        rnn.weight_hh_l0.zero_()
    padded = torch.zeros((values.numel() + HIDDEN - 1) // HIDDEN * HIDDEN)
    padded[: values.numel()] = values
    with torch.inference_mode():
        output, _ = rnn(padded.view(1, -1, HIDDEN))
    return output.reshape(-1)[: values.numel()].clone()


def check_tanh() -> None:
    magnitudes = torch.logspace(-30, 1.7, 2**17)
    values = torch.cat([torch.linspace(-12, 12, 2**19), magnitudes, -magnitudes,
                        torch.tensor([0.0, 0.75, -0.75, 0.7499999, 1e-40, 50.0, -50.0, 1e30])])
    result = kernel_tanh(values).double()
    expected = torch.tanh(values.double())
    ulp = torch.from_numpy(np.spacing(expected.float().abs().numpy())).double()
    error = ((result - expected).abs() / ulp).max().item()
    assert error <= 1.5, f"tanh is {error:.2f} ulp from float64's"
    # Special values one per row: a NaN would spread along its row through the identity product.
    specials = kernel_tanh(torch.tensor([float("inf")] + [0.0] * (HIDDEN - 1) + [-float("inf")]))
    assert specials[0].item() == 1.0 and specials[HIDDEN].item() == -1.0
    assert torch.isnan(kernel_tanh(torch.tensor([float("nan")]))[0])


def kernel_sigmoid(values: torch.Tensor) -> torch.Tensor:
    """σ of float32 `values` computed by the LSTM kernel: c_1 = f·0 + σ(x)·tanh(big) = σ(x)."""
    lstm = torch_ext.LSTM(HIDDEN, HIDDEN, bias=True)
    with torch.no_grad():
        lstm.weight_ih_l0.zero_()
        lstm.weight_ih_l0[:HIDDEN].copy_(torch.eye(HIDDEN))  # input gate: x
        lstm.weight_hh_l0.zero_()
        lstm.bias_ih_l0.zero_()
        lstm.bias_hh_l0.zero_()
        lstm.bias_ih_l0[2 * HIDDEN: 3 * HIDDEN] = 60.0  # g = tanh(60) = 1 exactly
    padded = torch.zeros((values.numel() + HIDDEN - 1) // HIDDEN * HIDDEN)
    padded[: values.numel()] = values
    with torch.inference_mode():
        _, (_, cell) = lstm(padded.view(1, -1, HIDDEN))
    return cell.reshape(-1)[: values.numel()].clone()


def check_sigmoid() -> None:
    magnitudes = torch.logspace(-30, 2.0, 2**17)
    values = torch.cat([torch.linspace(-110, 40, 2**19), magnitudes, -magnitudes,
                        torch.tensor([0.0, -87.0, -87.5, -88.7, -89.0, -103.0, -104.0, 1e30, -1e30])])
    result = kernel_sigmoid(values).double()
    expected = torch.sigmoid(values.double())
    normal = expected >= torch.finfo(torch.float32).tiny
    ulp = torch.from_numpy(np.spacing(expected[normal].float().abs().numpy())).double()
    error = ((result[normal] - expected[normal]).abs() / ulp).max().item()
    assert error <= 3.5, f"sigmoid is {error:.2f} ulp from float64's"
    # Below the normal range σ is subnormal or 0: off by at most the smallest normal float.
    assert (result[~normal] - expected[~normal]).abs().max().item() <= torch.finfo(torch.float32).tiny
    assert kernel_sigmoid(torch.tensor([1e30]))[0].item() == 1.0
    assert kernel_sigmoid(torch.tensor([-1e30]))[0].item() == 0.0
    assert torch.isnan(kernel_sigmoid(torch.tensor([float("nan")]))[0])


def test_tanh_is_within_1_5_ulp():
    check_tanh()


def test_sigmoid_is_within_3_5_ulp():
    check_sigmoid()


@pytest.mark.parametrize("capability", CPU_CAPABILITIES)
def test_activations_in_every_cpu_variant(capability):
    from rnn_testing import _CAPABILITY_NEEDS, _cpu_flags

    if not _CAPABILITY_NEEDS[capability] <= _cpu_flags():
        pytest.skip(f"this CPU cannot run the {capability} variant")
    env = dict(os.environ, ATEN_CPU_CAPABILITY=capability)
    env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(os.path.dirname(__file__)),
                                         env.get("PYTHONPATH", "")])
    result = subprocess.run([sys.executable, __file__], capture_output=True, text=True, env=env,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


if __name__ == "__main__":
    check_tanh()
    check_sigmoid()
