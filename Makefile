# make run   - create the environment if needed, start the sandbox and Dagster on http://localhost:3000
# make test  - run the test suite
# make lint  - lint (ruff) and type-check (basedpyright) the code
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: run test lint sandbox bench

$(BIN)/jd-helix: pyproject.toml setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

run: $(BIN)/jd-helix
	$(BIN)/jd-helix dev

# Two workers: much of the suite waits on subprocesses and sandboxes (jd_helix_tests/parallel.py).
test: $(BIN)/jd-helix
	$(BIN)/python -m pytest -q -n 2 --dist loadscope --no-loadscope-reorder

lint: $(BIN)/jd-helix
	$(BIN)/ruff check .
	$(BIN)/basedpyright --project pyproject.toml  # this project's settings, whatever config lies above it

sandbox: $(BIN)/jd-helix
	$(BIN)/jd-helix sandbox --port 8765
