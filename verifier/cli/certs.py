"""``zhengyin issuer add``, ``issue``, ``render``, ``supersede`` and ``batcher run``; the status
commands (``revoke|suspend|reinstate``, ``history``, ``reconcile``) are in
:mod:`verifier.cli.status`."""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from certs.batcher import Batcher, BatchResult, log_round
from certs.issuance import IssueReport, issue
from certs.request_csv import requests_from_csv
from certs.status import (
    change_status,
    load_document_texts,
    load_record,
    load_records,
)
from certs.store import Store
from chain.errors import ChainUnavailable
from verifier.app.agency import (
    add_issuer,
    issuer_chain_client,
    issuer_profile,
    open_store,
    require_issuer,
)
from verifier.app.catalogue import issuing_entitlements
from verifier.cli import status
from verifier.cli.exits import ExitStatus, exit_status_of
from verifier.cli.output import (
    echo_json,
    format_of_input,
    input_options,
    output_options,
    progress,
)
from verifier.errors import ERROR_ROOTS, VerifierError, error_code
from verifier.logs import configure as configure_logging
from verifier.settings import Settings

pass_settings = click.make_pass_decorator(Settings)
_log = logging.getLogger(__name__)


@click.group("issuer")
def issuer_group() -> None:
    """Issuing agencies of this service."""


@issuer_group.command("add")
@click.option("--code", "uscc", required=True, help="The agency's USCC (统一社会信用代码).")
@click.option("--name", required=True, help="The agency's name.")
@click.option(
    "--key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Import this SM2 private key (PEM) instead of creating one.",
)
@click.option(
    "--cert",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The X.509 certificate of --key.",
)
@click.option(
    "--picture",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The seal picture; default: a drawn red round seal.",
)
@click.option(
    "--jurisdiction",
    default="",
    help="The agency's administrative division code (行政区划, 6 digits); none: national.",
)
@output_options
@pass_settings
def issuer_add(
    settings: Settings,
    uscc: str,
    name: str,
    key: Path | None,
    cert: Path | None,
    picture: Path | None,
    jurisdiction: str,
    as_json: bool,
) -> None:
    """Set up an agency: SM2 key, seal, chain registration; print a new API key once.
    JSON: {code, name, account, key_id, seal, registered_now, api_key}."""
    with progress("setting up the agency (key, seal, registration on chain)"):
        added = add_issuer(
            settings, uscc, name, key=key, cert=cert, picture=picture, jurisdiction=jurisdiction
        )
    out = {
        "code": added.uscc,
        "name": added.name,
        "account": added.account,
        "key_id": added.key_id.hex(),
        "seal": str(added.seal_path),
        "registered_now": added.registered_now,
        "api_key": added.api_key,
    }
    if as_json:
        echo_json(out)
        return
    verb = "registered" if added.registered_now else "already registered; brought up to date"
    click.echo(f"issuer {added.uscc} ({added.name}) {verb}")
    click.echo(f"  chain account  {added.account}")
    click.echo(f"  SM2 key id     {added.key_id.hex()}")
    click.echo(f"  seal           {added.seal_path}")
    click.echo(f"  API key        {added.api_key}")
    click.echo("the API key is shown only this once; keep it secret.")


@issuer_group.command("revoke-keys")
@click.argument("uscc")
@output_options
@pass_settings
def issuer_revoke_keys(settings: Settings, uscc: str, as_json: bool) -> None:
    """Revoke every API key of an agency (issue a new one with `issuer add`).
    JSON: {issuer, revoked}."""
    code = uscc.strip().upper()
    count = open_store(settings).revoke_api_keys("issuer", code)
    if as_json:
        echo_json({"issuer": code, "revoked": count})
    else:
        click.echo(f"revoked {count} API key(s) of issuer {uscc}")


