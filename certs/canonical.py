"""The cryptographic form of a certificate: JCS, salted claim digests, leaf, signed payload,
and the certificate document a holder keeps. This docstring is the specification.

1. Canonical JSON is RFC 8785 (JCS): no whitespace; object members sorted by their names'
   UTF-16 code units; strings as ECMAScript ``JSON.stringify`` writes them (only ``"``, ``\\``
   and U+0000-U+001F escaped: ``\\b \\t \\n \\f \\r`` short, others ``\\u00xx`` lower-case hex;
   everything else as-is, UTF-8 encoded; lone surrogates are an error); ``true false null``;
   numbers as ECMAScript ``Number.prototype.toString`` (integers beyond ±(2^53 - 1), NaN and
   infinities are an error). :func:`jcs` implements the whole of RFC 8785.

2. Claims. A certificate's disclosable content is a flat map ``path → value``::

       identifier  name  number  version  type.code  type.name  defining_body.code
       defining_body.name  issuer.code  issuer.name  issue_date  valid_from  valid_until
       jurisdiction  holder.name  holder.code  holder.code_type  annotations
       fields.<key>            (one per type-specific field; <key> is the key verbatim)

   Values are JSON strings, except ``number`` and ``valid_until`` (string or ``null``) and
   ``annotations`` (array of strings). Dates are ``YYYY-MM-DD``. The status is NOT a claim
   (the chain is the authority on it).

3. Each claim has its own salt: 16 random bytes, written as 32 lower-case hex digits. ::

       claim digest = SM3( JCS( [salt_hex, path, value] ) )

   e.g. ``SM3('["00112233445566778899aabbccddeeff","holder.name","张三"]')`` (UTF-8).

4. The leaf digest covers ALL claims of the certificate, disclosed or hidden, each claim
   digest bound to its path (so even a hidden claim's path is authenticated)::

       leaf = SM3( "zhengyin:leaf:v1"                       16 ASCII bytes, no terminator
                   || for each claim, paths in ascending Unicode code-point order
                      (= the byte order of their UTF-8):
                        u16be(byte length of utf8(path)) || utf8(path) || claim digest )

   Binary framing, not JSON, keeps the hashed input small (the leaf is computed for every
   certificate issued and every one verified).

5. The issuer signs (SM2 with SM3, ID ``1234567812345678``) the bytes of :func:`signing_input`::

       JCS({"format": "zhengyin-cert/2", "alg": {"digest": "sm3", "signature": "sm2"},
            "leaf": hex(leaf), "key_id": hex(key_id),
            "identifier": <identifier>, "jurisdiction": "<6 digits>",
            "valid_from": "YYYY-MM-DD", "valid_until": "YYYY-MM-DD" | null})

   The leaf alone would authenticate every claim, but only to someone holding the salts. The
   identifier (which names the type and the issuer), the jurisdiction (where the issuer's
   authorization must cover it) and the validity dates are also signed in clear, so a QR code
   (:mod:`certs.qr`), which has room for no salt, proves exactly the facts it shows. Format 1
   signed the leaf alone; its documents are not read any more.

6. Batches: the leaves go into the SM3 Merkle tree of :mod:`certs.merkle`; its root is
   anchored on chain.

7. The certificate document (``to_json`` writes it as JCS)::

       {"format": "zhengyin-cert/2",
        "alg": {"digest": "sm3", "signature": "sm2"},
        "claims": {"<path>": {"salt": "<32 hex>", "value": <value>}    disclosed
                   "<path>": {"digest": "<64 hex>"}, …},               hidden
        "leaf": "<64 hex>",
        "signature": {"key_id": "<64 hex>", "public_key": "<130 hex>",
                      "value": "<hex of DER SM2 signature>"} | null,
        "anchor": {"root": "<64 hex>", "proof": ["L:<hex>" | "R:<hex>", …],
                   "chain_id": <int>, "contract": "0x<40 hex>",
                   "tx_hash": "0x<64 hex>", "block": <int>} | null}

   Reading is strict: exactly these members, lower-case hex of the stated lengths, every core
   path present, ``key_id`` 1-64 bytes, ``public_key`` the 65-byte uncompressed SM2 point
   whose SM3 digest is ``key_id`` (so a verifier needs only the chain's key registry, which
   holds the digest), signature 1-128 bytes, proof at most 64 steps, no
   duplicate JSON member names, no floats, at most 1 MiB of UTF-8. The claims of
   :data:`ALWAYS_DISCLOSED` (what the certificate is, who issued it, when it is valid) are
   always disclosed, the identifier is well formed (GB/T 36904, check character included) and
   names the ``type.code`` and ``issuer.code`` claims, and the dates are ``YYYY-MM-DD``:
   otherwise :class:`~certs.errors.DocumentError` (``claim_must_be_disclosed``,
   ``claims_inconsistent``). A holder hides other claims with :func:`disclose` (salt and value
   are replaced by the claim digest); a verifier recomputes the leaf with
   :func:`recompute_leaf` / :func:`check_leaf` (which raises
   :class:`~certs.errors.LeafMismatch`) and learns which paths are hidden, then checks the
   signature over :meth:`CertificateDocument.signing_input` and the Merkle proof from the leaf
   to the anchored root (:func:`certs.merkle.verify_proof`).

Issuance computes items 3, 4 and the ``claims`` of 7 with :func:`issue_claims`, which runs in C
(the extension ``certs._claims``, ``certs/_claims.c``, SM3 included) when it is built and in
Python otherwise or for unusual claims; tests/certs/test_claims_native.py holds the two equal.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from json.encoder import encode_basestring
from types import MappingProxyType
from typing import Any, TypeAlias

from certs._sm3 import sm3
from certs.errors import (
    CanonicalizationError,
    DocumentError,
    LeafMismatch,
    MerkleProofInvalid,
    ValidationError,
)
from certs.identifiers import parse_identifier
from certs.merkle import MerkleProof
from certs.model import Certificate, CertificateRequest, Holder
from certs.types import CertificateType

try:  # the C issuance path (certs/_claims.c), built by `make setup`
    from certs import _claims as _native
except ImportError:  # pragma: no cover - not built: the Python path does the same
    _native = None  # type: ignore[assignment]

FORMAT = "zhengyin-cert/2"
ALGORITHMS: Mapping[str, str] = MappingProxyType({"digest": "sm3", "signature": "sm2"})
LEAF_DOMAIN = b"zhengyin:leaf:v1"
SALT_BYTES = 16
MAX_DOCUMENT_BYTES = 1 << 20

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
_NULLABLE_PATHS = frozenset({"number", "valid_until"})
_CORE = frozenset(CORE_PATHS)

Json: TypeAlias = (
    "bool | int | float | str | list[Json] | tuple[Json, ...] | dict[str, Json] | None"
)
ClaimValue: TypeAlias = "str | tuple[str, ...] | None"
"""A claim's value: text, a list of texts (``annotations``) or null."""


