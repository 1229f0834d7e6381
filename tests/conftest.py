"""Shared fixtures: a real devnet and deployed contracts (no mocks, no eth-tester).

The node of the `devnet` fixture and of `private_chain` is anvil, or Hardhat's node with
``ZHENGYIN_DEVNET_NODE=hardhat`` (`make test` runs the chain tests again so: the Makefile's
`test-hardhat`). A test that needs what only one node does says so with :func:`only_on`.
"""

from __future__ import annotations

import functools
import gzip
import inspect
import os
import secrets
import socket
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from chain.registry import Deployment, RegistryClient, deploy_contracts
from chain.rpc import Rpc
from chain.transactions import TransactionSender
from devnet.anvil import Devnet
from devnet.deploy import fund_on_devnet
from devnet.node import DevnetInfo, LocalDevnet, devnet_of
from verifier.app.catalogue import authorize_everywhere, publish_catalogue

DEVNET_NODE = os.environ.get("ZHENGYIN_DEVNET_NODE", "anvil")
"""The node the chain tests run on (``anvil`` or ``hardhat``)."""


def only_on(node: str, why: str) -> pytest.MarkDecorator:
    """A test that needs what only ``node`` does (``why``): left out of the run (deselected,
    not skipped) when the devnet is the other node; it runs in that node's pass."""
    return pytest.mark.devnet_node(node, why)


# Hardhat's node knows no `anvil_` method; anvil takes the `hardhat_` names of its own.


def ctrl_c_stops() -> None:
    """``preexec_fn`` of a command a test stops with SIGINT (as Ctrl-C does): Python makes
    SIGINT a ``KeyboardInterrupt`` only when it is not ignored at start, and a test run
    started in the background of a shell without job control (``cmd &``) hands its children
    SIGINT ignored."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def mine(rpc: Rpc, blocks: int = 1) -> None:
    """Mine ``blocks`` empty blocks on the devnet at once (``hardhat_mine``), all at the
    time of the last one: Hardhat's node would space them a second apart, running the
    chain's clock ahead of the wall clock."""
    rpc.call("hardhat_mine", [hex(blocks), "0x0"])


def drop_transaction(rpc: Rpc, tx_hash: str) -> None:
    """Remove a pending transaction from the devnet's pool (``hardhat_dropTransaction``)."""
    rpc.call("hardhat_dropTransaction", [tx_hash])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevnetInfo]:
    """One devnet for the session (:data:`DEVNET_NODE`), under a temporary ZHENGYIN_HOME."""
    node = devnet_of(tmp_path_factory.mktemp("home"), DEVNET_NODE)
    info, _ = node.up(free_port())
    yield info
    node.down()


@pytest.fixture(scope="session")
def rpc(devnet: DevnetInfo) -> Rpc:
    return Rpc(devnet.url)


@dataclass
class Accounts:
    """Funded accounts on the devnet, made on demand."""

    rpc: Rpc

    def new(self) -> TransactionSender:
        sender = TransactionSender(self.rpc, "0x" + secrets.token_hex(32))
        fund_on_devnet(self.rpc, sender.address)
        return sender


@pytest.fixture(scope="session")
def accounts(rpc: Rpc) -> Accounts:
    return Accounts(rpc)


@pytest.fixture(scope="session")
def admin(accounts: Accounts) -> TransactionSender:
    return accounts.new()


@pytest.fixture(scope="session")
def deployment(admin: TransactionSender) -> Deployment:
    """The contracts, with the project's certificate types in their catalogue."""
    found = deploy_contracts(admin)
    publish_catalogue(RegistryClient(admin.rpc, found, admin))
    return found


@pytest.fixture(scope="session")
def admin_registry(rpc: Rpc, deployment: Deployment, admin: TransactionSender) -> RegistryClient:
    return RegistryClient(rpc, deployment, admin)


