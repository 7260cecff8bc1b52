"""torch.ops.torch_ext LSTM operators (csrc/ops/lstm.cpp, csrc/kernels/lstm.cpp) against ATen's
torch.lstm / torch.lstm_cell and a plain-PyTorch reference; gradcheck, opcheck and bad input."""

import itertools

import pytest
import torch
from torch.library import opcheck
from torch.nn.utils.rnn import pack_sequence

import torch_ext
from rnn_testing import (
    assert_memory_linear_in_length,
    autograd_graph_size,
    compare_with_gradients,
    flat_params,
    lstm_flat_params,
    lstm_step,
    reference_layer,
)

ops = torch.ops.torch_ext


# --- values and gradients against ATen --------------------------------------------------------------

GRID = list(
    itertools.product(
        [1, 2, 3],  # num_layers
        [True, False],  # bias
        [False, True],  # bidirectional
        [0, 3],  # proj_size
        [False, True],  # batch_first
    )
)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("num_layers,bias,bidirectional,proj_size,batch_first", GRID)
def test_lstm_input_matches_aten(num_layers, bias, bidirectional, proj_size, batch_first, dtype):
    torch.manual_seed(0)
    T, B, I, H = 5, 3, 4, 6
    D = 2 if bidirectional else 1
    R = proj_size or H
    params = lstm_flat_params(I, H, num_layers, bias, bidirectional, proj_size, dtype)
    x = torch.randn((B, T, I) if batch_first else (T, B, I), dtype=dtype, requires_grad=True)
    h0 = torch.randn(num_layers * D, B, R, dtype=dtype, requires_grad=True)
    c0 = torch.randn(num_layers * D, B, H, dtype=dtype, requires_grad=True)
    args = (bias, num_layers, 0.0, False, bidirectional, batch_first)

    def ours(x, h0, c0, *params):
        return ops.lstm.input(x, [h0, c0], list(params), *args)

    def reference(x, h0, c0, *params):
        return torch.lstm(x, [h0, c0], list(params), *args)

    compare_with_gradients(ours, reference, [x, h0, c0, *params])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("bidirectional,proj_size,num_layers", [(False, 0, 1), (True, 0, 2), (True, 2, 2), (False, 2, 3)])
def test_lstm_data_matches_aten(bidirectional, proj_size, num_layers, dtype):
    torch.manual_seed(1)
    I, H = 4, 5
    D = 2 if bidirectional else 1
    R = proj_size or H
    lengths = [7, 5, 5, 2, 1]
    packed = pack_sequence([torch.randn(n, I, dtype=dtype) for n in lengths])
    data = packed.data.clone().requires_grad_()
    params = lstm_flat_params(I, H, num_layers, True, bidirectional, proj_size, dtype)
    h0 = torch.randn(num_layers * D, len(lengths), R, dtype=dtype, requires_grad=True)
    c0 = torch.randn(num_layers * D, len(lengths), H, dtype=dtype, requires_grad=True)
    args = (True, num_layers, 0.0, False, bidirectional)

    def ours(data, h0, c0, *params):
        return ops.lstm.data(data, packed.batch_sizes, [h0, c0], list(params), *args)

    def reference(data, h0, c0, *params):
        return torch.lstm(data, packed.batch_sizes, [h0, c0], list(params), *args)

    compare_with_gradients(ours, reference, [data, h0, c0, *params])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("biases", ["both", "none", "ih", "hh"])
