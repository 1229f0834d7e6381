"""The store side of issuance under concurrency (SQLite and PostgreSQL).

Idempotency keys: a key is claimed and answered inside the transaction that does the work,
so no other transaction ever sees it without its answer; a second claim of a key in use
waits for the first and then fails. Certificate numbers: a number checked under
:meth:`Store.lock_numbers` cannot be taken meanwhile by another transaction."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from certs.store import Store, certificates, metadata
from tests.postgres import postgres_server


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        opened = Store.open(f"sqlite:///{tmp_path / 'i.sqlite3'}")
        yield opened
    else:
        with postgres_server() as url:
            opened = Store.open(url)
            yield opened
            with opened.engine.begin() as connection:
                metadata.drop_all(connection)
                connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    opened.engine.dispose()


def _since(hours: float = 24) -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours)


def test_an_answer_is_kept_per_principal_and_key_and_expires(store: Store) -> None:
    with store.transaction() as connection:
        store.claim_key(connection, "issuer:A", "k1", "d" * 64, _since())
        assert store.stored_answer("issuer:A", "k1", _since(), connection) == ("d" * 64, 0, "")
        store.answer_key(connection, "issuer:A", "k1", 201, '{"id":"x"}')
    assert store.stored_answer("issuer:A", "k1", _since()) == ("d" * 64, 201, '{"id":"x"}')
    assert store.stored_answer("issuer:B", "k1", _since()) is None  # another principal
    assert store.stored_answer("issuer:A", "k2", _since()) is None
    # once past its time it is not an answer, and the key can be claimed afresh
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    assert store.stored_answer("issuer:A", "k1", later) is None
    with store.transaction() as connection:
        store.claim_key(connection, "issuer:A", "k1", "e" * 64, later)
        store.answer_key(connection, "issuer:A", "k1", 422, "{}")
    assert store.stored_answer("issuer:A", "k1", _since()) == ("e" * 64, 422, "{}")
    assert store.purge_answers(later) == 1
    assert store.stored_answer("issuer:A", "k1", _since()) is None


def test_a_rolled_back_claim_leaves_nothing(store: Store) -> None:
    """A crash (or any error) before the commit loses the claim with the work: a retry
    starts afresh."""
    with pytest.raises(RuntimeError), store.transaction() as connection:
        store.claim_key(connection, "issuer:A", "k", "d" * 64, _since())
        raise RuntimeError("the process died here")
    assert store.stored_answer("issuer:A", "k", _since()) is None


def test_a_key_in_use_holds_a_second_claim_until_the_first_commits(store: Store) -> None:
    """Two requests with one key at once: the second waits (SQLite: for the write lock;
    PostgreSQL: for the key's row) and then finds the first's answer, or fails to claim."""
    first_claimed, release = threading.Event(), threading.Event()
    outcome: list[object] = []

    def first() -> None:
        with store.transaction() as connection:
            store.claim_key(connection, "issuer:A", "k", "d" * 64, _since())
            first_claimed.set()
            release.wait(10)
            store.answer_key(connection, "issuer:A", "k", 201, '{"id":"first"}')

    def second() -> None:
        try:
            with store.transaction() as connection:
                found = store.stored_answer("issuer:A", "k", _since(), connection)
                if found is not None:
                    outcome.append(("found", found[1], found[2]))
                    return
                store.claim_key(connection, "issuer:A", "k", "d" * 64, _since())
                outcome.append("claimed")
        except sa.exc.IntegrityError:
            outcome.append(("lost", store.stored_answer("issuer:A", "k", _since())))

    one = threading.Thread(target=first)
    one.start()
    assert first_claimed.wait(10)
    two = threading.Thread(target=second)
    two.start()
    two.join(0.5)
    assert two.is_alive() and not outcome  # waiting for the first
    release.set()
    one.join(10)
    two.join(10)
    assert outcome in (
        [("found", 201, '{"id":"first"}')],
        [("lost", ("d" * 64, 201, '{"id":"first"}'))],
    )


def _insert_certificate(connection: sa.Connection, serial: int, number: str) -> None:
    connection.execute(certificates.insert().values(
        identifier=f"c{serial}", issuer="91110000101623741K", type_code=TYPE, serial=serial,
        number=number, leaf=f"{serial:064x}", status="pending",
        created_at=dt.datetime.now(dt.UTC)))


TYPE = "11100000000013338W032"


def test_a_number_checked_under_the_lock_cannot_be_taken_meanwhile(store: Store) -> None:
    """Two issuances of one number at once: the second waits for the first's lock (SQLite:
    the write lock; PostgreSQL: the row of the (issuer, type) serial counter), then sees
    the number held."""
    first_checked, release = threading.Event(), threading.Event()
    seen: list[object] = []

    def first() -> None:
        with store.transaction() as connection:
            store.lock_numbers(connection, "91110000101623741K", [TYPE])
            assert store.numbers_held(connection, "91110000101623741K", [(TYPE, "N-1")]) == {}
            first_checked.set()
            release.wait(10)
            _insert_certificate(connection, 1, "N-1")

    def second() -> None:
        with store.transaction() as connection:
            store.lock_numbers(connection, "91110000101623741K", [TYPE])
            seen.append(store.numbers_held(connection, "91110000101623741K", [(TYPE, "N-1")]))

    one = threading.Thread(target=first)
    one.start()
    assert first_checked.wait(10)
    two = threading.Thread(target=second)
    two.start()
    two.join(0.5)
    assert two.is_alive() and not seen  # waiting for the first
    release.set()
    one.join(10)
    two.join(10)
    assert seen == [{(TYPE, "N-1"): ("c1", "pending")}]
