"""The shared index's staleness on PostgreSQL is judged from the confirmation stored in
``chain_cursor`` and aged on the database's clock (issue #19). That clock is wall time: it can
step back (an NTP correction) or be another host's after a fail-over to a replica whose clock
is behind. A confirmation that lies in the database's future is of unknown age — never
"current" — and the indexer's next confirmation replaces it (else none is stored until the
clock has caught up, and the service answers from an index nobody confirms).

Real components: a private devnet of the run's node (``ZHENGYIN_DEVNET_NODE``) and a throwaway
PostgreSQL server. A node that lags (a load balancer's other node) is the same devnet whose
head went back (``evm_snapshot``/``evm_revert``): from one read, the two are the same."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from certs.store import Store, chain_checkpoints, chain_cursor, chain_events, metadata
from chain.registry import RegistryClient
from tests.conftest import mine, private_chain
from tests.postgres import postgres_server
from verifier.index.indexer import Indexer
from verifier.index.reader import CLOCK_SQL, IndexerLagging

MAX_STALENESS = 30.0
"""Long enough for a catch-up on two busy cores: no test here waits for a confirmation to
age; they are judged by a confirmation's place (future, or above the cursor)."""


@pytest.fixture(scope="module")
def store() -> Iterator[Store]:
    with postgres_server() as url:
        opened = Store.open(url)
        yield opened
        with opened.engine.begin() as connection:
            metadata.drop_all(connection)
            connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        opened.engine.dispose()


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryClient]:
    with private_chain(tmp_path_factory.mktemp("shared-staleness")) as own:
        yield own.registry


@pytest.fixture
def empty(store: Store) -> Store:
    """The shared store with no index in it (each test builds its own from the chain)."""
    with store.engine.begin() as connection:
        for table in (chain_cursor, chain_checkpoints, chain_events):
            connection.execute(sa.delete(table))
    return store


def _indexer(store: Store, chain: RegistryClient) -> Indexer:
    reader = RegistryClient(chain.rpc, chain.deployment)
    return Indexer(store, reader, confirmations=0, max_staleness=MAX_STALENESS)


def _clock(store: Store) -> float:
    with store.reader() as fetch:
        return float(fetch(CLOCK_SQL)[0][0])


def _set_confirmed_at(store: Store, confirmed_at: float) -> None:
    with store.engine.begin() as connection:
        connection.execute(chain_cursor.update().values(confirmed_at=confirmed_at))


def _stored(store: Store) -> Any:
    with store.engine.connect() as connection:
        return connection.execute(sa.select(chain_cursor)).one()


def test_a_confirmation_from_the_databases_future_is_not_current(
    empty: Store, chain: RegistryClient
) -> None:
    _indexer(empty, chain).catch_up()  # the elected indexer: current, confirmed just now
    assert _stored(empty).block == chain.block_number()
    # written 30 s "ahead": the old primary's clock, or this one's before it stepped back;
    # nobody has confirmed the index since (the indexer is dead, or cut off from the chain)
    _set_confirmed_at(empty, _clock(empty) + 30.0)
    with pytest.raises(IndexerLagging):
        _indexer(empty, chain).snapshot()
    assert not _indexer(empty, chain).state().healthy


def test_a_confirmation_replaces_one_from_the_databases_future(
    empty: Store, chain: RegistryClient
) -> None:
    indexer = _indexer(empty, chain)
    indexer.catch_up()
    _set_confirmed_at(empty, _clock(empty) + 30.0)
    mine(chain.rpc)
    before = _clock(empty)
    indexer.catch_up()
    after = _clock(empty)
    stored = _stored(empty)
    assert before <= stored.confirmed_at <= after  # the database's clock at this catch-up
    assert stored.confirmed_block == chain.block_number()
    _indexer(empty, chain).snapshot()  # current again: confirmed just now


def test_a_late_confirmation_never_replaces_a_newer_one(
    empty: Store, chain: RegistryClient
) -> None:
    leader = _indexer(empty, chain)
    leader.catch_up()
    # a deposed leader reads the clock, the cursor and the head, then stalls ...
    late = _indexer(empty, chain)
    old = _clock(empty)
    cursor = late._cursor()
    assert cursor is not None
    head = chain.block_number()
    # ... while the new leader follows two more blocks and confirms them
    mine(chain.rpc, 2)
    leader.catch_up()
    newer = _stored(empty)
    assert newer.confirmed_block == head + 2 and newer.confirmed_at > old
    late._confirm(cursor, head, head, old)  # the deposed leader, late
    assert _stored(empty).confirmed_at == pytest.approx(newer.confirmed_at)
    assert _stored(empty).confirmed_block == head + 2


def test_a_followers_lagging_node_never_makes_a_rewound_index_current(
    empty: Store, chain: RegistryClient
) -> None:
    rpc = chain.rpc
    behind = rpc.call("evm_snapshot")
    lagging = chain.block_number()
    mine(rpc, 2)
    leader = _indexer(empty, chain)
    leader.catch_up()  # the elected indexer (what its loop does)
    instance = _indexer(empty, chain)
    assert instance.snapshot().block == lagging + 2
    # a follower (as the service makes it) catches up after a change it made; its node,
    # behind the same load balancer, is two blocks behind: the index rewinds to its head
    assert rpc.call("evm_revert", [behind]) is True
    assert chain.block_number() == lagging
    follower = _indexer(empty, chain)
    follower.confirms = False
    follower.catch_up()
    assert _stored(empty).block == lagging
    # the two blocks after it (a revocation just made, say) are gone from the index: no
    # instance may answer from it until the elected indexer has confirmed it current again
    with pytest.raises(IndexerLagging):
        instance.snapshot()
    mine(rpc, 2)  # the elected indexer's node, ahead again
    leader.catch_up()
    assert instance.snapshot().block == lagging + 2
