# Two commands matter: `make serve` and `make test`. Both bootstrap .venv by themselves.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# The stamp depends on pyproject.toml, so a second run with unchanged dependencies is a no-op.
STAMP_RUN := $(VENV)/.installed-runtime
STAMP_TEST := $(VENV)/.installed-test
PIP_FLAGS := --quiet --disable-pip-version-check --no-input

.PHONY: serve test lint typecheck pytest bench clean venv

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required (found " + sys.version.split()[0] + ")")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip $(PIP_FLAGS) install --upgrade "pip>=23.2" 2>&1 | grep -v "^WARNING: Location" || true

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	set -o pipefail; $(BIN)/python -m pip $(PIP_FLAGS) install -e . 2>&1 | { grep -v "^WARNING: Location" || true; }
	@touch $@

$(STAMP_TEST): pyproject.toml | $(BIN)/python
	set -o pipefail; $(BIN)/python -m pip $(PIP_FLAGS) install -e '.[test]' 2>&1 | { grep -v "^WARNING: Location" || true; }
	@touch $@ $(STAMP_RUN)

venv: $(STAMP_TEST)

serve: $(STAMP_RUN)
	$(BIN)/mlw serve --demo

lint: $(STAMP_TEST)
	$(BIN)/ruff check server actors store shim tests bench

typecheck: $(STAMP_TEST)
	$(BIN)/mypy

pytest: $(STAMP_TEST)
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

bench: $(STAMP_TEST)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
