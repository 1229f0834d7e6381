"""The shared index's staleness on PostgreSQL is judged from the confirmation stored in
``chain_cursor`` and aged on the database's clock (issue #19). That clock is wall time: it can
step back (an NTP correction) or be another host's after a fail-over to a replica whose clock
is behind. A confirmation that lies in the database's future is of unknown age — never
"current" — and the indexer's next confirmation replaces it (else none is stored until the
clock has caught up, and the service answers from an index nobody confirms).

Real components: a private devnet of the run's node (``ZHENGYIN_DEVNET_NODE``) and a throwaway
PostgreSQL server. A node behind (a load balancer's other node) is a second anvil started from
the devnet's state: the same blocks and hashes, and no newer ones."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from certs.store import Store, chain_checkpoints, chain_cursor, chain_events, metadata
from chain.records import ChainStatus
from chain.registry import RegistryClient
from chain.rpc import Rpc
from tests.conftest import PrivateChain, mine, node_behind, only_on, private_chain
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
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateChain]:
    with private_chain(tmp_path_factory.mktemp("shared-staleness")) as made:
        yield made


@pytest.fixture(scope="module")
def chain(own: PrivateChain) -> RegistryClient:
    return own.registry


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


def _revoked(indexer: Indexer, uscc: str, leaf: bytes) -> bool:
    status = indexer.snapshot(leaves=[(uscc, leaf)]).statuses[(uscc, leaf)].status
    return status is ChainStatus.REVOKED


def _on(rpc: Rpc, chain: RegistryClient) -> RegistryClient:
    """The deployment read through another node."""
    return RegistryClient(rpc, chain.deployment)


@only_on("anvil", "the node behind is a second anvil started from the devnet's state")
def test_the_elected_indexers_node_behind_never_drops_what_a_follower_indexed(
    empty: Store, own: PrivateChain, tmp_path: Path
) -> None:
    """The finding of #19's review: two nodes behind one load balancer; a follower revokes a
    certificate and indexes the revocation from the node that mined it; the elected
    indexer's own node is behind. Its head below the cursor read as a rollback: the index
    rewound away the revocation and confirmed the rest current — `valid` for a revoked
    certificate until that node caught up. Now the node behind proves no fork, so nothing
    is rewound and nothing confirmed: the index keeps the revocation, and once the bound
    passes every instance answers ERROR until the elected indexer's node is level again."""
    chain, uscc = own.registry, own.uscc
    leaf = secrets.token_bytes(32)
    leader = _indexer(empty, chain)
    leader.catch_up()
    with node_behind(tmp_path / "behind", chain.rpc) as behind_rpc:
        level = _stored(empty)
        chain.revoke(uscc, leaf, 1)  # through the node ahead
        mine(chain.rpc, 2)
        follower = _indexer(empty, chain)
        follower.confirms = False  # as the service makes a follower's catch-up
        follower.catch_up()  # the revocation, indexed at once
        assert _revoked(follower, uscc, leaf)
        indexed = _stored(empty)
        leader.registry = _on(behind_rpc, chain)  # the elected indexer's node: behind
        for _ in range(3):  # its loop, again and again
            with pytest.raises(IndexerLagging, match="below the index"):
                leader.catch_up()
        after = _stored(empty)
        assert (after.block, after.block_hash, after.generation) == (
            indexed.block, indexed.block_hash, indexed.generation)  # nothing rewound
        assert leader.rewinds == 0
        # nothing confirmed either: the confirmation is still the one from before the revoke
        assert (after.confirmed_block, after.confirmed_at) == (
            level.confirmed_block, level.confirmed_at)
        instance = _indexer(empty, chain)
        assert _revoked(instance, uscc, leaf)  # within the bound: from the index as it is
        _set_confirmed_at(empty, _clock(empty) - MAX_STALENESS - 1)  # the bound passes
        with pytest.raises(IndexerLagging):
            instance.snapshot(leaves=[(uscc, leaf)])
        leader.registry = _on(chain.rpc, chain)  # its node level again
        leader.catch_up()
        assert _revoked(instance, uscc, leaf) and leader.rewinds == 0
        assert _stored(empty).confirmed_block == chain.block_number()


@only_on("anvil", "the node behind is a second anvil started from the devnet's state")
def test_a_followers_node_behind_never_rewinds_the_shared_index(
    empty: Store, own: PrivateChain, tmp_path: Path
) -> None:
    chain, uscc = own.registry, own.uscc
    leaf = secrets.token_bytes(32)
    with node_behind(tmp_path / "behind", chain.rpc) as behind_rpc:
        chain.revoke(uscc, leaf, 1)
        leader = _indexer(empty, chain)
        leader.catch_up()  # the elected indexer, its node ahead
        follower = Indexer(empty, _on(behind_rpc, chain), confirmations=0,
                           max_staleness=MAX_STALENESS)
        follower.confirms = False
        with pytest.raises(IndexerLagging, match="below the index"):
            follower.catch_up()
        assert _stored(empty).block == chain.block_number() and follower.rewinds == 0
        assert _revoked(_indexer(empty, chain), uscc, leaf)


@only_on("anvil", "the node behind is a second anvil started from the devnet's state")
def test_a_head_below_the_index_that_shows_a_block_of_its_own_is_a_fork_and_rewinds(
    empty: Store, own: PrivateChain, tmp_path: Path
) -> None:
    """The node's head is below the cursor, but at the number of a block the index took
    events from it has a block of its own: a fork, proven. The index follows the node's
    chain (rewind, derive again), as for a changed block at the cursor."""
    chain, uscc = own.registry, own.uscc
    leaf = secrets.token_bytes(32)
    with node_behind(tmp_path / "behind", chain.rpc) as other_rpc:
        fork_at = chain.block_number() + 1
        chain.revoke(uscc, leaf, 1)  # block fork_at, on the first node only
        mine(chain.rpc, 3)
        leader = _indexer(empty, chain)
        leader.catch_up()
        assert _revoked(leader, uscc, leaf)
        mine(other_rpc, 1)  # the other node's own block fork_at (no revocation in it)
        leader.registry = _on(other_rpc, chain)
        assert leader.registry.block_number() == fork_at < _stored(empty).block
        leader.catch_up()
        assert leader.rewinds == 1 and _stored(empty).block == fork_at
        assert not _revoked(leader, uscc, leaf)  # the chain it follows has no revocation
