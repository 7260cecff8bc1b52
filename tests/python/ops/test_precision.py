"""bfloat16 through every operator (csrc/ops/precision.h, csrc/ops/autocast.cpp): results in
bfloat16, computed in float32 (the LSTM layer's products with bfloat16 operands where the CPU has
AVX512-BF16, csrc/kernels/bf16_gemm.h), close to the float32 op on the same (bfloat16-rounded)
values, forward and backward, and no further from it than torch.nn's own bfloat16 LSTM; the LSTM's
and GRU's saved gates are bfloat16 (the LSTM's cells float32); autocast runs the layer ops in
bfloat16."""

from typing import Callable, List, Sequence

import pytest
import torch
from torch import Tensor
from torch.library import opcheck

import torch_ext  # noqa: F401

ops = torch.ops.torch_ext
I, H, B, T = 6, 8, 3, 5


def _weights(gates: int, layers: int, directions: int, layer_norms: int = 0, cell_norm: bool = False) -> List[Tensor]:
    generator = torch.Generator().manual_seed(0)
    params: List[Tensor] = []
    for layer in range(layers):
        for _ in range(directions):
            width = I if layer == 0 else directions * H
            params += [torch.randn(gates * H, width, generator=generator) * 0.3,
                       torch.randn(gates * H, H, generator=generator) * 0.3,
                       torch.randn(gates * H, generator=generator) * 0.1,
                       torch.randn(gates * H, generator=generator) * 0.1]
            for _ in range(layer_norms):
                params += [1 + 0.1 * torch.randn(gates * H, generator=generator), 0.1 * torch.randn(gates * H, generator=generator)]
            if cell_norm:
                params += [1 + 0.1 * torch.randn(H, generator=generator), 0.1 * torch.randn(H, generator=generator)]
    return params


def _bf16_rounded(tensors: Sequence[Tensor]) -> List[Tensor]:
    return [t.bfloat16().float() for t in tensors]


# Each case: (name, function of (inputs, params) -> outputs, float inputs, params).
def _cases():
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(T, B, I, generator=generator)
    h = torch.randn(4, B, H, generator=generator) * 0.5
    c = torch.randn(4, B, H, generator=generator) * 0.5
    packed = torch.nn.utils.rnn.pack_sequence([torch.randn(n, I, generator=generator) for n in (5, 3, 2)])
    cases = [
        ("lstm", lambda x, h, c, *p: ops.lstm.input(x, [h, c], list(p), True, 2, 0.0, False, True, False),
         [x, h, c], _weights(4, 2, 2)),
        ("lstm.data", lambda d, h, c, *p: ops.lstm.data(d, packed.batch_sizes, [h, c], list(p), True, 1, 0.0, False, False),
         [packed.data, h[:1], c[:1]], _weights(4, 1, 1)),
        ("gru", lambda x, h, *p: ops.gru.input(x, h, list(p), True, 2, 0.0, False, True, False), [x, h], _weights(3, 2, 2)),
        ("gru_reset_before", lambda x, h, *p: ops.gru_reset_before.input(x, h[:1], list(p), True, 1, 0.0, False, False, False),
         [x, h], _weights(3, 1, 1)),
        ("rnn_tanh", lambda x, h, *p: ops.rnn_tanh.input(x, h, list(p), True, 2, 0.0, False, True, False), [x, h], _weights(1, 2, 2)),
        ("rnn_relu", lambda x, h, *p: ops.rnn_relu.input(x, h[:1], list(p), True, 1, 0.0, False, False, False), [x, h], _weights(1, 1, 1)),
        ("layer_norm_lstm", lambda x, h, c, *p: ops.layer_norm_lstm.input(x, [h, c], list(p), True, 2, 0.0, False, True, False, 1e-5),
         [x, h, c], _weights(4, 2, 2, layer_norms=2, cell_norm=True)),
        ("layer_norm_gru", lambda x, h, *p: ops.layer_norm_gru.input(x, h, list(p), True, 2, 0.0, False, True, False, 1e-5),
         [x, h], _weights(3, 2, 2, layer_norms=2)),
        ("lstm_cell", lambda x, h, c, *p: ops.lstm_cell(x[0], [h[0], c[0]], *p), [x, h, c], _weights(4, 1, 1)),
        ("gru_cell", lambda x, h, *p: (ops.gru_cell(x[0], h[0], *p),), [x, h], _weights(3, 1, 1)),
        ("rnn_tanh_cell", lambda x, h, *p: (ops.rnn_tanh_cell(x[0], h[0], *p),), [x, h], _weights(1, 1, 1)),
        ("layer_norm", lambda x, w, b: (ops.layer_norm(x, [I], w, b, 1e-5),),
         [x * 4 + 3], [1 + 0.1 * torch.randn(I, generator=generator), torch.randn(I, generator=generator)]),
    ]
    return {name: (fn, inputs, params) for name, fn, inputs, params in cases}


