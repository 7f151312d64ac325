# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; install Python 3.11 or run make PYTHON=python3"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/crm-analytics demo --dir demo_output

test: $(STAMP)
	@$(BIN)/python tests/ensure_chromium.py || true
	@$(BIN)/python tests/ensure_java.py || true
	$(BIN)/python -m pytest -m 'slow or not slow' -n auto --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check crm_analytics tests benchmarks scripts

bench: $(STAMP)
	$(BIN)/python benchmarks/load_transactions.py

clean:
	rm -rf $(VENV) demo_output .pytest_cache
