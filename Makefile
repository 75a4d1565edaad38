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
# axe-core, which the browser tests inject, and what tests/clients runs: the npm oEmbed consumers
# (unfurl.js, @extractus/oembed-extractor, open-graph-scraper) and podcast-partytime,
# pinned by tests/js/package-lock.json.
JS_TOOLS := $(if $(NPM),tests/js/node_modules/.package-lock.json)

.PHONY: run lint test test-fast bench clean

# pip, as platforms install (upgraded first: the pip a venv starts with took 21-24 s for
# requirements.txt here, pip 26 12-14 s). A first `make run` on a fresh clone serves the
# topic page in 13-20 s on this 2-core machine at load 3; uv (bootstrapped by pip) was no
# faster there (16-21 s), and only ~10 s faster at load 11 (54-58 s against 66 s).
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.run-installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
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