def test_lstm_cell_matches_aten(biases, dtype):
    torch.manual_seed(2)
    B, I, H = 4, 3, 5
    x = torch.randn(B, I, dtype=dtype, requires_grad=True)
    h = torch.randn(B, H, dtype=dtype, requires_grad=True)
    c = torch.randn(B, H, dtype=dtype, requires_grad=True)
    w_ih = torch.randn(4 * H, I, dtype=dtype, requires_grad=True)
    w_hh = torch.randn(4 * H, H, dtype=dtype, requires_grad=True)
    b_ih = torch.randn(4 * H, dtype=dtype, requires_grad=True) if biases in ("both", "ih") else None
    b_hh = torch.randn(4 * H, dtype=dtype, requires_grad=True) if biases in ("both", "hh") else None
    inputs = [t for t in (x, h, c, w_ih, w_hh, b_ih, b_hh) if t is not None]

    def call(fn):
        def run(*_):
            return fn(x, [h, c], w_ih, w_hh, b_ih, b_hh)

        return run

    compare_with_gradients(call(ops.lstm_cell), call(torch.lstm_cell), inputs)


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("proj_size", [0, 2])
@pytest.mark.parametrize("packed", [False, True])
def test_lstm_layer_matches_plain_reference(bidirectional, proj_size, packed):
    torch.manual_seed(3)
    I, H = 3, 4
    D = 2 if bidirectional else 1
    R = proj_size or H
    params = lstm_flat_params(I, H, 1, True, bidirectional, proj_size)
    if packed:
        batch_sizes = [4, 4, 3, 1, 1]
        x = torch.randn(sum(batch_sizes), I, dtype=torch.float64, requires_grad=True)
    else:
        batch_sizes = [3] * 4
        x = torch.randn(4, 3, I, dtype=torch.float64, requires_grad=True)
    B = batch_sizes[0]
    h0 = torch.randn(D, B, R, dtype=torch.float64, requires_grad=True)
    c0 = torch.randn(D, B, H, dtype=torch.float64, requires_grad=True)

    def ours(x, h0, c0, *params):
        sizes = torch.tensor(batch_sizes) if packed else None
        return ops.lstm_layer(x, sizes, h0, c0, list(params), True, bidirectional)

    def reference(x, h0, c0, *params):
        return reference_layer(lstm_step, x, batch_sizes if packed else None, [h0, c0], params, bidirectional)

    compare_with_gradients(ours, reference, [x, h0, c0, *params])


def test_non_contiguous_inputs_and_weights():
    torch.manual_seed(4)
    T, B, I, H = 4, 3, 5, 6
    params = lstm_flat_params(I, H, 2, True, True)
    # The same values, laid out transposed in memory.
    strided = [p.detach().t().contiguous().t().requires_grad_() if p.dim() == 2 else p for p in params]
    x = torch.randn(B, T, I, dtype=torch.float64).transpose(0, 1).requires_grad_()
    h0 = torch.randn(B, 4, H, dtype=torch.float64).transpose(0, 1).requires_grad_()
    c0 = torch.randn(4, B, H, dtype=torch.float64, requires_grad=True)
    assert not x.is_contiguous() and not strided[0].is_contiguous() and not h0.is_contiguous()
    args = (True, 2, 0.0, False, True, False)
    compare_with_gradients(
        lambda x, h0, c0, *p: ops.lstm.input(x, [h0, c0], list(p), *args),
        lambda x, h0, c0, *p: torch.lstm(x, [h0, c0], list(p), *args),
        [x, h0, c0, *strided],
    )


def test_no_grad_and_inference_mode_match_training_forward():
    torch.manual_seed(5)
    params = lstm_flat_params(3, 4, 2, True, True, dtype=torch.float32)
    x = torch.randn(6, 2, 3, requires_grad=True)
    hx = [torch.zeros(4, 2, 4), torch.zeros(4, 2, 4)]
    args = (True, 2, 0.0, False, True, False)
    trained = ops.lstm.input(x, hx, params, *args)
    with torch.no_grad():
        no_grad = ops.lstm.input(x, hx, params, *args)
    with torch.inference_mode():
        inference = ops.lstm.input(x, hx, params, *args)
    for a, b, c in zip(trained, no_grad, inference):
        assert torch.equal(a.detach(), b) and torch.equal(b, c)
    assert all(t.grad_fn is None for t in no_grad)


