# rllib_coopai: `make train` runs the default experiment, `make test` runs the test suite.
# Both create the virtual environment on first use. Torch is pinned to the local CPU build
# (2.13.0) before anything else so that no CUDA wheels are ever pulled.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
TORCH_VERSION ?= 2.13.0
PYTEST_ARGS ?=

.PHONY: install train test benchmark clean

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

benchmark: $(STAMP)
	RAY_AUTH_MODE=disabled $(PY) benchmarks/throughput.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
