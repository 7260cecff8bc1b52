"""The benchmark's cases: what runs (sizes, cells, variants), how each side is built with the same
weights and input, the step that is timed, and the FLOPs of that step.

A case names one configuration, e.g. ``LSTM T=100,B=64,I=512,H=512`` or
``GRU-bidir2 T=50,B=16,I=64,H=128``; its implementations are ``ours`` (torch_ext) and the
baselines: ``nn`` (torch.nn) for LSTM/GRU/RNN, ``eager`` and ``torchscript`` (benchmarks/reference.py)
for the layer-norm cells. A bfloat16 case (``LSTM-bf16 …``: module and input in bfloat16) has two:
``nn`` (torch.nn in bfloat16) and ``ours_float32`` (ours in float32: what bfloat16 gains).
"""

import warnings
from dataclasses import asdict, dataclass
from typing import Callable, Dict, List, Optional, Tuple

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence

import torch_ext

import reference

GATES = {"LSTM": 4, "GRU": 3, "RNN": 1, "LayerNormLSTM": 4, "LayerNormGRU": 3}
LAYER_NORM_CELLS = ("LayerNormLSTM", "LayerNormGRU")


@dataclass(frozen=True)
class Size:
    T: int  # steps
    B: int  # batch
    I: int  # input features
    H: int  # hidden units

    @property
    def label(self) -> str:
        return f"T={self.T},B={self.B},I={self.I},H={self.H}"


@dataclass(frozen=True)
class Case:
    cell: str  # LSTM, GRU, RNN (tanh), LayerNormLSTM, LayerNormGRU
    size: Size
    num_layers: int = 1
    bidirectional: bool = False
    proj_size: int = 0
    packed: bool = False  # PackedSequence input, lengths spread over 30–100 % of T
    dtype: str = "float32"  # or "bfloat16": the module's parameters and the input

    @property
    def variant(self) -> str:
        """``base``, ``bidir2`` (2 layers, bidirectional), ``proj``, ``packed`` or ``bf16``."""
        if self.dtype == "bfloat16":
            return "bf16"
        if self.num_layers > 1 or self.bidirectional:
            return f"{'bidir' if self.bidirectional else 'layers'}{self.num_layers}"
        if self.proj_size:
            return "proj"
        return "packed" if self.packed else "base"

    @property
    def name(self) -> str:
        tag = {"base": "", "proj": f"-proj{self.proj_size}", "packed": "-packed", "bf16": "-bf16"}.get(
            self.variant, f"-{self.variant}")
        return f"{self.cell}{tag} {self.size.label}"

    @property
    def baselines(self) -> Tuple[str, ...]:
        if self.cell in LAYER_NORM_CELLS:
            return ("eager", "torchscript")
        return ("nn", "ours_float32") if self.dtype == "bfloat16" else ("nn",)

    def implementation_dtype(self, implementation: str) -> torch.dtype:
        """The parameters' and input's dtype of one implementation of the case."""
        return torch.float32 if implementation == "ours_float32" else getattr(torch, self.dtype)

    def to_dict(self) -> Dict:
        return {"name": self.name, "variant": self.variant, **asdict(self)}

    @staticmethod
    def from_dict(data: Dict) -> "Case":
        fields = {key: value for key, value in data.items() if key not in ("name", "variant")}
        return Case(**{**fields, "size": Size(**fields["size"])})


# PyTorch's fastrnns defaults, a small model, a long thin sequence, a wide layer.
SIZES = (Size(100, 64, 512, 512), Size(50, 16, 64, 128), Size(200, 1, 32, 64), Size(50, 32, 256, 1024))
FLOP_TARGET_SIZE = SIZES[0]
QUICK_SIZES = (Size(10, 4, 16, 32),)