def test_one_autograd_node_per_layer_whatever_the_length():
    def graph_size(steps: int) -> int:
        params = lstm_flat_params(3, 4, 2, True, True, dtype=torch.float32)
        x = torch.randn(steps, 2, 3, requires_grad=True)
        hx = [torch.zeros(4, 2, 4), torch.zeros(4, 2, 4)]
        output, _, _ = ops.lstm.input(x, hx, params, True, 2, 0.0, False, True, False)
        return autograd_graph_size(output)

    assert graph_size(3) == graph_size(300)
    # Two layer nodes plus the leaves' accumulators and a handful of views.
    assert graph_size(3) < 30


# --- gradcheck (float64) ----------------------------------------------------------------------------


def test_gradcheck_lstm_input():
    torch.manual_seed(6)
    params = lstm_flat_params(3, 4, 2, True, True, proj_size=2)
    x = torch.randn(2, 4, 3, dtype=torch.float64, requires_grad=True)  # batch_first: B=2, T=4
    h0 = torch.randn(4, 2, 2, dtype=torch.float64, requires_grad=True)
    c0 = torch.randn(4, 2, 4, dtype=torch.float64, requires_grad=True)

    def fn(x, h0, c0, *p):
        return ops.lstm.input(x, [h0, c0], list(p), True, 2, 0.0, False, True, True)

    assert torch.autograd.gradcheck(fn, (x, h0, c0, *params))


