"""Fuzz cases of the modules: ``torch_ext.LSTM``/``GRU``/``RNN`` and their cells, ``LayerNorm``,
the layer-normalised modules and cells, and the reset-before GRU, on every input form (batched,
``batch_first``, unbatched, packed sorted or not), with or without an initial state, in a drawn
dtype and memory layout, in training or eval mode.

References: the ``torch.nn`` namesake with the same weights, in float64 on the same values; for
what torch.nn lacks (the layer-normalised modules, the reset-before GRU) the plain-PyTorch
recurrences of ``rnn_testing`` / ``layer_norm_rnn_testing`` over the module's own parameters,
while the ``torch.nn`` module of the same shapes (``nn.LSTM`` for ``LayerNormLSTM``, ...) says
which calls are valid. A mutation (a wrong input dtype, rank or width, a state of the wrong
shape, rank, structure or dtype, an empty batch or sequence) lets the torch.nn module decide: if
it raises, ours raises the same exception type (for a namesake; its message may be clearer than
an error from inside ATen's kernels); if not, ours matches. Three kinds of call are not put to
torch.nn: those where it crashes (a cell's unbatched input with 2-D states; packed input to
nn.LSTM with a state of the wrong shape or rank), or computes on regardless (packed input of the
wrong width to nn.LSTM): ours must raise. float16 modules and mixed dtypes are refused on purpose
(documented), where torch.nn computes.

``constructor`` cases call each module's constructor with drawn (often invalid) arguments next to
its torch.nn namesake: both raise the same exception type, or both build the same parameters.
"""

import math
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch
from hypothesis import strategies as st
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence

import torch_ext
from fuzz_ops import WIDE_SIZES, _converted, sizes_or_zero
from fuzz_support import (
    DTYPES,
    FLOATING,
    LAYOUTS,
    TensorPair,
    Tensors,
    Yardstick,
    attempt,
    check_raises,
    compare_forward_backward,
    fail,
)
from layer_norm_rnn_testing import layer_norm_gru_step, layer_norm_lstm_step
from rnn_testing import Step, gru_step, reference_stack

Draw = Callable[[Any], Any]


@dataclass(frozen=True)
class ModuleSpec:
    """A torch_ext module class with the options of one variant; ``twin``: the torch.nn class
    computing the same function (None where torch.nn has none); ``oracle``: the torch.nn class
    of the same arguments and shapes, which says what is valid."""

    id: str
    cls: str
    kind: str  # sequence, cell, layer_norm
    oracle: str
    twin: Optional[str]
    options: Tuple[Tuple[str, Any], ...] = ()

    @property
    def num_states(self) -> int:
        return 2 if "LSTM" in self.cls else 1

    def plain_step(self, bias: bool, eps: float) -> Step:
        if "LayerNormLSTM" in self.cls:
            return layer_norm_lstm_step(bias, eps)
        if "LayerNormGRU" in self.cls:
            return layer_norm_gru_step(bias, eps)
        return gru_step(reset_after=False)  # the reset-before GRU and its cell


MODULES = {
    spec.id: spec
    for spec in (
        ModuleSpec("LSTM", "LSTM", "sequence", "LSTM", "LSTM"),
        ModuleSpec("GRU", "GRU", "sequence", "GRU", "GRU"),
        ModuleSpec("GRU-reset-before", "GRU", "sequence", "GRU", None, (("reset_after", False),)),
        ModuleSpec("RNN", "RNN", "sequence", "RNN", "RNN"),
        ModuleSpec("RNN-relu", "RNN", "sequence", "RNN", "RNN", (("nonlinearity", "relu"),)),
        ModuleSpec("LayerNormLSTM", "LayerNormLSTM", "sequence", "LSTM", None),
        ModuleSpec("LayerNormGRU", "LayerNormGRU", "sequence", "GRU", None),
        ModuleSpec("LSTMCell", "LSTMCell", "cell", "LSTMCell", "LSTMCell"),
        ModuleSpec("GRUCell", "GRUCell", "cell", "GRUCell", "GRUCell"),
        ModuleSpec("GRUCell-reset-before", "GRUCell", "cell", "GRUCell", None, (("reset_after", False),)),
        ModuleSpec("RNNCell", "RNNCell", "cell", "RNNCell", "RNNCell"),
        ModuleSpec("RNNCell-relu", "RNNCell", "cell", "RNNCell", "RNNCell", (("nonlinearity", "relu"),)),
        ModuleSpec("LayerNormLSTMCell", "LayerNormLSTMCell", "cell", "LSTMCell", None),
        ModuleSpec("LayerNormGRUCell", "LayerNormGRUCell", "cell", "GRUCell", None),
        ModuleSpec("LayerNorm", "LayerNorm", "layer_norm", "LayerNorm", "LayerNorm"),
    )
}

