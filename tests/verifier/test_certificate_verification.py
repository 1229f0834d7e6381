"""Verifying certificate documents (``verifier.checks.certificates``) against the real devnet.

Every test issues real certificates (SQLite, one test also PostgreSQL), signs them with real
SM2 keys, anchors them with the batcher and judges them with a read-only ``RegistryClient`` — the
verifier's view of the chain. The clock of the validity check is pinned; chain time is real.
"""

from __future__ import annotations

import copy
import datetime as dt
import http.server
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certs.batcher import Batcher
from certs.canonical import (
    ALWAYS_DISCLOSED,
    MAX_DOCUMENT_BYTES,
    Anchor,
    CertificateDocument,
    HiddenClaim,
    disclose,
    recompute_leaf,
)
from certs.issuance import PARALLEL_THRESHOLD, IssuerProfile, issue, key_id_of
from certs.merkle import MerkleTree
from certs.status import CertificateRecord, change_status, load_record, load_records
from certs.store import Store, metadata
from chain.errors import ChainUnavailable
from chain.registry import Deployment, RegistryClient, deploy_contracts
from chain.rpc import Rpc
from chain.transactions import TransactionSender
from seals.sm2 import KeySigner, generate_private_key, sm3
from tests.certs.samples import business_licence_request
from tests.conftest import Accounts, free_port, make_uscc
from tests.postgres import postgres_server
from verifier.app.catalogue import authorize_everywhere, publish_catalogue
from verifier.checks.authority import entitlements
from verifier.checks.certificates import local_checks, verify_certificate_text, verify_documents
from verifier.checks.verdict import Fragment, Outcome, Status, Verdict
from verifier.cli.exits import exit_status_of_outcome
from verifier.index.indexer import Indexer, IndexerLagging

TODAY = dt.date(2026, 11, 28)
TYPE = "11100000000013338W032"
HOLDER_NAME = "张三"
HOLDER_CODE = "11010519491231002X"
LOCAL = (
    "certificate.format",
    "certificate.integrity",
    "certificate.signature",
    "certificate.merkle_proof",
    "certificate.validity",
)
CHAIN = ("chain.anchored", "issuer.authorized", "issuer.key", "certificate.status")


def request(name: str = HOLDER_NAME, code: str = HOLDER_CODE, **extra: Any) -> dict[str, Any]:
    return {
        "type": TYPE,
        "holder": {"name": name, "code": code, "code_type": "111"},
        "issue_date": "2026-11-28",
        "valid_from": "2026-11-28",
        "valid_until": "2031-11-27",
        "jurisdiction": "360100",
        "fields": {"事项": "示例"},
        **extra,
    }


@dataclass
class Agency:
    """An issuer registered on the devnet: its chain client and its signing profile."""

    uscc: str
    registry: RegistryClient
    profile: IssuerProfile

    @property
    def key_id(self) -> bytes:
        return key_id_of(self.profile.signer.public_key)


def make_agency(
    rpc: Rpc,
    deployment: Deployment,
    admin: TransactionSender,
    accounts: Accounts,
    *,
    register_key: bool = True,
    key_valid_from: int = 0,
    authorize: bool = True,
) -> Agency:
    """Register a fresh issuer with its own account and (by default) its SM2 key."""
    uscc = make_uscc()
    account = accounts.new()
    governing = RegistryClient(rpc, deployment, admin)
    governing.register_issuer(uscc, "示例市市场监督管理局")
    governing.add_account(uscc, account.address)
    if authorize:
        authorize_everywhere(governing, uscc)
    signer = KeySigner(generate_private_key())
    own = RegistryClient(rpc, deployment, account)
    if register_key:
        own.add_key(uscc, key_id_of(signer.public_key), key_valid_from, None,
                    signer.public_key.point)
    return Agency(uscc, own, IssuerProfile(uscc, "示例市市场监督管理局", signer))


def issue_records(
    store: Store, agency: Agency, rows: list[dict[str, Any]], *, anchor: bool = True
) -> list[CertificateRecord]:
    report = issue(store, agency.profile, list(enumerate(rows, start=1)), today=TODAY)
    assert not report.rejected, report.rejected
    if anchor:
        Batcher(store, lambda _: agency.registry).run_once()
    return load_records(store, [a.identifier for a in report.accepted])


def text_of(record: CertificateRecord) -> str:
    return record.document.to_json()


def check(verdict: Verdict, name: str) -> Fragment:
    found = [f for f in verdict.checks if f.name == name]
    assert len(found) == 1, f"{name} in {[f.name for f in verdict.checks]}"
    return found[0]


def invalid_checks(verdict: Verdict) -> set[str]:
    return {f.name for f in verdict.checks if f.status is Status.INVALID}


def one(text: str | bytes, verifier: RegistryClient) -> Verdict:
    verdicts, _ = verify_documents([text], verifier, today=TODAY)
    return verdicts[0]


def summary(verdict: Verdict) -> tuple[str, list[tuple[str, str, str]]]:
    return verdict.outcome.value, [(f.name, f.status.value, f.reason) for f in verdict.checks]


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture
def verifier(rpc: Rpc, deployment: Deployment) -> RegistryClient:
    """The verifier's client: reads only, no account."""
    return RegistryClient(rpc, deployment)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(f"sqlite:///{tmp_path / 'z.sqlite3'}")
    yield opened
    opened.engine.dispose()


@pytest.fixture
def agency(
    rpc: Rpc, deployment: Deployment, admin: TransactionSender, accounts: Accounts
) -> Agency:
    return make_agency(rpc, deployment, admin, accounts)


@dataclass
class Batch:
    """Three certificates anchored in one batch (so every proof has steps)."""

    agency: Agency
    records: list[CertificateRecord]

    @property
    def text(self) -> str:
        return text_of(self.records[0])


@pytest.fixture(scope="module")
def batch(
    rpc: Rpc,
    deployment: Deployment,
    admin: TransactionSender,
    accounts: Accounts,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Batch]:
    opened = Store.open(f"sqlite:///{tmp_path_factory.mktemp('batch') / 'z.sqlite3'}")
    agency = make_agency(rpc, deployment, admin, accounts)
    records = issue_records(opened, agency, [request(), request("李四"), request("王五")])
    for record in records:
        assert record.document.anchor is not None and record.document.anchor.proof.steps
    yield Batch(agency, records)
    opened.engine.dispose()


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        opened = Store.open(f"sqlite:///{tmp_path / 'z.sqlite3'}")
    else:
        opened = Store.open(request.getfixturevalue("postgres_url"))
    yield opened
    if request.param == "postgresql":
        with opened.engine.begin() as connection:
            metadata.drop_all(connection)
            connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    opened.engine.dispose()


# ---------------------------------------------------------------------- valid certificates


def test_fresh_certificate_is_valid_at_a_stated_block(
    any_store: Store, agency: Agency, verifier: RegistryClient
) -> None:
    (record,) = issue_records(any_store, agency, [request()])
    anchor = record.document.anchor
    assert anchor is not None and record.status == "active"
    before = verifier.block_number()

    verdicts, block = verify_documents([text_of(record)], verifier, today=TODAY)

    (verdict,) = verdicts
    assert verdict.outcome is Outcome.VALID and exit_status_of_outcome(verdict.outcome) == 0
    assert [f.name for f in verdict.checks] == [*LOCAL, *CHAIN]
    assert {f.name: f.status for f in verdict.checks} == dict.fromkeys([*LOCAL, *CHAIN],
                                                                       Status.VALID)
    assert block is not None and block >= before >= anchor.block
    for name in CHAIN:
        assert check(verdict, name).data["block"] == block
    anchored = check(verdict, "chain.anchored")
    assert anchored.data["anchored_block"] == anchor.block
    assert agency.uscc in anchored.reason and f"block {anchor.block}" in anchored.reason
    assert check(verdict, "certificate.signature").data["key_id"] == agency.key_id.hex()
    assert check(verdict, "certificate.validity").reason == "valid from 2026-11-28 until 2031-11-27"
    subject = verdict.subject
    assert subject["identifier"] == record.identifier
    assert subject["issuer.code"] == agency.uscc
    assert subject["holder.name"] == "张*"
    assert subject["holder.code"] == "1101**********002X"
    assert subject["hidden"] == []
    shown = json.dumps(verdict.to_json(), ensure_ascii=False)
    assert HOLDER_NAME not in shown and HOLDER_CODE not in shown  # masked everywhere

    single = verify_certificate_text(text_of(record).encode(), lambda: verifier, today=TODAY)
    assert single.outcome is Outcome.VALID
    assert single.subject["chain"]["chain_id"] == 3005
    assert single.subject["chain"]["block"] >= block


