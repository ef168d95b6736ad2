# Gathering: `make run` serves the demo on http://127.0.0.1:8000, `make test` runs the whole suite.
SHELL := /bin/bash
PORT ?= 8000
# .python-version asks pyenv for 3.12; elsewhere use python3.12 if present.
PYTHON ?= $(shell command -v python3.12 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PG_URL ?= postgres://postgres@127.0.0.1:5432/test
REDIS_TEST_URL ?= redis://127.0.0.1:6379/15
PYTEST_WORKERS ?= 2

.PHONY: help install run serve test test-sqlite test-postgres browser lint format types check bench demo clean messages

help:
	@echo "make run    - install, migrate, load the demo when empty, serve on http://127.0.0.1:$(PORT)"
	@echo "make test   - the whole suite (SQLite, then PostgreSQL + Redis when they answer)"
	@echo "make lint   - ruff check and ruff format --check"
	@echo "make bench  - benchmarks under bench/ (not part of make test)"

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else "Python 3.12 or newer is needed (pyenv reads .python-version).")'
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/gathering setup
	$(BIN)/gathering serve --port $(PORT)

demo: install
	$(BIN)/gathering demo

# Debian's Chromium for the real-browser tests and poppler-utils (pdftoppm) for the tests that
# read the QR codes back from rendered ticket PDFs; installed when missing and we are root (CI is).
browser:
	@missing=""; [ -x /usr/bin/chromium ] || missing="chromium"; \
	command -v pdftoppm >/dev/null || missing="$$missing poppler-utils"; \
	missing="$${missing# }"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Debian's $$missing for the browser and PDF tests…"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) \
	      || echo "$$missing could not be installed: browser or PDF rendering tests will be skipped"; \
	  else echo "Missing $$missing and not root: browser or PDF rendering tests will be skipped"; fi; \
	fi

test: install browser
	$(MAKE) --no-print-directory test-sqlite
	$(MAKE) --no-print-directory test-postgres

test-sqlite: install
	@echo "== Test suite on SQLite (in-process cache) =="
	env -u DATABASE_URL -u REDIS_URL $(BIN)/pytest -n $(PYTEST_WORKERS) -q

test-postgres: install
	@if $(BIN)/python tools/service_up.py 127.0.0.1 5432; then \
	  echo "== Test suite on PostgreSQL ($(PG_URL)) =="; \
	  if $(BIN)/python tools/service_up.py 127.0.0.1 6379; then export REDIS_URL=$(REDIS_TEST_URL); echo "   with the Redis cache ($(REDIS_TEST_URL))"; \
	  else echo "   SKIPPED Redis: 127.0.0.1:6379 does not answer; the in-process cache is used"; fi; \
	  echo "   (browser tests and tests marked engine_agnostic ran in the SQLite run only)"; \
	  DATABASE_URL=$(PG_URL) $(BIN)/pytest -n $(PYTEST_WORKERS) -q -m "not browser and not engine_agnostic"; \
	else \
	  echo "SKIPPED PostgreSQL run: nothing answers on 127.0.0.1:5432 (the suite ran on SQLite only)"; \
	fi

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

types: install
	$(BIN)/mypy src/gathering

# bandit and pip-audit: findings and decisions in docs/security-checks.md. Bandit warns about
# every node of a line whose `# nosec` had nothing to silence; those lines are noise here.
check: install lint
	$(BIN)/gathering check
	$(BIN)/gathering makemigrations --check --dry-run
	@echo "== bandit (configuration: [tool.bandit] in pyproject.toml) =="
	$(BIN)/bandit -r src/gathering -c pyproject.toml -q 2> >(grep -v "nosec encountered" >&2) && echo "bandit: no issues"
	@echo "== pip-audit (the installed packages, against PyPI's advisory database) =="
	$(BIN)/python tools/audit_packages.py

# Every script under bench/ (the helpers start with an underscore), one after the other.
bench: install
	@for script in bench/[a-z]*.py; do \
	  echo "== $$script"; $(BIN)/python $$script || exit 1; \
	done

messages: install
	cd src/gathering && ../../$(BIN)/gathering makemessages -l fa -l fr --no-obsolete --ignore "*/tests/*"
	cd src/gathering && ../../$(BIN)/gathering compilemessages

clean:
	rm -rf $(VENV) staticfiles test-artifacts