def default_cases(quick: bool = False) -> List[Case]:
    """Every case of a run: the plain cells at every size, then the variants.

    The variants run where they stay affordable on two cores: 2-layer bidirectional at the small
    sizes, the projection at every size, PackedSequence at the fastrnns size and the small one
    (packing one sequence, B=1, says nothing); the layer-norm cells at every size; LSTM, GRU and
    RNN in bfloat16 at every size (issue 7: against our float32 and against torch.nn in bfloat16).
    """
    if quick:
        sizes = small = packed_sizes = QUICK_SIZES
    else:
        sizes, small, packed_sizes = SIZES, SIZES[1:3], SIZES[:2]
    cases = [Case(cell, size) for cell in ("LSTM", "GRU", "RNN") for size in sizes]
    cases += [Case(cell, size, num_layers=2, bidirectional=True) for cell in ("LSTM", "GRU", "RNN") for size in small]
    cases += [Case("LSTM", size, proj_size=size.H // 4) for size in sizes]
    cases += [Case(cell, size, packed=True) for cell in ("LSTM", "GRU", "RNN") for size in packed_sizes]
    cases += [Case(cell, size) for cell in LAYER_NORM_CELLS for size in sizes]
    cases += [Case(cell, size, dtype="bfloat16") for cell in ("LSTM", "GRU", "RNN") for size in sizes]
    return cases


def available(case: Case) -> Optional[str]:
    """None when both sides of ``case`` can be built, else why not."""
    if not hasattr(torch_ext, case.cell):
        return f"torch_ext.{case.cell} does not exist (yet)"
    return None


# --- FLOPs ----------------------------------------------------------------------------------------


def lengths(case: Case) -> Tensor:
    """Sequence lengths: all T, or for packed input spread evenly over 30–100 % of T, shuffled."""
    T, B = case.size.T, case.size.B
    if not case.packed:
        return torch.full((B,), T, dtype=torch.int64)
    spread = torch.linspace(0.3 * T, T, B).round().clamp(min=1).to(torch.int64)
    order = torch.randperm(B, generator=torch.Generator().manual_seed(B))
    return spread[order]


def forward_flops(case: Case) -> float:
    """Multiply-adds ×2 of the forward: per step, layer and direction 2·B·G·H·(I_l + R), with
    R = proj_size (or H) the recurrent input, plus 2·B·H·P for the projection; layer l > 0 reads
    D·R features. Pointwise and layer-norm work is not counted. Packed input counts its tokens."""
    tokens = int(lengths(case).sum())  # Σ_t B_t over the steps
    gates = GATES[case.cell] * case.size.H
    recurrent = case.proj_size or case.size.H
    directions = 2 if case.bidirectional else 1
    total = 0.0
    for layer in range(case.num_layers):
        layer_input = case.size.I if layer == 0 else directions * recurrent
        per_token = 2 * gates * (layer_input + recurrent)
        if case.proj_size:
            per_token += 2 * case.size.H * case.proj_size
        total += directions * tokens * per_token
    return total


def step_flops(case: Case, mode: str) -> float:
    """A training step counts 3× the forward (forward, and backward's two products per GEMM)."""
    return forward_flops(case) * (3 if mode == "training" else 1)


# --- building the sides ---------------------------------------------------------------------------


def _constructor_args(case: Case) -> Dict:
    args = dict(input_size=case.size.I, hidden_size=case.size.H, num_layers=case.num_layers, bias=True,
                batch_first=False, dropout=0.0, bidirectional=case.bidirectional)
    if case.proj_size:
        args["proj_size"] = case.proj_size
    return args


def build_modules(case: Case, implementations: Tuple[str, ...], seed: int) -> Dict[str, nn.Module]:
    """The requested implementations of ``case`` with identical weights: torch.nn's drawn from
    ``seed`` and loaded into ours by state_dict; for the layer-norm cells ours drawn from ``seed``
    and copied into the references by position. Each is then cast to its dtype (bfloat16 cases)."""
    torch.manual_seed(seed)
    args = _constructor_args(case)
    modules: Dict[str, nn.Module] = {}
    if case.cell in LAYER_NORM_CELLS:
        ours = getattr(torch_ext, case.cell)(**args)
        for name in implementations:
            if name == "ours":
                modules[name] = ours
            else:
                ref = reference.REFERENCES[case.cell](**args)
                reference.copy_weights_from(ref, ours)
                if name == "torchscript":
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        ref = torch.jit.script(ref)
                modules[name] = ref
        return modules
    theirs = getattr(nn, case.cell)(**args)
    for name in implementations:
        if name == "nn":
            modules[name] = theirs.to(case.implementation_dtype(name))
        else:
            ours = getattr(torch_ext, case.cell)(**args)
            ours.load_state_dict(theirs.state_dict())
            modules[name] = ours.to(case.implementation_dtype(name))
    return modules


def build_input(case: Case, seed: int, requires_grad: bool, implementation: str = "ours"):
    """The input of one implementation, [T, B, I] (padded) or a PackedSequence whose data is a
    leaf tensor; the same values for every implementation, in its dtype."""
    generator = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(case.size.T, case.size.B, case.size.I, generator=generator)
    x = x.to(case.implementation_dtype(implementation))
    if case.packed:
        packed = pack_padded_sequence(x, lengths(case), enforce_sorted=False)
        data = packed.data.detach().requires_grad_(requires_grad)
        return PackedSequence(data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices)
    return x.requires_grad_(requires_grad)


def make_step(module: nn.Module, input, mode: str) -> Callable[[], None]:
    """The timed work. Inference: the forward under torch.inference_mode, module in eval mode.
    Training (module in train mode, dropout 0): clear the gradients as ``zero_grad()`` does, the
    forward, and the backward of the output's sum. The input requires grad, so the backward also
    computes the input's gradient (as for a layer inside a model)."""
    leaf = input.data if isinstance(input, PackedSequence) else input
    parameters = list(module.parameters())
    if mode == "inference":
        module.eval()

        def step() -> None:
            with torch.inference_mode():
                module(input)

        return step
    module.train()

    def step() -> None:
        for parameter in parameters:
            parameter.grad = None
        leaf.grad = None
        output, _ = module(input)
        (output.data if isinstance(output, PackedSequence) else output).sum().backward()

    return step


def agreement_tolerance(case: Case) -> float:
    """The largest |ours − baseline| of :func:`check_agreement` that is rounding, not a different
    function: bfloat16 keeps 8 bits."""
    return 0.05 if case.dtype == "bfloat16" else 1e-3


def check_agreement(case: Case, modules: Dict[str, nn.Module], seed: int, steps: int = 8) -> float:
    """Largest |ours − baseline| over the outputs of a short run (first ``steps`` steps, padded):
    the sides must compute the same function for their timings to compare."""
    shortened = Case(case.cell, Size(min(steps, case.size.T), case.size.B, case.size.I, case.size.H),
                     case.num_layers, case.bidirectional, case.proj_size, dtype=case.dtype)
    outputs = {}
    with torch.no_grad():
        for name, module in modules.items():
            module.eval()
            output, _ = module(build_input(shortened, seed, requires_grad=False, implementation=name))
            outputs[name] = output.float()
    ours = outputs.pop("ours")
    return max((float((ours - other).abs().max()) for other in outputs.values()), default=0.0)