def test_validity_period_is_judged_on_the_given_day(batch: Batch, verifier: RegistryClient) -> None:
    early, _ = verify_documents([batch.text], verifier, today=dt.date(2026, 11, 27))
    late, _ = verify_documents([batch.text], verifier, today=dt.date(2031, 11, 28))
    last, _ = verify_documents([batch.text], verifier, today=dt.date(2031, 11, 27))
    assert check(early[0], "certificate.validity").reason == "not valid before 2026-11-28"
    assert check(late[0], "certificate.validity").reason == "expired on 2031-11-27"
    assert invalid_checks(early[0]) == invalid_checks(late[0]) == {"certificate.validity"}
    assert last[0].outcome is Outcome.VALID


# -------------------------------------------------------------------- selective disclosure


def test_hidden_holder_claims_still_verify_and_are_listed(
    batch: Batch, verifier: RegistryClient
) -> None:
    document = CertificateDocument.from_json(batch.text)
    shown = disclose(document, ["holder.code", "holder.name"])
    claims = shown.to_dict()["claims"]
    assert claims["holder.name"].keys() == claims["holder.code"].keys() == {"digest"}
    assert HOLDER_NAME not in shown.to_json() and HOLDER_CODE not in shown.to_json()

    verdict = one(shown.to_json(), verifier)

    assert verdict.outcome is Outcome.VALID
    integrity = check(verdict, "certificate.integrity")
    assert integrity.status is Status.VALID
    assert integrity.reason.endswith("hidden by the holder: holder.code, holder.name")
    assert integrity.data["hidden"] == ["holder.code", "holder.name"]
    assert verdict.subject["hidden"] == ["holder.code", "holder.name"]
    assert "holder.name" not in verdict.subject and "holder.code" not in verdict.subject
    assert verdict.subject["identifier"] == batch.records[0].identifier

    name_only = one(disclose(document, ["holder.name"]).to_json(), verifier)
    assert name_only.outcome is Outcome.VALID
    assert "holder.name" not in name_only.subject
    assert name_only.subject["holder.code"] == "1101**********002X"


def test_a_document_hiding_what_it_is_or_when_it_is_valid_is_not_accepted(
    batch: Batch, verifier: RegistryClient
) -> None:
    """Issue #14 item 3/4: hidden dates once skipped the validity check and the banner still
    said 证照真实有效. Type, issuer, identifier and validity can no longer be hidden; a
    document hiding one anyway (made by hand: disclose() refuses) is not a certificate."""
    document = CertificateDocument.from_json(batch.text)
    for path in ALWAYS_DISCLOSED:
        claims = dict(document.claims)
        claims[path] = HiddenClaim(document.claims[path].digest(path))  # type: ignore[union-attr]
        forged = replace(document, claims=claims)
        verdict = one(forged.to_json(), verifier)
        assert verdict.outcome is Outcome.INVALID, path
        fragment = check(verdict, "certificate.format")
        assert fragment.data["code"] == "claim_must_be_disclosed"
        assert "必须公开" in fragment.reason_zh

    everything = disclose(document, [p for p in document.claims if p not in ALWAYS_DISCLOSED])
    verdict = one(everything.to_json(), verifier)
    assert verdict.outcome is Outcome.VALID  # proves existence and what it is, nothing more
    assert check(verdict, "certificate.validity").status is Status.VALID
    assert "holder.name" not in verdict.subject and "number" not in verdict.subject
    assert {"identifier", "type.name", "issuer.name", "valid_from", "valid_until"} <= set(
        verdict.subject
    )


# -------------------------------------------------------------------------------- tampering


def _flip(hex_text: str, at: int = -1) -> str:
    """The hex text with one digit changed."""
    i = at % len(hex_text)
    return hex_text[:i] + ("0" if hex_text[i] != "0" else "1") + hex_text[i + 1 :]


def _value(doc: dict[str, Any], _: Batch) -> None:
    doc["claims"]["holder.name"]["value"] = "李四"


def _value_and_leaf(doc: dict[str, Any], _: Batch) -> None:
    doc["claims"]["fields.事项"]["value"] = "另一事项"
    leaf, _hidden = recompute_leaf(CertificateDocument.from_dict(doc))
    doc["leaf"] = leaf.hex()  # consistent claims, but not what the issuer signed


def _salt(doc: dict[str, Any], _: Batch) -> None:
    doc["claims"]["holder.code"]["salt"] = _flip(doc["claims"]["holder.code"]["salt"])


def _hidden_digest(doc: dict[str, Any], _: Batch) -> None:
    hidden = disclose(CertificateDocument.from_dict(doc), ["holder.code"]).to_dict()
    doc["claims"] = hidden["claims"]
    doc["claims"]["holder.code"]["digest"] = _flip(doc["claims"]["holder.code"]["digest"], 7)


def _claim_added(doc: dict[str, Any], _: Batch) -> None:
    doc["claims"]["fields.备注"] = {"salt": "00" * 16, "value": "追加"}


def _leaf(doc: dict[str, Any], _: Batch) -> None:
    doc["leaf"] = _flip(doc["leaf"])


def _proof_step(doc: dict[str, Any], _: Batch) -> None:
    doc["anchor"]["proof"][0] = _flip(doc["anchor"]["proof"][0])


def _proof_side(doc: dict[str, Any], _: Batch) -> None:
    step = doc["anchor"]["proof"][0]
    doc["anchor"]["proof"][0] = ("R" if step[0] == "L" else "L") + step[1:]


def _sibling_anchor(doc: dict[str, Any], batch: Batch) -> None:
    doc["anchor"] = json.loads(text_of(batch.records[1]))["anchor"]


def _root(doc: dict[str, Any], _: Batch) -> None:
    doc["anchor"]["root"] = _flip(doc["anchor"]["root"])


def _signature_bytes(doc: dict[str, Any], _: Batch) -> None:
    doc["signature"]["value"] = _flip(doc["signature"]["value"])


def _other_key(doc: dict[str, Any], _: Batch) -> None:
    other = generate_private_key().public_key.point
    doc["signature"]["public_key"] = other.hex()
    doc["signature"]["key_id"] = sm3(other).hex()


def _public_key_only(doc: dict[str, Any], _: Batch) -> None:
    doc["signature"]["public_key"] = generate_private_key().public_key.point.hex()


def _resigned_by_forger(doc: dict[str, Any], _: Batch) -> None:
    """A forger changes a value and signs the new leaf with a key of its own."""
    _value_and_leaf(doc, _)
    forger = KeySigner(generate_private_key())
    key_id = key_id_of(forger.public_key)
    value = forger.sign_raw(CertificateDocument.from_dict(doc).signing_input(key_id))
    doc["signature"] = {
        "key_id": key_id.hex(),
        "public_key": forger.public_key.point.hex(),
        "value": value.hex(),
    }


TAMPERING: dict[str, tuple[Callable[[dict[str, Any], Batch], None], set[str]]] = {
    "disclosed value": (_value, {"certificate.integrity"}),
    "value with recomputed leaf": (
        _value_and_leaf,
        {"certificate.signature", "certificate.merkle_proof"},
    ),
    "salt": (_salt, {"certificate.integrity"}),
    "hidden digest": (_hidden_digest, {"certificate.integrity"}),
    "claim added": (_claim_added, {"certificate.integrity"}),
    "leaf": (
        _leaf,
        {"certificate.integrity", "certificate.signature", "certificate.merkle_proof"},
    ),
    "proof step": (_proof_step, {"certificate.merkle_proof"}),
    "proof side": (_proof_side, {"certificate.merkle_proof"}),
    "another certificate's anchor": (_sibling_anchor, {"certificate.merkle_proof"}),
    "root": (_root, {"certificate.merkle_proof", "chain.anchored"}),
    "signature bytes": (_signature_bytes, {"certificate.signature"}),
    "other public key and key id": (_other_key, {"certificate.signature", "issuer.key"}),
    "public key not matching key id": (_public_key_only, {"certificate.signature"}),
    "re-signed by a forger": (
        _resigned_by_forger,
        {"certificate.merkle_proof", "issuer.key"},
    ),
}


