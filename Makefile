# make run   - create the environment if needed, start the sandbox and Dagster on http://localhost:3000
# make test  - set up what the tests need (scripts/install-test-system-packages.sh), run the whole suite
# make test-fast - the unit lane only (pytest -m unit), under a minute
# make lint  - format check and lint (ruff), type-check (basedpyright) the code and the tests
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: run test test-fast test-system lint sandbox bench

$(BIN)/jd-helix: pyproject.toml setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

run: $(BIN)/jd-helix
	$(BIN)/jd-helix dev

# make, PostgreSQL's server binaries and Chromium: installed as root with apt, else named.
test-system:
	scripts/install-test-system-packages.sh

# Three workers on 2 cores: much of the suite waits on subprocesses, sandboxes and daemons, and
# two workers left the cores 40 % idle (jd_helix_tests/parallel.py).
test: test-system $(BIN)/jd-helix
	$(BIN)/python -m pytest -q -n 3 --dist loadscope --no-loadscope-reorder

# The unit lane (markers by folder: jd_helix_tests/lanes.py): no sandbox runs, no deployments.
test-fast: $(BIN)/jd-helix
	$(BIN)/python -m pytest -q -n 2 -m unit

lint: $(BIN)/jd-helix
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/basedpyright --project pyproject.toml  # this project's settings, whatever config lies above it

sandbox: $(BIN)/jd-helix
	$(BIN)/jd-helix sandbox --port 8765
