"""Verifying a typed short code (核验码, :mod:`certs.shortcode`): :func:`verify_short_code`.

A short code proves nothing by itself: it is resolved to the record this service holds (by
the identifier it names), its check characters are compared with that record's leaf, and the
stored document is then verified against the chain in full, as a certificate file is (the
issuer's signature, the Merkle proof, the anchor, the key, the status). A code that cannot be
read, names no record held here, or whose check characters do not match the record is "could
not check: please re-type" (``short_code_unreadable``, ``short_code_mismatch``), never a
verdict on another certificate; an unknown identifier and wrong check characters get the same
answer (typing identifiers does not tell which exist). What the verdict shows of the
certificate is what a verdict on its file shows (:func:`certificate_subject`): the core facts,
the holder's name and code masked — enough for the clerk to match the holder (a genuine code
copied onto someone else's paper names another holder), no more than whoever holds the code
has seen on the holder's own page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from certs import shortcode
from certs.status import CertificateRecord
from verifier.checks.certificate_checks import certificate_subject, fragment
from verifier.checks.certificates import verify_certificate_text
from verifier.checks.chain_checks import ChainFacts
from verifier.checks.verdict import Status, Verdict


def refusal(code: str, error: str = "") -> Verdict:
    """Could not check: the code cannot be read (``short_code_unreadable``) or does not match
    a record held here (``short_code_mismatch``). No identifier in the subject: the verdict is
    on no certificate."""
    if code == "short_code_mismatch":
        found = fragment("short_code.check", "format", Status.ERROR, "short_code.mismatch",
                         code=code)
    else:
        found = fragment("short_code.check", "format", Status.ERROR, "short_code.unreadable",
                         {"error": error}, code=code)
    return Verdict((found,))


def verify_short_code(
    text: str,
    lookup: Callable[[str], CertificateRecord | None],
    registry_factory: Callable[[], ChainFacts],
    *,
    leaf_of: Callable[[str], bytes | None] | None = None,
    today: dt.date | None = None,
) -> Verdict:
    """``text`` as typed at a counter → the verdict of the stored certificate it names (see
    the module docstring). ``lookup`` gives the record held for an identifier, or ``None``;
    ``leaf_of``, when given, its stored leaf alone: the check characters are compared with
    it before any document is read, so a wrong code costs one indexed row whether or not
    its identifier exists (the same answer, about the same time)."""
    try:
        code = shortcode.parse(text)
    except shortcode.ShortCodeError as exc:
        return refusal(exc.code, str(exc))
    identifier = str(code.identifier)
    if leaf_of is not None:
        leaf = leaf_of(identifier)
        if leaf is None or not shortcode.matches(code, identifier, leaf):
            return refusal("short_code_mismatch")
    record = lookup(identifier)
    if record is None or record.identifier != identifier:
        return refusal("short_code_mismatch")
    document = record.document
    if document.values().get("identifier") != identifier or not shortcode.matches(
        code, identifier, document.leaf
    ):
        return refusal("short_code_mismatch")
    # what the counter sees of the certificate: as for a certificate file, its core facts
    # with the holder's name and code masked (so the clerk can match the person in front of
    # them: a genuine code copied onto someone else's paper names another holder)
    subject: dict[str, Any] = certificate_subject(document)
    if document.anchor is None or document.signature is None:
        pending = fragment("short_code.check", "format", Status.ERROR, "short_code.pending",
                           {"identifier": identifier}, code="not_anchored")
        return Verdict((pending,), subject)
    matched = fragment("short_code.check", "format", Status.VALID, "short_code.matched",
                       {"identifier": identifier})
    full = verify_certificate_text(document.to_json().encode("utf-8"), registry_factory,
                                   today=today)
    if "chain" in full.subject:
        subject["chain"] = full.subject["chain"]
    return Verdict((matched, *full.checks), subject)