@pytest.mark.parametrize("case", list(TAMPERING))
def test_tampering_is_caught_by_the_right_check(
    case: str, batch: Batch, verifier: RegistryClient
) -> None:
    tamper, expected = TAMPERING[case]
    doc = json.loads(batch.text)
    tamper(doc, batch)
    text = json.dumps(doc, ensure_ascii=False)
    assert text != batch.text

    verdict = one(text, verifier)

    assert verdict.outcome is Outcome.INVALID and exit_status_of_outcome(verdict.outcome) == 1
    assert invalid_checks(verdict) == expected
    assert not any(f.status is Status.ERROR for f in verdict.checks)
    assert check(verdict, "certificate.format").status is Status.VALID
    assert one(batch.text, verifier).outcome is Outcome.VALID  # the original still is


def test_pending_document_is_not_valid_until_anchored(
    store: Store, agency: Agency, verifier: RegistryClient
) -> None:
    (record,) = issue_records(store, agency, [request()], anchor=False)
    assert record.status == "pending" and record.document.anchor is None

    verdict = one(text_of(record), verifier)

    assert verdict.outcome is Outcome.INVALID
    proof = check(verdict, "certificate.merkle_proof")
    assert proof.status is Status.INVALID and "not anchored" in proof.reason
    assert {check(verdict, n).status for n in CHAIN} == {Status.SKIPPED}
    assert check(verdict, "certificate.signature").status is Status.VALID
    assert check(verdict, "certificate.integrity").status is Status.VALID

    Batcher(store, lambda _: agency.registry).run_once()
    assert one(text_of(load_record(store, record.identifier)), verifier).outcome is Outcome.VALID


# ---------------------------------------------------------------------------------- status


def test_status_changes_show_in_the_very_next_verification(
    store: Store, agency: Agency, verifier: RegistryClient
) -> None:
    records = issue_records(store, agency, [request(), request("李四"), request("王五")])
    ids = [r.identifier for r in records]
    texts = [text_of(r) for r in records]
    verdicts, _ = verify_documents(texts, verifier, today=TODAY)
    assert [v.outcome for v in verdicts] == [Outcome.VALID] * 3
    reg, uscc = agency.registry, agency.uscc

    revoked = change_status(store, reg, uscc, ids[:1], "revoke", reason_code=1, reason="有误")
    verdict = one(texts[0], verifier)
    status = check(verdict, "certificate.status")
    assert verdict.outcome is Outcome.INVALID and invalid_checks(verdict) == {status.name}
    assert status.reason.startswith(f"revoked in block {revoked.block_number} (reason 1:")
    assert "信息有误" in status.reason
    assert status.data["changed_block"] == revoked.block_number
    assert status.data["block"] >= revoked.block_number

    suspended = change_status(store, reg, uscc, ids[1:2], "suspend", reason_code=7)
    status = check(one(texts[1], verifier), "certificate.status")
    assert status.status is Status.INVALID
    assert status.reason.startswith(f"suspended in block {suspended.block_number} (reason 7:")
    assert "核查中" in status.reason

    change_status(store, reg, uscc, ids[1:2], "reinstate", reason="核查完毕")
    assert one(texts[1], verifier).outcome is Outcome.VALID

    (successor,) = issue_records(store, agency, [request("王五", annotations=["换发"])])
    change_status(store, reg, uscc, ids[2:3], "supersede", reason_code=5,
                  successor=successor.identifier)
    verdicts, _ = verify_documents([*texts, text_of(successor)], verifier, today=TODAY)
    assert [v.outcome for v in verdicts] == [
        Outcome.INVALID, Outcome.VALID, Outcome.INVALID, Outcome.VALID
    ]
    status = check(verdicts[2], "certificate.status")
    assert status.reason.startswith("superseded by a newer certificate in block")
    assert "换发" in status.reason
    assert check(verdicts[0], "certificate.status").reason.startswith("revoked")


def test_the_chain_index_answers_as_the_chain_does_on_both_databases(
    any_store: Store, agency: Agency, verifier: RegistryClient
) -> None:
    """The service judges verifications from its index of the chain's events (SQLite or
    PostgreSQL): the same anchors, statuses and key records as the chain, at the same block."""
    records = issue_records(any_store, agency, [request(), request("李四"), request("王五")])
    ids = [r.identifier for r in records]
    reg, uscc = agency.registry, agency.uscc
    change_status(any_store, reg, uscc, ids[:1], "revoke", reason_code=1, reason="有误")
    change_status(any_store, reg, uscc, ids[1:2], "suspend", reason_code=7)
    indexer = Indexer(any_store, verifier, max_staleness=60)  # a busy machine: not what is tested
    indexer.catch_up()
    anchor = records[0].document.anchor
    assert anchor is not None
    key_id = key_id_of(agency.profile.signer.public_key)
    wanted: dict[str, Any] = {
        "roots": [anchor.root, sm3(b"never anchored")],
        "leaves": [(uscc, r.leaf) for r in records] + [(uscc, sm3(b"no such leaf"))],
        "keys": [(uscc, key_id), (uscc, sm3(b"no such key"))],
    }
    indexed = indexer.snapshot(**wanted)
    chain = verifier.snapshot(**wanted, block=indexed.block)
    assert indexed.block == chain.block == verifier.block_number()
    assert indexed.statuses == chain.statuses
    assert [s.status.name for s in indexed.statuses.values()] == [
        "REVOKED", "SUSPENDED", "ACTIVE", "ACTIVE"
    ]
    assert indexed.keys == chain.keys and indexed.keys[(uscc, key_id)] is not None
    assert indexed.anchors[sm3(b"never anchored")] is chain.anchors[sm3(b"never anchored")] is None
    found, truth = indexed.anchors[anchor.root], chain.anchors[anchor.root]
    assert found is not None and truth is not None
    assert replace(found, by=truth.by) == truth


def test_another_issuer_cannot_change_a_certificates_status(
    store: Store,
    agency: Agency,
    verifier: RegistryClient,
    rpc: Rpc,
    deployment: Deployment,
    admin: TransactionSender,
    accounts: Accounts,
) -> None:
    (record,) = issue_records(store, agency, [request()])
    other = make_agency(rpc, deployment, admin, accounts)
    other.registry.revoke(other.uscc, record.leaf, 3)  # under its own name: no effect
    assert one(text_of(record), verifier).outcome is Outcome.VALID


def test_anchor_by_another_issuer_than_named_is_invalid(
    store: Store,
    agency: Agency,
    verifier: RegistryClient,
    rpc: Rpc,
    deployment: Deployment,
    admin: TransactionSender,
    accounts: Accounts,
) -> None:
    """Issuer B signs a certificate naming issuer A and anchors it under its own name."""
    impostor = make_agency(rpc, deployment, admin, accounts)
    posing = Agency(agency.uscc, impostor.registry,
                    IssuerProfile(agency.uscc, "冒名机关", impostor.profile.signer))
    (record,) = issue_records(store, posing, [request()], anchor=False)
    document = record.document
    tree = MerkleTree.build([document.leaf])
    receipt = impostor.registry.anchor(impostor.uscc, tree.root, 1)
    forged = replace(document, anchor=Anchor(
        tree.root, tree.proof(0), deployment.chain_id, deployment.certificate_registry,
        receipt.tx_hash, receipt.block_number))

    verdict = one(forged.to_json(), verifier)

    assert verdict.outcome is Outcome.INVALID
    anchored = check(verdict, "chain.anchored")
    assert anchored.status is Status.INVALID
    assert impostor.uscc in anchored.reason and agency.uscc in anchored.reason


