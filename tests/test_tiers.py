"""The test tiers: every test is marked by the services it needs (tests/conftest.py finds them
in its code), so that `make test-fast` can leave those tests out and run without anvil,
PostgreSQL, Chromium or a compiler."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import devnet.anvil
import devnet.hardhat
import devnet.node
import tests.postgres
from tests import conftest
from tests.conftest import REPO_ROOT

# A test module as a newcomer might write it: no marks anywhere.
NEWCOMER = '''
import subprocess

import pytest

from devnet.anvil import Devnet
from tests import conftest
from tests.conftest import private_chain
from tests.postgres import postgres_server

UP = ("devnet", "up")


def start_node(home):
    Devnet(home).up(8545)


class Cli:
    def run(self, *args):
        return subprocess.run(["zhengyin", *args], check=False)


@pytest.fixture
def database():
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def chosen(request):
    return request.getfixturevalue("database") if request.param == "postgresql" else ""


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    start_node(tmp_path_factory.mktemp("node"))


def test_plain():
    assert "run `zhengyin devnet up` first, then try again".endswith("again")


def test_session_chain(rpc):
    pass


def test_issuer(issuer):
    pass


def test_module_node(node):
    pass


def test_private_chain(tmp_path):
    with private_chain(tmp_path):
        pass


def test_through_a_helper(tmp_path):
    start_node(tmp_path)


def test_the_cli():
    Cli().run("devnet", "up")


def test_a_constant():
    Cli().run(*UP)


def test_database(database):
    pass


def test_fetched_by_name(chosen):
    pass


def test_compiles(tmp_path):
    subprocess.run(["gcc", "-o", str(tmp_path / "a"), "a.c"], check=False)


def test_browser():
    from selenium import webdriver

    webdriver.Chrome()


def test_nested():
    def inner():
        Cli().run("devnet", "up")
    inner()


def test_names_a_fixture_without_using_it():
    assert conftest.devnet is not None


@pytest.mark.native
def test_marked_by_hand():
    pass
'''

# Prints, for each collected test, the tier markers it carries.
REPORTER = '''
import json


def pytest_collection_finish(session):
    tiers = {"chain", "postgres", "browser", "native", "slow"}
    print("TIERS " + json.dumps({
        item.name: sorted({m.name for m in item.iter_markers()} & tiers)
        for item in session.items
    }))
'''


def newcomer_tiers(tmp_path: Path) -> dict[str, list[str]]:
    (tmp_path / "test_newcomer.py").write_text(NEWCOMER)
    (tmp_path / "tier_reporter.py").write_text(REPORTER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(tmp_path)])}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(REPO_ROOT / "pyproject.toml"),
         "--rootdir", str(REPO_ROOT), "-p", "tests.conftest", "-p", "tier_reporter",
         "-p", "no:cacheprovider", "-p", "no:schemathesis", "-p", "no:anyio",
         "--collect-only", "-q", str(tmp_path / "test_newcomer.py")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (line,) = [x for x in done.stdout.splitlines() if x.startswith("TIERS ")]
    found: dict[str, list[str]] = json.loads(line.removeprefix("TIERS "))
    return found


def test_a_new_test_is_marked_by_what_its_code_starts(tmp_path: Path) -> None:
    assert newcomer_tiers(tmp_path) == {
        "test_plain": [],  # a sentence naming a command is not the command
        "test_session_chain": ["chain"],
        "test_issuer": ["chain"],
        "test_module_node": ["chain"],
        "test_private_chain": ["chain"],
        "test_through_a_helper": ["chain"],
        "test_the_cli": ["chain"],
        "test_a_constant": ["chain"],
        "test_database": ["postgres"],
        # a fixture fetched by name counts for every parameter (the finder reads code, it
        # does not run it)
        "test_fetched_by_name[sqlite]": ["postgres"],
        "test_fetched_by_name[postgresql]": ["postgres"],
        "test_compiles": ["native"],
        "test_browser": ["browser"],
        "test_nested": ["chain"],
        "test_names_a_fixture_without_using_it": [],
        "test_marked_by_hand": ["native"],
    }


def test_what_the_finder_looks_for_still_exists() -> None:
    """A renamed fixture or helper would leave its tests unmarked: the names must be real."""
    # by strings: naming them here would mark this test too
    for module, name in ((devnet.anvil, "Devnet"), (devnet.anvil, "anvil_binary"),
                         (devnet.hardhat, "HardhatDevnet"), (devnet.hardhat, "hardhat_command"),
                         (devnet.node, "devnet_of"),
                         (conftest, "private_chain"), (tests.postgres, "postgres_server")):
        assert callable(getattr(module, name)), name
        assert name in conftest.SERVICE_NAMES
    for name in conftest.SERVICE_FIXTURES:
        assert type(getattr(conftest, name)).__name__ == "FixtureFunctionDefinition", name


def test_every_slow_test_named_exists() -> None:
    """A renamed slow test would join the fast tier again: each name must be a test."""
    assert conftest.SLOW_TESTS
    for entry in conftest.SLOW_TESTS:
        path, name = entry.split("::")
        tree = ast.parse((REPO_ROOT / path).read_text())
        defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        assert name.startswith("test_") and name in defined, f"{entry} names no test"


def test_the_tiers_are_registered_and_make_test_fast_leaves_them_out() -> None:
    ini = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["pytest"]
    registered = {m.split(":")[0].split("(")[0] for m in ini["ini_options"]["markers"]}
    # the tiers and slow, and devnet_node (which node a test needs: not a tier)
    assert registered == {*conftest.TIER_MARKERS, "slow", "devnet_node"}
    assert "--strict-markers" in ini["ini_options"]["addopts"]
    makefile = (REPO_ROOT / "Makefile").read_text()
    (recipe,) = re.findall(r"^test-fast:.*\n\t(.*)$", makefile, re.M)
    expression = re.search(r'-m "([^"]*)"', recipe)
    assert expression is not None, recipe
    left_out = set(re.findall(r"not (\w+)", expression.group(1)))
    assert left_out == {*conftest.TIER_MARKERS, "slow"}
    assert re.search(r"^test:.*\n\t.*pytest --basetemp=\S+$", makefile, re.M), "make test: all"
