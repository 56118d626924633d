# Two commands on a fresh machine: `make run` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# pipefail: pip's exit status survives the filter that condenses its output
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c

.PHONY: run test lint bench install clean

# pip's own lines condensed: a count every 25 packages resolved, then the install step.
PIP_PROGRESS := awk '/^Collecting/ { n++; if (n % 25 == 0) { printf "      %d packages resolved\n", n; fflush() } } \
	/^Installing collected packages/ { printf "      %d packages resolved; installing them\n", n; fflush() }'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
		found=$$($(PYTHON) -c 'import platform; print(platform.python_version())' 2>/dev/null || echo "not found"); \
		echo "OwnLens needs Python 3.11 or newer; PYTHON=$(PYTHON) is $$found."; \
		echo "Name a newer one, e.g.: make $(or $(MAKECMDGOALS),install) PYTHON=python3.11"; \
		exit 1; }
	@echo "==> [1/3] creating $(VENV) with $$($(PYTHON) --version)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "==> [2/3] upgrading pip"
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	@echo "==> [3/3] installing OwnLens and its dependencies (about 1.5 min on 2 cores)"
	@$(BIN)/python -m pip install --disable-pip-version-check --progress-bar off \
		-e '.[embedded,test,dev]' | $(PIP_PROGRESS)
	@touch $(STAMP)
	@echo "==> installed into $(VENV)"

install: $(STAMP)

run: $(STAMP)
	$(BIN)/ownlens dev

test: $(STAMP)
	@echo "==> running the test suite (about 10 min on 2 cores)"
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/produce.py
	$(BIN)/python bench/consume.py
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) .ownlens .pytest_cache .mypy_cache .ruff_cache
