"""From settings to live objects: the chain endpoint, the operator account, the registry.

With ``ZHENGYIN_RPC_URL`` unset, the local devnet of ``ZHENGYIN_HOME`` is the chain, started
on demand.
"""

from __future__ import annotations

from chain.registry import Deployment, Registry
from chain.rpc import Rpc
from chain.transactions import TransactionSender
from devnet.anvil import Devnet
from devnet.deploy import DeploymentRecord, fund_on_devnet, operator_key
from verifier.errors import VerifierError
from verifier.settings import Settings


def chain_rpc(settings: Settings, *, start_devnet: bool = True) -> Rpc:
    if settings.rpc_url is not None:
        return Rpc(settings.rpc_url)
    devnet = Devnet(settings.home_dir)
    info = devnet.running()
    if info is None:
        if not start_devnet:
            raise VerifierError(
                "the local devnet is not running: start it with `zhengyin devnet up`",
                code="devnet_not_running",
            )
        info, _ = devnet.up(settings.devnet_port)
    return Rpc(info.url)


def operator(settings: Settings, rpc: Rpc) -> TransactionSender:
    """The account that deploys and governs (created and funded on the devnet)."""
    key = operator_key(settings.operator_key_path, create=settings.uses_devnet)
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


def registry(settings: Settings, *, write: bool = False) -> Registry:
    rpc = chain_rpc(settings)
    return Registry(rpc, deployment(settings, rpc), operator(settings, rpc) if write else None)
