# Apportion: two commands on a fresh machine. `make run` serves the app; `make test` runs every test.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8501
DB     ?= data/apportion.duckdb

.PHONY: run test setup setup-dev demo-data chromium java lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt requirements-focus.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	test -x $(VENV)/focus/bin/python || $(PYTHON) -m venv $(VENV)/focus
	$(VENV)/focus/bin/pip install --quiet -r requirements-focus.txt
	touch $@ $(VENV)/.runtime

setup: $(VENV)/.runtime
setup-dev: $(VENV)/.dev

demo-data: setup
	APPORTION_DB_PATH=$(DB) $(BIN)/python -m data.generate --if-empty
	APPORTION_DB_PATH=$(DB) $(BIN)/python -m data.demo_close

run: setup demo-data
	$(BIN)/python -c "from engine.settings import ensure_audit_key_file, ensure_cookie_key_file; ensure_cookie_key_file(); ensure_audit_key_file()"
	APPORTION_DB_PATH=$(DB) $(BIN)/streamlit run app.py --server.port $(PORT) --server.headless true

chromium:
	@test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

# a Java runtime for PySpark (the Spark backend's tests run in local mode)
java:
	@command -v java >/dev/null || (apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless >/dev/null)

lint: setup-dev
	$(BIN)/ruff check .
	$(BIN)/mypy --strict engine connectors

# unit and AppTest tiers on every core (pytest-xdist; each worker builds its own demo store), then the browser
# journeys one at a time (each starts Streamlit servers and a chromium)
test: setup-dev chromium java lint
	$(BIN)/python -m pytest -n auto --maxprocesses 4 tests/unit tests/app
	$(BIN)/python -m pytest tests/e2e

bench: setup-dev
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache test-artifacts
