"""Chain account keys (the operator's, each agency's) and the deployment record of each chain.

Account keys are kept encrypted at rest like every private key of the project
(:func:`seals.keys.account_key_to_pem`: PKCS#8, scrypt, AES-256-CBC) under the key-encryption
passphrase. A key file still holding the plain hex of earlier versions loads, and is
rewritten encrypted on the spot.

The record lives at ``<home>/deployments/<chain id>.json``. Deploying again is a no-op while
the recorded contracts still have code on the chain; a record whose code is gone (a wiped
devnet, another chain on the same id) is reported, never silently reused.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict
from pathlib import Path

from chain.registry import Deployment, RegistryClient, deploy_contracts
from chain.rpc import Rpc
from chain.transactions import LocalAccount, TransactionSender
from devnet.errors import DevnetError
from seals.errors import SealError
from seals.keys import load_account_key, save_account_key

DEVNET_FUNDING_WEI = 10**24


def account_key(path: Path, *, create: bool, passphrase: bytes) -> str:
    """A chain account's private key (hex) from its encrypted key file ``path``; created
    (random, encrypted, mode 0600) if missing and ``create``. A file holding plain hex (as
    earlier versions wrote) is read and rewritten encrypted."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        if not create:
            raise DevnetError(
                f"no account key at {path}: set ZHENGYIN_OPERATOR_KEY_FILE to the file "
                "holding the deploying account's private key",
                code="operator_key_missing",
            ) from None
        secret = secrets.token_bytes(32)
        LocalAccount(secret)  # 0 or beyond the curve order: astronomically unlikely
        save_account_key(path, secret, passphrase)
        return "0x" + secret.hex()
    if b"ENCRYPTED PRIVATE KEY" in data:
        try:
            return "0x" + load_account_key(data, passphrase).hex()
        except SealError as exc:
            raise DevnetError(
                f"the account key file {path} cannot be read with the key passphrase "
                f"(ZHENGYIN_KEY_PASSPHRASE or <home>/keys/kek): {exc}",
                code="operator_key_invalid",
            ) from exc
    try:
        account = LocalAccount(data.decode("ascii").strip())
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise DevnetError(
            f"the account key file {path} does not hold a valid private key",
            code="operator_key_invalid",
        ) from exc
    save_account_key(path, account.key, passphrase)  # plain hex at rest no longer
    return "0x" + account.key.hex()


def fund_on_devnet(rpc: Rpc, address: str) -> None:
    """Give an account ether on the devnet, so it can pay for gas: ``hardhat_setBalance``,
    which Hardhat's node knows and anvil takes as another name of its ``anvil_setBalance``
    (Hardhat's node knows no ``anvil_`` method)."""
    rpc.call("hardhat_setBalance", [address, hex(DEVNET_FUNDING_WEI)])


class DeploymentRecord:
    """The recorded deployments of one data directory."""

    def __init__(self, home: Path) -> None:
        self.dir = home / "deployments"

    def path(self, chain_id: int) -> Path:
        return self.dir / f"{chain_id}.json"

    def load(self, chain_id: int) -> Deployment | None:
        try:
            raw = json.loads(self.path(chain_id).read_text())
            return Deployment(**raw)
        except FileNotFoundError:
            return None
        except (ValueError, TypeError) as exc:
            raise DevnetError(
                f"the deployment record {self.path(chain_id)} is unreadable ({exc})",
                code="deployment_record_corrupt",
            ) from exc

    def save(self, deployment: Deployment) -> Path:
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.path(deployment.chain_id)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(deployment), indent=2) + "\n")
        tmp.replace(path)
        return path


def ensure_deployed(
    record: DeploymentRecord, sender: TransactionSender, *, replace_missing: bool = False
) -> tuple[Deployment, bool]:
    """Deploy once per chain. Returns ``(deployment, deployed_now)``."""
    rpc = sender.rpc
    chain_id = sender.chain_id
    existing = record.load(chain_id)
    if existing is not None:
        if RegistryClient(rpc, existing).code_present():
            return existing, False
        if not replace_missing:
            raise DevnetError(
                f"the deployment recorded for chain {chain_id} (IssuerRegistry at "
                f"{existing.issuer_registry}, block {existing.block}) has no code on the chain: "
                "the chain was reset or is another one. Run `zhengyin deploy --replace` to deploy "
                "anew (every earlier anchor on that record is lost)",
                code="deployment_missing",
            )
    deployment = deploy_contracts(sender)
    record.save(deployment)
    return deployment, True
