"""The float32 tanh of the pointwise kernels (csrc/kernels/vec_math.h: a polynomial below |x| = 0.75,
e^{2|x|} above), seen through the vanilla tanh RNN with W_ih = I and no other term, so its output is
tanh of its input: within 1.5 ulp of float64's tanh from tiny values to saturation, exactly ±1 at
±inf and far out, NaN for NaN; in every compiled CPU variant (each in a fresh process)."""

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


def test_tanh_is_within_1_5_ulp():
    check_tanh()


@pytest.mark.parametrize("capability", CPU_CAPABILITIES)
def test_tanh_in_every_cpu_variant(capability):
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
