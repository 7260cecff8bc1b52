"""Fixtures for the integration tests: a clean torch.compile state and one intra-op thread."""

import os
from pathlib import Path
from typing import Iterator

import pytest
import torch


@pytest.fixture(scope="session", autouse=True)
def fresh_inductor_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Inductor's on-disk caches in a directory of this run. Inductor keys its FX graph cache on
    the graph and the ops' schemas, not on our kernels' output shapes, so a cache left by an
    earlier build of the library could replay code that expects that build's saved tensors."""
    previous = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    cache = tmp_path_factory.mktemp("inductor_cache")
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(cache)
    yield cache
    if previous is None:
        os.environ.pop("TORCHINDUCTOR_CACHE_DIR", None)
    else:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = previous


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