_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def make_uscc(division: str = "11") -> str:
    """A fresh, well-formed USCC (GB 32100 check character) for each test issuer, registered
    by an authority of ``division`` (the start of its characters 3-8, 行政区划)."""
    body = "91" + division + "".join(
        secrets.choice("0123456789") for _ in range(15 - len(division))
    )
    total = sum(_USCC_ALPHABET.index(c) * pow(3, i, 31) for i, c in enumerate(body))
    return body + _USCC_ALPHABET[(31 - total % 31) % 31]


@dataclass
class Issuer:
    """A registered issuer with one authorised account."""

    uscc: str
    account: TransactionSender
    registry: RegistryClient


@pytest.fixture
def issuer(
    rpc: Rpc, deployment: Deployment, admin_registry: RegistryClient, accounts: Accounts
) -> Issuer:
    uscc = make_uscc()
    account = accounts.new()
    admin_registry.register_issuer(uscc, "测试发证机关")
    admin_registry.add_account(uscc, account.address)
    authorize_everywhere(admin_registry, uscc)
    return Issuer(uscc, account, RegistryClient(rpc, deployment, account))


REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class PrivateChain:
    """A devnet of a test's own (to kill, stop or roll back), with contracts deployed and one
    registered issuer whose account sends."""

    node: LocalDevnet
    port: int
    registry: RegistryClient
    uscc: str


@contextmanager
def private_chain(home: Path, *, receipt_timeout: float = 120.0) -> Iterator[PrivateChain]:
    node = devnet_of(home, DEVNET_NODE)
    info, _ = node.up(free_port())
    try:
        rpc = Rpc(info.url)
        sender = TransactionSender(rpc, "0x" + secrets.token_hex(32),
                                   receipt_timeout=receipt_timeout)
        fund_on_devnet(rpc, sender.address)
        registry = RegistryClient(rpc, deploy_contracts(sender), sender)
        publish_catalogue(registry)
        uscc = make_uscc()
        registry.register_issuer(uscc, "测试发证机关")
        registry.add_account(uscc, sender.address)
        authorize_everywhere(registry, uscc)
        yield PrivateChain(node, info.port, registry, uscc)
    finally:
        node.down()


@contextmanager
def node_behind(home: Path, ahead: Rpc) -> Iterator[Rpc]:
    """A second anvil holding the devnet's chain as it is now (started from its
    ``anvil_dumpState``: the same blocks, hashes, receipts and logs) that mines nothing while
    the devnet goes on: a node behind another, as two nodes behind one load balancer can be.
    (Anvil only: Hardhat's node cannot load a state.)"""
    dump = bytes.fromhex(str(ahead.call("anvil_dumpState"))[2:])
    node = Devnet(home)
    node.dir.mkdir(parents=True)
    node.state_file.write_bytes(gzip.decompress(dump) if dump[:2] == b"\x1f\x8b" else dump)
    info, _ = node.up(free_port())
    try:
        behind = Rpc(info.url)
        head = behind.call("eth_getBlockByNumber", ["latest", False])
        assert head["hash"] == ahead.call("eth_getBlockByNumber", [head["number"], False])["hash"]
        yield behind
    finally:
        node.down()


# --------------------------------------------------------------------------- test tiers
# Every test is marked by what it needs, found in its code rather than remembered by its
# author: `make test-fast` runs the tests that need none of it (see the README).
#
#   chain     a devnet (anvil or Hardhat's node): the session `devnet` fixture (and all
#             built on it), a `private_chain`, `Devnet(...)`, `devnet_of(...)`, or the CLI's
#             `devnet up`
#   postgres  a PostgreSQL server (tests/postgres.py)
#   browser   Chromium and its driver
#   native    gcc/valgrind, or C compiled at test time (a wheel built with its extensions)
#
# The code searched is the test function, the fixtures it uses (also those fetched by name
# with request.getfixturevalue) and, through them, every function, class and constant of the
# test code they name, recursively. A need is a name that starts the service (below) or the
# words of a command that does, both among the strings of one function (`"devnet", "up"`).
# A module that starts a service at import marks itself with `pytestmark`.

