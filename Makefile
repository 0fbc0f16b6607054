# examforge: two commands on a fresh machine.
#   make demo   builds examples/midterm.yaml into out/ and examples/exam2.yaml into out/exam2/
#   make test   runs the test suite (real pdflatex; the web drill in headless Chromium; two
#               drill servers behind HAProxy)
# Both bootstrap .venv, the CPU torch wheel, the package and TeX Live, idempotently;
# `make test` also installs Debian's Chromium (browser test) and haproxy (load-balancer test)
# when they are missing.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
TORCH  := torch==2.13.0

.PHONY: demo test bootstrap tex chromium haproxy clean bench

bootstrap: $(VENV)/.examforge-installed tex

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# torch goes first, pinned, so nothing later pulls the multi-GB CUDA build.
$(VENV)/.torch-installed: | $(BIN)/python
	$(BIN)/python -m pip install -q $(TORCH)
	touch $@

$(VENV)/.examforge-installed: pyproject.toml $(VENV)/.torch-installed
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

tex:
	@bash scripts/ensure-tex.sh

chromium:
	@bash scripts/ensure-chromium.sh

haproxy:
	@bash scripts/ensure-haproxy.sh

demo: bootstrap
	$(BIN)/examforge build examples/midterm.yaml --roster examples/roster.csv --out out
	$(BIN)/examforge build examples/exam2.yaml --roster examples/roster.csv --out out/exam2

test: bootstrap chromium haproxy
	$(BIN)/python -m pytest -q

bench: bootstrap
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf out .pytest_cache
