"""A certificate's claims and what is computed from them: the salted claim digest, the leaf
and the signed payload (:mod:`certs.canonical`, items 2-5, is the specification).

Every function here is the Python reference, written in terms of :func:`certs.jcs.jcs` and
SM3 alone; :mod:`certs.formats` selects the native fast path of the same bytes and the tests
hold the two equal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import TypeAlias

from certs import formats
from certs._sm3 import sm3
from certs.errors import CanonicalizationError
from certs.jcs import jcs, utf8
from certs.model import Certificate, CertificateRequest, Holder
from certs.types import CertificateType

FORMAT = "zhengyin-cert/2"
ALGORITHMS: Mapping[str, str] = MappingProxyType({"digest": "sm3", "signature": "sm2"})
LEAF_DOMAIN = b"zhengyin:leaf:v1"
SALT_BYTES = 16

CORE_PATHS: tuple[str, ...] = (
    "identifier",
    "name",
    "number",
    "version",
    "type.code",
    "type.name",
    "defining_body.code",
    "defining_body.name",
    "issuer.code",
    "issuer.name",
    "issue_date",
    "valid_from",
    "valid_until",
    "jurisdiction",
    "holder.name",
    "holder.code",
    "holder.code_type",
    "annotations",
)
ALWAYS_DISCLOSED: tuple[str, ...] = (
    "identifier",
    "type.code",
    "type.name",
    "issuer.code",
    "issuer.name",
    "valid_from",
    "valid_until",
    "jurisdiction",
)
"""Claims no holder may hide: a verifier always learns what the certificate is, who issued
it, where and when it is valid (a verdict on a document of unknown type or validity would
say nothing a clerk can rely on; the issuer's authorization is judged for its jurisdiction)."""
FIELD_PREFIX = "fields."

ClaimValue: TypeAlias = "str | tuple[str, ...] | None"
"""A claim's value: text, a list of texts (``annotations``) or null."""


def claims_of(certificate: Certificate) -> dict[str, ClaimValue]:
    """The claims (``path → value``) of a certificate, core paths first, then its fields."""
    c = certificate
    return _claims(
        str(c.identifier), c.name, c.number, c.version, c.type_code, c.type_name,
        c.defining_body_name, c.issuer_code, c.issuer_name, c.issue_date, c.valid_from,
        c.valid_until, c.jurisdiction, c.holder, c.annotations, c.fields,
    )  # fmt: skip


def request_claims(
    request: CertificateRequest,
    *,
    certificate_type: CertificateType,
    issuer_name: str,
    identifier: str = "",
    version: str = "001",
) -> dict[str, ClaimValue]:
    """``claims_of(build_certificate(request, …))`` straight from the validated request,
    without the certificate objects. ``identifier`` may be left empty and set later, once
    the serial is known; a test holds the two equal."""
    t = certificate_type
    if t.code != request.type_code:
        raise ValueError("certificate_type is not the type of the request")
    return _claims(
        identifier, t.name, request.number, version, request.type_code, t.name,
        t.defining_body_name, request.issuer_code, issuer_name, request.issue_date,
        request.valid_from, request.valid_until, request.jurisdiction, request.holder,
        request.annotations, request.fields,
    )  # fmt: skip


def _claims(
    identifier: str,
    name: str,
    number: str | None,
    version: str,
    type_code: str,
    type_name: str,
    defining_body_name: str,
    issuer_code: str,
    issuer_name: str,
    issue_date: dt.date,
    valid_from: dt.date,
    valid_until: dt.date | None,
    jurisdiction: str,
    holder: Holder,
    annotations: Iterable[str],
    fields: Mapping[str, str],
) -> dict[str, ClaimValue]:
    claims: dict[str, ClaimValue] = {
        "identifier": identifier,
        "name": name,
        "number": number,
        "version": version,
        "type.code": type_code,
        "type.name": type_name,
        "defining_body.code": type_code[:18],  # the identifier's defining body
        "defining_body.name": defining_body_name,
        "issuer.code": issuer_code,
        "issuer.name": issuer_name,
        "issue_date": issue_date.isoformat(),
        "valid_from": valid_from.isoformat(),
        "valid_until": valid_until.isoformat() if valid_until is not None else None,
        "jurisdiction": jurisdiction,
        "holder.name": holder.name,
        "holder.code": holder.code,
        "holder.code_type": holder.code_type,
        "annotations": tuple(annotations),
    }
    for key, value in fields.items():
        claims[FIELD_PREFIX + key] = value
    return claims


def claim_digest(salt: bytes, path: str, value: ClaimValue) -> bytes:
    """``SM3(JCS([salt_hex, path, value]))``."""
    return sm3(jcs([salt.hex(), path, value]))


def path_frame(path: str) -> bytes:
    """``u16be(len(utf8(path))) || utf8(path)``: how the leaf frames a claim's path."""
    encoded = utf8(path)
    if len(encoded) > 0xFFFF:
        raise CanonicalizationError("a claim path is longer than 65,535 bytes")
    return len(encoded).to_bytes(2, "big") + encoded


def leaf_digest(digests: Mapping[str, bytes]) -> bytes:
    """The leaf over every claim::

    SM3("zhengyin:leaf:v1" || for each path in code-point order:
        u16be(len(utf8(path))) || utf8(path) || claim digest)
    """
    for digest in digests.values():
        if len(digest) != 32:
            raise ValueError("a claim digest is 32 bytes")
    return sm3(LEAF_DOMAIN + b"".join([path_frame(p) + digests[p] for p in sorted(digests)]))


def signing_input(
    leaf: bytes,
    key_id: bytes,
    identifier: str,
    jurisdiction: str,
    valid_from: str,
    valid_until: str | None,
) -> bytes:
    """The exact bytes the issuer signs for a certificate (:mod:`certs.canonical`, item 5):
    the JCS of the object below, written by the JCS writer :mod:`certs.formats` selects."""
    if len(leaf) != 32:
        raise ValueError("a leaf digest is 32 bytes")
    if not key_id:
        raise ValueError("a key id cannot be empty")
    signed = {
        "format": FORMAT,
        "alg": dict(ALGORITHMS),
        "leaf": leaf.hex(),
        "key_id": key_id.hex(),
        "identifier": identifier,
        "jurisdiction": jurisdiction,
        "valid_from": valid_from,
        "valid_until": valid_until,
    }
    return formats.jcs_text(signed).encode("utf-8")


def issue_claims_reference(values: Mapping[str, ClaimValue], salts_hex: str) -> tuple[bytes, str]:
    """``(leaf, claims_json)`` from the claims and their salts (32 hex digits per claim, in
    the order of ``values``): the leaf over every claim digest, and the JCS text of the
    document's ``claims`` object (``{path: {"salt": …, "value": …}}``). The reference of the
    C fast path ``certs._claims.issue_claims``."""
    digests: dict[str, bytes] = {}
    members: dict[str, dict[str, object]] = {}
    for i, (path, value) in enumerate(values.items()):
        salt = salts_hex[32 * i : 32 * i + 32]
        digests[path] = sm3(jcs([salt, path, value]))
        members[path] = {"salt": salt, "value": value}
    return leaf_digest(digests), jcs(members).decode("utf-8")
