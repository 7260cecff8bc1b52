"""Loads libtorch_ext.so, which registers the torch.ops.torch_ext operators.

The package's own copy (``torch_ext/lib/libtorch_ext.so``, written by the build) is loaded unless
the environment variable ``TORCH_EXT_LIBRARY`` names another build of the library, e.g. the
sanitizer build ``build/sanitize/libtorch_ext.so`` that ``make sanitize`` runs Python against.
"""

import os

import torch

LIBRARY_ENVIRONMENT_VARIABLE = "TORCH_EXT_LIBRARY"
_PACKAGED_LIBRARY_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib", "libtorch_ext.so")
# Read once, when the package is imported: the answer of library_path() is the library loaded.
_LIBRARY_PATH = os.path.abspath(os.environ.get(LIBRARY_ENVIRONMENT_VARIABLE) or _PACKAGED_LIBRARY_PATH)


def library_path() -> str:
    """The path of the operator library this package loads (C++ programs link the same file).

    ``$TORCH_EXT_LIBRARY`` as it was when the package was imported, if set and not empty; else the
    package's own copy.
    """
    return _LIBRARY_PATH


def load() -> None:
    path = library_path()
    if not os.path.exists(path):
        if path != _PACKAGED_LIBRARY_PATH:
            raise ImportError(
                f"torch_ext: the operator library {path} named by ${LIBRARY_ENVIRONMENT_VARIABLE} is missing"
            )
        raise ImportError(
            f"torch_ext: the operator library {path} is missing; build the package with "
            "`pip install --no-build-isolation .` (or `-e .`)"
        )
    torch.ops.load_library(path)
