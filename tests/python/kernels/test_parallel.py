"""Column sums of the kernels (csrc/kernels/parallel.h, sum_rows), seen through a bias gradient: a
ReLU RNN with zero weights and a positive bias passes its output gradient through unchanged, so
∂L/∂b is the column sum of that gradient over every row of the sequence. Summed in blocks of rows,
it stays within 2e-6 (relative) of the float64 sum over 40,000 rows, closer than float32's
row-by-row running sum of the same rows (4e-6 here; its error grows with the row count)."""

import numpy as np
import torch

import torch_ext


def test_bias_gradient_sums_many_rows_accurately():
    steps, batch, hidden = 200, 200, 16
    rnn = torch_ext.RNN(4, hidden, nonlinearity="relu")
    with torch.no_grad():
        rnn.weight_ih_l0.zero_()
        rnn.weight_hh_l0.zero_()
        rnn.bias_ih_l0.fill_(0.5)
        rnn.bias_hh_l0.zero_()
    grad = torch.rand(steps, batch, hidden, generator=torch.Generator().manual_seed(0))
    output, _ = rnn(torch.randn(steps, batch, 4))
    output.backward(grad)
    expected = grad.double().sum(dim=(0, 1))
    relative = ((rnn.bias_ih_l0.grad.double() - expected).abs() / expected).max().item()
    assert relative < 2e-6, f"bias gradient off by {relative:.2e} (relative)"
    # For comparison, float32's sequential running sum of the same rows (numpy's accumulate adds
    # row by row; torch.cumsum accumulates in higher precision).
    sequential = torch.from_numpy(np.add.accumulate(grad.reshape(-1, hidden).numpy(), axis=0)[-1])
    sequential = sequential.double()
    assert ((sequential - expected).abs() / expected).max().item() > relative
