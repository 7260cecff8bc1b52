"""Fuzz cases of ``torch.ops.torch_ext.layer_norm`` and its halves (``_layer_norm_forward``,
``_layer_norm_backward``) against ``torch.layer_norm`` / ``torch.native_layer_norm`` in float64
on the same values, with the rules of fuzz_ops.py (``raise``, ``decide``, ``documented``)."""

from typing import Any, Callable, Dict, List, Optional, Tuple

import torch
from hypothesis import strategies as st
from torch import Tensor

from fuzz_ops import WIDE_SIZES, _converted, _reshaped, sizes_or_zero
from fuzz_support import (
    DTYPES,
    FLOATING,
    LAYOUTS,
    Tensors,
    Yardstick,
    assert_close,
    assert_gradient,
    assert_same_shapes,
    attempt,
    check_raises,
    compare_forward_backward,
    fail,
    output_weights,
    to_meta,
)

ops = torch.ops.torch_ext
Draw = Callable[[Any], Any]

# name -> (forms, expectation)
LAYER_NORM_MUTATIONS: Dict[str, Tuple[Tuple[str, ...], str]] = {
    "normalized_shape": (("op", "halves"), "decide"),
    "weight_shape": (("op", "halves"), "decide"),
    "dtype_all": (("op", "halves"), "documented"),
    "dtype_one": (("op", "halves"), "documented"),  # mixed dtypes are refused (ATen mixes some)
    "meta_one": (("op", "halves"), "raise"),
    "meta_all": (("op", "halves"), "valid"),
    "saved": (("halves",), "raise"),
    "grad_shape": (("halves",), "raise"),
}


@st.composite
def layer_norm_configs(draw: Draw) -> Dict[str, Any]:
    form = draw(st.sampled_from(["op", "halves"]))
    dims = draw(st.integers(1, 4))
    shape = draw(st.lists(sizes_or_zero(4), min_size=dims - 1, max_size=dims - 1))
    shape.append(draw(sizes_or_zero(4, wide=WIDE_SIZES)))  # the features: past the vector width too
    config: Dict[str, Any] = {
        "target": "layer_norm",
        "form": form,
        "shape": shape,
        "normalized_dims": draw(st.integers(1, dims)),
        "weight": draw(st.booleans()),
        "bias": draw(st.booleans()),
        "eps": draw(st.sampled_from([1e-5, 1e-3, 0.5])),
        "dtype": draw(st.sampled_from(["float32", "float32", "float64", "bfloat16"])),
        "input_layout": draw(st.sampled_from(LAYOUTS)),
        "weight_layout": draw(st.sampled_from(LAYOUTS)),
        "requires_grad": form == "halves" or draw(st.booleans()),
        "output_mask": draw(st.lists(st.booleans(), min_size=3, max_size=3)),
        "seed": draw(st.integers(0, 2**31 - 1)),
        "mutation": None,
    }
    if draw(st.integers(0, 9)) < 4:
        candidates = [name for name, (forms, _) in LAYER_NORM_MUTATIONS.items() if form in forms]
        if not config["weight"]:
            candidates.remove("weight_shape")
        if not (config["weight"] or config["bias"]):
            candidates.remove("meta_one")  # the input alone on meta is an all-meta call
        config["mutation"] = draw(st.sampled_from(candidates))
        config["mutation_choice"] = draw(st.integers(0, 1000))
        config["mutation_dtype"] = draw(st.sampled_from(["float16", "int64", "bool", "float64", "bfloat16"]))
    return config