def _read_rows(
    input_file: Path | None, given_format: str | None, default_type: str | None
) -> list[tuple[int, Any]]:
    """``(line, request)`` pairs from ``--input`` (JSON: one object or a list, numbered
    from 1; CSV: numbered by the file's lines)."""
    if input_file is None:
        raise VerifierError("give the requests with --input FILE (.json or .csv)", code="usage")
    kind = format_of_input(input_file, given_format)
    json_file = input_file if kind == "json" else None
    csv_file = input_file if kind == "csv" else None
    rows: list[tuple[int, Any]] = []
    if json_file is not None:
        try:
            data = json.loads(json_file.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise VerifierError(f"{json_file} is not UTF-8 JSON: {exc}", code="bad_json") from exc
        items = data if isinstance(data, list) else [data]
        rows = list(enumerate(items, start=1))
    elif csv_file is not None:
        try:
            text = csv_file.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            raise VerifierError(f"{csv_file} is not UTF-8: {exc}", code="bad_csv") from exc
        try:
            rows = list(requests_from_csv(text))
        except csv.Error as exc:
            raise VerifierError(f"{csv_file} is not readable CSV: {exc}", code="bad_csv") from exc
    if default_type is not None:
        rows = [
            (line, {"type": default_type, **row} if isinstance(row, dict) else row)
            for line, row in rows
        ]
    return rows


@click.command("issue")
@click.option("--issuer", "uscc", required=True, help="The issuing agency's USCC.")
@click.option("--type", "type_code", help="Certificate type code for rows that name none.")
@input_options(
    "The requests: JSON (one request object or a list of them) or CSV (keys flattened "
    "with dots: holder.name, fields.X)."
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write each issued certificate document here as <identifier>.json.",
)
@click.option("--no-wait", is_flag=True, help="Return once stored; do not wait for the anchor.")
@click.option(
    "--pdf",
    "with_pdf",
    is_flag=True,
    help="With --out: also write each certificate as a sealed PDF, <identifier>.pdf "
    "(anchored on chain like `seal stamp`).",
)
@output_options
@pass_settings
def issue_command(
    settings: Settings,
    uscc: str,
    type_code: str | None,
    input_file: Path | None,
    input_format: str | None,
    out: Path | None,
    no_wait: bool,
    with_pdf: bool,
    as_json: bool,
) -> None:
    """Issue certificates and anchor them. The identifiers issued are always printed, even
    when anchoring fails afterwards. Exit status: 0 every row issued (anchored, or queued
    when the chain is away: the output says which); 1 some rows rejected (the others are
    issued); an error before issuing (nothing issued) or after it (anchoring or rendering
    failed otherwise than by the chain being away: the error follows the identifiers, the
    certificates stay queued and `zhengyin batcher run` anchors them) exits with the status
    of its kind (1 refused, 3, 4 unavailable, 70). JSON: {accepted: [{line, identifier}],
    rejected: [{line, errors}], anchored, pdfs} and, after such an error, error and
    message."""
    if with_pdf and (out is None or no_wait):
        raise VerifierError(
            "--pdf needs --out DIR and cannot go with --no-wait (a PDF needs the anchor)",
            code="usage",
        )
    rows = _read_rows(input_file, input_format, type_code)
    store = open_store(settings)
    profile = issuer_profile(settings, store, uscc.strip().upper())
    with progress("reading the agency's authorizations"):
        allowed = issuing_entitlements(settings, store, profile.uscc)
    with progress("validating and signing", total=len(rows)) as advance:
        report = issue(store, profile, rows, progress=advance, entitlements=allowed)
    # from here on the certificates are accepted: whatever fails, they are reported
    anchored, failure = False, None
    pdfs: list[str] = []
    try:
        if report.accepted and not no_wait:
            with progress(f"anchoring {len(report.accepted)} certificate(s) on chain"):
                anchored = _anchor_now(settings, store)
        if out is not None:
            _write_documents(store, report, out)
        if with_pdf and out is not None and report.accepted:
            if not anchored:
                raise VerifierError(
                    "the certificates are issued and written as JSON, but not anchored yet, "
                    "so no PDF was made: run `zhengyin batcher run --once`, then "
                    "`zhengyin render`",
                    code="not_anchored",
                )
            pdfs = _write_pdfs(settings, store, [a.identifier for a in report.accepted], out)
    except ERROR_ROOTS as exc:
        failure = exc
    if as_json:
        echo_json(
            {
                "accepted": [
                    {"line": a.line, "identifier": a.identifier} for a in report.accepted
                ],
                "rejected": [r.to_json() for r in report.rejected],
                "anchored": anchored,
                "pdfs": pdfs,
                **(
                    {"error": error_code(failure), "message": str(failure)}
                    if failure is not None
                    else {}
                ),
            }
        )
    else:
        for rejection in report.rejected:
            for error in rejection.errors:
                click.echo(f"line {rejection.line}: {error} [{error.code}]", err=True)
        state = "anchored" if anchored else "queued for anchoring"
        click.echo(f"{len(report.accepted)} issued ({state}), {len(report.rejected)} rejected")
        if len(report.accepted) <= 20 or failure is not None:
            for a in report.accepted:
                click.echo(f"  {a.identifier}")
        if pdfs:
            click.echo(f"{len(pdfs)} sealed PDF(s) written to {out}")
    if failure is not None:
        if not as_json:
            click.echo(f"error [{error_code(failure)}]: {failure}", err=True)
        raise SystemExit(exit_status_of(failure))
    if report.rejected:
        raise SystemExit(ExitStatus.INVALID)


def _anchor_now(settings: Settings, store: Store) -> bool:
    """Anchor what is queued; ``False`` (and a note on stderr) when the chain is away: the
    certificates stay queued. Other errors propagate."""
    batcher = Batcher(store, lambda uscc: issuer_chain_client(settings, uscc))
    try:
        results = batcher.run_once()
    except (ChainUnavailable, VerifierError) as exc:
        if isinstance(exc, VerifierError) and exc.code != "devnet_not_running":
            raise
        click.echo(
            f"the chain is unreachable ({exc}); the certificates are stored and "
            "queued: run `zhengyin batcher run` when it is back",
            err=True,
        )
        return False
    return all(r.state == "anchored" for r in results)


def _write_documents(store: Store, report: IssueReport, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    identifiers = [a.identifier for a in report.accepted]
    for identifier, text in zip(identifiers, load_document_texts(store, identifiers), strict=True):
        (out / f"{identifier}.json").write_text(text + "\n", encoding="utf-8")


@contextlib.contextmanager
def _glyph_warnings() -> Iterator[None]:
    """Show a missing glyph as one line ``warning [missing_glyph]: …`` on stderr."""
    from certs.render import MissingGlyphWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MissingGlyphWarning)
        yield
    for warning in caught:
        if issubclass(warning.category, MissingGlyphWarning):
            click.echo(f"warning [missing_glyph]: {warning.message}", err=True)
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename,
                                   warning.lineno)


