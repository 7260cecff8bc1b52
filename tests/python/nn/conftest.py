"""Fixtures for the module tests."""

from typing import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def single_intra_op_thread() -> Iterator[None]:
    """Run each module test on one intra-op thread.

    The modules' problems are tiny; with pytest-xdist workers on few cores, a multi-threaded
    pool spends far longer waking threads than computing (seconds per step instead of
    milliseconds). Results do not depend on the thread count; the kernels' parallel paths are
    the op tests' business.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
