# fedi — the two commands of the quick start are `make run` and `make test`.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FEDI_HOST ?= 127.0.0.1
FEDI_PORT ?= 8000
export FEDI_HOST FEDI_PORT

.PHONY: run test lint bench clean

$(VENV)/.installed: setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

## Install, start the embedded PostgreSQL (unless DATABASE_URL is set), migrate, add a demo department, serve.
run: $(VENV)/.installed
	$(BIN)/fedi quickstart

## Run the test suite against a real (embedded) PostgreSQL, and check the import rules.
test: $(VENV)/.installed-dev
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-dev
	$(BIN)/lint-imports

## Benchmarks: each prints its figures against a baseline measured in the same run.
bench: $(VENV)/.installed-dev
	$(BIN)/python bench/signatures.py
	$(BIN)/python bench/provision.py
	$(BIN)/python bench/inbox_ingest.py
	$(BIN)/python bench/fanout.py

clean:
	rm -rf $(VENV) build *.egg-info