# ------------------------------------------------------------------------- RFC 8785 (JCS)

_MAX_SAFE_INT = (1 << 53) - 1


def _utf16_key(name: str) -> bytes:
    return name.encode("utf-16-be", "surrogatepass")


def _es_number(x: float) -> str:
    """ECMAScript Number.prototype.toString for a finite double (RFC 8785 §3.2.2.3)."""
    if x != x or x in (float("inf"), float("-inf")):
        raise CanonicalizationError("JSON cannot hold NaN or infinity")
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    mantissa, _, exp = repr(abs(x)).partition("e")  # repr: shortest round-trip digits
    whole, _, frac = mantissa.partition(".")
    raw = whole + frac
    digits = raw.lstrip("0")
    n = len(whole) + (int(exp) if exp else 0) - (len(raw) - len(digits))
    digits = digits.rstrip("0")
    k = len(digits)
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * -n + digits
    e = n - 1
    exponent = ("e+" if e >= 0 else "e-") + str(abs(e))
    return sign + (digits if k == 1 else digits[0] + "." + digits[1:]) + exponent


def _emit(value: Any, out: Callable[[str], Any]) -> None:
    if isinstance(value, str):
        out(encode_basestring(value))
    elif value is None:
        out("null")
    elif value is True:
        out("true")
    elif value is False:
        out("false")
    elif isinstance(value, int):
        if abs(value) > _MAX_SAFE_INT:
            raise CanonicalizationError(
                f"the integer {value} is beyond ±(2^53 - 1) and cannot be exact in JSON"
            )
        out(str(int(value)))
    elif isinstance(value, float):
        out(_es_number(value))
    elif isinstance(value, list | tuple):
        out("[")
        for i, item in enumerate(value):
            if i:
                out(",")
            _emit(item, out)
        out("]")
    elif isinstance(value, Mapping):
        out("{")
        for i, name in enumerate(sorted(value, key=_key_of)):
            if i:
                out(",")
            out(encode_basestring(name))
            out(":")
            _emit(value[name], out)
        out("}")
    else:
        raise CanonicalizationError(f"JSON cannot hold a value of type {type(value).__name__}")