CASES = _cases()


def _as_tuple(result):
    return tuple(result) if isinstance(result, (tuple, list)) else (result,)


@pytest.mark.parametrize("name", list(CASES))
def test_bfloat16_matches_float32_on_the_same_values(name):
    fn, inputs, params = CASES[name]
    values = _bf16_rounded(inputs + params)
    reference_args = [v.clone().requires_grad_() for v in values]
    bf16_args = [v.bfloat16().requires_grad_() for v in values]
    expected = _as_tuple(fn(*reference_args))
    actual = _as_tuple(fn(*bf16_args))
    assert all(a.dtype == torch.bfloat16 for a in actual)
    for a, e in zip(actual, expected):
        # The results' final rounding to bfloat16 and, for the LSTM, its products' operands
        # rounded to bfloat16 separate them: the sums ran in float32.
        torch.testing.assert_close(a.float(), e, atol=1e-2, rtol=1e-2)
    weights = [torch.randn(e.shape, generator=torch.Generator().manual_seed(2)).bfloat16().float() for e in expected]
    grads_expected = torch.autograd.grad(expected, reference_args, weights, allow_unused=True)
    grads_actual = torch.autograd.grad(actual, bf16_args, [w.bfloat16() for w in weights], allow_unused=True)
    for a, e, arg in zip(grads_actual, grads_expected, bf16_args):
        if e is None:
            continue
        assert a.dtype == torch.bfloat16 == arg.dtype
        # Between layers the activations are bfloat16 (each layer op returns its input's type),
        # so multi-layer gradients carry a few of bfloat16's 0.4% roundings.
        scale = e.abs().max().clamp_min(1.0)
        assert (a.float() - e).abs().max() <= 4e-2 * scale, name


def test_mixed_dtypes_are_refused():
    fn, inputs, params = CASES["lstm"]
    with pytest.raises(RuntimeError, match="expected weight_ih_l0 to have the dtype of input"):
        fn(*[t.bfloat16() for t in inputs], *params)


