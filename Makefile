# The two commands: `make run` serves the sample topic, `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# Test processes (pytest-xdist); `auto` is one per CPU.
WORKERS ?= auto
PYTEST := $(BIN)/python -m pytest -n $(WORKERS) --dist loadgroup
NPM ?= $(shell command -v npm 2>/dev/null)
# axe-core, which the browser tests inject, pinned by tests/js/package-lock.json.
JS_TOOLS := $(if $(NPM),tests/js/node_modules/.package-lock.json)

.PHONY: run lint test test-fast bench clean

# The venv's packages are installed by uv (pinned, bootstrapped by pip): 7-12 s where pip
# takes 21-24 s on a loaded 2-core machine, so a first `make run` serves in under 30 s.
# Compiled at install, as pip does: else, where PYTHONDONTWRITEBYTECODE is set, every
# process (each gunicorn worker) compiles its imports again, 3 s and more each.
# Platforms install with pip (`pip install -r requirements.txt`): .ci/platform-smoke
# checks that path.
UV_PIN := uv==0.13.8
UV_INSTALL = $(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(BIN)/uv: | $(BIN)/python
	$(BIN)/pip install --quiet $(UV_PIN)

$(VENV)/.run-installed: requirements.txt | $(BIN)/uv
	$(UV_INSTALL) -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(BIN)/uv
	$(UV_INSTALL) -r requirements-dev.txt
	touch $@ $(VENV)/.run-installed

run: $(VENV)/.run-installed
	$(BIN)/flask --app app db upgrade
	$(BIN)/flask --app app stories sample --if-empty
	HOST=$(HOST) PORT=$(PORT) $(BIN)/gunicorn wsgi:app

tests/js/node_modules/.package-lock.json: tests/js/package.json tests/js/package-lock.json
	$(NPM) ci --prefix tests/js --no-audit --no-fund
	touch $@

# ruff on everything; mypy --strict on the packages `files` in pyproject.toml names.
lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/mypy

# Lint, then everything; PostgreSQL, Redis and Chromium tests run when TEST_DATABASE_URL,
# TEST_REDIS_URL and /usr/bin/chromium are there (CI: .ci/run), else they are skipped.
# The browser tests share one Chromium and run after the rest, in one process: under
# xdist on a loaded 2-core machine one of them once waited on Chromium for good.
test: lint $(VENV)/.dev-installed $(JS_TOOLS)
	$(PYTEST) -m "not browser" $(PYTEST_ARGS)
	$(BIN)/python -m pytest -m browser $(PYTEST_ARGS)

# While working: SQLite only; no real processes, no browser, no long property runs.
test-fast: $(VENV)/.dev-installed
	$(PYTEST) -m "not slow and not browser and not postgres" $(PYTEST_ARGS)

bench: $(VENV)/.dev-installed
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis test-artifacts tests/js/node_modules