def _key_of(name: Any) -> bytes:
    if not isinstance(name, str):
        raise CanonicalizationError(f"JSON member names must be text, not {name!r}")
    return _utf16_key(name)


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise CanonicalizationError(
            "text contains a lone surrogate (invalid Unicode) that JSON cannot carry"
        ) from None


def jcs(value: Json | Mapping[str, Any]) -> bytes:
    """The RFC 8785 canonical JSON of ``value`` as UTF-8 bytes."""
    parts: list[str] = []
    _emit(value, parts.append)
    return _utf8("".join(parts))


# ------------------------------------------------------------------------------- claims


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
    without the certificate objects (issuance: ~15 µs less a certificate). ``identifier``
    may be left empty and set later, once the serial is known; a test holds the two equal."""
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
    return sm3(_claim_input(salt.hex(), path, value))


def _claim_input(salt_hex: str, path: str, value: ClaimValue) -> bytes:
    if isinstance(value, str):  # the common case: the same bytes as jcs(), without the walk
        return _utf8(f'["{salt_hex}",{encode_basestring(path)},{encode_basestring(value)}]')
    return jcs([salt_hex, path, value])


_FRAME_CACHE: dict[str, bytes] = {}
_FRAME_CACHE_LIMIT = 8192


def _path_frame(path: str) -> bytes:
    """``u16be(len(utf8(path))) || utf8(path)``; memoized, as a type's certificates share paths."""
    frame = _FRAME_CACHE.get(path)
    if frame is None:
        encoded = _utf8(path)
        if len(encoded) > 0xFFFF:
            raise CanonicalizationError("a claim path is longer than 65,535 bytes")
        frame = len(encoded).to_bytes(2, "big") + encoded
        if len(_FRAME_CACHE) < _FRAME_CACHE_LIMIT:
            _FRAME_CACHE[path] = frame
    return frame


def leaf_digest(digests: Mapping[str, bytes]) -> bytes:
    """The leaf over every claim (module docstring, item 4)::

    SM3("zhengyin:leaf:v1" || for each path in code-point order:
        u16be(len(utf8(path))) || utf8(path) || claim digest)
    """
    for digest in digests.values():
        if len(digest) != 32:
            raise ValueError("a claim digest is 32 bytes")
    return sm3(LEAF_DOMAIN + b"".join([_path_frame(p) + digests[p] for p in sorted(digests)]))


def signing_input(
    leaf: bytes,
    key_id: bytes,
    identifier: str,
    jurisdiction: str,
    valid_from: str,
    valid_until: str | None,
) -> bytes:
    """The exact bytes the issuer signs for a certificate (module docstring, item 5)."""
    if len(leaf) != 32:
        raise ValueError("a leaf digest is 32 bytes")
    if not key_id:
        raise ValueError("a key id cannot be empty")
    # = jcs({"format": FORMAT, "alg": dict(ALGORITHMS), "leaf": …, "key_id": …,
    # "identifier": …, "jurisdiction": …, "valid_from": …, "valid_until": …}), written out
    # directly (members in JCS order); a test holds the two equal
    return _SIGNING_TEMPLATE.format(
        identifier=encode_basestring(identifier),
        jurisdiction=encode_basestring(jurisdiction),
        key_id=key_id.hex(),
        leaf=leaf.hex(),
        valid_from=encode_basestring(valid_from),
        valid_until="null" if valid_until is None else encode_basestring(valid_until),
    ).encode("utf-8")


_BEYOND_BMP = re.compile("[\U00010000-\U0010ffff]")
_SIGNING_TEMPLATE = (
    '{{"alg":{{"digest":"sm3","signature":"sm2"}},"format":"' + FORMAT
    + '","identifier":{identifier},"jurisdiction":{jurisdiction},"key_id":"{key_id}"'
    + ',"leaf":"{leaf}","valid_from":{valid_from},"valid_until":{valid_until}}}'
)


# ---------------------------------------------------------------------------- documents


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
    """The issuer's SM2 signature over :func:`signing_input`."""

    key_id: bytes
    """Identifies the issuer's key in the on-chain key registry: SM3 of ``public_key``."""
    public_key: bytes
    """The issuer's SM2 public key, 65-byte uncompressed point (``04 || x || y``)."""
    value: bytes
    """DER ``SEQUENCE {r, s}``."""


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


