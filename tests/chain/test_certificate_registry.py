"""CertificateRegistry through the Python client: anchors, status, supersede, documents, history."""

from __future__ import annotations

import secrets

import pytest

from chain.errors import ContractRevert
from chain.registry import ChainStatus, RegistryClient
from tests.conftest import Accounts, Issuer, make_uscc


def digest() -> bytes:
    return secrets.token_bytes(32)


def refusal(action: object) -> str:
    with pytest.raises(ContractRevert) as caught:
        action()  # type: ignore[operator]
    return caught.value.error_name


def test_anchor_and_view(issuer: Issuer) -> None:
    root = digest()
    receipt = issuer.registry.anchor(issuer.uscc, root, 10_000)
    info = issuer.registry.anchor_of(root)
    assert info is not None
    assert (info.issuer, info.leaf_count, info.by) == (issuer.uscc, 10_000, issuer.account.address)
    assert info.block_number == receipt.block_number
    assert info.timestamp == issuer.registry.block_timestamp(receipt.block_number)
    assert issuer.registry.anchor_of(digest()) is None
    assert refusal(lambda: issuer.registry.anchor(issuer.uscc, root, 5)) == "RootAlreadyAnchored"
    assert refusal(lambda: issuer.registry.anchor(issuer.uscc, bytes(32), 5)) == "ZeroDigest"
    assert refusal(lambda: issuer.registry.anchor(issuer.uscc, digest(), 0)) == "EmptyBatch"


def test_only_active_issuer_accounts_anchor(
    issuer: Issuer, admin_registry: RegistryClient, accounts: Accounts
) -> None:
    # the admin governs but does not anchor for an issuer
    assert refusal(lambda: admin_registry.anchor(issuer.uscc, digest(), 1)) == "NotIssuerAccount"
    stranger = RegistryClient(issuer.registry.rpc, issuer.registry.deployment, accounts.new())
    assert refusal(lambda: stranger.anchor(issuer.uscc, digest(), 1)) == "NotIssuerAccount"
    # an account of one issuer cannot anchor for another
    assert refusal(lambda: issuer.registry.anchor(make_uscc(), digest(), 1)) == "NotIssuerAccount"
    admin_registry.suspend_issuer(issuer.uscc, "under review")
    assert refusal(lambda: issuer.registry.anchor(issuer.uscc, digest(), 1)) == "IssuerNotActive"
    assert (
        refusal(lambda: issuer.registry.anchor_document(issuer.uscc, digest())) == "IssuerNotActive"
    )
    admin_registry.reinstate_issuer(issuer.uscc)
    issuer.registry.anchor(issuer.uscc, digest(), 1)


def test_status_lifecycle(issuer: Issuer) -> None:
    reg, uscc, leaf = issuer.registry, issuer.uscc, digest()
    fresh = reg.status_of(uscc, leaf)
    assert (fresh.status, fresh.block_number, fresh.superseded_by) == (
        ChainStatus.ACTIVE,
        None,
        None,
    )
    assert refusal(lambda: reg.reinstate(uscc, leaf)) == "NotSuspended"
    suspended = reg.suspend(uscc, leaf, 3)
    state = reg.status_of(uscc, leaf)
    assert (state.status, state.reason, state.block_number) == (
        ChainStatus.SUSPENDED,
        3,
        suspended.block_number,
    )
    assert refusal(lambda: reg.suspend(uscc, leaf, 3)) == "AlreadySuspended"
    reg.reinstate(uscc, leaf)
    assert reg.status_of(uscc, leaf).status is ChainStatus.ACTIVE
    reg.revoke(uscc, leaf, 7)
    assert reg.status_of(uscc, leaf).status is ChainStatus.REVOKED
    # revocation is final
    assert refusal(lambda: reg.revoke(uscc, leaf, 7)) == "AlreadyRevoked"
    assert refusal(lambda: reg.suspend(uscc, leaf, 1)) == "AlreadyRevoked"
    assert refusal(lambda: reg.reinstate(uscc, leaf)) == "NotSuspended"
    assert refusal(lambda: reg.supersede(uscc, leaf, digest(), 1)) == "AlreadyRevoked"


