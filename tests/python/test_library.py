"""torch_ext/_library.py: which operator library ``import torch_ext`` loads.

Each case imports the package in a fresh interpreter, since a process loads the library once.
"""

import os
import shutil
import subprocess
import sys

import pytest

import torch_ext

REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def import_torch_ext(library: str) -> subprocess.CompletedProcess:
    """Runs ``import torch_ext`` with ``$TORCH_EXT_LIBRARY`` set to ``library``; prints the path
    the package reports, an op's answer and the libtorch_ext files the process has mapped."""
    code = (
        "import torch, torch_ext\n"
        "print(torch_ext.library_path())\n"
        "print(torch.ops.torch_ext._cpu_capability())\n"
        "mapped = {line.split()[-1] for line in open('/proc/self/maps') if 'libtorch_ext' in line}\n"
        "print(';'.join(sorted(mapped)))\n"
    )
    environment = dict(os.environ, TORCH_EXT_LIBRARY=library)
    return subprocess.run([sys.executable, "-c", code], cwd=REPOSITORY, env=environment,
                          capture_output=True, text=True, timeout=120)


def test_packaged_library_by_default():
    if os.environ.get("TORCH_EXT_LIBRARY"):
        pytest.skip("this run loads another build ($TORCH_EXT_LIBRARY)")
    assert torch_ext.library_path().endswith(os.path.join("torch_ext", "lib", "libtorch_ext.so"))
    assert os.path.exists(torch_ext.library_path())
    # An empty variable is the same as none.
    result = import_torch_ext("")
    assert result.returncode == 0, result.stderr
    path, _, mapped = result.stdout.splitlines()
    assert path == mapped == torch_ext.library_path()


def test_environment_variable_names_another_build(tmp_path):
    other_build = tmp_path / "libtorch_ext.so"
    shutil.copyfile(torch_ext.library_path(), other_build)
    result = import_torch_ext(str(other_build))
    assert result.returncode == 0, result.stderr
    path, capability, mapped = result.stdout.splitlines()
    assert path == str(other_build)
    assert capability in ("DEFAULT", "AVX2", "AVX512")
    assert mapped == str(other_build)  # that file, not the package's own copy


def test_missing_library_is_named(tmp_path):
    missing = tmp_path / "libtorch_ext.so"
    result = import_torch_ext(str(missing))
    assert result.returncode != 0
    assert "ImportError" in result.stderr
    assert f"{missing} named by $TORCH_EXT_LIBRARY is missing" in result.stderr
