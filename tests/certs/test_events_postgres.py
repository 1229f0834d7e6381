"""The audit log on a real PostgreSQL server: its sequence is given in commit order (a
reader paging by sequence never skips an event that commits late), and the auditor's
query (``GET /v1/events``, ``zhengyin audit``) filters by agency, type, actor, role, kind
and period (北京时间 accepted)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from certs.events import Actor, event_row, write_events
from certs.store import Store, metadata
from tests.postgres import postgres_server
from verifier.app.service.auditing import BEIJING, EventFilter, audit_events, parse_time

AGENCY = "91110000101623741K"
OTHER = "91360100MA35ABCD1R"


@pytest.fixture(scope="module")
def store() -> Iterator[Store]:
    with postgres_server() as url:
        yield Store.open(url)


def _all(store: Store, wanted: EventFilter, after: int | None = None) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    while True:
        page, more = audit_events(store, wanted, after=after, limit=2)
        seen += page
        if not more:
            return seen
        after = page[-1]["seq"]


def test_the_migrated_schema_matches_the_declared_tables_on_postgres(store: Store) -> None:
    with store.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), metadata) == []


def test_a_reader_paging_by_sequence_never_skips_an_event_that_commits_late(
    store: Store,
) -> None:
    """A writer that took a sequence number and has not committed holds back every later
    writer (the advisory lock of certs.events): without it, a later writer's event (a
    higher id) commits first, a reader pages past it, and the first writer's event, lower
    id, committed afterwards, is never read."""
    wanted = EventFilter(identifier="late-commit")
    start = max([e["seq"] for e in _all(store, EventFilter())], default=None)
    first = store.engine.connect()
    transaction = first.begin()
    write_events(first, [event_row("verified", "counter:一号窗口", identifier="late-commit",
                                   detail={"n": 1})])
    second_done = threading.Event()

    def second() -> None:
        with store.transaction() as connection:
            write_events(connection, [event_row("verified", "counter:二号窗口",
                                                identifier="late-commit", detail={"n": 2})])
        second_done.set()

    writer = threading.Thread(target=second)
    writer.start()
    try:
        assert not second_done.wait(1.0)  # held back while the first is open
        seen = _all(store, wanted, start)  # a reader pages meanwhile: nothing yet
        assert seen == []
        transaction.commit()
    finally:
        first.close()
    writer.join(30)
    assert second_done.is_set()
    after = seen[-1]["seq"] if seen else start
    seen += _all(store, wanted, after)
    assert [e["detail"]["n"] for e in seen] == [1, 2]
    assert seen[0]["seq"] < seen[1]["seq"]


def test_many_writers_at_once_give_a_gapless_read(store: Store) -> None:
    """Writers in parallel while a reader follows the log by sequence: the reader sees
    every event once, in sequence."""
    wanted = EventFilter(identifier="parallel")
    start = max([e["seq"] for e in _all(store, EventFilter())], default=None)
    stop = threading.Event()
    read: list[dict[str, Any]] = []

    def reader() -> None:
        after = start
        while not stop.is_set():
            page, _ = audit_events(store, wanted, after=after, limit=50)
            read.extend(page)
            if page:
                after = page[-1]["seq"]
        read.extend(_all(store, wanted, after))

    def writer(k: int) -> None:
        for n in range(20):
            with store.transaction() as connection:
                write_events(connection, [event_row(
                    "verified", f"counter:{k}", identifier="parallel",
                    detail={"k": k, "n": n})])
                time.sleep(0.002 * ((k + n) % 3))  # commits in another order than taken

    following = threading.Thread(target=reader)
    following.start()
    writers = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for w in writers:
        w.start()
    for w in writers:
        w.join(60)
    stop.set()
    following.join(60)
    assert len(read) == 80 and len({e["seq"] for e in read}) == 80
    assert [e["seq"] for e in read] == sorted(e["seq"] for e in read)


def test_the_auditors_query_filters_on_postgres(store: Store) -> None:
    base = dt.datetime(2026, 12, 4, 1, 0, tzinfo=dt.UTC)  # 09:00 北京时间
    issuer = Actor("issuer", AGENCY)
    with store.transaction() as connection:
        write_events(connection, [
            event_row("issued", issuer, identifier="q-1", issuer=AGENCY,
                      type_code="11100000000013338W032", chain_block=5, created_at=base),
            event_row("verified", "counter:一号窗口", identifier="q-1", issuer=AGENCY,
                      type_code="11100000000013338W032",
                      created_at=base + dt.timedelta(hours=1), detail={"verdict": "valid"}),
            event_row("suspended", issuer, identifier="q-1", issuer=AGENCY,
                      type_code="11100000000013338W032", reason_code=7, reason="核查",
                      tx_hash="0x" + "ab" * 32, chain_block=9,
                      created_at=base + dt.timedelta(hours=2)),
            event_row("issued", Actor("issuer", OTHER), identifier="q-2", issuer=OTHER,
                      type_code="11100000MA0000001Q001", created_at=base),
            event_row("redeem_refused", "counter:一号窗口", created_at=base,
                      detail={"error": "presentation_unknown"}),
        ])

    def ids(**given: Any) -> list[str | None]:
        return [e["identifier"] for e in _all(store, EventFilter(**given))
                if e["identifier"] in ("q-1", "q-2", None)]

    assert ids(issuer=AGENCY) == ["q-1", "q-1", "q-1"]
    assert ids(type_code="11100000MA0000001Q001") == ["q-2"]
    assert ids(events=("issued",), issuer=OTHER) == ["q-2"]
    assert ids(actor="counter:一号窗口", events=("verified", "redeem_refused"),
               since=base - dt.timedelta(minutes=1)) == [
        "q-1", None]
    # a time without an offset is 北京时间: 09:30 there is 01:30 UTC
    assert ids(role="issuer", issuer=AGENCY,
               since=parse_time("2026-12-04 09:30", "from")) == ["q-1"]
    # the period's bounds: from inclusive, to exclusive, any offset
    assert ids(issuer=AGENCY, since=dt.datetime(2026, 12, 4, 10, 0, tzinfo=BEIJING),
               until=dt.datetime(2026, 12, 4, 11, 0, tzinfo=BEIJING)) == ["q-1"]
    suspended = _all(store, EventFilter(events=("suspended",), issuer=AGENCY))[0]
    assert (suspended["role"], suspended["reason_code"], suspended["reason_name"],
            suspended["reason"], suspended["chain_block"]) == ("issuer", 7, "核查中", "核查", 9)
    assert suspended["time"] == "2026-12-04T11:00:00+08:00"
    assert "chain" not in suspended  # its transaction is not in the index: nothing attached


def test_what_a_caller_sent_is_cut_to_fit(store: Store) -> None:
    """An identifier from a URL is any length: the event keeps its first 120 characters
    (a row PostgreSQL refused would stop the queue of events it waits in)."""
    long = "x" * 500
    with store.transaction() as connection:
        write_events(connection, [event_row("status_refused", "counter:" + "名" * 300,
                                            identifier=long, reason="a\x00b")])
    found = _all(store, EventFilter(identifier=long[:120]))
    assert len(found) == 1 and len(found[0]["actor"]) == 200
    assert found[0]["reason"] == "a\ufffdb"  # PostgreSQL's text takes no NUL
