"""Fault injection against a real service (issue #15): a real `zhengyin serve` with two
worker processes, a real anvil started by `zhengyin devnet up`, SQLite.

Each scenario breaks something the way it breaks in operation — the node stopped (SIGSTOP)
or killed (kill -9), the devnet rolled back to an older state (stopped, an older state file
copied over state.json, started again: its head goes back and its next blocks differ), a
database table gone under the indexer, a database lock held, the devnet stopped by the
operator — and checks what a user relies on: no verdict contradicts the chain for longer
than the stated bound (``ZHENGYIN_MAX_STALENESS_SECONDS``, 2 s), nothing accepted is lost,
and the database and the chain agree once reconciled. One service serves the module; each
test leaves it healthy.

bench/faults.py repeats these at random moments for longer and prints the figures.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from fastapi.testclient import TestClient

from certs import qr
from certs.canonical import CertificateDocument
from certs.store import Store
from chain.registry import ChainStatus, RegistryClient
from chain.rpc import Rpc
from devnet.anvil import Devnet
from devnet.deploy import DeploymentRecord
from tests.conftest import free_port
from tests.verifier.browser import wait_healthy
from tests.verifier.test_cli_devnet import zhengyin_command
from verifier.api.app import create_app
from verifier.app.agency import hash_api_key, issuer_chain_client
from verifier.settings import Settings

AGENCY = ("91110000101623741K", "示例市市场监督管理局")
OTHER = ("91360100MA35ABCD1R", "示例市行政审批局")
TYPE = "11100000000013338W032"
BOUND = 2.0
"""ZHENGYIN_MAX_STALENESS_SECONDS of the service under test (the default)."""
SLACK = 0.4
"""Allowance over the bound for a request in flight and this machine's scheduling."""


def request(name: str) -> dict[str, Any]:
    return {"type": TYPE, "jurisdiction": "360100",
            "holder": {"name": name, "code": "11010519491231002X", "code_type": "111"}}