def test_bulk_status_changes(issuer: Issuer) -> None:
    reg, uscc = issuer.registry, issuer.uscc
    leaves = [digest() for _ in range(50)]
    receipt = reg.suspend_many(uscc, leaves, 2)
    assert all(reg.status_of(uscc, x).status is ChainStatus.SUSPENDED for x in leaves)
    reg.reinstate_many(uscc, leaves[:25])
    reg.revoke_many(uscc, leaves[25:], 9)
    assert [reg.status_of(uscc, x).status for x in (leaves[0], leaves[-1])] == [
        ChainStatus.ACTIVE,
        ChainStatus.REVOKED,
    ]
    # one transaction; one event per leaf
    changed = [e for e in reg.events(receipt.block_number, receipt.block_number)]
    assert len(changed) == 50 and {e.tx_hash for e in changed} == {receipt.tx_hash}
    # a bulk change with one final leaf changes nothing at all
    fresh = digest()
    assert refusal(lambda: reg.revoke_many(uscc, [fresh, leaves[-1]], 1)) == "AlreadyRevoked"
    assert reg.status_of(uscc, fresh).status is ChainStatus.ACTIVE


def test_only_own_issuer_or_admin_changes_status(
    issuer: Issuer, admin_registry: RegistryClient, accounts: Accounts, rpc: object
) -> None:
    leaf = digest()
    other_uscc = make_uscc()
    other_account = accounts.new()
    admin_registry.register_issuer(other_uscc, "别的机关")
    admin_registry.add_account(other_uscc, other_account.address)
    other = RegistryClient(issuer.registry.rpc, issuer.registry.deployment, other_account)
    for action in (
        lambda: other.revoke(issuer.uscc, leaf, 1),
        lambda: other.suspend(issuer.uscc, leaf, 1),
        lambda: other.reinstate(issuer.uscc, leaf),
        lambda: other.revoke_many(issuer.uscc, [leaf], 1),
        lambda: other.suspend_many(issuer.uscc, [leaf], 1),
        lambda: other.reinstate_many(issuer.uscc, [leaf]),
        lambda: other.supersede(issuer.uscc, leaf, digest(), 1),
    ):
        assert refusal(action) == "NotIssuerAccount"
    # the other issuer's own namespace is separate: its revocation does not touch ours
    other.revoke(other_uscc, leaf, 1)
    assert issuer.registry.status_of(issuer.uscc, leaf).status is ChainStatus.ACTIVE
    # the admin may act for any registered issuer, but not for an unknown one
    admin_registry.suspend(issuer.uscc, leaf, 4)
    assert issuer.registry.status_of(issuer.uscc, leaf).status is ChainStatus.SUSPENDED
    assert refusal(lambda: admin_registry.revoke(make_uscc(), leaf, 1)) == "UnknownIssuer"


def test_supersede(issuer: Issuer) -> None:
    reg, uscc, old, new = issuer.registry, issuer.uscc, digest(), digest()
    assert refusal(lambda: reg.supersede(uscc, old, old, 1)) == "SelfSupersede"
    assert refusal(lambda: reg.supersede(uscc, old, bytes(32), 1)) == "ZeroDigest"
    reg.supersede(uscc, old, new, 5)
    state = reg.status_of(uscc, old)
    assert (state.status, state.superseded_by, state.reason) == (
        ChainStatus.SUPERSEDED,
        new,
        5,
    )
    assert refusal(lambda: reg.supersede(uscc, old, digest(), 1)) == "AlreadySuperseded"
    assert refusal(lambda: reg.revoke(uscc, old, 1)) == "AlreadySuperseded"


def test_document_anchor(issuer: Issuer, admin_registry: RegistryClient) -> None:
    doc = digest()
    receipt = issuer.registry.anchor_document(issuer.uscc, doc)
    info = issuer.registry.document_of(doc)
    assert info is not None and (info.issuer, info.block_number) == (
        issuer.uscc,
        receipt.block_number,
    )
    assert refusal(lambda: issuer.registry.anchor_document(issuer.uscc, doc)) == (
        "DocumentAlreadyAnchored"
    )
    assert refusal(lambda: admin_registry.anchor_document(issuer.uscc, digest())) == (
        "NotIssuerAccount"
    )
    assert issuer.registry.document_of(digest()) is None


