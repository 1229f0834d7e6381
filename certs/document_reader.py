"""Reading a certificate document strictly (:mod:`certs.canonical`, item 7): exactly the
stated members, lower-case hex of the stated lengths, every core path present, the claims
that are always disclosed disclosed and consistent, no duplicate member names, no floats, at
most :data:`~certs.document.MAX_DOCUMENT_BYTES` of UTF-8; otherwise
:class:`~certs.errors.DocumentError` naming what is wrong.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from certs.claims import (
    ALGORITHMS,
    ALWAYS_DISCLOSED,
    CORE_PATHS,
    FIELD_PREFIX,
    FORMAT,
    SALT_BYTES,
    ClaimValue,
)
from certs.document import (
    MAX_DOCUMENT_BYTES,
    Anchor,
    CertificateDocument,
    Claim,
    DisclosedClaim,
    HiddenClaim,
    IssuerSignature,
)
from certs.errors import DocumentError, MerkleProofInvalid, ValidationError
from certs.identifiers import parse_identifier
from certs.jcs import MAX_SAFE_INT
from certs.merkle import MerkleProof

_NULLABLE_PATHS = frozenset({"number", "valid_until"})
_CORE = frozenset(CORE_PATHS)
_CHECKED_LIMIT = 8192


def read_document(text: str | bytes) -> CertificateDocument:
    """Read a document's JSON text strictly (:meth:`CertificateDocument.from_json`)."""
    size = len(text) if isinstance(text, bytes) else len(text.encode("utf-8", "replace"))
    if size > MAX_DOCUMENT_BYTES:
        raise DocumentError(f"the document is larger than {MAX_DOCUMENT_BYTES} bytes")
    try:
        obj = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_float=_no_float,
            parse_constant=_no_float,
        )
    except DocumentError:
        raise
    except (ValueError, RecursionError) as exc:
        raise DocumentError(f"the document is not valid JSON: {exc}") from None
    return document_from_dict(obj)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in pairs:
        if name in out:
            raise DocumentError(f"the document repeats the member name {name!r}")
        out[name] = value
    return out


def _no_float(text: str) -> Any:
    raise DocumentError(f"the document holds the non-integer number {text}; none is allowed")


_HEX = re.compile(r"[0-9a-f]*")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_TX_HASH = re.compile(r"0x[0-9a-fA-F]{64}")


def _hex(obj: Any, what: str, *, size: int | None = None, max_size: int = 64) -> bytes:
    if (
        not isinstance(obj, str)
        or len(obj) % 2
        or not _HEX.fullmatch(obj)
        or (size is not None and len(obj) != 2 * size)
        or not obj
        or len(obj) > 2 * max_size
    ):
        length = f"{2 * size} " if size is not None else ""
        raise DocumentError(f"{what} must be {length}lower-case hex digits")
    return bytes.fromhex(obj)


def _members(obj: Any, what: str, names: Iterable[str]) -> dict[str, Any]:
    expected = set(names)
    if not isinstance(obj, dict):
        raise DocumentError(f"{what} must be a JSON object")
    if set(obj) != expected:
        missing, extra = sorted(expected - set(obj)), sorted(set(obj) - expected)
        detail = "; ".join(
            part
            for part in (
                f"missing {', '.join(missing)}" if missing else "",
                f"unexpected {', '.join(extra)}" if extra else "",
            )
            if part
        )
        raise DocumentError(f"{what} has the wrong members ({detail})")
    return obj


def _int(obj: Any, what: str) -> int:
    if isinstance(obj, bool) or not isinstance(obj, int) or not 0 <= obj <= MAX_SAFE_INT:
        raise DocumentError(f"{what} must be a non-negative integer")
    return obj


_CHECKED_PATHS: set[str] = set()
"""Claim paths that passed :func:`_check_path` (a type's documents share their paths)."""


def _check_path(path: str) -> None:
    if path in _CORE:
        return
    _text("path", path)
    key = path[len(FIELD_PREFIX) :] if path.startswith(FIELD_PREFIX) else ""
    if not key or len(key) > 64 or any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in key):
        raise DocumentError(
            f"the document has a claim with an unknown path {path!r}", code="unknown_path"
        )


_SURROGATE = re.compile("[\ud800-\udfff]")
"""A lone surrogate: JSON can escape one (``\\ud800``), but it is no Unicode text (JCS and
UTF-8 refuse it)."""


def _text(path: str, text: str) -> str:
    if _SURROGATE.search(text):
        raise DocumentError(
            f"claim {path} holds a lone surrogate (\\ud800-\\udfff), which is not text"
        )
    return text


def _claim_value(path: str, obj: Any) -> ClaimValue:
    if isinstance(obj, str):
        if path == "annotations":
            raise DocumentError("claim annotations must be a list of texts")
        return _text(path, obj)
    if obj is None and path in _NULLABLE_PATHS:
        return None
    if path == "annotations" and isinstance(obj, list) and all(isinstance(a, str) for a in obj):
        return tuple(_text(path, a) for a in obj)
    raise DocumentError(f"claim {path} has a value of the wrong JSON type")


