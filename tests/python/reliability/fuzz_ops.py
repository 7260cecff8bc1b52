"""Fuzz cases of the operators (``torch.ops.torch_ext.*``): a configuration drawn by hypothesis
(a dict of plain values, printed before the call and replayable), the call, and its verdict.

Every recurrent family runs in five forms: the multi-layer op over padded input (``.input``) and
over packed data (``.data``), the layer op, the layer op's forward and backward halves, and the
cell op. The reference is ATen's op of the same signature where it computes the same function
(``torch.lstm``, ``torch.gru_cell``, ...), run in float64 on the same values; the reset-before GRU
and the layer-normalised cells have none and use the plain-PyTorch recurrences of
``rnn_testing`` / ``layer_norm_rnn_testing``, while ATen's op of the same shapes (``torch.gru``
for the reset-before GRU, ``torch.lstm`` for the layer-normalised LSTM without its ``ln_*``
parameters) still says which calls are valid.

A configuration may carry one mutation (:data:`SEQUENCE_MUTATIONS`, ...). Each mutation has an
expectation: ``raise`` (the call is malformed by the op's contract: ours must raise a clear
RuntimeError/ValueError/TypeError; the reference is not called, since ATen does not check
everything and may read out of bounds), ``decide`` (ATen's op in float64, or in the mutated dtype,
decides: if it raises, ours must raise; if not, ours must match), ``documented`` (a deliberate
difference from ATen listed in the README: every dtype but float32, float64 and bfloat16 is
refused, float16 and integers included, where ATen computes some of them; and a dropout outside
[0, 1] is refused even where ATen ignores it), or ``valid``.
"""

import contextlib
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch
from hypothesis import strategies as st
from torch import Tensor

from fuzz_support import (
    DTYPES,
    FLOATING,
    LAYOUTS,
    TensorPair,
    Tensors,
    Yardstick,
    assert_gradient,
    assert_same_results,
    assert_same_shapes,
    attempt,
    check_raises,
    compare_forward_backward,
    fail,
    finite,
    output_weights,
    to_meta,
)
from layer_norm_rnn_testing import layer_norm_gru_step, layer_norm_lstm_step
from rnn_testing import Step, gru_step, lstm_step, reference_layer, reference_stack, rnn_step

ops = torch.ops.torch_ext
Draw = Callable[[Any], Any]


# --- the recurrent families -----------------------------------------------------------------------


@dataclass(frozen=True)
class Family:
    """A recurrence and its ops: ``<name>.input``/``.data``, ``<name>_cell``, the layer op
    ``<layer>`` with its halves, and ATen's op of the same shapes ``torch.<aten>``."""

    name: str
    mode: str  # the torch.nn mode of its weight_ih, weight_hh, bias_ih, bias_hh
    aten: str
    same_as_aten: bool  # ATen's op computes the same function
    layer: str
    layer_option: Tuple[Any, ...]  # the layer op's argument after bidirectional (mode or eps)
    layer_norms: int = 0  # pairs of ln_* parameters per direction: 0, 2 or 3

    @property
    def gates(self) -> int:
        return {"LSTM": 4, "GRU": 3}.get(self.mode, 1)

    @property
    def num_states(self) -> int:
        return 2 if self.mode == "LSTM" else 1

    @property
    def layer_normalized(self) -> bool:
        return self.layer_norms > 0

    def step(self, has_biases: bool, eps: float) -> Step:
        if self.name == "layer_norm_lstm":
            return layer_norm_lstm_step(has_biases, eps)
        if self.name == "layer_norm_gru":
            return layer_norm_gru_step(has_biases, eps)
        if self.mode == "LSTM":
            return lstm_step
        if self.mode == "GRU":
            return gru_step(reset_after=self.name == "gru")
        return rnn_step(torch.tanh if self.name == "rnn_tanh" else torch.relu)


FAMILIES = {
    family.name: family
    for family in (
        Family("lstm", "LSTM", "lstm", True, "lstm_layer", ()),
        Family("gru", "GRU", "gru", True, "gru_layer", (True,)),
        Family("gru_reset_before", "GRU", "gru", False, "gru_layer", (False,)),
        Family("rnn_tanh", "RNN_TANH", "rnn_tanh", True, "rnn_layer", ("tanh",)),
        Family("rnn_relu", "RNN_RELU", "rnn_relu", True, "rnn_layer", ("relu",)),
        Family("layer_norm_lstm", "LSTM", "lstm", False, "layer_norm_lstm_layer", (), 3),
        Family("layer_norm_gru", "GRU", "gru", False, "layer_norm_gru_layer", (), 2),
    )
}

# The saved tensors the forward half returns after (output, *states), and the backward half's
# argument after bidirectional (the layer-norm and LSTM backward halves take none).
SAVED = {
    "lstm": ("gates", "cells"),
    "gru": ("gates", "hidden_n"),
    "gru_reset_before": ("gates", "hidden_n"),
    "rnn_tanh": (),
    "rnn_relu": (),
    "layer_norm_lstm": ("gates", "cells", "rstd"),
    "layer_norm_gru": ("gates", "rstd"),
}


