"""Many instances, one truth (issue #19): three real `zhengyin serve` processes (one worker
each) on one PostgreSQL and one anvil.

One module-scoped cluster, scenarios in order (each leaves it with at least two instances):

- every instance answers verifications from the shared index: a revocation made through one
  is seen by all the moment its answer returns (never a stale ``valid``);
- a presentation code redeemed on two instances at once is used once;
- the batcher's leader is killed (kill -9) with a batch sent and not mined (the node's
  automine off): another instance takes the role, every certificate ends anchored, and every
  root is anchored exactly once (the chain's own ``RootAnchored`` events);
- the indexer's leader is paused (SIGSTOP): another instance stops answering ``valid``
  within the staleness bound, takes the role once the server ends the paused session, and
  answers ``valid`` again; the paused leader, resumed, gives the role up;
- the index is rebuilt from the chain as docs/deployment.md says, instances running.

Throughout, a watcher asks every live instance for the verdict of a valid and of a revoked
certificate: never ``invalid`` for the one, never ``valid`` for the other.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from chain.registry import RegistryClient
from chain.rpc import Rpc
from tests.conftest import free_port
from tests.postgres import postgres_server
from tests.verifier.test_cli_devnet import zhengyin_command
from tests.verifier.test_faults import AGENCY, BOUND, TYPE, payload_of, request, wait_for
from verifier.app.context import chain_rpc, deployment
from verifier.app.service.leader import (
    IDLE_SESSION_SECONDS,
    RETRY_SECONDS,
    AdvisoryLockElection,
    lock_key,
)
from verifier.settings import Settings

SLACK = 0.6
"""Allowance over the staleness bound (``BOUND``, the default 2 s) for a request in flight and
this machine's scheduling (three services and their node on two cores)."""


@dataclass
class Instance:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def health(self) -> dict[str, Any]:
        answer = requests.get(f"{self.url}/healthz", timeout=5)
        body: dict[str, Any] = answer.json()
        return body


