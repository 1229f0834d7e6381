"""The conventions every ``zhengyin`` command keeps (issue #17): ``--json`` output on every
command (errors too), exit statuses by kind (0 ok, 1 invalid or refused, 2 usage,
3 could not decide, 4 unavailable, 70 internal) as ``--help`` and the README list them,
``--input FILE`` by extension or ``--format``, ``--version``, the batcher's log line per
round, and progress only on a terminal.

Every command runs as its own process against this module's devnet (started by
``zhengyin devnet up``), as an operator or a script would run it.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import pikepdf
import pytest

from certs import qr
from certs.canonical import CertificateDocument
from certs.errors import CertError, ValidationError
from certs.store import StoreError
from chain.errors import (
    ArtefactError,
    ChainUnavailable,
    ContractRevert,
    RpcError,
    TransactionDropped,
    TransactionTimeout,
)
from seals.errors import SesFormatError
from tests.conftest import ctrl_c_stops, free_port
from tests.verifier.test_cli_devnet import zhengyin_command
from verifier.checks.verdict import Outcome
from verifier.cli import main
from verifier.cli.exits import MEANINGS, ExitStatus, exit_status_of, exit_status_of_outcome
from verifier.errors import VerifierError

USCC = "91110000101623741K"
NAME = "示例市市场监督管理局"
TYPE = "11100000000013338W032"
LICENCE = "11100000MA0000001Q001"
FOOD = "11100000MA0000001Q002"
SAMPLE_PDF = Path(__file__).resolve().parents[1] / "data" / "pdf" / "three-pages.pdf"
README = Path(__file__).resolve().parents[2] / "README.md"

Run = subprocess.CompletedProcess[str]


def request(name: str) -> dict[str, Any]:
    return {
        "type": TYPE,
        "holder": {"name": name, "code": "11010519491231002X", "code_type": "111"},
        "jurisdiction": "360100",
        "fields": {"事项": "示例"},
    }


def leaf_commands(group: click.Group = main, path: tuple[str, ...] = ()) -> set[str]:
    """Every command a user can run, as ``"issuer add"``."""
    found: set[str] = set()
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found |= leaf_commands(command, (*path, name))
        else:
            found.add(" ".join((*path, name)))
    return found


def command_of(args: Sequence[str]) -> str:
    """The command an argument list runs (``("issuer", "add", "--code", …)`` → ``issuer
    add``)."""
    group: click.Command = main
    path: list[str] = []
    for arg in args:
        if not isinstance(group, click.Group) or arg not in group.commands:
            break
        path.append(arg)
        group = group.commands[arg]
    return " ".join(path)


@dataclass
class Cli:
    home: Path
    work: Path
    env: dict[str, str]

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> Run:
        return subprocess.run(
            [*zhengyin_command(), *args], env={**self.env, **(env or {})},
            capture_output=True, text=True, timeout=180, check=False,
        )

    def write(self, name: str, content: Any) -> Path:
        path = self.work / name
        path.write_text(
            content if isinstance(content, str) else json.dumps(content, ensure_ascii=False),
            encoding="utf-8",
        )
        return path


def no_traceback(run: Run) -> None:
    assert "Traceback" not in run.stdout + run.stderr, run.stderr


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    base = tmp_path_factory.mktemp("cli-conventions")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHENGYIN_")}
    env |= {"ZHENGYIN_HOME": str(base / "home"), "ZHENGYIN_DEVNET_PORT": str(free_port())}
    (base / "work").mkdir()
    runner = Cli(base / "home", base / "work", env)
    for args in (("devnet", "up"), ("deploy",),
                 ("issuer", "add", "--code", USCC, "--name", NAME),
                 ("issuer", "authorize", "--code", USCC, "--type", TYPE)):
        run = runner(*args)
        assert run.returncode == 0, run.stdout + run.stderr
    yield runner
    runner("devnet", "down")


def unreachable() -> dict[str, str]:
    return {"ZHENGYIN_RPC_URL": f"http://127.0.0.1:{free_port()}"}


# ----------------------------------------------------------------------- without a chain


def test_every_command_takes_json_and_quiet() -> None:
    commands = leaf_commands()
    assert len(commands) >= 37
    for name in commands:
        group: click.Command = main
        for part in name.split():
            assert isinstance(group, click.Group)
            group = group.commands[part]
        options = {opt for param in group.params for opt in getattr(param, "opts", [])}
        assert {"--json", "--quiet"} <= options, name


def test_version_is_the_installed_package_version() -> None:
    run = subprocess.run([*zhengyin_command(), "--version"], capture_output=True, text=True,
                         timeout=60, check=False)
    assert run.returncode == 0
    assert run.stdout.strip() == f"zhengyin, version {importlib.metadata.version('zhengyin')}"


def _readme_exit_table() -> dict[int, str]:
    text = README.read_text(encoding="utf-8")
    start = text.index("| exit status | meaning |")
    rows: dict[int, str] = {}
    for line in text[start:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[int(cells[0].strip("`"))] = cells[1]
    return rows


def test_the_exit_statuses_of_the_code_are_those_of_help_and_the_readme() -> None:
    assert [int(s) for s in ExitStatus] == [0, 1, 2, 3, 4, 5, 70]
    assert set(MEANINGS) == set(ExitStatus)
    assert _readme_exit_table() == {int(s): MEANINGS[s] for s in ExitStatus}
    shown = subprocess.run([*zhengyin_command(), "--help"], capture_output=True, text=True,
                           timeout=60, check=False)
    assert shown.returncode == 0
    lines = [" ".join(line.split()) for line in shown.stdout.splitlines()]
    for status in ExitStatus:
        assert f"{int(status)} {MEANINGS[status]}" in lines, status


def test_errors_map_to_the_exit_status_of_their_kind() -> None:
    """The one mapping of the project's error classes (and click's, and anything else)."""
    cases: list[tuple[BaseException, ExitStatus]] = [
        (click.UsageError("no such option"), ExitStatus.USAGE),
        (VerifierError("give a FILE", code="usage"), ExitStatus.USAGE),
        (VerifierError("bad --at", code="bad_time"), ExitStatus.USAGE),
        (ValidationError("wrong check digit", field="holder.code"), ExitStatus.INVALID),
        (CertError("no such certificate", code="certificate_not_found"), ExitStatus.INVALID),
        (SesFormatError("truncated", code="ses_truncated"), ExitStatus.INVALID),
        (ContractRevert("IssuerNotActive", {}), ExitStatus.INVALID),
        (TransactionTimeout("0x01", 30.0), ExitStatus.UNDECIDED),
        (ChainUnavailable("connection refused"), ExitStatus.UNAVAILABLE),
        (TransactionDropped("0x01", "dropped"), ExitStatus.UNAVAILABLE),
        (RpcError("eth_call", -32000, "busy"), ExitStatus.UNAVAILABLE),
        (VerifierError("devnet down", code="devnet_not_running"), ExitStatus.UNAVAILABLE),
        (StoreError("no database", code="database_unavailable"), ExitStatus.UNAVAILABLE),
        (VerifierError("another batcher runs", code="batcher_role_held"), ExitStatus.BUSY),
        (ArtefactError("contracts/build missing"), ExitStatus.INTERNAL),
        (KeyError("x"), ExitStatus.INTERNAL),
        (RuntimeError("bug"), ExitStatus.INTERNAL),
    ]
    for exc, status in cases:
        assert exit_status_of(exc) is status, exc
    assert [exit_status_of_outcome(o) for o in (Outcome.VALID, Outcome.INVALID, Outcome.ERROR)
            ] == [ExitStatus.OK, ExitStatus.INVALID, ExitStatus.UNDECIDED]


def test_usage_and_internal_errors_by_command(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHENGYIN_")}

    def run(*args: str, home: Path = tmp_path / "home") -> Run:
        return subprocess.run([*zhengyin_command(), *args], env={**env, "ZHENGYIN_HOME": str(
            home)}, capture_output=True, text=True, timeout=60, check=False)

    usage = run("issue", "--issuer", USCC, "--bogus")
    assert usage.returncode == 2 and "No such option" in usage.stderr and usage.stdout == ""
    as_json = run("issue", "--issuer", USCC, "--bogus", "--json")
    assert as_json.returncode == 2
    assert json.loads(as_json.stdout)["error"] == "usage"
    neither = run("verify", "--json")
    assert neither.returncode == 2 and json.loads(neither.stdout)["error"] == "usage"
    configured = subprocess.run([*zhengyin_command(), "type", "list"],
                                env={**env, "ZHENGYIN_PORT": "eighty"}, capture_output=True,
                                text=True, timeout=60, check=False)
    assert configured.returncode == 2, configured.stderr
    assert configured.stderr.startswith("error [bad_configuration]: ")
    assert "port" in configured.stderr and configured.stderr.count("\n") == 1

    # a data directory that is a file: nothing in the project expects it, a bug's path
    home_file = tmp_path / "not-a-directory"
    home_file.write_text("x")
    internal = run("seal", "new", "--issuer", USCC, "--name", NAME, home=home_file)
    assert internal.returncode == 70, internal.stderr
    no_traceback(internal)
    assert internal.stderr.startswith("error [internal_error]: unexpected ")
    assert internal.stderr.count("\n") == 1
    internal = run("seal", "new", "--issuer", USCC, "--name", NAME, "--json", home=home_file)
    assert internal.returncode == 70
    assert json.loads(internal.stdout)["error"] == "internal_error" and internal.stderr == ""


# --------------------------------------------------------------------------- on a chain


def test_every_command_prints_json(cli: Cli) -> None:
    """Each command with --json prints one JSON document on stdout, parsed here."""
    seen: dict[str, Any] = {}

    def js(*args: str, status: int = 0, env: dict[str, str] | None = None) -> Any:
        run = cli(*args, "--json", env=env)
        assert run.returncode == status, run.stdout + run.stderr
        no_traceback(run)
        body = json.loads(run.stdout)
        seen[command_of(args)] = body
        return body

    assert js("devnet", "status")["running"] is True
    assert js("devnet", "up")["started"] is False
    deployed = js("deploy")
    assert deployed["deployed_now"] is False and deployed["chain_id"] == 3005
    assert TYPE in {t["code"] for t in js("type", "list")}
    assert js("type", "show", TYPE)["code"] == TYPE
    assert js("type", "revise", FOOD)["tx_hash"].startswith("0x")
    assert js("type", "withdraw", FOOD)["block"] > 0
    refused = js("type", "add", LICENCE, status=1)  # present since deploy: the chain refuses
    assert refused["error"] == "type_exists" and "TypeExists" in refused["message"]
    assert set(refused) == {"error", "message"}

    assert js("issuer", "add", "--code", USCC, "--name", NAME)["api_key"].startswith("zy_")
    granted = js("issuer", "authorize", "--code", USCC, "--type", LICENCE)
    assert granted["jurisdiction"] is not None
    assert LICENCE in {g["type"] for g in js("issuer", "authorizations", "--code", USCC)}
    assert js("issuer", "deauthorize", "--code", USCC, "--type", LICENCE)["tx_hash"]
    assert js("issuer", "revoke-keys", USCC)["revoked"] >= 2
    for role in ("admin", "counter", "auditor"):
        assert js(role, "add", f"{role}-1")["api_key"].startswith("zy_")
        assert js(role, "revoke", f"{role}-1")["revoked"] == 1
    address = "0x" + "5a" * 20
    assert js("admin", "chain-add", address, "--scope", "36")["scope"] == "36"
    assert js("admin", "chain-remove", address)["address"] == address

    seal = js("seal", "new", "--issuer", USCC, "--name", NAME)["seal"]
    assert js("seal", "show", seal)["kind"] == "seal"
    stamped = js("seal", "stamp", "--issuer", USCC, str(SAMPLE_PDF),
                 str(cli.work / "stamped.pdf"))
    assert stamped["anchor"]["block"] > 0 and len(stamped["sm3"]) == 64

    rows = cli.write("json-rows.json", [request("张三"), request("李四")])
    issued = js("issue", "--issuer", USCC, "--input", str(rows), "--out", str(cli.work / "out"))
    assert issued["anchored"] is True and not issued["rejected"]
    first, second = (a["identifier"] for a in issued["accepted"])
    document = cli.work / "out" / f"{first}.json"
    queued = js("issue", "--issuer", USCC, "--input", str(rows), "--no-wait")
    assert queued["anchored"] is False
    batches = js("batcher", "run", "--once")["batches"]
    assert sum(b["certificates"] for b in batches) == 2
    assert all(b["state"] == "anchored" and len(b["root"]) == 64 for b in batches)
    rendered = js("render", first, "--out", str(cli.work / "first.pdf"))
    assert rendered["identifier"] == first and rendered["anchor"]["tx_hash"].startswith("0x")
    assert js("verify", str(document))["verdict"] == "valid"
    assert js("suspend", second, "--reason", "核查")["action"] == "suspend"
    assert js("reinstate", second, "--reason", "核查完毕")["identifiers"] == [second]
    replacement = cli.write("replacement.json", request("李四"))
    superseded = js("supersede", second, "--input", str(replacement))
    assert superseded["supersedes"] == second
    assert js("revoke", superseded["identifier"], "--reason", "信息有误")["block"] > 0
    assert js("history", first)["status"] == "active"
    assert js("history", str(document), "--from-chain")["verification"]["verdict"] == "valid"
    assert js("reconcile", "--grace", "0")["agree"] is True
    # the command line's issuance and status changes are in the audit log, with who and why
    logged = js("audit", "--certificate", second)
    assert [e["event"] for e in logged["events"]] == [
        "issued", "suspended", "reinstated", "superseded"]
    assert {(e["role"], e["actor"].startswith("admin:cli:")) for e in logged["events"]} == {
        ("admin", True)}
    assert [e["reason"] for e in logged["events"][1:]] == ["核查", "核查完毕", "re-issued"]
    demo = js("demo", "--out", str(cli.work / "demo"))
    assert len(demo["certificates"]) == 3 and demo["counter_api_key"].startswith("zy_")

    assert js("devnet", "down")["stopped"] is True
    assert js("devnet", "status", status=4)["running"] is False
    assert js("devnet", "up")["started"] is True

    # the two commands that go on running print one JSON line first
    port = free_port()
    seen["serve"] = _first_line(cli, ["serve", "--json"],
                                {"ZHENGYIN_PORT": str(port), "ZHENGYIN_WORKERS": "1"})
    assert seen["serve"]["url"] == f"http://127.0.0.1:{port}/"
    js("issue", "--issuer", USCC, "--input", str(cli.write("one.json", [request("王五")])),
       "--no-wait")
    seen["batcher run"] = _first_line(cli, ["batcher", "run", "--json"], {})
    assert seen["batcher run"]["certificates"] == 1

    assert set(seen) == leaf_commands()


def _first_line(cli: Cli, args: list[str], env: dict[str, str]) -> Any:
    """The first line a long-running command prints on stdout, as JSON; then it is
    stopped as Ctrl-C stops it."""
    process = subprocess.Popen([*zhengyin_command(), *args], env={**cli.env, **env},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=ctrl_c_stops)
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 120)
        assert ready, "no output in 120 s"
        return json.loads(process.stdout.readline())
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(30)


def test_exit_status_for_each_kind_of_outcome(cli: Cli) -> None:
    rows = cli.write("exit-rows.json", [request("赵六")])
    issued = cli("issue", "--issuer", USCC, "--input", str(rows), "--out", str(cli.work / "x"),
                 "--json")
    assert issued.returncode == 0, issued.stderr
    (identifier,) = (a["identifier"] for a in json.loads(issued.stdout)["accepted"])
    document = cli.work / "x" / f"{identifier}.json"
    tampered = json.loads(document.read_text(encoding="utf-8"))
    tampered["claims"]["holder.name"]["value"] = "赵七"
    forged = cli.write("forged.json", tampered)

    assert cli("verify", str(document)).returncode == 0
    invalid = cli("verify", str(forged), "--json")
    assert invalid.returncode == 1 and json.loads(invalid.stdout)["verdict"] == "invalid"
    bad_row = request("钱八")
    bad_row["holder"]["code"] = "110105194912310021"  # a wrong check digit
    rejected = cli("issue", "--issuer", USCC, "--input", str(cli.write("bad-row.json", [bad_row])))
    assert rejected.returncode == 1 and "[invalid_citizen_id]" in rejected.stderr

    # several files: one verdict each, the exit status of the worst (batch verification)
    with pikepdf.open(SAMPLE_PDF) as pdf:  # a PDF no one can verify: refused, not judged
        locked = cli.work / "locked.pdf"
        pdf.save(locked, encryption=pikepdf.Encryption(owner="o", user=""))
    files = [document, forged, locked]
    several = cli("verify", *map(str, files), "--json")
    assert several.returncode == 1, several.stdout + several.stderr
    verdicts = json.loads(several.stdout)
    assert [v.get("verdict") for v in verdicts] == ["valid", "invalid", None]
    assert verdicts[2]["error"] == "pdf_encrypted"
    assert [v["subject"]["file"] for v in verdicts] == [str(f) for f in files]
    both_valid = cli("verify", str(document), str(document))
    assert both_valid.returncode == 0
    assert both_valid.stdout.rstrip().endswith("2 files: 2 valid, 0 invalid or refused, "
                                               "0 not decided")

    undecided = cli("verify", str(document), "--json", env=unreachable())
    assert undecided.returncode == 3
    assert json.loads(undecided.stdout)["verdict"] == "error"
    several = cli("verify", str(document), str(document), "--json", env=unreachable())
    assert several.returncode == 3
    assert [v["verdict"] for v in json.loads(several.stdout)] == ["error", "error"]

    # A damaged deployment record says nothing of the certificate: could not decide (3),
    # never invalid (review of issue #17: it exited 1). Its own home, the same devnet.
    damaged = cli.work / "damaged-home"
    shutil.copytree(cli.home / "deployments", damaged / "deployments")
    for record in (damaged / "deployments").glob("*.json"):
        record.write_text("{not json", encoding="utf-8")
    broken = {"ZHENGYIN_HOME": str(damaged),
              "ZHENGYIN_RPC_URL": f"http://127.0.0.1:{cli.env['ZHENGYIN_DEVNET_PORT']}"}
    payload = qr.payload_for(CertificateDocument.from_json(document.read_bytes())).encode()
    for args in ((str(document),), (str(document), str(document)), ("--qr", payload)):
        undecided = cli("verify", *args, "--json", env=broken)
        assert undecided.returncode == 3, undecided.stdout + undecided.stderr
        out = json.loads(undecided.stdout)
        assert {v["verdict"] for v in (out if isinstance(out, list) else [out])} == {"error"}
        no_traceback(undecided)

    for args in (("type", "list"), ("history", identifier), ("deploy",)):
        down = cli(*args, env=unreachable())
        assert down.returncode == 4, down.stdout + down.stderr
        assert down.stderr.startswith("error [chain_unavailable]: ")
        no_traceback(down)
        down = cli(*args, "--json", env=unreachable())
        assert down.returncode == 4
        assert json.loads(down.stdout)["error"] == "chain_unavailable"


def test_input_format_by_extension_or_by_format(cli: Cli) -> None:
    header = "type,holder.name,holder.code,holder.code_type,jurisdiction,fields.事项\n"
    csv_row = f"{TYPE},孙九,11010519491231002X,111,360100,示例\n"
    as_json = json.dumps([request("孙九")], ensure_ascii=False)

    def issue(path: Path, *extra: str) -> Run:
        return cli("issue", "--issuer", USCC, "--input", str(path), "--no-wait", "--json",
                   *extra)

    by_json = issue(cli.write("rows-a.json", as_json))
    by_csv = issue(cli.write("rows-b.CSV", header + csv_row))
    told_csv = issue(cli.write("rows-c.txt", header + csv_row), "--format", "csv")
    told_json = issue(cli.write("rows-d.data", as_json), "--format", "json")
    for run in (by_json, by_csv, told_csv, told_json):
        assert run.returncode == 0, run.stdout + run.stderr
        assert len(json.loads(run.stdout)["accepted"]) == 1
    untold = issue(cli.write("rows-e.txt", header + csv_row))
    assert untold.returncode == 2
    error = json.loads(untold.stdout)
    assert error["error"] == "unknown_format" and "--format" in error["message"]
    wrong = issue(cli.write("rows-f.json", header + csv_row))
    assert wrong.returncode == 1 and json.loads(wrong.stdout)["error"] == "bad_json"
    missing = cli("issue", "--issuer", USCC)
    assert missing.returncode == 2 and missing.stderr.startswith("error [usage]: ")
    assert "--input" in missing.stderr
    old = cli("issue", "--issuer", USCC, "--json", str(cli.work / "rows-a.json"))
    assert old.returncode == 2 and json.loads(old.stdout)["error"] == "usage"
    assert cli("batcher", "run", "--once").returncode == 0


def test_batcher_run_logs_each_round(cli: Cli) -> None:
    rows = cli.write("log-rows.json", [request("周一"), request("吴二"), request("郑三")])
    queued = cli("issue", "--issuer", USCC, "--input", str(rows), "--no-wait", "--json")
    assert queued.returncode == 0, queued.stderr
    process = subprocess.Popen(
        [*zhengyin_command(), "batcher", "run", "--json"],
        env={**cli.env, "ZHENGYIN_LOG_LEVEL": "DEBUG"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=ctrl_c_stops,
    )
    errors: list[str] = []
    reader = threading.Thread(
        target=lambda: errors.extend(process.stderr or []), daemon=True
    )
    reader.start()
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 120)
        assert ready
        batch = json.loads(process.stdout.readline())
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any("nothing to anchor" in e for e in errors):
            time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        finally:
            if process.poll() is None:  # never left behind holding the batcher role
                process.kill()
                process.wait(10)
        reader.join(10)
    assert process.returncode == 0
    anchored = [e for e in errors if " INFO certs.batcher batch anchored " in e]
    assert len(anchored) == 1, errors
    line = anchored[0]
    assert f"batch={batch['batch']} issuer={USCC} certificates=3 root={batch['root']} " in line
    assert f"block={batch['block']} tx={batch['tx_hash']} seconds=" in line
    assert re.search(r" seconds=\d+\.\d{3}$", line.rstrip())
    assert any(" DEBUG certs.batcher batcher round: nothing to anchor " in e for e in errors)
    assert all(e.count("\n") <= 1 for e in errors)

    # --once logs its round at INFO by default, and says so on stdout
    rows = cli.write("log-once.json", [request("冯四")])
    assert cli("issue", "--issuer", USCC, "--input", str(rows), "--no-wait").returncode == 0
    once = cli("batcher", "run", "--once")
    assert once.returncode == 0 and "1 certificates of" in once.stdout
    assert " INFO certs.batcher batch anchored " in once.stderr and "root=" in once.stderr
    nothing = cli("batcher", "run", "--once")
    assert nothing.stdout.strip() == "nothing to anchor" and nothing.stderr == ""


def _on_a_terminal(cli: Cli, args: list[str]) -> tuple[int, str]:
    """Run with stderr on a pseudo-terminal; the exit status and what reached it."""
    primary, secondary = pty.openpty()
    process = subprocess.Popen([*zhengyin_command(), *args], env={**cli.env, "TERM": "xterm"},
                               stdout=subprocess.DEVNULL, stderr=secondary)
    os.close(secondary)
    seen = b""
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the terminal closed: the command is done
            break
        if not chunk:
            break
        seen += chunk
    os.close(primary)
    return process.wait(60), seen.decode("utf-8", "replace")


def test_progress_only_on_a_terminal_and_never_with_quiet(cli: Cli) -> None:
    rows = cli.write("progress.json", [request(f"进度{n}") for n in range(200)])
    args = ["issue", "--issuer", USCC, "--input", str(rows), "--no-wait"]

    piped = cli(*args, "--json")
    assert piped.returncode == 0, piped.stderr
    assert "signing" not in piped.stderr and "\x1b[" not in piped.stderr
    assert json.loads(piped.stdout)["anchored"] is False

    status, terminal = _on_a_terminal(cli, args)
    assert status == 0
    assert "validating and signing" in terminal

    status, quiet = _on_a_terminal(cli, [*args, "--quiet"])
    assert status == 0
    assert "signing" not in quiet and "authorizations" not in quiet
    assert cli("batcher", "run", "--once").returncode == 0
