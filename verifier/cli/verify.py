"""``zhengyin verify FILE``: one command for every kind of input.

Inputs understood now: GB/T 38540 / GM/T 0031 seals (``.esl``) and seal signatures
(``.dat``/``.der``, with ``--data FILE`` for the signed bytes), told apart by their structure,
and sealed PDFs (``%PDF-`` header: every seal signature, its byte range and what changed after
it, see :mod:`seals.pdf.verify`).
Prints one line per check and the verdict (``--json``: the project's verdict JSON) and exits
0 valid, 1 invalid, 2 could not decide.

Trust anchors: the local CA's root (``<home>/ca/root.pem``) when it exists, plus every
``--trust PEM``. ``--at`` judges validity at a given time (ISO 8601 date or date-time; naive
means UTC); without it a seal is judged now and a signature at its signing time.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import click

from seals.errors import SealError
from seals.pdf import PdfHostile, PdfMalformed, verify_pdf
from seals.seal import VerificationReport, verify_seal, verify_signature
from seals.ses import detect
from seals.x509 import Certificate, load_certificates
from verifier.certificates import certificate_verdict, looks_like_certificate
from verifier.errors import VerifierError
from verifier.seal_checks import pdf_unreadable_verdict, pdf_verdict_of, verdict_of
from verifier.settings import Settings
from verifier.verdict import Verdict


def parse_time(text: str) -> datetime:
    """ISO 8601 date or date-time; naive values are UTC. Raises :class:`VerifierError`."""
    value = text.strip()
    try:
        if len(value) == 10:
            d = date.fromisoformat(value)
            return datetime(d.year, d.month, d.day, tzinfo=UTC)
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise VerifierError(
            f"--at {text!r} is not an ISO 8601 date or date-time", code="bad_time"
        ) from exc
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def trust_anchors(home: Path, extra: tuple[Path, ...]) -> list[Certificate]:
    """The local CA root (if present) and the ``--trust`` certificates."""
    anchors: list[Certificate] = []
    local = home / "ca" / "root.pem"
    paths = ([local] if local.is_file() else []) + list(extra)
    for path in paths:
        try:
            anchors += load_certificates(path.read_bytes())
        except SealError as exc:
            raise VerifierError(f"trust anchor {path}: {exc}", code="bad_trust_anchor") from exc
    return anchors


def report_for(
    data: bytes,
    *,
    signed_data: bytes | None,
    at: datetime | None,
    anchors: list[Certificate],
    lenient_ca: bool,
) -> VerificationReport:
    """Verify a seal or a seal signature, whichever ``data`` is."""
    try:
        kind = detect(data)
    except SealError:
        kind = "signature" if signed_data is not None else "seal"
    if kind == "seal":
        return verify_seal(data, at=at, anchors=anchors, lenient_ca=lenient_ca)
    return verify_signature(data, data=signed_data, at=at, anchors=anchors, lenient_ca=lenient_ca)


def looks_like_pdf(data: bytes) -> bool:
    """A PDF by content: ``%PDF-`` in the first 1024 bytes (as readers accept it)."""
    return b"%PDF-" in data[:1024]


def pdf_verdict(
    data: bytes, *, at: datetime | None, anchors: list[Certificate], lenient_ca: bool
) -> Verdict:
    """The verdict on a sealed PDF. A PDF that cannot be read at all (malformed, hostile) is
    invalid; an encrypted or over-large one is refused (an error: exit status 2)."""
    try:
        report = verify_pdf(data, at=at, anchors=anchors, lenient_ca=lenient_ca)
    except (PdfMalformed, PdfHostile) as exc:
        return pdf_unreadable_verdict(exc.code, f"the PDF cannot be read: {exc}")
    return pdf_verdict_of(report)


def _print_human(verdict: Verdict) -> None:
    for f in verdict.checks:
        click.echo(f"{f.status.value:<8} {f.name:<30} {f.reason}")
    click.echo(f"verdict: {verdict.outcome.value}")


@click.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--data",
    "data_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The signed bytes, for a seal signature.",
)
@click.option(
    "--at", "at_text", metavar="TIME", help="Judge validity at this ISO 8601 time (naive = UTC)."
)
@click.option(
    "--trust",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Trust-anchor certificate(s), PEM or DER (repeatable).",
)
@click.option(
    "--lenient-ca",
    is_flag=True,
    help="Accept issuers that lack the CA marks (legacy PKIs); the result says so.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
@click.pass_obj
def verify(
    settings: Settings,
    file: Path,
    data_file: Path | None,
    at_text: str | None,
    trust: tuple[Path, ...],
    lenient_ca: bool,
    as_json: bool,
) -> None:
    """Verify FILE: a certificate (.json), a seal (.esl), a seal signature (.dat/.der) or a
    sealed PDF (told apart by content)."""
    at = parse_time(at_text) if at_text else None
    raw = file.read_bytes()
    if looks_like_certificate(raw):  # a certificate document (JSON)
        verdict = certificate_verdict(settings, raw, at)
        _emit(verdict, file, as_json)
        return
    anchors = trust_anchors(settings.home_dir, trust)
    if looks_like_pdf(raw):
        _emit(pdf_verdict(raw, at=at, anchors=anchors, lenient_ca=lenient_ca), file, as_json)
        return
    report = report_for(
        file.read_bytes(),
        signed_data=data_file.read_bytes() if data_file is not None else None,
        at=at,
        anchors=anchors,
        lenient_ca=lenient_ca,
    )
    verdict = verdict_of(report)
    _emit(verdict, file, as_json)


def _emit(verdict: Verdict, file: Path, as_json: bool) -> None:
    verdict = Verdict(checks=verdict.checks, subject={"file": str(file), **verdict.subject})
    if as_json:
        click.echo(json.dumps(verdict.to_json(), ensure_ascii=False, indent=2))
    else:
        _print_human(verdict)
    click.get_current_context().exit(verdict.exit_code)


COMMANDS: list[click.Command] = [verify]
