"""QR verification on a shared PostgreSQL index (issue #19): what one verification costs in
round trips to the server, and that reading less never lets a verification judge by an
index older than what another instance has indexed.

Real components: the run's devnet (a private one where the chain is rolled back) and a
throwaway PostgreSQL server. Round trips are counted by libpq itself (``PQtrace`` on each
pooled connection: one ``ReadyForQuery`` from the server ends each exchange)."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from certs import qr
from certs.batcher import Batcher
from certs.issuance import IssuerProfile, issue, key_id_of
from certs.status import change_status, load_record
from certs.store import Store, metadata
from chain.registry import RegistryClient
from seals.sm2 import KeySigner, generate_private_key
from tests.conftest import Issuer, mine, private_chain
from tests.postgres import postgres_server
from verifier.checks.certificates import verify_qr
from verifier.checks.verdict import Verdict
from verifier.index.indexer import Indexer

TODAY = dt.date(2026, 11, 28)
EXAMPLE_TYPE = "11100000000013338W032"
MAX_STALENESS = 60.0
"""Long enough for two busy cores: no test here waits for a confirmation to age."""


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture
def stores(postgres_url: str) -> Iterator[tuple[Store, Store]]:
    """Two instances' stores on one database: the elected indexer's and a follower's."""
    leader, follower = Store.open(postgres_url), Store.open(postgres_url)
    yield leader, follower
    follower.engine.dispose()
    with leader.engine.begin() as connection:
        metadata.drop_all(connection)
        connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    leader.engine.dispose()


def _instances(
    stores: tuple[Store, Store], registry: RegistryClient
) -> tuple[Indexer, Indexer]:
    """The elected indexer (its catch-ups confirm the index current) and a follower that
    only reads the shared index (as a service's other workers and instances do)."""
    reader = RegistryClient(registry.rpc, registry.deployment)
    leader = Indexer(stores[0], reader, max_staleness=MAX_STALENESS)
    follower = Indexer(stores[1], reader, max_staleness=MAX_STALENESS)
    follower.confirms = False
    return leader, follower


def _issue(
    store: Store, registry: RegistryClient, uscc: str, count: int
) -> tuple[list[str], list[str], KeySigner]:
    """``count`` certificates of ``uscc`` with a new key of its, anchored: their identifiers
    and QR payloads."""
    signer = KeySigner(generate_private_key())
    registry.add_key(uscc, key_id_of(signer.public_key), 0, None, signer.public_key.point)
    rows = [
        (n, {"type": EXAMPLE_TYPE, "issue_date": "2026-11-28", "jurisdiction": "360100",
             "holder": {"name": f"张{n}", "code": "11010519491231002X", "code_type": "111"}})
        for n in range(1, count + 1)
    ]
    report = issue(store, IssuerProfile(uscc, "机关", signer), rows, today=TODAY)
    assert not report.rejected
    Batcher(store, lambda _: registry).run_once()
    ids = [a.identifier for a in report.accepted]
    return ids, [qr.payload_for(load_record(store, i).document).encode() for i in ids], signer


def _verify(text: str, index: Indexer) -> Verdict:
    return verify_qr(text, index, today=TODAY)


def _statuses(verdict: Verdict) -> dict[str, str]:
    return {f.name: f.status.value for f in verdict.checks}