def document_from_dict(obj: Any) -> CertificateDocument:
    """Build a document from parsed JSON, checking its shape strictly."""
    if not isinstance(obj, dict):
        raise DocumentError("a certificate document must be a JSON object")
    fmt = obj.get("format")
    if fmt != FORMAT:
        if isinstance(fmt, str) and fmt.startswith("zhengyin-cert/"):
            raise DocumentError(
                f"document format {fmt!r} is not supported; this version reads {FORMAT}",
                code="document_version_unsupported",
            )
        raise DocumentError(f'a certificate document must have "format": "{FORMAT}"')
    doc = _members(obj, "the document", ("format", "alg", "claims", "leaf", "signature", "anchor"))
    if doc["alg"] != dict(ALGORITHMS):
        raise DocumentError(
            f"document algorithms {doc['alg']!r} are not supported; expected {dict(ALGORITHMS)}",
            code="document_algorithm_unsupported",
        )
    raw_claims = doc["claims"]
    if not isinstance(raw_claims, dict):
        raise DocumentError("claims must be a JSON object")
    claims: dict[str, Claim] = {}
    checked = _CHECKED_PATHS
    for path, raw in raw_claims.items():
        if path not in checked:
            _check_path(path)
            if len(checked) < _CHECKED_LIMIT:
                checked.add(path)
        # the common case, decided with a few C calls: {"salt": 32 lower-case hex digits,
        # "value": text}; anything else takes the strict general path below
        if raw.__class__ is dict and len(raw) == 2 and path != "annotations":
            salt_hex, value = raw.get("salt"), raw.get("value")
            if (
                salt_hex.__class__ is str
                and value.__class__ is str
                and len(salt_hex) == 32
                and not _SURROGATE.search(value)
            ):
                try:
                    salt = bytes.fromhex(salt_hex)
                except ValueError:
                    pass
                else:
                    if len(salt) == SALT_BYTES and salt.hex() == salt_hex:
                        claims[path] = DisclosedClaim(salt, value)
                        continue
        if isinstance(raw, dict) and "digest" in raw:
            _members(raw, f"claim {path}", ("digest",))
            claims[path] = HiddenClaim(_hex(raw["digest"], f"claim {path} digest", size=32))
        else:
            _members(raw, f"claim {path}", ("salt", "value"))
            salt = _hex(raw["salt"], f"claim {path} salt", size=SALT_BYTES)
            claims[path] = DisclosedClaim(salt, _claim_value(path, raw["value"]))
    missing = [p for p in CORE_PATHS if p not in claims]
    if missing:
        raise DocumentError(f"the document lacks the claims {', '.join(missing)}")
    _check_shown(claims)
    leaf = _hex(doc["leaf"], "leaf", size=32)
    signature = None
    if doc["signature"] is not None:
        sig = _members(doc["signature"], "signature", ("key_id", "public_key", "value"))
        signature = IssuerSignature(
            key_id=_hex(sig["key_id"], "signature key_id"),
            public_key=_hex(sig["public_key"], "signature public_key", size=65, max_size=65),
            value=_hex(sig["value"], "signature value", max_size=128),
        )
    anchor = None
    if doc["anchor"] is not None:
        a = _members(
            doc["anchor"], "anchor", ("root", "proof", "chain_id", "contract", "tx_hash", "block")
        )
        if not isinstance(a["contract"], str) or not _ADDRESS.fullmatch(a["contract"]):
            raise DocumentError("anchor contract must be 0x and 40 hex digits")
        if not isinstance(a["tx_hash"], str) or not _TX_HASH.fullmatch(a["tx_hash"]):
            raise DocumentError("anchor tx_hash must be 0x and 64 hex digits")
        try:
            proof = MerkleProof.from_json(a["proof"])
        except MerkleProofInvalid as exc:
            raise DocumentError(f"anchor proof: {exc}") from None
        anchor = Anchor(
            root=_hex(a["root"], "anchor root", size=32),
            proof=proof,
            chain_id=_int(a["chain_id"], "anchor chain_id"),
            contract=a["contract"],
            tx_hash=a["tx_hash"],
            block=_int(a["block"], "anchor block"),
        )
    return CertificateDocument(claims=claims, leaf=leaf, signature=signature, anchor=anchor)


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_JURISDICTION = re.compile(r"[1-9][0-9]{5}")


def _check_shown(claims: Mapping[str, Claim]) -> None:
    """The claims of :data:`ALWAYS_DISCLOSED` are disclosed, and agree with each other."""
    hidden = [p for p in ALWAYS_DISCLOSED if not isinstance(claims[p], DisclosedClaim)]
    if hidden:
        raise DocumentError(
            f"the claims {', '.join(hidden)} are hidden; what a certificate is, who issued it "
            "and its validity are always disclosed",
            code="claim_must_be_disclosed",
        )
    values = {p: claims[p].value for p in ALWAYS_DISCLOSED}  # type: ignore[union-attr]
    identifier = values["identifier"]
    if not isinstance(identifier, str):
        raise DocumentError("the identifier claim must be text", code="claims_inconsistent")
    try:
        parsed = parse_identifier(identifier)
    except ValidationError as exc:
        raise DocumentError(str(exc), code="claims_inconsistent") from None
    if (parsed.type_code, parsed.issuer_code) != (values["type.code"], values["issuer.code"]):
        raise DocumentError(
            f"the identifier names type {parsed.type_code} and issuer {parsed.issuer_code}, "
            f"but the claims say type {values['type.code']} and issuer {values['issuer.code']}",
            code="claims_inconsistent",
        )
    if not isinstance(values["jurisdiction"], str) or not _JURISDICTION.fullmatch(
        values["jurisdiction"]
    ):
        raise DocumentError(
            "claim jurisdiction must be a 6-digit administrative division code",
            code="claims_inconsistent",
        )
    for path in ("valid_from", "valid_until"):
        value = values[path]
        if value is None and path == "valid_until":
            continue
        if not isinstance(value, str) or not _DATE.fullmatch(value) or not _is_date(value):
            raise DocumentError(
                f"claim {path} must be a date written YYYY-MM-DD", code="claims_inconsistent"
            )


def _is_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True
