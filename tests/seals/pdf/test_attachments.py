"""Embedded files are read back exactly, from plain and sealed PDFs."""

from __future__ import annotations

import io
from pathlib import Path

import pikepdf
from pdf_testlib import stamp
from seals_testlib import Pki

from seals.pdf import verify_pdf
from seals.pdf.attachments import MAX_FILES, embedded_files
from seals.ses import Seal
from verifier.checks.pdf_checks import judge_pdf, read_pdf
from verifier.checks.verdict import Outcome, Status

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "pdf" / "three-pages.pdf"


def with_attachment(name: str, data: bytes) -> bytes:
    pdf = pikepdf.open(io.BytesIO(SAMPLE.read_bytes()))
    pdf.attachments[name] = pikepdf.AttachedFileSpec(pdf, data, mime_type="application/json")
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def test_embedded_file_round_trip() -> None:
    payload = '{"format": "zhengyin-cert/1", "名": "证照"}'.encode() * 50
    assert embedded_files(with_attachment("certificate.json", payload)) == {
        "certificate.json": payload}


def test_no_attachments() -> None:
    assert embedded_files(SAMPLE.read_bytes()) == {}


def test_a_sealed_pdf_whose_attachments_cannot_be_read_is_not_valid(
    pki: Pki, seal: Seal
) -> None:
    """A certificate PDF is judged with the certificate it embeds; if its embedded files
    cannot be read (too many, too deep, or the work budget spent on the rest of the file),
    it must not be judged as a plain sealed PDF, whose seals alone would say valid."""
    pdf = pikepdf.open(io.BytesIO(SAMPLE.read_bytes()))
    for k in range(MAX_FILES + 1):
        pdf.attachments[f"f{k}.json"] = pikepdf.AttachedFileSpec(pdf, b"{}")
    out = io.BytesIO()
    pdf.save(out)
    sealed = stamp(out.getvalue(), pki, seal)
    assert verify_pdf(sealed, anchors=[pki.root.certificate]).ok  # the seal itself is fine

    local = read_pdf(sealed, anchors=[pki.root.certificate])

    assert local.verdict.outcome is not Outcome.VALID
    (check,) = local.verdict.checks
    assert check.name == "pdf.structure" and check.data["error"] == "pdf_malformed"
    assert "embedded files cannot be read" in check.reason


def test_a_certificate_pdf_judged_without_a_chain_is_never_valid(pki: Pki, seal: Seal) -> None:
    """Without a chain, the certificate a sealed PDF embeds cannot be checked (its status —
    revoked, perhaps — its anchor and its issuer's keys are on chain): the verdict is
    "could not check", never a `valid` from the seals alone. (It was `valid`: the embedded
    certificate was skipped when no chain was configured; the OFD twin answered ERROR.)"""
    from tests.certs.samples import business_licence_request
    from tests.certs.test_render import anchored

    document = anchored(business_licence_request()).to_json().encode()
    sealed = stamp(with_attachment("certificate.json", document), pki, seal)
    assert verify_pdf(sealed, anchors=[pki.root.certificate]).ok  # the seal itself is fine

    verdict = judge_pdf(read_pdf(sealed, anchors=[pki.root.certificate]), None)

    assert verdict.outcome is not Outcome.VALID
    errors = {c.name for c in verdict.checks if c.status is Status.ERROR}
    assert "certificate.status" in errors, verdict.to_json()
    # a sealed PDF without a certificate is still judged on its seals alone
    plain = judge_pdf(read_pdf(stamp(SAMPLE.read_bytes(), pki, seal),
                               anchors=[pki.root.certificate]), None)
    assert plain.outcome is Outcome.VALID
