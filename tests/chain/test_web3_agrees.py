"""web3.py, as an independent client an agency would use, reads the deployed contracts with
nothing but their published ABIs (contracts/build/*.json) and gets the project's answers:
anchors, certificate statuses, issuer status, key records, published keys and events."""

from __future__ import annotations

import json
import secrets
import sys
from typing import Any

from chain.contracts import BUILD_DIR
from chain.registry import ChainStatus, RegistryClient, issuer_id
from chain.rpc import Rpc
from tests.conftest import Issuer


def _web3(url: str) -> Any:
    limit = sys.getrecursionlimit()  # web3 imports eth_account, which raises it: put back
    from web3 import Web3

    sys.setrecursionlimit(limit)
    return Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 10}))


def _contract(w3: Any, name: str, address: str) -> Any:
    artefact = json.loads((BUILD_DIR / f"{name}.json").read_text(encoding="utf-8"))
    return w3.eth.contract(address=address, abi=artefact["abi"])


def test_web3_reads_what_the_project_reads(issuer: Issuer, rpc: Rpc) -> None:
    ours = RegistryClient(rpc, issuer.registry.deployment)
    uscc, who = issuer.uscc, issuer_id(issuer.uscc)
    root, missing = secrets.token_bytes(32), secrets.token_bytes(32)
    leaves = [secrets.token_bytes(32) for _ in range(3)]
    key_id, retired = secrets.token_bytes(32), secrets.token_bytes(32)
    public_key = b"\x04" + secrets.token_bytes(64)
    issuer.registry.add_key(uscc, key_id, 1_000, None, public_key)
    issuer.registry.add_key(uscc, retired, 500, 4_000)
    issuer.registry.anchor(uscc, root, 3)
    issuer.registry.revoke(uscc, leaves[0], 3)
    issuer.registry.suspend(uscc, leaves[1], 1)
    issuer.registry.supersede(uscc, leaves[2], leaves[0][::-1], 2)
    document = secrets.token_bytes(32)
    issuer.registry.anchor_document(uscc, document)
    block = ours.block_number()

    w3 = _web3(rpc.url)
    deployment = issuer.registry.deployment
    certificates = _contract(w3, "CertificateRegistry", deployment.certificate_registry)
    issuers = _contract(w3, "IssuerRegistry", deployment.issuer_registry)
    assert w3.eth.chain_id == deployment.chain_id
    assert w3.eth.block_number == block

    # anchors
    for digest, fn, read in (
        (root, "anchorOf", ours.anchor_of),
        (missing, "anchorOf", ours.anchor_of),
        (document, "documentOf", ours.document_of),
    ):
        issuer_raw, by, count, timestamp, number = getattr(certificates.functions, fn)(
            digest
        ).call(block_identifier=block)
        mine = read(digest, block=block)
        if mine is None:
            assert number == 0
            continue
        assert (bytes(issuer_raw), by, count, timestamp, number) == (
            who, mine.by, mine.leaf_count, mine.timestamp, mine.block_number
        )

    # certificate statuses (one at a time and many at once)
    for leaf in [*leaves, missing]:
        status, reason, number, timestamp, superseded_by = certificates.functions.statusOf(
            who, leaf
        ).call(block_identifier=block)
        mine_status = ours.status_of(uscc, leaf, block=block)
        assert ChainStatus(status) == mine_status.status
        assert reason == mine_status.reason
        assert (number or None, timestamp or None) == (
            mine_status.block_number, mine_status.timestamp
        )
        assert (bytes(superseded_by) if any(superseded_by) else None) == mine_status.superseded_by
    assert ours.status_of(uscc, leaves[0]).status is ChainStatus.REVOKED
    snapshot = ours.snapshot(roots=[root], leaves=[(uscc, x) for x in leaves],
                             keys=[(uscc, key_id), (uscc, retired)], block=block)
    many = certificates.functions.statusesOf([who] * 3, leaves).call(block_identifier=block)
    assert [ChainStatus(s[0]) for s in many] == [
        snapshot.statuses[(uscc, x)].status for x in leaves
    ]

    # the issuer and its keys
    assert issuers.functions.issuerStatus(who).call() == int(ours.issuer_status(uscc))
    assert issuers.functions.issuerOf(issuer.account.address).call().rstrip(b"\0").decode() == (
        ours.issuer_of(issuer.account.address)
    )
    assert [bytes(k) for k in issuers.functions.keyIds(who).call()] == ours.key_ids(uscc)
    for kid in (key_id, retired, missing):
        valid_from, valid_until, compromised_at, exists = issuers.functions.keyRecord(
            who, kid
        ).call(block_identifier=block)
        record = ours.key_record(uscc, kid, block=block)
        assert exists == (record is not None)
        if record is not None:
            assert (valid_from, valid_until or None, compromised_at or None) == (
                record.valid_from, record.valid_until, record.compromised_at
            )
            assert snapshot.keys[(uscc, kid)] == record
        for when in (600, 2_000, 5_000):
            assert issuers.functions.keyValidAt(who, kid, when).call() == ours.key_valid_at(
                uscc, kid, when
            )

    # events: web3 decodes the logs by the ABI, the project by its own decoder
    published = issuers.events.KeyAdded.get_logs(
        from_block=deployment.block, argument_filters={"issuer": who}
    )
    assert {bytes(e["args"]["keyId"]): bytes(e["args"]["publicKey"]) for e in published
            if e["args"]["publicKey"]} == ours.published_keys(uscc)
    theirs = []
    for contract in (certificates, issuers):
        for event in contract.all_events():
            for log in event.get_logs(from_block=deployment.block, to_block=block):
                if bytes(log["args"].get("issuer", b"")) == who:
                    theirs.append((log["blockNumber"], log["logIndex"], log["event"],
                                   log["transactionHash"].to_0x_hex()))
    mine_events = ours.history_of_issuer(uscc)
    assert sorted(theirs) == [
        (e.block_number, e.log_index, e.name, e.tx_hash) for e in mine_events
    ]
    assert {"RootAnchored", "StatusChanged", "Superseded", "KeyAdded", "DocumentAnchored",
            "IssuerRegistered", "AccountAdded"} <= {name for _, _, name, _ in theirs}
    for e in mine_events:
        if e.name == "RootAnchored":
            assert e.args["root"] == root and e.args["leafCount"] == 3
