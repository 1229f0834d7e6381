"""What the chain says, as values: the on-chain states (issuer, certificate), the records
of keys, types, grants, anchors and statuses, decoded events, and the ``bytes32`` spellings of
issuers, types and jurisdictions.

Values at this layer: an issuer is its 18-character USCC (stored on chain as its ASCII bytes
left-aligned in a ``bytes32``); roots, leaves, key ids and document digests are 32-byte
``bytes``; times are Unix seconds (``int``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from eth_utils import to_checksum_address

from chain.errors import InvalidArgument

_USCC_SHAPE = re.compile(r"[0-9A-Z]{18}")
Block = int | str
"""A block by number, or by tag (``latest``, ``safe``, …) or hex number."""


class IssuerStatus(IntEnum):
    NONE = 0
    ACTIVE = 1
    SUSPENDED = 2


class ChainStatus(IntEnum):
    ACTIVE = 0
    REVOKED = 1
    SUSPENDED = 2
    SUPERSEDED = 3


@dataclass(frozen=True)
class Deployment:
    """Where the contracts live on one chain."""

    chain_id: int
    issuer_registry: str
    certificate_registry: str
    block: int
    """Block of the first deployment transaction: history queries start here."""
    deployer: str


@dataclass(frozen=True)
class KeyRecord:
    """An issuer's SM2 signing key as registered on chain."""

    key_id: bytes
    valid_from: int
    valid_until: int | None
    compromised_at: int | None

    def valid_at(self, when: int) -> bool:
        if when < self.valid_from:
            return False
        if self.valid_until is not None and when >= self.valid_until:
            return False
        return self.compromised_at is None or when < self.compromised_at


@dataclass(frozen=True)
class TypeRecord:
    """A certificate type in the on-chain catalogue (its names are in its events)."""

    code: str
    version: int
    withdrawn_at: int | None
    schema_digest: bytes

    def current_at(self, when: int) -> bool:
        """In the catalogue and not withdrawn at ``when``."""
        return self.withdrawn_at is None or when < self.withdrawn_at


@dataclass(frozen=True)
class Grant:
    """An authorization of an issuer for a type: ``[valid_from, valid_until)`` (``None``: no
    end), for certificates whose jurisdiction starts with ``jurisdiction`` ("": anywhere)."""

    valid_from: int
    valid_until: int | None
    jurisdiction: str

    def covers(self, when: int, jurisdiction: str) -> bool:
        return (
            self.valid_from <= when
            and (self.valid_until is None or when < self.valid_until)
            and jurisdiction.startswith(self.jurisdiction)
        )


@dataclass(frozen=True)
class AnchorInfo:
    """A batch root (or a sealed document's digest) as anchored on chain."""

    digest: bytes
    issuer: str
    leaf_count: int
    block_number: int
    timestamp: int
    by: str


@dataclass(frozen=True)
class LeafStatus:
    """The chain's status of one certificate (by issuer and leaf digest)."""

    status: ChainStatus
    reason: int
    block_number: int | None
    """Block of the last change; ``None`` if its status never changed."""
    timestamp: int | None
    superseded_by: bytes | None


@dataclass(frozen=True)
class ChainEvent:
    """One decoded contract event."""

    name: str
    contract: str
    block_number: int
    timestamp: int
    tx_hash: str
    log_index: int
    args: Mapping[str, Any] = field(default_factory=dict)
    """Event arguments; ``bytes32`` issuer values are decoded back to the USCC string."""
    block_hash: str = ""
    """The hash of the block the log was read from (empty where not read from a node): what
    the index records to tell a chain that went another way from a node that is behind."""


@dataclass(frozen=True)
class ChainSnapshot:
    """Registry facts judged at one block."""

    block: int
    anchors: Mapping[bytes, AnchorInfo | None]
    statuses: Mapping[tuple[str, bytes], LeafStatus]
    keys: Mapping[tuple[str, bytes], KeyRecord | None]
    lag: Mapping[str, Any] = field(default_factory=lambda: {"lag_blocks": 0, "lag_seconds": 0.0})
    """How far behind the chain these facts may be: ``lag_blocks`` (the head last seen less
    ``block``) and ``lag_seconds`` (since they were last confirmed current). Read from the
    chain itself: zero."""


def issuer_id(uscc: str) -> bytes:
    """The on-chain ``bytes32`` of an issuer: its USCC's ASCII, left-aligned, zero-padded."""
    if not isinstance(uscc, str) or not _USCC_SHAPE.fullmatch(uscc):
        raise InvalidArgument(f"issuer code {uscc!r} is not an 18-character USCC")
    return uscc.encode("ascii").ljust(32, b"\0")


def uscc_of(raw: bytes) -> str:
    return raw.rstrip(b"\0").decode("ascii", errors="replace")


CATALOGUE_EVENTS = ("TypeAdded", "TypeRevised", "TypeWithdrawn")
"""Events of the certificate catalogue."""
GRANT_EVENTS = ("IssuerAuthorized", "IssuerDeauthorized")
"""Events of issuers' authorizations."""
_TYPE_SHAPE = re.compile(r"[0-9A-Z]{18}[0-9]{3}")
_PLACE_SHAPE = re.compile(r"[0-9]{0,6}")


def type_id(code: str) -> bytes:
    """The on-chain ``bytes32`` of a certificate type: its 21-character code's ASCII."""
    if not isinstance(code, str) or not _TYPE_SHAPE.fullmatch(code):
        raise InvalidArgument(f"type code {code!r} is not 18 characters of a USCC and 3 digits")
    return code.encode("ascii").ljust(32, b"\0")


def place_id(jurisdiction: str) -> bytes:
    """The on-chain ``bytes32`` of a jurisdiction code or prefix (行政区划, up to 6 digits;
    "" for none)."""
    if not isinstance(jurisdiction, str) or not _PLACE_SHAPE.fullmatch(jurisdiction):
        raise InvalidArgument(
            f"jurisdiction {jurisdiction!r} is not an administrative division code or prefix "
            "(up to 6 digits)"
        )
    return jurisdiction.encode("ascii").ljust(32, b"\0")


def digest32(value: bytes, what: str) -> bytes:
    if not isinstance(value, bytes | bytearray) or len(value) != 32:
        raise InvalidArgument(f"{what} must be 32 bytes")
    return bytes(value)


def account_address(value: str) -> str:
    try:
        return to_checksum_address(value)
    except (ValueError, TypeError) as exc:
        raise InvalidArgument(f"{value!r} is not an account address") from exc