# The options torch.nn's class of the same shapes takes too (nonlinearity only for RNN).
_NN_OPTIONS = ("num_layers", "bias", "batch_first", "dropout", "bidirectional", "proj_size", "nonlinearity")

# Per kind of module; hypothesis draws the first applicable one most often.
MODULE_MUTATIONS = {
    "sequence": ("hx_shape", "input_dims", "hx_dims", "hx_structure", "empty_batch", "empty_sequence",
                 "input_features", "input_dtype", "hx_dtype", "float16"),
    "cell": ("hx_shape", "input_dims", "hx_dims", "hx_structure", "empty_batch", "input_features", "input_dtype",
             "hx_dtype", "float16"),
    "layer_norm": ("input_dims", "empty_batch", "input_features", "input_dtype", "float16"),
}


@st.composite
def module_configs(draw: Draw) -> Dict[str, Any]:
    spec = MODULES[draw(st.sampled_from(list(MODULES)))]
    config: Dict[str, Any] = {
        "target": "module",
        "module": spec.id,
        "dtype": draw(st.sampled_from(["float32", "float32", "float64", "bfloat16"])),
        "input_layout": draw(st.sampled_from(LAYOUTS)),
        "hx_layout": draw(st.sampled_from(LAYOUTS)),
        "seed": draw(st.integers(0, 2**31 - 1)),
        "training": draw(st.booleans()),
        "mutation": None,
    }
    if spec.kind == "layer_norm":
        dims = draw(st.integers(1, 3))
        config["normalized_shape"] = draw(st.lists(st.integers(1, 4), min_size=1, max_size=dims))
        config["batch_shape"] = draw(st.lists(st.integers(0, 3), min_size=0, max_size=2))
        config["elementwise_affine"] = draw(st.booleans())
        config["bias"] = draw(st.booleans())
        config["eps"] = draw(st.sampled_from([1e-5, 1e-3, 0.5]))
    else:
        config.update(
            I=draw(sizes_or_zero(4, wide=WIDE_SIZES).map(lambda size: size or 1)),
            H=draw(sizes_or_zero(4, wide=WIDE_SIZES).map(lambda size: size or 1)),
            B=draw(st.integers(1, 3)),
            bias=draw(st.booleans()),
            with_hx=draw(st.booleans()),
            eps=draw(st.sampled_from([1e-5, 1e-3, 0.1])) if "LayerNorm" in spec.cls else None,
        )
    if spec.kind == "sequence":
        config.update(
            T=draw(st.integers(1, 4)),
            num_layers=draw(st.integers(1, 3)),
            batch_first=draw(st.booleans()),
            bidirectional=draw(st.booleans()),
            input_kind=draw(st.sampled_from(["batched", "unbatched", "packed", "packed_unsorted"])),
            proj_size=0,
        )
        # Dropout only where it changes nothing: in eval mode.
        config["dropout"] = 0.0 if config["training"] else draw(st.sampled_from([0.0, 0.5]))
        if spec.cls == "LSTM" and config["H"] > 1 and draw(st.booleans()):
            config["proj_size"] = draw(st.integers(1, config["H"] - 1))
        if config["input_kind"].startswith("packed"):
            lengths = draw(st.lists(st.integers(1, config["T"]), min_size=config["B"], max_size=config["B"]))
            if config["input_kind"] == "packed":
                lengths = sorted(lengths, reverse=True)
            config["lengths"] = lengths
    elif spec.kind == "cell":
        config["input_kind"] = draw(st.sampled_from(["batched", "unbatched"]))
    if draw(st.integers(0, 9)) < 4:
        candidates = list(MODULE_MUTATIONS[spec.kind])
        if spec.kind != "layer_norm" and not config["with_hx"]:
            candidates = [m for m in candidates if not m.startswith("hx_")]
        if config.get("input_kind", "batched") != "batched":
            candidates = [m for m in candidates if m not in ("empty_batch", "empty_sequence")]
        if config.get("input_kind", "").startswith("packed"):
            candidates = [m for m in candidates if m not in ("input_dims",)]
        config["mutation"] = draw(st.sampled_from(candidates))
        config["mutation_choice"] = draw(st.integers(0, 1000))
        config["mutation_dtype"] = draw(st.sampled_from(["float64", "float32", "bfloat16", "float16", "int64"]))
    return config