def test_history_of_leaf_root_and_issuer(issuer: Issuer, admin_registry: RegistryClient) -> None:
    reg, uscc = issuer.registry, issuer.uscc
    root, leaf, successor, unrelated = digest(), digest(), digest(), digest()
    anchored = reg.anchor(uscc, root, 2)
    reg.suspend(uscc, leaf, 1)
    reg.suspend(uscc, unrelated, 1)
    reg.reinstate(uscc, leaf)
    superseded = reg.supersede(uscc, leaf, successor, 2)

    events = reg.history_of_leaf(uscc, leaf, root=root)
    assert [e.name for e in events] == [
        "RootAnchored",
        "StatusChanged",
        "StatusChanged",
        "Superseded",
    ]
    assert [e.args.get("status") for e in events[1:3]] == [
        ChainStatus.SUSPENDED,
        ChainStatus.ACTIVE,
    ]
    first, last = events[0], events[-1]
    assert (first.block_number, first.tx_hash) == (anchored.block_number, anchored.tx_hash)
    assert first.args["issuer"] == uscc and first.args["leafCount"] == 2
    assert last.tx_hash == superseded.tx_hash and last.args["newLeaf"] == successor
    assert all(e.timestamp == reg.block_timestamp(e.block_number) for e in events)
    assert [e.block_number for e in events] == sorted(e.block_number for e in events)
    # the successor sees the link from its side
    assert [e.name for e in reg.history_of_leaf(uscc, successor)] == ["Superseded"]
    assert [e.name for e in reg.history_of_root(root)] == ["RootAnchored"]

    timeline = [e.name for e in reg.history_of_issuer(uscc)]
    assert timeline[:2] == ["IssuerRegistered", "AccountAdded"]
    assert timeline.count("StatusChanged") == 3 and "RootAnchored" in timeline
    assert all(e.args["issuer"] == uscc for e in reg.history_of_issuer(uscc))


def test_snapshot_reads_many_facts_at_one_block(issuer: Issuer) -> None:
    reg, uscc = issuer.registry, issuer.uscc
    roots = [digest() for _ in range(3)]
    for root in roots[:2]:
        reg.anchor(uscc, root, 7)
    leaves = [digest() for _ in range(2_500)]  # more than one view call's worth
    reg.revoke(uscc, leaves[1], 6)
    key = digest()
    reg.add_key(uscc, key, 100, None)
    before = reg.block_number()
    reg.suspend(uscc, leaves[2], 7)  # after the snapshot's block: not seen
    snap = reg.snapshot(
        roots=roots,
        leaves=[(uscc, x) for x in leaves],
        keys=[(uscc, key), (uscc, digest())],
        block=before,
    )
    assert snap.block == before
    assert [snap.anchors[r] is not None for r in roots] == [True, True, False]
    assert snap.anchors[roots[0]].leaf_count == 7  # type: ignore[union-attr]
    assert snap.statuses[(uscc, leaves[1])].status is ChainStatus.REVOKED
    assert snap.statuses[(uscc, leaves[2])].status is ChainStatus.ACTIVE
    assert sum(s.status is ChainStatus.ACTIVE for s in snap.statuses.values()) == 2_499
    assert snap.keys[(uscc, key)] is not None and list(snap.keys.values())[1] is None
    assert reg.snapshot(leaves=[(uscc, leaves[2])]).statuses[(uscc, leaves[2])].status is (
        ChainStatus.SUSPENDED
    )


def test_batch_views_refuse_mismatched_lengths(issuer: Issuer) -> None:
    from chain.registry import issuer_id

    data = issuer.registry._certificates.encode_call(
        "statusesOf", [issuer_id(issuer.uscc)], [digest(), digest()]
    )
    with pytest.raises(ContractRevert) as caught:
        issuer.registry.rpc.call(
            "eth_call",
            [{"to": issuer.registry.deployment.certificate_registry, "data": data}, "latest"],
        )
    assert caught.value.error_name == "LengthMismatch"