@dataclass(frozen=True)
class CertificateDocument:
    """The self-contained certificate a holder keeps (see the module docstring, item 7)."""

    claims: Mapping[str, Claim]
    leaf: bytes
    signature: IssuerSignature | None = None
    anchor: Anchor | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.claims, MappingProxyType):
            object.__setattr__(self, "claims", MappingProxyType(dict(self.claims)))

    def signing_input(self, key_id: bytes) -> bytes:
        """What the issuer signs for this document with the key ``key_id`` (the claims of
        :data:`ALWAYS_DISCLOSED` must be disclosed, as reading a document ensures)."""
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
        sig = self.signature
        anchor = self.anchor
        return {
            "format": FORMAT,
            "alg": dict(ALGORITHMS),
            "claims": claims,
            "leaf": self.leaf.hex(),
            "signature": None
            if sig is None
            else {
                "key_id": sig.key_id.hex(),
                "public_key": sig.public_key.hex(),
                "value": sig.value.hex(),
            },
            "anchor": None if anchor is None else anchor.to_dict(),
        }

    def to_json(self) -> str:
        """The document as canonical JSON (JCS) text."""
        obj = self.to_dict()
        if not _BEYOND_BMP.search("".join(self.claims)):
            # a document holds no floats, and with member names inside the BMP, code-point
            # order is UTF-16 order: the C encoder writes exactly the JCS bytes, ~20x faster
            return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return jcs(obj).decode("utf-8")

    @classmethod
    def from_json(cls, text: str | bytes) -> CertificateDocument:
        """Read a document strictly; :class:`DocumentError` names what is wrong."""
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
        return cls.from_dict(obj)

    @classmethod
    def from_dict(cls, obj: Any) -> CertificateDocument:
        """Build a document from parsed JSON, checking its shape strictly."""
        return _document_from_dict(obj)


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
    if isinstance(obj, bool) or not isinstance(obj, int) or not 0 <= obj <= _MAX_SAFE_INT:
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


def _document_from_dict(obj: Any) -> CertificateDocument:
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
            if len(checked) < _FRAME_CACHE_LIMIT:
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


# ------------------------------------------------------------------------- operations


def make_document(
    certificate: Certificate, *, random_bytes: Callable[[int], bytes] = os.urandom
) -> CertificateDocument:
    """Salt and digest every claim of ``certificate``; the document's leaf is computed,
    signature and anchor are left empty (the issuance pipeline fills them)."""
    values = claims_of(certificate)
    salts = random_bytes(SALT_BYTES * len(values))
    if len(salts) != SALT_BYTES * len(values):
        raise ValueError("random_bytes returned the wrong number of bytes")
    salts_hex = salts.hex()
    claims: dict[str, Claim] = {}
    digests: dict[str, bytes] = {}
    for i, (path, value) in enumerate(values.items()):
        start = i * SALT_BYTES
        claims[path] = DisclosedClaim(salts[start : start + SALT_BYTES], value)
        digests[path] = sm3(_claim_input(salts_hex[2 * start : 2 * start + 32], path, value))
    return CertificateDocument(claims=claims, leaf=leaf_digest(digests))


_PATH_ENTRIES: dict[str, tuple[str, bytes]] = {}


def _path_entry(path: str) -> tuple[str, bytes]:
    """``(JSON text of path, leaf frame of path)``, memoized (a type's certificates share
    their paths)."""
    entry = _PATH_ENTRIES.get(path)
    if entry is None:
        entry = (encode_basestring(path), _path_frame(path))
        if len(_PATH_ENTRIES) < _FRAME_CACHE_LIMIT:
            _PATH_ENTRIES[path] = entry
    return entry


def issue_claims(
    certificate: Certificate, *, random_bytes: Callable[[int], bytes] = os.urandom
) -> tuple[bytes, str]:
    """The issuance fast path of :func:`make_document`: ``(leaf, claims_json)``, where
    ``claims_json`` is the JCS text of the document's ``claims`` object, written in the same
    pass that salts and digests every claim (no document objects, no second encoding).

    With the same random bytes, ``leaf`` is ``make_document(certificate).leaf`` and
    :func:`document_text` gives exactly ``to_json()`` of that document (a test holds them
    equal).

    The work is done by the C extension ``certs._claims`` (``certs/_claims.c``, SM3 included)
    when it is built; it declines (returns ``None``) anything outside the common case (a path
    beyond the BMP, a lone surrogate, a value that is not text, null or a tuple of texts, …),
    which :func:`_issue_claims_python`, the reference, then handles.
    tests/certs/test_claims_native.py holds the two equal byte for byte."""
    return issue_claim_values(claims_of(certificate), random_bytes=random_bytes)


