"""Fault-injection soak (issue #15): a real `zhengyin serve` (two workers, SQLite) on a real
devnet, broken over and over at random moments while a probe verifies certificates through
the HTTP API and checks each answer against the chain read directly.

Scenarios, in random order (``--rounds`` of each kind):
- ``kill``: anvil killed with kill -9 at a random moment (often during a state dump), then
  started again with `zhengyin devnet up` (which restores the last good dump if the kill
  truncated state.json);
- ``stop``: anvil SIGSTOPped for 2-5 s, then SIGCONT;
- ``rollback``: changes made through the service (a revoke, a new batch), then the devnet
  stopped, an older state file copied over state.json and started again (its head goes
  back, its next blocks differ); then a revoke made on chain at a reused block number;
- ``lock``: a write transaction held on the SQLite database for 3-35 s (a very large issue
  does that) while a certificate is revoked on chain, not through the service;
- ``kill-issue``: `zhengyin issue` of 3,000 certificates killed with kill -9 at a random
  moment (while signing, or after storing while anchoring).

The stale-answer window of a scenario is the time from the event that changed what the
chain says (or made it unreachable) to the last answer of the service that contradicts
the chain (or, the chain unreachable, is anything but `error`). After each scenario the
service must be healthy again, every certificate it accepted anchored, and database and
chain in agreement (`zhengyin reconcile`). Prints: scenarios run, the window (worst, median),
the repairs made, and anything lost or contradicting beyond the bound (must be none).

Run: .venv/bin/python bench/faults.py [--rounds N] [--seed S]   (default 2 rounds, ~4 min)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests

from certs import qr
from certs.canonical import CertificateDocument
from chain.errors import ChainError
from chain.registry import ChainStatus, RegistryClient
from chain.rpc import Rpc
from devnet.anvil import Devnet
from devnet.deploy import DeploymentRecord
from verifier.app.agency import issuer_chain_client
from verifier.errors import VerifierError
from verifier.settings import Settings

ZHENGYIN = str(Path(sys.executable).parent / "zhengyin")
AGENCY = ("91110000101623741K", "示例市市场监督管理局")
BOUND = 2.0
KINDS = ("kill", "stop", "rollback", "lock", "kill-issue")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def request(name: str) -> dict[str, Any]:
    return {"type": "11100000000013338W032", "jurisdiction": "360100",
            "holder": {"name": name, "code": "11010519491231002X", "code_type": "111"}}


@dataclass
class Watched:
    identifier: str
    payload: str
    root: bytes
    leaf: bytes


@dataclass
class Soak:
    home: Path
    env: dict[str, str]
    url: str
    keys: dict[str, str]
    watched: list[Watched] = field(default_factory=list)
    answers: list[tuple[float, str, str, str]] = field(default_factory=list)
    """(time, identifier, verdict, what the chain said right after)."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop_probe: threading.Event = field(default_factory=threading.Event)
    accepted: set[str] = field(default_factory=set)

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        run = subprocess.run([ZHENGYIN, *args], env=self.env, capture_output=True, text=True,
                             timeout=300, check=False)
        if check and run.returncode != 0:
            raise RuntimeError(f"zhengyin {' '.join(args)}: {run.stdout}{run.stderr}")
        return run

    def h(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    @property
    def settings(self) -> Settings:
        return Settings(home=self.home, devnet_port=int(self.env["ZHENGYIN_DEVNET_PORT"]))

    def issue(self, name: str) -> str:
        made = requests.post(f"{self.url}/v1/certificates", json=request(name),
                             headers=self.h("issuer"), timeout=60)
        made.raise_for_status()
        identifier = str(made.json()["identifier"])
        self.accepted.add(identifier)
        return identifier

    def record(self, identifier: str) -> dict[str, Any]:
        got = requests.get(f"{self.url}/v1/certificates/{identifier}", headers=self.h("issuer"),
                           timeout=60)
        got.raise_for_status()
        body: dict[str, Any] = got.json()
        return body

    def active(self, identifier: str, seconds: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            body = self.record(identifier)
            if body["status"] == "active":
                return body["document"]  # type: ignore[no-any-return]
            time.sleep(0.2)
        raise RuntimeError(f"{identifier} not anchored in {seconds} s")

    def watch(self, name: str) -> Watched:
        identifier = self.issue(name)
        document = CertificateDocument.from_json(json.dumps(self.active(identifier)))
        assert document.anchor is not None
        found = Watched(identifier, qr.payload_for(document).encode(), document.anchor.root,
                        document.leaf)
        with self.lock:
            self.watched.append(found)
        return found

    def target(self, rng: random.Random) -> Watched:
        """A watched certificate not revoked yet (a new one if none is left)."""
        left = [w for w in self.watched if w.identifier not in _revoked]
        return rng.choice(left) if left else self.watch(f"目标{rng.randrange(10**6)}")

    def reader(self) -> RegistryClient | None:
        info = Devnet(self.home).running()
        if info is None:
            return None
        deployment = DeploymentRecord(self.home).load(3005)
        assert deployment is not None
        return RegistryClient(Rpc(info.url, timeout=0.5), deployment)

    def healthy(self, seconds: float = 60) -> float:
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            try:
                if requests.get(f"{self.url}/healthz", timeout=5).status_code == 200:
                    return time.monotonic() - started
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError("the service did not become healthy")

    def node(self) -> Devnet:
        return Devnet(self.home)


def chain_says(reader: RegistryClient | None, item: Watched) -> str:
    if reader is None:
        return "unknown"
    try:
        if reader.anchor_of(item.root) is None:
            return "invalid"
        status = reader.status_of(AGENCY[0], item.leaf).status
    except ChainError:
        return "unknown"
    return "valid" if status is ChainStatus.ACTIVE else "invalid"


def probe(soak: Soak) -> None:
    """Verify the watched certificates in turn through the API; read the chain after each."""
    reader: RegistryClient | None = None
    k = 0
    while not soak.stop_probe.is_set():
        with soak.lock:
            items = list(soak.watched)
        if not items:
            time.sleep(0.05)
            continue
        item = items[k % len(items)]
        k += 1
        try:
            answer = requests.post(f"{soak.url}/v1/verify", json={"qr": item.payload},
                                   headers=soak.h("counter"), timeout=30)
            verdict = answer.json()["verdict"] if answer.status_code == 200 else "error"
        except requests.RequestException:
            verdict = "error"
        at = time.monotonic()
        if reader is None or k % 20 == 0:
            try:
                reader = soak.reader()
            except (ChainError, VerifierError):
                reader = None
        truth = chain_says(reader, item)
        soak.answers.append((at, item.identifier, verdict, truth))
        time.sleep(0.02)


def window(soak: Soak, since: float, until: float) -> float:
    """From ``since`` to the last answer up to ``until`` that contradicts the chain (or is
    not `error` while the chain cannot be read)."""
    last = since
    for at, _, verdict, truth in soak.answers:
        if since <= at <= until and verdict != "error" and verdict != truth:
            last = max(last, at)
    return last - since


def consistent(soak: Soak) -> list[str]:
    """Every accepted certificate anchored, and database and chain in agreement (after
    `zhengyin reconcile`): read from the chain in batched snapshots."""
    problems = []
    report = json.loads(soak.cli("reconcile", "--json", "--grace", "0", check=False).stdout)
    if not report.get("agree"):
        problems.append(f"reconcile left: {report.get('statuses')}")
    reader = soak.reader()
    assert reader is not None
    with sqlite3.connect(soak.home / "zhengyin.sqlite3") as raw:
        rows = raw.execute(
            "SELECT c.identifier, c.status, c.leaf, b.root FROM certificates c "
            "LEFT JOIN batches b ON b.id = c.batch_id").fetchall()
    stored = {identifier for identifier, *_ in rows}
    problems += [f"accepted but not stored: {i}" for i in soak.accepted - stored]
    problems += [f"still pending: {i}" for i, status, _, _ in rows if status == "pending"]
    done = [r for r in rows if r[1] != "pending"]
    snapshot = reader.snapshot(roots={bytes.fromhex(r[3]) for r in done},
                               leaves=[(AGENCY[0], bytes.fromhex(r[2])) for r in done])
    for identifier, status, leaf, root in done:
        if snapshot.anchors.get(bytes.fromhex(root)) is None:
            problems.append(f"not anchored on chain: {identifier}")
        chain = snapshot.statuses[(AGENCY[0], bytes.fromhex(leaf))].status.name.lower()
        if chain != status:
            problems.append(f"{identifier}: database {status}, chain {chain}")
    return problems


def wait_anchored(soak: Soak, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with sqlite3.connect(soak.home / "zhengyin.sqlite3") as raw:
            pending = raw.execute(
                "SELECT count(*) FROM certificates WHERE status = 'pending'").fetchone()[0]
        if not pending:
            return
        time.sleep(0.5)
    raise RuntimeError("certificates still pending")


# ---- scenarios: each returns (event time, repairs) ----


def kill_anvil(soak: Soak, rng: random.Random) -> tuple[float, Counter[str]]:
    repairs: Counter[str] = Counter()
    time.sleep(rng.uniform(0, 1.5))
    info = soak.node().running()
    assert info is not None
    os.kill(info.pid, signal.SIGKILL)
    event = time.monotonic()
    time.sleep(BOUND + 1.0)
    up = soak.cli("devnet", "up")
    if "state_restored" in up.stderr:
        repairs["state restored from a kept dump"] += 1
    return event, repairs


def stop_anvil(soak: Soak, rng: random.Random) -> tuple[float, Counter[str]]:
    info = soak.node().running()
    assert info is not None
    os.kill(info.pid, signal.SIGSTOP)
    event = time.monotonic()
    time.sleep(rng.uniform(2, 5))
    os.kill(info.pid, signal.SIGCONT)
    return event, Counter()


def rollback(soak: Soak, rng: random.Random) -> tuple[float, Counter[str]]:
    node = soak.node()
    time.sleep(1.2)
    older = node.state_file.read_bytes()
    while not _whole(older):
        time.sleep(0.1)
        older = node.state_file.read_bytes()
    victim = soak.target(rng)
    answer = requests.post(f"{soak.url}/v1/certificates/{victim.identifier}/revoke",
                           json={"reason": "soak", "reason_code": 1}, headers=soak.h("issuer"),
                           timeout=60)
    answer.raise_for_status()
    _revoked.add(victim.identifier)
    soak.watch(f"回滚{rng.randrange(10**6)}")  # an anchor the rollback will take away
    time.sleep(rng.uniform(0, 1))
    event = time.monotonic()  # the chain is away, then back without its last blocks
    node.down()  # SIGTERM now (as `zhengyin devnet down` sends it)
    node.state_file.write_bytes(older)
    soak.cli("devnet", "up")
    # a revoke on chain at a block number the index had passed
    target = soak.target(rng)
    issuer_chain_client(soak.settings, AGENCY[0]).revoke(AGENCY[0], target.leaf, 3)
    _revoked.add(target.identifier)
    return event, Counter()


def hold_lock(soak: Soak, rng: random.Random) -> tuple[float, Counter[str]]:
    seconds = rng.choice([rng.uniform(3, 8), rng.uniform(31, 35)])
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with sqlite3.connect(soak.home / "zhengyin.sqlite3", timeout=60,
                             isolation_level=None) as raw:
            raw.execute("BEGIN IMMEDIATE")
            held.set()
            release.wait(seconds)
            raw.execute("COMMIT")

    target = soak.target(rng)
    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(30)
    issuer_chain_client(soak.settings, AGENCY[0]).revoke(AGENCY[0], target.leaf, 3)
    _revoked.add(target.identifier)
    event = time.monotonic()
    holder.join(60)
    return event, Counter({"database lock held over 30 s": int(seconds > 30)})


def kill_issue(soak: Soak, rng: random.Random) -> tuple[float, Counter[str]]:
    rows = soak.home / "soak-rows.json"
    rows.write_text(json.dumps([request(f"批{n}") for n in range(3000)], ensure_ascii=False))
    before = _count(soak)
    issuing = subprocess.Popen([ZHENGYIN, "issue", "--issuer", AGENCY[0], "--input", str(rows),
                                "--json"], env=soak.env, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL)
    time.sleep(rng.uniform(0.3, 4.0))
    children = _children(issuing.pid)
    issuing.kill()
    out = issuing.communicate(timeout=60)[0]
    event = time.monotonic()
    try:
        soak.accepted |= {a["identifier"] for a in json.loads(out)["accepted"]}
    except ValueError:
        pass  # killed before (or while) it reported: the count below says what was stored
    time.sleep(1.0)
    survivors = [c for c in children if Path(f"/proc/{c}").exists() and _state(c) != "Z"]
    after = _count(soak)
    if survivors:
        raise RuntimeError(f"signing workers outlived `issue`: {survivors}")
    if after - before not in (0, 3000):
        raise RuntimeError(f"a killed issue stored {after - before} of 3000 certificates")
    return event, Counter({"killed issue: certificates stored whole": int(after > before)})


_revoked: set[str] = set()


def _whole(data: bytes) -> bool:
    try:
        return isinstance(json.loads(data), dict)
    except ValueError:
        return False


def _count(soak: Soak) -> int:
    with sqlite3.connect(soak.home / "zhengyin.sqlite3") as raw:
        return int(raw.execute("SELECT count(*) FROM certificates").fetchone()[0])


def _children(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    return found


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "X"


SCENARIOS = {"kill": kill_anvil, "stop": stop_anvil, "rollback": rollback, "lock": hold_lock,
             "kill-issue": kill_issue}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2, help="rounds of each scenario")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(10**6)
    rng = random.Random(seed)
    home = Path(tempfile.mkdtemp(prefix="zhengyin-soak-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHENGYIN_")}
    env |= {"ZHENGYIN_HOME": str(home), "ZHENGYIN_DEVNET_PORT": str(free_port()),
            "ZHENGYIN_PORT": str(port), "ZHENGYIN_WORKERS": "2"}
    soak = Soak(home, env, f"http://127.0.0.1:{port}", {})
    soak.cli("devnet", "up")
    soak.cli("deploy")
    soak.keys["issuer"] = json.loads(soak.cli("issuer", "add", "--code", AGENCY[0], "--name",
                                              AGENCY[1], "--json").stdout)["api_key"]
    soak.cli("issuer", "authorize", "--code", AGENCY[0], "--type", "11100000000013338W032")
    soak.keys["counter"] = json.loads(soak.cli("counter", "add", "窗口", "--json").stdout)[
        "api_key"]
    log = (home / "serve.log").open("wb")
    server = subprocess.Popen([ZHENGYIN, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    plan = [kind for kind in KINDS for _ in range(args.rounds)]
    rng.shuffle(plan)
    windows: dict[str, list[float]] = {kind: [] for kind in KINDS}
    repairs: Counter[str] = Counter()
    failures: list[str] = []
    recoveries: list[float] = []
    started = time.monotonic()
    prober = threading.Thread(target=probe, args=(soak,), daemon=True)
    try:
        soak.healthy(120)
        for n in range(6):
            soak.watch(f"观察{n}")
        prober.start()
        for kind in plan:
            try:
                event, made = SCENARIOS[kind](soak, rng)
                repairs += made
                recoveries.append(soak.healthy(120))
                wait_anchored(soak)
                time.sleep(BOUND + 1.0)  # answers after recovery are in the window too
                windows[kind].append(window(soak, event, time.monotonic()))
                problems = consistent(soak)
            except Exception as exc:  # the soak goes on; the failure is reported
                problems = [f"{type(exc).__name__}: {exc}"]
                if soak.node().running() is None:
                    soak.cli("devnet", "up", check=False)
            if problems:
                failures.append(f"after {kind}: {problems[:5]}")
            if len(soak.watched) > 12:  # keep the probe's round short
                with soak.lock:
                    del soak.watched[:4]
    finally:
        soak.stop_probe.set()
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        soak.cli("devnet", "down", check=False)
        log.close()
    repairs_seen = _repairs_from_log(home / "serve.log")
    shutil.rmtree(home, ignore_errors=True)
    every = [w for ws in windows.values() for w in ws]
    print(f"fault-injection soak (seed {seed}), {time.monotonic() - started:.0f} s, "
          f"real `zhengyin serve` (2 workers, SQLite) on anvil; bound "
          f"ZHENGYIN_MAX_STALENESS_SECONDS={BOUND:g}:")
    kinds = ", ".join(f"{k} x{len(v)}" for k, v in windows.items())
    print(f"  scenarios run: {len(plan)} ({kinds})")
    print(f"  verifications probed: {len(soak.answers)} "
          f"({Counter(v for _, _, v, _ in soak.answers)})")
    print(f"  stale-answer window: worst {max(every):.2f} s, median "
          f"{statistics.median(every):.2f} s")
    for kind, values in windows.items():
        if values:
            print(f"    {kind:<10} worst {max(values):.2f} s, "
                  f"median {statistics.median(values):.2f} s")
    print(f"  recovery to healthy: worst {max(recoveries):.1f} s, median "
          f"{statistics.median(recoveries):.1f} s")
    print(f"  repairs made and faults survived: {dict(+(repairs + repairs_seen)) or 'none'}")
    beyond = [w for w in every if w > BOUND + 0.5]
    print(f"  windows beyond the bound (+0.5 s): {len(beyond)}; accepted certificates lost or "
          f"database and chain apart after reconciliation: {len(failures)}")
    for failure in failures:
        print(f"    {failure}")
    if beyond or failures:
        sys.exit(1)


def _repairs_from_log(path: Path) -> Counter[str]:
    """What the service's one-line log says it repaired."""
    found: Counter[str] = Counter()
    for line in path.read_text(errors="replace").splitlines():
        if "anchor lost by the chain" in line:
            found["anchor sent again"] += 1
        elif "status reconciled" in line and "action=resent" in line:
            found["status change sent again"] += 1
        elif "status reconciled" in line and "action=database_updated" in line:
            found["database followed the chain"] += 1
        elif "index rewound" in line:
            found["index rewinds"] += 1
        elif "indexer catch-up failed" in line:
            found["indexer errors survived (logged, retried)"] += 1
    return found


if __name__ == "__main__":
    main()
