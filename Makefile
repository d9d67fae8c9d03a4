# tcp-chat developer commands. `make run` and `make client` need no network; `make test` installs
# the test tools (requirements-dev.txt) into .venv the first time. HOST and PORT choose the server
# for both (`make run PORT=6000`, `make client PORT=6000`); NAME the client's name.
PYTHON ?= python3
VENV   := .venv
VPY    := $(VENV)/bin/python
TOOLS  := $(VENV)/.dev-tools
HOST   ?= 127.0.0.1
PORT   ?= 54321
export PYTHONPATH := $(CURDIR)/src

.PHONY: run client test lint typecheck unit bench bench-history bench-cluster rpm dist man clean

$(VPY):
	$(PYTHON) -m venv $(VENV)

$(TOOLS): requirements-dev.txt | $(VPY)
	$(VPY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

run: | $(VPY)
	$(VPY) -m tcpchat server --host $(HOST) --port $(PORT) --log-dir logs

# The client from this checkout (no install: PYTHONPATH above), against the server of `make run`.
# Ctrl+C is a way to leave it (exit status 130), not a failure of make.
client: | $(VPY)
	$(VPY) -m tcpchat client --host $(HOST) --port $(PORT) $(if $(NAME),--name '$(NAME)') \
		|| [ $$? -eq 130 ]

lint: $(TOOLS)
	$(VENV)/bin/ruff check src tests packaging tools
	$(VENV)/bin/ruff format --check src tests packaging tools

typecheck: $(TOOLS)
	$(VENV)/bin/mypy --strict src

test: lint typecheck
	$(VPY) -m pytest

unit: $(TOOLS)
	$(VPY) -m pytest tests --ignore=tests/e2e --ignore=tests/packaging

bench: | $(VPY)
	$(VPY) -m tcpchat.bench --suite standard --write docs/BENCHMARKS.md
	$(VPY) -m tcpchat.bench.cluster_failures --write docs/BENCHMARKS.md
	$(VPY) -m tcpchat.bench.cluster_cost --write docs/BENCHMARKS.md
	$(VPY) -m tcpchat.bench.send_floor --rounds 15 --write docs/BENCHMARKS.md

# The history store with a million messages (about 3 minutes): replay, /search, keep().
bench-history: | $(VPY)
	$(VPY) -m tcpchat.bench.history --like --write docs/BENCHMARKS.md

# Cluster failures (about a minute; skipped without redis-server): 300 clients racing for 100
# names on 3 nodes, 10 times; kill -9 of a node, 5 times: its users' leaves and its freed names.
# Then one node against the standalone server in back-to-back pairs (about 3 minutes).
bench-cluster: | $(VPY)
	$(VPY) -m tcpchat.bench.cluster_failures --write docs/BENCHMARKS.md
	$(VPY) -m tcpchat.bench.cluster_cost --write docs/BENCHMARKS.md

# The noarch RPM, copied to dist/. DIST=el8 or el9 builds and names it as on that release
# (on EL itself the dist tag comes from the system). See packaging/build-rpm.sh --help.
rpm:
	packaging/build-rpm.sh $(if $(DIST),--dist $(DIST))

# Wheel and sdist in dist/.
dist: $(TOOLS)
	$(VPY) -m build --outdir dist .

# The man pages in build/man, from the argument parsers (the RPM build makes its own).
man:
	$(PYTHON) packaging/manpages.py build/man

clean:
	rm -rf build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
