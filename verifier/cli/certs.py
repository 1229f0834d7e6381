"""``zhengyin issue`` and ``supersede``: issuing certificates from requests. The agencies
(``issuer``) are in :mod:`verifier.cli.issuer`, ``render`` in :mod:`verifier.cli.render`,
``batcher run`` in :mod:`verifier.cli.batcher`, the status commands
(``revoke|suspend|reinstate``, ``history``, ``reconcile``) in :mod:`verifier.cli.status`."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import click

from certs.events import cli_actor, issued_events
from certs.issuance import IssueReport, issue
from certs.request_csv import requests_from_csv
from certs.status import change_status, load_document_texts, load_record
from certs.store import Store
from verifier.app.agency import issuer_chain_client, issuer_profile, open_store
from verifier.app.catalogue import issuing_entitlements
from verifier.cli.batcher import anchor_now
from verifier.cli.exits import ExitStatus, exit_status_of
from verifier.cli.output import (
    echo_json,
    format_of_input,
    input_options,
    output_options,
    progress,
)
from verifier.cli.render import write_pdfs
from verifier.errors import ERROR_ROOTS, VerifierError, error_code
from verifier.settings import Settings

pass_settings = click.make_pass_decorator(Settings)


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
        report = issue(
            store, profile, rows, progress=advance, entitlements=allowed,
            before_commit=lambda connection, done: issued_events(
                connection, profile.uscc, done.accepted, cli_actor()),
        )
    # from here on the certificates are accepted: whatever fails, they are reported
    anchored, failure = False, None
    pdfs: list[str] = []
    try:
        if report.accepted and not no_wait:
            with progress(f"anchoring {len(report.accepted)} certificate(s) on chain"):
                anchored = anchor_now(settings, store, [a.identifier for a in report.accepted])
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
            pdfs = write_pdfs(settings, store, [a.identifier for a in report.accepted], out)
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


def _write_documents(store: Store, report: IssueReport, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    identifiers = [a.identifier for a in report.accepted]
    for identifier, text in zip(identifiers, load_document_texts(store, identifiers), strict=True):
        (out / f"{identifier}.json").write_text(text + "\n", encoding="utf-8")


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
        before_commit=lambda connection, done: issued_events(
            connection, old.issuer, done.accepted, cli_actor()),
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
        anchored = anchor_now(settings, store, [report.accepted[0].identifier])
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
            actor=cli_actor(),
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


COMMANDS: list[click.Command] = [issue_command, supersede]
