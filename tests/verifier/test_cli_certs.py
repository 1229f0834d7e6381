"""Certificates through the installed ``zhengyin`` command, end to end: an agency is set up,
issues from JSON and CSV, changes statuses, and every document is verified with
``zhengyin verify`` against the module's devnet (started by ``zhengyin devnet up``).

One home directory and one devnet serve the whole module (each command is a fresh process,
so the tests run independent commands side by side to stay quick).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chain.registry import RegistryClient
from tests.certs.samples import business_licence_request
from tests.conftest import free_port
from tests.verifier.test_cli_devnet import zhengyin_command
from verifier.app.context import chain_rpc, deployment
from verifier.app.context import registry as context_registry
from verifier.checks.certificates import verify_documents
from verifier.settings import Settings

USCC = "91110000101623741K"
NAME = "示例市市场监督管理局"
TYPE = "11100000000013338W032"
BAD_CITIZEN_ID = "110105194912310021"  # wrong check digit


def request(name: str, code: str = "11010519491231002X", **extra: Any) -> dict[str, Any]:
    return {
        "type": TYPE,
        "holder": {"name": name, "code": code, "code_type": "111"},
        "jurisdiction": "360100",
        "fields": {"事项": "示例"},
        **extra,
    }


Run = subprocess.CompletedProcess[str]


@dataclass
class Cli:
    """``zhengyin`` with this module's home and devnet."""

    home: Path
    work: Path
    env: dict[str, str]

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> Run:
        return subprocess.run(
            [*zhengyin_command(), *args],
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def many(self, *commands: Sequence[str]) -> list[Run]:
        """Independent commands side by side."""
        with ThreadPoolExecutor(len(commands)) as pool:
            return list(pool.map(lambda c: self(*c), commands))

    def verify(self, *documents: Path) -> list[tuple[int, dict[str, Any]]]:
        runs = self.many(*(("verify", str(d), "--json") for d in documents))
        return [(r.returncode, json.loads(r.stdout)) for r in runs]

    def write(self, name: str, content: Any) -> Path:
        path = self.work / name
        path.write_text(
            content if isinstance(content, str) else json.dumps(content, ensure_ascii=False),
            encoding="utf-8",
        )
        return path

    def settings(self) -> Settings:
        """This module's settings, for work done in the test process (quicker than a
        command where the command itself is not what is tested)."""
        return Settings(home=self.home, devnet_port=int(self.env["ZHENGYIN_DEVNET_PORT"]))

    def verdict(self, document: Path) -> str:
        """The verdict on a document, judged in this process against the module's devnet."""
        settings = self.settings()
        rpc = chain_rpc(settings)
        verdicts, _ = verify_documents([document.read_bytes()], RegistryClient(rpc, deployment(
            settings, rpc)))
        return verdicts[0].outcome.value

    def record_status(self, identifier: str) -> str:
        """The service's stored status, as `zhengyin history --json` reports it (read by a
        command, like every other read of this module's database)."""
        run = self("history", identifier, "--json")
        assert run.returncode == 0, run.stderr
        status: str = json.loads(run.stdout)["status"]
        return status


def status_check(verdict: dict[str, Any]) -> dict[str, Any]:
    (found,) = [c for c in verdict["checks"] if c["name"] == "certificate.status"]
    return found


def clean(run: Run) -> None:
    assert "Traceback" not in run.stderr and "Traceback" not in run.stdout


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    base = tmp_path_factory.mktemp("cli-certs")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHENGYIN_")}
    env |= {"ZHENGYIN_HOME": str(base / "home"), "ZHENGYIN_DEVNET_PORT": str(free_port())}
    (base / "work").mkdir()
    runner = Cli(base / "home", base / "work", env)
    assert runner("devnet", "up").returncode == 0
    yield runner
    runner("devnet", "down")


@dataclass
class Setup:
    deploy: Run
    first: dict[str, Any]


@pytest.fixture(scope="module")
def agency(cli: Cli) -> Setup:
    deployed = cli("deploy")
    assert deployed.returncode == 0, deployed.stderr
    added = cli("issuer", "add", "--code", USCC, "--name", NAME, "--json")
    assert added.returncode == 0, added.stderr
    granted = cli("issuer", "authorize", "--code", USCC, "--type", TYPE)
    assert granted.returncode == 0, granted.stderr
    return Setup(deployed, json.loads(added.stdout))


@dataclass
class Issued:
    identifiers: list[str]
    documents: list[Path]


@pytest.fixture(scope="module")
def pool(cli: Cli, agency: Setup) -> Issued:
    """Certificates for the status tests, each test using its own, issued by the command."""
    rows = cli.write("pool.json", [request(n) for n in ("甲一", "乙二", "丙三")])
    out = cli.work / "pool"
    run = cli("issue", "--issuer", USCC, "--input", str(rows), "--out", str(out),
              "--json")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["anchored"] is True
    identifiers = [a["identifier"] for a in sorted(report["accepted"], key=lambda a: a["line"])]
    return Issued(identifiers, [out / f"{i}.json" for i in identifiers])


# ------------------------------------------------------------------------------- set-up


def test_deploy_and_issuer_add(cli: Cli, agency: Setup) -> None:
    assert "deployed to chain 3005" in agency.deploy.stdout
    first = agency.first
    assert first["code"] == USCC and first["name"] == NAME
    assert first["registered_now"] is True
    assert first["api_key"].startswith("zy_") and len(first["api_key"]) > 30
    assert first["account"].startswith("0x") and len(first["key_id"]) == 64

    again = cli("issuer", "add", "--code", USCC, "--name", NAME, "--json")
    assert again.returncode == 0, again.stderr
    second = json.loads(again.stdout)
    assert second["registered_now"] is False
    assert second["api_key"] != first["api_key"]
    assert (second["account"], second["key_id"]) == (first["account"], first["key_id"])

    keys = [first["api_key"], second["api_key"]]
    with sqlite3.connect(cli.home / "zhengyin.sqlite3") as db:
        stored = db.execute("SELECT role, subject, key_hash FROM api_keys").fetchall()
    assert sorted(stored) == sorted(
        ("issuer", USCC, hashlib.sha256(k.encode()).hexdigest()) for k in keys
    )
    for path in cli.home.rglob("*"):  # the database, its WAL, keys, seals: nowhere
        if path.is_file():
            data = path.read_bytes()
            assert not any(k.encode() in data for k in keys), path


# ------------------------------------------------------------------------------ issuing


def test_issue_json_issues_good_rows_and_names_bad_ones(cli: Cli, agency: Setup) -> None:
    rows = cli.write(
        "three.json", [request("张三"), request("李四", code=BAD_CITIZEN_ID), request("王五")]
    )
    out = cli.work / "three"

    run = cli("issue", "--issuer", USCC, "--input", str(rows), "--out", str(out))

    assert run.returncode == 1
    clean(run)
    assert "line 2: holder.code: " in run.stderr and "[invalid_citizen_id]" in run.stderr
    assert "line 1" not in run.stderr and "line 3" not in run.stderr
    assert "2 issued (anchored), 1 rejected" in run.stdout
    documents = sorted(out.glob("*.json"))
    assert len(documents) == 2
    for identifier in (d.stem for d in documents):
        assert identifier in run.stdout
        assert identifier.startswith(f"1.2.156.3005.2.{TYPE}.{USCC}.")
    for code, verdict in cli.verify(*documents):
        assert code == 0 and verdict["verdict"] == "valid", verdict
        assert {c["status"] for c in verdict["checks"]} == {"VALID"}
        assert verdict["subject"]["issuer.code"] == USCC
        assert verdict["subject"]["chain"]["chain_id"] == 3005
    holders = {json.loads(d.read_text())["claims"]["holder.name"]["value"] for d in documents}
    assert holders == {"张三", "王五"}


def test_issue_refuses_rows_of_a_type_the_agency_is_not_authorized_for(
    cli: Cli, agency: Setup
) -> None:
    licence = business_licence_request()  # 营业执照: not granted
    rows = cli.write("unauthorized.json", [request("钱七"), licence])

    run = cli("issue", "--issuer", USCC, "--input", str(rows))

    assert run.returncode == 1
    clean(run)
    assert "1 issued (anchored), 1 rejected" in run.stdout
    line = next(x for x in run.stderr.splitlines() if x.startswith("line 2: type: "))
    assert "never authorized for type 11100000MA0000001Q001 (营业执照)" in line
    assert line.endswith("[not_authorized]")


def _csv(rows: list[dict[str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def test_issue_csv_flattens_keys_and_reports_csv_lines(cli: Cli, agency: Setup) -> None:
    def row(name: str, code: str = "11010519491231002X", note: str = "示例") -> dict[str, str]:
        return {"type": TYPE, "holder.name": name, "holder.code": code,
                "holder.code_type": "111", "jurisdiction": "360100", "fields.事项": note}

    text = _csv([
        row("赵一", note="第一行\n第二行"),  # a quoted cell over two lines: lines 2-3
        row("钱二", code=BAD_CITIZEN_ID),  # line 4
        row("孙三"),  # line 5
        row("李四", code=BAD_CITIZEN_ID, note="跨\n行"),  # lines 6-7
    ])
    path = cli.write("rows.csv", text)
    out = cli.work / "csv"

    run = cli("issue", "--issuer", USCC, "--input", str(path), "--out", str(out))

    assert run.returncode == 1
    clean(run)
    lines = sorted(line.split(":")[0] for line in run.stderr.splitlines()
                   if line.startswith("line "))
    assert lines == ["line 4", "line 6"]
    assert "[invalid_citizen_id]" in run.stderr
    assert "2 issued (anchored), 2 rejected" in run.stdout
    documents = sorted(out.glob("*.json"))
    claims = [json.loads(d.read_text())["claims"] for d in documents]
    assert sorted(c["holder.name"]["value"] for c in claims) == ["孙三", "赵一"]
    assert "第一行\n第二行" in [c["fields.事项"]["value"] for c in claims]
    assert [cli.verdict(d) for d in documents] == ["valid", "valid"]


def test_no_wait_queues_and_the_batcher_anchors(cli: Cli, agency: Setup) -> None:
    rows = cli.write("later.json", [request("周七"), request("吴八")])

    run = cli("issue", "--issuer", USCC, "--input", str(rows), "--no-wait", "--json")

    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["anchored"] is False
    ids = [a["identifier"] for a in report["accepted"]]
    assert [cli.record_status(i) for i in ids] == ["pending", "pending"]

    batcher = cli("batcher", "run", "--once")
    assert batcher.returncode == 0, batcher.stderr
    assert f"2 certificates of {USCC} anchored (block " in batcher.stdout
    assert [cli.record_status(i) for i in ids] == ["active", "active"]


# ------------------------------------------------------------------------------ status


def test_revoke_makes_verify_fail(cli: Cli, pool: Issued) -> None:
    run = cli("revoke", pool.identifiers[0], "--reason", "信息有误", "--reason-code", "1")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("revoke: 1 certificate(s) in block ")

    as_json, human = cli.many(("verify", str(pool.documents[0]), "--json"),
                              ("verify", str(pool.documents[0])))
    assert as_json.returncode == 1
    verdict = json.loads(as_json.stdout)
    assert verdict["verdict"] == "invalid"
    status = status_check(verdict)
    assert status["status"] == "INVALID" and status["reason"].startswith("revoked in block ")
    assert "信息有误" in status["reason"]
    assert human.returncode == 1 and "revoked in block" in human.stdout
    assert human.stdout.rstrip().endswith("verdict: invalid")


def test_suspend_reinstate_supersede_and_history(cli: Cli, pool: Issued) -> None:
    old, old_doc = pool.identifiers[1], pool.documents[1]
    assert cli("suspend", old, "--reason", "核查", "--reason-code", "7").returncode == 0
    assert cli.record_status(old) == "suspended"
    assert cli.verdict(old_doc) == "invalid"
    assert cli("reinstate", old, "--reason", "核查完毕").returncode == 0
    assert cli.record_status(old) == "active"
    assert cli.verdict(old_doc) == "valid"

    new_request = cli.write("new.json", request("乙二", annotations=["换发"]))
    out = cli.work / "successor"
    run = cli("supersede", old, "--input", str(new_request), "--out", str(out))
    assert run.returncode == 0, run.stderr
    (new_doc,) = out.glob("*.json")
    new = new_doc.stem
    assert run.stdout.startswith(f"{new} supersedes {old} (block ")

    old_verify, new_verify, old_history, new_history = cli.many(
        ("verify", str(old_doc), "--json"), ("verify", str(new_doc), "--json"),
        ("history", old, "--json"), ("history", new, "--json"),
    )
    assert old_verify.returncode == 1 and new_verify.returncode == 0
    old_verdict = json.loads(old_verify.stdout)
    assert old_verdict["verdict"] == "invalid"
    assert status_check(old_verdict)["reason"].startswith("superseded by a newer certificate")
    assert json.loads(new_verify.stdout)["verdict"] == "valid"
    timeline = json.loads(old_history.stdout)
    assert timeline["identifier"] == old and timeline["status"] == "superseded"
    everything = timeline["events"]
    assert [e["block"] for e in everything] == sorted(e["block"] for e in everything)
    assert {"type_added", "issuer_registered", "key_added", "authorized"} <= {
        e["event"] for e in everything
    }
    events = [e for e in everything if e["about"] == "certificate"]
    assert [e["event"] for e in events] == ["anchored", "suspended", "reinstated", "superseded"]
    assert [e["block"] for e in events] == sorted(e["block"] for e in events)
    assert len({e["block"] for e in events}) == 4
    assert [e["time"] for e in events] == sorted(e["time"] for e in events)
    assert all(e["tx_hash"].startswith("0x") and len(e["tx_hash"]) == 66 for e in events)
    assert all(e["time"].endswith("Z") for e in events)
    assert events[1]["detail"].startswith("reason 7:")
    assert events[3]["detail"] == f"by {new}"
    assert [e["event"] for e in json.loads(new_history.stdout)["events"]
            if e["about"] == "certificate"] == ["anchored", "supersedes"]


# ------------------------------------------------------------------------------ errors


def test_unknown_issuer_or_identifier_is_one_clear_line(cli: Cli, agency: Setup) -> None:
    rows = cli.write("one.json", [request("郑九")])
    unknown_id = f"1.2.156.3005.2.{TYPE}.{USCC}.99999999.001.X"
    runs = cli.many(
        ("issue", "--issuer", "91350100M000100Y43", "--input", str(rows)),
        ("revoke", unknown_id, "--reason", "x"),
        ("history", unknown_id),
        ("history", unknown_id, "--json"),
    )
    codes = ["unknown_issuer", "certificate_not_found", "certificate_not_found"]
    for run, code in zip(runs[:3], codes, strict=True):
        assert run.returncode == 1, run
        clean(run)
        assert run.stderr.startswith(f"error [{code}]: ") and run.stderr.count("\n") == 1
    assert "91350100M000100Y43" in runs[0].stderr and unknown_id in runs[1].stderr
    as_json = runs[3]  # with --json the error is the JSON on stdout, and nothing on stderr
    assert as_json.returncode == 1 and as_json.stderr == ""
    error = json.loads(as_json.stdout)
    assert error["error"] == "certificate_not_found" and unknown_id in error["message"]


def test_verify_when_the_chain_is_down_cannot_decide(cli: Cli, pool: Issued) -> None:
    run = cli("verify", str(pool.documents[2]), "--json",
              env={"ZHENGYIN_RPC_URL": f"http://127.0.0.1:{free_port()}"})
    assert run.returncode == 3, run.stderr
    clean(run)
    verdict = json.loads(run.stdout)
    assert verdict["verdict"] == "error"
    statuses = {c["name"]: c["status"] for c in verdict["checks"]}
    assert statuses["certificate.signature"] == "VALID"
    chain = ("chain.anchored", "issuer.authorized", "issuer.key", "certificate.status")
    assert {statuses[n] for n in chain} == {"ERROR"}


# ------------------------------------------------------------------------ faults (#15)


def test_chain_account_keys_are_encrypted_at_rest(cli: Cli, agency: Setup) -> None:
    """Issue #15 item 9: the operator's and each agency's chain account key were plain hex
    on disk, while the SM2 keys were encrypted. All are encrypted alike now."""
    for path in (cli.home / "keys" / "operator.key",
                 cli.home / "issuers" / USCC / "account.key"):
        data = path.read_bytes()
        assert data.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----"), path
        assert path.stat().st_mode & 0o777 == 0o600


def _children(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_killing_issue_leaves_no_signing_worker(cli: Cli, agency: Setup) -> None:
    """Issue #15 item 8: `zhengyin issue` killed with kill -9 left its forked signing
    workers running (~140 MB each) for ever. They now die with it."""
    rows = cli.write("many.json", [request(f"批{n}") for n in range(6000)])
    issuing = subprocess.Popen(
        [*zhengyin_command(), "issue", "--issuer", USCC, "--input", str(rows), "--no-wait"],
        env=cli.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        workers: set[int] = set()
        deadline = time.monotonic() + 60
        while not workers and issuing.poll() is None and time.monotonic() < deadline:
            workers = _children(issuing.pid)
            time.sleep(0.01)
        assert workers, "the command forked no worker (finished first?)"
        time.sleep(0.2)
        workers |= _children(issuing.pid)
        os.kill(issuing.pid, signal.SIGKILL)
    finally:
        issuing.wait(30)
    deadline = time.monotonic() + 5
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [w for w in workers if _alive(w)], "signing workers outlived the command"


def test_issue_prints_what_it_issued_when_anchoring_fails(cli: Cli, agency: Setup) -> None:
    """Issue #15 item 8: when anchoring failed after the certificates were stored, `issue`
    exited with an error and printed none of the identifiers it had issued. They are always
    printed now; then the error, and the exit status of its kind (here the chain refused:
    1); they stay queued for the batcher."""
    governance = context_registry(cli.settings(), write=True)
    governance.suspend_issuer(USCC, "核查中")
    try:
        rows = cli.write("suspended.json", [request("褚一"), request("卫二")])
        run = cli("issue", "--issuer", USCC, "--input", str(rows))
        assert run.returncode == 1, run.stdout + run.stderr
        clean(run)
        assert "2 issued (queued for anchoring), 0 rejected" in run.stdout
        issued = [line.strip() for line in run.stdout.splitlines()[1:]]
        assert len(issued) == 2 and all(i.startswith("1.2.156.3005.2.") for i in issued)
        assert run.stderr.startswith("error [contract_revert]: ") and "IssuerNotActive" in (
            run.stderr
        )
        report = cli("issue", "--issuer", USCC, "--input", str(rows), "--json")
        assert report.returncode == 1
        body = json.loads(report.stdout)
        assert len(body["accepted"]) == 2 and body["error"] == "contract_revert"
        assert "IssuerNotActive" in body["message"] and "error [" not in report.stderr
    finally:
        governance.reinstate_issuer(USCC)
    anchored = cli("batcher", "run", "--once")
    assert anchored.returncode == 0, anchored.stderr
    assert [cli.record_status(i) for i in issued] == ["active", "active"]


def test_issuing_while_the_devnet_is_down_queues_and_nothing_starts_it(
    cli: Cli, agency: Setup
) -> None:
    """Issue #15 item 6: `issue` needs no chain: with the devnet down the certificates are
    stored and queued, and the command says so; it does not start the devnet (only
    `zhengyin devnet up` does), and a command that needs the chain says what to run.
    Whether the agency may issue the type is then read from the index of the chain that
    the service (here `reconcile`) keeps in the database; with none, nothing is issued."""
    assert cli("devnet", "down").returncode == 0
    try:
        rows = cli.write("offline.json", [request("蒋三")])
        unchecked = cli("issue", "--issuer", USCC, "--input", str(rows))
        assert unchecked.returncode == 4
        assert unchecked.stderr.startswith("error [authorization_unchecked]: "), unchecked.stderr
        assert "nothing was issued" in unchecked.stderr
        assert cli("devnet", "up").returncode == 0
        assert cli("reconcile").returncode == 0  # the index now holds the catalogue
        assert cli("devnet", "down").returncode == 0
        run = cli("issue", "--issuer", USCC, "--input", str(rows))
        assert run.returncode == 0, run.stderr
        assert "1 issued (queued for anchoring)" in run.stdout
        assert "devnet up" in run.stderr and "queued" in run.stderr
        identifier = run.stdout.splitlines()[1].strip()
        refused = cli("batcher", "run", "--once")
        assert refused.returncode == 4
        assert refused.stderr.startswith("error [devnet_not_running]: ")
        assert cli("devnet", "status").returncode == 4  # still down: nothing started it
    finally:
        assert cli("devnet", "up").returncode == 0
    assert cli("batcher", "run", "--once").returncode == 0
    assert cli.record_status(identifier) == "active"
