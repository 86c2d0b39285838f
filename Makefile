# make up   — start the whole platform on embedded MongoDB + Kafka-protocol broker
# make test — lint, type-check and run every test tier against real infrastructure
# Both create .venv and install the project when needed.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: up test unit contracts lint browser-deps clean-home bench chaos

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (found %s); set PYTHON=python3.11" % sys.version.split()[0])'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

up: $(STAMP)
	$(BIN)/dn up

test: $(STAMP) lint browser-deps
	$(BIN)/python -m pytest

# The browser tier needs Debian's chromium: installed with apt-get when missing (as root),
# else a clear error. Playwright's own browser download is never used.
browser-deps: $(STAMP)
	$(BIN)/python -m tests.browser.chromium

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

contracts: $(STAMP)
	$(BIN)/dn contracts export

# Benchmarks: bench/results/*.json plus a table (not part of `make test`).
bench: $(STAMP)
	$(BIN)/python -m bench

# Fault test: SIGKILL random processes during a long partner run, then compare with ground truth.
chaos: $(STAMP)
	$(BIN)/python -m pytest tests/chaos -p no:randomly -o addopts='' -s

clean-home:
	rm -rf .dn
