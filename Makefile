# tcp-chat developer commands. `make run` needs no network; `make test` installs the test tools
# (requirements-dev.txt) into .venv the first time.
PYTHON ?= python3
VENV   := .venv
VPY    := $(VENV)/bin/python
TOOLS  := $(VENV)/.dev-tools
HOST   ?= 127.0.0.1
PORT   ?= 54321
export PYTHONPATH := $(CURDIR)/src

.PHONY: run test lint typecheck unit bench rpm clean

$(VPY):
	$(PYTHON) -m venv $(VENV)

$(TOOLS): requirements-dev.txt | $(VPY)
	$(VPY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

run: | $(VPY)
	$(VPY) -m tcpchat server --host $(HOST) --port $(PORT) --log-dir logs

lint: $(TOOLS)
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/ruff format --check src tests

typecheck: $(TOOLS)
	$(VENV)/bin/mypy --strict src

test: lint typecheck
	$(VPY) -m pytest

unit: $(TOOLS)
	$(VPY) -m pytest tests --ignore=tests/e2e

bench: | $(VPY)
	$(VPY) -m tcpchat.bench --suite standard --write docs/BENCHMARKS.md

clean:
	rm -rf build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
