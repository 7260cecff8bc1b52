"""Run by test_lstm.py in a fresh process with ATEN_CPU_CAPABILITY set: checks that the kernels
run the variant ATen chose and that it matches torch.lstm, forward and backward."""

import torch

import torch_ext  # noqa: F401

ours = torch.ops.torch_ext._cpu_capability()
assert ours == torch.backends.cpu.get_cpu_capability(), (ours, torch.backends.cpu.get_cpu_capability())
torch.manual_seed(0)
for dtype, tolerance in ((torch.float32, 1e-5), (torch.float64, 1e-10)):
    m = torch.nn.LSTM(20, 45, num_layers=2, bidirectional=True, proj_size=21, dtype=dtype)
    params = [p.detach().requires_grad_() for p in m._flat_weights]
    packed = torch.nn.utils.rnn.pack_sequence([torch.randn(n, 20, dtype=dtype) for n in (9, 7, 7, 3, 1)])
    data = packed.data.clone().requires_grad_()
    hx = [torch.randn(4, 5, 21, dtype=dtype), torch.randn(4, 5, 45, dtype=dtype)]
    args = (True, 2, 0.0, False, True)
    ref = torch.lstm(data, packed.batch_sizes, hx, params, *args)
    out = torch.ops.torch_ext.lstm.data(data, packed.batch_sizes, hx, params, *args)
    grads_ref = torch.autograd.grad(sum(t.sum() for t in ref), [data, *params])
    grads_out = torch.autograd.grad(sum(t.sum() for t in out), [data, *params])
    for a, b in zip(list(out) + list(grads_out), list(ref) + list(grads_ref)):
        torch.testing.assert_close(a, b, atol=tolerance, rtol=tolerance)
print(f"capability {ours}: matches ATen")