class LayerNormCase:
    def __init__(self, config: Dict[str, Any]) -> None:
        self.config = config
        self.dtype = FLOATING[config["dtype"]]
        self.mutation = config["mutation"]
        self.expectation = LAYER_NORM_MUTATIONS[self.mutation][1] if self.mutation else "valid"
        t = self.tensors = Tensors(config["seed"], self.dtype, config["requires_grad"])
        shape = config["shape"]
        self.normalized_shape = shape[len(shape) - config["normalized_dims"]:]
        # A spread-out input with an offset (layer norm removes it).
        self.input = t.pair("input", shape, config["input_layout"], scale=3.0)
        weight = config["weight"]
        self.weight = t.pair("weight", self.normalized_shape, config["weight_layout"], "gain") if weight else None
        self.bias = t.pair("bias", self.normalized_shape, "contiguous") if config["bias"] else None

    def arguments(self, side: str) -> List[Any]:
        pick = lambda pair: None if pair is None else getattr(pair, side)  # noqa: E731
        return [pick(self.input), list(self.normalized_shape), pick(self.weight), pick(self.bias), self.config["eps"]]

    def run(self) -> str:
        if self.mutation in (None, "meta_all"):
            return self._run_valid()
        ours, keywords = self._mutated(self.arguments("ours"))
        if self.expectation == "decide":
            reference, _ = self._mutated(self.arguments("reference"))
            _, reference_error = attempt(lambda: torch.layer_norm(*reference))
            result, error = attempt(lambda: self._call(ours))
            if reference_error is not None:
                check_raises(error, reference_error, keywords)
                return "raised like the reference"
            if error is not None:
                fail(f"raised {type(error).__name__}: {error}; torch.layer_norm accepts this call")
            return "accepted like the reference"
        _, error = attempt(lambda: self._call(ours))
        check_raises(error, None, keywords)
        return "raised as documented" if self.expectation == "documented" else "raised"

    def _call(self, arguments: List[Any]) -> Any:
        if self.config["form"] == "op":
            return ops.layer_norm(*arguments)
        return self._halves(arguments)

    def _halves(self, arguments: List[Any], grad: Optional[Tensor] = None,
                mutate: Optional[Callable[[List[Tensor]], List[Tensor]]] = None) -> Any:
        x, normalized_shape, weight, bias, eps = [a.detach() if isinstance(a, Tensor) else a for a in arguments]
        output, mean, rstd = ops._layer_norm_forward(x, normalized_shape, weight, bias, eps)
        saved = [mean, rstd]
        if mutate is not None:
            saved = mutate(saved)
        grad = torch.ones_like(output) if grad is None else grad
        if self.mutation == "grad_shape":
            grad = _reshaped(grad, self.config["mutation_choice"])
        mask = self.config["output_mask"]
        return (output, mean, rstd), ops._layer_norm_backward(grad, x, normalized_shape, *saved, weight, bias, mask)

    def _run_valid(self) -> str:
        if self.config["form"] == "halves":
            return self._run_halves()
        expected, reference_error = attempt(lambda: torch.layer_norm(*self.arguments("reference")))
        if reference_error is not None:
            fail(f"the reference failed on a valid call: {reference_error}")
        if self.mutation == "meta_all":
            result, error = attempt(lambda: ops.layer_norm(*to_meta(self.arguments("ours"))))
            if error is not None:
                fail(f"meta call raised {type(error).__name__}: {error}")
            assert_same_shapes(result, expected, self.dtype)
            return "meta shapes matched"
        result, error = attempt(lambda: ops.layer_norm(*self.arguments("ours")))
        if error is not None:
            fail(f"raised {type(error).__name__}: {error}")
        yardstick = None
        if self.dtype == torch.float32:
            yardstick = Yardstick(torch.layer_norm(*self.arguments("yardstick")), self.tensors.yardstick_leaves)
        compare_forward_backward(result, expected, self.tensors.our_leaves, self.tensors.reference_leaves,
                                 self.tensors.names, self.dtype, self.config["seed"], yardstick)
        return "matched"

    def _run_halves(self) -> str:
        reference = self.arguments("reference")
        output, mean, rstd = torch.native_layer_norm(*reference)
        (weights,) = output_weights([output], self.config["seed"], self.dtype)
        ours = self.arguments("ours")
        if self.mutation == "meta_all":
            result, error = attempt(lambda: self._halves(to_meta(ours), to_meta(weights.to(self.dtype))))
            if error is not None:
                fail(f"meta call raised {type(error).__name__}: {error}")
            assert_same_shapes(result[0][0], output, self.dtype)
            return "meta shapes matched"
        result, error = attempt(lambda: self._halves(ours, weights.to(self.dtype)))
        if error is not None:
            fail(f"raised {type(error).__name__}: {error}")
        (our_output, our_mean, our_rstd), grads = result
        assert_close(our_output, output, self.dtype, "output")
        workspace = torch.float32 if self.dtype == torch.bfloat16 else self.dtype
        if all(self.normalized_shape):
            # Over no features ATen's rstd is NaN (0/0) and ours 1/sqrt(eps): either normalises
            # nothing, the output is empty.
            assert_close(our_mean, mean.reshape(-1), workspace, "mean")
            assert_close(our_rstd, rstd.reshape(-1), workspace, "rstd")
        arguments = [reference[0], reference[2], reference[3]]
        present = [a is not None for a in arguments]
        wanted = [a for a in arguments if a is not None]
        expected = iter(torch.autograd.grad(output, wanted, weights, allow_unused=True))
        for index, (name, grad) in enumerate(zip(("input", "weight", "bias"), grads)):
            e = next(expected) if present[index] else None
            if not self.config["output_mask"][index] or e is None:
                if grad is not None and grad.numel() and bool(grad.any()):
                    fail(f"gradient of {name}: computed though not asked for")
                continue
            assert_gradient(grad, e, self.dtype, f"gradient of {name}")
        return "matched"

    def _mutated(self, arguments: List[Any]) -> Tuple[List[Any], Tuple[str, ...]]:
        x, normalized_shape, weight, bias, eps = arguments
        choice = self.config["mutation_choice"]
        m = self.mutation
        if m == "normalized_shape":
            options = [
                lambda s: s[:-1] + [s[-1] + 1],
                lambda s: [2] + list(x.shape),
                lambda s: [],
            ]
            normalized_shape = options[choice % 3](list(normalized_shape))
            return [x, normalized_shape, weight, bias, eps], ("normalized_shape",)
        if m == "weight_shape":
            weight = _reshaped(weight.detach(), choice)
            return [x, normalized_shape, weight, bias, eps], ("weight",)
        target = DTYPES[self.config.get("mutation_dtype", "float16")]
        if m == "dtype_all":
            if target in (torch.float64, torch.bfloat16):
                target = torch.float16
            convert = lambda t: None if t is None else _converted(t, target)  # noqa: E731
            return [convert(x), normalized_shape, convert(weight), convert(bias), eps], (
                str(target).split(".")[-1], {torch.float16: "Half", torch.int64: "Long", torch.bool: "Bool"}[target])
        tensors = [("input", x), ("weight", weight), ("bias", bias)]
        present = [(name, index) for index, (name, t) in enumerate(tensors) if t is not None]
        name, index = present[choice % len(present)]
        if m == "dtype_one":
            if len(present) == 1:  # nothing to mix with: all one (refused) dtype
                target = torch.float16
            elif target == self.dtype:
                target = torch.float64 if self.dtype != torch.float64 else torch.float32
            changed = _converted(tensors[index][1], target)
            arguments = [x, normalized_shape, weight, bias, eps]
            arguments[[0, 2, 3][index]] = changed
            return arguments, ("dtype", "Half", name)
        if m == "meta_one":
            arguments = [x, normalized_shape, weight, bias, eps]
            arguments[[0, 2, 3][index]] = tensors[index][1].detach().to("meta")
            return arguments, ("device", "meta")
        return [x, normalized_shape, weight, bias, eps], ("mean", "rstd", "grad")


def run_layer_norm(config: Dict[str, Any]) -> str:
    case = LayerNormCase(config)
    if case.mutation == "saved" and config["form"] == "halves":
        choice = config["mutation_choice"]

        def mutate(saved: List[Tensor]) -> List[Tensor]:
            saved = list(saved)
            index = choice % 2
            if (choice // 2) % 2:
                saved[index] = saved[index].to(torch.float64 if saved[index].dtype != torch.float64 else torch.float32)
            else:
                saved[index] = _reshaped(saved[index], choice // 4)
            return saved

        _, error = attempt(lambda: case._halves(case.arguments("ours"), mutate=mutate))
        check_raises(error, None, ("mean", "rstd"))
        return "raised"
    return case.run()
