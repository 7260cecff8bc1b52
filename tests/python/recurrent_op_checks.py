"""The checks every op family of a one-state recurrence passes (rnn_testing.Recurrence: the GRU in
both forms, the tanh and ReLU RNNs). RecurrenceOpChecks: values and every gradient against the
reference (ATen's op, or the plain-PyTorch recurrence where ATen has none), gradcheck in float64,
opcheck, Meta kernels, bad input, sizes at the edges, long sequences and the autograd graph.
RecurrenceKernelChecks: the kernels at sizes where threads split a direction's hidden units.

A test module subclasses them as Test<Family> with `family` set; pytest collects the subclass
with every check, and the module adds what is particular to its family."""

import itertools
from typing import Callable, Dict, Iterator, List, Tuple

import pytest
import torch
from torch import Tensor
from torch.library import opcheck
from torch.nn.utils.rnn import pack_sequence

import torch_ext  # noqa: F401  (registers the ops)
from rnn_testing import (
    Recurrence,
    assert_memory_linear_in_length,
    autograd_graph_size,
    batch_for_two_threads,
    compare_recurrence_with_reference,
    compare_with_gradients,
    intra_op_threads,
)

ops = torch.ops.torch_ext
DTYPES = [torch.float32, torch.float64]
GRID = list(
    itertools.product(
        [1, 2, 3],  # num_layers
        [True, False],  # bias
        [False, True],  # bidirectional
        [False, True],  # batch_first
    )
)
CELL_BIASES = ["both", "none", "ih", "hh"]


def _cell_inputs(family: Recurrence, biases: str, dtype: torch.dtype, batch: int = 4) -> List[Tensor]:
    """x, h, w_ih, w_hh and the biases `biases` names (None for the others), requiring grad."""
    I, H, G = 3, 5, family.gates
    x = torch.randn(batch, I, dtype=dtype, requires_grad=True)
    h = torch.randn(batch, H, dtype=dtype, requires_grad=True)
    w_ih = torch.randn(G * H, I, dtype=dtype, requires_grad=True)
    w_hh = torch.randn(G * H, H, dtype=dtype, requires_grad=True)
    b_ih = torch.randn(G * H, dtype=dtype, requires_grad=True) if biases in ("both", "ih") else None
    b_hh = torch.randn(G * H, dtype=dtype, requires_grad=True) if biases in ("both", "hh") else None
    return [x, h, w_ih, w_hh, b_ih, b_hh]


def _layer_inputs(family: Recurrence, bidirectional: bool, packed: bool, bias: bool = True) -> Tuple:
    """(x, batch_sizes or None, h0, params) of one float64 layer: padded [4, 3, 3] or packed."""
    I, H = 3, 4
    D = 2 if bidirectional else 1
    params = family.params(I, H, 1, bias, bidirectional)
    if packed:
        batch_sizes = torch.tensor([4, 4, 3, 1, 1])
        x = torch.randn(int(batch_sizes.sum()), I, dtype=torch.float64, requires_grad=True)
    else:
        batch_sizes = None
        x = torch.randn(4, 3, I, dtype=torch.float64, requires_grad=True)
    B = 4 if packed else 3
    h0 = torch.randn(D, B, H, dtype=torch.float64, requires_grad=True)
    return x, batch_sizes, h0, params


