# fedi — the two commands of the quick start are `make run` and `make test`.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FEDI_HOST ?= 127.0.0.1
FEDI_PORT ?= 8000
export FEDI_HOST FEDI_PORT

.PHONY: run test lint bench clean fuzz

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
test: $(VENV)/.installed-dev nginx
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

## nginx for the deployment tests: the system's if installed, else Debian's package unpacked into .venv/nginx
## (no root needed). Without either, the deployment tests fail saying so.
NGINX_UNPACKED := $(VENV)/nginx/usr/sbin/nginx
.PHONY: nginx
nginx:
	@if command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx || test -x $(NGINX_UNPACKED); then :; \
	elif ! command -v apt-get >/dev/null 2>&1; then echo "make nginx: no nginx and no apt-get: install nginx to run tests/deploy"; \
	else tmp=$$(mktemp -d) && \
		if (cd $$tmp && apt-get download nginx nginx-common >/dev/null) && mkdir -p $(VENV)/nginx && \
			for deb in $$tmp/*.deb; do dpkg -x $$deb $(VENV)/nginx || exit 1; done && $(NGINX_UNPACKED) -v; \
		then echo "make nginx: unpacked Debian's nginx into $(VENV)/nginx"; \
		else echo "make nginx: could not download or run nginx (apt-get download nginx nginx-common; ldd $(NGINX_UNPACKED)): tests/deploy will fail"; fi; \
		rm -rf $$tmp; fi

## Property-based fuzzing (hypothesis) of signatures, the inbox and the HTML sanitizer: 1,000 fresh
## random cases per property test, over 20,000 in all; prints how many each test ran and the total.
fuzz: $(VENV)/.installed-dev
	HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest -p tests.fuzzing tests/security -k fuzz -q

lint: $(VENV)/.installed-dev
	$(BIN)/lint-imports

## Benchmarks, then one table of their figures against baselines measured in the same run
## (`make bench BENCH_ARGS=--quick` for a short try; `--only requests timeline` for some).
bench: $(VENV)/.installed-dev
	$(BIN)/python bench/table.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info
