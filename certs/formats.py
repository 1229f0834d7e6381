"""Which implementation writes each certificate format, and why: the one place that chooses.

Every format has one Python reference (:mod:`certs.jcs`, :mod:`certs.claims`,
:mod:`certs.merkle`) and at most one fast path, chosen here and nowhere else:

========================  =======================================  =========================
format                    fast path                                reference
========================  =======================================  =========================
JCS (documents, signed    CPython's ``json`` C encoder, for values  :func:`certs.jcs.jcs`
payloads)                 it writes exactly as RFC 8785 does
claim digests + leaf +    ``certs._claims.issue_claims``            :func:`certs.claims.
claims JSON               (``certs/_claims.c``) when built          issue_claims_reference`
Merkle tree               ``certs._claims.merkle_tree`` when built  :class:`certs.merkle.
                                                                    MerkleTree`
========================  =======================================  =========================

Why: issuance and verification compute these for every certificate; the fast paths are what
keeps 10,000 certificates issued in about a second (bench/certificates.py). A fast path may
decline a case (the C code returns ``None`` outside its common case; the ``json`` encoder is
not used where its bytes could differ), and the reference then answers. The tests
(tests/certs/test_formats.py, test_claims_native.py) hold each fast path equal to its
reference over generated inputs. :data:`IN_USE` says what this process runs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import TYPE_CHECKING, Any

from certs.jcs import MAX_SAFE_INT, Json, jcs

if TYPE_CHECKING:
    from certs.claims import ClaimValue

try:  # built by `make setup`
    from certs import _claims as _native
except ImportError:  # pragma: no cover - not built: the references answer
    _native = None  # type: ignore[assignment]

IN_USE: Mapping[str, str] = {
    "jcs": "json C encoder, reference where it could differ",
    "claims": "certs._claims (C)" if _native is not None else "Python reference",
    "merkle": "certs._claims (C)" if _native is not None else "Python reference",
}
"""Format → the implementation this process uses."""


def _refuse(value: object) -> object:
    raise TypeError(f"{type(value).__name__} is not JSON")


if c_make_encoder is not None:  # the C encoder, made once (json.dumps makes one a call)
    _chunks = c_make_encoder(None, _refuse, encode_basestring, None, ":", ",", True, False, False)

    def _encode(value: object) -> str:
        return "".join(_chunks(value, 0))

else:  # pragma: no cover - CPython without _json
    _encoder = json.JSONEncoder(
        ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
    )

    def _encode(value: object) -> str:
        return _encoder.encode(value)


def _plain(value: object) -> bool:
    """True when ``value`` holds only what the ``json`` encoder writes as JCS does or refuses:
    ``None``, booleans, text, integers within ±(2^53 - 1), lists, tuples and dicts with text
    member names, each of exactly these types (a subclass may write itself otherwise). The
    encoder would write a float, a larger integer or a member name that is not text where
    JCS refuses them or writes them otherwise."""
    cls = value.__class__
    if cls is dict:
        for name, item in value.items():  # type: ignore[attr-defined]
            if name.__class__ is not str:
                return False
            kind = item.__class__
            if not (kind is str or item is None or kind is bool or _plain(item)):
                return False
        return True
    if cls is list or cls is tuple:
        for item in value:  # type: ignore[attr-defined]
            kind = item.__class__
            if not (kind is str or item is None or kind is bool or _plain(item)):
                return False
        return True
    if cls is int:
        return -MAX_SAFE_INT <= value <= MAX_SAFE_INT  # type: ignore[operator]
    return cls is str or value is None or cls is bool


def jcs_text(value: Json | Mapping[str, Any]) -> str:
    """The RFC 8785 text of a certificate format's value: ``null``, booleans, integers within
    ±(2^53 - 1), text, lists and objects with text member names;
    :class:`~certs.errors.CanonicalizationError` for anything else (a float, a larger integer,
    a member name or a value of another type), as the reference :func:`certs.jcs.jcs` with
    ``floats=False`` raises it. For a value :func:`_plain` admits, the ``json`` C encoder
    writes exactly that text unless it holds a lone surrogate (JCS refuses it) or a character
    beyond the BMP (in a member name, UTF-16 order differs from the code-point order of
    ``sort_keys``), told apart by one UTF-16 encoding of the text; the reference writes those
    and every other value (or raises)."""
    if value is None:
        return "null"
    try:
        if value.__class__ is str:
            text = encode_basestring(value)
        elif _plain(value):
            text = _encode(value)
        else:
            text = ""
        if text and (text.isascii() or len(text.encode("utf-16-le")) == 2 * len(text)):
            return text  # (the UTF-16 encoding is strict: a lone surrogate raises)
    except (TypeError, ValueError):  # UnicodeEncodeError is a ValueError
        pass
    return jcs(value, floats=False).decode("utf-8")


def issue_claims(values: dict[str, ClaimValue], salts_hex: str) -> tuple[bytes, str]:
    """``(leaf, claims_json)`` of :func:`certs.claims.issue_claims_reference`, from the C
    extension when it is built and takes the case."""
    if _native is not None:
        fast = _native.issue_claims(values, salts_hex)
        if fast is not None:
            return fast
    from certs.claims import issue_claims_reference  # (certs.claims imports this module)

    return issue_claims_reference(values, salts_hex)


def merkle_tree(leaves: bytes) -> bytes | None:
    """Every node of the Merkle tree of ``leaves`` (:meth:`certs.merkle.MerkleTree.to_bytes`)
    from the C extension, or ``None`` when it is not built (the reference then builds it)."""
    if _native is None:
        return None
    return _native.merkle_tree(leaves)
