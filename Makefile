# Two commands set everything up on a fresh machine with nothing but python3:
#   make test   creates .venv with the dev extras and runs the test suite
#   make demo   creates .venv, installs oasisgen and trains on the bundled sample
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The suite runs on two worker processes (pytest-xdist) that take tests from each
# other when one runs out (worksteal; a module's fixtures may then be built in
# both), and lists its 15 slowest tests: 13 min 37 s on 2 cores in a fresh clone
# of 523a4f0 (`bash .ci/run`, 2026-12-03 22:48 UTC, 1857 tests; 14 min 44 s with
# the install and the lint), 15 min 23 s for the suite of 89c4b08 on a slow hour
# (14:13 UTC): this shared machine's speed varies by a third within hours, so
# leave room under CI's 15 minutes. CI runs all of it;
# `make test-quick` leaves out the tests marked slow (each 15 s or more).
# PYTEST_WORKERS=0 runs everything in one process.
PYTEST_WORKERS ?= 2
PYTEST_ARGS ?=

# TensorFlow reads its thread pools from the environment when it starts.
export TF_NUM_INTRAOP_THREADS ?= 2
export TF_NUM_INTEROP_THREADS ?= 1
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: test test-quick demo lint format docs benchmarks clean sample-data

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-dev: $(BIN)/python pyproject.toml setup.cfg
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

$(VENV)/.installed-docs: $(BIN)/python pyproject.toml setup.cfg
	$(BIN)/python -m pip install --quiet -e ".[docs]"
	touch $@

$(VENV)/.installed: $(BIN)/python pyproject.toml setup.cfg
	$(BIN)/python -m pip install --quiet -e .
	touch $@

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist worksteal --durations=15 \
		$(PYTEST_ARGS)

test-quick: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist worksteal -m "not slow" \
		$(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The documentation, built offline with warnings as errors (runs the gallery).
docs: $(VENV)/.installed-docs
	MPLBACKEND=Agg $(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html

demo: $(VENV)/.installed
	$(BIN)/oasisgen demo --out runs/demo

# Rebuild the bundled sample from its sources (needs pip and apt-get download).
sample-data: $(BIN)/python
	$(BIN)/python scripts/build_sample_data.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
	rm -rf docs/_build docs/generated docs/auto_examples docs/gen_modules