# ---------------------------------------------------------------------------- key registry


@pytest.mark.parametrize(
    ("action", "offset", "outcome"),
    [
        ("compromised", -3600, Outcome.INVALID),
        ("compromised", 0, Outcome.INVALID),  # at the anchor time: not before it
        ("compromised", 1, Outcome.VALID),  # signatures are judged at signing time
        ("compromised", 86_400, Outcome.VALID),
        ("retired", 0, Outcome.INVALID),
        ("retired", 1, Outcome.VALID),
    ],
)
def test_key_state_is_judged_at_the_anchor_time(
    action: str,
    offset: int,
    outcome: Outcome,
    store: Store,
    agency: Agency,
    verifier: RegistryClient,
) -> None:
    (record,) = issue_records(store, agency, [request()])
    assert record.root is not None
    anchored = verifier.anchor_of(record.root)
    assert anchored is not None
    text = text_of(record)
    assert one(text, verifier).outcome is Outcome.VALID
    cutoff = anchored.timestamp + offset
    if action == "compromised":
        agency.registry.report_key_compromised(agency.uscc, agency.key_id, cutoff)
    else:
        agency.registry.retire_key(agency.uscc, agency.key_id, cutoff)

    verdict = one(text, verifier)

    assert verdict.outcome is outcome
    key = check(verdict, "issuer.key")
    if outcome is Outcome.INVALID:
        assert key.status is Status.INVALID and "not valid when the batch was anchored" in (
            key.reason
        )
        assert invalid_checks(verdict) == {"issuer.key"}
    else:
        assert key.status is Status.VALID


@pytest.mark.parametrize("setup", ["unregistered", "not yet valid"])
def test_key_not_valid_for_the_issuer_is_invalid(
    setup: str,
    store: Store,
    verifier: RegistryClient,
    rpc: Rpc,
    deployment: Deployment,
    admin: TransactionSender,
    accounts: Accounts,
) -> None:
    later = verifier.rpc.call("eth_getBlockByNumber", ["latest", False])["timestamp"]
    agency = make_agency(
        rpc, deployment, admin, accounts,
        register_key=setup != "unregistered", key_valid_from=int(later, 16) + 3600,
    )
    (record,) = issue_records(store, agency, [request()])

    verdict = one(text_of(record), verifier)

    assert verdict.outcome is Outcome.INVALID and invalid_checks(verdict) == {"issuer.key"}
    reason = check(verdict, "issuer.key").reason
    if setup == "unregistered":
        assert reason == f"the signing key is not registered for {agency.uscc}"
    else:
        assert "not valid when the batch was anchored" in reason
    assert check(verdict, "certificate.signature").status is Status.VALID


# ------------------------------------------------------------- authorization (issue #16)

EXAMPLE_NAME = "示例证照"


