# anyuan — the two set-up commands are `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
PIP    := $(BIN)/python -m pip install -q --disable-pip-version-check

.PHONY: demo test lint format lock messages serve clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: requirements.lock pyproject.toml | $(BIN)/python
	$(PIP) -r requirements.lock
	$(PIP) --no-deps -e .
	@touch $@

$(VENV)/.dev: requirements-dev.lock $(VENV)/.runtime
	$(PIP) -r requirements-dev.lock
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	@touch $@

## everything, on the embedded SQLite default: install, migrate, demo park, accounts, serve
demo: $(VENV)/.runtime node_modules/.installed
	PORT=$(PORT) $(BIN)/anyuan demo --port $(PORT)

## the whole test suite (SQLite; PostgreSQL when DATABASE_URL is set)
test: $(VENV)/.dev node_modules/.installed
	$(BIN)/anyuan compiletranslations
	$(BIN)/pytest

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## re-pin the Python dependencies after editing pyproject.toml
lock: $(VENV)/.dev
	$(BIN)/pip-compile -q --no-emit-index-url --no-emit-find-links --strip-extras -o requirements.lock pyproject.toml
	$(BIN)/pip-compile -q --no-emit-index-url --no-emit-find-links --strip-extras --extra dev -o requirements-dev.lock pyproject.toml

## refresh the zh-Hans catalogue after changing user-facing text (needs GNU gettext)
messages: $(VENV)/.dev
	cd src/anyuan && ANYUAN_HOME=$(CURDIR) ../../$(BIN)/anyuan makemessages -l zh_Hans --no-location --no-obsolete

serve: $(VENV)/.runtime node_modules/.installed
	$(BIN)/anyuan serve --port $(PORT)

clean:
	rm -rf $(VENV) node_modules var/static
