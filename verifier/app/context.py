"""From settings to live objects: the chain endpoint, the operator account, the registry.

With ``ZHENGYIN_RPC_URL`` unset, the local devnet of ``ZHENGYIN_HOME`` is the chain. Nothing
here starts it: only ``zhengyin devnet up`` does (a devnet that crashed is never silently
replaced by a fresh one, possibly without its last blocks). A command that needs the chain
and finds the devnet down fails with ``devnet_not_running``, saying what to run.
"""

from __future__ import annotations

from typing import Literal

from chain.registry import Deployment, RegistryClient
from chain.rpc import Rpc
from chain.transactions import TransactionSender
from devnet.anvil import Devnet
from devnet.deploy import DeploymentRecord, account_key, fund_on_devnet
from verifier.app.keyring import key_passphrase
from verifier.errors import VerifierError
from verifier.settings import Settings

DEVNET_NOT_RUNNING = (
    "the local devnet is not running: start it with `zhengyin devnet up` (or `make serve`)"
)


def chain_rpc(
    settings: Settings, *, timeout: float = 10.0, start_devnet: Literal[False] = False
) -> Rpc:
    """The configured chain's endpoint: ``ZHENGYIN_RPC_URL``, or the running devnet of this
    home (:class:`VerifierError` ``devnet_not_running`` if it is not running).
    ``start_devnet`` is accepted for callers written before nothing could start a chain
    here; only ``False`` is."""
    if start_devnet:
        raise ValueError("chain_rpc never starts the devnet: run `zhengyin devnet up`")
    if settings.rpc_url is not None:
        return Rpc(settings.rpc_url, timeout=timeout)
    info = Devnet(settings.home_dir).running()
    if info is None:
        raise VerifierError(DEVNET_NOT_RUNNING, code="devnet_not_running")
    return Rpc(info.url, timeout=timeout)


def operator(settings: Settings, rpc: Rpc) -> TransactionSender:
    """The account that deploys and governs (created and funded on the devnet)."""
    key = account_key(
        settings.operator_key_path,
        create=settings.uses_devnet,
        passphrase=key_passphrase(settings.home_dir),
    )
    sender = TransactionSender(rpc, key, confirmations=settings.confirmations)
    if settings.uses_devnet:
        fund_on_devnet(rpc, sender.address)
    return sender


def deployment(settings: Settings, rpc: Rpc) -> Deployment:
    chain_id = int(rpc.call("eth_chainId"), 16)
    found = DeploymentRecord(settings.home_dir).load(chain_id)
    if found is None:
        raise VerifierError(
            f"no contracts are recorded for chain {chain_id}: run `zhengyin deploy` first",
            code="not_deployed",
        )
    return found


def registry(settings: Settings, *, write: bool = False) -> RegistryClient:
    rpc = chain_rpc(settings)
    sender = operator(settings, rpc) if write else None
    return RegistryClient(rpc, deployment(settings, rpc), sender)