def _chain_time(rpc: Rpc) -> int:
    return int(rpc.call("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)


@pytest.mark.parametrize("via", ["chain", "index"])
@pytest.mark.parametrize(
    "grant",
    ["none", "another type", "another jurisdiction", "not yet begun", "granted after"],
)
def test_a_certificate_of_an_issuer_not_authorized_for_it_is_invalid(
    grant: str,
    via: str,
    store: Store,
    verifier: RegistryClient,
    rpc: Rpc,
    deployment: Deployment,
    admin: TransactionSender,
    accounts: Accounts,
) -> None:
    """The attack: a registered agency with a registered key signs and anchors a certificate
    of a type (or a jurisdiction, or at a time) it is not entitled to — here by the library,
    bypassing the service's refusal. Every signature and anchor is genuine; only the chain's
    catalogue and grants can say no, and they must."""
    agency = make_agency(rpc, deployment, admin, accounts, authorize=False)
    governing = RegistryClient(rpc, deployment, admin)
    now = _chain_time(rpc)
    if grant == "another type":
        governing.authorize(agency.uscc, "11100000MA0000001Q001", 0)
    elif grant == "another jurisdiction":
        governing.authorize(agency.uscc, TYPE, 0, None, "3602")  # the document says 360100
    elif grant == "not yet begun":
        governing.authorize(agency.uscc, TYPE, now + 3600)
    (record,) = issue_records(store, agency, [request()])
    if grant == "granted after":  # asking for a start long ago blesses nothing before it
        time.sleep(1.1)
        governing.authorize(agency.uscc, TYPE, 0)
    facts: Any = verifier
    if via == "index":
        facts = Indexer(store, verifier, max_staleness=60)
        facts.catch_up()

    verdict = one(text_of(record), facts)

    assert verdict.outcome is Outcome.INVALID
    assert invalid_checks(verdict) == {"issuer.authorized"}
    fragment = check(verdict, "issuer.authorized")
    assert "发证机关无权签发这份证照" in fragment.reason_zh
    assert EXAMPLE_NAME in fragment.reason_zh and "360100" in fragment.reason_zh
    for name in ("certificate.signature", "chain.anchored", "issuer.key"):
        assert check(verdict, name).status is Status.VALID


def test_a_withdrawn_authorization_keeps_earlier_certificates_and_refuses_later_ones(
    store: Store,
    verifier: RegistryClient,
    rpc: Rpc,
    deployment: Deployment,
    admin: TransactionSender,
    accounts: Accounts,
) -> None:
    agency = make_agency(rpc, deployment, admin, accounts, authorize=False)
    governing = RegistryClient(rpc, deployment, admin)
    governing.authorize(agency.uscc, TYPE, 0, None, "3601")
    (before,) = issue_records(store, agency, [request()])
    time.sleep(1.1)  # a withdrawal in the anchor's own second would count against it
    governing.deauthorize(agency.uscc, TYPE)
    (after,) = issue_records(store, agency, [request(name="李四")])

    assert one(text_of(before), verifier).outcome is Outcome.VALID
    late = one(text_of(after), verifier)
    assert late.outcome is Outcome.INVALID and invalid_checks(late) == {"issuer.authorized"}
    assert "was not authorized" in check(late, "issuer.authorized").reason
    # authorized again, asking to start long ago: the gap stays a gap (a grant in the very
    # second of an anchor would cover it: the contract's times are whole seconds)
    time.sleep(1.1)
    governing.authorize(agency.uscc, TYPE, 0)
    assert one(text_of(after), verifier).outcome is Outcome.INVALID


def test_a_type_withdrawn_from_the_catalogue_refuses_later_certificates(
    store: Store,
    verifier: RegistryClient,
    rpc: Rpc,
    deployment: Deployment,
    admin: TransactionSender,
    accounts: Accounts,
) -> None:
    """A fresh deployment of its own: withdrawing a type must not touch the other tests."""
    elsewhere = deploy_contracts(admin)
    national = RegistryClient(rpc, elsewhere, admin)
    publish_catalogue(national)
    agency = make_agency(rpc, elsewhere, admin, accounts)
    reader = RegistryClient(rpc, elsewhere)
    (before,) = issue_records(store, agency, [request()])
    time.sleep(1.1)
    national.withdraw_type(TYPE)
    (after,) = issue_records(store, agency, [request(name="李四")])

    assert one(text_of(before), reader).outcome is Outcome.VALID
    late = one(text_of(after), reader)
    assert late.outcome is Outcome.INVALID and invalid_checks(late) == {"issuer.authorized"}
    assert "已从证照目录中撤销" in check(late, "issuer.authorized").reason_zh


@pytest.mark.parametrize("bulk", [False, True], ids=["one process", "worker processes"])
def test_issuance_refuses_rows_the_issuer_is_not_authorized_for(
    bulk: bool,
    store: Store,
    verifier: RegistryClient,
    rpc: Rpc,
    deployment: Deployment,
    admin: TransactionSender,
    accounts: Accounts,
) -> None:
    agency = make_agency(rpc, deployment, admin, accounts, authorize=False)
    RegistryClient(rpc, deployment, admin).authorize(agency.uscc, TYPE, 0, None, "3601")
    allowed = entitlements(verifier.authorization_events(agency.uscc), agency.uscc)
    licence = business_licence_request()  # 营业执照: not granted
    rows = [request(), request(jurisdiction="110100"), licence, request(name="")]
    if bulk:
        rows += [request()] * (PARALLEL_THRESHOLD - len(rows))

    report = issue(store, agency.profile, list(enumerate(rows, start=1)), today=TODAY,
                   entitlements=allowed, workers=2 if bulk else 1)

    refused = {r.line: [(e.field, e.code) for e in r.errors] for r in report.rejected}
    assert refused == {
        2: [("type", "not_authorized")],
        3: [("type", "not_authorized")],
        4: [("holder.name", "missing_field")],
    }
    (other_place,) = report.rejected[0].errors
    assert "in jurisdiction 110100" in str(other_place)
    assert f"zhengyin issuer authorize --code {agency.uscc}" in str(other_place)
    assert "never authorized for type 11100000MA0000001Q001" in str(report.rejected[1].errors[0])
    assert [a.line for a in report.accepted] == [1, *range(5, len(rows) + 1)]
    # nothing refused took a serial: the accepted ones are numbered 1, 2, 3, …
    serials = sorted(int(a.identifier.split(".")[-3]) for a in report.accepted)
    assert serials == list(range(1, len(report.accepted) + 1))


def test_authorizations_read_across_a_rewind_decide_nothing(
    store: Store, verifier: RegistryClient, rpc: Rpc, deployment: Deployment,
    admin: TransactionSender, accounts: Accounts,
) -> None:
    """Review of #16: the chain facts of a verdict come from one fork of the index; a rewind
    by another worker between reading the anchors and reading the grants must not mix two
    forks (here the rewind is the generation moving on, as a rewind moves it)."""
    agency = make_agency(rpc, deployment, admin, accounts)
    (record,) = issue_records(store, agency, [request()])
    indexer = Indexer(store, verifier, max_staleness=60)
    indexer.catch_up()
    block = indexer.snapshot(roots=[record.document.anchor.root]).block  # type: ignore[union-attr]
    assert indexer.authorization_events(agency.uscc, TYPE, block=block)  # read, and cached
    with store.engine.begin() as connection:
        connection.execute(sa.text("UPDATE chain_cursor SET generation = generation + 1"))
    with pytest.raises(IndexerLagging, match="rewound"):
        indexer.authorization_events(agency.uscc, "11100000MA0000001Q001", block=block)


def _serials_by_type(identifiers: list[str]) -> dict[str, list[int]]:
    """Each type's serials (identifier: 1.2.156.3005.2.<type>.<issuer>.<serial>.<ver>.<c>)."""
    found: dict[str, list[int]] = {}
    for identifier in identifiers:
        parts = identifier.split(".")
        found.setdefault(parts[5], []).append(int(parts[7]))
    return {code: sorted(serials) for code, serials in found.items()}


def _refused(report: Any) -> dict[int, list[tuple[str, str]]]:
    return {r.line: [(e.field, e.code) for e in r.errors] for r in report.rejected}


@pytest.mark.parametrize("bulk", [False, True], ids=["one process", "worker processes"])
def test_issuance_refuses_a_number_given_twice_in_one_request(
    bulk: bool, store: Store, agency: Agency, verifier: RegistryClient
) -> None:
    """Issue #16: the second and later rows with the same number (for the same type) are
    refused with the line that has it; the first is issued. Another type may use it, rows
    without a number are not checked, and a row refused for another reason does not take
    the number. Refused rows take no serial (on worker processes too, where a chunk whose
    every valid row is refused is signed by nobody)."""
    allowed = entitlements(verifier.authorization_events(agency.uscc), agency.uscc)
    licence = business_licence_request()
    licence["number"] = "ZH-0001"
    rows = [
        request(number="ZH-0001"),
        request(number="ZH-0002"),
        request(number="ZH-0001"),  # 3: the number of line 1
        request(),
        licence,  # 5: another type, the same number
        request(number="ZH-0001"),  # 6: again
        request(name="", number="ZH-0003"),  # 7: refused for its name
        request(number="ZH-0003"),  # 8: the first valid row with ZH-0003
    ]
    if bulk:
        rows += [request()] * (PARALLEL_THRESHOLD - 500 - len(rows))
        rows += [request(number="ZH-0002")] * 500  # a whole chunk of duplicates

    report = issue(store, agency.profile, list(enumerate(rows, start=1)), today=TODAY,
                   entitlements=allowed, workers=2 if bulk else 1)

    refused = _refused(report)
    expected = {3: [("number", "duplicate_number")], 6: [("number", "duplicate_number")],
                7: [("holder.name", "missing_field")]}
    if bulk:
        expected.update({line: [("number", "duplicate_number")]
                         for line in range(len(rows) - 499, len(rows) + 1)})
    assert refused == expected
    by_line = {r.line: r.errors[0] for r in report.rejected}
    assert str(by_line[3]).startswith("number: number ZH-0001 is already used by line 1 ")
    assert "line 1 of this request" in str(by_line[6])
    if bulk:
        assert "line 2 of this request" in str(by_line[len(rows)])
    accepted = [a.line for a in report.accepted]
    assert accepted == [1, 2, 4, 5, 8, *range(9, len(rows) - (499 if bulk else -1))]
    # gapless serials, per type, for the accepted rows only
    assert _serials_by_type([a.identifier for a in report.accepted]) == {
        TYPE: list(range(1, len(accepted))), "11100000MA0000001Q001": [1]
    }
    (first,) = load_records(store, [report.accepted[0].identifier])
    assert first.document.values()["number"] == "ZH-0001"


def test_issuance_refuses_a_number_a_certificate_in_force_holds(
    any_store: Store, agency: Agency, verifier: RegistryClient
) -> None:
    """Issue #16, against what is stored (SQLite and PostgreSQL): a pending or an active
    certificate of the issuer holds its number for its type; the refusal names it."""
    (active,) = issue_records(any_store, agency, [request(number="A-1")])
    (pending,) = issue_records(any_store, agency, [request(number="P-1")], anchor=False)
    assert (active.status, pending.status) == ("active", "pending")

    report = issue(any_store, agency.profile, list(enumerate(
        [request(number="A-1"), request(number="P-1"), request(number="N-1"), request()],
        start=1)), today=TODAY)

    assert _refused(report) == {1: [("number", "duplicate_number")],
                                2: [("number", "duplicate_number")]}
    assert f"already held by certificate {active.identifier} (active)" in str(
        report.rejected[0].errors[0])
    assert f"{pending.identifier} (pending)" in str(report.rejected[1].errors[0])
    assert [a.line for a in report.accepted] == [3, 4]
    # the refused rows took no serial: 1 and 2 are the stored ones, then 3, 4
    assert _serials_by_type([a.identifier for a in report.accepted]) == {TYPE: [3, 4]}
    # another issuer's certificates do not count
    other = replace(agency.profile, uscc=make_uscc())
    elsewhere = issue(any_store, other, [(1, request(number="A-1"))], today=TODAY)
    assert not elsewhere.rejected


def test_a_revoked_or_superseded_certificates_number_can_be_given_again(
    store: Store, agency: Agency
) -> None:
    """Issue #16: once revoked, a number is free again; suspended, it is still held; a
    replacement may keep the number of the certificate it supersedes (``reusable``)."""
    revoked, suspended, replaced = issue_records(
        store, agency, [request(number="R-1"), request(number="S-1"), request(number="X-1")]
    )
    change_status(store, agency.registry, agency.uscc, [revoked.identifier], "revoke",
                  reason_code=1, reason="信息有误")
    change_status(store, agency.registry, agency.uscc, [suspended.identifier], "suspend",
                  reason_code=7, reason="暂停")

    again = issue(store, agency.profile, [(1, request(number="R-1")), (2, request(number="S-1"))],
                  today=TODAY)
    assert [a.line for a in again.accepted] == [1]
    assert _refused(again) == {2: [("number", "duplicate_number")]}
    assert "(suspended)" in str(again.rejected[0].errors[0])

    successor = issue(store, agency.profile, [(1, request(number="X-1"))], today=TODAY,
                      reusable=[replaced.identifier])
    assert not successor.rejected and len(successor.accepted) == 1


# -------------------------------------------------------------------- chain not available


class _NotJsonRpc(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = b"<html>maintenance</html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def html_endpoint() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotJsonRpc)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _assert_could_not_check(verdict: Verdict) -> None:
    assert verdict.outcome is Outcome.ERROR and exit_status_of_outcome(verdict.outcome) == 3
    assert {check(verdict, n).status for n in LOCAL} == {Status.VALID}  # they still ran
    for name in CHAIN:
        fragment = check(verdict, name)
        assert fragment.status is Status.ERROR
        assert fragment.reason.startswith("could not read the chain")


def test_unreachable_chain_gives_error_never_a_verdict(
    batch: Batch, deployment: Deployment, html_endpoint: str
) -> None:
    closed = RegistryClient(Rpc(f"http://127.0.0.1:{free_port()}", timeout=1), deployment)
    verdicts, block = verify_documents([batch.text], closed, today=TODAY)
    assert block is None
    _assert_could_not_check(verdicts[0])

    html = RegistryClient(Rpc(html_endpoint, timeout=2), deployment)
    _assert_could_not_check(verify_documents([batch.text], html, today=TODAY)[0][0])

    def unreachable() -> RegistryClient:
        raise ChainUnavailable("the chain at http://127.0.0.1:1 did not answer")

    verdict = verify_certificate_text(batch.text.encode(), unreachable, today=TODAY)
    _assert_could_not_check(verdict)
    assert "did not answer" in check(verdict, "chain.anchored").reason

    # what the document itself shows is still decided: tampering stays invalid
    doc = json.loads(batch.text)
    _leaf(doc, batch)
    tampered = verify_certificate_text(json.dumps(doc).encode(), unreachable, today=TODAY)
    assert tampered.outcome is Outcome.INVALID


def test_contracts_missing_on_the_chain_is_an_error(
    batch: Batch, rpc: Rpc, deployment: Deployment
) -> None:
    """A deployment record pointing at addresses without code (e.g. a wiped devnet)."""
    doc = json.loads(batch.text)
    empty = "0x" + "ab" * 20
    wiped = replace(deployment, issuer_registry="0x" + "cd" * 20, certificate_registry=empty)
    doc["anchor"]["contract"] = empty
    verdicts, _ = verify_documents([json.dumps(doc)], RegistryClient(rpc, wiped), today=TODAY)
    assert verdicts[0].outcome is Outcome.ERROR
    for name in CHAIN:
        fragment = check(verdicts[0], name)
        assert fragment.status is Status.ERROR
        assert "could not read the chain" in fragment.reason
        assert "is the contract deployed" in fragment.reason


# ------------------------------------------------------------------ other chain, contract


def test_document_of_another_deployment_or_chain_is_an_error(
    store: Store,
    verifier: RegistryClient,
    rpc: Rpc,
    deployment: Deployment,
    admin: TransactionSender,
    accounts: Accounts,
    batch: Batch,
) -> None:
    elsewhere = deploy_contracts(admin)
    assert elsewhere.certificate_registry != deployment.certificate_registry
    publish_catalogue(RegistryClient(rpc, elsewhere, admin))
    agency = make_agency(rpc, elsewhere, admin, accounts)
    (record,) = issue_records(store, agency, [request()])
    text = text_of(record)
    assert one(text, RegistryClient(rpc, elsewhere)).outcome is Outcome.VALID  # at home: valid

    verdict = one(text, verifier)

    assert verdict.outcome is Outcome.ERROR
    for name in CHAIN:
        fragment = check(verdict, name)
        assert fragment.status is Status.ERROR
        assert elsewhere.certificate_registry in fragment.reason
        assert deployment.certificate_registry in fragment.reason

    doc = json.loads(batch.text)
    doc["anchor"]["chain_id"] = 1
    other_chain = one(json.dumps(doc), verifier)
    assert other_chain.outcome is Outcome.ERROR
    assert "anchored on chain 1 " in check(other_chain, "chain.anchored").reason


# ---------------------------------------------------------------------------- bad input


def _edit(edit: Callable[[dict[str, Any]], None]) -> Callable[[str], bytes]:
    def make(base: str) -> bytes:
        doc = json.loads(base)
        edit(doc)
        return json.dumps(doc, ensure_ascii=False).encode()

    return make


def _raw(data: bytes) -> Callable[[str], bytes]:
    return lambda _base: data


def _surrogate(where: str) -> Callable[[str], bytes]:
    """A lone surrogate written as a JSON escape into the holder's name or a claim's path:
    valid JSON, no text (it once made the API answer 500)."""

    def make(base: str) -> bytes:
        name = json.loads(base)["claims"]["holder.name"]["value"]
        if where == "value":
            return base.replace(f'"{name}"', f'"{name[0]}\\ud800{name[1:]}"', 1).encode()
        return base.replace('"fields.', '"fields.\\udc00', 1).encode()

    return make


def _float_block(base: str) -> bytes:
    doc = json.loads(base)
    return base.replace(f'"block":{doc["anchor"]["block"]}', f'"block":{doc["anchor"]["block"]}.0'
                        ).encode()


def _duplicate_leaf(base: str) -> bytes:
    return base.replace('"leaf":', '"leaf":"' + "00" * 32 + '","leaf":', 1).encode()


def _huge(base: str) -> bytes:
    doc = json.loads(base)
    doc["claims"]["fields.事项"]["value"] = "x" * MAX_DOCUMENT_BYTES
    return json.dumps(doc).encode()


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        *head, last = path.split("/")
        target = doc
        for part in head:
            target = target[part]
        target[last] = value

    return edit


def _delete_claim(doc: dict[str, Any]) -> None:
    del doc["claims"]["holder.code"]


GARBAGE: dict[str, tuple[Callable[[str], bytes], str, str]] = {
    "empty": (_raw(b""), "not valid JSON", "document_malformed"),
    "not JSON": (_raw(b"this is not JSON"), "not valid JSON", "document_malformed"),
    "not UTF-8": (_raw(b"\xff\xfe\xfd{"), "not valid JSON", "document_malformed"),
    "JSON array": (_raw(b"[]"), "must be a JSON object", "document_malformed"),
    "JSON string": (_raw(b'"zhengyin-cert/1"'), "must be a JSON object", "document_malformed"),
    "JSON null": (_raw(b"null"), "must be a JSON object", "document_malformed"),
    "deep nesting": (_raw(b"[" * 100_000), "not valid JSON", "document_malformed"),
    "NaN": (_raw(b'{"format": NaN}'), "non-integer number NaN", "document_malformed"),
    "lone surrogate in a value": (_surrogate("value"), "lone surrogate", "document_malformed"),
    "lone surrogate in a path": (_surrogate("path"), "lone surrogate", "document_malformed"),
    "huge": (_huge, f"larger than {MAX_DOCUMENT_BYTES} bytes", "document_malformed"),
    "newer format version": (
        _edit(_set("format", "zhengyin-cert/3")),
        "'zhengyin-cert/3' is not supported",
        "document_version_unsupported",
    ),
    "format 1 (signed the leaf only)": (
        _edit(_set("format", "zhengyin-cert/1")),
        "'zhengyin-cert/1' is not supported",
        "document_version_unsupported",
    ),
    "other format": (_edit(_set("format", "vc/1")), '"format": "zhengyin-cert/2"',
                     "document_malformed"),
    "other algorithms": (
        _edit(_set("alg/digest", "sha256")),
        "algorithms",
        "document_algorithm_unsupported",
    ),
    "float": (_float_block, "non-integer number", "document_malformed"),
    "exponent": (_edit(_set("anchor/chain_id", 3.005e3)), "non-integer number",
                 "document_malformed"),
    "duplicate member": (_duplicate_leaf, "repeats the member name 'leaf'", "document_malformed"),
    "extra member": (_edit(_set("status", "active")), "unexpected status", "document_malformed"),
    "missing claim": (_edit(_delete_claim), "lacks the claims holder.code", "document_malformed"),
    "unknown claim path": (
        _edit(_set("claims/holder.phone", {"salt": "00" * 16, "value": "1"})),
        "unknown path 'holder.phone'",
        "unknown_path",
    ),
    "upper-case hex": (_edit(_set("leaf", "AB" * 32)), "leaf must be 64 lower-case hex",
                       "document_malformed"),
    "boolean chain id": (_edit(_set("anchor/chain_id", True)), "chain_id must be a non-negative",
                         "document_malformed"),
    "huge integer": (_edit(_set("anchor/block", 2**64)), "block must be a non-negative",
                     "document_malformed"),
    "long proof": (_edit(_set("anchor/proof", ["L:" + "00" * 32] * 65)), "at most 64 steps",
                   "document_malformed"),
}


@pytest.mark.parametrize("case", list(GARBAGE))
def test_garbage_is_invalid_with_a_clear_reason(
    case: str, batch: Batch, verifier: RegistryClient
) -> None:
    make, says, code = GARBAGE[case]
    data = make(batch.text)

    verdict = verify_certificate_text(data, lambda: verifier, today=TODAY)

    assert verdict.outcome is Outcome.INVALID
    fmt = verdict.checks[0]
    assert fmt.name == "certificate.format" and fmt.status is Status.INVALID
    assert fmt.reason.startswith("not a certificate document: ")
    assert says in fmt.reason
    assert fmt.data["code"] == code
    assert [f.name for f in verdict.checks] == ["certificate.format", *CHAIN]
    assert {check(verdict, n).status for n in CHAIN} == {Status.SKIPPED}
    assert local_checks(data, TODAY).fragments == (fmt,)


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    _containers,
    max_leaves=20,
)
_FUZZ = settings(max_examples=150, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])


@_FUZZ
@given(data=st.binary(max_size=2_000))
def test_random_bytes_never_raise(data: bytes, batch: Batch, verifier: RegistryClient) -> None:
    verdict = verify_certificate_text(data, lambda: verifier, today=TODAY)
    assert verdict.outcome is Outcome.INVALID
    json.dumps(verdict.to_json())


@_FUZZ
@given(value=_json)
def test_random_json_never_raises(value: Any, verifier: RegistryClient) -> None:
    data = json.dumps(value).encode()
    verdict = verify_certificate_text(data, lambda: verifier, today=TODAY)
    assert verdict.outcome is Outcome.INVALID


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, (*prefix, i))
    return out


