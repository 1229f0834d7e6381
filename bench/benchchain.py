"""A throwaway devnet with deployed contracts, a governing account and an issuer account,
for the benchmarks that need a chain."""

from __future__ import annotations

import secrets
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from chain.registry import RegistryClient, deploy_contracts
from chain.rpc import Rpc
from chain.transactions import TransactionSender
from devnet.anvil import Devnet
from devnet.deploy import fund_on_devnet


@dataclass(frozen=True)
class BenchChain:
    home: Path
    rpc: Rpc
    governance: RegistryClient
    """Sends from the admin account."""
    issuer: RegistryClient
    """Sends from a second account (bind it to an issuer with ``add_account``)."""


@contextmanager
def bench_chain() -> Iterator[BenchChain]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    with tempfile.TemporaryDirectory() as home:
        node = Devnet(Path(home))
        info, _ = node.up(port)
        try:
            rpc = Rpc(info.url)
            admin = TransactionSender(rpc, "0x" + secrets.token_hex(32))
            account = TransactionSender(rpc, "0x" + secrets.token_hex(32))
            for sender in (admin, account):
                fund_on_devnet(rpc, sender.address)
            deployment = deploy_contracts(admin)
            yield BenchChain(
                Path(home),
                rpc,
                RegistryClient(rpc, deployment, admin),
                RegistryClient(rpc, deployment, account),
            )
        finally:
            node.down()