def parameter_names(family: Family, num_layers: int, directions: int, has_biases: bool, projected: bool) -> List[str]:
    names = []
    stems = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if has_biases else [])
    stems += ["weight_hr"] if projected else []
    stems += ["ln_ih_weight", "ln_ih_bias", "ln_hh_weight", "ln_hh_bias", "ln_cell_weight", "ln_cell_bias"][
        : 2 * family.layer_norms
    ]
    for layer in range(num_layers):
        for direction in range(directions):
            names += [f"{stem}_l{layer}{'_reverse' if direction else ''}" for stem in stems]
    return names


def parameter_shape(name: str, family: Family, layer_input: int, hidden: int, state: int) -> Tuple[int, ...]:
    gate_size = family.gates * hidden
    stem = name.split("_l")[0]
    return {
        "weight_ih": (gate_size, layer_input),
        "weight_hh": (gate_size, state),
        "bias_ih": (gate_size,),
        "bias_hh": (gate_size,),
        "weight_hr": (state, hidden),
        "ln_cell_weight": (hidden,),
        "ln_cell_bias": (hidden,),
    }.get(stem, (gate_size,))


def draw_parameters(tensors: Tensors, family: Family, config: Dict[str, Any], input_size: int,
                    num_layers: int) -> Tuple[List[str], List[TensorPair]]:
    """Every (layer, direction)'s parameters in the ops' order, drawn as torch.nn draws them (the
    ``ln_*`` gains around one and biases around zero), each in its drawn layout."""
    H, P, D = config["H"], config["P"], 2 if config["bidirectional"] else 1
    R = P or H
    names = parameter_names(family, num_layers, D, config["has_biases"], P > 0)
    bound = 1 / max(H, 1) ** 0.5
    pairs = []
    layouts = config["param_layouts"]
    for index, name in enumerate(names):
        layer = int(name.split("_l")[1].split("_")[0])
        shape = parameter_shape(name, family, input_size if layer == 0 else D * R, H, R)
        layout = layouts[index % len(layouts)]
        if name.startswith("ln_"):
            kind = "gain" if "weight" in name else "normal"
            pairs.append(tensors.pair(name, shape, layout, kind, 0.5))
        else:
            pairs.append(tensors.pair(name, shape, layout, "uniform", bound))
    return names, pairs


# --- drawing a configuration ------------------------------------------------------------------------

# Mutations of the sequence forms: name -> (forms it applies to, expectation). Hypothesis draws
# the first applicable one most often (its simplest choice): the most telling comes first.
SEQUENCE_MUTATIONS: Dict[str, Tuple[Tuple[str, ...], str]] = {
    "param_shape": (("input", "data", "layer", "halves", "cell", "ln_cell"), "raise"),
    "state_shape": (("input", "data", "layer", "halves", "ln_cell"), "raise"),
    "cell_state_shape": (("cell",), "raise"),
    "batch_sizes": (("data", "layer", "halves"), "raise"),
    "saved": (("halves",), "raise"),
    "params_length": (("input", "data", "layer", "halves", "ln_cell"), "raise"),
    "dtype_one": (("input", "data", "layer", "halves", "cell"), "raise"),
    "state_count": (("input", "data", "cell", "ln_cell"), "decide"),
    "input_features": (("input", "data", "layer", "halves", "ln_cell"), "raise"),
    "cell_input": (("cell",), "raise"),
    "input_dims": (("input", "data", "layer", "halves", "ln_cell"), "raise"),
    "empty_sequence": (("input", "layer"), "decide"),
    "num_layers": (("input", "data"), "raise"),
    "nonlinearity": (("layer", "halves"), "raise"),
    "meta_one": (("input", "data", "layer", "halves", "cell", "ln_cell"), "raise"),
    "meta_all": (("input", "data", "layer", "halves", "cell", "ln_cell"), "valid"),
    "grad_shape": (("halves",), "raise"),
    "has_biases": (("input", "data", "layer", "ln_cell"), "raise"),
    "dropout": (("input", "data"), "documented"),
    "dtype_all": (("input", "data", "layer", "halves", "cell", "ln_cell"), "documented"),
}


# Sizes past the kernels' vector width (8 or 16 float lanes) and 32-unit blocks, so that their
# main loops run and not only their tails.
WIDE_SIZES = (16, 17, 33)


def sizes_or_zero(largest: int = 5, wide: Sequence[int] = ()) -> st.SearchStrategy[int]:
    """1 to ``largest`` mostly; 0 one time in ten, and with ``wide`` one of those one time in ten
    (``st.one_of`` would draw each branch half the time)."""

    def size(value: int) -> int:
        if value < 10:
            return 0
        if value < 20 and wide:
            return wide[value % len(wide)]
        return 1 + value % largest

    return st.integers(0, 99).map(size)


