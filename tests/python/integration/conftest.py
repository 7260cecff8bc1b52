"""Fixtures for the integration tests: a clean torch.compile state and one intra-op thread."""

from typing import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def fresh_compiler_on_one_thread() -> Iterator[None]:
    """Each test starts and ends with no compiled code cached (so a test's counts are its own)
    and runs on one intra-op thread: the models are tiny, and on few shared cores a thread pool
    costs more than it computes."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()
    torch.set_num_threads(threads)
