# Zhengyin — set up, run and test. Every target is safe to re-run.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PIP    := $(PY) -m pip --disable-pip-version-check
# One lock per purpose (requirements/lock.py remakes them); every install is constrained by all.
LOCKS  := requirements/runtime.lock requirements/test.lock requirements/lint.lock \
          requirements/bench.lock
CONSTRAINTS := $(foreach lock,$(LOCKS),-c $(lock))

.PHONY: setup system serve test test-hardhat test-fast lint bench wheel clean

setup: system $(STAMP) node_modules/.installed

system:
	@bash .ci/system-packages

# pip resolves the project's declared dependencies (every extra), each version fixed by the
# locks: what the code imports but pyproject.toml does not declare is not installed, and the
# tests that need it fail. setuptools is the pinned build backend of the editable install
# (which compiles the C extensions in place).
$(STAMP): $(LOCKS) pyproject.toml seals/_sm2p256.c certs/_claims.c certs/_sm3_impl.h
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet $(CONSTRAINTS) setuptools
	$(PIP) install --quiet $(CONSTRAINTS) --no-build-isolation -e '.[test,lint,bench]'
	touch $@

node_modules/.installed: package.json package-lock.json .npmrc
	npm ci --no-audit --no-fund
	touch $@

serve: setup
	$(VENV)/bin/zhengyin devnet up
	$(VENV)/bin/zhengyin serve

test: setup
	$(VENV)/bin/python -m pytest --basetemp=$(CURDIR)/.pytest-tmp
	$(MAKE) --no-print-directory test-hardhat

# The tests of the chain client and the contracts, and the reorganisation and confirmation
# tests of the index and the verdict, again on Hardhat's node: a second EVM implementation
# (docs/chain-nodes.md). Their fixtures start the node ZHENGYIN_DEVNET_NODE names.
HARDHAT_TESTS := tests/chain tests/verifier/test_indexer.py \
                 tests/verifier/test_reorg_confirmations.py
test-hardhat: setup
	ZHENGYIN_DEVNET_NODE=hardhat $(VENV)/bin/python -m pytest \
	  --basetemp=$(CURDIR)/.pytest-tmp-hardhat -m chain $(HARDHAT_TESTS)

# The tests that need no service (no anvil, PostgreSQL, Chromium or compiler) and run quickly;
# tests/conftest.py marks the others by what their code starts (see the README).
test-fast: setup
	$(VENV)/bin/python -m pytest --basetemp=$(CURDIR)/.pytest-tmp -m "not chain and not postgres and not browser and not native and not slow"

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

bench: setup
	for b in bench/*.py; do $(PY) $$b || exit 1; done

# The wheel (C extensions compiled for this machine) in dist/; install it with
# `pip install -c requirements/runtime.lock dist/zhengyin-*.whl`.
wheel: setup
	rm -rf build dist
	$(PIP) wheel --quiet --no-deps --no-build-isolation -w dist .

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache build dist