@st.composite
def sequence_configs(draw: Draw, families: Sequence[str] = tuple(FAMILIES)) -> Dict[str, Any]:
    """A configuration of one recurrent op call (form ``input``, ``data``, ``layer``, ``halves``
    or ``cell``), with at most one mutation."""
    family = FAMILIES[draw(st.sampled_from(list(families)))]
    form = draw(st.sampled_from(["input", "data", "layer", "halves", "cell"]))
    packed = form == "data" or (form in ("layer", "halves") and draw(st.booleans()))
    sizes = st.integers(1, 5)
    config: Dict[str, Any] = {
        "target": "op",
        "family": family.name,
        "form": form,
        "packed": packed,
        "T": draw(st.integers(1, 4)),
        "B": draw(st.integers(0 if not packed else 1, 3)),
        "I": draw(sizes_or_zero(wide=WIDE_SIZES)),
        "H": draw(sizes_or_zero(wide=WIDE_SIZES)),
        "P": 0,
        "num_layers": draw(st.integers(1, 3)) if form in ("input", "data") else 1,
        "bidirectional": form != "cell" and draw(st.booleans()),
        "has_biases": draw(st.booleans()),
        "batch_first": form == "input" and draw(st.booleans()),
        "dtype": draw(st.sampled_from(["float32", "float32", "float64", "bfloat16"])),
        "train": False,
        "dropout": 0.0,
        "eps": draw(st.sampled_from([1e-5, 1e-3, 0.1])),
        "requires_grad": draw(st.booleans()) or form == "halves",
        "input_layout": draw(st.sampled_from(LAYOUTS)),
        "state_layouts": draw(st.lists(st.sampled_from(LAYOUTS), min_size=2, max_size=2)),
        "param_layouts": draw(st.lists(st.sampled_from(LAYOUTS), min_size=1, max_size=4)),
        "batch_sizes_layout": draw(st.sampled_from(["contiguous", "strided"])),
        "seed": draw(st.integers(0, 2**31 - 1)),
        "mutation": None,
    }
    if family.name == "lstm" and config["H"] > 1 and form != "cell" and draw(st.booleans()):
        config["P"] = draw(st.integers(1, config["H"] - 1))
    if form == "cell":
        config["bias_ih"] = draw(st.booleans())
        config["bias_hh"] = draw(st.booleans())
    if packed:
        lengths = draw(st.lists(st.integers(1, config["T"]), min_size=config["B"], max_size=config["B"]))
        config["lengths"] = sorted(lengths, reverse=True)
    if form in ("input", "data") and config["num_layers"] > 1:
        # Inference with a dropout set, training without, or training with dropout 1 (ATen's
        # dropout zeroes everything: deterministic), or with dropout 0.5 (random: shapes only).
        choices = [(False, 0.0), (True, 0.0), (False, 0.3), (True, 0.5)]
        choices += [(True, 1.0)] if family.same_as_aten else []  # the plain references have no dropout
        config["train"], config["dropout"] = draw(st.sampled_from(choices))
    if form == "halves" or config["train"]:
        config["requires_grad"] = True
    form_kind = "ln_cell" if form == "cell" and family.layer_normalized else form
    if draw(st.integers(0, 9)) < 4:
        candidates = [name for name, (forms, _) in SEQUENCE_MUTATIONS.items() if form_kind in forms]
        if family.name not in ("rnn_tanh", "rnn_relu"):
            candidates = [name for name in candidates if name != "nonlinearity"]
        if not packed:
            candidates = [name for name in candidates if name != "batch_sizes"]
        else:
            candidates = [name for name in candidates if name != "empty_sequence"]
        if family.num_states == 1:
            candidates = [name for name in candidates if name != "state_count"]
        if form == "halves" and family.name in ("rnn_tanh", "rnn_relu"):
            candidates = [name for name in candidates if name != "saved"]  # only output is saved
        mutation = draw(st.sampled_from(candidates))
        config["mutation"] = mutation
        config["mutation_choice"] = draw(st.integers(0, 1000))
        if mutation == "dtype_all":
            config["mutation_dtype"] = draw(st.sampled_from(["float16", "int64", "int32", "bool"]))
        if mutation == "dtype_one":
            config["mutation_dtype"] = draw(st.sampled_from(["float64", "float32", "bfloat16", "float16", "int64"]))
    return config


# --- the calls -------------------------------------------------------------------------------------


@dataclass
class SequenceCall:
    """The arguments of one call; ``states`` as the op takes them (a list [h, c] for the LSTM
    families, h alone otherwise)."""

    x: Tensor
    batch_sizes: Optional[Tensor]
    states: List[Tensor]
    params: List[Tensor]
    has_biases: bool
    num_layers: int
    dropout: float
    train: bool
    bidirectional: bool
    batch_first: bool
    eps: float
    layer_option: Tuple[Any, ...]
    # cell form: the optional biases given separately
    b_ih: Optional[Tensor] = None
    b_hh: Optional[Tensor] = None
    state_count: Optional[int] = None  # a mutated number of states


def hx_argument(family: Family, call: SequenceCall) -> Any:
    states = list(call.states)
    if call.state_count is not None:
        states = (states * 3)[: call.state_count]
        return states
    return states if family.num_states == 2 else states[0]


