"""The chain index read through a load balancer of two nodes, one behind the other (#19).

A node answers ``eth_getLogs`` for blocks it does not have yet with nothing — not an error.
If the head comes from the node ahead and the events from the node behind, the events of the
missing blocks are silently absent and the cursor moves past them: a revocation never
indexed, and its certificate `valid` for ever. Each page of events is therefore read in one
request with the header of its last block, and refused when that node lacks the block.

Real components: two anvils (the second started from the first one's state: the same blocks
and hashes, none newer) behind a real HTTP proxy (tests/rpc_proxy.py) that sends each request
whole to the node its plan picks."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from certs.store import Store
from chain.errors import ChainError
from chain.records import ChainStatus
from chain.registry import RegistryClient
from chain.rpc import Rpc
from tests.conftest import PrivateChain, mine, node_behind, only_on, private_chain
from tests.rpc_proxy import methods, proxy
from verifier.index.indexer import Indexer, IndexerLagging

pytestmark = only_on("anvil", "the node behind is a second anvil started from the devnet's state")


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateChain]:
    with private_chain(tmp_path_factory.mktemp("balanced")) as made:
        yield made


def _status(indexer: Indexer, uscc: str, leaf: bytes) -> ChainStatus:
    return indexer.snapshot(leaves=[(uscc, leaf)]).statuses[(uscc, leaf)].status


def test_events_read_from_a_node_behind_are_refused_not_taken_as_none(
    own: PrivateChain, tmp_path: Path
) -> None:
    """The balancer sends the event reads to the node behind and everything else to the node
    ahead. The catch-up fails (``block_missing``) and the cursor stays before the
    revocation; once the events come from a node that has the blocks, it is indexed."""
    chain, uscc = own.registry, own.uscc
    leaf = secrets.token_bytes(32)
    ahead = chain.rpc.url
    with node_behind(tmp_path / "behind", chain.rpc) as behind:
        level = chain.block_number()
        chain.revoke(uscc, leaf, 1)  # on the node ahead only
        mine(chain.rpc, 2)
        with proxy(ahead) as balancer:  # the events from the node behind, the rest ahead
            balancer.plan = lambda n, body: (
                ("to", behind.url) if "eth_getLogs" in methods(body) else None)
            store = Store.open(f"sqlite:///{tmp_path / 'index.sqlite3'}")
            indexer = Indexer(store, RegistryClient(Rpc(balancer.url), chain.deployment))
            with pytest.raises(ChainError) as caught:
                indexer.catch_up()
            assert caught.value.code == "block_missing"
            cursor = indexer.state().indexed_block
            assert cursor is None or cursor <= level  # never past the revocation's block
            balancer.plan = lambda n, body: None  # the node behind has caught up
            indexer.catch_up()
            assert indexer.state().indexed_block == chain.block_number()
            assert _status(indexer, uscc, leaf) is ChainStatus.REVOKED


def test_a_page_whose_last_block_changed_between_the_reads_is_refused(
    own: PrivateChain, tmp_path: Path
) -> None:
    """The head (and its hash) from one node, the events from another on a fork of its own
    at that height: the page's block is not the block the index would record."""
    chain = own.registry
    with node_behind(tmp_path / "other", chain.rpc) as other:
        mine(chain.rpc, 1)
        other.call("hardhat_mine", ["0x1", "0x7"])  # the same height, another block (its time)
        head = chain.block_number()
        assert other.call("eth_blockNumber") == hex(head)
        start = head - 3
        expected = chain.block_hashes([head])[head]
        assert expected is not None
        with pytest.raises(ChainError) as caught:
            RegistryClient(other, chain.deployment).events(start, head, end_hash=expected)
        assert caught.value.code == "block_changed"
        # from the node whose block it is, the same page reads
        read = RegistryClient(chain.rpc, chain.deployment).events(start, head, end_hash=expected)
        assert read == chain.events(start, head)


def test_blocks_a_node_further_behind_lacks_prove_no_fork(
    own: PrivateChain, tmp_path: Path
) -> None:
    """Three nodes behind the balancer: the head from one node behind the index, the
    recorded blocks' hashes from one further behind, which lacks some of them. A block a
    node lacks proves nothing: the index neither rewinds nor drops the revocation."""
    chain, uscc = own.registry, own.uscc
    leaf = secrets.token_bytes(32)
    store = Store.open(f"sqlite:///{tmp_path / 'index.sqlite3'}")
    indexer = Indexer(store, RegistryClient(chain.rpc, chain.deployment))
    indexer.catch_up()
    with node_behind(tmp_path / "far", chain.rpc) as far:
        for _ in range(2):  # two more blocks, each recorded by a catch-up
            mine(chain.rpc, 1)
            indexer.catch_up()
        with node_behind(tmp_path / "near", chain.rpc) as near:
            chain.revoke(uscc, leaf, 1)
            indexer.catch_up()
            assert _status(indexer, uscc, leaf) is ChainStatus.REVOKED
            cursor = indexer.state().indexed_block

            def plan(n: int, body: object) -> tuple[str, str]:
                heads = isinstance(body, list) and any(
                    isinstance(c, dict) and c.get("params", [None])[0] == "latest" for c in body)
                return ("to", near.url) if heads else ("to", far.url)

            with proxy(chain.rpc.url) as balancer:
                balancer.plan = plan
                indexer.registry = RegistryClient(Rpc(balancer.url), chain.deployment)
                with pytest.raises(IndexerLagging, match="below the index"):
                    indexer.catch_up()
            assert indexer.rewinds == 0 and indexer.state().indexed_block == cursor
            indexer.registry = RegistryClient(chain.rpc, chain.deployment)
            indexer.catch_up()
            assert _status(indexer, uscc, leaf) is ChainStatus.REVOKED
