"""Who may issue what, folded from the chain's events: the certificate catalogue (证照目录,
GB/T 36902) and the issuers' grants, as ``IssuerRegistry`` records them.

One implementation for every source: the events — from the node
(:meth:`chain.registry.RegistryClient.events`) or from the service's index of them — are folded
by :func:`fold_catalogue` and :func:`fold_grants` into what the contract holds, and
:func:`authorized` answers the contract's ``authorizedAt`` from that (a test holds the two
equal). Pure functions of the events: verification (:mod:`verifier.checks.chain_checks`,
:mod:`verifier.checks.qr_checks`) and issuance (:mod:`verifier.app.catalogue`) both use them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import verifier.checks.messages  # noqa: F401  (registers the authority.* messages)
from chain.registry import CATALOGUE_EVENTS, GRANT_EVENTS, ChainEvent, Grant, uscc_of
from seals.report import Message


@dataclass(frozen=True)
class CatalogueEntry:
    """A certificate type as the chain's catalogue holds it."""

    code: str
    version: int
    name: str
    defining_body: str
    schema_digest: bytes
    withdrawn_at: int | None = None
    block: int = 0
    """Block of the newest change."""

    def current_at(self, when: int) -> bool:
        return self.withdrawn_at is None or when < self.withdrawn_at

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "version": self.version,
            "name": self.name,
            "defining_body": self.defining_body,
            "schema_sm3": self.schema_digest.hex(),
            "withdrawn_at": self.withdrawn_at,
            "block": self.block,
        }


def type_text(raw: Any) -> str:
    """An event's ``bytes32`` code (a type, a jurisdiction) as text."""
    return uscc_of(bytes(raw)) if isinstance(raw, bytes | bytearray) else str(raw)


def fold_catalogue(events: Iterable[ChainEvent]) -> dict[str, CatalogueEntry]:
    """Type code → its newest state, from catalogue events in chain order."""
    out: dict[str, CatalogueEntry] = {}
    for event in events:
        if event.name not in CATALOGUE_EVENTS:
            continue
        a = event.args
        code = type_text(a["typeCode"])
        if event.name == "TypeWithdrawn":
            if code in out:
                out[code] = replace(
                    out[code], withdrawn_at=int(a["withdrawnAt"]), block=event.block_number
                )
            continue
        out[code] = CatalogueEntry(
            code,
            int(a["version"]),
            str(a["name"]),
            str(a["definingBody"]),
            bytes(a["schemaDigest"]),
            None,
            event.block_number,
        )
    return out


def fold_grants(events: Iterable[ChainEvent]) -> dict[tuple[str, str], list[Grant]]:
    """(issuer, type code) → its grants, from authorization events in chain order, as the
    contract stores them (a withdrawal ends every grant still open at its time)."""
    out: dict[tuple[str, str], list[Grant]] = {}
    for event in events:
        if event.name not in GRANT_EVENTS:
            continue
        a = event.args
        key = (str(a["issuer"]), type_text(a["typeCode"]))
        grants = out.setdefault(key, [])
        if event.name == "IssuerAuthorized":
            grants.append(
                Grant(int(a["validFrom"]), int(a["validUntil"]) or None,
                      type_text(a["jurisdiction"]))
            )
            continue
        at = int(a["validUntil"])
        out[key] = [
            Grant(min(g.valid_from, at), at, g.jurisdiction)
            if g.valid_until is None or g.valid_until > at
            else g
            for g in grants
        ]
    return out


def authorized(
    entry: CatalogueEntry | None, grants: Iterable[Grant], when: int, jurisdiction: str
) -> bool:
    """The contract's ``authorizedAt``: the type in the catalogue and not withdrawn at
    ``when``, and a grant covering ``when`` whose prefix covers ``jurisdiction``."""
    if entry is None or not entry.current_at(when):
        return False
    return any(g.covers(when, jurisdiction) for g in grants)


@dataclass(frozen=True)
class Authority:
    """What the chain says of one issuer and one type: the catalogue entry and the grants."""

    code: str
    entry: CatalogueEntry | None
    grants: tuple[Grant, ...]

    def permits(self, when: int, jurisdiction: str) -> bool:
        return authorized(self.entry, self.grants, when, jurisdiction)

    def why_not(self, when: int, jurisdiction: str, *, now: bool = False) -> Message | None:
        """None if permitted; else what is missing, a catalogue message (``now``: said of the
        present, not of the time judged)."""
        if self.entry is None:
            return Message("authority.unknown_type", {"code": self.code})
        named = {"code": self.code, "name": self.entry.name}
        if not self.entry.current_at(when):
            return Message("authority.withdrawn", named)
        if not self.grants:
            return Message("authority.never", named)
        if self.permits(when, jurisdiction):
            return None
        at = Message("authority.at.now" if now else "authority.at.then")
        return Message(
            "authority.not_granted", {**named, "jurisdiction": jurisdiction, "at": at}
        )


def authority_of(events: Iterable[ChainEvent], issuer: str, code: str) -> Authority:
    """The :class:`Authority` folded from an issuer's and a type's events."""
    events = list(events)
    return Authority(
        code,
        fold_catalogue(events).get(code),
        tuple(fold_grants(events).get((issuer, code), ())),
    )


@dataclass(frozen=True)
class Entitlements:
    """What one issuer may issue at one time (:class:`certs.issuance.Entitlements`): each
    type's :class:`Authority`, folded from the chain's (or the index's) events."""

    issuer: str
    when: int
    authorities: Mapping[str, Authority]

    def why_not(self, type_code: str, jurisdiction: str) -> Message | None:
        """None if the issuer may issue ``type_code`` in ``jurisdiction`` now; else why not,
        with the command that authorizes it."""
        authority = self.authorities.get(type_code) or Authority(type_code, None, ())
        problem = authority.why_not(self.when, jurisdiction, now=True)
        if problem is None:
            return None
        return Message(
            "authority.refused",
            {"problem": problem, "issuer": self.issuer, "type_code": type_code},
        )


def entitlements(
    events: Iterable[ChainEvent], issuer: str, when: int | None = None
) -> Entitlements:
    """The :class:`Entitlements` of ``issuer`` at ``when`` (default: now) from the catalogue's
    events and the issuer's grant events."""
    events = list(events)
    catalogue = fold_catalogue(events)
    grants = {code: g for (who, code), g in fold_grants(events).items() if who == issuer}
    codes = set(catalogue) | set(grants)
    return Entitlements(
        issuer,
        int(dt.datetime.now(dt.UTC).timestamp()) if when is None else when,
        {c: Authority(c, catalogue.get(c), tuple(grants.get(c, ()))) for c in codes},
    )
