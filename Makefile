# The README's two commands; each installs what it needs first (idempotent, quick when done):
#   make demo   the main job
#   make test   every test: GoogleTest (ctest) and pytest
# Other targets: make build, make bench, make clean.

PYTHON ?= python3
PIP := $(PYTHON) -m pip
BUILD_DIR := build/cmake
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: system-deps python-deps build test test-cpp test-python demo bench clean

# Debian packages: a compiler, CMake and GoogleTest.
system-deps:
	@if ! command -v cmake >/dev/null || ! command -v g++ >/dev/null || ! dpkg -s libgtest-dev >/dev/null 2>&1; then \
		$(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends cmake g++ make libgtest-dev; \
	fi

# Python packages, pinned (torch==2.13.0 among them).
python-deps:
	$(PIP) install -q -r requirements.txt

# The operator library (CMake, driven by setup.py), the package in editable mode and the C++ tests.
build: system-deps python-deps
	TORCH_EXT_BUILD_TESTS=1 $(PIP) install -q --no-build-isolation -e .

# ctest, then the C++ example (examples/cpp) built the way a user builds it: `cmake --install` to a
# prefix under build/, a fresh CMake project that finds the package there, a short training run.
test-cpp: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure
	cmake --install $(BUILD_DIR) --prefix build/install
	cmake -S examples/cpp -B build/examples-cpp \
		-DCMAKE_PREFIX_PATH="$$($(PYTHON) -c 'import torch; print(torch.utils.cmake_prefix_path)');$(CURDIR)/build/install" \
		$$(command -v ccache >/dev/null && echo -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
	cmake --build build/examples-cpp --parallel 2
	build/examples-cpp/train_sequence --steps 30

test-python: build
	$(PYTHON) -m pytest -n 2 -q

test: test-cpp test-python

demo: build
	$(PYTHON) examples/demo.py

bench: build
	$(PYTHON) benchmarks/run.py

clean:
	rm -rf build torch_ext/lib *.egg-info
