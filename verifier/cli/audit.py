"""``zhengyin audit``: the audit log (the service's events: who did what to which
certificate, why, refused attempts included) read from the database, filtered as
``GET /v1/events`` filters it, shown as a table, JSON or CSV (for a spreadsheet)."""

from __future__ import annotations

import csv
import io
import json
import sys
import unicodedata
from pathlib import Path
from typing import Any

import click

from verifier.app.agency import open_store
from verifier.app.service.auditing import EventFilter, audit_events, parse_time
from verifier.cli.output import echo_json, output_options
from verifier.errors import VerifierError
from verifier.settings import Settings

pass_settings = click.make_pass_decorator(Settings)

CSV_COLUMNS = (
    ("seq", "序号"), ("time", "时间(北京时间)"), ("event", "事件"), ("actor", "操作者"),
    ("role", "角色"), ("identifier", "证照标识"), ("issuer", "发证机关"), ("type", "证照类型"),
    ("reason_code", "原因代码"), ("reason_name", "原因"), ("reason", "原因说明"),
    ("chain_block", "当时区块"), ("chain.block", "链上区块"), ("chain.log_index", "日志序号"),
    ("chain.tx_hash", "交易哈希"), ("detail", "详情"),
)
"""The CSV's columns: (field, header). The header row gives both: ``序号 seq``."""

PAGE = 1000


def _value(entry: dict[str, Any], field: str) -> str:
    if field.startswith("chain."):
        chain = entry.get("chain") or {}
        value = chain.get(field.split(".", 1)[1])
    else:
        value = entry.get(field)
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""A cell starting so is a formula to Excel and LibreOffice (``=HYPERLINK(…)``, ``@SUM(…)``,
``-1+…``): the audit log holds text its callers sent (an identifier in a URL, a reason,
an actor's name)."""


def _cell(text: str) -> str:
    """``text`` as a spreadsheet shows it, never run: one that would start a formula is
    prefixed with ``'`` (OWASP's advice for CSV exports; the spreadsheet shows the text)."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def _printable(line: str) -> str:
    """``line`` with every control and format character written as an escape (``\\r``,
    ``\\x1b``, ``\\u202e``): the log holds text callers sent, and a carriage return, a
    terminal's escape sequence or a bidirectional override would let it overwrite, hide or
    reorder what the auditor's terminal shows of other events."""
    return "".join(
        ch if unicodedata.category(ch) not in ("Cc", "Cf") else ascii(ch)[1:-1]
        for ch in line
    )


def csv_text(entries: list[dict[str, Any]]) -> str:
    """The events as CSV: a header row (Chinese and the field's name), one row an event; a
    cell that would start a formula starts with ``'`` (:func:`_cell`)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([f"{zh} {field}" for field, zh in CSV_COLUMNS])
    for entry in entries:
        writer.writerow([_cell(_value(entry, field)) for field, _ in CSV_COLUMNS])
    return out.getvalue()


@click.command("audit")
@click.option("--issuer", help="The agency's USCC.")
@click.option("--certificate", help="A certificate's identifier.")
@click.option("--type", "type_code", help="A certificate type code.")
@click.option("--actor", help="Who, as the log names them (counter:一号窗口).")
@click.option("--role", type=click.Choice(["admin", "issuer", "counter", "auditor", "holder",
                                           "system"]))
@click.option("--event", "events", multiple=True,
              help="Event kinds (repeat, or separate by commas): issued, verified, "
              "suspended, redeem_refused, …")
@click.option("--from", "since", help="At or after (ISO 8601; without an offset: 北京时间).")
@click.option("--to", "until", help="Before (ISO 8601; without an offset: 北京时间).")
@click.option("--after", type=click.IntRange(min=0), help="Only events after this sequence "
              "number (to continue an earlier export).")
@click.option("--csv", "csv_file", type=click.Path(dir_okay=False, allow_dash=True,
                                                   path_type=Path),
              help="Write CSV to FILE ('-': stdout). A file is UTF-8 with a byte order "
              "mark (Excel reads it so; without one it guesses GBK); stdout has none.")
@click.option("--no-bom", is_flag=True, help="A CSV file without the byte order mark.")
@output_options
@pass_settings
def audit(
    settings: Settings,
    issuer: str | None,
    certificate: str | None,
    type_code: str | None,
    actor: str | None,
    role: str | None,
    events: tuple[str, ...],
    since: str | None,
    until: str | None,
    after: int | None,
    csv_file: Path | None,
    no_bom: bool,
    as_json: bool,
) -> None:
    """The audit log: the service's events in sequence (their true order), each with its
    actor, role, reason and the chain event it caused; times in 北京时间 (+08:00). JSON:
    {events: [{seq, time, event, actor, role, identifier, issuer, type, reason_code,
    reason_name, reason, chain_block, chain, detail}], count}."""
    if csv_file is not None and str(csv_file) == "-" and as_json:
        raise VerifierError(
            "--csv - writes CSV on stdout, --json a JSON document: give --csv a FILE",
            code="usage",
        )
    wanted = EventFilter(
        issuer=issuer, identifier=certificate, type_code=type_code, actor=actor, role=role,
        events=tuple(e.strip() for given in events for e in given.split(",") if e.strip()),
        since=parse_time(since, "--from") if since is not None else None,
        until=parse_time(until, "--to") if until is not None else None,
    )
    store = open_store(settings)
    found: list[dict[str, Any]] = []
    while True:
        page, more = audit_events(store, wanted, after=after, limit=PAGE)
        found += page
        if not more or not page:
            break
        after = page[-1]["seq"]
    if csv_file is not None:
        text = csv_text(found)
        if str(csv_file) == "-":
            sys.stdout.write(text)
            sys.stdout.flush()
        else:
            csv_file.write_bytes(("" if no_bom else "\ufeff").encode() + text.encode("utf-8"))
            if as_json:
                echo_json({"csv": str(csv_file), "count": len(found)})
            else:
                click.echo(f"{len(found)} event(s) written to {csv_file}", err=True)
        return
    if as_json:
        echo_json({"events": found, "count": len(found)})
        return
    for entry in found:
        reason = " ".join(str(x) for x in (entry.get("reason_name"), entry.get("reason")) if x)
        chain = entry.get("chain")
        click.echo(_printable(
            f"{entry['seq']:>8}  {entry['time']}  {entry['event']:<15} {entry['actor']} "
            f"({entry['role']})  {entry['identifier'] or '-'}"
            + (f"  原因: {reason}" if reason else "")
            + (f"  区块 {chain['block']}#{chain['log_index']}" if chain else "")
        ))
    click.echo(f"{len(found)} event(s)", err=True)


COMMANDS: list[click.Command] = [audit]
