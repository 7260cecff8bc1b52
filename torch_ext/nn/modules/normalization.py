r"""Layer normalisation on the ``torch.ops.torch_ext.layer_norm`` kernel."""

import torch
from torch import Tensor, nn

__all__ = ["LayerNorm"]


class LayerNorm(nn.LayerNorm):
    r"""Layer normalisation (Ba, Kiros and Hinton, 2016) over the last dimensions of the input; a
    drop-in replacement of :class:`torch.nn.LayerNorm` whose forward and backward run torch_ext's
    hand-written kernel (``torch.ops.torch_ext.layer_norm``, with ``torch.layer_norm``'s
    signature, results and error messages).

    .. math::
        y = \frac{x - \mathrm{E}[x]}{\sqrt{\mathrm{Var}[x] + \epsilon}} \odot \gamma + \beta

    with the mean and the biased variance taken per sample over the last
    ``len(normalized_shape)`` dimensions.

    It *is* a :class:`torch.nn.LayerNorm` (a subclass that only replaces the forward), so the
    constructor, the parameters ``weight`` (:math:`\gamma`, ones) and ``bias`` (:math:`\beta`,
    zeros) with their names, shapes and initial values, the ``repr`` and the ``state_dict`` are
    torch.nn's own: state dicts load both ways, and ``isinstance(module, torch.nn.LayerNorm)``
    holds. The kernel takes float32 and float64 input.

    Args:
        normalized_shape: the trailing shape to normalise over (an int for the last dimension).
        eps: added to the variance for numerical stability. Default: 1e-5
        elementwise_affine: if ``True``, learnable ``weight`` (and ``bias``) scale and shift the
            result. Default: ``True``
        bias: if ``False`` (with ``elementwise_affine``), no ``bias``. Default: ``True``
        device: where the parameters are created. Default: the current default device
        dtype: the parameters' dtype. Default: the default floating-point dtype

    Shape:
        - Input: :math:`(*, \text{normalized\_shape})`
        - Output: the input's shape.

    Examples::

        >>> norm = torch_ext.LayerNorm(10)
        >>> norm(torch.randn(20, 5, 10)).shape
        torch.Size([20, 5, 10])
    """

    def forward(self, input: Tensor) -> Tensor:
        return torch.ops.torch_ext.layer_norm(input, list(self.normalized_shape), self.weight, self.bias, self.eps)
