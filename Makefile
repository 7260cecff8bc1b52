# The README's two commands; each installs what it needs first (idempotent, quick when done):
#   make demo   the main job
#   make test   every test: GoogleTest (ctest) and pytest
# Other targets: make build, make bench, make sanitize, make clean.

PYTHON ?= python3
PIP := $(PYTHON) -m pip
BUILD_DIR := build/cmake
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: system-deps python-deps build test test-cpp test-python demo bench sanitize clean

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

# AddressSanitizer + UndefinedBehaviorSanitizer (README "Reliability"): the library and the
# GoogleTest suite built instrumented (-DTORCH_EXT_SANITIZE=ON) into their own tree, ctest there
# (every entry, the forced CPU variants too), then Python against the instrumented library: the
# ASan and UBSan runtimes preloaded (the interpreter and LibTorch are not instrumented) and
# TORCH_EXT_LIBRARY pointing `import torch_ext` at it. By default Python runs the fuzzer;
# SANITIZE_PYTHON_ARGS runs anything else, e.g. SANITIZE_PYTHON_ARGS="-m pytest -q tests/python/ops".
# Both stop at the first report. Leaks are checked in the C++ tests only: the interpreter leaves
# its objects to the OS at exit, and LeakSanitizer would report them all.
SANITIZE_DIR := build/sanitize
SANITIZE_ASAN_OPTIONS := halt_on_error=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_string_checks=1
SANITIZE_UBSAN_OPTIONS := halt_on_error=1:print_stacktrace=1
SANITIZE_PYTHON_ARGS ?= tests/python/reliability/fuzz_worker.py --examples 5000 --seed 0

sanitize: system-deps python-deps
	cmake -S . -B $(SANITIZE_DIR) -DCMAKE_BUILD_TYPE=Release -DTORCH_EXT_SANITIZE=ON -DTORCH_EXT_BUILD_TESTS=ON \
		-DCMAKE_PREFIX_PATH="$$($(PYTHON) -c 'import torch; print(torch.utils.cmake_prefix_path)')"
	cmake --build $(SANITIZE_DIR) --parallel 2 --target torch_ext_tests
	ASAN_OPTIONS=$(SANITIZE_ASAN_OPTIONS) UBSAN_OPTIONS=$(SANITIZE_UBSAN_OPTIONS) \
		ctest --test-dir $(SANITIZE_DIR) --output-on-failure
	ASAN_OPTIONS=$(SANITIZE_ASAN_OPTIONS):detect_leaks=0 UBSAN_OPTIONS=$(SANITIZE_UBSAN_OPTIONS) \
		LD_PRELOAD="$$(g++ -print-file-name=libasan.so) $$(g++ -print-file-name=libubsan.so)" \
		TORCH_EXT_LIBRARY=$(CURDIR)/$(SANITIZE_DIR)/libtorch_ext.so $(PYTHON) $(SANITIZE_PYTHON_ARGS)

clean:
	rm -rf build torch_ext/lib *.egg-info