@pytest.mark.parametrize("cell", ["lstm", "gru", "gru_reset_before"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_bfloat16_calls_save_their_gates_in_bfloat16(cell, bidirectional, monkeypatch):
    """A bfloat16 training forward saves its activations in bfloat16, as torch.nn's bfloat16
    layers do: the LSTM's gates (its cells stay float32: c is the state each step adds to), the
    GRU's r, z, n and gh_n. They are the float values the kernels compute, rounded as they are
    written: bitwise the narrowed float32 activations of the widening path, close to a float32
    call's on the same values; the Meta kernel agrees (opcheck)."""
    torch.manual_seed(9)
    D = 2 if bidirectional else 1
    params = [p.bfloat16() for p in _weights(4 if cell == "lstm" else 3, 1, D)]
    x = torch.randn(T, B, I).bfloat16()
    h = (0.5 * torch.randn(D, B, H)).bfloat16()
    if cell == "lstm":
        op, args = ops._lstm_layer_forward.default, (x, None, h, h, params, True, bidirectional)
    else:
        op, args = ops._gru_layer_forward.default, (x, None, h, params, True, bidirectional, cell == "gru")
    saved = op(*args)[-2:]
    if cell == "lstm":
        assert (saved[0].dtype, saved[1].dtype) == (torch.bfloat16, torch.float32)
        assert saved[0].shape == (D, T * B, 4 * H)
    else:
        assert all(t.dtype == torch.bfloat16 for t in saved)
        assert saved[0].shape == (D, T * B, 3 * H)
        assert saved[1].shape == ((D, T * B, H) if cell == "gru" else (0,))
    widened_args = tuple(a.float() if isinstance(a, Tensor) else [p.float() for p in a] if isinstance(a, list) else a for a in args)
    in_float32 = op(*widened_args)[-2:]
    for a, e in zip(saved, in_float32):
        torch.testing.assert_close(a.float(), e, atol=2e-2, rtol=2e-2)
    if _bf16_products():
        monkeypatch.setenv("TORCH_EXT_BF16_OPERANDS", "widen")
        for a, e in zip(saved, op(*args)[-2:]):
            assert a.dtype == e.dtype and torch.equal(a, e)
        monkeypatch.delenv("TORCH_EXT_BF16_OPERANDS")
    opcheck(op, args)


@pytest.mark.parametrize("cell", ["lstm", "gru", "gru_reset_before"])
def test_bfloat16_training_without_hidden_units_over_many_rows(cell):
    """With no hidden units the bfloat16 rows of the saved gates are empty; a training call over
    more rows than a chunk of the input projection (512) still runs and gives empty results and
    zero gradients (the GRU once asked its chunk-sized gate buffer for every row then)."""
    x = torch.randn(600, 1, I).bfloat16().requires_grad_()
    h = torch.zeros(1, 1, 0).bfloat16()
    params = [torch.zeros(0, I).bfloat16().requires_grad_(), torch.zeros(0, 0).bfloat16(),
              torch.zeros(0).bfloat16(), torch.zeros(0).bfloat16()]
    if cell == "lstm":
        output, hy, cy = ops.lstm_layer(x, None, h, h, params, True, False)
        saved = ops._lstm_layer_forward(x.detach(), None, h, h, params, True, False)[-2:]
    else:
        output, hy = ops.gru_layer(x, None, h, params, True, False, cell == "gru")
        saved = ops._gru_layer_forward(x.detach(), None, h, params, True, False, cell == "gru")[-2:]
    assert output.shape == (600, 1, 0) and saved[0].shape == (1, 600, 0) and saved[0].dtype == torch.bfloat16
    (grad_x,) = torch.autograd.grad(output.float().sum() + hy.float().sum(), [x])
    assert grad_x.dtype == torch.bfloat16 and torch.equal(grad_x, torch.zeros_like(grad_x))


@pytest.mark.parametrize("op", ["lstm_layer", "gru_layer", "rnn_layer", "layer_norm_lstm_layer", "layer_norm_gru_layer", "layer_norm"])
def test_opcheck_in_bfloat16(op):
    x = torch.randn(T, B, I).bfloat16().requires_grad_()
    h = torch.randn(1, B, H).bfloat16().requires_grad_()
    c = torch.randn(1, B, H).bfloat16().requires_grad_()

    def weights(*args, **kwargs):
        return [p.bfloat16().requires_grad_() for p in _weights(*args, **kwargs)]

    samples = {
        "lstm_layer": (ops.lstm_layer.default, (x, None, h, c, weights(4, 1, 1), True, False)),
        "gru_layer": (ops.gru_layer.default, (x, None, h, weights(3, 1, 1), True, False, True)),
        "rnn_layer": (ops.rnn_layer.default, (x, None, h, weights(1, 1, 1), True, False, "tanh")),
        "layer_norm_lstm_layer": (ops.layer_norm_lstm_layer.default,
                                  (x, None, h, c, weights(4, 1, 1, layer_norms=2, cell_norm=True), True, False, 1e-5)),
        "layer_norm_gru_layer": (ops.layer_norm_gru_layer.default,
                                 (x, None, h, weights(3, 1, 1, layer_norms=2), True, False, 1e-5)),
        "layer_norm": (ops.layer_norm.default, (x, [I], torch.ones(I).bfloat16(), torch.zeros(I).bfloat16(), 1e-5)),
    }
    opcheck(*samples[op])


@pytest.mark.parametrize("name", ["lstm", "gru", "rnn_tanh", "layer_norm_lstm", "layer_norm_gru"])
def test_autocast_runs_the_layer_ops_in_bfloat16(name):
    fn, inputs, params = CASES[name]
    weights = [p.clone().requires_grad_() for p in params]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        autocast = _as_tuple(fn(*inputs, *weights))
    assert all(a.dtype == torch.bfloat16 for a in autocast)
    reference = _as_tuple(fn(*inputs, *weights))
    for a, e in zip(autocast, reference):
        torch.testing.assert_close(a.float(), e, atol=5e-2, rtol=5e-2)
    grads = torch.autograd.grad(autocast[0].float().sum(), weights)
    expected = torch.autograd.grad(reference[0].sum(), weights)
    for g, e in zip(grads, expected):
        assert g.dtype == torch.float32  # the casts are differentiable: weight grads come back in float32
        assert (g - e).abs().max() <= 5e-2 * e.abs().max().clamp_min(1.0)


@pytest.mark.parametrize("cell, variant", [("LSTM", "stack"), ("LSTM", "proj"), ("LSTM", "packed"),
                                           ("GRU", "stack"), ("GRU", "packed"), ("RNN", "stack"),
                                           ("RNN", "packed")])
def test_bfloat16_no_further_from_float32_than_torch_nn(cell, variant):
    """At sizes where the kernels' blocked products run (several 32-unit panels and a tail, batch
    rows past the 8-row tile, depth past one pair block), ours in bfloat16 and torch.nn in bfloat16
    both from the float32 module on the same values: ours may not be further off than torch.nn's,
    give or take 0.2 % of the magnitude (each rounds in different places; measured, ours is the
    closer of the two in every output and gradient)."""
    torch.manual_seed(3)
    I_, H_, T_, B_ = 40, 72, 9, 11
    kwargs = dict(num_layers=2, bidirectional=True) if variant == "stack" else {}
    if variant == "proj":
        kwargs = dict(proj_size=24)
    reference = getattr(torch.nn, cell)(I_, H_, **kwargs)
    with torch.no_grad():
        for p in reference.parameters():
            p.copy_(p.bfloat16().float())
    theirs = getattr(torch.nn, cell)(I_, H_, **kwargs).bfloat16()
    theirs.load_state_dict(reference.state_dict())
    ours = getattr(torch_ext, cell)(I_, H_, **kwargs).bfloat16()
    ours.load_state_dict(reference.state_dict())
    x = torch.randn(T_, B_, I_).bfloat16().float()

    def run(module, dtype):
        leaf = x.detach().to(dtype).clone().requires_grad_()
        if variant == "packed":
            lengths = torch.tensor([9, 9, 8, 7, 7, 6, 5, 4, 3, 2, 1])
            packed = torch.nn.utils.rnn.pack_padded_sequence(leaf, lengths)
            output = module(packed)[0].data
        else:
            output = module(leaf)[0]
        weights = torch.randn(output.shape, generator=torch.Generator().manual_seed(4))
        (output.float() * weights).sum().backward()
        return [output.float()] + [leaf.grad.float()] + [p.grad.float() for p in module.parameters()]

    expected = run(reference, torch.float32)
    ours_results = run(ours, torch.bfloat16)
    theirs_results = run(theirs, torch.bfloat16)
    names = ["output", "input grad"] + [name for name, _ in reference.named_parameters()]
    for name, e, a, t in zip(names, expected, ours_results, theirs_results):
        ours_error = (a - e).abs().max().item()
        theirs_error = (t - e).abs().max().item()
        scale = e.abs().max().item()
        assert ours_error <= theirs_error + 2e-3 * scale, (name, ours_error, theirs_error, scale)


def _bf16_products() -> bool:
    """Whether the layers' bfloat16 calls multiply bfloat16 pairs here (AVX512-BF16, and ATen at
    its AVX512 capability): else every bfloat16 call widens its tensors."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            flags = cpuinfo.read()
    except OSError:
        return False
    return "avx512_bf16" in flags and torch.backends.cpu.get_cpu_capability() == "AVX512"


@pytest.mark.skipif(not _bf16_products(), reason="no bfloat16 products here: both paths widen")
@pytest.mark.parametrize("cell, kwargs, packed", [
    ("LSTM", dict(num_layers=2, bidirectional=True), False),
    ("LSTM", dict(proj_size=7), False),
    ("LSTM", dict(proj_size=7, bidirectional=True), True),
    ("LSTM", dict(bias=False), True),
    ("GRU", dict(num_layers=2, bidirectional=True), False),
    ("GRU", {}, True),
    ("GRU", dict(reset_after=False), False),
    ("GRU", dict(reset_after=False, bidirectional=True), True),
    ("RNN", dict(num_layers=2, bidirectional=True), False),
    ("RNN", dict(nonlinearity="relu"), True),
])
@pytest.mark.parametrize("split", ["units", "batch"])
def test_bfloat16_storage_read_as_its_float32_copy(cell, kwargs, packed, split, monkeypatch):
    """A bfloat16 call hands the tensors that only enter products (input, weights, the saved
    output) and its incoming gradients to the kernels in their bfloat16 storage. Rounding a
    bfloat16 value is exact, so outputs and gradients are bitwise those of the float32 copies the
    call made before (TORCH_EXT_BF16_OPERANDS=widen still makes them), for a dense output gradient
    and for sum()'s expanded one, with gradients of the final states too. 72 units are three
    32-unit panels, split between the threads; some inputs are bfloat16 denormals (the products
    treat them as zero either way)."""
    monkeypatch.setenv("TORCH_EXT_RECURRENCE_SPLIT", split)
    torch.manual_seed(5)
    I_, H_, T_, B_ = 10, 72, 7, 6
    module = getattr(torch_ext, cell)(I_, H_, **kwargs).bfloat16()
    x = torch.randn(T_, B_, I_)
    x[:, :, 0] = 3e-39
    x = x.bfloat16()
    lengths = torch.tensor([7, 7, 5, 4, 2, 1])

    def run():
        results = []
        for expanded in (False, True):
            module.zero_grad()
            leaf = x.clone().requires_grad_()
            inputs = torch.nn.utils.rnn.pack_padded_sequence(leaf, lengths) if packed else leaf
            output, state = module(inputs)
            output = output.data if packed else output
            states = state if isinstance(state, tuple) else (state,)
            if expanded:
                loss = output.sum()
            else:
                dense = torch.randn(output.shape, generator=torch.Generator().manual_seed(6))
                loss = (output.float() * dense.bfloat16().float()).sum()
            loss = loss + sum(s.float().sum() * 0.5 for s in states)
            loss.backward()
            results += [output, *states, leaf.grad] + [p.grad for p in module.parameters()]
        return results

    storage = run()
    monkeypatch.setenv("TORCH_EXT_BF16_OPERANDS", "widen")
    widened = run()
    assert len(storage) == len(widened)
    for a, b in zip(storage, widened):
        assert a.dtype == b.dtype == torch.bfloat16
        assert torch.equal(a, b)


@pytest.mark.skipif(not _bf16_products(), reason="no bfloat16 products here: both paths widen")
@pytest.mark.parametrize("cell, kwargs, packed", [
    ("LSTM", {}, False),
    ("LSTM", dict(proj_size=5), True),
    ("GRU", {}, False),
    ("GRU", dict(reset_after=False), True),
    ("RNN", {}, False),
    ("RNN", dict(nonlinearity="relu"), True),
])
def test_bfloat16_input_and_weight_gradients_rounded_as_written(cell, kwargs, packed, monkeypatch):
    """A one-direction bfloat16 call writes dX, and (its backward being one window) the weight
    gradients, in bfloat16: each block of rows is summed in float and rounded once as it is
    written (csrc/kernels/bf16_gemm.cpp gemm_bf16_rounded), with no float32 copy held. With 2048
    input features dX (320 or 282 rows) has fewer rows than columns and a packed W_ih past 64 KiB,
    so its columns go in groups of 512; the gradients are bitwise the narrowed float32 ones of the
    widening path, which holds them whole."""
    torch.manual_seed(7)
    I_, H_, T_, B_ = 2048, 24, 40, 8
    module = getattr(torch_ext, cell)(I_, H_, **kwargs).bfloat16()
    x = torch.randn(T_, B_, I_).bfloat16()
    lengths = torch.tensor([40, 40, 40, 38, 36, 33, 30, 25])  # 282 rows packed

    def run():
        module.zero_grad()
        leaf = x.clone().requires_grad_()
        inputs = torch.nn.utils.rnn.pack_padded_sequence(leaf, lengths) if packed else leaf
        output, _ = module(inputs)
        output = output.data if packed else output
        dense = torch.randn(output.shape, generator=torch.Generator().manual_seed(8))
        (output.float() * dense.bfloat16().float()).sum().backward()
        return [leaf.grad] + [p.grad for p in module.parameters()]

    storage = run()
    monkeypatch.setenv("TORCH_EXT_BF16_OPERANDS", "widen")
    widened = run()
    assert storage[0].abs().sum() > 0
    for a, b in zip(storage, widened):
        assert a.dtype == b.dtype == torch.bfloat16
        assert torch.equal(a, b)
