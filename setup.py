"""Builds torch_ext: CMake compiles the operator library, setuptools installs the package.

    pip install --no-build-isolation .        (or -e . for development)

CMakeLists.txt is the one build definition: this file runs it against the installed torch and
copies libtorch_ext.so into torch_ext/lib/, so Python and C++ programs load the very same library.
Environment: TORCH_EXT_BUILD_DIR (default build/cmake) keeps the CMake tree between builds;
TORCH_EXT_BUILD_TESTS=1 also builds the GoogleTest suite there; MAX_JOBS caps the parallel jobs.
"""

import os
import shutil
import subprocess

from setuptools import Extension, find_packages, setup
from setuptools.command.build_ext import build_ext

try:
    import torch
except ImportError as error:  # an isolated build environment has no torch
    raise SystemExit(
        "torch_ext compiles against the installed torch==2.13.0: install it first "
        "(pip install torch==2.13.0), then build with pip install --no-build-isolation ."
    ) from error

ROOT = os.path.dirname(os.path.abspath(__file__))
LIBRARY_MODULE = "torch_ext.lib.libtorch_ext"


class CMakeLibrary(Extension):
    """The operator library, built by CMake rather than by setuptools' compiler."""

    def __init__(self, name: str) -> None:
        super().__init__(name, sources=[])


class BuildWithCMake(build_ext):
    def get_ext_filename(self, fullname: str) -> str:
        # A plain library name (C++ programs link it), not a Python extension module's name.
        filename = super().get_ext_filename(fullname)
        if fullname.split(".")[-1] == LIBRARY_MODULE.split(".")[-1]:
            return os.path.join(os.path.dirname(filename), "libtorch_ext.so")
        return filename

    def build_extension(self, ext: Extension) -> None:
        if ext.name != LIBRARY_MODULE:
            super().build_extension(ext)
            return
        build_dir = os.environ.get("TORCH_EXT_BUILD_DIR", os.path.join(ROOT, "build", "cmake"))
        configure = [
            "cmake", "-S", ROOT, "-B", build_dir,
            "-DCMAKE_BUILD_TYPE=Release",
            f"-DCMAKE_PREFIX_PATH={torch.utils.cmake_prefix_path}",
            "-DTORCH_EXT_BUILD_TESTS=" + ("ON" if os.environ.get("TORCH_EXT_BUILD_TESTS") == "1" else "OFF"),
        ]
        if shutil.which("ninja") and not os.path.exists(os.path.join(build_dir, "Makefile")):
            configure += ["-G", "Ninja"]
        subprocess.check_call(configure)
        jobs = os.environ.get("MAX_JOBS", str(os.cpu_count() or 1))
        subprocess.check_call(["cmake", "--build", build_dir, "--parallel", jobs])
        # An editable install copies the library into the source tree afterwards; make its folder.
        os.makedirs(os.path.join(ROOT, "torch_ext", "lib"), exist_ok=True)
        destination = self.get_ext_fullpath(ext.name)
        os.makedirs(os.path.dirname(destination), exist_ok=True)
        # Copy then rename: a process that has the old library loaded keeps its file intact.
        staging = destination + ".tmp"
        shutil.copyfile(os.path.realpath(os.path.join(build_dir, "libtorch_ext.so")), staging)
        os.replace(staging, destination)


setup(
    name="torch_ext",
    version="0.1.0",
    description="Recurrent cells for PyTorch with hand-written CPU kernels (LSTM, GRU, RNN, layer norm)",
    packages=find_packages(include=["torch_ext", "torch_ext.*"]),
    python_requires=">=3.10",
    install_requires=["torch==2.13.0"],
    ext_modules=[CMakeLibrary(LIBRARY_MODULE)],
    cmdclass={"build_ext": BuildWithCMake},
    zip_safe=False,
)
