# motcua — two commands do everything: `make run` and `make test` (`make check` lints and type-checks).
PYTHON ?= python3
VENV   ?= .venv
ifeq ($(OS),Windows_NT)
BIN := $(VENV)/Scripts
else
BIN := $(VENV)/bin
endif
CONFIG ?= config.toml

.PHONY: run demo test test-fast check bench bench-central fuzz clean

# The venv is rebuilt when pyproject.toml changes (the stamp files are older then).
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.test-installed: $(VENV)/.installed pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

# PORT=8001 serves on another port than config.toml's server.port (e.g. the demo beside `make run`).
run: $(VENV)/.installed
	$(BIN)/motcua --config $(CONFIG) serve $(if $(PORT),--port $(PORT))

demo: $(VENV)/.installed
	$(BIN)/motcua --config $(CONFIG) demo $(if $(PORT),--port $(PORT))

test: $(VENV)/.test-installed
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The edit-test loop: everything but the browser tests and the wheel build.
test-fast: $(VENV)/.test-installed
	$(BIN)/python -m pytest -m "not browser and not wheel" $(PYTEST_ARGS)

# Formatting is checked over the whole tree (one project-wide ruff format pass was made).
FORMAT_CHECKED ?= queue_server printer tests bench scripts

# Lint, formatting and types (CI runs it before the tests).
check: $(VENV)/.test-installed
	$(BIN)/ruff check queue_server printer tests bench scripts
	$(BIN)/ruff format --check $(FORMAT_CHECKED)
	$(BIN)/mypy
	@# Handlers and features use Office's commands and queries (docs/architecture.md).
	@! grep -rnE 'office(\(request\))?\.(engine|store|hub|lock)\b' --include='*.py' --exclude=office.py queue_server \
		|| { echo "reaches into Office's engine, store, hub or lock: use its commands and queries"; exit 1; }

# bench.py checks issue 12's targets, the year report included (bench/bench_reports.py on a
# year generated once into bench/.cache/, about a minute the first time).
bench: $(VENV)/.test-installed
	$(BIN)/python bench/bench.py $(BENCH_ARGS)
	$(BIN)/python bench/bench_whatif.py
	$(BIN)/python bench/bench_flood.py

# The central for a province: 200 sites × 1 year × 150 tickets a day (docs/central.md).
bench-central: $(VENV)/.test-installed
	$(BIN)/python bench/bench_central.py $(BENCH_ARGS)

fuzz: $(VENV)/.test-installed
	MOTCUA_FUZZ_EXAMPLES=500 $(BIN)/python -m pytest tests/test_fuzz.py $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info bench/.cache
