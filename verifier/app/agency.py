"""Agencies (issuers) of this service: set-up, keys, accounts, and the objects to act for one.

``add_issuer`` is idempotent: it creates what is missing — the agency's SM2 signing key and
certificate (from the local CA, or imported), its GB/T 38540 seal, its chain account, its
registration, account binding and key on chain, its database record — and prints a new API
key each time (only its hash is stored).

Files under ``ZHENGYIN_HOME``: ``signers/<USCC>.pem|.key`` (SM2 certificate and encrypted
key), ``seals/<code>.esl``, ``issuers/<USCC>/account.key`` (the chain account, 0600).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path

from certs.issuance import IssuerProfile, key_id_of
from certs.store import Store, StoredIssuer
from chain.registry import IssuerStatus, RegistryClient
from chain.rpc import Rpc
from chain.transactions import TransactionSender
from devnet.deploy import account_key, fund_on_devnet
from seals.keys import load_private_key_file
from seals.sm2 import KeySigner
from verifier.app.context import chain_rpc, deployment, operator
from verifier.app.keyring import check_uscc, key_passphrase, make_seal, signer_pair
from verifier.errors import VerifierError
from verifier.settings import Settings


def open_store(settings: Settings) -> Store:
    return Store.open(settings.database)


def hash_api_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def new_api_key() -> str:
    return "zy_" + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class AddedIssuer:
    uscc: str
    name: str
    account: str
    key_id: bytes
    seal_path: Path
    api_key: str
    registered_now: bool


def _issuer_account_key(settings: Settings, uscc: str, *, create: bool) -> str:
    """The agency's chain account key (hex), from its encrypted key file."""
    return account_key(
        settings.home_dir / "issuers" / uscc / "account.key",
        create=create,
        passphrase=key_passphrase(settings.home_dir),
    )


def add_issuer(
    settings: Settings,
    uscc: str,
    name: str,
    *,
    key: Path | None = None,
    cert: Path | None = None,
    picture: Path | None = None,
    jurisdiction: str = "",
) -> AddedIssuer:
    """``jurisdiction``: the agency's administrative division code ("" for a national one),
    recorded with its registration on chain."""
    uscc = check_uscc(uscc)
    name = name.strip()
    if not name:
        raise VerifierError("--name must not be empty", code="issuer_name_missing")
    signer = signer_pair(settings, uscc, name, key, cert)
    key_id = key_id_of(signer.key.public_key)
    existing_seals = sorted((settings.home_dir / "seals").glob(f"{uscc}*.esl"))
    seal_path = (
        existing_seals[-1]
        if existing_seals and key is None
        else make_seal(settings, uscc, name, signer, picture)
    )

    rpc = chain_rpc(settings)
    admin = RegistryClient(rpc, deployment(settings, rpc), operator(settings, rpc))
    account = TransactionSender(rpc, _issuer_account_key(settings, uscc, create=True))
    if settings.uses_devnet:
        fund_on_devnet(rpc, account.address)
    registered_now = admin.issuer_status(uscc) is IssuerStatus.NONE
    if registered_now:
        admin.register_issuer(uscc, name, jurisdiction)
    bound = admin.issuer_of(account.address)
    if bound is None:
        admin.add_account(uscc, account.address)
    elif bound != uscc:
        raise VerifierError(
            f"the chain account {account.address} belongs to issuer {bound}", code="account_taken"
        )
    if admin.key_record(uscc, key_id) is None:
        admin.add_key(
            uscc,
            key_id,
            int(signer.certificate.not_before.timestamp()),
            int(signer.certificate.not_after.timestamp()),
            signer.key.public_key.point,
        )

    store = open_store(settings)
    store.add_issuer(StoredIssuer(uscc, name, account.address, key_id, signer.key.public_key.point))
    api_key = new_api_key()
    store.add_api_key("issuer", uscc, hash_api_key(api_key))
    return AddedIssuer(uscc, name, account.address, key_id, seal_path, api_key, registered_now)


def issuer_profile(settings: Settings, store: Store, uscc: str) -> IssuerProfile:
    """What the issuance pipeline needs to issue for ``uscc`` (its signing key loaded)."""
    stored = require_issuer(store, uscc)
    home = settings.home_dir
    key = load_private_key_file(home / "signers" / f"{uscc}.key", key_passphrase(home))
    if key_id_of(key.public_key) != stored.key_id:
        raise VerifierError(
            f"the signing key of {uscc} on disk is not its registered key",
            code="issuer_key_mismatch",
        )
    return IssuerProfile(uscc, stored.name, KeySigner(key))


def require_issuer(store: Store, uscc: str) -> StoredIssuer:
    stored = store.issuer(uscc)
    if stored is None:
        raise VerifierError(
            f"issuer {uscc} is not set up here: run `zhengyin issuer add`", code="unknown_issuer"
        )
    return stored


def issuer_chain_client(settings: Settings, uscc: str, rpc: Rpc | None = None) -> RegistryClient:
    """A registry client that sends from the issuer's own chain account (through ``rpc``,
    else the configured chain: :func:`verifier.app.context.chain_rpc`)."""
    rpc = rpc or chain_rpc(settings)
    key = _issuer_account_key(settings, uscc, create=False)
    sender = TransactionSender(rpc, key, confirmations=settings.confirmations)
    if settings.uses_devnet:
        fund_on_devnet(rpc, sender.address)
    return RegistryClient(rpc, deployment(settings, rpc), sender)
