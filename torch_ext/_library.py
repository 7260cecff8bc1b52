"""Loads libtorch_ext.so, which registers the torch.ops.torch_ext operators."""

import os

import torch

_LIBRARY_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib", "libtorch_ext.so")


def library_path() -> str:
    """The path of the operator library this package loads (C++ programs link the same file)."""
    return _LIBRARY_PATH


def load() -> None:
    if not os.path.exists(_LIBRARY_PATH):
        raise ImportError(
            f"torch_ext: the operator library {_LIBRARY_PATH} is missing; build the package with "
            "`pip install --no-build-isolation .` (or `-e .`)"
        )
    torch.ops.load_library(_LIBRARY_PATH)
