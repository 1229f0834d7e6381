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

from certs.batcher import Batcher
from certs.issuance import IssuerProfile, issue, key_id_of
from certs.status import load_records
from certs.store import Store
from chain.errors import ChainError
from chain.records import ChainStatus
from chain.registry import RegistryClient
from chain.rpc import Rpc
from seals.sm2 import KeySigner, generate_private_key
from tests.conftest import PrivateChain, mine, node_behind, only_on, private_chain
from tests.rpc_proxy import methods, proxy
from tests.verifier.test_certificate_verification import TODAY, request
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


def test_a_third_node_further_behind_never_rewinds_away_a_revocation(
    own: PrivateChain, tmp_path: Path
) -> None:
    """Three nodes behind a round-robin balancer: A (ahead, where the revocation was mined
    and indexed), B (behind it) and C (further behind). A catch-up reads the head from B
    (below the cursor: no proof of a fork), then the hashes of the recorded blocks from C,
    which has not the newest of them yet. A block a node does not have is no proof of a
    fork either; taking it for one rewound the index below the revocation and confirmed it
    current from B's head: `valid` for a revoked certificate."""
    chain, uscc = own.registry, own.uscc
    leaf = secrets.token_bytes(32)
    store = Store.open(f"sqlite:///{tmp_path / 'index.sqlite3'}")
    indexer = Indexer(store, RegistryClient(chain.rpc, chain.deployment))
    indexer.catch_up()
    with node_behind(tmp_path / "c", chain.rpc) as far:
        mine(chain.rpc, 2)
        indexer.catch_up()  # a checkpoint C has not
        with node_behind(tmp_path / "b", chain.rpc) as behind:
            chain.revoke(uscc, leaf, 1)  # on A only
            mine(chain.rpc, 2)
            indexer.catch_up()  # the revocation, indexed from A
            assert _status(indexer, uscc, leaf) is ChainStatus.REVOKED
            indexed = indexer.state().indexed_block
            nodes = [behind.url, far.url, chain.rpc.url]
            with proxy(chain.rpc.url) as balancer:
                balancer.plan = lambda n, body: ("to", nodes[(n - 1) % len(nodes)])
                indexer.registry = RegistryClient(Rpc(balancer.url), chain.deployment)
                for _ in range(3):
                    try:
                        indexer.catch_up()
                    except ChainError:
                        pass  # not confirmed: answers ERROR, which is right
                    assert indexer.rewinds == 0
                    assert (indexer.state().indexed_block or 0) >= indexed  # type: ignore[operator]
                    try:
                        status = _status(indexer, uscc, leaf)
                    except ChainError:
                        continue  # ERROR, never a wrong answer
                    assert status is ChainStatus.REVOKED


def test_a_devnet_restored_from_an_older_state_rewinds_at_its_first_new_block(
    own: PrivateChain, tmp_path: Path
) -> None:
    """The devnet restored from an older state file (docs/chain-nodes.md: "answers error
    until its next transaction mines a block"). The index had followed some twenty blocks
    past the restored head, each a change indexed at once (as the service does after each
    change). The restored chain's first new block is a fork at a number the index had
    indexed events from; it must prove the fork. Recorded blocks were thinned to the newest
    sixteen, so the first new block proved nothing, and every verification answered
    `error` until the restored chain had mined up to the next recorded block (here four more
    transactions; an idle devnet: for ever)."""
    chain, uscc = own.registry, own.uscc
    store = Store.open(f"sqlite:///{tmp_path / 'index.sqlite3'}")
    indexer = Indexer(store, RegistryClient(chain.rpc, chain.deployment))
    indexer.catch_up()
    with node_behind(tmp_path / "restored", chain.rpc) as restored:  # the older state file
        leaves = [secrets.token_bytes(32) for _ in range(20)]
        for leaf in leaves:  # twenty changes made (and indexed) after the backup
            chain.revoke(uscc, leaf, 1)
            indexer.catch_up()
        indexer.registry = RegistryClient(restored, chain.deployment)  # the restored devnet
        with pytest.raises(IndexerLagging):  # idle: a node behind or a rollback, unknown
            indexer.catch_up()
        mine(restored, 1)  # its next transaction's block: another block at a number indexed
        indexer.catch_up()
        assert indexer.rewinds == 1
        assert indexer.state().indexed_block == restored_head(restored)
        assert _status(indexer, uscc, leaves[0]) is ChainStatus.ACTIVE  # the chain lost it


def restored_head(rpc: Rpc) -> int:
    return int(rpc.call("eth_blockNumber"), 16)


def test_the_batchers_read_back_judges_anchors_at_the_head_it_read(
    own: PrivateChain, tmp_path: Path
) -> None:
    """The batcher reads recent anchors back (``recheck_anchored``): the head from one node,
    then the roots from the chain. The snapshot read the head again — from the node behind
    — and judged the anchors there: an anchor mined after that block was taken for lost, its
    batch sent back to ``prepared`` and its certificates to ``pending`` (and sent again)."""
    chain = own.registry
    signer = KeySigner(generate_private_key())
    chain.add_key(own.uscc, key_id_of(signer.public_key), 0, None, signer.public_key.point)
    profile = IssuerProfile(own.uscc, "测试发证机关", signer)
    store = Store.open(f"sqlite:///{tmp_path / 'certs.sqlite3'}")
    with node_behind(tmp_path / "behind", chain.rpc) as behind:
        report = issue(store, profile, [(1, request())], today=TODAY)
        Batcher(store, lambda _: chain).run_once()  # anchored through the node ahead
        mine(chain.rpc, 2)
        heads = []

        def plan(n: int, body: object) -> tuple[str, str] | None:
            if methods(body) == ["eth_blockNumber"]:  # head reads alternate between nodes
                heads.append(n)
                return None if len(heads) % 2 else ("to", behind.url)
            return None

        with proxy(chain.rpc.url) as balancer:
            balancer.plan = plan
            reader = RegistryClient(Rpc(balancer.url), chain.deployment, chain.sender)
            assert Batcher(store, lambda _: reader).recheck_anchored() == []
        (record,) = load_records(store, [a.identifier for a in report.accepted])
        assert record.status == "active"
