# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python

.PHONY: demo test test-containers lint format bench install clean-demo lock

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (set PYTHON=python3.11)")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

## demo: migrate the embedded SQLite database, load the bundled listing, create demo subscribers
## and an admin, run the daily job once (emails in var/outbox/), then serve http://127.0.0.1:8000
demo: $(VENV)/.installed
	$(PY) manage.py migrate --noinput
	$(PY) manage.py demo
	$(PY) manage.py runserver 127.0.0.1:8000

## test: the whole suite (services and browser tests skip when absent, fail under CI=true).
## Tests marked `services` run in a second pass on PostgreSQL (pytest-django creates and drops
## test_<name>); set SERVICES_DATABASE_URL to use another server.
SERVICES_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test
test: $(VENV)/.installed
	$(BIN)/pytest -m "not services and not containers"
	DATABASE_URL=$(SERVICES_DATABASE_URL) $(BIN)/pytest -m services

## test-containers: build docker/Dockerfile on a local Debian base and run its roles (needs a
## Docker engine and root; tests/containers/conftest.py). Figures printed at the end.
test-containers: $(VENV)/.installed
	$(BIN)/pytest -m containers

lint: $(VENV)/.installed
	$(PY) docker/lock.py check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports

## lock: requirements.lock, the image's pinned and hashed dependencies, compiled from
## pyproject.toml for CPython 3.11 on Linux x86_64 (uv; pins already in the lock are kept).
## Run it after changing pyproject's dependencies; `make lint` (and CI) fails while it is stale.
lock: $(VENV)/.installed
	$(PY) docker/lock.py write $(BIN)/uv

format: $(VENV)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(VENV)/.installed
	@for script in bench/[!_]*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean-demo:
	rm -rf var/digest.sqlite3* var/outbox