class RecurrenceOpChecks:
    family: Recurrence

    @pytest.fixture(autouse=True)
    def one_intra_op_thread(self) -> Iterator[None]:
        """The op-level checks run on one intra-op thread; the kernel tests (tests/python/kernels)
        run teams of threads. Their sizes are tiny, and on a loaded machine with few cores a
        parallel region costs more than it computes: a bidirectional layer of 4 units, whose
        directions run on two threads at once, takes ~3 ms there instead of ~15 µs on one."""
        with intra_op_threads(1):
            yield

    def assert_sequence_matches_reference(self, x: Tensor, h0: Tensor, params: List[Tensor], *args) -> None:
        """<name>.input(x, h0, params, *args) against the reference: values and every gradient."""
        family = self.family
        compare_with_gradients(
            lambda x, h0, *p: family.sequence(x, h0, list(p), *args),
            lambda x, h0, *p: family.reference_sequence(x, h0, list(p), *args),
            [x, h0, *params],
        )

    # --- values and gradients against the reference ------------------------------------------------

    @pytest.mark.parametrize("dtype", DTYPES)
    @pytest.mark.parametrize("num_layers,bias,bidirectional,batch_first", GRID)
    def test_input_matches_reference(self, num_layers, bias, bidirectional, batch_first, dtype):
        family = self.family
        torch.manual_seed(0)
        T, B, I, H = 5, 3, 4, 6
        D = 2 if bidirectional else 1
        params = family.params(I, H, num_layers, bias, bidirectional, dtype)
        x = torch.randn((B, T, I) if batch_first else (T, B, I), dtype=dtype, requires_grad=True)
        h0 = torch.randn(num_layers * D, B, H, dtype=dtype, requires_grad=True)
        args = (bias, num_layers, 0.0, False, bidirectional, batch_first)
        self.assert_sequence_matches_reference(x, h0, params, *args)

    @pytest.mark.parametrize("dtype", DTYPES)
    @pytest.mark.parametrize("bidirectional,num_layers,bias", [(False, 1, True), (True, 2, True), (True, 3, False)])
    def test_data_matches_reference(self, bidirectional, num_layers, bias, dtype):
        family = self.family
        torch.manual_seed(1)
        I, H = 4, 5
        D = 2 if bidirectional else 1
        lengths = [7, 5, 5, 2, 1]
        packed = pack_sequence([torch.randn(n, I, dtype=dtype) for n in lengths])
        data = packed.data.clone().requires_grad_()
        params = family.params(I, H, num_layers, bias, bidirectional, dtype)
        h0 = torch.randn(num_layers * D, len(lengths), H, dtype=dtype, requires_grad=True)
        args = (bias, num_layers, 0.0, False, bidirectional)
        compare_with_gradients(
            lambda data, h0, *p: family.packed(data, packed.batch_sizes, h0, list(p), *args),
            lambda data, h0, *p: family.reference_packed(data, packed.batch_sizes, h0, list(p), *args),
            [data, h0, *params],
        )

    @pytest.mark.parametrize("dtype", DTYPES)
    @pytest.mark.parametrize("biases", CELL_BIASES)
    def test_cell_matches_reference(self, biases, dtype):
        torch.manual_seed(2)
        inputs = _cell_inputs(self.family, biases, dtype)
        compare_with_gradients(
            lambda *_: self.family.cell(*inputs),
            lambda *_: self.family.reference_cell(*inputs),
            [t for t in inputs if t is not None],
        )

    @pytest.mark.parametrize("bidirectional", [False, True])
    @pytest.mark.parametrize("packed", [False, True])
    def test_layer_matches_plain_reference(self, bidirectional, packed):
        torch.manual_seed(3)
        x, batch_sizes, h0, params = _layer_inputs(self.family, bidirectional, packed)
        compare_with_gradients(
            lambda x, h0, *p: self.family.layer(x, batch_sizes, h0, p, True, bidirectional),
            lambda x, h0, *p: self.family.plain_layer(x, batch_sizes, h0, p, True, bidirectional),
            [x, h0, *params],
        )

    def test_plain_reference_matches_aten(self):
        """The reference the layer op is held to agrees with ATen, padded and packed, where ATen
        has the op."""
        family = self.family
        if not family.matches_aten:
            pytest.skip(f"ATen has no {family.name}: its reference shares the loop checked with the other forms")
        torch.manual_seed(4)
        params = family.params(3, 4, 2, True, True)
        x = torch.randn(2, 5, 3, dtype=torch.float64, requires_grad=True)
        h0 = torch.randn(4, 2, 4, dtype=torch.float64, requires_grad=True)
        args = (True, 2, 0.0, False, True, True)
        compare_with_gradients(
            lambda x, h0, *p: family.plain_sequence(x, h0, list(p), *args),
            lambda x, h0, *p: getattr(torch, family.name)(x, h0, list(p), *args),
            [x, h0, *params],
        )
        batch_sizes = torch.tensor([2, 2, 1])
        data = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
        packed_args = (True, 2, 0.0, False, True)
        compare_with_gradients(
            lambda d, h0, *p: family.plain_packed(d, batch_sizes, h0, list(p), *packed_args),
            lambda d, h0, *p: getattr(torch, family.name)(d, batch_sizes, h0, list(p), *packed_args),
            [data, h0, *params],
        )

    def test_non_contiguous_inputs_and_weights(self):
        family = self.family
        torch.manual_seed(5)
        T, B, I, H = 4, 3, 5, 6
        params = family.params(I, H, 2, True, True)
        # The same values, laid out transposed in memory.
        strided = [p.detach().t().contiguous().t().requires_grad_() if p.dim() == 2 else p for p in params]
        x = torch.randn(B, T, I, dtype=torch.float64).transpose(0, 1).requires_grad_()
        h0 = torch.randn(B, 4, H, dtype=torch.float64).transpose(0, 1).requires_grad_()
        assert not x.is_contiguous() and not strided[0].is_contiguous() and not h0.is_contiguous()
        args = (True, 2, 0.0, False, True, False)
        self.assert_sequence_matches_reference(x, h0, strided, *args)

    def test_no_grad_and_inference_mode_match_training_forward(self):
        family = self.family
        torch.manual_seed(6)
        params = family.params(3, 4, 2, True, True, torch.float32)
        x = torch.randn(6, 2, 3, requires_grad=True)
        hx = torch.zeros(4, 2, 4)
        args = (True, 2, 0.0, False, True, False)
        trained = family.sequence(x, hx, params, *args)
        with torch.no_grad():
            no_grad = family.sequence(x, hx, params, *args)
        with torch.inference_mode():
            inference = family.sequence(x, hx, params, *args)
        for a, b, c in zip(trained, no_grad, inference):
            assert torch.equal(a.detach(), b) and torch.equal(b, c)
        assert all(t.grad_fn is not None for t in trained)
        assert all(t.grad_fn is None for t in no_grad)

    def test_one_autograd_node_per_layer_whatever_the_length(self):
        family = self.family

        def graph_size(steps: int) -> int:
            params = family.params(3, 4, 2, True, True, torch.float32)
            x = torch.randn(steps, 2, 3, requires_grad=True)
            output, _ = family.sequence(x, torch.zeros(4, 2, 4), params, True, 2, 0.0, False, True, False)
            return autograd_graph_size(output)

        assert graph_size(3) == graph_size(300)
        # Two layer nodes plus the leaves' accumulators and a handful of views.
        assert graph_size(3) < 30

    # --- gradcheck (float64) -------------------------------------------------------------------------

    def test_gradcheck_input(self):
        family = self.family
        torch.manual_seed(7)
        params = family.params(3, 4, 2, True, True)
        x = torch.randn(2, 4, 3, dtype=torch.float64, requires_grad=True)  # batch_first: B=2, T=4
        h0 = torch.randn(4, 2, 4, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(
            lambda x, h0, *p: family.sequence(x, h0, list(p), True, 2, 0.0, False, True, True), (x, h0, *params)
        )

    def test_gradcheck_data(self):
        family = self.family
        torch.manual_seed(8)
        params = family.params(3, 4, 2, False, True)
        batch_sizes = torch.tensor([3, 2, 2, 1])
        data = torch.randn(8, 3, dtype=torch.float64, requires_grad=True)
        h0 = torch.randn(4, 3, 4, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(
            lambda d, h0, *p: family.packed(d, batch_sizes, h0, list(p), False, 2, 0.0, False, True),
            (data, h0, *params),
        )

    @pytest.mark.parametrize("biases", ["both", "ih"])
    def test_gradcheck_cell(self, biases):
        torch.manual_seed(9)
        x, h, w_ih, w_hh, b_ih, b_hh = _cell_inputs(self.family, biases, torch.float64, batch=3)
        if b_ih is None:
            fn = lambda x, h, w_ih, w_hh: self.family.cell(x, h, w_ih, w_hh)  # noqa: E731
            assert torch.autograd.gradcheck(fn, (x, h, w_ih, w_hh))
        elif b_hh is None:
            fn = lambda x, h, w_ih, w_hh, b_ih: self.family.cell(x, h, w_ih, w_hh, b_ih, None)  # noqa: E731
            assert torch.autograd.gradcheck(fn, (x, h, w_ih, w_hh, b_ih))
        else:
            assert torch.autograd.gradcheck(self.family.cell, (x, h, w_ih, w_hh, b_ih, b_hh))

    @pytest.mark.parametrize("packed", [False, True])
    def test_gradcheck_layer_bidirectional(self, packed):
        torch.manual_seed(10)
        x, batch_sizes, h0, params = _layer_inputs(self.family, True, packed)
        assert torch.autograd.gradcheck(
            lambda x, h0, *p: self.family.layer(x, batch_sizes, h0, p, True, True), (x, h0, *params)
        )

    def test_gradcheck_with_only_some_outputs_used(self):
        """Backward receives no gradient for the unused output (h_n, or output)."""
        family = self.family
        torch.manual_seed(11)
        params = family.params(3, 4, 1, True, False)
        x = torch.randn(3, 2, 3, dtype=torch.float64, requires_grad=True)
        h0 = torch.randn(1, 2, 4, dtype=torch.float64, requires_grad=True)
        for pick in range(2):
            assert torch.autograd.gradcheck(
                lambda x, h0, *p: family.sequence(x, h0, list(p), True, 1, 0.0, False, False, False)[pick],
                (x, h0, *params),
            )

    # --- opcheck ----------------------------------------------------------------------------------------

    def opcheck_samples(self) -> Dict[str, Tuple[Callable, tuple]]:
        family = self.family
        torch.manual_seed(12)
        params = family.params(3, 4, 2, True, True)
        x = torch.randn(5, 2, 3, dtype=torch.float64, requires_grad=True)
        h0 = torch.randn(4, 2, 4, dtype=torch.float64, requires_grad=True)
        batch_sizes = torch.tensor([2, 2, 1])
        data = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
        layer = params[: len(params) // 2]
        cell = _cell_inputs(family, "both", torch.float64, batch=2)
        layer_op = getattr(ops, family.layer_name).default
        samples = {
            "input": (family.op().input, (x, h0, params, True, 2, 0.0, False, True, False)),
            "input.batch_first": (
                family.op().input,
                (x.detach().transpose(0, 1).requires_grad_(), h0, params, True, 2, 0.0, False, True, True),
            ),
            "data": (family.op().data, (data, batch_sizes, h0, params, True, 2, 0.0, False, True)),
            "cell": (family.op("_cell").default, tuple(cell)),
            "layer": (layer_op, (x, None, h0[:2], layer, True, True, family.layer_mode)),
            "layer.packed": (layer_op, (data, batch_sizes, h0[:2], layer, True, True, family.layer_mode)),
        }
        # The layer op's halves take no inputs that require grad (the autograd kernel calls them).
        detached = [p.detach() for p in layer]
        x, h0 = x.detach(), h0[:2].detach()
        mode = family.layer_mode
        if family.layer_name == "gru_layer":
            saved = ops._gru_layer_forward(x, None, h0, detached, True, True, mode)
            samples["_gru_layer_forward"] = (ops._gru_layer_forward.default, (x, None, h0, detached, True, True, mode))
            samples["_gru_layer_backward"] = (
                ops._gru_layer_backward.default,
                (torch.randn_like(saved[0]), torch.randn_like(saved[1]), x, None, h0, detached, True, True, mode)
                + (saved[0], saved[2], saved[3], True),
            )
        else:
            output, hy = ops.rnn_layer(x, None, h0, detached, True, True, mode)
            samples["_rnn_layer_backward"] = (
                ops._rnn_layer_backward.default,
                (torch.randn_like(output), None, x, None, h0, detached, True, True, mode, output, True),
            )
        return samples

    @pytest.mark.parametrize(
        "sample", ["input", "input.batch_first", "data", "cell", "layer", "layer.packed", "layer halves"]
    )
    def test_opcheck(self, sample):
        samples = self.opcheck_samples()
        if sample == "layer halves":
            names = [name for name in samples if name.startswith("_")]
            assert names
        else:
            names = [sample]
        for name in names:
            op, args = samples[name]
            opcheck(op, args)

    def test_meta_kernels_give_shapes_without_data(self):
        family = self.family
        params = [p.to("meta") for p in family.params(3, 4, 2, True, True)]
        meta = dict(device="meta", dtype=torch.float64)
        x = torch.empty(7, 5, 3, **meta)
        h0 = torch.empty(4, 5, 4, **meta)
        output, hy = family.sequence(x, h0, params, True, 2, 0.0, False, True, False)
        assert output.device.type == "meta" and hy.device.type == "meta"
        assert (output.shape, hy.shape) == ((7, 5, 8), (4, 5, 4))
        data, batch_sizes = torch.empty(9, 3, **meta), torch.tensor([5, 3, 1])
        output, hy = family.packed(data, batch_sizes, h0, params, True, 2, 0.0, False, True)
        assert (output.shape, hy.shape) == ((9, 8), (4, 5, 4))
        output, hy = family.layer(x, None, h0[:2], params[:8], True, True)
        assert (output.device.type, output.shape, hy.shape) == ("meta", (7, 5, 8), (2, 5, 4))
        G = family.gates
        h = family.cell(torch.empty(5, 3, **meta), h0[0], torch.empty(G * 4, 3, **meta), torch.empty(G * 4, 4, **meta))
        assert (h.device.type, h.shape) == ("meta", (5, 4))

    # --- bad input ---------------------------------------------------------------------------------------

    def _valid_call(self) -> dict:
        params = self.family.params(3, 4, 2, True, False, torch.float32, requires_grad=False)
        return dict(
            input=torch.randn(5, 2, 3),
            hx=torch.zeros(2, 2, 4),
            params=params,
            has_biases=True,
            num_layers=2,
            dropout=0.0,
            train=False,
            bidirectional=False,
            batch_first=False,
        )

    def bad_inputs(self) -> Dict[str, Tuple[dict, str]]:
        """Each case: the changes to a valid call, and a fragment of the message it raises."""
        G4 = self.family.gates * 4
        return {
            "input 2-D": (dict(input=torch.randn(5, 3)), "expected input to be 3-D"),
            "input int": (
                dict(input=torch.ones(5, 2, 3, dtype=torch.long)),
                "expected input to be float32, float64 or bfloat16, got Long",
            ),
            "input size": (
                dict(input=torch.randn(5, 2, 7)),
                "input.size(-1) must be equal to input_size. Expected 3, got 7",
            ),
            "seq len 0": (dict(input=torch.randn(0, 2, 3)), "sequence length to be larger than 0"),
            "hx batch": (dict(hx=torch.zeros(2, 3, 4)), "hx[0] of shape [2, 2, 4], got [2, 3, 4]"),
            "hx layers": (dict(hx=torch.zeros(1, 2, 4)), "hx[0] of shape [2, 2, 4], got [1, 2, 4]"),
            "hx size": (dict(hx=torch.zeros(2, 2, 5)), f"weight_ih_l0 of shape [{G4 // 4 * 5}, 3], got [{G4}, 3]"),
            "hx dims": (dict(hx=torch.zeros(2, 4)), "expected hx[0] to be 3-D"),
            "hx int": (
                dict(hx=torch.zeros(2, 2, 4, dtype=torch.long)),
                "expected hx[0] to be float32, float64 or bfloat16, got Long",
            ),
            "hx dtype": (
                dict(hx=torch.zeros(2, 2, 4, dtype=torch.float64)),
                "expected hx[0] to have the dtype of input (Float), got Double",
            ),
            "params count": (dict(params=lambda p: p[:7]), "expected params to hold 8 tensors"),
            "params without biases": (dict(has_biases=False), "expected params to hold 4 tensors"),
            "weight shape": (
                dict(params=lambda p: p[:5] + [torch.zeros(G4, 5)] + p[6:]),
                f"weight_hh_l1 of shape [{G4}, 4], got [{G4}, 5]",
            ),
            "bias shape": (dict(params=lambda p: p[:2] + [torch.zeros(G4 + 1)] + p[3:]), f"bias_ih_l0 of shape [{G4}]"),
            "weight dtype": (
                dict(params=lambda p: [p[0].double()] + p[1:]),
                "expected weight_ih_l0 to have the dtype of input (Float), got Double",
            ),
            "weight device": (
                dict(params=lambda p: [p[0].to("meta")] + p[1:]),
                "expected weight_ih_l0 on the device of input (cpu), got meta",
            ),
            "input device": (dict(input=torch.empty(5, 2, 3, device="meta")), "on the device of input (meta), got cpu"),
            "dropout": (dict(dropout=1.5), "expected dropout in [0, 1], got 1.5"),
            "num_layers": (dict(num_layers=0), "expected num_layers >= 1, got 0"),
        }

    @pytest.mark.parametrize(
        "case",
        [
            "input 2-D", "input int", "input size", "seq len 0", "hx batch", "hx layers", "hx size", "hx dims",
            "hx int", "hx dtype", "params count", "params without biases", "weight shape", "bias shape",
            "weight dtype", "weight device", "input device", "dropout", "num_layers",
        ],
    )  # fmt: skip
    def test_bad_input_raises_clear_error(self, case):
        changes, message = self.bad_inputs()[case]
        call = self._valid_call()
        for key, value in changes.items():
            call[key] = value(call[key]) if callable(value) else value
        with pytest.raises(RuntimeError) as error:
            self.family.sequence(*call.values())
        assert message in str(error.value)
        # The op that refused names itself: the public op, or its layer op for the sequence length.
        assert f"torch_ext::{self.family.layer_name if case == 'seq len 0' else self.family.name}:" in str(error.value)

    @pytest.mark.parametrize(
        "sizes,message",
        [
            ([2, 3], "non-increasing"),
            ([3, 0], "positive"),
            ([3, 1], "sum to 4 but the packed data has 5 rows"),
            ([], "larger than 0"),
            ([2, 2, 1], "batch_sizes[0] = 2 but the hidden state holds 3 sequences"),
        ],
        ids=["increasing", "zero", "sum", "empty", "batch vs hidden"],
    )
    def test_bad_batch_sizes_raise_clear_error(self, sizes, message):
        params = self.family.params(3, 4, 1, True, False, torch.float32, requires_grad=False)
        batch_sizes = torch.tensor(sizes, dtype=torch.int64)
        with pytest.raises(RuntimeError) as error:
            self.family.packed(torch.randn(5, 3), batch_sizes, torch.zeros(1, 3, 4), params, True, 1, 0.0, False, False)
        assert message in str(error.value)

    @pytest.mark.parametrize(
        "batch_sizes,message",
        [
            (torch.tensor([2, 2], dtype=torch.int32), "expected batch_sizes to be int64, got Int"),
            (torch.tensor([[2, 2]]), "expected batch_sizes to be 1-D, got 2-D"),
        ],
        ids=["int32", "2-D"],
    )
    def test_batch_sizes_dtype_and_dims_are_checked(self, batch_sizes, message):
        params = self.family.params(3, 4, 1, True, False, torch.float32, requires_grad=False)
        with pytest.raises(RuntimeError, match=message):
            self.family.packed(torch.randn(4, 3), batch_sizes, torch.zeros(1, 2, 4), params, True, 1, 0.0, False, False)

    def test_packed_data_must_be_2d(self):
        params = self.family.params(3, 4, 1, True, False, torch.float32, requires_grad=False)
        with pytest.raises(RuntimeError, match=f"torch_ext::{self.family.name}: expected data to be 2-D"):
            self.family.packed(
                torch.randn(4, 1, 3), torch.tensor([2, 2]), torch.zeros(1, 2, 4), params, True, 1, 0.0, False, False
            )

    @pytest.mark.parametrize(
        "input_shape,h_shape,message",
        [
            ((3, 7), (3, 5), "input has inconsistent input_size: got 7 expected 4"),
            ((3, 4), (2, 5), "Input batch size 3 doesn't match hidden0 batch size 2"),
            ((3, 4), (3, 6), "hidden0 has inconsistent hidden_size: got 6, expected 5"),
        ],
    )
    def test_cell_bad_input_messages_match_aten(self, input_shape, h_shape, message):
        """ATen's gru_cell (for both GRU forms) / rnn_*_cell raise the same words."""
        G = self.family.gates
        weights = (torch.randn(G * 5, 4), torch.randn(G * 5, 5), torch.randn(G * 5), torch.randn(G * 5))
        args = (torch.randn(*input_shape), torch.zeros(*h_shape), *weights)
        with pytest.raises(RuntimeError) as ours:
            self.family.cell(*args)
        with pytest.raises(RuntimeError) as aten:
            getattr(torch, self.family.aten_name + "_cell")(*args)
        assert message in str(ours.value) and message in str(aten.value)

    def test_cell_one_dimensional_state_raises_index_error_as_aten(self):
        """A 1-D state of the batch's length fails reading its size(1), in ATen's order; ours
        names the state (ATen's message names no argument; found by the fuzzer)."""
        G = self.family.gates
        args = (torch.randn(3, 4), torch.zeros(3), torch.randn(G * 5, 4), torch.randn(G * 5, 5))
        with pytest.raises(IndexError):
            getattr(torch, self.family.aten_name + "_cell")(*args)
        with pytest.raises(IndexError, match=r"expected hx\[0\] to be 2-D \[batch, hidden_size\], got a 1-D tensor"):
            self.family.cell(*args)

    @pytest.mark.parametrize(
        "change,message",
        [
            ("input 3-D", "expected input to be 2-D [batch, input_size]"),
            ("hx 3-D", "expected hx[0] to be 2-D [batch, hidden_size]"),
            ("hx int", "expected hx[0] to be float32, float64 or bfloat16, got Long"),
            ("w_ih 1-D", "expected w_ih to be 2-D"),
            ("w_hh dtype", "expected weight_hh_l0 to have the dtype of input (Float), got Double"),
        ],
    )
    def test_cell_bad_input_names_the_argument(self, change, message):
        G = self.family.gates
        args = dict(x=torch.randn(3, 4), h=torch.zeros(3, 5), w_ih=torch.randn(G * 5, 4), w_hh=torch.randn(G * 5, 5))
        changed = {
            "input 3-D": dict(x=torch.randn(3, 3, 4)),
            "hx 3-D": dict(h=torch.zeros(3, 5, 1)),
            "hx int": dict(h=torch.zeros(3, 5, dtype=torch.int64)),
            "w_ih 1-D": dict(w_ih=torch.randn(G * 5)),
            "w_hh dtype": dict(w_hh=torch.randn(G * 5, 5, dtype=torch.float64)),
        }[change]
        args.update(changed)
        with pytest.raises(RuntimeError) as error:
            self.family.cell(*args.values())
        assert message in str(error.value)

    # --- sizes at the edges -------------------------------------------------------------------------------

    def test_empty_batch(self):
        family = self.family
        params = family.params(3, 4, 2, True, True, torch.float32)
        x = torch.randn(5, 0, 3, requires_grad=True)
        h0 = torch.zeros(4, 0, 4, requires_grad=True)
        output, hy = family.sequence(x, h0, params, True, 2, 0.0, False, True, False)
        assert (output.shape, hy.shape) == ((5, 0, 8), (4, 0, 4))
        (output.sum() + hy.sum()).backward()
        assert x.grad.shape == x.shape and h0.grad.shape == h0.shape
        assert all(bool((p.grad == 0).all()) for p in params)
        cell = _cell_inputs(family, "both", torch.float32, batch=0)
        h = family.cell(*cell)
        assert h.shape == (0, 5)
        h.sum().backward()
        assert all(bool((w.grad == 0).all()) for w in cell[2:])

    def test_single_step_and_single_unit(self):
        family = self.family
        torch.manual_seed(13)
        params = family.params(1, 1, 1, True, True)
        x = torch.randn(1, 1, 1, dtype=torch.float64, requires_grad=True)
        h0 = torch.randn(2, 1, 1, dtype=torch.float64, requires_grad=True)
        args = (True, 1, 0.0, False, True, False)
        self.assert_sequence_matches_reference(x, h0, params, *args)

    @pytest.mark.parametrize("hidden_size", [15, 17, 33])
    def test_hidden_sizes_off_the_vector_width(self, hidden_size):
        """Tails shorter than a vector register take the masked path of the pointwise kernels."""
        family = self.family
        torch.manual_seed(14)
        params = family.params(5, hidden_size, 1, True, True, torch.float32)
        x = torch.randn(4, 3, 5, requires_grad=True)
        h0 = torch.randn(2, 3, hidden_size, requires_grad=True)
        args = (True, 1, 0.0, False, True, False)
        self.assert_sequence_matches_reference(x, h0, params, *args)

    def test_dropout_between_layers_only_in_training(self):
        family = self.family
        torch.manual_seed(15)
        params = family.params(3, 8, 2, True, False, torch.float32, requires_grad=False)
        x = torch.randn(6, 4, 3)
        hx = torch.zeros(2, 4, 8)
        plain = family.sequence(x, hx, params, True, 2, 0.0, False, False, False)[0]
        evaluated = family.sequence(x, hx, params, True, 2, 0.5, False, False, False)[0]
        trained_a = family.sequence(x, hx, params, True, 2, 0.5, True, False, False)[0]
        trained_b = family.sequence(x, hx, params, True, 2, 0.5, True, False, False)[0]
        assert torch.equal(plain, evaluated)
        assert not torch.allclose(trained_a, plain) and not torch.allclose(trained_a, trained_b)
        # No dropout after the last layer: a single layer is unaffected.
        assert torch.equal(
            family.sequence(x, hx[:1], params[:4], True, 1, 0.5, True, False, False)[0],
            family.sequence(x, hx[:1], params[:4], True, 1, 0.0, False, False, False)[0],
        )

    def test_dropout_matches_aten_under_the_same_seed(self):
        """Dropout draws its mask with at::dropout after each non-last layer, as ATen does."""
        family = self.family
        if not family.matches_aten:
            pytest.skip(f"ATen has no {family.name}")
        params = family.params(3, 8, 3, True, False, requires_grad=False)
        x = torch.randn(6, 4, 3, dtype=torch.float64)
        hx = torch.zeros(3, 4, 8, dtype=torch.float64)
        torch.manual_seed(16)
        ours = family.sequence(x, hx, params, True, 3, 0.3, True, False, False)
        torch.manual_seed(16)
        aten = getattr(torch, family.name)(x, hx, params, True, 3, 0.3, True, False, False)
        for a, b in zip(ours, aten):
            torch.testing.assert_close(a, b)

    def test_long_sequence_memory_is_linear_in_length(self):
        """A 20,000-step sequence trains (forward + backward); peak memory grows linearly."""
        assert_memory_linear_in_length(self.family.name, self.family.mode)

    def test_double_backward_raises_instead_of_returning_zeros(self):
        family = self.family
        torch.manual_seed(17)
        params = family.params(3, 5)
        x = torch.randn(3, 2, 3, dtype=torch.float64, requires_grad=True)
        h0 = torch.zeros(1, 2, 5, dtype=torch.float64)
        output = family.sequence(x, h0, params, True, 1, 0.0, True, False, False)[0]
        (grad_x,) = torch.autograd.grad(output.sum(), x, create_graph=True)
        backward = f"torch_ext::_{family.layer_name}_backward"
        with pytest.raises(RuntimeError, match=f"derivative for {backward} is not implemented"):
            torch.autograd.grad(grad_x.pow(2).sum(), params[0])


# --- the kernels under teams of threads ----------------------------------------------------------------

# (steps, input_size, hidden_size, bidirectional, packed), with the smallest batch whose per-step
# W_hh product is worth two threads to a direction: several 32-unit blocks, some ending in a
# partial block.
KERNEL_CASES = [
    (6, 24, 100, False, False),  # 4 blocks, the last of 4 units
    (6, 16, 96, False, True),  # 3 full blocks, packed
    (5, 20, 80, True, True),  # bidirectional and packed: both directions at once
]


class RecurrenceKernelChecks:
    family: Recurrence

    @pytest.mark.parametrize("threads", [1, 2])
    @pytest.mark.parametrize("dtype", DTYPES)
    @pytest.mark.parametrize("case", KERNEL_CASES, ids=str)
    def test_multithreaded_recurrence_matches_reference(self, case, dtype, threads):
        steps, input_size, hidden_size, bidirectional, packed = case
        batch = batch_for_two_threads(self.family.gates, hidden_size)
        compare_recurrence_with_reference(
            self.family, steps, batch, input_size, hidden_size, bidirectional, packed, dtype, threads
        )

    def test_results_do_not_depend_on_the_thread_count(self):
        family = self.family
        torch.manual_seed(1)
        params = family.params(32, 128, 1, True, True, torch.float32)
        x = torch.randn(10, batch_for_two_threads(family.gates, 128), 32)
        h0 = torch.randn(2, x.shape[1], 128)
        results = []
        for threads in (1, 2, 4):
            with intra_op_threads(threads):
                xs = x.clone().requires_grad_()
                outputs = family.sequence(xs, h0, params, True, 1, 0.0, False, True, False)
                grads = torch.autograd.grad(sum(o.sum() for o in outputs), [xs, *params])
                results.append([o.detach() for o in outputs] + list(grads))
        # Per-unit work is identical whatever thread owns the unit; only the BLAS products that
        # span all threads may round differently.
        for single, *others in zip(*results):
            for other in others:
                torch.testing.assert_close(other, single, atol=1e-5, rtol=1e-5)
