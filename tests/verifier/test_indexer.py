"""The chain index on its own (issue #15 items 2 and 7): a private devnet (anvil, or
Hardhat's node in `make test-hardhat`) rolled back with ``evm_snapshot``/``evm_revert`` (its
head goes back and the next blocks differ) under a real SQLite index."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from certs.store import Store, chain_cursor, chain_events
from chain.registry import ChainStatus, RegistryClient
from tests.conftest import mine, private_chain
from verifier.index.indexer import Indexer, IndexerLagging


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RegistryClient, str]]:
    with private_chain(tmp_path_factory.mktemp("index-chain")) as own:
        yield own.registry, own.uscc


def _indexer(tmp_path: Path, registry: RegistryClient, **kwargs: float) -> Indexer:
    store = Store.open(f"sqlite:///{tmp_path / 'index.sqlite3'}")
    return Indexer(store, RegistryClient(registry.rpc, registry.deployment), **kwargs)  # type: ignore[arg-type]


def test_a_rollback_rewinds_to_the_last_common_block_and_derives_again(
    chain: tuple[RegistryClient, str], tmp_path: Path
) -> None:
    registry, uscc = chain
    rpc = registry.rpc
    indexer = _indexer(tmp_path, registry)
    kept, lost, later = (secrets.token_bytes(32) for _ in range(3))
    leaf = secrets.token_bytes(32)
    registry.anchor(uscc, kept, 1)
    common = indexer.catch_up()
    before = rpc.call("evm_snapshot")
    registry.anchor(uscc, lost, 1)
    registry.revoke(uscc, leaf, 1)
    mine(rpc, 3)
    passed = indexer.catch_up()
    assert indexer.snapshot(roots=[lost]).anchors[lost] is not None
    assert rpc.call("evm_revert", [before]) is True
    registry.anchor(uscc, later, 1)  # a block at a number the index had passed
    assert registry.block_number() < passed
    indexer.catch_up()
    snap = indexer.snapshot(roots=[kept, lost, later], leaves=[(uscc, leaf)])
    assert snap.anchors[kept] is not None and snap.anchors[later] is not None
    assert snap.anchors[lost] is None
    assert snap.statuses[(uscc, leaf)].status is ChainStatus.ACTIVE
    with indexer.store.engine.connect() as connection:
        cursor = connection.execute(sa.select(chain_cursor)).one()
        events = connection.execute(
            sa.select(sa.func.max(chain_events.c.block_number))
        ).scalar()
    assert cursor.generation == 1 and cursor.rewound_to == common  # not the deployment block
    assert events == registry.block_number() and indexer.rewinds == 1
    # the block hashes agree again: the next catch-up does not rewind
    indexer.catch_up()
    assert indexer.rewinds == 1


def test_every_reader_drops_its_cached_facts_after_a_rewind(
    chain: tuple[RegistryClient, str], tmp_path: Path
) -> None:
    """Several workers share one database: a process whose cached anchor was lost in a
    rollback that another process indexed must not judge by it."""
    registry, uscc = chain
    rpc = registry.rpc
    first = _indexer(tmp_path, registry)
    other = Indexer(first.store, RegistryClient(registry.rpc, registry.deployment))
    root = secrets.token_bytes(32)
    before = rpc.call("evm_snapshot")
    registry.anchor(uscc, root, 1)
    first.catch_up()
    other.catch_up()
    assert other.snapshot(roots=[root]).anchors[root] is not None  # now cached in `other`
    rpc.call("evm_revert", [before])
    mine(rpc, 2)
    first.catch_up()  # rewinds
    other.catch_up()
    assert other.snapshot(roots=[root]).anchors[root] is None


def test_key_records_follow_the_index_at_once(
    chain: tuple[RegistryClient, str], tmp_path: Path
) -> None:
    """A compromise report reaches the next verification once indexed (a 2 s cache of key
    records used to keep a reported key `valid` beyond the staleness bound)."""
    registry, uscc = chain
    indexer = _indexer(tmp_path, registry)
    key = secrets.token_bytes(32)
    registry.add_key(uscc, key, 0)
    indexer.catch_up()
    assert indexer.snapshot(keys=[(uscc, key)]).keys[(uscc, key)].compromised_at is None  # type: ignore[union-attr]
    registry.report_key_compromised(uscc, key, 1)
    indexer.catch_up()
    record = indexer.snapshot(keys=[(uscc, key)]).keys[(uscc, key)]
    assert record is not None and record.compromised_at == 1


def test_an_index_not_confirmed_within_the_bound_is_never_judged(
    chain: tuple[RegistryClient, str], tmp_path: Path
) -> None:
    registry, _ = chain
    indexer = _indexer(tmp_path, registry, max_staleness=0.3)
    with pytest.raises(IndexerLagging):  # never reached the chain yet
        indexer.snapshot()
    indexer.catch_up()
    fresh = indexer.snapshot()
    assert fresh.lag["lag_blocks"] == 0 and fresh.lag["lag_seconds"] <= 0.3
    time.sleep(0.4)
    with pytest.raises(IndexerLagging) as caught:
        indexer.snapshot()
    assert caught.value.code == "indexer_lagging" and caught.value.lag["lag_seconds"] > 0.3
    with pytest.raises(IndexerLagging):
        indexer.documents([secrets.token_bytes(32)])
    assert indexer.state().healthy is False


def test_a_reader_that_took_no_snapshot_since_a_rewind_still_reads_grants_up_to_now(
    chain: tuple[RegistryClient, str], tmp_path: Path
) -> None:
    """Another worker indexed a rewind, and this process has not verified anything since.
    Its issuance reads the agency's grants "up to now". It was refused as `indexer_lagging`
    ("rewound while it was read") until the process took a snapshot, which a worker that only
    issues never takes. Grants read at a block (a verification's snapshot) must still come
    from the snapshot's generation."""
    registry, uscc = chain
    rpc = registry.rpc
    first = _indexer(tmp_path, registry)
    other = Indexer(first.store, RegistryClient(registry.rpc, registry.deployment))
    first.catch_up()
    other.catch_up()
    stale = other.snapshot()  # `other` now knows generation g
    before = rpc.call("evm_snapshot")
    registry.anchor(uscc, secrets.token_bytes(32), 1)
    first.catch_up()
    rpc.call("evm_revert", [before])
    mine(rpc, 2)
    first.catch_up()  # rewinds: generation g + 1, `other` not told
    assert first.rewinds >= 1
    assert other.authorization_events(uscc) == first.authorization_events(uscc)
    with pytest.raises(IndexerLagging):
        other.authorization_events(uscc, block=stale.block)


def test_a_node_whose_newest_block_is_too_old_is_not_followed(
    chain: tuple[RegistryClient, str], tmp_path: Path
) -> None:
    """A node that stopped syncing answers its old head as the newest block: against it the
    index looked current, and a revocation made since on the real chain went unseen (its
    certificate read valid). With ``max_head_age`` the catch-up refuses a head older than
    that (``node_stale``), confirms nothing, and the index is judged stale within the bound.
    The devnet mines on demand: no block for a while is a node stuck, as far as the rule
    can tell."""
    registry, uscc = chain
    rpc = registry.rpc

    def next_block_now() -> None:  # the devnet's clock may lag after the reverts above
        latest = int(rpc.call("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
        rpc.call("evm_setNextBlockTimestamp", [max(int(time.time()), latest + 1)])

    next_block_now()
    mine(rpc, 1)
    indexer = _indexer(tmp_path, registry, max_staleness=0.3, max_head_age=3.0)
    indexer.catch_up()
    assert indexer.snapshot().lag["lag_blocks"] == 0  # a fresh head: followed
    time.sleep(4.5)  # no new block since: the head is older than max_head_age
    with pytest.raises(IndexerLagging) as caught:
        indexer.catch_up()
    assert caught.value.code == "node_stale" and "stopped following" in str(caught.value)
    with pytest.raises(IndexerLagging):  # the bound passed: nothing is judged
        indexer.snapshot()
    assert indexer.state().healthy is False
    # the same head with the check off (the default): followed, as the devnet needs
    _indexer(tmp_path, registry).catch_up()
    leaf = secrets.token_bytes(32)
    next_block_now()
    registry.revoke(uscc, leaf, 1)  # a new block: the node follows again
    indexer.catch_up()
    assert indexer.snapshot(leaves=[(uscc, leaf)]).statuses[(uscc, leaf)].status is (
        ChainStatus.REVOKED)
