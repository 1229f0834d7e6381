"""``zhengyin verify FILE``: one command for every kind of input.

Inputs understood now: GB/T 38540 / GM/T 0031 seals (``.esl``) and seal signatures
(``.dat``/``.der``, with ``--data FILE`` for the signed bytes), told apart by their structure,
sealed PDFs (``%PDF-`` header: every seal signature, its byte range and what changed after
it, see :mod:`seals.pdf.verify`) and sealed OFD files (a zip: every signature, its references
and what the package gained after it, see :mod:`seals.ofd.verify`).
Prints one line per check and the verdict (``--json``: the project's verdict JSON) and exits
0 valid, 1 invalid, 3 could not decide (see :mod:`verifier.cli.exits`).

Trust anchors: the local CA's root (``<home>/ca/root.pem``) when it exists, plus every
``--trust PEM``. ``--at`` judges validity at a given time (ISO 8601 date or date-time; naive
means UTC); without it a seal is judged now and a signature at its signing time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import click

from chain.errors import ChainError
from chain.registry import RegistryClient
from seals.ofd.package import looks_like_ofd
from seals.x509 import X509Certificate
from verifier.app.context import chain_rpc, deployment
from verifier.checks.certificates import ChainFacts, looks_like_certificate, verify_certificate_text
from verifier.checks.seal_checks import report_for, trust_anchors, verdict_of
from verifier.checks.verdict import Status, Verdict
from verifier.cli.exits import ExitStatus, exit_status_of, exit_status_of_outcome
from verifier.cli.output import echo_json, output_options, progress
from verifier.errors import ERROR_ROOTS, VerifierError, error_code
from verifier.settings import Settings


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


def certificate_verdict(settings: Settings, data: bytes, at: datetime | None) -> Verdict:
    """``zhengyin verify CERT.json``: against the configured chain and deployment."""

    def registry() -> RegistryClient:
        try:
            rpc = chain_rpc(settings)
            return RegistryClient(rpc, deployment(settings, rpc))
        except ChainError:
            raise
        except ERROR_ROOTS as exc:  # no deployment, a damaged record: could not check
            raise ChainError(str(exc), code=error_code(exc)) from exc

    return verify_certificate_text(data, registry, today=at.date() if at else None)


def looks_like_pdf(data: bytes) -> bool:
    """A PDF by content: ``%PDF-`` in the first 1024 bytes (as readers accept it)."""
    return b"%PDF-" in data[:1024]


def pdf_verdict(
    data: bytes,
    *,
    at: datetime | None,
    anchors: list[X509Certificate],
    lenient_ca: bool,
    settings: Settings | None = None,
) -> Verdict:
    """The verdict on a sealed PDF: its seals, each sealed revision's anchor on chain (when a
    chain is configured: ``ZHENGYIN_RPC_URL`` or a deployment under ``ZHENGYIN_HOME``) and
    the embedded certificate. A PDF that cannot be read at all is invalid; an encrypted or
    over-large one is refused (an error with its code)."""
    from verifier.checks.pdf_checks import verify_pdf_full

    facts = _chain_facts(settings) if settings is not None else None
    return verify_pdf_full(data, facts, anchors=anchors, at=at, lenient_ca=lenient_ca)


def qr_verdict(settings: Settings, text: str) -> Verdict:
    """A QR payload against the configured chain (an unreachable chain: ERROR checks)."""
    from verifier.checks.certificates import chain_unreadable, verify_qr

    facts = _chain_facts(settings)
    try:
        if facts is None:
            raise VerifierError(
                "no chain is configured: set ZHENGYIN_RPC_URL or deploy", code="no_chain"
            )
        source = facts()
    except ERROR_ROOTS as exc:  # the chain, its deployment record, the configuration
        return Verdict(tuple(chain_unreadable(exc, [("chain.anchored", "chain")])))
    return verify_qr(text, source)


def short_code_verdict(settings: Settings, text: str, at: datetime | None) -> Verdict:
    """A typed short code (核验码, :mod:`certs.shortcode`): resolved in this machine's store
    (``ZHENGYIN_DATABASE_URL``, or the SQLite database under ``ZHENGYIN_HOME``) and the stored
    certificate verified in full against the configured chain. Without a store: ``no_store``
    (a short code is resolved only where the certificate is held)."""
    from certs.status import CertificateNotFound, CertificateRecord, leaf_of, load_record
    from verifier.app.agency import open_store
    from verifier.checks.short_code_checks import verify_short_code

    sqlite = settings.home_dir / "zhengyin.sqlite3"
    if settings.database_url is None and not sqlite.is_file():
        raise VerifierError(
            "a short code (核验码) is resolved where its certificate is held, and this machine "
            "has no certificate store (set ZHENGYIN_DATABASE_URL or ZHENGYIN_HOME): scan the "
            "QR code or verify the certificate file instead",
            code="no_store",
        )
    store = open_store(settings)

    def lookup(identifier: str) -> CertificateRecord | None:
        try:
            return load_record(store, identifier)
        except CertificateNotFound:
            return None

    def registry() -> ChainFacts:
        facts = _chain_facts(settings)
        if facts is None:
            raise ChainError("no chain is configured: set ZHENGYIN_RPC_URL or deploy",
                             code="no_chain")
        try:
            return facts()
        except ChainError:
            raise
        except ERROR_ROOTS as exc:  # no deployment, a damaged record: could not check
            raise ChainError(str(exc), code=error_code(exc)) from exc

    try:
        return verify_short_code(text, lookup, registry,
                                 leaf_of=lambda identifier: leaf_of(store, identifier),
                                 today=at.date() if at else None)
    finally:
        store.engine.dispose()


def _chain_facts(settings: Settings) -> Callable[[], ChainFacts] | None:
    if settings.rpc_url is None and not any((settings.home_dir / "deployments").glob("*.json")):
        return None

    def registry() -> ChainFacts:
        rpc = chain_rpc(settings)
        return RegistryClient(rpc, deployment(settings, rpc))

    return registry


def _print_human(verdict: Verdict) -> None:
    for f in verdict.checks:
        click.echo(f"{f.status.value:<8} {f.name:<30} {f.reason}")
        if f.status is Status.ERROR and f.data.get("error"):  # the operator's own chain
            click.echo(f"{'':<8} {'':<30} ({f.data['error']})")
    click.echo(f"verdict: {verdict.outcome.value}")


@click.command("verify")
@click.argument(
    "files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--qr", "qr_text", metavar="PAYLOAD",
    help="Verify a scanned QR payload (ZY2…), or a short code (核验码) as typed (resolved in "
    "this machine's certificate store).",
)
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
@output_options
@click.pass_obj
def verify(
    settings: Settings,
    files: tuple[Path, ...],
    qr_text: str | None,
    data_file: Path | None,
    at_text: str | None,
    trust: tuple[Path, ...],
    lenient_ca: bool,
    as_json: bool,
) -> None:
    """Verify FILE: a certificate (.json), a seal (.esl), a seal signature (.dat/.der), a
    sealed PDF or a sealed OFD (told apart by content); or a QR payload or short code (核验码)
    with --qr. Exit
    status 0 valid, 1 invalid, 3 could not decide. JSON: the verdict, {verdict, checks, subject}.

    Several FILEs are verified one after the other: JSON is then an array of verdicts
    (a file that could not be verified at all: {subject: {file}, error, message}); the exit
    status is 0 when every file is valid, else that of the worst (70, 1, 3, 4 in that
    order)."""
    at = parse_time(at_text) if at_text else None
    if bool(files) == (qr_text is not None):
        raise VerifierError("give a FILE to verify, or --qr PAYLOAD", code="usage")
    if len(files) > 1:
        if data_file is not None:
            raise VerifierError("--data goes with one seal signature FILE", code="usage")
        _verify_many(settings, files, at, trust, lenient_ca, as_json)
        return
    file = files[0] if files else None
    with progress("verifying"):
        verdict = _verdict(settings, file, qr_text, data_file, at, trust, lenient_ca)
    _emit(verdict, file, as_json)


def _verify_many(
    settings: Settings,
    files: tuple[Path, ...],
    at: datetime | None,
    trust: tuple[Path, ...],
    lenient_ca: bool,
    as_json: bool,
) -> None:
    results: list[dict[str, Any]] = []
    statuses: list[ExitStatus] = []
    with progress(f"verifying {len(files)} files", total=len(files)) as advance:
        for file in files:
            try:
                verdict = _verdict(settings, file, None, None, at, trust, lenient_ca)
            except Exception as exc:  # this file could not be verified; the others still are
                status = exit_status_of(exc)
                code = "internal_error" if status is ExitStatus.INTERNAL else error_code(exc)
                results.append({"subject": {"file": str(file)}, "error": code,
                                "message": str(exc)})
                statuses.append(status)
            else:
                verdict = Verdict(checks=verdict.checks,
                                  subject={"file": str(file), **verdict.subject})
                results.append(verdict.to_json())
                statuses.append(exit_status_of_outcome(verdict.outcome))
            advance(1)
    if as_json:
        echo_json(results)
    else:
        for result in results:
            click.echo(f"== {result['subject']['file']}")
            if "error" in result:
                click.echo(f"error [{result['error']}]: {result['message']}")
                continue
            for check in result["checks"]:
                click.echo(f"{check['status']:<8} {check['name']:<30} {check['reason']}")
            click.echo(f"verdict: {result['verdict']}")
        counts = {s: statuses.count(s) for s in set(statuses)}
        click.echo(
            f"{len(files)} files: {counts.get(ExitStatus.OK, 0)} valid, "
            f"{counts.get(ExitStatus.INVALID, 0)} invalid or refused, "
            f"{len(files) - counts.get(ExitStatus.OK, 0) - counts.get(ExitStatus.INVALID, 0)} "
            "not decided"
        )
    worst = next(
        (s for s in (ExitStatus.INTERNAL, ExitStatus.INVALID, ExitStatus.UNDECIDED,
                     ExitStatus.UNAVAILABLE, ExitStatus.USAGE) if s in statuses),
        ExitStatus.OK,
    )
    click.get_current_context().exit(worst)


def _verdict(
    settings: Settings,
    file: Path | None,
    qr_text: str | None,
    data_file: Path | None,
    at: datetime | None,
    trust: tuple[Path, ...],
    lenient_ca: bool,
) -> Verdict:
    if qr_text is not None:
        from certs.shortcode import looks_like_short_code

        if looks_like_short_code(qr_text):
            return short_code_verdict(settings, qr_text, at)
        return qr_verdict(settings, qr_text)
    assert file is not None
    raw = file.read_bytes()
    if looks_like_certificate(raw):  # a certificate document (JSON)
        return certificate_verdict(settings, raw, at)
    anchors = trust_anchors(settings.home_dir, trust)
    if looks_like_ofd(raw):  # a zip: an OFD package (or refused as one, with its code)
        from verifier.checks.ofd_checks import judge_ofd, read_ofd

        found = read_ofd(raw, anchors=anchors, at=at, lenient_ca=lenient_ca)
        return judge_ofd(found, raw, _chain_facts(settings))
    if looks_like_pdf(raw):
        return pdf_verdict(raw, at=at, anchors=anchors, lenient_ca=lenient_ca, settings=settings)
    report = report_for(
        raw,
        signed_data=data_file.read_bytes() if data_file is not None else None,
        at=at,
        anchors=anchors,
        lenient_ca=lenient_ca,
    )
    return verdict_of(report)


def _emit(verdict: Verdict, file: Path | None, as_json: bool) -> None:
    if file is not None:
        verdict = Verdict(checks=verdict.checks, subject={"file": str(file), **verdict.subject})
    if as_json:
        echo_json(verdict.to_json())
    else:
        _print_human(verdict)
    click.get_current_context().exit(exit_status_of_outcome(verdict.outcome))


COMMANDS: list[click.Command] = [verify]