def _write_pdfs(settings: Settings, store: Store, identifiers: list[str], out: Path) -> list[str]:
    """Render, seal and anchor each certificate as ``out/<identifier>.pdf``."""
    from verifier.app.render import CertificatePdfMaker, anchor_certificate_pdf

    maker = CertificatePdfMaker(settings)
    written: list[str] = []
    with progress("rendering, sealing and anchoring PDFs", total=len(identifiers)) as advance:
        for record in load_records(store, identifiers):
            with _glyph_warnings():
                sealed = maker.render(record)
            anchor_certificate_pdf(settings, record.issuer, sealed)
            path = out / f"{record.identifier}.pdf"
            path.write_bytes(sealed)
            written.append(str(path))
            advance(1)
    return written


@click.command("render")
@click.argument("identifier")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the sealed PDF.",
)
@click.option("--no-anchor", is_flag=True, help="Do not anchor the sealed PDF on chain.")
@output_options
@pass_settings
def render_command(
    settings: Settings, identifier: str, out: Path, no_anchor: bool, as_json: bool
) -> None:
    """Write an anchored certificate as an A4 PDF sealed with its issuer's seal: QR code,
    printed verification code, and the certificate document embedded as certificate.json.
    JSON: {identifier, out, anchor: {block, tx_hash} or null}."""
    from verifier.app.render import CertificatePdfMaker, anchor_certificate_pdf

    store = open_store(settings)
    record = load_record(store, identifier.strip())
    require_issuer(store, record.issuer)
    with progress("rendering and sealing the PDF"), _glyph_warnings():
        sealed = CertificatePdfMaker(settings).render(record)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(sealed)
    if not as_json:
        click.echo(str(out))
    anchor = None
    if not no_anchor:
        with progress("anchoring on chain"):
            receipt = anchor_certificate_pdf(settings, record.issuer, sealed)
        anchor = {"block": receipt.block_number, "tx_hash": receipt.tx_hash}
        if not as_json:
            click.echo(f"anchored in block {receipt.block_number} (tx {receipt.tx_hash})")
    if as_json:
        echo_json({"identifier": record.identifier, "out": str(out), "anchor": anchor})


@click.group("batcher")
def batcher_group() -> None:
    """Anchoring of queued certificates."""


