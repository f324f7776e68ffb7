# The verbs of vidsight. `make demo` and `make test` are the two commands README promises.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATA_DIR ?= .vidsight
PYTEST_ARGS ?=

.PHONY: setup up down status demo test test-unit lint format bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "vidsight needs Python >= 3.11"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

up: setup
	$(BIN)/vidsight up --data-dir $(DATA_DIR)

down:
	@if [ -x $(BIN)/vidsight ]; then $(BIN)/vidsight down --data-dir $(DATA_DIR); fi

status: setup
	$(BIN)/vidsight status --data-dir $(DATA_DIR)

demo: setup
	$(BIN)/vidsight demo --data-dir $(DATA_DIR)

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-unit: setup
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: setup
	@for f in bench/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean: down
	rm -rf $(DATA_DIR) .pytest_cache .mypy_cache .ruff_cache