# where a document only informs (the chain's record is what counts): any value that reads
INFORMATIONAL = {("anchor", "block"), ("anchor", "tx_hash")}


@_FUZZ
@given(choice=st.data(), value=_json)
def test_random_edits_of_a_valid_document_never_raise_or_pass(
    choice: st.DataObject, value: Any, batch: Batch, verifier: RegistryClient
) -> None:
    original = json.loads(batch.text)
    paths = [p for p in _paths(original) if p]
    path = choice.draw(st.sampled_from(paths))
    doc = copy.deepcopy(original)
    target = doc
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    verdict = verify_certificate_text(json.dumps(doc).encode(), lambda: verifier, today=TODAY)
    json.dumps(verdict.to_json())
    if doc != original and path not in INFORMATIONAL:
        assert verdict.outcome is not Outcome.VALID, (path, value)


# ---------------------------------------------------------------------------- many at once


def test_many_documents_at_once_match_one_by_one(
    store: Store,
    verifier: RegistryClient,
    rpc: Rpc,
    deployment: Deployment,
    admin: TransactionSender,
    accounts: Accounts,
) -> None:
    a = make_agency(rpc, deployment, admin, accounts)
    b = make_agency(rpc, deployment, admin, accounts)
    first = issue_records(store, a, [request(f"张{i}") for i in range(24)])
    second = issue_records(store, b, [request(f"李{i}") for i in range(24)])
    change_status(store, a.registry, a.uscc, [r.identifier for r in first[:3]], "revoke",
                  reason_code=1)
    change_status(store, b.registry, b.uscc, [r.identifier for r in second[:2]], "suspend",
                  reason_code=7)
    (pending,) = issue_records(store, a, [request("赵六")], anchor=False)
    texts = [text_of(r) for r in [*first, *second]]
    texts[10] = texts[10].replace('"value":"张10"', '"value":"张11"')  # tampered
    assert texts[10] != text_of(first[10])
    texts[30] = disclose(CertificateDocument.from_json(texts[30]), ["holder.name"]).to_json()
    texts += [text_of(pending), "not a certificate"]

    together, block = verify_documents(texts, verifier, today=TODAY)
    apart = [verify_documents([t], verifier, today=TODAY)[0][0] for t in texts]

    assert len(together) == len(texts) == 50
    assert [summary(v) for v in together] == [summary(v) for v in apart]
    outcomes = [v.outcome for v in together]
    invalid = {i for i, o in enumerate(outcomes) if o is Outcome.INVALID}
    assert invalid == {0, 1, 2, 10, 24, 25, 48, 49}
    assert outcomes.count(Outcome.VALID) == 42
    for i, record in enumerate([*first, *second]):
        assert together[i].subject["identifier"] == record.identifier  # order kept
    assert {check(together[i], "certificate.status").data["block"] for i in (0, 5, 30)} == {
        block
    }


