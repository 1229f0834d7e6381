# Zhengyin — set up, run and test. Every target is safe to re-run.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup system serve test lint bench clean

setup: system $(STAMP) node_modules/.installed

system:
	@bash .ci/system-packages

$(STAMP): requirements.lock pyproject.toml seals/_sm2p256.c certs/_claims.c
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

node_modules/.installed: package.json package-lock.json .npmrc
	npm ci --no-audit --no-fund
	touch $@

serve: setup
	$(VENV)/bin/zhengyin devnet up
	$(VENV)/bin/zhengyin serve

test: setup
	$(VENV)/bin/python -m pytest --basetemp=$(CURDIR)/.pytest-tmp

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

bench: setup
	for b in bench/*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache
