"""The checks both layer-normalised recurrences pass (layer_norm_rnn_testing.LayerNormRecurrence:
the LSTM and the GRU): values and every gradient of .input, .data, the cell and the layer op
against the plain-PyTorch reference, gradcheck in float64, opcheck (the layer's halves included),
Meta kernels, bad input, sizes at the edges, dropout, the kernels' threads and CPU variants.

A test module subclasses LayerNormOpChecks as Test<Family> with `family` set; pytest collects the
subclass with every check below, and the module adds what is particular to its family."""

import itertools
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import pytest
import torch
from torch import Tensor
from torch.library import opcheck
from torch.nn.utils.rnn import pack_sequence

from layer_norm_rnn_testing import CPU_VARIANTS, EPS, LayerNormRecurrence, check_cpu_variant, compare_sequence
from rnn_testing import autograd_graph_size, intra_op_threads, useful_team_size

DTYPES = [torch.float32, torch.float64]
GRID = list(
    itertools.product(
        [1, 2, 3],  # num_layers
        [True, False],  # bias
        [False, True],  # bidirectional
        [False, True],  # batch_first
    )
)
NN_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")

# Sizes at which one direction's team takes both threads (rnn_testing.useful_team_size: one thread
# per 2^18 flops of a step's W_hh product, at most one per 32-unit block; the GRU at B = 24, H = 64
# has 2.25 of them). The packed case's batch shrinks from 16 as its sequences end; 72 and 100
# hidden units end in a partial block; the bidirectional case runs both directions at once.
# (T, B, I, H, bidirectional, packed)
THREAD_CASES = [(6, 24, 24, 64, False, False), (5, 16, 20, 100, False, True), (6, 17, 24, 72, True, True)]


