# The two commands: `make demo` and `make test`. Both set up what they need first.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Reinstall the package whenever pyproject.toml changes.
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

.PHONY: demo test check pytest system-deps realmodel bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

system-deps:
	bash scripts/system-deps.sh

realmodel: $(STAMP)
	bash scripts/install-llama.sh $(VENV)

demo: $(STAMP)
	$(BIN)/outreach demo --fresh

check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python -m pytest

test: $(STAMP) system-deps realmodel check pytest

bench: $(STAMP) system-deps
	bash bench/run.sh

clean:
	rm -rf $(VENV) demo .pytest_cache .mypy_cache .ruff_cache
