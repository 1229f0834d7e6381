"""The checks of a certificate document that need no chain: ``certificate.format``,
``certificate.integrity``, ``certificate.signature``, ``certificate.merkle_proof`` and
``certificate.validity`` (see :mod:`verifier.checks.certificates`), and what a verdict shows of the
document (:func:`certificate_subject`)."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from certs.canonical import FORMAT, CertificateDocument, check_leaf
from certs.errors import CertError
from certs.merkle import verify_proof
from certs.model import USCC
from seals.errors import SealError, says_nothing_of_the_input
from seals.report import CATALOGUE, Joined, Message
from seals.sm2 import Sm2PublicKey, sm3
from verifier.checks.verdict import Fragment, Status


@dataclass(frozen=True)
class LocalResult:
    """What the chain-free checks found, and the facts the chain checks need."""

    fragments: tuple[Fragment, ...]
    subject: dict[str, Any] = field(default_factory=dict)
    issuer: str | None = None
    leaf: bytes | None = None
    root: bytes | None = None
    anchor_block: int | None = None
    """The block the document says its batch was anchored in."""
    key_id: bytes | None = None
    chain_id: int | None = None
    contract: str | None = None
    type_code: str | None = None
    jurisdiction: str | None = None


def fragment(
    name: str, type_: str, status: Status, message: str, params: Mapping[str, Any] | None = None,
    **data: Any,
) -> Fragment:
    return Fragment(name, type_, status, message, params or {}, data)


LEGAL_PERSON_CODE_TYPES = frozenset({USCC})
"""Holder code types of legal persons and other organisations (统一社会信用代码): their name
and code are public register data (国家企业信用信息公示系统), shown in full so that a clerk can
match them. Every other holder, and a holder whose code type is not disclosed, is a natural
person to this service: name and code masked."""


def holder_facts(values: Mapping[str, Any]) -> dict[str, Any]:
    """What a verdict shows of the holder: the code type, and the name and code — in full
    for a legal person (:data:`LEGAL_PERSON_CODE_TYPES`), masked otherwise."""
    code_type = values.get("holder.code_type")
    public = isinstance(code_type, str) and code_type in LEGAL_PERSON_CODE_TYPES
    out: dict[str, Any] = {}
    if isinstance(code_type, str):
        out["holder.code_type"] = code_type
    name, code = values.get("holder.name"), values.get("holder.code")
    if isinstance(name, str):
        out["holder.name"] = name if public else mask_name(name)
    if isinstance(code, str):
        out["holder.code"] = code if public else mask_code(code)
    return out


def mask_name(name: str) -> str:
    return name[:1] + "*" * (len(name) - 1) if len(name) > 1 else "*"


def mask_code(code: str) -> str:
    return code[:4] + "*" * (len(code) - 8) + code[-4:] if len(code) > 8 else "*" * len(code)


def certificate_subject(document: CertificateDocument) -> dict[str, Any]:
    """What a verdict on ``document`` shows of it: the disclosed core facts (the holder's
    name and code masked unless the holder is a legal person: :func:`holder_facts`) and the
    hidden paths."""
    values = document.values()
    subject: dict[str, Any] = {}
    for path in (
        "identifier",
        "name",
        "type.name",
        "type.code",
        "issuer.name",
        "issuer.code",
        "jurisdiction",
        "issue_date",
        "valid_from",
        "valid_until",
        "number",
    ):
        if path in values:
            subject[path] = values[path]
    subject.update(holder_facts(values))
    subject["hidden"] = list(document.hidden_paths)
    return subject


def local_checks(text: str | bytes, today: dt.date) -> LocalResult:
    """Every check that needs no chain, each failure contained in its own fragment."""
    try:
        document = CertificateDocument.from_json(text)
    except (CertError, ValueError) as exc:
        code = getattr(exc, "code", "document_malformed")
        return LocalResult(
            (
                fragment(
                    "certificate.format",
                    "format",
                    Status.INVALID,
                    "certificate.format.invalid",
                    {"error": str(exc), "why": Message(f"certificate.format.{code}")
                     if f"certificate.format.{code}" in CATALOGUE
                     else Message("certificate.format.document_malformed")},
                    code=code,
                ),
            )
        )
    fragments = [
        fragment(
            "certificate.format",
            "format",
            Status.VALID,
            "certificate.format.valid",
            {"format": FORMAT},
        )
    ]
    fragments.append(_guard("certificate.integrity", "integrity", lambda: _integrity(document)))
    fragments.append(_guard("certificate.signature", "signature", lambda: _signature(document)))
    fragments.append(_guard("certificate.merkle_proof", "integrity", lambda: _proof(document)))
    fragments.append(_guard("certificate.validity", "validity", lambda: _validity(document, today)))
    values = document.values()
    anchor, signature = document.anchor, document.signature
    issuer = values.get("issuer.code")
    return LocalResult(
        tuple(fragments),
        certificate_subject(document),
        issuer=issuer if isinstance(issuer, str) else None,
        leaf=document.leaf,
        root=anchor.root if anchor else None,
        anchor_block=anchor.block if anchor else None,
        key_id=signature.key_id if signature else None,
        chain_id=anchor.chain_id if anchor else None,
        contract=anchor.contract if anchor else None,
        type_code=str(values["type.code"]),  # always disclosed (reading ensures it)
        jurisdiction=str(values["jurisdiction"]),
    )


def _guard(name: str, type_: str, check: Callable[[], Fragment]) -> Fragment:
    try:
        return check()
    except Exception as exc:  # an unexpected failure is an ERROR, never a crash or a VALID
        return fragment(
            name,
            type_,
            Status.ERROR,
            "certificate.check_failed",
            {"error": str(exc)},
        )


def _integrity(document: CertificateDocument) -> Fragment:
    try:
        hidden = check_leaf(document)
    except CertError as exc:
        return fragment(
            "certificate.integrity",
            "integrity",
            Status.INVALID,
            "certificate.integrity.invalid",
            {"error": str(exc)},
        )
    facts: dict[str, Any] = {"count": len(document.claims)}
    message = "certificate.integrity.valid"
    if hidden:
        message = "certificate.integrity.valid_hidden"
        facts["paths"] = Joined(tuple(hidden), ", ", "、")
    return fragment(
        "certificate.integrity", "integrity", Status.VALID, message, facts,
        hidden=list(hidden),
    )


def _signature(document: CertificateDocument) -> Fragment:
    signature = document.signature
    if signature is None:
        return fragment(
            "certificate.signature",
            "signature",
            Status.INVALID,
            "certificate.signature.none",
        )
    if sm3(signature.public_key) != signature.key_id:
        return fragment(
            "certificate.signature",
            "signature",
            Status.INVALID,
            "certificate.signature.key_mismatch",
        )
    try:
        public_key(signature.public_key).verify(
            document.signing_input(signature.key_id), signature.value
        )
    except SealError as exc:
        if says_nothing_of_the_input(exc):
            return fragment(
                "certificate.signature",
                "signature",
                Status.ERROR,
                "certificate.signature.unchecked",
                {"code": exc.code, "error": str(exc)},
            )
        return fragment(
            "certificate.signature",
            "signature",
            Status.INVALID,
            "certificate.signature.invalid",
            {"code": exc.code},
        )
    return fragment(
        "certificate.signature",
        "signature",
        Status.VALID,
        "certificate.signature.valid",
        key_id=signature.key_id.hex(),
    )


@functools.lru_cache(maxsize=256)
def public_key(point: bytes) -> Sm2PublicKey:
    """Keys are few (one or two per issuer) and loading one costs as much as a verification."""
    return Sm2PublicKey.from_point(point)


def _proof(document: CertificateDocument) -> Fragment:
    anchor = document.anchor
    if anchor is None:
        return fragment(
            "certificate.merkle_proof",
            "integrity",
            Status.INVALID,
            "certificate.merkle_proof.not_anchored",
        )
    try:
        verify_proof(document.leaf, anchor.proof, anchor.root)
    except CertError as exc:
        return fragment(
            "certificate.merkle_proof",
            "integrity",
            Status.INVALID,
            "certificate.merkle_proof.invalid",
            {"error": str(exc)},
        )
    return fragment(
        "certificate.merkle_proof",
        "integrity",
        Status.VALID,
        "certificate.merkle_proof.valid",
        {"root": anchor.root.hex()[:16]},
        root=anchor.root.hex(),
    )


def _validity(document: CertificateDocument, today: dt.date) -> Fragment:
    values = document.values()  # reading a document ensures both dates are disclosed
    end_text = values["valid_until"]
    return validity_check(
        dt.date.fromisoformat(str(values["valid_from"])),
        dt.date.fromisoformat(str(end_text)) if end_text else None,
        today,
    )


def validity_check(start: dt.date, end: dt.date | None, today: dt.date) -> Fragment:
    """``certificate.validity``: is ``today`` within ``start``..``end`` (``None``: no end)?"""
    if today < start:
        return fragment(
            "certificate.validity",
            "validity",
            Status.INVALID,
            "certificate.validity.not_yet",
            {"start": start.isoformat(), "today": today.isoformat()},
            today=today.isoformat(),
        )
    if end is not None and today > end:
        return fragment(
            "certificate.validity",
            "validity",
            Status.INVALID,
            "certificate.validity.expired",
            {"end": end.isoformat(), "today": today.isoformat()},
            today=today.isoformat(),
        )
    dates = {"start": start.isoformat(), "end": end.isoformat() if end else None}
    return fragment(
        "certificate.validity",
        "validity",
        Status.VALID,
        "certificate.validity.valid" if end else "certificate.validity.valid_no_end",
        dates,
        today=today.isoformat(),
    )