def test_gradcheck_lstm_data():
    torch.manual_seed(7)
    params = lstm_flat_params(3, 4, 2, False, True)
    batch_sizes = torch.tensor([3, 2, 2, 1])
    data = torch.randn(8, 3, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(4, 3, 4, dtype=torch.float64, requires_grad=True)
    c0 = torch.randn(4, 3, 4, dtype=torch.float64, requires_grad=True)

    def fn(data, h0, c0, *p):
        return ops.lstm.data(data, batch_sizes, [h0, c0], list(p), False, 2, 0.0, False, True)

    assert torch.autograd.gradcheck(fn, (data, h0, c0, *params))


def test_gradcheck_lstm_cell():
    torch.manual_seed(8)
    x = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    h = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    c = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    w_ih, w_hh, b_ih, b_hh = lstm_flat_params(4, 5)
    assert torch.autograd.gradcheck(
        lambda x, h, c, *w: ops.lstm_cell(x, [h, c], *w), (x, h, c, w_ih, w_hh, b_ih, b_hh)
    )


def test_gradcheck_lstm_layer_packed_projected():
    torch.manual_seed(9)
    params = lstm_flat_params(3, 4, 1, True, True, proj_size=3)
    batch_sizes = torch.tensor([3, 3, 2, 1])
    x = torch.randn(9, 3, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(2, 3, 3, dtype=torch.float64, requires_grad=True)
    c0 = torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True)

    def fn(x, h0, c0, *p):
        return ops.lstm_layer(x, batch_sizes, h0, c0, list(p), True, True)

    assert torch.autograd.gradcheck(fn, (x, h0, c0, *params))


def test_gradcheck_with_only_some_outputs_used():
    """Backward receives no gradient for unused outputs (h_n, c_n, or output)."""
    torch.manual_seed(10)
    params = lstm_flat_params(3, 4, 1, True, False)
    x = torch.randn(3, 2, 3, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(1, 2, 4, dtype=torch.float64, requires_grad=True)
    c0 = torch.randn(1, 2, 4, dtype=torch.float64, requires_grad=True)
    for pick in range(3):

        def fn(x, h0, c0, *p):
            return ops.lstm.input(x, [h0, c0], list(p), True, 1, 0.0, False, False, False)[pick]

        assert torch.autograd.gradcheck(fn, (x, h0, c0, *params))


# --- opcheck --------------------------------------------------------------------------------------------


def _opcheck_samples():
    torch.manual_seed(11)
    params = lstm_flat_params(3, 4, 2, True, True, proj_size=2)
    x = torch.randn(5, 2, 3, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(4, 2, 2, dtype=torch.float64, requires_grad=True)
    c0 = torch.randn(4, 2, 4, dtype=torch.float64, requires_grad=True)
    batch_sizes = torch.tensor([2, 2, 1])
    data = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    layer = params[:10]
    detached = [p.detach() for p in layer]
    saved = ops._lstm_layer_forward(x.detach(), None, h0[:2].detach(), c0[:2].detach(), detached, True, True)
    w_ih, w_hh, b_ih, b_hh = lstm_flat_params(3, 4)
    return {
        "lstm.input": (ops.lstm.input, (x, [h0, c0], params, True, 2, 0.0, False, True, False)),
        "lstm.input.batch_first": (
            ops.lstm.input,
            (x.detach().transpose(0, 1).requires_grad_(), [h0, c0], params, True, 2, 0.0, False, True, True),
        ),
        "lstm.data": (ops.lstm.data, (data, batch_sizes, [h0, c0], params, True, 2, 0.0, False, True)),
        "lstm_cell": (ops.lstm_cell.default, (x[0], [c0[0], c0[1]], w_ih, w_hh, b_ih, b_hh)),
        "lstm_layer": (ops.lstm_layer.default, (x, None, h0[:2], c0[:2], layer, True, True)),
        "lstm_layer.packed": (ops.lstm_layer.default, (data, batch_sizes, h0[:2], c0[:2], layer, True, True)),
        "_lstm_layer_forward": (
            ops._lstm_layer_forward.default,
            (x.detach(), None, h0[:2].detach(), c0[:2].detach(), detached, True, True),
        ),
        "_lstm_layer_backward": (
            ops._lstm_layer_backward.default,
            (
                torch.randn_like(saved[0]),
                torch.randn_like(saved[1]),
                None,
                x.detach(),
                None,
                h0[:2].detach(),
                c0[:2].detach(),
                detached,
                True,
                True,
                saved[0],
                saved[3],
                saved[4],
                True,
            ),
        ),
    }


@pytest.mark.parametrize("name", list(_opcheck_samples()))
def test_opcheck(name):
    op, args = _opcheck_samples()[name]
    opcheck(op, args)


def test_meta_kernels_give_shapes_without_data():
    params = [p.to("meta") for p in lstm_flat_params(3, 4, 2, True, True, proj_size=2)]
    x = torch.empty(7, 5, 3, device="meta", dtype=torch.float64)
    h0 = torch.empty(4, 5, 2, device="meta", dtype=torch.float64)
    c0 = torch.empty(4, 5, 4, device="meta", dtype=torch.float64)
    output, hy, cy = ops.lstm.input(x, [h0, c0], params, True, 2, 0.0, False, True, False)
    assert output.device.type == "meta"
    assert (output.shape, hy.shape, cy.shape) == ((7, 5, 4), (4, 5, 2), (4, 5, 4))


# --- bad input ------------------------------------------------------------------------------------------


def _valid_call():
    params = lstm_flat_params(3, 4, 2, True, False, dtype=torch.float32, requires_grad=False)
    return dict(
        input=torch.randn(5, 2, 3),
        hx=[torch.zeros(2, 2, 4), torch.zeros(2, 2, 4)],
        params=params,
        has_biases=True,
        num_layers=2,
        dropout=0.0,
        train=False,
        bidirectional=False,
        batch_first=False,
    )


def _with(**changes):
    call = _valid_call()
    for key, value in changes.items():
        call[key] = value(call) if callable(value) else value
    return call


BAD_INPUTS = {
    "input 2-D": (_with(input=torch.randn(5, 3)), "expected input to be 3-D"),
    "input int": (_with(input=torch.ones(5, 2, 3, dtype=torch.int64)), "expected input to be float32, float64 or bfloat16"),
    "input size": (_with(input=torch.randn(5, 2, 7)), "input.size(-1) must be equal to input_size. Expected 3, got 7"),
    "seq len 0": (_with(input=torch.randn(0, 2, 3)), "sequence length to be larger than 0"),
    "one hidden state": (_with(hx=lambda c: c["hx"][:1]), "lstm expects two hidden states"),
    "h0 batch": (_with(hx=lambda c: [torch.zeros(2, 3, 4), c["hx"][1]]), "hx[0] of shape [2, 2, 4], got [2, 3, 4]"),
    "h0 layers": (_with(hx=lambda c: [torch.zeros(1, 2, 4), torch.zeros(1, 2, 4)]), "hx[0] of shape [2, 2, 4]"),
    "h0 dims": (_with(hx=lambda c: [torch.zeros(2, 4), c["hx"][1]]), "expected hx[0] to be 3-D"),
    "params count": (_with(params=lambda c: c["params"][:7]), "expected params to hold 8 tensors"),
    "weight shape": (
        _with(params=lambda c: c["params"][:5] + [torch.zeros(16, 5)] + c["params"][6:]),
        "weight_hh_l1 of shape [16, 4], got [16, 5]",
    ),
    "weight dtype": (
        _with(params=lambda c: [c["params"][0].double()] + c["params"][1:]),
        "expected weight_ih_l0 to have the dtype of input (Float), got Double",
    ),
    "hidden dtype": (_with(hx=lambda c: [c["hx"][0].double(), c["hx"][1]]), "expected hx[0] to have the dtype of input"),
    "weight device": (
        _with(params=lambda c: [c["params"][0].to("meta")] + c["params"][1:]),
        "expected weight_ih_l0 on the device of input (cpu), got meta",
    ),
    "dropout": (_with(dropout=1.5), "expected dropout in [0, 1], got 1.5"),
    "num_layers": (_with(num_layers=0), "expected num_layers >= 1, got 0"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_raises_clear_error(case):
    call, message = BAD_INPUTS[case]
    with pytest.raises(RuntimeError) as error:
        ops.lstm.input(**call)
    assert message in str(error.value)


@pytest.mark.parametrize("count", [5, 6, 9, 11])
def test_layer_params_count_is_named_before_the_states(count):
    """The layer op tells a projected layer from its params count: a count of neither layout is
    reported as such, not as a state of the wrong size (found by the fuzzer: 5 params of a
    projected bidirectional layer blamed hx)."""
    params = lstm_flat_params(3, 4, 1, True, True, proj_size=2, dtype=torch.float32, requires_grad=False)
    params = (params * 2)[:count]
    hx, cx = torch.zeros(2, 2, 2), torch.zeros(2, 2, 4)
    with pytest.raises(RuntimeError) as error:
        ops.lstm_layer(torch.randn(5, 2, 3), None, hx, cx, params, True, True)
    assert "expected params to hold 8 tensors" in str(error.value)
    assert f"or 10 tensors (1 layer(s) x 2 direction(s) x 5 per direction: weight_ih, weight_hh, bias_ih, bias_hh, " \
           f"weight_hr), got {count}" in str(error.value)


def test_layer_states_of_a_projection_without_weight_hr_name_params():
    """hx narrower than cx is a projected layer's state; without weight_hr in params the message
    says so rather than blaming hx alone (found by the fuzzer)."""
    params = lstm_flat_params(3, 4, 1, True, False, dtype=torch.float32, requires_grad=False)
    message = r"expected hx of shape \[1, 2, 4\] \(cx's features: no projection\), got \[1, 2, 2\]; .* weight_hr .*, not 4"
    with pytest.raises(RuntimeError, match=message):
        ops.lstm_layer(torch.randn(5, 2, 3), None, torch.zeros(1, 2, 2), torch.zeros(1, 2, 4), params, True, False)


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN_TANH"])
def test_cell_state_of_one_dimension_names_the_state(mode):
    """ATen's cells read size(1) of a 1-D state (IndexError: Dimension out of range); ours raise
    the same type with a message that names the state (found by the fuzzer)."""
    w_ih, w_hh = flat_params(mode, 3, 4, bias=False, dtype=torch.float32, requires_grad=False)
    cell = getattr(ops, mode.lower() + "_cell")
    state = torch.zeros(2)
    hx = [state, torch.zeros(2, 4)] if mode == "LSTM" else state
    with pytest.raises(IndexError, match=r"expected hx\[0\] to be 2-D \[batch, hidden_size\], got a 1-D tensor of shape \[2\]"):
        cell(torch.randn(2, 3), hx, w_ih, w_hh)


def test_states_of_different_widths_with_plain_params_name_both():
    """States of different widths mean a projection (as in ATen); with params of the layout
    without one, the message names both states' widths, not just a params count (found by
    fuzzing: c0 one unit short read as "expected params to hold 6 tensors ... weight_hr")."""
    call = _valid_call()
    call["hx"] = [call["hx"][0], torch.zeros(2, 2, 3)]
    with pytest.raises(RuntimeError, match=r"hx\[0\] has 4 features and hx\[1\] 3, which means a projection"):
        ops.lstm.input(**call)


def test_projected_state_of_the_wrong_width_is_named():
    """A projected LSTM's h of the wrong width: the message names hx[0] and the width weight_hh
    reads, and a state as wide as c with weight_hr in params says no projection (found by
    fuzzing: they blamed weight_hh_l0's shape, or the params count)."""
    params = lstm_flat_params(3, 4, 1, True, False, proj_size=2, dtype=torch.float32, requires_grad=False)
    x = torch.randn(5, 2, 3)
    with pytest.raises(RuntimeError, match=r"hx\[0\] has 3 features but weight_hh_l0 takes 2 \(the projection size\)"):
        ops.lstm.input(x, [torch.zeros(1, 2, 3), torch.zeros(1, 2, 4)], params, True, 1, 0.0, False, False, False)
    with pytest.raises(RuntimeError, match=r"hx\[0\] has 4 features and hx\[1\] 4, which means no projection"):
        ops.lstm.input(x, [torch.zeros(1, 2, 4), torch.zeros(1, 2, 4)], params, True, 1, 0.0, False, False, False)


BAD_PACKED = {
    "increasing": ([2, 3], "non-increasing"),
    "zero": ([3, 0], "positive"),
    "sum": ([3, 1], "sum to 4 but the packed data has 5 rows"),
    "empty": ([], "larger than 0"),
    "batch vs hidden": ([2, 2, 1], "batch_sizes[0] = 2 but the hidden state holds 3 sequences"),
}


@pytest.mark.parametrize("case", list(BAD_PACKED))
def test_bad_batch_sizes_raise_clear_error(case):
    sizes, message = BAD_PACKED[case]
    params = lstm_flat_params(3, 4, 1, True, False, dtype=torch.float32, requires_grad=False)
    hx = [torch.zeros(1, 3, 4), torch.zeros(1, 3, 4)]
    with pytest.raises(RuntimeError) as error:
        ops.lstm.data(torch.randn(5, 3), torch.tensor(sizes, dtype=torch.int64), hx, params, True, 1, 0.0, False, False)
    assert message in str(error.value)


def test_batch_sizes_dtype_is_checked():
    params = lstm_flat_params(3, 4, 1, True, False, dtype=torch.float32, requires_grad=False)
    hx = [torch.zeros(1, 2, 4), torch.zeros(1, 2, 4)]
    with pytest.raises(RuntimeError, match="expected batch_sizes to be int64, got Int"):
        ops.lstm.data(torch.randn(4, 3), torch.tensor([2, 2], dtype=torch.int32), hx, params, True, 1, 0.0, False, False)


@pytest.mark.parametrize("op", ["lstm.data", "lstm_layer", "gru_layer", "rnn_layer", "layer_norm_gru_layer"])
def test_batch_sizes_on_meta_beside_cpu_tensors_are_refused(op):
    """A meta batch_sizes sends the call to the Meta kernel, which used to return meta results for
    CPU tensors; it checks batch_sizes' dtype, rank and device now (found by fuzzing)."""
    batch_sizes = torch.tensor([2, 2]).to("meta")
    x, h = torch.randn(4, 3), torch.zeros(1, 2, 4)
    calls = {
        "lstm.data": lambda: ops.lstm.data(x, batch_sizes, [h, h], lstm_flat_params(3, 4, requires_grad=False,
                                                                                    dtype=torch.float32),
                                           True, 1, 0.0, False, False),
        "lstm_layer": lambda: ops.lstm_layer(x, batch_sizes, h, h, lstm_flat_params(3, 4, requires_grad=False,
                                                                                     dtype=torch.float32), True, False),
        "gru_layer": lambda: ops.gru_layer(x, batch_sizes, h, flat_params("GRU", 3, 4, requires_grad=False,
                                                                        dtype=torch.float32), True, False, True),
        "rnn_layer": lambda: ops.rnn_layer(x, batch_sizes, h, flat_params("RNN_TANH", 3, 4, requires_grad=False,
                                                                        dtype=torch.float32), True, False, "tanh"),
        "layer_norm_gru_layer": lambda: ops.layer_norm_gru_layer(
            x, batch_sizes, h, flat_params("GRU", 3, 4, requires_grad=False, dtype=torch.float32)
            + [torch.ones(12), torch.zeros(12)] * 2, True, False, 1e-5),
    }
    with pytest.raises(RuntimeError, match="expected batch_sizes on the CPU, got meta"):
        calls[op]()


@pytest.mark.parametrize(
    "input_shape,h_shape,message",
    [
        ((3, 7), (3, 5), "input has inconsistent input_size: got 7 expected 4"),
        ((3, 4), (2, 5), "Input batch size 3 doesn't match hidden0 batch size 2"),
        ((3, 4), (3, 6), "hidden0 has inconsistent hidden_size: got 6, expected 5"),
    ],
)
def test_lstm_cell_bad_input_messages_match_aten(input_shape, h_shape, message):
    w_ih, w_hh, b_ih, b_hh = lstm_flat_params(4, 5, dtype=torch.float32, requires_grad=False)
    args = (torch.randn(*input_shape), [torch.zeros(*h_shape), torch.zeros(*h_shape)], w_ih, w_hh, b_ih, b_hh)
    with pytest.raises(RuntimeError) as ours:
        ops.lstm_cell(*args)
    with pytest.raises(RuntimeError) as aten:
        torch.lstm_cell(*args)
    assert message in str(ours.value) and message in str(aten.value)


# --- sizes at the edges --------------------------------------------------------------------------------


def test_empty_batch():
    params = lstm_flat_params(3, 4, 2, True, True, dtype=torch.float32)
    x = torch.randn(5, 0, 3, requires_grad=True)
    hx = [torch.zeros(4, 0, 4, requires_grad=True), torch.zeros(4, 0, 4)]
    output, hy, cy = ops.lstm.input(x, hx, params, True, 2, 0.0, False, True, False)
    assert (output.shape, hy.shape, cy.shape) == ((5, 0, 8), (4, 0, 4), (4, 0, 4))
    (output.sum() + hy.sum()).backward()
    assert x.grad.shape == x.shape
    assert all(bool((p.grad == 0).all()) for p in params)


def test_single_step_and_single_unit():
    torch.manual_seed(12)
    params = lstm_flat_params(1, 1, 1, True, True)
    x = torch.randn(1, 1, 1, dtype=torch.float64, requires_grad=True)
    hx = [torch.randn(2, 1, 1, dtype=torch.float64), torch.randn(2, 1, 1, dtype=torch.float64)]
    args = (True, 1, 0.0, False, True, False)
    compare_with_gradients(
        lambda x, *p: ops.lstm.input(x, hx, list(p), *args),
        lambda x, *p: torch.lstm(x, hx, list(p), *args),
        [x, *params],
    )


@pytest.mark.parametrize("hidden_size", [15, 17, 33])
def test_hidden_sizes_off_the_vector_width(hidden_size):
    """Tails shorter than a vector register take the masked path of the pointwise kernels."""
    torch.manual_seed(13)
    params = lstm_flat_params(5, hidden_size, 1, True, True, dtype=torch.float32)
    x = torch.randn(4, 3, 5, requires_grad=True)
    hx = [torch.randn(2, 3, hidden_size), torch.randn(2, 3, hidden_size)]
    args = (True, 1, 0.0, False, True, False)
    compare_with_gradients(
        lambda x, *p: ops.lstm.input(x, hx, list(p), *args),
        lambda x, *p: torch.lstm(x, hx, list(p), *args),
        [x, *params],
    )


def test_dropout_between_layers_only_in_training():
    torch.manual_seed(14)
    params = lstm_flat_params(3, 8, 2, True, False, dtype=torch.float32, requires_grad=False)
    x = torch.randn(6, 4, 3)
    hx = [torch.zeros(2, 4, 8), torch.zeros(2, 4, 8)]
    plain = ops.lstm.input(x, hx, params, True, 2, 0.0, False, False, False)[0]
    evaluated = ops.lstm.input(x, hx, params, True, 2, 0.5, False, False, False)[0]
    trained_a = ops.lstm.input(x, hx, params, True, 2, 0.5, True, False, False)[0]
    trained_b = ops.lstm.input(x, hx, params, True, 2, 0.5, True, False, False)[0]
    assert torch.equal(plain, evaluated)
    assert not torch.allclose(trained_a, plain) and not torch.allclose(trained_a, trained_b)
    # No dropout after the last layer: a single layer is unaffected.
    single = params[:4]
    hx1 = [hx[0][:1], hx[1][:1]]
    assert torch.equal(
        ops.lstm.input(x, hx1, single, True, 1, 0.5, True, False, False)[0],
        ops.lstm.input(x, hx1, single, True, 1, 0.0, False, False, False)[0],
    )


def test_dropout_matches_aten_under_the_same_seed():
    """Dropout draws its mask with at::dropout after each non-last layer, as ATen does."""
    params = lstm_flat_params(3, 8, 3, True, False, dtype=torch.float64, requires_grad=False)
    x = torch.randn(6, 4, 3, dtype=torch.float64)
    hx = [torch.zeros(3, 4, 8, dtype=torch.float64), torch.zeros(3, 4, 8, dtype=torch.float64)]
    torch.manual_seed(15)
    ours = ops.lstm.input(x, hx, params, True, 3, 0.3, True, False, False)
    torch.manual_seed(15)
    aten = torch.lstm(x, hx, params, True, 3, 0.3, True, False, False)
    for a, b in zip(ours, aten):
        torch.testing.assert_close(a, b)


def test_long_sequence_memory_is_linear_in_length():
    """A 20,000-step sequence trains (forward + backward); peak memory grows linearly."""
    assert_memory_linear_in_length("lstm", "LSTM")


def test_projection_to_a_single_unit_in_float64():
    """W_hhᵀ of one row reaches BLAS with a leading dimension below the row length."""
    torch.manual_seed(16)
    params = lstm_flat_params(3, 5, 1, True, True, proj_size=1)
    x = torch.randn(4, 2, 3, dtype=torch.float64, requires_grad=True)
    hx = [torch.randn(2, 2, 1, dtype=torch.float64), torch.randn(2, 2, 5, dtype=torch.float64)]
    args = (True, 1, 0.0, False, True, False)
    compare_with_gradients(
        lambda x, *p: ops.lstm.input(x, hx, list(p), *args),
        lambda x, *p: torch.lstm(x, hx, list(p), *args),
        [x, *params],
    )


def test_double_backward_raises_instead_of_returning_zeros():
    torch.manual_seed(17)
    params = lstm_flat_params(3, 5)
    x = torch.randn(3, 2, 3, dtype=torch.float64, requires_grad=True)
    hx = [torch.zeros(1, 2, 5, dtype=torch.float64), torch.zeros(1, 2, 5, dtype=torch.float64)]
    output = ops.lstm.input(x, hx, params, True, 1, 0.0, True, False, False)[0]
    (grad_x,) = torch.autograd.grad(output.sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="derivative for torch_ext::_lstm_layer_backward is not implemented"):
        torch.autograd.grad(grad_x.pow(2).sum(), params[0])
