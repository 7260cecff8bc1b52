"""The scripts under examples/, imported by path so that tests run what the README shows."""

import importlib.util
from pathlib import Path
from types import ModuleType

REPOSITORY = Path(__file__).resolve().parents[2]
EXAMPLES = REPOSITORY / "examples"


def load_example(file_name: str) -> ModuleType:
    """Import ``examples/<file_name>`` as a module (its ``main`` guard keeps it from running)."""
    path = EXAMPLES / file_name
    spec = importlib.util.spec_from_file_location(f"example_{path.stem}", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
