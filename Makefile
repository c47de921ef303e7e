# Two commands for a fresh Debian machine with Python 3.11:
#   make up     install MeshClaw and start it
#   make test   install everything the tests need (apt, PyPI, npm) and run the whole suite
# Python packages come from uv.lock, checked against their hashes; uv itself from requirements/uv.txt.

PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
# The suite mostly waits on the servers it starts, so it runs on two pytest-xdist workers (each with its own
# servers on free ports; a test file stays on one worker) even on 2 cores. 0 runs it in one process.
TEST_WORKERS ?= 2
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
# Installed packages are compiled to bytecode once, at install: where Python may not write .pyc files
# (PYTHONDONTWRITEBYTECODE, a read-only install) every start compiled ~1,500 modules from source again,
# 7 of the 17 s `meshclaw up` took to answer /healthz here (bench/RESULTS.md, 2026-12-02). The first
# install takes ~50 s longer; later ones recompile only what changed.
export UV_COMPILE_BYTECODE := 1

.PHONY: up install test test-deps lint typecheck clean

up: install
	$(VENV)/bin/meshclaw up

install: $(UV)
	$(UV) sync --locked --no-dev

test: test-deps lint typecheck
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadfile

test-deps: $(UV)
	scripts/install-test-deps.sh
	$(UV) sync --locked

lint:
	$(VENV)/bin/ruff check meshclaw tests bench
	$(VENV)/bin/ruff format --check meshclaw tests bench
	$(VENV)/bin/lint-imports

typecheck:
	$(VENV)/bin/mypy

$(UV): requirements/uv.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --require-hashes -r requirements/uv.txt
	touch $(UV)

clean:
	rm -rf $(TOOLS) $(VENV)
