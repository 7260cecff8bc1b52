"""The GRU kernels (csrc/kernels/gru.cpp), in both forms, at sizes where a direction's team of
threads splits the hidden units, under one, two and four threads, and in every compiled CPU
variant (DEFAULT, AVX2, AVX512). PyTorch's form is held to torch.gru, the reset-before form to
the plain-PyTorch recurrence (rnn_testing.gru_step)."""

import pytest

from recurrent_op_checks import RecurrenceKernelChecks
from rnn_testing import CPU_CAPABILITIES, GRU, GRU_RESET_BEFORE, check_cpu_variant


class TestGruKernels(RecurrenceKernelChecks):
    family = GRU


class TestGruResetBeforeKernels(RecurrenceKernelChecks):
    family = GRU_RESET_BEFORE


@pytest.mark.parametrize("capability", CPU_CAPABILITIES)
def test_every_cpu_variant_matches_the_reference(capability):
    check_cpu_variant(capability, GRU.name, GRU_RESET_BEFORE.name)
