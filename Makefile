# `make demo` and `make test` each work alone on a fresh machine: they install first when needed.
# Both use .venv: `make demo` installs the light runtime alone (`.[onnx]`, no torch); `make test`
# (and everything else) adds torch and the tools to the same environment.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.demo-installed
BENCH_STAMP := $(VENV)/.bench-installed

.PHONY: install test test-fast e2e demo bench lint clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,baselines,ray]'
	touch $(STAMP)

# The demo's environment: ONNX Runtime without torch, unless the full one is already installed
# (it holds [onnx] too).
$(DEMO_STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	test $(STAMP) -nt pyproject.toml || { $(PY) -m pip install --quiet --upgrade pip && \
		$(PY) -m pip install --quiet -e '.[onnx]'; }
	touch $(DEMO_STAMP)

# The browser test (tests/e2e) runs only under `make e2e`.
test: $(STAMP)
	$(PY) -m pytest -q --ignore=tests/e2e

# The inner loop: everything but the tests marked slow (training runs, exports, the wheel, CLI subprocesses).
test-fast: $(STAMP)
	$(PY) -m pytest -q --ignore=tests/e2e -m "not slow"

# `make e2e`: `pconv serve`'s page in headless Chromium, through Debian's chromium and chromium-driver
# (installed here when missing, as root). `make e2e PCONV_SCREENSHOT=docs/serve.png` refreshes the README's screenshot.
PCONV_SCREENSHOT ?=
export PCONV_SCREENSHOT

e2e: $(STAMP)
	@test -x /usr/bin/chromedriver || [ "$$(id -u)" = 0 ] || \
		{ echo "make e2e needs Debian's chromium and chromium-driver: sudo apt-get install chromium chromium-driver" >&2; exit 1; }
	test -x /usr/bin/chromedriver || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; }
	$(PY) -m pytest -q tests/e2e

# --runtime onnx: the same fill whatever else is installed, on a GPU machine too.
demo: $(DEMO_STAMP)
	$(VENV)/bin/pconv inpaint examples/images --mask examples/masks -o examples/output --overwrite --runtime onnx
	$(PY) examples/sheet.py examples/images examples/masks examples/output examples/output/before-after.png
	@echo "Results: examples/output/ (before/after sheet: examples/output/before-after.png)" >&2

# `make bench BENCH_ARGS=--quick` for a first look; torch-pconv (the `bench` extra) is optional.
$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,bench]' || echo "torch-pconv not installed: its comparison is skipped" >&2
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(PY) -m benchmarks $(BENCH_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

clean:
	rm -rf $(VENV) build dist .pytest_cache