def test_local_checks_on_every_core_match_one_process(
    batch: Batch, verifier: RegistryClient
) -> None:
    """Large calls run the local checks in worker processes; the verdicts are the same."""
    doc = json.loads(batch.text)
    _value(doc, batch)
    texts = [batch.text, json.dumps(doc, ensure_ascii=False), "[]"] * 700
    parallel, block = verify_documents(texts, verifier, today=TODAY, workers=2)
    serial, _ = verify_documents(texts, verifier, today=TODAY, workers=1)
    assert [summary(v) for v in parallel] == [summary(v) for v in serial]
    assert [v.outcome for v in parallel[:3]] == [Outcome.VALID, Outcome.INVALID, Outcome.INVALID]
    assert block is not None


# ------------------------------------------------------------------------ Chinese reasons


def test_every_check_has_a_chinese_reason_for_the_counter(
    store: Store, agency: Agency, verifier: RegistryClient, batch: Batch, deployment: Deployment
) -> None:
    """The counter clerk reads ``reason_zh``: every fragment of every kind of verdict has
    one, in Chinese, with the facts the English reason has (and no more personal data)."""
    import re

    from certs import qr
    from verifier.checks.certificates import verify_qr

    cjk = re.compile(r"[\u4e00-\u9fff]")

    def chinese(verdict: Verdict) -> dict[str, str]:
        assert verdict.checks
        for fragment in verdict.checks:
            assert fragment.reason_zh and cjk.search(fragment.reason_zh), fragment
            assert fragment.to_json()["reason_zh"] == fragment.reason_zh
            assert fragment.reason and fragment.reason != fragment.reason_zh
        shown = json.dumps(verdict.to_json(), ensure_ascii=False)
        assert HOLDER_NAME not in shown and HOLDER_CODE not in shown
        return {f.name: f.reason_zh for f in verdict.checks}

    records = issue_records(store, agency, [request(), request("李四"), request("王五")])
    texts = [text_of(r) for r in records]
    anchor = records[0].document.anchor
    assert anchor is not None

    valid = one(texts[0], verifier)
    assert valid.outcome is Outcome.VALID
    zh = chinese(valid)
    assert agency.uscc in zh["chain.anchored"] and f"区块 {anchor.block}" in zh["chain.anchored"]
    assert zh["certificate.validity"] == "在有效期内：2026-11-28 至 2031-11-27"
    assert zh["certificate.status"].startswith("状态正常")
    assert zh["certificate.integrity"].startswith(f"全部 {len(records[0].document.claims)} 项")
    # the English reasons are what they always were
    assert check(valid, "certificate.validity").reason == "valid from 2026-11-28 until 2031-11-27"

    hidden = one(disclose(records[0].document, ["holder.code"]).to_json(), verifier)
    assert chinese(hidden)["certificate.integrity"].endswith("持证人未披露：holder.code")
    expired = verify_documents([texts[0]], verifier, today=dt.date(2031, 11, 28))[0][0]
    assert "已过期" in chinese(expired)["certificate.validity"]
    assert "2031-11-27" in chinese(expired)["certificate.validity"]

    reg, uscc = agency.registry, agency.uscc
    revoked = change_status(store, reg, uscc, [records[0].identifier], "revoke", reason_code=1,
                            reason="有误")
    status = check(one(texts[0], verifier), "certificate.status")
    assert status.reason.startswith(f"revoked in block {revoked.block_number} (reason 1:")
    assert status.reason_zh.startswith("已吊销")
    assert f"区块 {revoked.block_number}" in status.reason_zh
    assert "原因 1：信息有误" in status.reason_zh and "不能作为有效证照使用" in status.reason_zh
    chinese(one(texts[0], verifier))

    suspended = change_status(store, reg, uscc, [records[1].identifier], "suspend",
                              reason_code=7)
    status = check(one(texts[1], verifier), "certificate.status")
    assert status.reason_zh.startswith("已暂停")
    assert f"区块 {suspended.block_number}" in status.reason_zh
    assert "原因 7：核查中" in status.reason_zh

    tampered_doc = json.loads(texts[2])
    _value(tampered_doc, batch)
    tampered = one(json.dumps(tampered_doc, ensure_ascii=False), verifier)
    assert tampered.outcome is Outcome.INVALID
    assert "篡改" in chinese(tampered)["certificate.integrity"]

    (pending,) = issue_records(store, agency, [request("赵六")], anchor=False)
    unanchored = chinese(one(text_of(pending), verifier))
    assert "尚未上链" in unanchored["certificate.merkle_proof"]

    for garbage in (b"", b"this is not JSON", b"[]"):
        verdict = verify_certificate_text(garbage, lambda: verifier, today=TODAY)
        assert verdict.outcome is Outcome.INVALID
        assert "不是一份有效的电子证照文件" in chinese(verdict)["certificate.format"]

    payload = qr.payload_for(records[2].document).encode()
    by_qr = verify_qr(payload, verifier)
    assert by_qr.outcome is Outcome.VALID
    assert agency.uscc in chinese(by_qr)["certificate.signature"]
    revoked_qr = verify_qr(qr.payload_for(records[0].document).encode(), verifier)
    assert chinese(revoked_qr)["certificate.status"].startswith("已吊销")
    for text in ("", "hello", "ZY2.ABC", "ZY1.X.Y"):
        bad_qr = verify_qr(text, verifier)
        assert bad_qr.outcome is Outcome.ERROR  # an unreadable scan decides nothing
        assert "无法核验" in chinese(bad_qr)["qr.format"]
    assert "仅支持 ZY2" in chinese(verify_qr("ZY1.X.Y", verifier))["qr.format"]
    assert "重新扫描" in chinese(verify_qr("ZY2.ABC", verifier))["qr.format"]

    def unreachable() -> RegistryClient:
        raise ChainUnavailable("the chain at http://127.0.0.1:1 did not answer")

    closed = RegistryClient(Rpc(f"http://127.0.0.1:{free_port()}", timeout=1), deployment)
    for down in (
        verify_certificate_text(texts[0].encode(), unreachable, today=TODAY),
        verify_documents([texts[0]], closed, today=TODAY)[0][0],
        verify_qr(payload, closed),
    ):
        assert down.outcome is Outcome.ERROR
        zh = chinese(down)
        for name in CHAIN:
            assert zh[name].startswith("无法读取区块链，暂时无法判断"), zh[name]
    # why, in Chinese and by the error's code: never the error's text, which names the node
    down = verify_certificate_text(texts[0].encode(), unreachable, today=TODAY)
    assert chinese(down)["chain.anchored"] == (
        "无法读取区块链，暂时无法判断（核验服务暂时连不上区块链），请稍后重试或联系管理员"
    )
    anchored = next(f for f in down.checks if f.name == "chain.anchored")
    assert "127.0.0.1" not in anchored.reason + anchored.reason_zh
    assert anchored.data["code"] == "chain_unavailable"
    assert "http://127.0.0.1:1" in anchored.data["error"]  # for the operator, not the client