@dataclass
class Served:
    home: Path
    env: dict[str, str]
    url: str
    keys: dict[str, str]
    server: subprocess.Popen[bytes]
    log: Path
    measured: dict[str, float] = field(default_factory=dict)
    answers: list[tuple[str, str]] = field(default_factory=list)
    """Every (payload, verdict) this module asked for."""

    @property
    def settings(self) -> Settings:
        return Settings(home=self.home, devnet_port=int(self.env["ZHENGYIN_DEVNET_PORT"]))

    @property
    def database(self) -> Path:
        return self.home / "zhengyin.sqlite3"

    def cli(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*zhengyin_command(), *args], env={**self.env, **(env or {})},
                              capture_output=True, text=True, timeout=120, check=False)

    def h(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    def issue(self, name: str, who: str = "issuer") -> str:
        made = requests.post(f"{self.url}/v1/certificates", json=request(name),
                             headers=self.h(who), timeout=30)
        assert made.status_code == 201, made.text
        return str(made.json()["identifier"])

    def record(self, identifier: str, who: str = "issuer") -> dict[str, Any]:
        got = requests.get(f"{self.url}/v1/certificates/{identifier}", headers=self.h(who),
                           timeout=30)
        assert got.status_code == 200, got.text
        body: dict[str, Any] = got.json()
        return body

    def active(self, identifier: str, who: str = "issuer", seconds: float = 20) -> dict[str, Any]:
        """The certificate's document once anchored."""
        body = wait_for(lambda: self.record(identifier, who), lambda b: b["status"] == "active",
                        seconds, f"{identifier} anchored")
        return body["document"]  # type: ignore[no-any-return]

    def verdict(self, payload: str) -> str:
        """The service's verdict on a QR payload; an HTTP error shows as ``http-<status>``
        (a "could not decide", never a verdict)."""
        answer = requests.post(f"{self.url}/v1/verify", json={"qr": payload},
                               headers=self.h("counter"), timeout=30)
        if answer.status_code != 200:
            assert answer.status_code == 503, answer.text
            verdict = f"http-{answer.status_code}"
        else:
            verdict = str(answer.json()["verdict"])
        self.answers.append((payload, verdict))
        return verdict

    def settled(self, payload: str, verdict: str) -> None:
        """The service says ``verdict`` of ``payload`` (within the staleness bound of the
        change that made it so)."""
        wait_for(lambda: self.verdict(payload), lambda v: v == verdict, BOUND + SLACK,
                 f"verdict {verdict}")

    def health(self) -> requests.Response:
        return requests.get(f"{self.url}/healthz", timeout=10)

    def node(self) -> Devnet:
        return Devnet(self.home)

    def registry(self) -> RegistryClient:
        """The agency's own account on the chain (not through the service)."""
        return issuer_chain_client(self.settings, AGENCY[0])

    def lines(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines()


def wait_for(
    get: Callable[[], Any], done: Callable[[Any], bool], seconds: float, what: str
) -> Any:
    deadline = time.monotonic() + seconds
    value = None
    while time.monotonic() < deadline:
        value = get()
        if done(value):
            return value
        time.sleep(0.1)
    raise AssertionError(f"not within {seconds} s: {what} (last: {value})")


def payload_of(document: dict[str, Any]) -> str:
    return qr.payload_for(CertificateDocument.from_json(json.dumps(document))).encode()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    home = tmp_path_factory.mktemp("faults")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHENGYIN_")}
    env |= {"ZHENGYIN_HOME": str(home / "home"), "ZHENGYIN_DEVNET_PORT": str(free_port()),
            "ZHENGYIN_PORT": str(port), "ZHENGYIN_WORKERS": "2", "ZHENGYIN_LOG_LEVEL": "INFO"}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        run = subprocess.run([*zhengyin_command(), *args], env=env, capture_output=True,
                             text=True, timeout=120, check=False)
        assert run.returncode == 0, run.stderr
        return run

    cli("devnet", "up")
    server: subprocess.Popen[bytes] | None = None
    log = home / "serve.log"
    try:
        cli("deploy")
        keys = {
            name: json.loads(
                cli("issuer", "add", "--code", code, "--name", title, "--json").stdout
            )["api_key"]
            for name, (code, title) in (("issuer", AGENCY), ("other", OTHER))
        }
        for code, _ in (AGENCY, OTHER):
            cli("issuer", "authorize", "--code", code, "--type", TYPE)
        keys["counter"] = json.loads(cli("counter", "add", "一号窗口", "--json").stdout)[
            "api_key"
        ]
        with log.open("wb") as out:
            server = subprocess.Popen([*zhengyin_command(), "serve"], env=env, stdout=out,
                                      stderr=subprocess.STDOUT)
        service = Served(home / "home", env, f"http://127.0.0.1:{port}", keys, server, log)
        wait_healthy(service.url, service.server)  # type: ignore[arg-type]
        yield service
        if service.measured:
            print("\nfault windows measured (s):", service.measured)
    finally:  # whatever failed: no service, no devnet left behind
        if server is not None:
            server.terminate()
            server.wait(30)
        subprocess.run([*zhengyin_command(), "devnet", "down"], env=env, capture_output=True,
                       timeout=60, check=False)


@pytest.fixture(autouse=True)
def leaves_it_healthy(served: Served) -> Iterator[None]:
    """Each test leaves the service healthy: its index caught up with the chain again (a
    test that ends as soon as its own certificate is anchored may leave the index a few
    blocks behind, and the next test's issuance would be refused as `indexer_lagging`)."""
    yield
    wait_healthy(served.url, served.server, seconds=60)  # type: ignore[arg-type]
    # Two workers each judge their own freshness: several healthy answers in a row.
    wait_for(lambda: [served.health().status_code for _ in range(6)],
             lambda codes: set(codes) == {200}, 60, "every worker healthy")


def test_the_indexer_survives_an_error_that_is_not_the_chains(served: Served) -> None:
    """Issue #15 items 1 and 9: a database error (here: the event tables gone from under
    the service) killed the indexer thread, after which the service answered `valid` for a
    certificate the chain had revoked, and `/healthz` said ok; the event log's writer
    dropped the 'verified' events it could not write, silently. Now every error is logged on
    one line, counted and retried; while it lasts the verdict is `error` and `/healthz` says
    why; afterwards the index catches up and the queued events are written."""
    identifier = served.issue("赵一")
    document = served.active(identifier)
    payload = payload_of(document)
    served.settled(payload, "valid")
    for _ in range(6):  # both workers have judged it (and know the agency's name)
        assert served.verdict(payload) == "valid"
    with sqlite3.connect(served.database, timeout=30) as raw:
        raw.execute("ALTER TABLE chain_events RENAME TO chain_events_away")
        raw.execute("ALTER TABLE service_events RENAME TO service_events_away")
    try:
        leaf = CertificateDocument.from_json(json.dumps(document)).leaf
        served.registry().revoke(AGENCY[0], leaf, 1)  # on chain, not through the service
        mined = time.monotonic()
        seen = []
        while time.monotonic() - mined < BOUND + SLACK + 1.0:
            seen.append((time.monotonic() - mined, served.verdict(payload)))
            time.sleep(0.05)
        # `valid` (the index as last confirmed) for at most the bound; then `error`
        assert "invalid" not in {v for _, v in seen}, seen
        assert {v for t, v in seen if t > BOUND + SLACK} <= {"error", "http-503"}, seen
        served.measured["database error: last valid after"] = round(
            max((t for t, v in seen if v == "valid"), default=0.0), 2)
        health = served.health()
        assert health.status_code == 503 and health.json()["indexer"]["healthy"] is False
        assert "database" in (health.json()["indexer"]["error"] or "")
    finally:
        with sqlite3.connect(served.database, timeout=30) as raw:
            raw.execute("ALTER TABLE chain_events_away RENAME TO chain_events")
            raw.execute("ALTER TABLE service_events_away RENAME TO service_events")
    wait_for(lambda: served.verdict(payload), lambda v: v == "invalid", 15,
             "the revocation indexed once the database is back")
    for _ in range(4):  # each worker (its indexer retried within the 2 s back-off)
        wait_for(lambda: served.health().status_code, lambda s: s == 200, 10, "healthy again")
    metrics = requests.get(f"{served.url}/metrics", timeout=10).text
    assert 'zhengyin_background_errors_total{code="database_unavailable",loop="indexer"}' in (
        metrics
    ) or 'zhengyin_background_errors_total{code="database_unavailable",loop="event_log"}' in (
        metrics
    ), metrics
    lines = served.lines()
    failed = [line for line in lines if "indexer catch-up failed" in line]
    assert any("exc=StoreError code=database_unavailable" in line for line in failed), failed
    assert any("event log flush failed" in line for line in lines)
    # the 'verified' events queued while their table was away are all written
    judged = sum(p == payload and not v.startswith("http-") for p, v in served.answers)
    wait_for(
        lambda: requests.get(f"{served.url}/v1/certificates/{identifier}/history",
                             params={"limit": 1000},  # one page (the default is 100 events)
                             headers=served.h("issuer"), timeout=10).json(),
        lambda h: h["next_cursor"] is None
        and sum(e["event"] == "verified" for e in h["events"]) == judged,
        10,
        f"all {judged} verifications logged")


def test_a_held_database_lock_delays_but_loses_nothing(served: Served) -> None:
    """A long write transaction on the SQLite database (as a very large issue holds it):
    issuing waits for it and every accepted certificate is anchored afterwards; a
    verification meanwhile is never `invalid` for a certificate the chain has as valid."""
    payload = payload_of(served.active(served.issue("钱二")))
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with sqlite3.connect(served.database, timeout=30, isolation_level=None) as raw:
            raw.execute("BEGIN IMMEDIATE")
            held.set()
            release.wait(10)
            raw.execute("COMMIT")

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(10)
    try:
        issued: list[str] = []
        issuing = threading.Thread(target=lambda: issued.extend(
            served.issue(f"孙{n}") for n in range(2)))
        issuing.start()
        verdicts = [served.verdict(payload) for _ in range(10)]
        assert set(verdicts) <= {"valid", "error"}, verdicts
        time.sleep(1.0)
    finally:
        release.set()
        holder.join(15)
    issuing.join(60)
    assert len(issued) == 2
    for identifier in issued:
        served.active(identifier)


def _outage(served: Served, payload: str, stop: Callable[[], None], label: str) -> None:
    """Verdicts every 50 ms for a while after ``stop()``: the last `valid` comes within the
    bound, and `error` from then on (never `invalid`)."""
    served.settled(payload, "valid")
    stopped = time.monotonic()
    stop()
    seen: list[tuple[float, str]] = []
    health = None
    while time.monotonic() - stopped < BOUND + 1.0:
        seen.append((time.monotonic() - stopped, served.verdict(payload)))
        if health is None and time.monotonic() - stopped > BOUND + SLACK:
            health = served.health()
        time.sleep(0.05)
    valid = [t for t, v in seen if v == "valid"]
    last_valid = max(valid, default=0.0)
    served.measured[f"{label}: last valid after"] = round(last_valid, 2)
    assert last_valid <= BOUND + SLACK, seen
    assert {v for t, v in seen if t > BOUND + SLACK} == {"error"}, seen
    assert "invalid" not in {v for _, v in seen}
    assert health is not None and health.status_code == 503, health and health.text
    assert health.json()["indexer"]["lag_seconds"] is None or (
        health.json()["indexer"]["lag_seconds"] > BOUND
    )


def test_a_stopped_or_killed_node_gives_error_within_the_bound(served: Served) -> None:
    """Issue #15 item 7: after anvil was SIGSTOPped the service kept answering `valid` for
    ~9.5 s (`/healthz` ok at +5 s); after kill -9 for ~0.5 s. The bound is now stated and
    held: 2 s after the index was last confirmed current, verifications say `error`."""
    payload = payload_of(served.active(served.issue("周三")))
    pid = served.node().running().pid  # type: ignore[union-attr]
    _outage(served, payload, lambda: os.kill(pid, signal.SIGSTOP), "SIGSTOP")
    os.kill(pid, signal.SIGCONT)
    wait_for(lambda: served.verdict(payload), lambda v: v == "valid", 15, "back after SIGCONT")
    checked = requests.post(f"{served.url}/v1/verify", json={"qr": payload},
                            headers=served.h("counter"), timeout=10).json()
    anchored = next(c for c in checked["checks"] if c["name"] == "chain.anchored")
    assert checked["verdict"] == "valid" and "block" in checked["chain"]
    assert anchored["status"] == "VALID"
    # the answer says how far behind the chain its facts may be
    assert 0 <= checked["chain"]["lag_seconds"] <= BOUND and checked["chain"]["lag_blocks"] >= 0
    _outage(served, payload, lambda: os.kill(pid, signal.SIGKILL), "kill -9")
    assert served.cli("devnet", "status").returncode == 4
    assert served.cli("devnet", "up").returncode == 0
    wait_for(lambda: served.verdict(payload), lambda v: v == "valid", 15, "back after restart")


def _chain_status(registry: RegistryClient, document: dict[str, Any]) -> ChainStatus:
    leaf = CertificateDocument.from_json(json.dumps(document)).leaf
    return registry.status_of(AGENCY[0], leaf).status


@dataclass
class RolledBack:
    """The devnet restored from a state older than the last changes the service made."""

    documents: dict[str, dict[str, Any]]
    """By name: ``kept`` (anchored before the older state, untouched), ``revoked`` (revoked
    through the API after it: the chain lost the revoke), ``lost`` (anchored after it: the
    chain lost the anchor), ``other`` (anchored before, active)."""
    identifiers: dict[str, str]
    at: float
    registry: RegistryClient
    reused: tuple[int, int, float]
    """The revoke of ``kept`` made on chain right after the rollback: its block, the head
    the index had reached before the rollback, and when it was mined."""


@pytest.fixture(scope="module")
def rolled_back(served: Served) -> RolledBack:
    """Keep a copy of the devnet's state file; make changes through the service (a revoke, a
    new batch anchored); stop the devnet, copy the older state over state.json, start it:
    the chain's head goes back and its next blocks differ."""
    names = ("kept", "revoked", "other")
    identifiers = {name: served.issue(f"回滚{n}") for n, name in enumerate(names)}
    documents = {name: served.active(i) for name, i in identifiers.items()}
    node = served.node()
    anchored = max(int(d["anchor"]["block"]) for d in documents.values())
    older = wait_for(node.state_file.read_bytes, lambda data: _dumped_at(data) >= anchored, 10,
                     f"a whole state dump holding block {anchored}")
    revoked = requests.post(f"{served.url}/v1/certificates/{identifiers['revoked']}/revoke",
                            json={"reason": "信息有误", "reason_code": 1},
                            headers=served.h("issuer"), timeout=30)
    assert revoked.status_code == 200, revoked.text
    identifiers["lost"] = served.issue("回滚丢失")
    documents["lost"] = served.active(identifiers["lost"])
    assert served.verdict(payload_of(documents["revoked"])) == "invalid"
    registry = served.registry()
    registry.rpc.call("anvil_mine", ["0x5"])  # more blocks the rollback will take away
    head = registry.block_number()
    wait_for(lambda: served.health().json()["indexer"]["block"], lambda b: b >= head, 10,
             "the index at the head before the rollback")
    assert served.cli("devnet", "down").returncode == 0
    node.state_file.write_bytes(older)  # the rollback
    assert served.cli("devnet", "up").returncode == 0
    rolled_back = time.monotonic()
    registry = served.registry()
    # at once, on chain (not through the service): a revoke at a block number the index
    # had already passed before the rollback
    receipt = registry.revoke(AGENCY[0], _leaf(documents["kept"]), 3)
    return RolledBack(documents, identifiers, rolled_back, registry,
                      (receipt.block_number, head, time.monotonic()))


def _dumped_at(data: bytes) -> int:
    """The head block of a complete state dump (anvil rewrites the file in place every
    second: a read may catch it half written); -1 if incomplete."""
    try:
        return int(json.loads(data)["best_block_number"])
    except (ValueError, KeyError, TypeError):
        return -1


def _leaf(document: dict[str, Any]) -> bytes:
    return CertificateDocument.from_json(json.dumps(document)).leaf


def test_rollback_a_revoke_at_a_reused_block_number_is_indexed(
    served: Served, rolled_back: RolledBack
) -> None:
    """Issue #15 item 2: after the rollback, a revoke mined at a block number the index had
    already passed was never indexed: `valid` for a revoked certificate, indefinitely, with
    `/healthz` ok. The index cursor is (number, hash): the changed block is seen, the index
    rewinds and re-derives, and the revoke shows within the bound."""
    document = rolled_back.documents["kept"]
    block, passed, mined = rolled_back.reused
    assert block <= passed  # a number the index had passed
    wait_for(lambda: served.verdict(payload_of(document)), lambda v: v == "invalid",
             BOUND + SLACK + 1.0, f"the revoke in block {block} indexed")
    served.measured["rollback: revoke at a reused block number shown after"] = round(
        time.monotonic() - mined, 2)
    assert any("index rewound" in line for line in served.lines())


def test_rollback_an_anchor_the_chain_lost_is_anchored_again(
    served: Served, rolled_back: RolledBack
) -> None:
    """Issue #15 item 3: a batch whose anchor the chain lost stayed `anchored`, and its
    certificates verified `invalid` for ever. The batcher reads recent anchors back from
    the chain, sends the lost one again, and the certificate is `valid` again — never while
    the chain lacks the anchor."""
    document = rolled_back.documents["lost"]
    payload = payload_of(document)
    root = CertificateDocument.from_json(json.dumps(document)).anchor.root  # type: ignore[union-attr]
    contradictions = []
    while True:
        verdict = served.verdict(payload)
        on_chain = rolled_back.registry.anchor_of(root)
        if verdict == "valid" and on_chain is None:
            contradictions.append(time.monotonic() - rolled_back.at)
        if verdict == "valid" and on_chain is not None:
            break
        assert time.monotonic() - rolled_back.at < 30, "the lost anchor was not sent again"
        time.sleep(0.1)
    assert contradictions == []
    served.measured["rollback: lost anchor valid again after"] = round(
        time.monotonic() - rolled_back.at, 2)


def test_rollback_a_revoke_the_chain_lost_is_sent_again(
    served: Served, rolled_back: RolledBack
) -> None:
    """Issue #15 item 2: a revoke lost in the rollback stayed `revoked` in the database
    while the chain said active (and revoking again was refused). The reconciler finds the
    disagreement, sees the chain no longer has the revoke's transaction, and sends it
    again: the issuer's accepted request is not lost."""
    identifier, document = rolled_back.identifiers["revoked"], rolled_back.documents["revoked"]
    wait_for(lambda: rolled_back.registry.status_of(AGENCY[0], _leaf(document)).status,
             lambda s: s is ChainStatus.REVOKED, 30, "the lost revoke sent again")
    wait_for(lambda: served.verdict(payload_of(document)), lambda v: v == "invalid", 10,
             "the resent revoke indexed")
    with sqlite3.connect(served.database) as raw:
        notes = [n for (n,) in raw.execute(
            "SELECT note FROM status_changes WHERE identifier = ? ORDER BY id", (identifier,))]
    assert notes[0] is None and notes[-1].startswith("resent: "), notes


def test_rollback_nonces_resync_and_requests_go_through(
    served: Served, rolled_back: RolledBack
) -> None:
    """Issue #15 item 4: after the rollback the service's nonces ran ahead of the account:
    new anchors sat unmined for minutes and an API revoke failed after 120 s (and was mined
    later: chain revoked, database active). Both now go through in seconds; afterwards
    `zhengyin reconcile` finds database and chain in agreement."""
    identifier = rolled_back.identifiers["other"]
    started = time.monotonic()
    answer = requests.post(f"{served.url}/v1/certificates/{identifier}/revoke",
                           json={"reason": "依法撤销", "reason_code": 3},
                           headers=served.h("issuer"), timeout=30)
    assert answer.status_code == 200, answer.text
    assert time.monotonic() - started < 10
    served.active(served.issue("回滚之后"))
    report = served.cli("reconcile", "--json", "--grace", "0")
    assert report.returncode == 0, report.stdout + report.stderr
    assert json.loads(report.stdout)["agree"] is True
    for name, document in rolled_back.documents.items():
        stored = served.record(rolled_back.identifiers[name])["status"]
        chain = rolled_back.registry.status_of(AGENCY[0], _leaf(document)).status
        assert stored == chain.name.lower(), name


def test_the_service_never_starts_the_chain(served: Served) -> None:
    """Issue #15 item 6: the running service restarted a devnet the operator had stopped
    (from whichever code path first needed the chain: here anchoring for an agency it had
    not anchored for yet). Now issuing accepts and queues while the devnet is down, nothing
    starts it, and `devnet status` exits non-zero; once the operator starts it, the queue
    is anchored."""
    assert served.cli("devnet", "down").returncode == 0
    identifier = served.issue("陈八", who="other")
    time.sleep(2)  # the batcher has tried to anchor, more than once
    assert served.node().running() is None
    assert served.cli("devnet", "status").returncode == 4
    assert served.health().status_code == 503
    assert served.record(identifier, who="other")["status"] == "pending"
    assert served.cli("devnet", "up").returncode == 0
    served.active(identifier, who="other", seconds=30)


class _TokenGateway(BaseHTTPRequestHandler):
    """A provider-style endpoint: JSON-RPC accepted only at a secret path with a token
    and basic credentials, passed on to the devnet."""

    upstream = ""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        if self.path != "/v1/secret-path?token=tok-123" or "Basic" not in self.headers.get(
            "authorization", ""
        ):
            self.send_response(403)
            self.end_headers()
            return
        answer = requests.post(self.upstream, data=body,
                               headers={"content-type": "application/json"}, timeout=10)
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    def log_message(self, *args: Any) -> None:
        pass


def test_credentials_in_the_rpc_url_are_never_shown(served: Served, tmp_path: Path) -> None:
    """Issue #15 item 9: the RPC URL (often carrying a provider's token) appeared in verdict
    reasons, error messages and the unauthenticated `/healthz`. Now only scheme, host and
    port are shown, wherever the endpoint is named."""
    info = served.node().running()
    assert info is not None
    _TokenGateway.upstream = info.url
    gateway = ThreadingHTTPServer(("127.0.0.1", 0), _TokenGateway)
    threading.Thread(target=gateway.serve_forever, daemon=True).start()
    port = gateway.server_address[1]
    url = f"http://user:secret-pw@127.0.0.1:{port}/v1/secret-path?token=tok-123"
    secrets_ = ("secret-pw", "user:", "secret-path", "tok-123")
    assert Rpc(url).call("eth_chainId") == hex(3005)
    settings = Settings(home=served.home, rpc_url=url,
                        database_url=f"sqlite:///{tmp_path / 'other.sqlite3'}")
    assert DeploymentRecord(served.home).load(3005) is not None
    Store.open(settings.database).add_api_key("counter", "二号窗口",
                                              hash_api_key(served.keys["counter"]))
    document = served.active(served.issue("卫九"))
    with TestClient(create_app(settings)) as client:
        wait_for(lambda: client.get("/healthz").status_code, lambda s: s == 200, 15,
                 "healthy through the gateway")
        gateway.shutdown()
        gateway.server_close()
        health = wait_for(lambda: client.get("/healthz"), lambda r: r.status_code == 503, 15,
                          "unhealthy once the gateway is gone")
        shown = health.text + client.get("/metrics").text
        verdict = client.post("/v1/verify", json={"certificate": document},
                              headers=served.h("counter"))
        shown += verdict.text
        assert verdict.json()["verdict"] == "error"
    path = tmp_path / "c.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    runs = [served.cli(*args, env={"ZHENGYIN_RPC_URL": url})
            for args in (("verify", str(path), "--json"), ("devnet", "status", "--json"),
                         ("history", str(path), "--from-chain"))]
    shown += "".join(run.stdout + run.stderr for run in runs)
    for secret in secrets_:
        assert secret not in shown, secret
    assert f"127.0.0.1:{port}" in health.text
    for run in runs:
        assert run.returncode != 0 and f"127.0.0.1:{port}" in run.stdout + run.stderr, run