TIER_MARKERS = ("chain", "postgres", "browser", "native")
TESTS_DIR = Path(__file__).resolve().parent

#: fixtures that start a service; a test that depends on them, directly or not, needs it
SERVICE_FIXTURES = {"devnet": "chain"}
#: names that start a service: test code that uses one (calls, passes or reads it) needs it
SERVICE_NAMES = {
    "Devnet": "chain",
    "HardhatDevnet": "chain",
    "devnet_of": "chain",
    "private_chain": "chain",
    "anvil_binary": "chain",
    "hardhat_command": "chain",
    "postgres_server": "postgres",
    "webdriver": "browser",
}
#: words that, all among one function's strings, start a service or a compiler
SERVICE_WORDS: tuple[tuple[frozenset[str], str], ...] = (
    (frozenset({"devnet", "up"}), "chain"),
    (frozenset({"chromium"}), "browser"),
    (frozenset({"chromedriver"}), "browser"),
    (frozenset({"gcc"}), "native"),
    (frozenset({"valgrind"}), "native"),
    (frozenset({"build_ext"}), "native"),
    (frozenset({"pip", "wheel"}), "native"),
)

#: tests that need no service but run long (two seconds or more on two busy cores, measured
#: with --durations); `make test` runs them, `make test-fast` does not. A test function by its
#: node id (all its parameters).
SLOW_TESTS = frozenset({
    "tests/seals/pdf/test_pdf_hostile.py::test_hostile_shape_is_bounded",
    "tests/contracts/test_build.py::test_recompiling_reproduces_the_committed_artefacts_byte_for_byte",
    "tests/verifier/test_cli_conventions.py::test_usage_and_internal_errors_by_command",
    "tests/verifier/test_isolation.py::test_a_child_past_its_deadline_is_stopped",
    "tests/verifier/test_isolation.py::test_at_most_one_child_a_core_runs_at_once",
    "tests/verifier/test_isolation.py::test_the_result_comes_back_from_another_process",
    "tests/verifier/test_cli_conventions.py::test_version_is_the_installed_package_version",
    "tests/verifier/test_cli_conventions.py::"
    "test_the_exit_statuses_of_the_code_are_those_of_help_and_the_readme",
    "tests/seals/pdf/test_pdf_hostile.py::test_the_bounds_are_what_refuses",
    "tests/seals/pdf/test_pdf_exactness.py::"
    "test_the_stamper_does_not_make_a_seal_the_verifier_refuses",
    "tests/seals/test_seal_cli.py::test_console_script",
    "tests/certs/test_migrations.py::test_opening_an_up_to_date_database_does_not_load_alembic",
    "tests/test_docs_config.py::test_the_readme_lists_every_environment_variable_the_code_reads",
    "tests/test_packaging.py::test_every_declared_runtime_dependency_is_used",
    "tests/test_packaging.py::test_every_third_party_module_the_runtime_imports_is_declared",
    "tests/test_packaging.py::test_tests_and_benchmarks_import_only_what_they_declare",
})


def _words(value: object, into: set[str]) -> None:
    """The words of the strings in a constant (tuples and frozensets opened); a long text
    (a docstring, a message) is not a command and adds nothing."""
    if isinstance(value, str):
        parts = value.split()
        if len(parts) <= 4:
            into.update(parts)
    elif isinstance(value, (tuple, frozenset)):
        for inner in value:
            _words(inner, into)


@functools.cache
def _is_test_file(name: str, home: Path) -> bool:
    path = Path(name).resolve()
    return path.is_relative_to(TESTS_DIR) or path.is_relative_to(home)


