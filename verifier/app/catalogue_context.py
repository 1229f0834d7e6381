"""What stands behind a certificate in its timeline: the chain events of its type in the
catalogue, of its issuer, and of the issuer's authorization for the type."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chain.registry import (
    CATALOGUE_EVENTS,
    GRANT_EVENTS,
    ChainEvent,
    RegistryClient,
)
from verifier.checks.authority import type_text

ISSUER_EVENTS = (
    "IssuerRegistered",
    "IssuerSuspended",
    "IssuerReinstated",
    "AccountAdded",
    "AccountRemoved",
    "KeyAdded",
    "KeyRetired",
    "KeyCompromised",
)
"""The registry's events about an issuer itself (registration, status, accounts, keys)."""

CONTEXT_NAMES = {
    "TypeAdded": ("type", "type_added"),
    "TypeRevised": ("type", "type_revised"),
    "TypeWithdrawn": ("type", "type_withdrawn"),
    "IssuerAuthorized": ("authorization", "authorized"),
    "IssuerDeauthorized": ("authorization", "deauthorized"),
    "IssuerRegistered": ("issuer", "issuer_registered"),
    "IssuerSuspended": ("issuer", "issuer_suspended"),
    "IssuerReinstated": ("issuer", "issuer_reinstated"),
    "AccountAdded": ("issuer", "account_added"),
    "AccountRemoved": ("issuer", "account_removed"),
    "KeyAdded": ("issuer", "key_added"),
    "KeyRetired": ("issuer", "key_retired"),
    "KeyCompromised": ("issuer", "key_compromised"),
}
"""Chain event → (what it is about, its name in a certificate's timeline)."""


def context_events(events: Iterable[ChainEvent], issuer: str, code: str) -> list[ChainEvent]:
    """Of ``events``, what stands behind a certificate of type ``code`` from ``issuer``: the
    type's catalogue changes, the issuer's grants of that type, the issuer's registration,
    status, account and key events; once each, in chain order."""
    kept = {}
    for e in events:
        a = e.args
        if e.name in CATALOGUE_EVENTS:
            wanted = type_text(a["typeCode"]) == code
        elif e.name in GRANT_EVENTS:
            wanted = a.get("issuer") == issuer and type_text(a["typeCode"]) == code
        else:
            wanted = e.name in ISSUER_EVENTS and a.get("issuer") == issuer
        if wanted:
            kept[(e.block_number, e.log_index)] = e
    return [kept[k] for k in sorted(kept)]


def chain_context(reader: RegistryClient, issuer: str, code: str) -> list[ChainEvent]:
    """:func:`context_events` read from the chain itself."""
    return context_events(
        reader.catalogue_events(code)
        + reader.grant_events(issuer, code)
        + reader.history_of_issuer(issuer),
        issuer,
        code,
    )


def context_detail(event: ChainEvent) -> dict[str, Any]:
    """An event's arguments shown in a timeline: codes as text, digests as hex."""
    out: dict[str, Any] = {}
    for key, value in event.args.items():
        if key in ("issuer", "by"):
            continue
        if key in ("typeCode", "jurisdiction", "prefix") and isinstance(value, bytes | bytearray):
            out[key] = type_text(value)
        elif isinstance(value, bytes | bytearray):
            out[key] = bytes(value).hex()
        else:
            out[key] = value
    return out