def call_ours(family: Family, form: str, call: SequenceCall) -> Any:
    c = call
    ln = (c.eps,) if family.layer_normalized else ()
    if form == "input":
        return getattr(ops, family.name).input(
            c.x, hx_argument(family, c), c.params, c.has_biases, c.num_layers, c.dropout, c.train,
            c.bidirectional, c.batch_first, *ln)
    if form == "data":
        return getattr(ops, family.name).data(
            c.x, c.batch_sizes, hx_argument(family, c), c.params, c.has_biases, c.num_layers, c.dropout,
            c.train, c.bidirectional, *ln)
    if form == "layer":
        return getattr(ops, family.layer)(c.x, c.batch_sizes, *c.states, c.params, c.has_biases, c.bidirectional,
                                         *c.layer_option)
    if form == "cell":
        cell = getattr(ops, family.name + "_cell")
        if family.layer_normalized:
            return cell(c.x, hx_argument(family, c), c.params, c.has_biases, c.eps)
        return cell(c.x, hx_argument(family, c), c.params[0], c.params[1], c.b_ih, c.b_hh)
    raise ValueError(form)


def call_aten(family: Family, form: str, call: SequenceCall) -> Any:
    """ATen's op of the same shapes (the layer-normalised families' without their ln_* params)."""
    c = call
    params = c.params
    if family.layer_normalized:
        per_direction = (4 if c.has_biases else 2) + 2 * family.layer_norms
        keep = 4 if c.has_biases else 2
        params = [p for i, p in enumerate(params) if i % per_direction < keep]
    op = getattr(torch, family.aten)
    if form == "input":
        return op(c.x, hx_argument(family, c), params, c.has_biases, c.num_layers, c.dropout, c.train,
                  c.bidirectional, c.batch_first)
    if form == "data":
        return op(c.x, c.batch_sizes, hx_argument(family, c), params, c.has_biases, c.num_layers, c.dropout,
                  c.train, c.bidirectional)
    if form == "layer":
        hx = c.states if family.num_states == 2 else c.states[0]
        if c.batch_sizes is not None:
            return op(c.x, c.batch_sizes, hx, params, c.has_biases, 1, 0.0, False, c.bidirectional)
        return op(c.x, hx, params, c.has_biases, 1, 0.0, False, c.bidirectional, False)
    if form == "cell":
        if family.layer_normalized:
            biases = params[2:4] if c.has_biases else [None, None]
            return getattr(torch, family.aten + "_cell")(c.x, hx_argument(family, c), params[0], params[1], *biases)
        return getattr(torch, family.aten + "_cell")(c.x, hx_argument(family, c), params[0], params[1], c.b_ih, c.b_hh)
    raise ValueError(form)


def call_reference(family: Family, form: str, call: SequenceCall) -> Any:
    """The values ours must give: ATen's op, or the plain recurrence (no dropout; with dropout 1
    in training, only ATen's families are drawn)."""
    c = call
    if family.same_as_aten:
        return call_aten(family, form, c)
    step = family.step(c.has_biases, c.eps)
    sizes = c.batch_sizes.tolist() if c.batch_sizes is not None else None
    if form in ("input", "data"):
        results = reference_stack(step, c.x, sizes, list(c.states), c.params, c.num_layers, c.bidirectional,
                                  c.batch_first)
    elif form == "layer":
        results = reference_layer(step, c.x, sizes, list(c.states), c.params, c.bidirectional)
    else:  # cell
        if family.layer_normalized:
            weights = c.params
        else:
            weights = [c.params[0], c.params[1]]
            if c.b_ih is not None or c.b_hh is not None:
                zeros = torch.zeros(c.params[0].shape[0], dtype=c.params[0].dtype)
                weights += [c.b_ih if c.b_ih is not None else zeros, c.b_hh if c.b_hh is not None else zeros]
        results = step(c.x, tuple(c.states), weights)
        return tuple(results) if family.num_states == 2 else results[0]
    return tuple(results)


# --- one case -------------------------------------------------------------------------------------


