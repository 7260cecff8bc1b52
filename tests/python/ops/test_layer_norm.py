"""torch.ops.torch_ext.layer_norm (csrc/ops/layer_norm.cpp, csrc/kernels/layer_norm.cpp) against
ATen's torch.layer_norm: values and every gradient over shapes (widths off and on the vector
width, a normalized_shape of two dimensions, 0 to 3 leading dimensions, empty rows), with and
without weight and bias, float32 and float64; accuracy on rows with large means against a float64
reference; gradcheck, opcheck of the op and its halves, and ATen's error messages."""

import itertools
from typing import Iterator, List, Optional, Tuple

import pytest
import torch
from torch import Tensor
from torch.library import opcheck

import torch_ext  # noqa: F401  (registers the ops)
from rnn_testing import compare_with_gradients

ops = torch.ops.torch_ext

# (leading dims, normalized_shape): widths 17 and 100 end off the vector width, 1000 is wide;
# (3, 4) and (5, 20) normalise over two dimensions. (Width 1: test_single_feature_rows_are_exact.)
SHAPES = [
    ((), (17,)),
    ((6,), (100,)),
    ((2, 3), (1000,)),
    ((2, 1, 3), (17,)),
    ((4,), (3, 4)),
    ((2, 3), (5, 20)),
    ((), (8, 16)),
]
AFFINE = ["weight+bias", "weight", "bias", "none"]


@pytest.fixture(autouse=True)
def one_intra_op_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _inputs(
    leading: Tuple[int, ...], normalized: Tuple[int, ...], affine: str, dtype: torch.dtype, requires_grad: bool = True
) -> Tuple[Tensor, Optional[Tensor], Optional[Tensor]]:
    x = (torch.randn(*leading, *normalized, dtype=dtype) * 3 + 1).requires_grad_(requires_grad)
    weight = torch.randn(normalized, dtype=dtype, requires_grad=requires_grad) if "weight" in affine else None
    bias = torch.randn(normalized, dtype=dtype, requires_grad=requires_grad) if "bias" in affine else None
    return x, weight, bias


def _differentiable(*tensors: Optional[Tensor]) -> List[Tensor]:
    return [t for t in tensors if t is not None]


def _call(
    op, x: Tensor, normalized: Tuple[int, ...], weight: Optional[Tensor], bias: Optional[Tensor], eps: float = 1e-5
) -> Tuple[Tensor]:
    """The op's output, as the one-element tuple that compare_with_gradients compares."""
    return (op(x, list(normalized), weight, bias, eps),)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("affine", AFFINE)
@pytest.mark.parametrize("leading,normalized", SHAPES, ids=[f"{a}-{b}" for a, b in SHAPES])
def test_matches_aten(leading, normalized, affine, dtype):
    torch.manual_seed(0)
    x, weight, bias = _inputs(leading, normalized, affine, dtype)
    compare_with_gradients(
        lambda *_: _call(ops.layer_norm, x, normalized, weight, bias),
        lambda *_: _call(torch.layer_norm, x, normalized, weight, bias),
        _differentiable(x, weight, bias),
    )


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_single_feature_rows_are_exact(dtype):
    """Over one feature x - E[x] = 0: the output is the bias, and the gradients of the input and
    the weight are zero. (ATen's are rounding noise there, amplified by 1/sqrt(eps).)"""
    torch.manual_seed(8)
    x, weight, bias = _inputs((5,), (1,), "weight+bias", dtype)
    output = ops.layer_norm(x, [1], weight, bias)
    assert torch.equal(output, bias.expand(5, 1))
    grad_output = torch.randn(5, 1, dtype=dtype)
    grad_x, grad_weight, grad_bias = torch.autograd.grad(output, [x, weight, bias], grad_output)
    assert not grad_x.any() and not grad_weight.any()
    torch.testing.assert_close(grad_bias, grad_output.sum(0))


@pytest.mark.parametrize("eps", [0.0, 1e-3, 0.5])
def test_eps_matches_aten(eps):
    torch.manual_seed(1)
    x, weight, bias = _inputs((4,), (33,), "weight+bias", torch.float64)
    compare_with_gradients(
        lambda *_: _call(ops.layer_norm, x, (33,), weight, bias, eps),
        lambda *_: _call(torch.layer_norm, x, (33,), weight, bias, eps),
        [x, weight, bias],
    )