@dataclass
class Cluster:
    home: Path
    env: dict[str, str]
    database: str
    keys: dict[str, str]
    instances: list[Instance]
    paused: set[str] = field(default_factory=set)

    def h(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    def live(self) -> list[Instance]:
        return [i for i in self.instances if i.alive and i.name not in self.paused]

    def leader(self, role: str) -> Instance:
        """The one live instance that holds ``role`` (waits for one)."""
        def holders() -> list[Instance]:
            return [i for i in self.live() if role in i.health().get("roles", [])]
        found = wait_for(holders, lambda h: len(h) == 1, 20, f"one {role} leader")
        return found[0]  # type: ignore[no-any-return]

    def issue(self, on: Instance, name: str) -> str:
        made = requests.post(f"{on.url}/v1/certificates", json=request(name),
                             headers=self.h("issuer"), timeout=30)
        assert made.status_code == 201, made.text
        return str(made.json()["identifier"])

    def record(self, on: Instance, identifier: str) -> dict[str, Any]:
        got = requests.get(f"{on.url}/v1/certificates/{identifier}", headers=self.h("issuer"),
                           timeout=30)
        assert got.status_code == 200, got.text
        body: dict[str, Any] = got.json()
        return body

    def active(self, on: Instance, identifier: str, seconds: float = 30) -> dict[str, Any]:
        body = wait_for(lambda: self.record(on, identifier), lambda b: b["status"] == "active",
                        seconds, f"{identifier} anchored")
        return body["document"]  # type: ignore[no-any-return]

    def verdict(self, on: Instance, payload: str, timeout: float = 30) -> str:
        """The verdict of a QR payload; a refusal to judge shows as ``http-<status>``."""
        answer = requests.post(f"{on.url}/v1/verify", json={"qr": payload},
                               headers=self.h("counter"), timeout=timeout)
        if answer.status_code != 200:
            assert answer.status_code == 503, answer.text
            return f"http-{answer.status_code}"
        return str(answer.json()["verdict"])

    def rpc(self) -> Rpc:
        return Rpc(f"http://127.0.0.1:{self.env['ZHENGYIN_DEVNET_PORT']}")


class Watcher:
    """Asks every live instance, over and over, the verdict of a valid and of a revoked
    certificate; records what contradicts the chain."""

    def __init__(self, cluster: Cluster, valid: str, revoked: str) -> None:
        self.cluster, self.valid, self.revoked = cluster, valid, revoked
        self.wrong: list[tuple[str, str, str]] = []
        self.seen: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for instance in self.cluster.live():
                for payload, never in ((self.valid, "invalid"), (self.revoked, "valid")):
                    try:
                        got = self.cluster.verdict(instance, payload, timeout=3)
                    except requests.RequestException:
                        continue  # an instance killed or paused meanwhile
                    self.seen[got] += 1
                    if got == never:
                        self.wrong.append((instance.name, payload[:20], got))
            self._stop.wait(0.1)

    def __enter__(self) -> Watcher:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(30)


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    run = subprocess.run([*zhengyin_command(), *args], env=env, capture_output=True, text=True,
                         timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    return run


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    base = tmp_path_factory.mktemp("instances")
    with postgres_server() as database:
        engine = sa.create_engine(database)
        with engine.begin() as connection:  # as docs/deployment.md advises
            connection.exec_driver_sql(
                "DO $$ BEGIN EXECUTE format('ALTER DATABASE %%I SET "
                "idle_in_transaction_session_timeout = ''5s''', current_database()); END $$"
            )
        engine.dispose()
        env = {k: v for k, v in os.environ.items() if not k.startswith("ZHENGYIN_")}
        env |= {"ZHENGYIN_HOME": str(base / "home"), "ZHENGYIN_DEVNET_PORT": str(free_port()),
                "ZHENGYIN_DATABASE_URL": database, "ZHENGYIN_WORKERS": "1",
                "ZHENGYIN_LOG_LEVEL": "INFO"}
        _cli(env, "devnet", "up")
        instances: list[Instance] = []
        try:
            _cli(env, "deploy")
            keys = {"issuer": json.loads(_cli(env, "issuer", "add", "--code", AGENCY[0],
                                              "--name", AGENCY[1], "--json").stdout)["api_key"]}
            _cli(env, "issuer", "authorize", "--code", AGENCY[0], "--type", TYPE)
            keys["counter"] = json.loads(
                _cli(env, "counter", "add", "一号窗口", "--json").stdout)["api_key"]
            for name in ("a", "b", "c"):
                port = free_port()
                log = base / f"serve-{name}.log"
                with log.open("wb") as out:
                    process = subprocess.Popen(
                        [*zhengyin_command(), "serve"], env={**env, "ZHENGYIN_PORT": str(port)},
                        stdout=out, stderr=subprocess.STDOUT,
                    )
                instances.append(Instance(name, f"http://127.0.0.1:{port}", process, log))
            made = Cluster(base / "home", env, database, keys, instances)
            for instance in instances:
                _wait_healthy(instance)
            yield made
        finally:
            running = [i.process for i in instances if i.process.poll() is None]
            for process in running:  # all at once: each stops within seconds
                os.kill(process.pid, signal.SIGCONT)
                process.terminate()
            for process in running:
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
            subprocess.run([*zhengyin_command(), "devnet", "down"], env=env,
                           capture_output=True, timeout=60, check=False)


def _wait_healthy(instance: Instance) -> None:
    wait_for(lambda: _status(instance), lambda s: s == 200, 90,
             f"instance {instance.name} healthy")


def _status(instance: Instance) -> int:
    if not instance.alive:
        raise AssertionError(f"instance {instance.name} exited: "
                             f"{instance.log.read_text(errors='replace')[-3000:]}")
    try:
        return requests.get(f"{instance.url}/healthz", timeout=2).status_code
    except requests.ConnectionError:
        return 0


def test_many_instances_one_truth(cluster: Cluster) -> None:
    a, b, c = cluster.instances
    for role in ("indexer", "batcher"):  # exactly one holder of each
        cluster.leader(role)

    # a valid and a revoked certificate, for the watcher
    valid_id, revoked_id = cluster.issue(a, "甲一"), cluster.issue(b, "乙二")
    valid = payload_of(cluster.active(c, valid_id))
    revoked = payload_of(cluster.active(a, revoked_id))
    for instance in cluster.instances:
        assert cluster.verdict(instance, valid) == "valid"
        assert cluster.verdict(instance, revoked) == "valid"
    changed = requests.post(f"{b.url}/v1/certificates/{revoked_id}/revoke",
                            json={"reason": "信息有误"}, headers=cluster.h("issuer"), timeout=30)
    assert changed.status_code == 200, changed.text
    # the shared index: what one instance indexed, every instance judges by at once
    for instance in cluster.instances:
        assert cluster.verdict(instance, revoked) == "invalid", instance.name

    with Watcher(cluster, valid, revoked) as watcher:
        _single_use_across_instances(cluster, valid_id)
        _batcher_killed_mid_batch(cluster)
        _indexer_paused(cluster, valid)
        _index_rebuilt(cluster, valid, revoked)
    assert watcher.wrong == [], watcher.wrong
    assert watcher.seen["valid"] > 0 and watcher.seen["invalid"] > 0, watcher.seen


def _single_use_across_instances(cluster: Cluster, identifier: str) -> None:
    a, b, c = cluster.instances
    for attempt in range(4):
        made = requests.post(f"{a.url}/v1/presentations",
                             json={"certificate": identifier, "purpose": f"核验{attempt}"},
                             headers=cluster.h("issuer"), timeout=30)
        assert made.status_code == 201, made.text
        code = made.json()["code"]
        start = threading.Barrier(2)
        answers: list[requests.Response] = []

        def redeem(on: Instance, code: str = code, start: threading.Barrier = start,
                   answers: list[requests.Response] = answers) -> None:
            start.wait()
            answers.append(requests.post(f"{on.url}/v1/presentations/redeem",
                                         json={"code": code}, headers=cluster.h("counter"),
                                         timeout=30))

        threads = [threading.Thread(target=redeem, args=(on,)) for on in (b, c)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        codes = sorted(r.status_code for r in answers)
        assert codes == [200, 410], [r.text for r in answers]
        used = next(r for r in answers if r.status_code == 410)
        assert used.json()["error"] == "presentation_used"
        assert next(r for r in answers if r.status_code == 200).json()["verdict"] == "valid"


def _batcher_killed_mid_batch(cluster: Cluster) -> None:
    leader = cluster.leader("batcher")
    via = next(i for i in cluster.live() if i is not leader)
    engine = sa.create_engine(cluster.database)
    rpc = cluster.rpc()
    rpc.call("evm_setAutomine", [False])
    try:
        identifiers = [cluster.issue(via, f"丙{n}") for n in range(3)]
        with engine.connect() as connection:
            wait_for(
                lambda: connection.execute(sa.text(
                    "SELECT count(*) FROM batches WHERE state = 'sent'")).scalar_one(),
                lambda n: n >= 1, 20, "a batch sent (and, automine off, not mined)")
            connection.rollback()
        leader.process.kill()  # kill -9: its session ends, the server releases its locks
        leader.process.wait(10)
        time.sleep(RETRY_SECONDS + 0.5)  # a successor may send the anchor again meanwhile
    finally:
        rpc.call("evm_setAutomine", [True])
        rpc.call("evm_mine", [])
    successor = cluster.leader("batcher")
    assert successor is not leader
    for identifier in identifiers:
        cluster.active(via, identifier)
    settings = Settings(home=cluster.home, devnet_port=int(cluster.env["ZHENGYIN_DEVNET_PORT"]),
                        database_url=cluster.database)
    chain = chain_rpc(settings)
    events = RegistryClient(chain, deployment(settings, chain)).events()
    anchored = Counter(e.args["root"].hex() for e in events if e.name == "RootAnchored")
    assert anchored and max(anchored.values()) == 1, anchored  # no root anchored twice
    anchoring = {e.args["root"].hex(): e.tx_hash for e in events if e.name == "RootAnchored"}
    with engine.connect() as connection:
        rows = connection.execute(sa.text(
            "SELECT b.root, b.state, count(c.identifier) FROM batches b"
            " JOIN certificates c ON c.batch_id = b.id GROUP BY b.root, b.state")).all()
        recorded: dict[str, str] = {
            str(r[0]): str(r[1])
            for r in connection.execute(sa.text("SELECT root, tx_hash FROM batches"))
        }
        statuses: dict[str, int] = {
            str(r[0]): int(r[1]) for r in connection.execute(sa.text(
                "SELECT status, count(*) FROM certificates GROUP BY status"))
        }
    engine.dispose()
    assert {state for _, state, _ in rows} == {"anchored"}, rows
    assert {root for root, _, _ in rows} == set(anchored), (rows, anchored)
    assert recorded == anchoring  # each batch names the transaction that anchored it
    assert statuses.get("pending", 0) == 0, statuses


def _indexer_paused(cluster: Cluster, valid: str) -> None:
    leader = cluster.leader("indexer")
    others = [i for i in cluster.live() if i is not leader]
    assert others
    watched = others[0]
    assert cluster.verdict(watched, valid) == "valid"
    os.kill(leader.process.pid, signal.SIGSTOP)
    cluster.paused.add(leader.name)
    paused = time.monotonic()
    try:
        seen: list[tuple[float, str]] = []
        while time.monotonic() - paused < BOUND + SLACK + 1.0:
            seen.append((time.monotonic() - paused, cluster.verdict(watched, valid)))
            time.sleep(0.05)
        late = [(t, v) for t, v in seen if t > BOUND + SLACK and v == "valid"]
        assert not late, f"valid from a stale index: {seen}"
        assert any(v != "valid" for _, v in seen), seen
        assert _status(watched) == 503
        # the server ends the paused leader's idle session; a follower takes the role
        successor = cluster.leader("indexer")
        taken = time.monotonic() - paused
        assert successor is not leader
        assert taken <= IDLE_SESSION_SECONDS + RETRY_SECONDS + 5, taken
        wait_for(lambda: cluster.verdict(watched, valid), lambda v: v == "valid", 10,
                 "valid again under the new indexer")
    finally:
        os.kill(leader.process.pid, signal.SIGCONT)
        cluster.paused.discard(leader.name)
    # resumed, the old leader finds its session gone and gives the role up
    wait_for(lambda: leader.health().get("roles", []), lambda r: "indexer" not in r, 10,
             "the resumed leader no longer claims the indexer")
    # logged once its work has stopped (the election thread joins it first: up to 10 s)
    wait_for(lambda: "leadership lost role=indexer" in leader.log.read_text(errors="replace"),
             bool, 15, "the resumed leader logs the role lost")
    holders = [i.name for i in cluster.live() if "indexer" in i.health().get("roles", [])]
    assert len(holders) == 1, holders


REBUILD = """
DELETE FROM chain_events; DELETE FROM chain_anchors; DELETE FROM chain_status;
DELETE FROM chain_keys; DELETE FROM chain_checkpoints;
UPDATE chain_cursor SET block = 0, block_hash = NULL, generation = generation + 1,
       head = NULL, confirmed_block = NULL, confirmed_at = NULL WHERE id = 1;
"""


def _index_rebuilt(cluster: Cluster, valid: str, revoked: str) -> None:
    """The SQL of docs/deployment.md ("Rebuilding the index from the chain"), kept equal."""
    page = (Path(__file__).resolve().parents[2] / "docs" / "deployment.md").read_text()
    assert " ".join(REBUILD.split()) in " ".join(page.split())
    engine = sa.create_engine(cluster.database)
    with engine.begin() as connection:
        connection.exec_driver_sql(REBUILD)
    engine.dispose()
    for instance in cluster.live():
        def both(on: Instance = instance) -> tuple[str, str]:
            return cluster.verdict(on, valid), cluster.verdict(on, revoked)

        wait_for(both, lambda v: v == ("valid", "invalid"), 20, f"{instance.name} judges again")


def test_an_election_follows_the_lock_holders_session(cluster: Cluster) -> None:
    """The election alone, on the cluster's database (a role of its own): one holder; its
    session ended by the server (as for a leader killed or paused too long) loses the role
    at its next check and lets another take it; a released role is free at once."""
    engine = sa.create_engine(cluster.database)
    first, second = (AdvisoryLockElection("election-test", engine) for _ in range(2))
    try:
        assert first.try_acquire() and first.leading() and first.check()
        assert not second.try_acquire() and not second.leading()
        with engine.begin() as connection:
            ended = connection.execute(sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'"
                " AND granted AND classid::bigint = :high AND objid::bigint = :low"),
                {"high": (first.key >> 32) & 0xFFFFFFFF, "low": first.key & 0xFFFFFFFF},
            ).scalars().all()
        assert ended == [True]
        wait_for(second.try_acquire, bool, 5, "the role free once its holder's session ended")
        assert not first.check() and not first.leading()
        assert not first.try_acquire()
        second.release()
        assert first.try_acquire()
    finally:
        first.release()
        second.release()
        engine.dispose()
    assert lock_key("indexer") != lock_key("batcher")
    assert all(-(1 << 63) <= lock_key(role) < 1 << 63 for role in ("indexer", "batcher"))
