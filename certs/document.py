"""The certificate document a holder keeps (:mod:`certs.canonical`, item 7): its claims,
leaf, signature and anchor; writing it as JCS; making one, hiding claims, and checking the
leaf. Reading a document strictly is :mod:`certs.document_reader`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any, TypeAlias

from certs import formats
from certs.claims import (
    ALGORITHMS,
    ALWAYS_DISCLOSED,
    FORMAT,
    SALT_BYTES,
    ClaimValue,
    claim_digest,
    claims_of,
    leaf_digest,
    signing_input,
)
from certs.errors import DocumentError, LeafMismatch
from certs.jcs import jcs_object
from certs.merkle import MerkleProof
from certs.model import Certificate

MAX_DOCUMENT_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class DisclosedClaim:
    """A claim shown with its salt, so anyone can recompute its digest."""

    salt: bytes
    """16 random bytes."""
    value: ClaimValue

    def digest(self, path: str) -> bytes:
        return claim_digest(self.salt, path, self.value)


@dataclass(frozen=True, slots=True)
class HiddenClaim:
    """A claim the holder chose not to show: only its digest remains."""

    digest: bytes


Claim: TypeAlias = DisclosedClaim | HiddenClaim


@dataclass(frozen=True)
class IssuerSignature:
    """The issuer's SM2 signature over :func:`certs.claims.signing_input`."""

    key_id: bytes
    """Identifies the issuer's key in the on-chain key registry: SM3 of ``public_key``."""
    public_key: bytes
    """The issuer's SM2 public key, 65-byte uncompressed point (``04 || x || y``)."""
    value: bytes
    """DER ``SEQUENCE {r, s}``."""

    def to_dict(self) -> dict[str, Any]:
        """The ``signature`` member of a document's JSON."""
        return {
            "key_id": self.key_id.hex(),
            "public_key": self.public_key.hex(),
            "value": self.value.hex(),
        }


@dataclass(frozen=True)
class Anchor:
    """Where a certificate's batch root was anchored, and the leaf's path to it."""

    root: bytes
    proof: MerkleProof
    chain_id: int
    contract: str
    """``0x`` + 40 hex digits: the certificate registry contract."""
    tx_hash: str
    """``0x`` + 64 hex digits."""
    block: int

    def to_dict(self) -> dict[str, Any]:
        """The ``anchor`` member of a document's JSON."""
        return {
            "root": self.root.hex(),
            "proof": self.proof.to_json(),
            "chain_id": self.chain_id,
            "contract": self.contract,
            "tx_hash": self.tx_hash,
            "block": self.block,
        }


def _envelope(
    leaf: bytes, signature: IssuerSignature | None, anchor: Anchor | None
) -> dict[str, Any]:
    """Every member of a document's JSON but ``claims``."""
    return {
        "format": FORMAT,
        "alg": dict(ALGORITHMS),
        "leaf": leaf.hex(),
        "signature": None if signature is None else signature.to_dict(),
        "anchor": None if anchor is None else anchor.to_dict(),
    }


def document_text(
    claims_json: str,
    leaf: bytes,
    signature: IssuerSignature | None,
    anchor: Anchor | None = None,
) -> str:
    """The JCS text of a document whose ``claims`` object is given already as JCS text (by
    :func:`certs.formats.issue_claims`): the other members written as
    :meth:`CertificateDocument.to_json` writes them, and the object composed in JCS order."""
    members = {name: formats.jcs_text(value) for name, value in _envelope(
        leaf, signature, anchor).items()}  # fmt: skip
    members["claims"] = claims_json
    return jcs_object(members)


@dataclass(frozen=True)
class CertificateDocument:
    """The self-contained certificate a holder keeps (:mod:`certs.canonical`, item 7)."""

    claims: Mapping[str, Claim]
    leaf: bytes
    signature: IssuerSignature | None = None
    anchor: Anchor | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.claims, MappingProxyType):
            object.__setattr__(self, "claims", MappingProxyType(dict(self.claims)))

    def signing_input(self, key_id: bytes) -> bytes:
        """What the issuer signs for this document with the key ``key_id`` (the claims of
        :data:`~certs.claims.ALWAYS_DISCLOSED` must be disclosed, as reading ensures)."""
        values = self.values()
        valid_until = values["valid_until"]
        return signing_input(
            self.leaf,
            key_id,
            str(values["identifier"]),
            str(values["jurisdiction"]),
            str(values["valid_from"]),
            None if valid_until is None else str(valid_until),
        )

    @property
    def hidden_paths(self) -> tuple[str, ...]:
        """Paths whose values are hidden, sorted."""
        return tuple(sorted(p for p, c in self.claims.items() if isinstance(c, HiddenClaim)))

    def values(self) -> dict[str, ClaimValue]:
        """The disclosed claims' values (hidden ones are absent)."""
        return {p: c.value for p, c in self.claims.items() if isinstance(c, DisclosedClaim)}

    def to_dict(self) -> dict[str, Any]:
        claims: dict[str, Any] = {}
        for path, claim in self.claims.items():
            if isinstance(claim, DisclosedClaim):
                value = list(claim.value) if isinstance(claim.value, tuple) else claim.value
                claims[path] = {"salt": claim.salt.hex(), "value": value}
            else:
                claims[path] = {"digest": claim.digest.hex()}
        return {**_envelope(self.leaf, self.signature, self.anchor), "claims": claims}

    def to_json(self) -> str:
        """The document as canonical JSON (JCS) text."""
        return formats.jcs_text(self.to_dict())

    @classmethod
    def from_json(cls, text: str | bytes) -> CertificateDocument:
        """Read a document strictly; :class:`DocumentError` names what is wrong."""
        from certs.document_reader import read_document

        return read_document(text)

    @classmethod
    def from_dict(cls, obj: Any) -> CertificateDocument:
        """Build a document from parsed JSON, checking its shape strictly."""
        from certs.document_reader import document_from_dict

        return document_from_dict(obj)