def _batch_json(result: BatchResult) -> dict[str, Any]:
    return {
        "batch": result.batch_id,
        "issuer": result.issuer,
        "certificates": result.leaf_count,
        "state": result.state,
        "root": result.root.hex(),
        "block": result.block_number,
        "tx_hash": result.tx_hash,
    }


@batcher_group.command("run")
@click.option("--once", is_flag=True, help="Anchor what is queued now, then stop.")
@output_options
@pass_settings
def batcher_run(settings: Settings, once: bool, as_json: bool) -> None:
    """Anchor queued certificates (finishing any batch an interruption left behind).

    Each round is logged on stderr (ZHENGYIN_LOG_LEVEL, default INFO here): a batch sent
    as one line with its size, root, transaction and time; a round with nothing to anchor
    at DEBUG. JSON: with --once {batches: [{batch, issuer, certificates, state, root,
    block, tx_hash}]}; without, one such batch object a line as each is anchored."""
    configure_logging(settings.log_level, default="INFO")
    store = open_store(settings)
    batcher = Batcher(store, lambda uscc: issuer_chain_client(settings, uscc))
    if once:
        started = time.monotonic()
        with progress("anchoring what is queued"):
            results = batcher.run_once()
        log_round(results, time.monotonic() - started)
        if as_json:
            echo_json({"batches": [_batch_json(r) for r in results]})
            return
        for result in results:
            click.echo(
                f"batch {result.batch_id}: {result.leaf_count} certificates of "
                f"{result.issuer} {result.state} (block {result.block_number}, "
                f"tx {result.tx_hash})"
            )
        if not results:
            click.echo("nothing to anchor")
        return
    _log.info("batcher started: anchoring queued certificates; Ctrl-C stops")

    def on_batch(result: BatchResult) -> None:
        if as_json:
            echo_json(_batch_json(result), one_line=True)

    try:
        batcher.run_forever(lambda: False, on_batch=on_batch)
    except KeyboardInterrupt:
        _log.info("batcher stopped")


@click.command("supersede")
@click.argument("identifier")
@input_options("The replacement certificate's request (JSON, or CSV of one row).")
@click.option("--reason", default="re-issued", show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path))
@output_options
@pass_settings
def supersede(
    settings: Settings,
    identifier: str,
    input_file: Path | None,
    input_format: str | None,
    reason: str,
    out: Path | None,
    as_json: bool,
) -> None:
    """Issue a replacement for IDENTIFIER and record on chain that it supersedes it.
    JSON: {identifier, supersedes, block, tx_hash}; a refused request exits 1 with
    {error, message, rejected}."""
    store = open_store(settings)
    old = load_record(store, identifier)
    rows = _read_rows(input_file, input_format, None)
    if len(rows) != 1:
        raise VerifierError("--input must hold exactly one request", code="usage")
    report = issue(
        store, issuer_profile(settings, store, old.issuer), rows,
        entitlements=issuing_entitlements(settings, store, old.issuer),
        reusable=[identifier],  # a replacement may keep the number of what it supersedes
    )
    if report.rejected:
        rejected = report.rejected[0]
        if as_json:
            echo_json({"error": "request_invalid",
                       "message": "; ".join(str(e) for e in rejected.errors),
                       "rejected": [rejected.to_json()]})
        else:
            for error in rejected.errors:
                click.echo(f"{error} [{error.code}]", err=True)
        raise SystemExit(ExitStatus.INVALID)
    with progress("anchoring the replacement"):
        anchored = _anchor_now(settings, store)
    if not anchored:
        raise VerifierError(
            "the replacement is issued but could not be anchored yet: run `zhengyin batcher "
            "run --once` when the chain is back, then supersede again",
            code="not_anchored",
        )
    new = report.accepted[0].identifier
    with progress("recording the supersession on chain"):
        receipt = change_status(
            store,
            issuer_chain_client(settings, old.issuer),
            old.issuer,
            [identifier],
            "supersede",
            reason_code=5,
            reason=reason,
            successor=new,
        )
    if out is not None:
        _write_documents(store, report, out)
    if as_json:
        echo_json({"identifier": new, "supersedes": identifier,
                   "block": receipt.block_number, "tx_hash": receipt.tx_hash})
        return
    click.echo(
        f"{new} supersedes {identifier} (block {receipt.block_number}, tx {receipt.tx_hash})"
    )


COMMANDS: list[click.Command] = [
    issuer_group,
    issue_command,
    render_command,
    batcher_group,
    supersede,
    *status.COMMANDS,
]