def test_a_machine_that_cannot_check_sm2_never_says_invalid(
    store: Store, agency: Agency, verifier: RegistryClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SM2 code of this machine failing (here: no backend loads, as on a machine without
    the extension, libcrypto's SM2 or gmssl-pyx) says nothing of the certificate: the
    signature check is ERROR and the verdict 'could not decide', for the file and the QR —
    never 'invalid' (review of issue #17: every SealError was read as a bad signature)."""
    from certs import qr
    from seals import sm2
    from seals.errors import Sm2Unavailable
    from verifier.checks.certificates import _public_key, verify_qr

    (record,) = issue_records(store, agency, [request()])
    payload = qr.payload_for(record.document).encode()
    assert one(text_of(record), verifier).outcome is Outcome.VALID
    assert verify_qr(payload, verifier, today=TODAY).outcome is Outcome.VALID

    gone = Sm2Unavailable("no SM2 backend loads on this machine")
    monkeypatch.setattr(sm2, "_backends", dict.fromkeys(sm2._BACKEND_FACTORIES, gone))
    _public_key.cache_clear()  # keys loaded before are bound to the backend that was there
    for verdict in (one(text_of(record), verifier), verify_qr(payload, verifier, today=TODAY)):
        signature = check(verdict, "certificate.signature")
        assert signature.status is Status.ERROR, summary(verdict)
        assert "sm2_unavailable" in signature.reason
        assert verdict.outcome is Outcome.ERROR, summary(verdict)
        assert not invalid_checks(verdict), summary(verdict)
    _public_key.cache_clear()


# ------------------------------------------------------------------ issue #21: what clients read


def test_the_holder_is_masked_by_kind() -> None:
    """A natural person (居民身份证, 111) masked; a legal person (统一社会信用代码, 001) in
    full, as public register data; a holder whose code type is not disclosed, masked."""
    from verifier.checks.certificates import holder_facts

    person = {"holder.name": "张三", "holder.code": "11010519491231002X",
              "holder.code_type": "111"}
    assert holder_facts(person) == {"holder.name": "张*", "holder.code": "1101**********002X",
                                    "holder.code_type": "111"}
    uscc = make_uscc()
    company = {"holder.name": "示例科技有限公司", "holder.code": uscc, "holder.code_type": "001"}
    assert holder_facts(company) == company
    unknown = {"holder.name": "示例科技有限公司", "holder.code": uscc}
    assert holder_facts(unknown) == {"holder.name": "示*******", "holder.code": uscc[:4] + "*"
                                     * (len(uscc) - 8) + uscc[-4:]}
    assert holder_facts({"holder.code_type": "999", "holder.name": "李四"}) == {
        "holder.code_type": "999", "holder.name": "李*"}


@pytest.mark.parametrize(
    ("error", "en", "zh"),
    [
        (ChainUnavailable("the chain at http://10.0.0.7:8545 did not answer: refused"),
         "could not read the chain: the chain node did not answer (chain_unavailable)",
         "无法读取区块链，暂时无法判断（核验服务暂时连不上区块链），请稍后重试或联系管理员"),
        (IndexerLagging("the chain index is not current: chain_unavailable: the chain at "
                        "https://node.example:443 did not answer"),
         "could not read the chain: the service's index of the chain is not current: the "
         "chain node does not answer, or the index is behind (indexer_lagging)",
         "无法读取区块链，暂时无法判断（核验服务暂时连不上区块链，或链上数据尚未同步到最新），"
         "请稍后重试或联系管理员"),
        (RuntimeError("postgresql://zhengyin:secret@db/zhengyin"),
         "could not read the chain: the chain could not be read (chain_error)",
         "无法读取区块链，暂时无法判断（读取区块链时出错），请稍后重试或联系管理员"),
    ],
)
def test_a_chain_error_is_told_by_its_code_never_its_text(
    error: BaseException, en: str, zh: str
) -> None:
    from verifier.checks.certificates import chain_unreadable

    (fragment,) = chain_unreadable(error, [("chain.anchored", "chain")])
    assert (fragment.status, fragment.message) == (Status.ERROR, "chain.unreadable")
    assert (fragment.reason, fragment.reason_zh) == (en, zh)
    assert fragment.data["error"] == str(error)  # kept for the operator, not in the reasons
