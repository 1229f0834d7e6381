"""Shared fixtures: a real anvil devnet and deployed contracts (no mocks, no eth-tester)."""

from __future__ import annotations

import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from chain.registry import Deployment, Registry, deploy_contracts
from chain.rpc import Rpc
from chain.transactions import TransactionSender
from devnet.anvil import Devnet, DevnetInfo
from devnet.deploy import fund_on_devnet
from verifier.catalogue import authorize_everywhere, publish_catalogue


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevnetInfo]:
    """One anvil for the session, with its state under a temporary ZHENGYIN_HOME."""
    node = Devnet(tmp_path_factory.mktemp("home"))
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
    publish_catalogue(Registry(admin.rpc, found, admin))
    return found


@pytest.fixture(scope="session")
def admin_registry(rpc: Rpc, deployment: Deployment, admin: TransactionSender) -> Registry:
    return Registry(rpc, deployment, admin)


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
    registry: Registry


@pytest.fixture
def issuer(
    rpc: Rpc, deployment: Deployment, admin_registry: Registry, accounts: Accounts
) -> Issuer:
    uscc = make_uscc()
    account = accounts.new()
    admin_registry.register_issuer(uscc, "测试发证机关")
    admin_registry.add_account(uscc, account.address)
    authorize_everywhere(admin_registry, uscc)
    return Issuer(uscc, account, Registry(rpc, deployment, account))


REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class PrivateChain:
    """A devnet of a test's own (to kill, stop or roll back), with contracts deployed and one
    registered issuer whose account sends."""

    node: Devnet
    port: int
    registry: Registry
    uscc: str


@contextmanager
def private_chain(home: Path, *, receipt_timeout: float = 120.0) -> Iterator[PrivateChain]:
    node = Devnet(home)
    info, _ = node.up(free_port())
    try:
        rpc = Rpc(info.url)
        sender = TransactionSender(rpc, "0x" + secrets.token_hex(32),
                                   receipt_timeout=receipt_timeout)
        fund_on_devnet(rpc, sender.address)
        registry = Registry(rpc, deploy_contracts(sender), sender)
        publish_catalogue(registry)
        uscc = make_uscc()
        registry.register_issuer(uscc, "测试发证机关")
        registry.add_account(uscc, sender.address)
        authorize_everywhere(registry, uscc)
        yield PrivateChain(node, info.port, registry, uscc)
    finally:
        node.down()
