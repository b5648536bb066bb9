# Two commands: `make run` serves the dashboard, `make test` runs every test.
# Both create .venv when missing and install the pinned requirements.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-requirements
DB := data/urban_symbiosis.duckdb
PORT ?= 8501

.PHONY: run test test-fast db check bench clean

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# uv installs the pinned set in seconds; plain pip is the fallback.
	# --compile-bytecode: every later process (the app, the CLI, each test's server) reads the libraries'
	# compiled bytecode instead of compiling them again (seconds each where PYTHONDONTWRITEBYTECODE is set).
	($(BIN)/python -m pip install --quiet uv && $(BIN)/python -m uv pip install --quiet --compile-bytecode --python $(BIN)/python -r requirements.txt) \
		|| $(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

$(DB): | $(STAMP)
	$(BIN)/python -m decision_tools build --db $(DB)

db: $(STAMP)
	$(BIN)/python -m decision_tools build --db $(DB)

check: $(STAMP) $(DB)
	$(BIN)/python -m decision_tools check --db $(DB)

# A missing database is built from the CSVs. A damaged one (status exit 3) is never deleted: it may hold
# uploaded versions, saved views, sessions, comments and the audit log, so build --move-aside-damaged
# renames it (and its .wal) to $(DB).damaged-<UTC time>, says so, and builds a fresh demo database
# (README: "Recovering a damaged database"). One built by an older version (status exit 4) is upgraded in
# place (`upgrade`: numbered migrations, nothing lost); one held by another process stops with a sentence.
run: $(STAMP)
	@$(BIN)/python -m decision_tools status --db $(DB); code=$$?; \
	if [ $$code -eq 1 ] || [ $$code -eq 3 ]; then $(BIN)/python -m decision_tools build --move-aside-damaged --db $(DB) || exit 1; \
	elif [ $$code -eq 4 ]; then $(BIN)/python -m decision_tools upgrade --db $(DB) || exit $$?; \
	elif [ $$code -ne 0 ]; then exit $$code; fi
	$(BIN)/python -m streamlit run app.py --server.port $(PORT) --server.headless true --browser.gatherUsageStats false

# Unit tests and AppTests on three workers (a test file stays on one worker, so its module fixtures are built
# once): a test often waits (a thread, a publish, a page run), and a third worker on the two cores fills those
# waits (measured on this 2-core machine: 8m04s-8m20s instead of 9m03s). Then the browser tests, two at a time
# (each worker starts its own servers and a chromium): with three, a sign-in test timed out under the load.
test: $(STAMP)
	$(BIN)/python -m compileall -q app.py ui.py city_views.py pages decision_tools tests bench
	$(BIN)/python -m pytest -n 3 --dist loadfile tests/unit tests/app
	$(BIN)/python -m pytest -n 2 --dist loadfile tests/e2e

# Only the unit tests (marker `unit`, set by folder in tests/conftest.py), on two workers: the quick check while working.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile -m unit tests/unit

# The database is kept: it holds uploaded versions, saved views, sessions and the audit log.
clean:
	rm -rf $(VENV) .pytest_cache

bench: $(STAMP)
	$(BIN)/python bench/monte_carlo.py
	$(BIN)/python bench/scenario.py
	$(BIN)/python bench/cold_start.py
	$(BIN)/python bench/scale.py
	$(BIN)/python bench/upload_validation.py
	$(BIN)/python bench/load.py
	$(BIN)/python bench/pages.py