class RoundTrips:
    """Counts the exchanges with the server (libpq's ``ReadyForQuery``) on every connection
    of ``engine``'s pool checked out inside the ``with``."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.log = Path(tempfile.mkstemp(prefix="zhengyin-trace-")[1])
        self.traced: dict[int, tuple[Any, int]] = {}
        self.count = 0

    def _checkout(self, driver: Any, *_: Any) -> None:
        if id(driver) not in self.traced:
            fd = os.open(self.log, os.O_WRONLY | os.O_APPEND)
            driver.pgconn.trace(fd)
            driver.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)
            self.traced[id(driver)] = (driver, fd)

    def __enter__(self) -> RoundTrips:
        sa.event.listen(self.engine, "checkout", self._checkout)
        return self

    def __exit__(self, *_: object) -> None:
        sa.event.remove(self.engine, "checkout", self._checkout)
        for driver, fd in self.traced.values():
            driver.pgconn.untrace()  # flushes what libpq wrote
            os.close(fd)
        lines = self.log.read_text(errors="replace").splitlines()
        self.log.unlink()
        self.count = sum(
            1 for line in lines if line.startswith("B\t") and "\tReadyForQuery" in line
        )


def test_a_qr_verification_on_postgresql_is_two_round_trips(
    stores: tuple[Store, Store], issuer: Issuer
) -> None:
    """Was eight: each of the two reads (the index current? then the snapshot) took a pooled
    connection and sent BEGIN, the cursor, (the statuses, the generation again) and the
    pool's ROLLBACK, which also dropped psycopg's prepared statements. Now: the cursor with
    the confirmation, then the cursor with the confirmation and the leaf's status."""
    leader, follower = _instances(stores, issuer.registry)
    _, payloads, _ = _issue(stores[0], issuer.registry, issuer.uscc, 2)
    leader.catch_up()
    for _ in range(6):  # the caches filled; each statement prepared on its connection
        for text in payloads:
            assert _verify(text, follower).outcome.value == "valid"
    rounds = 10
    with RoundTrips(stores[1].engine) as counted:
        for _ in range(rounds):
            for text in payloads:
                assert _verify(text, follower).outcome.value == "valid"
    assert counted.count == 2 * rounds * len(payloads), counted.count


def test_what_another_instance_indexes_reaches_the_next_qr_verification(
    stores: tuple[Store, Store], issuer: Issuer
) -> None:
    """The follower answers from its caches and one statement a verification: a revocation
    and a compromise report the elected indexer indexed change its very next verdict."""
    leader, follower = _instances(stores, issuer.registry)
    ids, payloads, signer = _issue(stores[0], issuer.registry, issuer.uscc, 2)
    leader.catch_up()
    for text in payloads:  # anchors, keys, grants and names now cached in the follower
        assert _verify(text, follower).outcome.value == "valid"
        assert _verify(text, follower).outcome.value == "valid"

    change_status(stores[0], issuer.registry, issuer.uscc, ids[:1], "revoke", reason_code=1)
    leader.catch_up()
    verdict = _verify(payloads[0], follower)
    assert verdict.outcome.value == "invalid", verdict.to_json()
    assert _statuses(verdict)["certificate.status"] == "INVALID"
    assert _verify(payloads[1], follower).outcome.value == "valid"

    issuer.registry.report_key_compromised(
        issuer.uscc, key_id_of(signer.public_key), int(time.time()) + 3600
    )
    leader.catch_up()
    verdict = _verify(payloads[1], follower)
    assert verdict.outcome.value != "valid", verdict.to_json()
    assert _statuses(verdict)["issuer.key"] == "ERROR"


def test_a_rewind_another_instance_indexed_drops_the_followers_cached_anchor(
    stores: tuple[Store, Store], tmp_path: Path
) -> None:
    """The follower's snapshot no longer reads the cursor's generation a second time when
    everything else came from its cache: the cursor's statement itself must drop that
    cache once the elected indexer has rewound the index (and the anchor with it)."""
    with private_chain(tmp_path) as own:
        rpc, uscc = own.registry.rpc, own.uscc
        leader, follower = _instances(stores, own.registry)
        root, leaf = secrets.token_bytes(32), secrets.token_bytes(32)
        before = rpc.call("evm_snapshot")
        own.registry.anchor(uscc, root, 1)
        leader.catch_up()
        for _ in range(2):  # the second from the cache
            found = follower.snapshot(roots=[root], leaves=[(uscc, leaf)])
            assert found.anchors[root] is not None
        assert rpc.call("evm_revert", [before]) is True
        mine(rpc, 2)
        leader.catch_up()  # rewinds
        assert leader.rewinds == 1
        after = follower.snapshot(roots=[root], leaves=[(uscc, leaf)])
        assert after.anchors[root] is None
