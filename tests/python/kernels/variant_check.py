"""Run by the kernel tests in a fresh process with ATEN_CPU_CAPABILITY set (rnn_testing.
check_cpu_variant): checks that the kernels run the variant ATen chose and that, in it, each op
named on the command line (lstm, gru, gru_reset_before, rnn_tanh, rnn_relu) matches its reference
(ATen's op, or the plain-PyTorch recurrence where ATen has none) on packed input, forward and
backward, in float32 and float64."""

import os
import sys

import torch

import torch_ext  # noqa: F401

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from rnn_testing import RECURRENCES, flat_params  # noqa: E402

# The variant is a matter of instructions, not threads (the kernel tests run teams in-process): one
# thread spares the machine a parallel region per call, slow where cores are shared.
torch.set_num_threads(1)
ours = torch.ops.torch_ext._cpu_capability()
assert ours == torch.backends.cpu.get_cpu_capability(), (ours, torch.backends.cpu.get_cpu_capability())


def check(name: str, dtype: torch.dtype, tolerance: float) -> None:
    """A 2-layer bidirectional op over a PackedSequence; 45 hidden units end in a partial vector."""
    torch.manual_seed(0)
    packed = torch.nn.utils.rnn.pack_sequence([torch.randn(n, 20, dtype=dtype) for n in (9, 7, 7, 3, 1)])
    data = packed.data.clone().requires_grad_()
    if name == "lstm":
        params = flat_params("LSTM", 20, 45, 2, True, True, proj_size=21, dtype=dtype)
        hx = [torch.randn(4, 5, 21, dtype=dtype), torch.randn(4, 5, 45, dtype=dtype)]
        op, reference = torch.ops.torch_ext.lstm.data, torch.lstm
    else:
        family = RECURRENCES[name]
        params = family.params(20, 45, 2, True, True, dtype)
        hx = torch.randn(4, 5, 45, dtype=dtype)
        op, reference = family.packed, family.reference_packed
    args = (True, 2, 0.0, False, True)
    expected = reference(data, packed.batch_sizes, hx, params, *args)
    actual = op(data, packed.batch_sizes, hx, params, *args)
    grads_expected = torch.autograd.grad(sum(t.sum() for t in expected), [data, *params])
    grads_actual = torch.autograd.grad(sum(t.sum() for t in actual), [data, *params])
    for a, b in zip(list(actual) + list(grads_actual), list(expected) + list(grads_expected)):
        torch.testing.assert_close(a, b, atol=tolerance, rtol=tolerance)


for name in sys.argv[1:]:
    for dtype, tolerance in ((torch.float32, 1e-5), (torch.float64, 1e-10)):
        check(name, dtype, tolerance)
    print(f"capability {ours}, {name}: matches its reference")