def _codes_of(obj: object, home: Path) -> list[tuple[types.CodeType, dict[str, object]]]:
    """The code objects (with their globals) behind a function, fixture or class; a class
    counts only when a test module defines it (its methods are then read)."""
    if type(obj).__name__ == "FixtureFunctionDefinition":
        return []  # a fixture counts where a test requests it, not where its name is written
    if isinstance(obj, (staticmethod, classmethod)):
        obj = obj.__func__
    if isinstance(obj, property):
        return [c for f in (obj.fget, obj.fset, obj.fdel) if f for c in _codes_of(f, home)]
    if isinstance(obj, types.FunctionType):
        obj = inspect.unwrap(obj)
        if isinstance(obj, types.FunctionType) and _is_test_file(obj.__code__.co_filename, home):
            return [(obj.__code__, obj.__globals__)]
    elif isinstance(obj, type):
        source = getattr(sys.modules.get(obj.__module__), "__file__", None)
        if source and _is_test_file(source, home):
            return [c for member in vars(obj).values() for c in _codes_of(member, home)]
    return []


class TierFinder:
    """What a test needs, found in its code (each function is read once per run)."""

    def __init__(self) -> None:
        self._done: dict[types.CodeType, tuple[set[str], set[str]]] = {}

    def needs_of_item(self, item: pytest.Item) -> set[str]:
        home = Path(str(item.path)).parent
        needs: set[str] = set()
        seen_fixtures: set[str] = set()
        pending = list(getattr(item, "fixturenames", ()))
        roots: list[tuple[types.CodeType, dict[str, object]]] = []
        if isinstance(item, pytest.Function):
            roots += _codes_of(item.obj, home)
        while pending or roots:
            while pending:
                name = pending.pop()
                if name in seen_fixtures:
                    continue
                seen_fixtures.add(name)
                if name in SERVICE_FIXTURES:
                    needs.add(SERVICE_FIXTURES[name])
                defs = item.session._fixturemanager.getfixturedefs(name, item) or ()
                for fixturedef in defs:
                    pending.extend(fixturedef.argnames)
                    roots += _codes_of(fixturedef.func, home)
            if roots:
                code, glob = roots.pop()
                found, fetched = self._needs_of_code(code, glob, home)
                needs |= found
                pending.extend(fetched)
        return needs

    def _needs_of_code(
        self, code: types.CodeType, glob: dict[str, object], home: Path
    ) -> tuple[set[str], set[str]]:
        """The needs of one function and those it reaches, and the fixtures it fetches by
        name (request.getfixturevalue)."""
        if code in self._done:
            return self._done[code]
        needs: set[str] = set()
        fetched: set[str] = set()
        self._done[code] = needs, fetched  # a recursion meets the sets being filled
        names: set[str] = set()
        words: set[str] = set()
        stack = [code]
        while stack:  # nested functions, lambdas and comprehensions are the same function
            current = stack.pop()
            names.update(current.co_names)
            names.update(current.co_freevars)
            for const in current.co_consts:
                if isinstance(const, types.CodeType):
                    stack.append(const)
                else:
                    _words(const, words)
        reached: list[object] = []
        for name in names:
            if name in SERVICE_NAMES:
                needs.add(SERVICE_NAMES[name])
            value = glob.get(name)
            if isinstance(value, types.ModuleType):  # a test helper module: what it names
                reached += [getattr(value, other) for other in names if hasattr(value, other)]
            elif isinstance(value, (str, tuple, frozenset)):  # a module constant
                _words(value, words)
            elif value is not None:
                reached.append(value)
        for group, service in SERVICE_WORDS:
            if group <= words:
                needs.add(service)
        if "getfixturevalue" in names:
            fetched |= words
        for obj in reached:
            for inner, inner_glob in _codes_of(obj, home):
                found, more = self._needs_of_code(inner, inner_glob, home)
                needs |= found
                fetched |= more
        return needs, fetched


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    other_node = [i for i in items if any(
        m.args[0] != DEVNET_NODE for m in i.iter_markers("devnet_node"))]
    if other_node:
        config.hook.pytest_deselected(items=other_node)
        items[:] = [i for i in items if i not in other_node]
    finder = TierFinder()
    for item in items:
        have = {mark.name for mark in item.iter_markers()}
        needs = finder.needs_of_item(item)
        if item.nodeid.split("[")[0] in SLOW_TESTS:
            needs.add("slow")
        for need in sorted(needs - have):
            item.add_marker(need)