def test_default_arguments_are_atens():
    torch.manual_seed(2)
    x = torch.randn(3, 10)
    torch.testing.assert_close(ops.layer_norm(x, [10]), torch.layer_norm(x, [10]), atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("width", [17, 100, 1000])
@pytest.mark.parametrize("mean", [1e3, 1e4])
def test_rows_with_large_means_at_least_as_accurate_as_aten(width, mean):
    """Rows far from zero (mean ≫ spread) lose digits in a one-pass variance; against a float64
    reference on the same float32 values, ours is at least as accurate as ATen's float32 kernel,
    in the output and in every gradient."""
    torch.manual_seed(3)
    x32 = (torch.randn(32, width, dtype=torch.float64) + mean).float()
    weight32 = torch.randn(width)
    bias32 = torch.randn(width)
    grad_output = torch.randn(32, width, dtype=torch.float64)

    def results(op, dtype: torch.dtype) -> List[Tensor]:
        inputs = [t.to(dtype).requires_grad_() for t in (x32, weight32, bias32)]
        output = op(inputs[0], [width], inputs[1], inputs[2], 1e-5)
        grads = torch.autograd.grad(output, inputs, grad_output.to(dtype))
        return [t.detach().double() for t in (output, *grads)]

    reference = results(torch.layer_norm, torch.float64)
    ours = results(ops.layer_norm, torch.float32)
    aten = results(torch.layer_norm, torch.float32)
    for name, o, a, r in zip(["output", "grad_input", "grad_weight", "grad_bias"], ours, aten, reference):
        error_ours, error_aten = (o - r).abs().max().item(), (a - r).abs().max().item()
        assert error_ours <= error_aten * 1.01 + 1e-7, f"{name}: ours {error_ours:.3g}, ATen {error_aten:.3g}"


def test_non_contiguous_input_and_parameters():
    torch.manual_seed(4)
    base = torch.randn(7, 3, 40, dtype=torch.float64)
    x = base.transpose(0, 1)[:, ::2].requires_grad_()  # (3, 4, 40): rows strided in memory
    weight = torch.randn(80, dtype=torch.float64)[::2].requires_grad_()
    bias = torch.randn(40, 2, dtype=torch.float64)[:, 1].requires_grad_()
    assert not (x.is_contiguous() or weight.is_contiguous() or bias.is_contiguous())
    compare_with_gradients(
        lambda *_: _call(ops.layer_norm, x, (40,), weight, bias),
        lambda *_: _call(torch.layer_norm, x, (40,), weight, bias),
        [x, weight, bias],
    )
    # The trailing dimensions themselves transposed: (5, 20) normalised over a (20, 5) transpose.
    y = torch.randn(3, 20, 5, dtype=torch.float64).transpose(1, 2).requires_grad_()
    compare_with_gradients(
        lambda *_: _call(ops.layer_norm, y, (5, 20), None, None),
        lambda *_: _call(torch.layer_norm, y, (5, 20), None, None),
        [y],
    )


@pytest.mark.parametrize("shape,normalized", [((0, 8), (8,)), ((2, 0, 8), (8,)), ((4, 0), (0,)), ((3, 2, 0), (2, 0))])
def test_empty_rows(shape, normalized):
    x = torch.randn(shape, requires_grad=True)
    weight = torch.randn(normalized, requires_grad=True)
    bias = torch.randn(normalized, requires_grad=True)
    output = ops.layer_norm(x, list(normalized), weight, bias)
    assert output.shape == x.shape
    torch.testing.assert_close(output, torch.layer_norm(x, list(normalized), weight, bias))
    grads = torch.autograd.grad(output.sum(), [x, weight, bias], allow_unused=True)
    assert grads[0].shape == x.shape
    assert all(g is None or (g.shape == t.shape and bool((g == 0).all())) for g, t in zip(grads[1:], [weight, bias]))


# --- gradcheck -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("affine", AFFINE)
@pytest.mark.parametrize("leading,normalized", [((3,), (7,)), ((2, 2), (3, 4)), ((), (5,))])
def test_gradcheck(leading, normalized, affine):
    torch.manual_seed(5)
    x, weight, bias = _inputs(leading, normalized, affine, torch.float64)

    def function(x: Tensor, *parameters: Tensor) -> Tensor:
        named = dict(zip([name for name, t in (("weight", weight), ("bias", bias)) if t is not None], parameters))
        return ops.layer_norm(x, list(normalized), named.get("weight"), named.get("bias"), 1e-5)

    assert torch.autograd.gradcheck(function, _differentiable(x, weight, bias))


def test_double_backward_raises_instead_of_returning_zeros():
    x = torch.randn(3, 6, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(6, dtype=torch.float64, requires_grad=True)
    (grad_x,) = torch.autograd.grad(ops.layer_norm(x, [6], weight).pow(3).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="derivative for torch_ext::_layer_norm_backward is not implemented"):
        torch.autograd.grad(grad_x.sum(), weight)


# --- opcheck ---------------------------------------------------------------------------------------------


def _opcheck_samples():
    torch.manual_seed(6)
    x, weight, bias = _inputs((3, 2), (5,), "weight+bias", torch.float64)
    y, _, _ = _inputs((4,), (3, 4), "none", torch.float32)
    detached = [t.detach() for t in (x, weight, bias)]
    output, mean, rstd = ops._layer_norm_forward(*detached[:1], [5], *detached[1:], 1e-5)
    grad_output = torch.randn_like(output)
    samples = {
        "affine": (ops.layer_norm.default, (x, [5], weight, bias, 1e-5)),
        "weight only": (ops.layer_norm.default, (x, [5], weight, None, 1e-5)),
        "plain two dims": (ops.layer_norm.default, (y, [3, 4], None, None, 1e-5)),
        "empty": (ops.layer_norm.default, (x[:0].detach().requires_grad_(), [5], weight, bias, 1e-5)),
        "_forward": (ops._layer_norm_forward.default, (detached[0], [5], detached[1], detached[2], 1e-5)),
    }
    for mask in ([True, True, True], [True, False, False], [False, True, True]):
        samples[f"_backward {mask}"] = (
            ops._layer_norm_backward.default,
            (grad_output, detached[0], [5], mean, rstd, detached[1], detached[2], mask),
        )
    return samples


@pytest.mark.parametrize("sample", list(_opcheck_samples()))
def test_opcheck(sample):
    op, args = _opcheck_samples()[sample]
    opcheck(op, args)


def test_forward_half_saves_the_row_statistics():
    torch.manual_seed(7)
    x = torch.randn(2, 3, 6, dtype=torch.float64)
    output, mean, rstd = ops._layer_norm_forward(x, [6], None, None, 1e-5)
    _, aten_mean, aten_rstd = torch.native_layer_norm(x, [6], None, None, 1e-5)
    torch.testing.assert_close(output, torch.layer_norm(x, [6]))
    assert mean.numel() == rstd.numel() == 6
    torch.testing.assert_close(mean.reshape(aten_mean.shape), aten_mean)
    torch.testing.assert_close(rstd.reshape(aten_rstd.shape), aten_rstd)


def test_meta_kernel_gives_shapes_without_data():
    x = torch.empty(4, 3, 10, device="meta")
    weight = torch.empty(3, 10, device="meta")
    output = ops.layer_norm(x, [3, 10], weight, weight)
    assert (output.device.type, output.shape) == ("meta", (4, 3, 10))


# --- errors: ATen's messages ------------------------------------------------------------------------------


ERROR_CASES = {
    "normalized_shape vs input": (lambda: (torch.randn(3, 4), [5], None, None)),
    "normalized_shape of two dims vs input": (lambda: (torch.randn(3, 4, 5), [3, 5], None, None)),
    "normalized_shape longer than input": (lambda: (torch.randn(4), [2, 4], None, None)),
    "empty normalized_shape": (lambda: (torch.randn(3, 4), [], None, None)),
    "weight shape": (lambda: (torch.randn(3, 4), [4], torch.ones(3), None)),
    "bias shape": (lambda: (torch.randn(3, 4), [4], None, torch.ones(4, 1))),
    "weight of two dims": (lambda: (torch.randn(2, 3, 4), [3, 4], torch.ones(12), None)),
}


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_errors_carry_atens_messages(case):
    args = ERROR_CASES[case]()
    with pytest.raises(RuntimeError) as aten:
        torch.layer_norm(*args)
    with pytest.raises(RuntimeError) as ours:
        ops.layer_norm(*args)
    assert str(ours.value) == str(aten.value)


@pytest.mark.parametrize(
    "args,message",
    [
        ((torch.ones(3, 4, dtype=torch.int64), [4], None, None), r"expected input to be float32.*, got Long"),
        (
            (torch.ones(3, 4), [4], torch.ones(4, dtype=torch.float64), None),
            r"expected weight to have the dtype of input \(Float\), got Double",
        ),
        ((torch.ones(3, 4), [4], None, torch.ones(4, device="meta")), "on the device of input"),
    ],
    ids=["int input", "weight dtype", "bias device"],
)
def test_dtype_and_device_errors_name_the_argument(args, message):
    """Where ATen's own message is about its kernels (an int input is NotImplementedError there,
    mixed dtypes a 'mixed dtype (CPU)' error), ours names the argument."""
    with pytest.raises(RuntimeError, match=message):
        ops.layer_norm(*args)
