"""On PostgreSQL, the queries the service runs on its certificate tables reach the rows they
need through an index, never by reading every certificate (a cost that grows with the table:
``bench/scale.py``, bench/PERFORMANCE.md "Scale").

The real code runs on a database holding tens of thousands of certificates (made in SQL,
then analyzed, as autovacuum would); every statement it sends is captured and PostgreSQL is
asked for its plan."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa

from certs import reconcile
from certs.batcher import Batcher
from certs.bulk_writes import analyze_if_grown
from certs.store import Store, metadata
from tests.postgres import postgres_server

ROWS = 20_000
ISSUER = "91360100MA35ABCD1R"
TYPE = "11100000000013338W032"
SCANNED = {"certificates", "certificate_documents"}
"""The tables that grow with every certificate issued: never read whole."""


@pytest.fixture(scope="module", params=["analyzed", "issued into a new database"])
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    """The tables just analyzed, or never analyzed (a new database, autovacuum not round
    yet) but for what issuance does after storing a request that doubled them."""
    with postgres_server() as url:
        opened = Store.open(url)
        with opened.engine.begin() as connection:
            for table in sorted(SCANNED):  # the statistics stay as this test leaves them
                connection.exec_driver_sql(
                    f"ALTER TABLE {table} SET (autovacuum_enabled = false)"
                )
            fill(connection, 1, ROWS + 50)
        if request.param == "analyzed":
            analyze(opened)
        else:
            assert analyze_if_grown(opened.engine, ROWS + 50)
        yield opened
        with opened.engine.begin() as connection:
            metadata.drop_all(connection)
            connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        opened.engine.dispose()


def analyze(store: Store) -> None:
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("ANALYZE")


def fill(connection: sa.Connection, first: int, last: int) -> None:
    """Certificates ``first`` to ``last`` of ``ROWS`` anchored ones in batches of 1,000, a
    few revoked, then 50 pending ones not yet batched (what the batcher picks up next). The
    planner weighs an index against reading the table by the table's size: the documents
    are as long as stored ones, the rows as wide."""
    if first == 1:
        connection.exec_driver_sql(
            "INSERT INTO batches (id, issuer, root, leaf_count, state, tx_hash, block_number, "
            "chain_id, contract, created_at) "
            f"SELECT b, '{ISSUER}', md5(b::text) || md5('r' || b), 1000, 'anchored', "
            "'0x' || md5(b::text) || md5('t' || b), b, 31337, "
            "'0x00000000000000000000000000000000000000aa', now() "
            f"FROM generate_series(1, {ROWS // 1000}) b"
        )
        connection.exec_driver_sql(f"SELECT setval('batches_id_seq', {ROWS // 1000})")
    connection.exec_driver_sql(
        "INSERT INTO certificates (identifier, issuer, type_code, serial, number, leaf, "
        "status, batch_id, batch_index, created_at) "
        f"SELECT 'ID-' || lpad(n::text, 9, '0'), '{ISSUER}', '{TYPE}', n, 'N-' || n, "
        "md5(n::text) || md5('l' || n), "
        f"CASE WHEN mod(n, 997) = 0 THEN 'revoked' WHEN n > {ROWS} THEN 'pending' "
        "ELSE 'active' END, "
        f"CASE WHEN n > {ROWS} THEN NULL ELSE (n - 1) / 1000 + 1 END, "
        f"CASE WHEN n > {ROWS} THEN NULL ELSE mod(n - 1, 1000) END, "
        "now() - make_interval(secs => 1e6 - n) "
        f"FROM generate_series({first}, {last}) n"
    )
    connection.exec_driver_sql(  # ~1.5 KB each, as stored (compressed) documents are
        "INSERT INTO certificate_documents (identifier, document) "
        "SELECT identifier, (SELECT string_agg(md5(serial || '.' || k), '') "
        "FROM generate_series(1, 48) k) FROM certificates "
        f"WHERE serial BETWEEN {first} AND {last}"
    )


@contextmanager
def captured(store: Store) -> Iterator[list[tuple[str, Any]]]:
    """The statements (and their parameters) sent through the engine meanwhile."""
    seen: list[tuple[str, Any]] = []

    def record(_c: Any, _cursor: Any, statement: str, parameters: Any, _ctx: Any,
               many: bool) -> None:
        if not many and statement.lstrip().split()[0].upper() in ("SELECT", "UPDATE",
                                                                  "DELETE", "INSERT"):
            seen.append((statement, parameters))

    sa.event.listen(store.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", record)


def assert_indexed(store: Store, statements: list[tuple[str, Any]]) -> None:
    scans = full_scans(store, statements)
    assert not scans, "read whole:\n\n" + "\n\n".join(scans)


def full_scans(store: Store, statements: list[tuple[str, Any]]) -> list[str]:
    """The statements whose plan reads a whole growing table, with that plan."""
    found = []
    with store.engine.connect() as connection:
        for statement, parameters in statements:
            plan = connection.exec_driver_sql(
                "EXPLAIN (FORMAT JSON) " + statement, parameters
            ).scalar_one()
            scanned = [
                node["Relation Name"]
                for node in _nodes(plan[0]["Plan"])
                if node["Node Type"] == "Seq Scan" and node.get("Relation Name") in SCANNED
            ]
            if scanned:
                text = "\n".join(
                    r[0] for r in connection.exec_driver_sql("EXPLAIN " + statement, parameters)
                )
                found.append(f"{statement}\n{text}")
    return found


def _nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", ()):
        yield from _nodes(child)


def test_the_batcher_reads_pending_certificates_by_index(store: Store) -> None:
    batcher = Batcher(store, lambda _: pytest.fail("no chain is read"))
    with captured(store) as statements:
        assert batcher._pending_count() == 50
        assert batcher._oldest_pending_age() is not None
        batch_id = batcher._prepare(min_size=1)  # the 50 pending ones: a batch
        # an anchor the chain lost: its certificates back to pending (as _finish moves them)
        assert batcher._unanchor(7, ISSUER, bytes(32), 7).certificates > 900
    assert batch_id is not None and len(statements) == 8
    assert_indexed(store, statements)
    with store.engine.begin() as connection:  # as the fixture made them, for the others
        connection.exec_driver_sql(
            "UPDATE batches SET state = 'anchored', block_number = 7 WHERE id = 7"
        )
        connection.exec_driver_sql(
            "UPDATE certificates SET status = 'active' WHERE batch_id = 7"
            " AND status = 'pending'"
        )
        connection.exec_driver_sql(
            "UPDATE certificates SET batch_id = NULL, batch_index = NULL WHERE batch_id = %s",
            (batch_id,),
        )
        connection.exec_driver_sql("DELETE FROM batches WHERE id = %s", (batch_id,))


def test_issuance_looks_numbers_up_by_index(store: Store) -> None:
    """By the number itself, not by reading every certificate of the type and filtering
    (the plan on a table never analyzed). 50 numbers: for a whole chunk of 500 on a table
    this small, reading it is the planner's right choice; on a large one it is not."""
    pairs = [(TYPE, f"N-{n}") for n in range(1, ROWS, ROWS // 50)]
    with captured(store) as statements, store.engine.begin() as connection:
        held = store.numbers_held(connection, ISSUER, pairs)
        connection.rollback()
    assert len(held) == len(pairs) - sum(1 for _, n in pairs if int(n[2:]) % 997 == 0)
    assert len(statements) == 1
    assert_indexed(store, statements)
    statement, parameters = statements[0]
    with store.engine.connect() as connection:
        plan = "\n".join(
            r[0] for r in connection.exec_driver_sql("EXPLAIN " + statement, parameters)
        )
    conditions = [line for line in plan.splitlines() if "Cond:" in line]
    assert any("number" in line for line in conditions), plan


def test_analyzing_waits_until_the_tables_doubled(store: Store) -> None:
    assert not analyze_if_grown(store.engine, 100)
    assert not analyze_if_grown(store.engine, 0)
    assert analyze_if_grown(store.engine, ROWS + 50)  # as many again: analyzed
    assert not analyze_if_grown(store.engine, 100)


def test_certificates_are_read_by_identifier_and_leaf(store: Store) -> None:
    identifiers = [f"ID-{n:09d}" for n in range(5, ROWS, ROWS // 200)]
    with captured(store) as statements:
        rows = store.certificate_rows(identifiers)
    assert len(rows) == len(identifiers)
    assert_indexed(store, statements)


def test_the_reconciler_reads_what_differs_by_index(store: Store) -> None:
    with captured(store) as statements:
        reconcile.disagreements(store)
    assert len(statements) == 2
    assert_indexed(store, statements)
