"""The vanilla RNN kernels (csrc/kernels/rnn.cpp), tanh and ReLU, at sizes where a direction's
team of threads splits the hidden units, under one, two and four threads, and in every compiled
CPU variant (DEFAULT, AVX2, AVX512), against torch.rnn_tanh and torch.rnn_relu."""

import pytest

from recurrent_op_checks import RecurrenceKernelChecks
from rnn_testing import CPU_CAPABILITIES, RNN_RELU, RNN_TANH, check_cpu_variant


class TestRnnTanhKernels(RecurrenceKernelChecks):
    family = RNN_TANH


class TestRnnReluKernels(RecurrenceKernelChecks):
    family = RNN_RELU


@pytest.mark.parametrize("capability", CPU_CAPABILITIES)
def test_every_cpu_variant_matches_the_reference(capability):
    check_cpu_variant(capability, RNN_TANH.name, RNN_RELU.name)
