"""Confirmations and reorganisations as a counter sees them (issue #19): a certificate judged
through the chain index (``verifier.index``) with ``confirmations`` N is not `valid` until its
anchor is N blocks deep, and a certificate whose anchor was in blocks the chain lost (a
reorganisation: ``evm_snapshot``/``evm_revert``, which anvil and Hardhat's node both offer)
never verifies `valid` after the index has seen the loss. Real SM2 keys, real issuance and
batcher, a private devnet of the run's node (``ZHENGYIN_DEVNET_NODE``), SQLite."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from certs.batcher import Batcher
from certs.canonical import CertificateDocument
from certs.issuance import IssuerProfile, issue, key_id_of
from certs.status import load_records
from certs.store import Store
from chain.registry import RegistryClient
from seals.sm2 import KeySigner, generate_private_key
from tests.conftest import mine, private_chain
from tests.verifier.test_certificate_verification import TODAY, request
from verifier.checks.certificates import verify_documents
from verifier.checks.verdict import Outcome
from verifier.index.indexer import Indexer


@dataclass
class Agency:
    registry: RegistryClient
    profile: IssuerProfile


@pytest.fixture(scope="module")
def agency(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agency]:
    with private_chain(tmp_path_factory.mktemp("reorg")) as own:
        signer = KeySigner(generate_private_key())
        own.registry.add_key(own.uscc, key_id_of(signer.public_key), 0, None,
                             signer.public_key.point)
        yield Agency(own.registry, IssuerProfile(own.uscc, "测试发证机关", signer))


def _anchored(store: Store, agency: Agency) -> tuple[str, int]:
    """One certificate issued and anchored: its document and the anchor's block."""
    report = issue(store, agency.profile, [(1, request())], today=TODAY)
    assert not report.rejected, report.rejected
    Batcher(store, lambda _: agency.registry).run_once()
    (record,) = load_records(store, [a.identifier for a in report.accepted])
    anchor = record.document.anchor
    assert anchor is not None
    return record.document.to_json(), anchor.block


def _outcome(text: str, index: Indexer) -> Outcome:
    index.catch_up()
    verdicts, _ = verify_documents([text], index, today=TODAY)
    return verdicts[0].outcome


def _anchored_check(text: str, index: Indexer) -> tuple[Outcome, str, str]:
    """The verdict, and the ``chain.anchored`` check's message id and Chinese reason."""
    index.catch_up()
    (verdict,), _ = verify_documents([text], index, today=TODAY)
    check = next(c for c in verdict.checks if c.name == "chain.anchored")
    # the facts are as far behind the head as the confirmations say, and the verdict says so
    assert check.data["lag_blocks"] == index.confirmations, check.data
    return verdict.outcome, check.message, check.reason_zh


def _index(tmp_path: Path, agency: Agency, confirmations: int) -> Indexer:
    store = Store.open(f"sqlite:///{tmp_path / 'index.sqlite3'}")
    reader = RegistryClient(agency.registry.rpc, agency.registry.deployment)
    return Indexer(store, reader, confirmations=confirmations)


def test_with_confirmations_a_certificate_is_valid_only_once_its_anchor_is_deep_enough(
    agency: Agency, tmp_path: Path
) -> None:
    index = _index(tmp_path, agency, confirmations=3)
    text, block = _anchored(index.store, agency)
    rpc = agency.registry.rpc
    for depth in range(3):
        assert agency.registry.block_number() == block + depth
        # a genuine certificate in its first blocks: not yet confirmed, so "could not check"
        # (无法核验, try again shortly) — neither valid nor invalid
        outcome, message, zh = _anchored_check(text, index)
        assert outcome is Outcome.ERROR, f"{outcome} {depth} block(s) deep"
        assert message == "chain.anchored.unconfirmed" and "尚未确认" in zh, zh
        mine(rpc)
    assert _outcome(text, index) is Outcome.VALID  # 3 blocks on top of the anchor's


def test_an_anchor_block_claimed_beyond_the_head_is_no_excuse(
    agency: Agency, tmp_path: Path
) -> None:
    """A document whose batch is not on the chain cannot plead "not yet confirmed" by
    claiming a block the chain has not reached: its root is missing (invalid)."""
    index = _index(tmp_path, agency, confirmations=3)
    text, block = _anchored(index.store, agency)
    claimed = json.loads(text)
    claimed["anchor"]["block"] = block + 1000
    outcome, message, _ = _anchored_check(json.dumps(claimed, ensure_ascii=False), index)
    assert (outcome, message) == (Outcome.INVALID, "chain.anchored.missing")


@pytest.mark.parametrize("confirmations", [0, 2])
def test_a_certificate_anchored_in_blocks_the_chain_lost_never_verifies_valid(
    agency: Agency, tmp_path: Path, confirmations: int
) -> None:
    """Deep enough to be indexed, then lost: valid before, never after (the index rewinds).
    Lost before it was deep enough (confirmations 2, one block on top): never valid at all."""
    rpc = agency.registry.rpc
    index = _index(tmp_path, agency, confirmations)
    index.catch_up()
    before = rpc.call("evm_snapshot")
    text, _ = _anchored(index.store, agency)
    mine(rpc, confirmations)
    assert _outcome(text, index) is Outcome.VALID
    assert rpc.call("evm_revert", [before]) is True
    mine(rpc, confirmations + 3)  # the chain goes on past the lost blocks, without them
    assert _outcome(text, index) is not Outcome.VALID
    if confirmations:
        shallow = rpc.call("evm_snapshot")
        other, _ = _anchored(index.store, agency)
        mine(rpc, confirmations - 1)
        assert _outcome(other, index) is not Outcome.VALID  # not deep enough yet
        assert rpc.call("evm_revert", [shallow]) is True
        mine(rpc, confirmations + 3)
        assert _outcome(other, index) is not Outcome.VALID


def test_a_qr_of_a_certificate_in_its_first_blocks_is_not_yet_confirmed_not_invalid(
    agency: Agency, tmp_path: Path
) -> None:
    """A QR names no anchor block: a genuine certificate's QR scanned while its batch is
    fewer than N blocks deep read `invalid` ("the batch is not on the chain") — a false
    不通过 at the counter for the first blocks of every certificate. Now the chain's head is
    asked: a root the head has beyond the judged block is "not yet confirmed" (ERROR); a
    root the head lacks too is still missing (INVALID); once deep enough the QR is valid."""
    from dataclasses import replace

    from certs import qr
    from verifier.checks.certificates import verify_qr

    index = _index(tmp_path, agency, confirmations=2)
    text, _ = _anchored(index.store, agency)
    genuine = qr.payload_for(CertificateDocument.from_json(text))
    # the signature does not cover the root: the same QR pointing at a root never anchored
    elsewhere = replace(genuine, root=bytes(32))

    def qr_check(payload: qr.QrPayload) -> tuple[Outcome, str]:
        index.catch_up()
        verdict = verify_qr(payload.encode(), index, today=TODAY)
        check = next(c for c in verdict.checks if c.name == "chain.anchored")
        return verdict.outcome, check.message

    assert qr_check(genuine) == (Outcome.ERROR, "chain.anchored.unconfirmed")
    assert qr_check(elsewhere) == (Outcome.INVALID, "chain.anchored.missing")
    mine(agency.registry.rpc, 2)
    assert qr_check(genuine)[0] is Outcome.VALID
    assert qr_check(elsewhere) == (Outcome.INVALID, "chain.anchored.missing")