def issue_claim_values(
    values: dict[str, ClaimValue], *, random_bytes: Callable[[int], bytes] = os.urandom
) -> tuple[bytes, str]:
    """:func:`issue_claims` of the claims themselves (``claims_of`` or
    :func:`request_claims`)."""
    salts_hex = random_bytes(SALT_BYTES * len(values)).hex()
    if len(salts_hex) != 2 * SALT_BYTES * len(values):
        raise ValueError("random_bytes returned the wrong number of bytes")
    if _native is not None:
        fast = _native.issue_claims(values, salts_hex)
        if fast is not None:
            return fast
    return _issue_claims_python(values, salts_hex)


def _issue_claims_python(values: Mapping[str, ClaimValue], salts_hex: str) -> tuple[bytes, str]:
    """:func:`issue_claims` from the claims and their salts (32 hex digits per claim, in the
    order of ``values``), in Python: the reference for ``certs._claims`` and its fallback."""
    encode, entries, digest = encode_basestring, _PATH_ENTRIES, sm3
    parts: dict[str, tuple[bytes, str]] = {}  # path -> (leaf frame + claim digest, member)
    start = 0
    try:
        for path, value in values.items():
            entry = entries.get(path) or _path_entry(path)
            encoded_path = entry[0]
            salt = salts_hex[start : start + 32]
            start += 32
            if value.__class__ is str:
                encoded = encode(value)
            elif value is None:
                encoded = "null"
            elif isinstance(value, tuple) and all(isinstance(v, str) for v in value):
                encoded = "[" + ",".join([encode(v) for v in value]) + "]"
            else:  # not a claim value the model produces: the general JCS walk decides
                encoded = jcs(value).decode("utf-8")
            # = jcs([salt, path, value]) and jcs({"salt": …, "value": …}), written directly
            parts[path] = (
                entry[1] + digest(f'["{salt}",{encoded_path},{encoded}]'.encode()),
                f'{encoded_path}:{{"salt":"{salt}","value":{encoded}}}',
            )
    except UnicodeEncodeError:
        raise CanonicalizationError(
            "text contains a lone surrogate (invalid Unicode) that JSON cannot carry"
        ) from None
    paths = sorted(parts)  # code-point order (the leaf's); JCS wants UTF-16 order
    leaf = digest(LEAF_DOMAIN + b"".join([parts[p][0] for p in paths]))
    if _BEYOND_BMP.search("".join(paths)):  # the two orders differ only beyond the BMP
        paths = sorted(paths, key=_utf16_key)
    return leaf, "{" + ",".join([parts[p][1] for p in paths]) + "}"


def document_text(claims_json: str, leaf: bytes, signature: IssuerSignature | None) -> str:
    """The JCS text of an unanchored document from :func:`issue_claims`'s ``claims_json``."""
    if signature is None:
        signed = "null"
    else:
        signed = (
            f'{{"key_id":"{signature.key_id.hex()}","public_key":"{signature.public_key.hex()}",'
            f'"value":"{signature.value.hex()}"}}'
        )
    return (
        '{"alg":{"digest":"sm3","signature":"sm2"},"anchor":null,"claims":'
        + claims_json
        + f',"format":"{FORMAT}","leaf":"{leaf.hex()}","signature":{signed}}}'
    )


def _digests(document: CertificateDocument) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    encode, entries = encode_basestring, _PATH_ENTRIES
    for path, claim in document.claims.items():
        if isinstance(claim, HiddenClaim):
            out[path] = claim.digest
            continue
        value = claim.value
        if isinstance(value, str):  # = claim.digest(path), inlined for the common case
            entry = entries.get(path)
            encoded_path = entry[0] if entry is not None else encode(path)
            out[path] = sm3(_utf8(f'["{claim.salt.hex()}",{encoded_path},{encode(value)}]'))
        else:
            out[path] = claim.digest(path)
    return out


def recompute_leaf(document: CertificateDocument) -> tuple[bytes, tuple[str, ...]]:
    """The leaf digest the document's claims give, and the hidden paths (sorted).

    With every claim disclosed (the common case), the C path of :func:`issue_claims`
    computes it from the values and salts (a test holds both ways equal)."""
    hidden = document.hidden_paths
    if _native is not None and not hidden:
        claims = document.claims.values()
        salts = [claim.salt for claim in claims if isinstance(claim, DisclosedClaim)]
        if all(len(salt) == SALT_BYTES for salt in salts):
            fast = _native.issue_claims(document.values(), b"".join(salts).hex())
            if fast is not None:
                return fast[0], hidden
    return leaf_digest(_digests(document)), hidden


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