def make_document(
    certificate: Certificate, *, random_bytes: Callable[[int], bytes] = os.urandom
) -> CertificateDocument:
    """Salt and digest every claim of ``certificate``; the document's leaf is computed,
    signature and anchor are left empty (the issuance pipeline fills them)."""
    values = claims_of(certificate)
    salts = random_bytes(SALT_BYTES * len(values))
    if len(salts) != SALT_BYTES * len(values):
        raise ValueError("random_bytes returned the wrong number of bytes")
    claims = {
        path: DisclosedClaim(salts[SALT_BYTES * i : SALT_BYTES * (i + 1)], value)
        for i, (path, value) in enumerate(values.items())
    }
    leaf, _ = formats.issue_claims(values, salts.hex())
    return CertificateDocument(claims=claims, leaf=leaf)


def issue_claims(
    certificate: Certificate, *, random_bytes: Callable[[int], bytes] = os.urandom
) -> tuple[bytes, str]:
    """``(leaf, claims_json)`` of ``certificate`` with fresh salts: the leaf of
    :func:`make_document` and the JCS text of its ``claims`` (:func:`document_text` then
    gives ``to_json()`` of the document)."""
    return issue_claim_values(claims_of(certificate), random_bytes=random_bytes)


def issue_claim_values(
    values: dict[str, ClaimValue], *, random_bytes: Callable[[int], bytes] = os.urandom
) -> tuple[bytes, str]:
    """:func:`issue_claims` of the claims themselves (``claims_of`` or ``request_claims``)."""
    salts_hex = random_bytes(SALT_BYTES * len(values)).hex()
    if len(salts_hex) != 2 * SALT_BYTES * len(values):
        raise ValueError("random_bytes returned the wrong number of bytes")
    return formats.issue_claims(values, salts_hex)


def recompute_leaf(document: CertificateDocument) -> tuple[bytes, tuple[str, ...]]:
    """The leaf digest the document's claims give, and the hidden paths (sorted)."""
    hidden = document.hidden_paths
    claims = document.claims
    if not hidden:
        salts = [claim.salt for claim in claims.values() if isinstance(claim, DisclosedClaim)]
        if all(len(salt) == SALT_BYTES for salt in salts):
            return formats.issue_claims(document.values(), b"".join(salts).hex())[0], hidden
    digests = {
        path: claim.digest if isinstance(claim, HiddenClaim) else claim.digest(path)
        for path, claim in claims.items()
    }
    return leaf_digest(digests), hidden


def check_leaf(document: CertificateDocument) -> tuple[str, ...]:
    """Check that the claims give the document's stated leaf; return the hidden paths.
    :class:`LeafMismatch` if a value, salt, digest or path was changed."""
    leaf, hidden = recompute_leaf(document)
    if leaf != document.leaf:
        raise LeafMismatch(
            "the certificate's contents do not match its leaf digest: "
            "a value, salt or hidden digest was altered"
        )
    return hidden


def disclose(document: CertificateDocument, hide: Iterable[str]) -> CertificateDocument:
    """A copy of ``document`` with the claims at ``hide`` replaced by their digests."""
    claims = dict(document.claims)
    for path in hide:
        claim = claims.get(path)
        if claim is None:
            raise DocumentError(
                f"the certificate has no claim {path!r} to hide", code="unknown_path"
            )
        if path in ALWAYS_DISCLOSED:
            raise DocumentError(
                f"the claim {path!r} cannot be hidden: what a certificate is, who issued it "
                "and its validity are always disclosed",
                code="claim_must_be_disclosed",
            )
        if isinstance(claim, DisclosedClaim):
            claims[path] = HiddenClaim(claim.digest(path))
    return replace(document, claims=claims)