class LayerNormOpChecks:
    family: LayerNormRecurrence

    @pytest.fixture(autouse=True)
    def one_intra_op_thread(self) -> Iterator[None]:
        """One intra-op thread, as for the other op tests (tiny sizes; the thread tests below set
        their own count)."""
        with intra_op_threads(1):
            yield

    # --- helpers -----------------------------------------------------------------------------------

    def sequence_inputs(self, num_layers, bias, bidirectional, batch_first, dtype, T=5, B=3, I=4, H=6):
        """(x, states, params) of a padded call."""
        D = 2 if bidirectional else 1
        params = self.family.params(I, H, num_layers, bias, bidirectional, dtype)
        x = torch.randn((B, T, I) if batch_first else (T, B, I), dtype=dtype, requires_grad=True)
        return x, self.family.states(num_layers * D, B, H, dtype), params

    def packed_inputs(self, num_layers, bias, bidirectional, dtype, lengths=(7, 5, 5, 2, 1), I=4, H=5):
        """(data, batch_sizes, states, params) of a packed call."""
        D = 2 if bidirectional else 1
        packed = pack_sequence([torch.randn(n, I, dtype=dtype) for n in lengths])
        data = packed.data.clone().requires_grad_()
        params = self.family.params(I, H, num_layers, bias, bidirectional, dtype)
        return data, packed.batch_sizes, self.family.states(num_layers * D, len(lengths), H, dtype), params

    def layer_inputs(self, bidirectional: bool, packed: bool, bias: bool = True, dtype=torch.float64):
        """(x, batch_sizes or None, states, params) of one layer: padded [4, 3, 3] or packed."""
        I, H = 3, 4
        D = 2 if bidirectional else 1
        params = self.family.params(I, H, 1, bias, bidirectional, dtype)
        batch_sizes = torch.tensor([4, 4, 3, 1, 1]) if packed else None
        shape = (int(batch_sizes.sum()), I) if packed else (4, 3, I)
        x = torch.randn(shape, dtype=dtype, requires_grad=True)
        return x, batch_sizes, self.family.states(D, 4 if packed else 3, H, dtype), params

    def cell_inputs(self, bias: bool, dtype: torch.dtype, batch: int = 4, I: int = 3, H: int = 5):
        """(x, states, params) of one cell step."""
        x = torch.randn(batch, I, dtype=dtype, requires_grad=True)
        states = [s[0] for s in self.family.states(1, batch, H, dtype, requires_grad=False)]
        return x, [s.requires_grad_() for s in states], self.family.params(I, H, 1, bias, False, dtype)

    def direction_names(self, bias: bool = True) -> List[str]:
        return list(NN_NAMES if bias else NN_NAMES[:2]) + list(self.family.layer_norm_names)

    # --- values and gradients against the reference --------------------------------------------------

    @pytest.mark.parametrize("dtype", DTYPES)
    @pytest.mark.parametrize("num_layers,bias,bidirectional,batch_first", GRID)
    def test_input_matches_reference(self, num_layers, bias, bidirectional, batch_first, dtype):
        torch.manual_seed(0)
        x, states, params = self.sequence_inputs(num_layers, bias, bidirectional, batch_first, dtype)
        args = (bias, num_layers, 0.0, False, bidirectional, batch_first)
        compare_sequence(self.family, "input", x, states, params, *args)

    @pytest.mark.parametrize("dtype", DTYPES)
    @pytest.mark.parametrize(
        "bidirectional,num_layers,bias", [(False, 1, True), (True, 1, False), (True, 2, True), (False, 3, False)]
    )
    def test_data_matches_reference(self, bidirectional, num_layers, bias, dtype):
        """Packed sequences of several lengths; the reverse direction starts each at its own end."""
        torch.manual_seed(1)
        data, batch_sizes, states, params = self.packed_inputs(num_layers, bias, bidirectional, dtype)
        compare_sequence(
            self.family, "data", data, states, params, bias, num_layers, 0.0, False, bidirectional,
            batch_sizes=batch_sizes,
        )

    @pytest.mark.parametrize("dtype", DTYPES)
    @pytest.mark.parametrize("bias", [True, False])
    def test_cell_matches_reference(self, bias, dtype):
        torch.manual_seed(2)
        x, states, params = self.cell_inputs(bias, dtype)
        compare_sequence(self.family, "cell", x, states, params, bias)

    @pytest.mark.parametrize("bias", [True, False])
    @pytest.mark.parametrize("bidirectional", [False, True])
    @pytest.mark.parametrize("packed", [False, True])
    def test_layer_matches_reference(self, bidirectional, packed, bias):
        torch.manual_seed(3)
        x, batch_sizes, states, params = self.layer_inputs(bidirectional, packed, bias)
        compare_sequence(self.family, "layer", x, states, params, bias, bidirectional, batch_sizes=batch_sizes)

    @pytest.mark.parametrize("kind", ["input", "data", "cell", "layer"])
    def test_eps_reaches_every_op(self, kind):
        """A large eps changes the results, and every op applies it as the reference does."""
        torch.manual_seed(4)
        if kind == "input":
            x, states, params = self.sequence_inputs(2, True, True, False, torch.float64)
            args, options = (True, 2, 0.0, False, True, False), {}
        elif kind == "data":
            x, batch_sizes, states, params = self.packed_inputs(2, True, True, torch.float64)
            args, options = (True, 2, 0.0, False, True), dict(batch_sizes=batch_sizes)
        elif kind == "cell":
            x, states, params = self.cell_inputs(True, torch.float64)
            args, options = (True,), {}
        else:
            x, batch_sizes, states, params = self.layer_inputs(True, True)
            args, options = (True, True), dict(batch_sizes=batch_sizes)
        compare_sequence(self.family, kind, x, states, params, *args, eps=0.5, **options)
        before = (options["batch_sizes"],) if kind in ("data", "layer") else ()
        method = getattr(self.family, kind)
        default = method(x, *before, states, params, *args)
        large = method(x, *before, states, params, *args, eps=0.5)
        assert (default[0] - large[0]).abs().max() > 1e-3

    def test_non_contiguous_inputs_and_weights(self):
        torch.manual_seed(5)
        T, B, I, H = 4, 3, 5, 6
        params = self.family.params(I, H, 2, True, True)
        # The same values laid out otherwise: matrices transposed, vectors strided.
        strided = [
            (p.t().contiguous().t() if p.dim() == 2 else torch.stack([p, p], 1)[:, 0]).detach().requires_grad_()
            for p in params
        ]
        x = torch.randn(B, T, I, dtype=torch.float64).transpose(0, 1).requires_grad_()
        states = [s.detach().transpose(0, 1).contiguous().transpose(0, 1) for s in self.family.states(4, B, H)]
        states = [s.requires_grad_() for s in states]
        assert not any(t.is_contiguous() for t in [x, strided[0], strided[4], *states])
        compare_sequence(self.family, "input", x, states, strided, True, 2, 0.0, False, True, False)

    def test_no_grad_and_inference_mode_match_training_forward(self):
        torch.manual_seed(6)
        x, states, params = self.sequence_inputs(2, True, True, False, torch.float32)
        args = (True, 2, 0.0, False, True, False)
        trained = self.family.input(x, states, params, *args)
        with torch.no_grad():
            no_grad = self.family.input(x, states, params, *args)
        with torch.inference_mode():
            inference = self.family.input(x, states, params, *args)
        for a, b, c in zip(trained, no_grad, inference):
            assert torch.equal(a.detach(), b) and torch.equal(b, c)
        assert all(t.grad_fn is not None for t in trained)
        assert all(t.grad_fn is None for t in no_grad)

    def test_one_autograd_node_per_layer_whatever_the_length(self):
        def graph_size(steps: int) -> int:
            x, states, params = self.sequence_inputs(2, True, True, False, torch.float32, T=steps)
            return autograd_graph_size(self.family.input(x, states, params, True, 2, 0.0, False, True, False)[0])

        assert graph_size(3) == graph_size(300)
        assert graph_size(3) < 60  # two layer nodes, the leaves' accumulators and a few views

    # --- gradcheck (float64) ---------------------------------------------------------------------------

    def _gradcheck(self, kind: str, x: Tensor, states, params, *args, batch_sizes=None, pick: Optional[int] = None):
        count = len(states)
        before = () if kind in ("input", "cell") else (batch_sizes,)

        def function(x: Tensor, *tensors: Tensor):
            results = getattr(self.family, kind)(x, *before, list(tensors[:count]), list(tensors[count:]), *args)
            return results if pick is None else results[pick]

        assert torch.autograd.gradcheck(function, (x, *states, *params))

    def test_gradcheck_input(self):
        torch.manual_seed(7)
        x, states, params = self.sequence_inputs(2, True, True, True, torch.float64, T=3, B=2, I=3, H=3)
        self._gradcheck("input", x, states, params, True, 2, 0.0, False, True, True)

    def test_gradcheck_data(self):
        torch.manual_seed(8)
        data, batch_sizes, states, params = self.packed_inputs(2, False, True, torch.float64, (4, 2, 1), I=3, H=3)
        self._gradcheck("data", data, states, params, False, 2, 0.0, False, True, batch_sizes=batch_sizes)

    @pytest.mark.parametrize("bias", [True, False])
    def test_gradcheck_cell(self, bias):
        torch.manual_seed(9)
        x, states, params = self.cell_inputs(bias, torch.float64, batch=3)
        self._gradcheck("cell", x, states, params, bias)

    @pytest.mark.parametrize("packed", [False, True])
    def test_gradcheck_layer_bidirectional(self, packed):
        torch.manual_seed(10)
        x, batch_sizes, states, params = self.layer_inputs(True, packed)
        self._gradcheck("layer", x, states, params, True, True, batch_sizes=batch_sizes)

    def test_gradcheck_with_only_some_outputs_used(self):
        """The backward receives no gradient for the unused outputs (output, h_n or c_n)."""
        torch.manual_seed(11)
        x, states, params = self.sequence_inputs(1, True, False, False, torch.float64, T=3, B=2, I=3, H=4)
        for pick in range(1 + self.family.num_states):
            self._gradcheck("input", x, states, params, True, 1, 0.0, False, False, False, pick=pick)

    # --- opcheck -----------------------------------------------------------------------------------------

    def opcheck_samples(self) -> Dict[str, Tuple[Callable, tuple]]:
        family = self.family
        torch.manual_seed(12)
        x, states, params = self.sequence_inputs(2, True, True, False, torch.float64, T=4, B=2, I=3, H=4)
        data, batch_sizes, packed_states, packed_params = (
            self.packed_inputs(2, True, True, torch.float64, (3, 2, 2), 3, 4)
        )
        cell_x, cell_states, cell_params = self.cell_inputs(True, torch.float64, batch=2)
        layer = params[: len(params) // 2]  # layer 0, both directions
        hx, packed_hx = family.hx(states), family.hx(packed_states)
        layer_states = [s[:2] for s in states]
        samples = {
            "input": (family.op().input, (x, hx, params, True, 2, 0.0, False, True, False, EPS)),
            "input.batch_first": (
                family.op().input,
                (x.detach().transpose(0, 1).requires_grad_(), hx, params, True, 2, 0.0, False, True, True, 0.1),
            ),
            "data": (family.op().data, (data, batch_sizes, packed_hx, packed_params, True, 2, 0.0, False, True, EPS)),
            "cell": (family.op("_cell").default, (cell_x, family.hx(cell_states), cell_params, True, EPS)),
            "layer": (family.op("_layer").default, (x, None, *layer_states, layer, True, True, EPS)),
            "layer.packed": (
                family.op("_layer").default,
                (data, batch_sizes, *[s[:2] for s in packed_states], packed_params[: len(packed_params) // 2])
                + (True, True, EPS),
            ),
        }
        # The layer's halves take no inputs that require grad (the autograd kernel calls them).
        detached = [p.detach() for p in layer]
        x, layer_states = x.detach(), [s.detach() for s in layer_states]
        forward = getattr(torch.ops.torch_ext, f"_{family.name}_layer_forward")
        backward = getattr(torch.ops.torch_ext, f"_{family.name}_layer_backward")
        forward_args = (x, None, *layer_states, detached, True, True, EPS)
        output, *finals = forward(*forward_args)[: 1 + family.num_states]
        saved = forward(*forward_args)[1 + family.num_states :]
        grads = [torch.randn_like(t) for t in (output, *finals)]
        samples["_layer_forward"] = (forward.default, forward_args)
        samples["_layer_backward"] = (
            backward.default,
            (*grads, x, None, *layer_states, detached, True, True, output, *saved, True),
        )
        samples["_layer_backward without grad_input"] = (
            backward.default,
            (*grads, x, None, *layer_states, detached, True, True, output, *saved, False),
        )
        return samples

    @pytest.mark.parametrize(
        "sample",
        ["input", "input.batch_first", "data", "cell", "layer", "layer.packed", "_layer_forward", "_layer_backward",
         "_layer_backward without grad_input"],
    )  # fmt: skip
    def test_opcheck(self, sample):
        op, args = self.opcheck_samples()[sample]
        opcheck(op, args)

    def test_meta_kernels_give_shapes_without_data(self):
        family = self.family
        meta = dict(device="meta", dtype=torch.float64)
        params = [p.detach().to("meta") for p in family.params(3, 4, 2, True, True)]
        states = [torch.empty(4, 5, 4, **meta) for _ in range(family.num_states)]
        results = family.input(torch.empty(7, 5, 3, **meta), states, params, True, 2, 0.0, False, True, False)
        assert all(t.device.type == "meta" for t in results)
        assert [tuple(t.shape) for t in results] == [(7, 5, 8)] + [(4, 5, 4)] * family.num_states
        batch_sizes = torch.tensor([5, 3, 1])
        results = family.data(torch.empty(9, 3, **meta), batch_sizes, states, params, True, 2, 0.0, False, True)
        assert [tuple(t.shape) for t in results] == [(9, 8)] + [(4, 5, 4)] * family.num_states
        layer_params = params[: len(params) // 2]
        results = family.layer(torch.empty(7, 5, 3, **meta), None, [s[:2] for s in states], layer_params, True, True)
        assert [tuple(t.shape) for t in results] == [(7, 5, 8)] + [(2, 5, 4)] * family.num_states
        results = family.cell(torch.empty(5, 3, **meta), [s[0] for s in states], params[: len(params) // 4])
        assert [(t.device.type, tuple(t.shape)) for t in results] == [("meta", (5, 4))] * family.num_states

    # --- bad input ---------------------------------------------------------------------------------------

    def _valid_call(self) -> dict:
        return dict(
            input=torch.randn(5, 2, 3),
            states=self.family.states(2, 2, 4, torch.float32, requires_grad=False),
            params=self.family.params(3, 4, 2, True, False, torch.float32, requires_grad=False),
            has_biases=True,
            num_layers=2,
            dropout=0.0,
            train=False,
            bidirectional=False,
            batch_first=False,
        )

    def bad_inputs(self) -> Dict[str, Tuple[dict, str]]:
        """Each case: the changes to a valid call, and a fragment of the message it raises."""
        G, H = self.family.gates, 4
        names = self.direction_names()
        per_direction = len(names)
        ln_ih_weight = names.index("ln_ih_weight")
        ln_hh_bias = names.index("ln_hh_bias")
        # The last parameter of layer 1: the cell's LN bias (LSTM), or ln_hh_bias (GRU).
        last_name, last_size = names[-1], (H if names[-1].startswith("ln_cell") else G * H)

        def replace(index: int, tensor: Tensor):
            return lambda p: p[:index] + [tensor] + p[index + 1 :]

        states_of = lambda *shape: [torch.zeros(*shape) for _ in range(self.family.num_states)]  # noqa: E731
        return {
            "params count": (
                dict(params=lambda p: p[:-1]),
                f"expected params to hold {2 * per_direction} tensors (2 layer(s) x 1 direction(s) x {per_direction} "
                f"per direction: {', '.join(names)}), got {2 * per_direction - 1}",
            ),
            "params without biases": (
                dict(has_biases=False),
                f"x {per_direction - 2} per direction: {', '.join(self.direction_names(bias=False))}), "
                f"got {2 * per_direction}",
            ),
            "ln_ih_weight shape": (
                dict(params=replace(ln_ih_weight, torch.ones(G * H + 1))),
                f"expected ln_ih_weight_l0 of shape [{G * H}], got [{G * H + 1}]",
            ),
            "ln_hh_bias of layer 1 shape": (
                dict(params=replace(per_direction + ln_hh_bias, torch.ones(G * H, 1))),
                f"expected ln_hh_bias_l1 of shape [{G * H}], got [{G * H}, 1]",
            ),
            "last ln parameter shape": (
                dict(params=replace(2 * per_direction - 1, torch.ones(last_size + 2))),
                f"expected {last_name}_l1 of shape [{last_size}], got [{last_size + 2}]",
            ),
            "ln dtype": (
                dict(params=replace(ln_ih_weight, torch.ones(G * H, dtype=torch.float64))),
                "expected ln_ih_weight_l0 to have the dtype of input (Float), got Double",
            ),
            "weight shape": (
                dict(params=replace(per_direction + 1, torch.zeros(G * H, 5))),
                f"weight_hh_l1 of shape [{G * H}, 4], got [{G * H}, 5]",
            ),
            "input 2-D": (dict(input=torch.randn(5, 3)), "expected input to be 3-D"),
            "input int": (dict(input=torch.ones(5, 2, 3, dtype=torch.int64)), "expected input to be float32"),
            "input size": (
                dict(input=torch.randn(5, 2, 7)),
                "input.size(-1) must be equal to input_size. Expected 3, got 7",
            ),
            "seq len 0": (dict(input=torch.randn(0, 2, 3)), "sequence length to be larger than 0"),
            "hx batch": (dict(states=states_of(2, 3, 4)), "hx[0] of shape [2, 2, 4], got [2, 3, 4]"),
            "hx layers": (dict(states=states_of(1, 2, 4)), "hx[0] of shape [2, 2, 4], got [1, 2, 4]"),
            "hx dims": (dict(states=states_of(2, 4)), "expected hx[0] to be 3-D"),
            "hx dtype": (
                dict(states=[torch.zeros(2, 2, 4, dtype=torch.float64)] * self.family.num_states),
                "expected hx[0] to have the dtype of input",
            ),
            "dropout": (dict(dropout=1.5), "expected dropout in [0, 1], got 1.5"),
            "num_layers": (dict(num_layers=0), "expected num_layers >= 1, got 0"),
        }

    @pytest.mark.parametrize(
        "case",
        [
            "params count", "params without biases", "ln_ih_weight shape", "ln_hh_bias of layer 1 shape",
            "last ln parameter shape", "ln dtype", "weight shape", "input 2-D", "input int", "input size", "seq len 0",
            "hx batch", "hx layers", "hx dims", "hx dtype", "dropout", "num_layers",
        ],
    )  # fmt: skip
    def test_bad_input_raises_clear_error(self, case):
        changes, message = self.bad_inputs()[case]
        call = self._valid_call()
        for key, value in changes.items():
            call[key] = value(call[key]) if callable(value) else value
        with pytest.raises(RuntimeError) as error:
            self.family.input(*call.values())
        assert message in str(error.value)
        # The op that refused names itself: the public op, or its layer op for the sequence length.
        refusing = f"{self.family.name}_layer" if case == "seq len 0" else self.family.name
        assert f"torch_ext::{refusing}:" in str(error.value)

    # The layer-norm ops run the batch_sizes checks that every recurrent op shares (checks.cpp).
    BAD_BATCH_SIZES = {
        "increasing": ([2, 3], "non-increasing"),
        "zero": ([3, 0], "positive"),
        "sum": ([3, 1], "sum to 4 but the packed data has 5 rows"),
        "empty": ([], "larger than 0"),
        "batch vs hidden": ([2, 2, 1], "batch_sizes[0] = 2 but the hidden state holds 3 sequences"),
    }

    @pytest.mark.parametrize("case", list(BAD_BATCH_SIZES))
    def test_bad_batch_sizes_raise_clear_error(self, case):
        sizes, message = self.BAD_BATCH_SIZES[case]
        params = self.family.params(3, 4, 1, True, False, torch.float32, requires_grad=False)
        states = self.family.states(1, 3, 4, torch.float32, requires_grad=False)
        with pytest.raises(RuntimeError) as error:
            batch_sizes = torch.tensor(sizes, dtype=torch.int64)
            self.family.data(torch.randn(5, 3), batch_sizes, states, params, True, 1, 0.0, False, False)
        assert message in str(error.value)

    @pytest.mark.parametrize(
        "data,batch_sizes,message",
        [
            (torch.randn(4, 3), torch.tensor([2, 2], dtype=torch.int32), "expected batch_sizes to be int64, got Int"),
            (torch.randn(4, 3), torch.tensor([[2, 2]]), "expected batch_sizes to be 1-D, got 2-D"),
            (torch.randn(4, 1, 3), torch.tensor([2, 2]), "expected data to be 2-D"),
        ],
        ids=["int32", "2-D batch_sizes", "3-D data"],
    )
    def test_packed_arguments_are_checked(self, data, batch_sizes, message):
        params = self.family.params(3, 4, 1, True, False, torch.float32, requires_grad=False)
        states = self.family.states(1, 2, 4, torch.float32, requires_grad=False)
        with pytest.raises(RuntimeError, match=message):
            self.family.data(data, batch_sizes, states, params, True, 1, 0.0, False, False)

    @pytest.mark.parametrize("change", ["input 3-D", "hx 3-D", "hx int", "params count", "input size"])
    def test_cell_bad_input_raises_clear_error(self, change):
        x, states, params = self.cell_inputs(True, torch.float32, batch=3, I=4, H=5)
        names = self.direction_names()
        h = "hx[0]" if self.family.num_states == 2 else "hx"  # the GRU cell's hx is one tensor
        changed, message = {
            "input 3-D": (dict(x=torch.randn(3, 3, 4)), "expected input to be 2-D [batch, input_size]"),
            "hx 3-D": (dict(states=[s.unsqueeze(0) for s in states]), f"expected {h} to be 2-D [batch, hidden_size]"),
            "hx int": (dict(states=[s.long() for s in states]), f"expected {h} to be float32"),
            "params count": (dict(params=params[:-1]), f"per direction: {', '.join(names)}), got {len(names) - 1}"),
            "input size": (dict(x=torch.randn(3, 6)), "input.size(-1) must be equal to input_size. Expected 4, got 6"),
        }[change]
        call = dict(x=x, states=states, params=params)
        call.update(changed)
        with pytest.raises(RuntimeError) as error:
            self.family.cell(call["x"], call["states"], call["params"])
        assert message in str(error.value)

    def test_cell_bad_state_size_names_the_cell_op_and_the_given_shape(self):
        x, states, params = self.cell_inputs(True, torch.float32, batch=3, I=4, H=5)
        with pytest.raises(RuntimeError) as error:
            self.family.cell(x, [s[:2] for s in states], params)
        assert f"torch_ext::{self.family.name}_cell:" in str(error.value)
        assert "[2, 5]" in str(error.value) and "[1, 3, 5]" not in str(error.value)

    # --- sizes at the edges -------------------------------------------------------------------------------

    def test_empty_batch(self):
        family = self.family
        x, states, params = self.sequence_inputs(2, True, True, False, torch.float32, B=0)
        results = family.input(x, states, params, True, 2, 0.0, False, True, False)
        assert [tuple(t.shape) for t in results] == [(5, 0, 12)] + [(4, 0, 6)] * family.num_states
        sum(t.sum() for t in results).backward()
        assert x.grad.shape == x.shape and all(s.grad.shape == s.shape for s in states)
        assert all(not p.grad.any() for p in params)
        cell_x, cell_states, cell_params = self.cell_inputs(True, torch.float32, batch=0)
        results = family.cell(cell_x, cell_states, cell_params)
        assert [tuple(t.shape) for t in results] == [(0, 5)] * family.num_states
        sum(t.sum() for t in results).backward()
        assert all(not p.grad.any() for p in cell_params)

    def test_single_step_and_single_unit(self):
        """One hidden unit: the LSTM's cell norm runs over one feature (its output is its bias)."""
        torch.manual_seed(13)
        x, states, params = self.sequence_inputs(1, True, True, False, torch.float64, T=1, B=1, I=1, H=1)
        compare_sequence(self.family, "input", x, states, params, True, 1, 0.0, False, True, False)

    @pytest.mark.parametrize("hidden_size", [15, 17, 33])
    def test_hidden_sizes_off_the_vector_width(self, hidden_size):
        """Tails shorter than a vector register take the masked path of the pointwise kernels."""
        torch.manual_seed(14)
        x, states, params = self.sequence_inputs(1, True, True, False, torch.float32, T=4, B=3, I=5, H=hidden_size)
        compare_sequence(self.family, "input", x, states, params, True, 1, 0.0, False, True, False)

    # --- dropout ------------------------------------------------------------------------------------------

    def test_dropout_between_layers_only_in_training(self):
        family = self.family
        torch.manual_seed(15)
        x, states, params = self.sequence_inputs(2, True, False, False, torch.float32, T=6, B=4, I=3, H=8)
        plain = family.input(x, states, params, True, 2, 0.0, False, False, False)[0]
        evaluated = family.input(x, states, params, True, 2, 0.5, False, False, False)[0]
        trained_a = family.input(x, states, params, True, 2, 0.5, True, False, False)[0]
        trained_b = family.input(x, states, params, True, 2, 0.5, True, False, False)[0]
        assert torch.equal(plain, evaluated)
        assert not torch.allclose(trained_a, plain) and not torch.allclose(trained_a, trained_b)
        # No dropout after the last layer: a single layer is unaffected.
        half = len(params) // 2
        single = [s[:1] for s in states]
        assert torch.equal(
            family.input(x, single, params[:half], True, 1, 0.5, True, False, False)[0],
            family.input(x, single, params[:half], True, 1, 0.0, False, False, False)[0],
        )

    def test_dropout_is_atens_dropout_of_each_non_last_layers_output(self):
        """Under one seed, the op's masks are those of torch.dropout on each non-last layer's
        output, drawn in layer order: the reference with those masks gives the op's results."""
        family = self.family
        x, states, params = self.sequence_inputs(3, True, True, False, torch.float64, T=4, B=3, I=3, H=5)
        torch.manual_seed(16)
        ours = family.input(x, states, params, True, 3, 0.3, True, True, False)
        torch.manual_seed(16)
        layer_input, finals, per_layer = x, [], len(params) // 3
        for layer in range(3):
            layer_states = [s[2 * layer : 2 * layer + 2] for s in states]
            output, *layer_finals = family.reference_layer(
                layer_input, None, layer_states, params[layer * per_layer : (layer + 1) * per_layer], True, True
            )
            finals.append(layer_finals)
            layer_input = torch.dropout(output, 0.3, True) if layer < 2 else output
        expected = (layer_input, *(torch.cat([f[k] for f in finals]) for k in range(family.num_states)))
        for a, e in zip(ours, expected):
            torch.testing.assert_close(a, e, atol=1e-10, rtol=1e-10)

    # --- threads and CPU variants ------------------------------------------------------------------------

    @pytest.mark.parametrize("threads", [1, 2])
    @pytest.mark.parametrize("dtype", DTYPES)
    @pytest.mark.parametrize("case", THREAD_CASES, ids=[str(c) for c in THREAD_CASES])
    def test_sizes_that_split_hidden_units_across_threads(self, case, dtype, threads):
        T, B, I, H, bidirectional, packed = case
        if not bidirectional:
            assert useful_team_size(self.family.gates, B, H) >= 2, "the case should split the hidden units"
        torch.manual_seed(17)
        with intra_op_threads(threads):
            if packed:
                lengths = torch.linspace(T, 1, B).round().long().tolist()
                data, batch_sizes, states, params = self.packed_inputs(2, True, bidirectional, dtype, lengths, I, H)
                args = (True, 2, 0.0, False, bidirectional)
                compare_sequence(self.family, "data", data, states, params, *args, batch_sizes=batch_sizes)
            else:
                x, states, params = self.sequence_inputs(2, True, bidirectional, False, dtype, T, B, I, H)
                compare_sequence(self.family, "input", x, states, params, True, 2, 0.0, False, bidirectional, False)

    def test_results_do_not_depend_on_the_thread_count(self):
        torch.manual_seed(18)
        x, states, params = self.sequence_inputs(1, True, True, False, torch.float32, T=6, B=32, I=16, H=96)
        results = []
        for threads in (1, 2):
            with intra_op_threads(threads):
                outputs = self.family.input(x, states, params, True, 1, 0.0, False, True, False)
                grads = torch.autograd.grad(sum(o.sum() for o in outputs), [x, *states, *params])
            results.append([o.detach() for o in outputs] + list(grads))
        # Per-unit work is the same whichever thread owns the unit; only the GEMMs that span all
        # threads may round differently.
        for a, b in zip(*results):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)

    @pytest.mark.parametrize("capability", CPU_VARIANTS)
    def test_every_cpu_variant_matches_reference(self, capability):
        check_cpu_variant(capability, self.family.name)

    # --- autograd ------------------------------------------------------------------------------------------

    def test_double_backward_raises_instead_of_returning_zeros(self):
        torch.manual_seed(19)
        x, states, params = self.sequence_inputs(1, True, False, False, torch.float64, T=3, B=2, I=3, H=5)
        output = self.family.input(x, [s.detach() for s in states], params, True, 1, 0.0, True, False, False)[0]
        (grad_x,) = torch.autograd.grad(output.sum(), x, create_graph=True)
        backward = f"torch_ext::_{self.family.name}_layer_backward"
        with pytest.raises(RuntimeError, match=f"derivative for {backward} is not implemented"):
            torch.autograd.grad(grad_x.pow(2).sum(), params[0])

    def test_backward_half_matches_autograd_of_the_layer(self):
        """The halves called by hand give what the layer op's autograd node gives."""
        family = self.family
        torch.manual_seed(20)
        x, batch_sizes, states, params = self.layer_inputs(True, True)
        results = family.layer(x, batch_sizes, states, params, True, True)
        grads = [torch.randn_like(t) for t in results]
        expected = torch.autograd.grad(results, [x, *states, *params], grads)
        detached = [p.detach() for p in params]
        plain = (x.detach(), batch_sizes, *[s.detach() for s in states])
        forward = getattr(torch.ops.torch_ext, f"_{family.name}_layer_forward")
        backward = getattr(torch.ops.torch_ext, f"_{family.name}_layer_backward")
        saved = forward(*plain, detached, True, True, EPS)
        for a, e in zip(saved[: len(results)], results):
            assert torch.equal(a, e.detach())
        grad_input, *grad_states, grad_params = backward(
            *grads, *plain, detached, True, True, saved[0], *saved[len(results) :], True
        )
        torch.testing.assert_close([grad_input, *grad_states, *grad_params], list(expected), atol=1e-12, rtol=1e-12)