def _nn_kwargs(spec: ModuleSpec, config: Dict[str, Any]) -> Dict[str, Any]:
    if spec.kind == "layer_norm":
        return dict(elementwise_affine=config["elementwise_affine"], bias=config["bias"], eps=config["eps"])
    kwargs = {key: config[key] for key in _NN_OPTIONS if key in config}
    kwargs["bias"] = config["bias"]
    if not config.get("proj_size"):
        kwargs.pop("proj_size", None)
    kwargs.update(spec.options)
    return kwargs


class ModuleCase:
    def __init__(self, config: Dict[str, Any]) -> None:
        self.config = config
        self.spec = MODULES[config["module"]]
        self.mutation = config["mutation"]
        self.dtype = FLOATING[config["dtype"]]
        if self.mutation == "float16":
            self.dtype = torch.float16
        self.tensors = Tensors(config["seed"], self.dtype, True)
        self.ours = self._build()

    # --- the modules ------------------------------------------------------------------------------

    def _args(self) -> Tuple[Any, ...]:
        if self.spec.kind == "layer_norm":
            return (list(self.config["normalized_shape"]),)
        return (self.config["I"], self.config["H"])

    def _build(self) -> nn.Module:
        spec, config = self.spec, self.config
        kwargs = _nn_kwargs(spec, config)
        if spec.twin is None:
            for key in ("nonlinearity", "proj_size"):
                kwargs.pop(key, None)
            kwargs.update(spec.options)
            if config.get("eps") is not None:
                kwargs["eps"] = config["eps"]
        torch.manual_seed(config["seed"])
        module = getattr(torch_ext, spec.cls)(*self._args(), **kwargs)
        generator = torch.Generator().manual_seed(config["seed"] + 1)
        with torch.no_grad():
            for name, parameter in module.named_parameters():
                # Gains off one and biases off zero, so that the affine parts count.
                if name.startswith("ln_") or spec.kind == "layer_norm":
                    parameter.add_(0.3 * torch.randn(parameter.shape, generator=generator, dtype=torch.float64).to(
                        parameter.dtype))
        module.to(self.dtype)
        module.train(config["training"])
        return module

    def _oracle(self) -> nn.Module:
        """torch.nn's module of the same arguments, in our dtype: it decides what is valid."""
        kwargs = _nn_kwargs(self.spec, self.config)
        if self.spec.twin is None:
            kwargs = {key: value for key, value in kwargs.items() if key not in ("reset_after",)}
        oracle = getattr(nn, self.spec.oracle)(*self._args(), **kwargs).to(self.dtype)
        return oracle.train(self.config["training"])

    def _reference(self, dtype: torch.dtype = torch.float64) -> Tuple[Callable[..., Any], List[Tensor]]:
        """A function of (input, hx) in ``dtype`` with the module's results (float64: the
        reference; float32: its yardstick), and its parameters in the order of ours'
        named_parameters()."""
        names = [name for name, _ in self.ours.named_parameters()]
        if self.spec.twin is not None:
            kwargs = _nn_kwargs(self.spec, self.config)
            twin = getattr(nn, self.spec.twin)(*self._args(), **kwargs, dtype=dtype)
            twin.load_state_dict({key: value.to(dtype) for key, value in self.ours.state_dict().items()})
            twin.train(self.config["training"])
            parameters = dict(twin.named_parameters())
            return twin, [parameters[name] for name in names]
        leaves = [p.detach().to(dtype).requires_grad_() for p in self.ours.parameters()]
        return self._plain(dict(zip(names, leaves))), leaves

    def _yardstick(self, x: TensorPair, states: List[TensorPair], make_input: Callable[[Tensor], Any]
                   ) -> Optional[Yardstick]:
        """The reference in float32 on the float32 values (None for other dtypes, or where it
        cannot run: ATen's float32 LSTM refuses zero hidden units)."""
        if x.yardstick is None:
            return None
        reference, parameters = self._reference(torch.float32)
        arguments, _ = self._mutated(x.yardstick, [s.yardstick for s in states], make_input)
        result, error = attempt(lambda: reference(*arguments))
        return None if error is not None else Yardstick(result, [*self.tensors.yardstick_leaves, *parameters])

    def _plain(self, parameters: Dict[str, Tensor]) -> Callable[..., Any]:
        spec, config = self.spec, self.config
        step = spec.plain_step(config["bias"], config.get("eps") or 0.0)
        H = config["H"]
        if spec.kind == "cell":
            weights = list(parameters.values())

            def cell(x: Tensor, hx: Any = None) -> Any:
                unbatched = x.dim() == 1
                x = x.unsqueeze(0) if unbatched else x
                if hx is None:
                    states = [x.new_zeros(x.shape[0], H)] * spec.num_states
                else:
                    # As torch.nn's cells, extra tensors of a state tuple are ignored.
                    states = [s.unsqueeze(0) if unbatched else s for s in _state_list(hx)[: spec.num_states]]
                result = step(x, tuple(states), weights)
                result = [r.squeeze(0) for r in result] if unbatched else list(result)
                return tuple(result) if spec.num_states == 2 else result[0]

            return cell
        ours = self.ours
        params = [parameters[name] for name in ours._flat_weights_names]
        D = 2 if ours.bidirectional else 1

        def sequence(x: Any, hx: Any = None) -> Any:
            if isinstance(x, PackedSequence):
                batch, time_major = x.batch_sizes[0].item(), x.data
            elif x.dim() == 2:
                batch, time_major = None, x.unsqueeze(1)
            else:
                batch, time_major = x.shape[0 if ours.batch_first else 1], x.transpose(0, 1) if ours.batch_first else x
            rows = 1 if batch is None else batch
            # As torch.nn (packed input), extra tensors of a state tuple are ignored.
            states = _state_list(hx)[: spec.num_states] if hx is not None else [
                time_major.new_zeros(ours.num_layers * D, rows, H) for _ in range(spec.num_states)]
            if batch is None and hx is not None:
                states = [s.unsqueeze(1) for s in states]
            if isinstance(x, PackedSequence):
                if hx is not None and x.sorted_indices is not None:
                    states = [s.index_select(1, x.sorted_indices) for s in states]
                output, *finals = reference_stack(step, x.data, x.batch_sizes.tolist(), states, params,
                                                  ours.num_layers, ours.bidirectional)
                if x.unsorted_indices is not None:
                    finals = [f.index_select(1, x.unsorted_indices) for f in finals]
                output = PackedSequence(output, x.batch_sizes, x.sorted_indices, x.unsorted_indices)
            else:
                output, *finals = reference_stack(step, time_major, None, states, params, ours.num_layers,
                                                  ours.bidirectional)
                if batch is None:
                    output, finals = output.squeeze(1), [f.squeeze(1) for f in finals]
                elif ours.batch_first:
                    output = output.transpose(0, 1)
            return output, (tuple(finals) if spec.num_states == 2 else finals[0])

        return sequence

    # --- the inputs -------------------------------------------------------------------------------

    def _inputs(self) -> Tuple[TensorPair, List[TensorPair], Callable[[Tensor], Any]]:
        """The input (a leaf pair), the state pairs (empty without one), and how a data tensor
        becomes the module's input (packing)."""
        spec, config, t = self.spec, self.config, self.tensors
        layout = config["input_layout"]
        if spec.kind == "layer_norm":
            shape = list(config["batch_shape"]) + list(config["normalized_shape"])
            return t.pair("input", shape, layout, scale=3.0), [], lambda x: x
        I, H, B = config["I"], config["H"], config["B"]
        kind = config["input_kind"]
        if spec.kind == "cell":
            x = t.pair("input", (B, I) if kind == "batched" else (I,), layout)
            state_shape: Tuple[int, ...] = (B, H) if kind == "batched" else (H,)
            shapes = [state_shape] * spec.num_states
        else:
            T = config["T"]
            if kind == "unbatched":
                x = t.pair("input", (T, I), layout)
            elif kind == "batched" and config["batch_first"]:
                x = t.pair("input", (B, T, I), layout)
            else:
                x = t.pair("input", (T, B, I), layout)
            layers = config["num_layers"] * (2 if config["bidirectional"] else 1)
            batch: Tuple[int, ...] = () if kind == "unbatched" else (B,)
            out = config["proj_size"] or H
            shapes = [(layers, *batch, out), (layers, *batch, H)][: spec.num_states]
        states = [t.pair(f"hx[{i}]", shape, config["hx_layout"], scale=0.5) for i, shape in enumerate(shapes)] \
            if config["with_hx"] else []
        if kind.startswith("packed"):
            lengths = torch.tensor(config["lengths"])
            return x, states, lambda data: pack_padded_sequence(data, lengths, enforce_sorted=kind == "packed")
        return x, states, lambda data: data

    # --- the verdict ------------------------------------------------------------------------------

    def run(self) -> str:
        x, states, make_input = self._inputs()
        ours_args, keywords = self._mutated(x.ours, [s.ours for s in states], make_input)
        if self.mutation == "float16":
            _, error = attempt(lambda: self.ours(*ours_args))
            check_raises(error, None, ("Half", "float16"))
            return "raised as documented"
        if self.mutation == "input_features":
            # Always invalid; and torch.nn.LSTM does not check packed input's width (it computes
            # on, reading its weights past the data), so it cannot be asked.
            _, error = attempt(lambda: self.ours(*ours_args))
            check_raises(error, None, keywords)
            return "raised"
        if self.mutation is not None and self._crashes_torch_nn(ours_args):
            _, error = attempt(lambda: self.ours(*ours_args))
            # IndexError: torch.nn's type where ATen reads a missing dimension without crashing.
            check_raises(error, None, ("unbatched", "hx", "hidden"), also=(IndexError,))
            return "raised (torch.nn would crash)"
        if self.mutation is not None:
            _, oracle_error = attempt(lambda: self._oracle()(*ours_args))
            result, error = attempt(lambda: self.ours(*ours_args))
            if oracle_error is not None:
                if error is not None and type(error) is type(oracle_error) and str(error) == str(oracle_error):
                    return "raised like torch.nn"  # the drop-in's contract, words and all
                check_raises(error, oracle_error, keywords)
                if self.spec.twin is not None and not _related(type(error), type(oracle_error)):
                    fail(f"raised {type(error).__name__}({error}), torch.nn raised "
                         f"{type(oracle_error).__name__}({oracle_error})")
                return "raised like torch.nn"
            if error is not None:
                if self._refused_dtype(ours_args):
                    check_raises(error, None, ("float32, float64 or bfloat16",))
                    return "raised as documented"
                if self.mutation in ("input_dtype", "hx_dtype"):  # mixed dtypes: refused on purpose
                    check_raises(error, None, ("dtype",))
                    return "raised as documented"
                fail(f"raised {type(error).__name__}: {error}; torch.nn's module accepts this call")
            if self.mutation in ("input_dtype", "hx_dtype"):
                return "accepted like torch.nn"
        else:
            result, error = attempt(lambda: self.ours(*ours_args))
            if error is not None:
                fail(f"raised {type(error).__name__}: {error}")
        reference, parameters = self._reference()
        reference_args, _ = self._mutated(x.reference, [s.reference for s in states], make_input)
        expected, reference_error = attempt(lambda: reference(*reference_args))
        if reference_error is not None:
            fail(f"the reference failed on a valid call: {type(reference_error).__name__}: {reference_error}")
        compare_forward_backward(result, expected, [*self.tensors.our_leaves, *self.ours.parameters()],
                                 [*self.tensors.reference_leaves, *parameters],
                                 [*self.tensors.names, *(name for name, _ in self.ours.named_parameters())],
                                 self.dtype, self.config["seed"], self._yardstick(x, states, make_input))
        return "matched"

    def _crashes_torch_nn(self, args: Tuple[Any, ...]) -> bool:
        """Invalid calls that torch.nn does not check before ATen reads out of bounds (a crash),
        so it cannot be asked: a cell's unbatched input with 2-D states (torch.nn hands ATen 3-D
        ones), and packed input to nn.LSTM with a state of the wrong shape or rank (nn.LSTM leaves
        packed input's states to ATen, which reads them unchecked)."""
        if len(args) < 2:
            return False
        if self.spec.oracle == "LSTM" and isinstance(args[0], PackedSequence):
            return self.mutation in ("hx_shape", "hx_dims")
        if self.spec.kind != "cell" or not isinstance(args[0], Tensor) or args[0].dim() != 1:
            return False
        return any(isinstance(t, Tensor) and t.dim() != 1 for t in _state_list(args[1]))

    @staticmethod
    def _refused_dtype(args: Tuple[Any, ...]) -> bool:
        """A tensor of a dtype the kernels refuse on purpose (float16, integers; README)."""
        tensors = [a for a in args if isinstance(a, Tensor)] + [
            t for a in args if isinstance(a, (tuple, list)) for t in a if isinstance(t, Tensor)]
        return any(t.dtype not in FLOATING.values() for t in tensors)

    def _mutated(self, x: Tensor, states: List[Tensor], make_input: Callable[[Tensor], Any]
                 ) -> Tuple[Tuple[Any, ...], Tuple[str, ...]]:
        """The forward's arguments with the mutation applied, and words its error should contain."""
        m, choice = self.mutation, self.config.get("mutation_choice", 0)
        keywords: Tuple[str, ...] = ()
        if m == "input_dtype":
            target = DTYPES[self.config["mutation_dtype"]]
            if target == x.dtype:
                target = torch.float64 if x.dtype != torch.float64 else torch.float32
            x = _converted(x, target)
            keywords = ("dtype", "float", "Half", "Long", "Double", "BFloat16")
        elif m == "float16":
            x, states = x.detach().half(), [s.detach().half() for s in states]
        elif m == "input_dims":
            x = [lambda t: t.unsqueeze(0), lambda t: t.reshape(-1), lambda t: t.reshape(1, 1, 1, -1)][choice % 3](
                x.detach())
            keywords = ("input", "dim", "hx", "hidden")
        elif m == "input_features":
            wider = torch.cat([x.detach(), torch.zeros(x.shape[:-1] + (1,), dtype=x.dtype)], -1)
            x = wider if choice % 2 or x.shape[-1] == 1 else x.detach()[..., :-1]
            keywords = ("input", "size", "shape")
        elif m == "empty_batch":
            batch_dim = 0 if self.spec.kind != "sequence" or self.config["batch_first"] else 1
            x = x.narrow(batch_dim, 0, 0)
            states = [s.narrow(1 if self.spec.kind == "sequence" else 0, 0, 0) for s in states]
        elif m == "empty_sequence":
            time_dim = 1 if self.config["batch_first"] else 0
            x = x.narrow(time_dim, 0, 0)
        elif m in ("hx_shape", "hx_dims", "hx_dtype"):
            index = choice % len(states)
            state = states[index].detach()
            if m == "hx_shape":
                dim = (choice // len(states)) % state.dim()
                grown = torch.cat([state, state.narrow(dim, 0, 1) if state.shape[dim] else torch.zeros(
                    state.shape[:dim] + (1,) + state.shape[dim + 1:], dtype=state.dtype)], dim)
                shrunk = state.narrow(dim, 0, max(state.shape[dim] - 1, 0))
                state = grown if (choice // 7) % 2 or state.shape[dim] == 0 else shrunk
            elif m == "hx_dims":
                state = state.unsqueeze(0) if choice % 2 or state.dim() == 1 else state[0]
            else:
                target = DTYPES[self.config["mutation_dtype"]]
                state = _converted(state, target if target != state.dtype else torch.float64)
            states = list(states)
            states[index] = state
            keywords = ("hx", "hidden", "state", "dtype", "size", "dim", "tuple", "Tensor")
        module_input = make_input(x)
        if self.spec.kind == "layer_norm":
            return (module_input,), keywords
        if not states:
            return (module_input,), keywords
        if m == "hx_structure":
            hx: Any = [states[0], (states[0],), tuple(states) + (states[-1],), list(states)][choice % 4]
            keywords = ("hx", "hidden", "state", "tuple", "Tensor", "dim")
        else:
            hx = tuple(states) if self.spec.num_states == 2 else states[0]
        return (module_input, hx), keywords


def _related(a: type, b: type) -> bool:
    """The same exception type, or one a subclass of the other (NotImplementedError is a
    RuntimeError: ``except RuntimeError`` catches both)."""
    return issubclass(a, b) or issubclass(b, a)


def _state_list(hx: Any) -> List[Tensor]:
    return list(hx) if isinstance(hx, (tuple, list)) else [hx]


# --- constructors -----------------------------------------------------------------------------------

CONSTRUCTOR_VALUES: Dict[str, List[Any]] = {
    "input_size": [1, 3, 0, -1, 2.5, "3", None, True],
    "hidden_size": [1, 4, 0, -1, 4.0, "4", None, False],
    "num_layers": [1, 2, 0, -1, True, 2.0, "1"],
    "bias": [True, False, 1, 0, None, "yes"],
    "batch_first": [True, False, 1, None],
    "dropout": [0, 0.0, 0.5, 1, -0.5, 1.5, "0.1", None, True, math.nan],
    "bidirectional": [True, False, 1, 0, "yes", None],
    "proj_size": [0, 1, 2, -1, 4, 1.0, True],
    "nonlinearity": ["tanh", "relu", "sigmoid", 1],
    "eps": [1e-5, 0, 0.0, -1.0, "x", None, math.nan, True],
    "reset_after": [True, False, 1, "no", None],
    "elementwise_affine": [True, False, 1, None],
    "normalized_shape": [3, [2, 3], (4,), 0, -1, [], [2, -1], 2.0, "3"],
}
CONSTRUCTOR_OPTIONS: Dict[str, Tuple[str, ...]] = {
    "LSTM": ("num_layers", "bias", "batch_first", "dropout", "bidirectional", "proj_size"),
    "GRU": ("num_layers", "bias", "batch_first", "dropout", "bidirectional", "reset_after"),
    "RNN": ("num_layers", "nonlinearity", "bias", "batch_first", "dropout", "bidirectional"),
    "LayerNormLSTM": ("num_layers", "bias", "batch_first", "dropout", "bidirectional", "eps"),
    "LayerNormGRU": ("num_layers", "bias", "batch_first", "dropout", "bidirectional", "eps"),
    "LSTMCell": ("bias",),
    "GRUCell": ("bias", "reset_after"),
    "RNNCell": ("bias", "nonlinearity"),
    "LayerNormLSTMCell": ("bias", "eps"),
    "LayerNormGRUCell": ("bias", "eps"),
    "LayerNorm": ("eps", "elementwise_affine", "bias"),
}
# Options of ours that torch.nn's class lacks: (check of a valid value, the nn class that takes
# the rest).
_OWN_OPTIONS = {"eps", "reset_after"}
_NN_CLASS = {"LayerNormLSTM": "LSTM", "LayerNormGRU": "GRU", "LayerNormLSTMCell": "LSTMCell",
             "LayerNormGRUCell": "GRUCell"}


@st.composite
def constructor_configs(draw: Draw) -> Dict[str, Any]:
    cls = draw(st.sampled_from(list(CONSTRUCTOR_OPTIONS)))
    if cls == "LayerNorm":
        positional = [draw(st.sampled_from(range(len(CONSTRUCTOR_VALUES["normalized_shape"]))))]
    else:
        positional = [draw(st.sampled_from(range(len(CONSTRUCTOR_VALUES[name])))) for name in ("input_size",
                                                                                               "hidden_size")]
    options = {}
    for name in CONSTRUCTOR_OPTIONS[cls]:
        if draw(st.booleans()):
            options[name] = draw(st.sampled_from(range(len(CONSTRUCTOR_VALUES[name]))))
    return {"target": "constructor", "module": cls, "positional": positional, "options": options,
            "seed": draw(st.integers(0, 2**16))}


def _valid_own_option(name: str, value: Any) -> bool:
    if name == "eps":
        return isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0
    return isinstance(value, bool)


def run_constructor(config: Dict[str, Any]) -> str:
    cls = config["module"]
    positional_names = ["normalized_shape"] if cls == "LayerNorm" else ["input_size", "hidden_size"]
    args = [CONSTRUCTOR_VALUES[name][index] for name, index in zip(positional_names, config["positional"])]
    kwargs = {name: CONSTRUCTOR_VALUES[name][index] for name, index in config["options"].items()}
    nn_kwargs = {key: value for key, value in kwargs.items() if key not in _OWN_OPTIONS or cls == "LayerNorm"}
    own_invalid = [key for key, value in kwargs.items()
                   if key in _OWN_OPTIONS and cls != "LayerNorm" and not _valid_own_option(key, value)]
    torch.manual_seed(config["seed"])
    theirs, their_error = attempt(lambda: getattr(nn, _NN_CLASS.get(cls, cls))(*args, **nn_kwargs))
    torch.manual_seed(config["seed"])
    ours, error = attempt(lambda: getattr(torch_ext, cls)(*args, **kwargs))
    twin = cls not in _NN_CLASS and "reset_after" not in kwargs
    if their_error is not None:
        check_raises(error, their_error)
        if twin and (type(error) is not type(their_error) or str(error) != str(their_error)):
            fail(f"raised {type(error).__name__}({error}), torch.nn raised {type(their_error).__name__}({their_error})")
        return "raised like torch.nn"
    if own_invalid:
        check_raises(error, None, own_invalid)
        if not isinstance(error, (TypeError, ValueError)):
            fail(f"an invalid {own_invalid[0]} raised {type(error).__name__}, not TypeError or ValueError")
        return "raised (own option)"
    if error is not None:
        fail(f"raised {type(error).__name__}: {error}; torch.nn builds it")
    names = [(name, tuple(p.shape)) for name, p in theirs.named_parameters()]
    our_names = [(name, tuple(p.shape)) for name, p in ours.named_parameters() if not name.startswith("ln_")]
    if our_names != names:
        fail(f"parameters {our_names}, torch.nn's {names}")
    if twin:
        for (name, a), (_, e) in zip(ours.named_parameters(), theirs.named_parameters()):
            if not torch.equal(a, e):
                fail(f"{name}: other values than torch.nn's for the same seed")
    return "built like torch.nn"


def run_module(config: Dict[str, Any]) -> str:
    return ModuleCase(config).run()

