"""QR payloads: compact, no personal data, verified against the chain alone."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from certs import qr
from certs.batcher import Batcher
from certs.issuance import IssuerProfile, issue, key_id_of
from certs.status import change_status, load_record
from certs.store import Store
from chain.registry import Registry
from chain.rpc import Rpc
from seals.sm2 import KeySigner, generate_private_key
from tests.conftest import Issuer, free_port
from verifier.certificates import verify_qr

TODAY = dt.date(2026, 11, 28)


def request(name: str) -> dict[str, object]:
    return {"type": "11100000000013338W032",
            "holder": {"name": name, "code": "11010519491231002X", "code_type": "111"},
            "issue_date": "2026-11-28", "jurisdiction": "360100"}


@pytest.fixture
def issued(issuer: Issuer, tmp_path: Path) -> tuple[Store, list[str]]:
    signer = KeySigner(generate_private_key())
    issuer.registry.add_key(issuer.uscc, key_id_of(signer.public_key), 0, None,
                            signer.public_key.point)
    store = Store.open(f"sqlite:///{tmp_path / 'q.sqlite3'}")
    report = issue(store, IssuerProfile(issuer.uscc, "机关", signer),
                   [(1, request("张三")), (2, request("李四"))], today=TODAY)
    Batcher(store, lambda _: issuer.registry).run_once()
    return store, [a.identifier for a in report.accepted]


def test_payload_is_small_alphanumeric_and_has_no_personal_data(
    issued: tuple[Store, list[str]],
) -> None:
    store, ids = issued
    text = qr.payload_for(load_record(store, ids[0]).document).encode()
    assert len(text) < 300
    assert all(c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:" for c in text)
    for secret in ("11010519491231002X", "张三"):
        assert secret not in text
    assert qr.decode(text).identifier == qr.decode(text).identifier  # round trip is stable
    assert str(qr.decode(text).identifier) == ids[0]


def test_valid_then_revoked(issued: tuple[Store, list[str]], issuer: Issuer) -> None:
    store, ids = issued
    text = qr.payload_for(load_record(store, ids[0]).document).encode()
    verdict = verify_qr(text, issuer.registry)
    assert verdict.outcome.value == "valid", verdict.to_json()
    assert {f.name for f in verdict.checks} >= {"certificate.signature", "chain.anchored",
                                                "issuer.key", "certificate.status"}
    change_status(store, issuer.registry, issuer.uscc, ids[:1], "revoke", reason_code=1)
    revoked = verify_qr(text, issuer.registry)
    assert revoked.outcome.value == "invalid"
    assert [f.status.value for f in revoked.checks if f.name == "certificate.status"] == [
        "INVALID"]


def test_tampered_or_swapped_payloads_fail(issued: tuple[Store, list[str]],
                                           issuer: Issuer) -> None:
    store, ids = issued
    first = qr.payload_for(load_record(store, ids[0]).document)
    second = qr.payload_for(load_record(store, ids[1]).document)
    # the signature of one certificate with the leaf of another
    mixed = qr.QrPayload(first.identifier, second.leaf, first.root, first.signature_rs)
    assert verify_qr(mixed.encode(), issuer.registry).outcome.value == "invalid"
    # a root nobody anchored
    unanchored = qr.QrPayload(first.identifier, first.leaf, b"\x07" * 32, first.signature_rs)
    assert verify_qr(unanchored.encode(), issuer.registry).outcome.value == "invalid"


@pytest.mark.parametrize("text", ["", "hello", "ZY2.ABC", "ZY1.", "ZY1.X.Y", "ZY1." + "A" * 390,
                                  "ZY1.11100000000013338W032.91110000101623741K.1.001.Z.AAAA"])
def test_garbage_is_a_clear_invalid(text: str, issuer: Issuer) -> None:
    verdict = verify_qr(text, issuer.registry)
    assert verdict.outcome.value == "invalid"
    assert verdict.checks[0].name == "qr.format" and verdict.checks[0].reason


def test_chain_down_is_error(issued: tuple[Store, list[str]], issuer: Issuer) -> None:
    store, ids = issued
    text = qr.payload_for(load_record(store, ids[0]).document).encode()
    dead = Registry(Rpc(f"http://127.0.0.1:{free_port()}", timeout=1), issuer.registry.deployment)
    assert verify_qr(text, dead).outcome.value == "error"
