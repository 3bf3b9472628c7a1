# rllib_coopai: `make train` runs the default experiment, `make test` runs the test suite
# (`make test-fast` skips the tests marked slow), `make reproduce CLAIM=<name>` reruns one paper claim
# of docs/REPRODUCTION.md (`make reproduce` lists them).
# Every target creates the virtual environment on first use. Torch is pinned to the local CPU build
# (2.13.0) before anything else so that no CUDA wheels are ever pulled.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
TORCH_VERSION ?= 2.13.0
PYTEST_ARGS ?= --durations=25
CLAIM ?=

.PHONY: install train test test-fast benchmark reproduce clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "torch==$(TORCH_VERSION)"
	$(PIP) install -q -e ".[test]" "torch==$(TORCH_VERSION)"
	touch $(STAMP)

install: $(STAMP)

train: $(STAMP)
	RAY_AUTH_MODE=disabled $(PY) -m rllib_coopai.train_default

test: $(STAMP)
	RAY_AUTH_MODE=disabled $(PY) -m pytest tests -q $(PYTEST_ARGS)

test-fast: $(STAMP)
	RAY_AUTH_MODE=disabled $(PY) -m pytest tests -q -m "not slow" $(PYTEST_ARGS)

benchmark: $(STAMP)
	RAY_AUTH_MODE=disabled $(PY) benchmarks/throughput.py

reproduce: $(STAMP)
	RAY_AUTH_MODE=disabled $(PY) benchmarks/reproduce.py $(if $(CLAIM),--claim $(CLAIM))

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