class SequenceCase:
    """Builds a configuration's tensors and judges the call."""

    def __init__(self, config: Dict[str, Any]) -> None:
        self.config = config
        self.family = FAMILIES[config["family"]]
        self.form = config["form"]
        self.dtype = FLOATING[config["dtype"]]
        mutation = config["mutation"]
        self.mutation = mutation
        self.expectation = SEQUENCE_MUTATIONS[mutation][1] if mutation else "valid"
        if mutation == "empty_sequence":
            config = dict(config, T=0)
        self.tensors = Tensors(config["seed"], self.dtype, config["requires_grad"])
        self.our_call, self.reference_call, self.names = self._build(config)

    def _build(self, config: Dict[str, Any]) -> Tuple[SequenceCall, SequenceCall, List[str]]:
        family, form, t = self.family, self.form, self.tensors
        T, B, I, H, P = config["T"], config["B"], config["I"], config["H"], config["P"]
        D = 2 if config["bidirectional"] else 1
        R = P or H
        L = config["num_layers"]
        layer_count = L * D if form in ("input", "data") else D
        batch_sizes = None
        if config["packed"]:
            lengths = config["lengths"]
            steps = max(lengths)
            batch_sizes = torch.tensor([sum(1 for n in lengths if n > s) for s in range(steps)], dtype=torch.int64)
            if config["batch_sizes_layout"] == "strided":
                batch_sizes = torch.stack([batch_sizes, batch_sizes], -1)[:, 0]
            x = t.pair("input", (sum(lengths), I), config["input_layout"])
        elif form == "cell":
            x = t.pair("input", (B, I), config["input_layout"])
        elif config["batch_first"]:
            x = t.pair("input", (B, T, I), config["input_layout"])
        else:
            x = t.pair("input", (T, B, I), config["input_layout"])
        state_shapes = [(B, R), (B, H)] if form == "cell" else [(layer_count, B, R), (layer_count, B, H)]
        states = [
            t.pair(["h0", "c0"][i], state_shapes[i], config["state_layouts"][i], scale=0.5)
            for i in range(family.num_states)
        ]
        b_ih = b_hh = None
        if form == "cell" and not family.layer_normalized:
            config = dict(config, has_biases=False)
            names, params = draw_parameters(t, family, config, I, 1)
            bound = 1 / max(H, 1) ** 0.5
            if config.get("bias_ih"):
                b_ih = t.pair("bias_ih", (family.gates * H,), "contiguous", "uniform", bound)
            if config.get("bias_hh"):
                b_hh = t.pair("bias_hh", (family.gates * H,), "contiguous", "uniform", bound)
        else:
            names, params = draw_parameters(t, family, config, I, L if form in ("input", "data") else 1)

        def call(side: str) -> SequenceCall:
            pick = lambda pair: None if pair is None else getattr(pair, side)  # noqa: E731
            # ATen reads batch_sizes as if contiguous (a strided view gives it garbage): the
            # reference gets a contiguous copy, ours the drawn layout.
            sizes = batch_sizes if side == "ours" or batch_sizes is None else batch_sizes.contiguous()
            return SequenceCall(
                x=pick(x), batch_sizes=sizes, states=[pick(s) for s in states],
                params=[pick(p) for p in params], has_biases=config["has_biases"], num_layers=L,
                dropout=config["dropout"], train=config["train"], bidirectional=config["bidirectional"],
                batch_first=config["batch_first"], eps=config["eps"], layer_option=family.layer_option or
                ((config["eps"],) if family.layer_normalized else ()), b_ih=pick(b_ih), b_hh=pick(b_hh))

        self.yardstick_call = call("yardstick") if x.yardstick is not None else None
        return call("ours"), call("reference"), names

    # --- the verdict ------------------------------------------------------------------------------

    def run(self) -> str:
        """Runs the case; returns the kind of outcome (for the summary) or raises CaseFailure."""
        if self.mutation in (None, "meta_all"):
            return self._run_valid()
        ours, keywords = self._mutated(self.our_call)
        keywords = self._halves_keywords(keywords)
        if self.expectation == "decide":
            reference, _ = self._mutated(self.reference_call, reference=True)
            _, reference_error = attempt(lambda: call_aten(self.family, self._reference_form(), reference))
            result, error = attempt(lambda: self._call_ours(ours))
            if reference_error is not None:
                check_raises(error, reference_error, keywords)
                return "raised like the reference"
            if error is not None:
                fail(f"raised {type(error).__name__}: {error}; ATen's op accepts this call")
            if self.mutation == "dtype_all":
                return "accepted like the reference"
            expected = attempt(lambda: self._call_reference(reference))
            if expected[1] is not None:
                fail(f"the reference failed: {expected[1]}")
            assert_same_results(result, expected[0], self.dtype)
            return "matched"
        _, error = attempt(lambda: self._call_ours(ours))
        # ATen's cell ops read a missing dimension of the input or state with IndexError; ours
        # raise the same there.
        also = (IndexError,) if self.mutation in ("cell_input", "cell_state_shape") else ()
        check_raises(error, None, keywords, also)
        return "raised as documented" if self.expectation == "documented" else "raised"

    def _reference_form(self) -> str:
        return "layer" if self.form == "halves" else self.form

    def _call_ours(self, call: SequenceCall) -> Any:
        if self.form == "halves":
            return self._mutated_halves(call)
        return call_ours(self.family, self.form, call)

    def _call_reference(self, call: SequenceCall) -> Any:
        return call_reference(self.family, self._reference_form(), call)

    def _run_valid(self) -> str:
        config = self.config
        if self.form == "halves":
            return self._run_halves()
        with contextlib.nullcontext() if config["requires_grad"] else torch.no_grad():
            expected, reference_error = attempt(lambda: self._call_reference(self.reference_call))
        if reference_error is not None:
            # float32 ATen (oneDNN) refuses a few shapes that float64 takes; the reference ran in
            # float64, so an error here is the harness's own.
            fail(f"the reference failed on a valid call: {type(reference_error).__name__}: {reference_error}")
        if self.mutation == "meta_all":
            meta = self._on_meta(self.our_call)
            result, error = attempt(lambda: call_ours(self.family, self.form, meta))
            if error is not None:
                fail(f"meta call raised {type(error).__name__}: {error}")
            assert_same_shapes(result, expected, self.dtype)
            return "meta shapes matched"
        result, error = attempt(lambda: call_ours(self.family, self.form, self.our_call))
        if error is not None:
            fail(f"raised {type(error).__name__}: {error}")
        if config["train"] and 0 < config["dropout"] < 1:
            assert_same_shapes(result, expected, self.dtype)
            finite(result)
            return "dropout: shapes matched"
        compare_forward_backward(result, expected, self.tensors.our_leaves, self.tensors.reference_leaves,
                                 self.tensors.names, self.dtype, config["seed"], self._yardstick())
        return "matched"

    def _yardstick(self) -> Optional[Yardstick]:
        """The reference on the float32 values in float32 (None when it cannot run there: ATen's
        float32 LSTM refuses zero hidden units)."""
        if self.yardstick_call is None:
            return None
        result, error = attempt(lambda: self._call_reference(self.yardstick_call))
        return None if error is not None else Yardstick(result, self.tensors.yardstick_leaves)

    def _on_meta(self, call: SequenceCall) -> SequenceCall:
        fields = dict(call.__dict__)
        for key in ("x", "states", "params", "b_ih", "b_hh"):
            fields[key] = to_meta(fields[key])
        return SequenceCall(**fields)

    # --- the forward and backward halves ------------------------------------------------------------

    def _halves(self, forward_call: SequenceCall, backward_call: SequenceCall, grads: List[Optional[Tensor]],
                mutate_saved: Optional[Callable[[List[Tensor]], List[Tensor]]] = None) -> Any:
        """The forward half on ``forward_call``, then the backward half on ``backward_call``'s
        arguments, ``grads`` and what the forward saved; returns the forward's visible results and
        the backward's gradients."""
        family = self.family
        n = 1 + family.num_states
        f, b = forward_call, backward_call
        if family.name.startswith("rnn"):
            forward = getattr(ops, family.layer)(f.x, f.batch_sizes, *f.states, f.params, f.has_biases,
                                                f.bidirectional, *f.layer_option)
        else:
            forward = getattr(ops, "_" + family.layer + "_forward")(f.x, f.batch_sizes, *f.states, f.params,
                                                                   f.has_biases, f.bidirectional, *f.layer_option)
        visible, saved = list(forward[:n]), [forward[0], *forward[n:]]
        if mutate_saved is not None:
            saved = mutate_saved(saved)
        backward_option = () if family.layer_normalized or family.mode == "LSTM" else b.layer_option
        backward = getattr(ops, "_" + family.layer + "_backward")(
            *grads, b.x, b.batch_sizes, *b.states, b.params, b.has_biases, b.bidirectional, *backward_option,
            *saved, self._need_grad_input())
        return visible, backward

    def _need_grad_input(self) -> bool:
        return bool(self.config["seed"] % 2)

    def _output_grads(self, expected: Sequence[Tensor]) -> Tuple[List[Optional[Tensor]], List[Tensor]]:
        """Random weights of the layer's outputs (some absent, as autograd passes None): ours in
        the case's dtype, and the reference's (zeros for an absent one)."""
        weights = output_weights(expected, self.config["seed"], self.dtype)
        present = [(self.config["seed"] >> (4 + i)) % 4 != 0 for i in range(len(expected))]
        ours = [w.to(self.dtype) if keep else None for w, keep in zip(weights, present)]
        reference = [w if keep else torch.zeros_like(w) for w, keep in zip(weights, present)]
        return ours, reference

    def _run_halves(self) -> str:
        """The forward half's results against the reference layer; the backward half's gradients
        of the layer's arguments against autograd through the reference."""
        family, n = self.family, 1 + self.family.num_states
        ours = _detached(self.our_call)
        reference = self.reference_call
        expected = tuple(call_reference(family, "layer", reference))
        grads, reference_grads = self._output_grads(expected)
        if self.mutation == "meta_all":
            meta = self._on_meta(ours)
            result, error = attempt(lambda: self._halves(meta, meta, to_meta(grads)))
            if error is not None:
                fail(f"meta call raised {type(error).__name__}: {error}")
            assert_same_shapes(tuple(result[0]), expected, self.dtype)
            return "meta shapes matched"
        result, error = attempt(lambda: self._halves(ours, ours, grads))
        if error is not None:
            fail(f"raised {type(error).__name__}: {error}")
        visible, backward = result
        assert_same_results(tuple(visible), expected, self.dtype)
        arguments = [reference.x, *reference.states, *reference.params]
        expected_grads = torch.autograd.grad(expected, arguments, reference_grads, allow_unused=True)
        actual_grads = [backward[0], *backward[1:n], *backward[n]]
        if len(actual_grads) != len(arguments):
            fail(f"the backward half returned {len(actual_grads)} gradients, expected {len(arguments)}")
        names = ["input", *[f"hx[{i}]" for i in range(family.num_states)], *self.names]
        for index, (name, a, e) in enumerate(zip(names, actual_grads, expected_grads)):
            if index == 0 and not self._need_grad_input():
                _check_no_grad_input(a)
                continue
            assert_gradient(a, e, self.dtype, f"gradient of {name}")
        return "matched"

    def _mutated_halves(self, call: SequenceCall) -> Any:
        """The halves with the configuration's mutation: of a saved tensor (its shape or dtype) or
        an output's gradient (its shape), or of the arguments of both halves (even choices) or of
        the backward's alone (odd ones)."""
        clean = _detached(self.our_call)
        with torch.no_grad():
            grads: List[Optional[Tensor]] = [torch.ones_like(v) for v in self._halves_forward_shapes(clean)]
        choice = self.config["mutation_choice"]
        if self.mutation == "saved":
            # The reset-before GRU saves no hidden_n (an empty tensor its backward never reads).
            mutable = len(SAVED[self.family.name]) + (0 if self.family.name == "gru_reset_before" else 1)
            index, how = choice % mutable, choice // mutable

            def mutate_saved(saved: List[Tensor]) -> List[Tensor]:
                saved = list(saved)
                if how % 2:
                    other = torch.float64 if saved[index].dtype != torch.float64 else torch.float32
                    saved[index] = saved[index].to(other)
                else:
                    saved[index] = _reshaped(saved[index], how // 2)
                return saved

            return self._halves(clean, clean, grads, mutate_saved)
        if self.mutation == "grad_shape":
            index = choice % len(grads)
            grads[index] = _reshaped(grads[index], choice // len(grads))
            return self._halves(clean, clean, grads)
        mutated = _detached(call)
        return self._halves(mutated if choice % 2 == 0 else clean, mutated, grads)

    def _halves_keywords(self, keywords: Tuple[str, ...]) -> Tuple[str, ...]:
        """A mutation of the backward half's arguments alone may first show as a gradient that no
        longer fits them (grad_hy of hx's old shape): the message may name that gradient."""
        if self.form == "halves" and self.config["mutation_choice"] % 2:
            return keywords + ("grad",)
        return keywords

    def _halves_forward_shapes(self, call: SequenceCall) -> List[Tensor]:
        family, c = self.family, call
        op = getattr(ops, family.layer)
        return list(op(c.x, c.batch_sizes, *c.states, c.params, c.has_biases, c.bidirectional, *c.layer_option))

    # --- mutations ----------------------------------------------------------------------------------

    def _mutated(self, call: SequenceCall, reference: bool = False) -> Tuple[SequenceCall, Tuple[str, ...]]:
        """The call with the configuration's mutation applied, and words its error should contain."""
        c = SequenceCall(**{key: (list(value) if isinstance(value, list) else value)
                            for key, value in call.__dict__.items()})
        choice = self.config["mutation_choice"]
        m = self.mutation
        dtype = self.dtype
        tensors = [("input", c.x)] + [(f"hx[{i}]", s) for i, s in enumerate(c.states)]
        tensors += [(name, p) for name, p in zip(self.names, c.params)]

        def replace(index: int, value: Tensor) -> None:
            if index == 0:
                c.x = value
            elif index <= len(c.states):
                c.states[index - 1] = value
            else:
                c.params[index - 1 - len(c.states)] = value

        if m == "dtype_all":
            target = DTYPES[self.config["mutation_dtype"]]
            for index, (_, tensor) in enumerate(tensors):
                replace(index, _converted(tensor, target))
            c.b_ih = None if c.b_ih is None else _converted(c.b_ih, target)
            c.b_hh = None if c.b_hh is None else _converted(c.b_hh, target)
            return c, (str(target).split(".")[-1], {torch.float16: "Half", torch.int64: "Long", torch.int32: "Int",
                                                    torch.bool: "Bool"}[target])
        if m == "dtype_one":
            target = DTYPES[self.config["mutation_dtype"]]
            if target == dtype:
                target = torch.float64 if dtype != torch.float64 else torch.float32
            index = choice % len(tensors)
            name = tensors[index][0]
            replace(index, _converted(tensors[index][1], target))
            return c, (name, "dtype", "float", "Half", "Long", "Double", "BFloat16")
        if m == "params_length":
            per_direction = len(c.params) // max(1, (c.num_layers if self.form in ("input", "data") else 1) *
                                                 (2 if c.bidirectional else 1))
            delta = [-1, 1, -per_direction, per_direction][choice % 4]
            if delta < 0:
                c.params = c.params[:delta] if len(c.params) + delta > 0 else []
            else:
                # Tensors that fit no parameter (a copy of one may fit another's place: with no
                # hidden units every weight is empty).
                c.params = c.params + [torch.zeros(7, 7, 7, dtype=dtype)] * delta
            # An LSTM layer may read one more tensor per direction as weight_hr: then the message
            # names the parameter out of place.
            return c, ("params", "weight", "bias", "ln_")
        if m == "param_shape":
            names = list(self.names)
            pool = [(n, i) for i, n in enumerate(names)]
            if self.form == "cell" and not self.family.layer_normalized:
                pool += [("b_ih", -1)] if c.b_ih is not None else []
                pool += [("b_hh", -2)] if c.b_hh is not None else []
            name, index = pool[choice % len(pool)]
            current = c.params[index] if index >= 0 else (c.b_ih if index == -1 else c.b_hh)
            changed = _reshaped(current.detach(), choice // len(pool))
            if index >= 0:
                c.params[index] = changed
            elif index == -1:
                c.b_ih = changed
            else:
                c.b_hh = changed
            short = name.split("_l")[0]
            return c, (name, short, "w_ih", "w_hh", "b_ih", "b_hh", "input_size", "hidden", "params", "weight",
                       "bias", "shape", "size")
        if m in ("state_shape", "cell_state_shape"):
            index = choice % len(c.states)
            c.states[index] = _reshaped(c.states[index].detach(), choice // len(c.states))
            return c, ("hx", "cx", "hidden", "state")
        if m == "state_count":
            c.state_count = [1, 3][choice % 2]
            return c, ("hidden", "hx", "state")
        if m == "input_features":
            x = c.x.detach()
            wider = torch.cat([x, torch.zeros(x.shape[:-1] + (1,), dtype=x.dtype)], -1)
            c.x = wider if choice % 2 or x.shape[-1] == 0 else x[..., :-1]
            return c, ("input", "weight_ih", "w_ih")
        if m == "cell_input":
            x = c.x.detach()
            wider = torch.cat([x, torch.zeros(x.shape[:-1] + (1,), dtype=x.dtype)], -1)
            c.x = [x[0] if x.shape[0] else x.sum(0), x.unsqueeze(0), wider][choice % 3]
            return c, ("input", "batch", "size", "dim")
        if m == "input_dims":
            x = c.x.detach()
            c.x = x.unsqueeze(0) if choice % 2 or x.dim() < 2 else x.select(0, 0) if x.shape[0] else x.sum(0)
            return c, ("input", "data", "dim")
        if m == "empty_sequence":
            return c, ("sequence", "length", "input")
        if m == "batch_sizes":
            c.batch_sizes = _bad_batch_sizes(c.batch_sizes, choice)
            return c, ("batch_sizes", "batch", "sequence")
        if m == "num_layers":
            c.num_layers = [0, -1, c.num_layers + 1, c.num_layers - 1 if c.num_layers > 1 else 0][choice % 4]
            return c, ("num_layers", "params", "layers", "hx")
        if m == "dropout":
            c.dropout = [-0.1, 1.5, float("nan")][choice % 3]
            return c, ("dropout",)
        if m == "nonlinearity":
            c.layer_option = (["sigmoid", "", "TANH"][choice % 3],)
            return c, ("nonlinearity",)
        if m == "meta_one":
            index = choice % len(tensors)
            replace(index, tensors[index][1].detach().to("meta"))
            return c, ("device", "meta")
        if m == "saved":  # applied by _mutated_halves
            return c, SAVED[self.family.name] + ("output",)
        if m == "grad_shape":  # applied by _mutated_halves
            return c, ("grad",)
        if m == "has_biases":
            c.has_biases = not c.has_biases
            return c, ("params", "bias", "weight", "shape", "hidden")
        raise ValueError(f"unknown mutation {m}")


def _converted(tensor: Tensor, dtype: torch.dtype) -> Tensor:
    tensor = tensor.detach()
    if dtype in (torch.int64, torch.int32):
        return (tensor.double() * 3).round().to(dtype)
    if dtype == torch.bool:
        return tensor > 0
    return tensor.to(dtype)


def _reshaped(tensor: Tensor, choice: int) -> Tensor:
    """A tensor of another shape: a dimension one larger or smaller, one more or one fewer
    dimension, or transposed (when that changes the shape)."""
    options: List[Callable[[Tensor], Tensor]] = [
        lambda t: torch.cat([t, t[:1]]) if t.shape[0] else torch.zeros((1,) + t.shape[1:], dtype=t.dtype),
        lambda t: t.unsqueeze(0),
    ]
    if tensor.dim() >= 1 and tensor.shape[0] > 0:
        options.append(lambda t: t[:-1])
    if tensor.dim() >= 2:
        options.append(lambda t: torch.cat([t, t[:, :1]], 1) if t.shape[1] else torch.zeros(
            (t.shape[0], 1) + t.shape[2:], dtype=t.dtype))
        options.append(lambda t: t.select(0, 0) if t.shape[0] else t.sum(0))
        if tensor.shape[0] != tensor.shape[-1]:
            options.append(lambda t: t.transpose(0, -1))
    if tensor.dim() == 1:
        options.append(lambda t: t.unsqueeze(1))
    return options[choice % len(options)](tensor)


def _bad_batch_sizes(batch_sizes: Tensor, choice: int) -> Tensor:
    sizes = batch_sizes.tolist()
    options = [
        lambda: batch_sizes.to(torch.int32),
        lambda: batch_sizes.double(),
        lambda: batch_sizes.unsqueeze(0),
        lambda: batch_sizes[:0],
        lambda: torch.tensor(sizes[:-1] + [0] + sizes[-1:]),
        lambda: torch.tensor(sizes[::-1] + [sizes[0] + 1]) if len(sizes) > 0 else batch_sizes[:0],
        lambda: torch.tensor(sizes[:-1] + [sizes[-1] + 1]) if sizes[-1] + 1 <= sizes[0] and len(sizes) > 1
        else torch.tensor([sizes[0] + 1] + sizes[1:]),
        lambda: torch.tensor(sizes[:-1] + [-sizes[-1]]),
        lambda: torch.tensor([s + 1 for s in sizes])[:-1] if len(sizes) > 1 else torch.tensor([sizes[0] + 1]),
        lambda: batch_sizes.to("meta"),
    ]
    return options[choice % len(options)]()


def _detached(call: SequenceCall) -> SequenceCall:
    """The call's tensors detached from the leaves (layouts kept): the halves are not
    differentiable ops."""
    fields = dict(call.__dict__)
    fields["x"] = call.x.detach()
    fields["states"] = [s.detach() for s in call.states]
    fields["params"] = [p.detach() for p in call.params]
    return SequenceCall(**fields)


def _check_no_grad_input(grad_input: Optional[Tensor]) -> None:
    if grad_input is not None and grad_input.numel() and grad_input.device.type != "meta" and bool(grad_input.any()):
        fail("need_grad_input=False, but the backward half computed grad_input")


