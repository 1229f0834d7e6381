"""QR payloads: compact, no personal data, verified against the chain alone — and every
forgery that a QR once let through (issue #14, items 1–4) is not valid any more. Short codes
(核验码, issue #21): resolved to the stored certificate and verified in full, and every
mistyped, foreign or unknown code is "re-type", never a verdict on another certificate."""

from __future__ import annotations

import base64
import datetime as dt
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from certs import qr, shortcode
from certs.batcher import Batcher
from certs.canonical import signing_input
from certs.identifiers import build_identifier
from certs.issuance import IssuerProfile, issue, key_id_of
from certs.status import (
    CertificateNotFound,
    CertificateRecord,
    change_status,
    leaf_of,
    load_record,
)
from certs.store import Store
from chain.registry import RegistryClient
from chain.rpc import Rpc
from seals.sm2 import KeySigner, generate_private_key
from tests.conftest import Issuer, free_port
from verifier.checks.certificates import verify_certificate_text, verify_qr
from verifier.checks.short_code_checks import verify_short_code
from verifier.checks.verdict import Verdict

TODAY = dt.date(2026, 11, 28)
EXAMPLE_TYPE = "11100000000013338W032"
LICENCE_TYPE = "11100000MA0000001Q001"


def request(name: str, **extra: object) -> dict[str, object]:
    return {"type": EXAMPLE_TYPE,
            "holder": {"name": name, "code": "11010519491231002X", "code_type": "111"},
            "issue_date": "2026-11-28", "jurisdiction": "360100", **extra}


@dataclass
class Issued:
    store: Store
    ids: list[str]
    signer: KeySigner

    def payload(self, index: int) -> qr.QrPayload:
        return qr.payload_for(load_record(self.store, self.ids[index]).document)

    def document(self, index: int) -> bytes:
        return load_record(self.store, self.ids[index]).document.to_json().encode()


@pytest.fixture
def issued(issuer: Issuer, tmp_path: Path) -> Issued:
    """Three certificates of one agency: open-ended, and one valid until 2027-06-30."""
    signer = KeySigner(generate_private_key())
    issuer.registry.add_key(issuer.uscc, key_id_of(signer.public_key), 0, None,
                            signer.public_key.point)
    store = Store.open(f"sqlite:///{tmp_path / 'q.sqlite3'}")
    report = issue(store, IssuerProfile(issuer.uscc, "机关", signer),
                   [(1, request("张三")), (2, request("李四")),
                    (3, request("王五", valid_until="2027-06-30"))], today=TODAY)
    Batcher(store, lambda _: issuer.registry).run_once()
    return Issued(store, [a.identifier for a in report.accepted], signer)


def statuses(verdict: Verdict) -> dict[str, str]:
    return {f.name: f.status.value for f in verdict.checks}


def chinese(verdict: Verdict) -> dict[str, str]:
    return {f.name: f.reason_zh for f in verdict.checks}


def test_payload_is_small_alphanumeric_and_has_no_personal_data(issued: Issued) -> None:
    text = issued.payload(0).encode()
    assert text.startswith("ZY2.") and len(text) < 300
    assert all(c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:" for c in text)
    for secret in ("11010519491231002X", "张三"):
        assert secret not in text
    assert qr.decode(text) == issued.payload(0)  # the round trip is exact
    assert str(qr.decode(text).identifier) == issued.ids[0]
    assert ".20261128.-.360100." in text  # open-ended
    assert ".20261128.20270630.360100." in issued.payload(2).encode()


def test_valid_shows_type_and_issuer_names_then_revoked(issued: Issued, issuer: Issuer) -> None:
    text = issued.payload(0).encode()
    verdict = verify_qr(text, issuer.registry, today=TODAY)
    assert verdict.outcome.value == "valid", verdict.to_json()
    assert set(statuses(verdict)) == {"qr.format", "certificate.signature",
                                      "certificate.validity", "chain.anchored",
                                      "issuer.authorized", "issuer.key", "certificate.status"}
    subject = verdict.subject
    assert subject["type.code"] == EXAMPLE_TYPE and subject["type.name"] == "示例证照"
    assert subject["issuer.code"] == issuer.uscc
    assert subject["issuer.name"] == "测试发证机关"  # the name it was registered under
    assert (subject["valid_from"], subject["valid_until"]) == ("2026-11-28", None)
    assert "测试发证机关" in chinese(verdict)["certificate.signature"]
    change_status(issued.store, issuer.registry, issuer.uscc, issued.ids[:1], "revoke",
                  reason_code=1)
    revoked = verify_qr(text, issuer.registry, today=TODAY)
    assert revoked.outcome.value == "invalid"
    assert statuses(revoked)["certificate.status"] == "INVALID"


def _swap_identifier(text: str, identifier: str) -> str:
    """The attack of issue #14 item 1, on the text itself: another identifier in front of a
    genuine payload's tail (dates, leaf, root, signature)."""
    tail = text.split(".")[-4:]
    return ".".join(["ZY2", identifier.removeprefix(qr.IDENTIFIER_PREFIX), *tail])


def test_another_identifier_on_a_genuine_payload_is_invalid(
    issued: Issued, issuer: Issuer
) -> None:
    genuine = issued.payload(0).encode()
    change_status(issued.store, issuer.registry, issuer.uscc, issued.ids[1:2], "revoke",
                  reason_code=1)
    never_issued = [
        str(build_identifier(EXAMPLE_TYPE, issuer.uscc, "99999999")),
        str(build_identifier(LICENCE_TYPE, issuer.uscc, "2430599")),  # another type
    ]
    for identifier in [issued.ids[1], *never_issued]:  # a revoked one, and never-issued ones
        forged = _swap_identifier(genuine, identifier)
        assert str(qr.decode(forged).identifier) == identifier  # well formed: it parses
        verdict = verify_qr(forged, issuer.registry, today=TODAY)
        assert verdict.outcome.value == "invalid", (identifier, verdict.to_json())
        assert statuses(verdict)["certificate.signature"] == "INVALID"
        assert "不能受理" in chinese(verdict)["certificate.signature"]


def test_changed_dates_leaf_or_root_are_invalid(issued: Issued, issuer: Issuer) -> None:
    limited, other = issued.payload(2), issued.payload(1)
    forgeries = {
        "validity extended": replace(limited, valid_until=dt.date(2099, 12, 31)),
        "validity made open-ended": replace(limited, valid_until=None),
        "validity started earlier": replace(limited, valid_from=dt.date(2020, 1, 1)),
        "another jurisdiction": replace(limited, jurisdiction="110105"),
        "another certificate's leaf": replace(limited, leaf=other.leaf),
        "a root nobody anchored": replace(limited, root=b"\x07" * 32),
        "signature of another certificate": replace(limited, signature_rs=other.signature_rs),
    }
    for name, forged in forgeries.items():
        verdict = verify_qr(forged.encode(), issuer.registry, today=TODAY)
        assert verdict.outcome.value == "invalid", (name, verdict.to_json())


def test_an_expired_or_not_yet_valid_certificate_is_invalid(
    issued: Issued, issuer: Issuer
) -> None:
    text = issued.payload(2).encode()  # valid 2026-11-28 .. 2027-06-30
    assert verify_qr(text, issuer.registry, today=dt.date(2027, 6, 30)).outcome.value == "valid"
    expired = verify_qr(text, issuer.registry, today=dt.date(2027, 7, 1))
    assert expired.outcome.value == "invalid"
    assert statuses(expired)["certificate.validity"] == "INVALID"
    assert "2027-06-30" in chinese(expired)["certificate.validity"]
    assert "已过期" in chinese(expired)["certificate.validity"]
    early = verify_qr(text, issuer.registry, today=dt.date(2026, 11, 27))
    assert statuses(early)["certificate.validity"] == "INVALID"
    assert "尚未生效" in chinese(early)["certificate.validity"]


def test_a_zy1_payload_is_never_valid(issued: Issued, issuer: Issuer) -> None:
    """The old format, even built from a genuine certificate, decides nothing now."""
    document = load_record(issued.store, issued.ids[0]).document
    assert document.anchor is not None and document.signature is not None
    body = base64.b32encode(
        document.leaf + document.anchor.root + qr.signature_rs(document.signature.value)
    ).decode().rstrip("=")
    zy1 = f"ZY1.{issued.ids[0].removeprefix(qr.IDENTIFIER_PREFIX)}.{body}"
    verdict = verify_qr(zy1, issuer.registry, today=TODAY)
    assert verdict.outcome.value == "error"
    assert [f.name for f in verdict.checks] == ["qr.format"]
    assert verdict.checks[0].data["code"] == "qr_version_unsupported"
    assert "出示码" in verdict.checks[0].reason_zh


def _forge_with_key(issued: Issued, issuer: Issuer, root: bytes) -> str:
    """What a thief of the issuer's signing key can make without any chain account: a QR
    for a certificate that was never issued, pointed at a genuine root of the issuer."""
    identifier = str(build_identifier(EXAMPLE_TYPE, issuer.uscc, "77777777"))
    leaf = secrets.token_bytes(32)
    key_id = key_id_of(issued.signer.public_key)
    der = issued.signer.sign_raw(
        signing_input(leaf, key_id, identifier, "360100", "2026-11-28", None)
    )
    return qr.QrPayload(
        qr.decode(_swap_identifier(issued.payload(0).encode(), identifier)).identifier,
        "360100", dt.date(2026, 11, 28), None, leaf, root, qr.signature_rs(der),
    ).encode()


def test_a_key_reported_compromised_never_makes_a_qr_valid(
    issued: Issued, issuer: Issuer
) -> None:
    genuine = issued.payload(0).encode()
    forged = _forge_with_key(issued, issuer, issued.payload(0).root)
    key_id = key_id_of(issued.signer.public_key)
    # cut-off after the batch was anchored: the genuine certificate was signed before it
    issuer.registry.report_key_compromised(issuer.uscc, key_id, int(time.time()) + 3600)
    for text in (genuine, forged):
        verdict = verify_qr(text, issuer.registry, today=TODAY)
        assert verdict.outcome.value == "error", verdict.to_json()
        assert statuses(verdict)["issuer.key"] == "ERROR"
        assert "出示码" in chinese(verdict)["issuer.key"]  # what the clerk should do
        assert "compromised" in next(f.reason for f in verdict.checks if f.name == "issuer.key")
    # the certificate file carries its Merkle proof: it is still judged, and valid
    document = verify_certificate_text(issued.document(0), lambda: issuer.registry, today=TODAY)
    assert document.outcome.value == "valid", document.to_json()


@pytest.mark.parametrize("ended", ["deauthorized", "authorized elsewhere only"])
def test_an_agency_no_longer_authorized_never_makes_a_qr_valid(
    ended: str, issued: Issued, issuer: Issuer, admin_registry: RegistryClient
) -> None:
    """The attack (review of #16): deauthorized, the agency still holds its key; it signs a
    QR for a certificate it never anchored and points it at a root it anchored while it was
    authorized. A QR has no proof of when its leaf was anchored, so it decides nothing; the
    certificate file (whose proof fixes the anchor time) is still judged, and valid."""
    genuine = issued.payload(0).encode()
    forged = _forge_with_key(issued, issuer, issued.payload(0).root)
    assert verify_qr(forged, issuer.registry, today=TODAY).outcome.value == "valid"  # today
    time.sleep(1.1)  # the anchor is in an earlier second than the withdrawal
    admin_registry.deauthorize(issuer.uscc, EXAMPLE_TYPE)
    if ended == "authorized elsewhere only":
        admin_registry.authorize(issuer.uscc, EXAMPLE_TYPE, 0, None, "1101")
    for text in (genuine, forged):
        verdict = verify_qr(text, issuer.registry, today=TODAY)
        assert verdict.outcome.value == "error", verdict.to_json()
        assert statuses(verdict)["issuer.authorized"] == "ERROR"
        assert "出示码" in chinese(verdict)["issuer.authorized"]
    document = verify_certificate_text(issued.document(0), lambda: issuer.registry, today=TODAY)
    assert document.outcome.value == "valid", document.to_json()


def test_a_key_compromised_before_the_anchor_stays_invalid(
    issued: Issued, issuer: Issuer
) -> None:
    key_id = key_id_of(issued.signer.public_key)
    issuer.registry.report_key_compromised(issuer.uscc, key_id, 1)
    verdict = verify_qr(issued.payload(0).encode(), issuer.registry, today=TODAY)
    assert verdict.outcome.value == "invalid"
    assert statuses(verdict)["issuer.key"] == "INVALID"


@pytest.mark.parametrize("text", ["", "hello", "ZY2.ABC", "ZY1.", "ZY1.X.Y", "ZY2." + "A" * 390,
                                  "ZY2.11100000000013338W032.91110000101623741K.1.001.Z.AAAA",
                                  "ZY2.11100000000013338W032.91110000101623741K.1.001.Z"
                                  ".20261399.-.360100." + "A" * 205,
                                  "ZY2.11100000000013338W032.91110000101623741K.1.001.Z"
                                  ".20261128.-.36010." + "A" * 205])
def test_garbage_decides_nothing_and_says_why(text: str, issuer: Issuer) -> None:
    """An unreadable scan is "could not check" (rescan), never valid or invalid."""
    verdict = verify_qr(text, issuer.registry)
    assert verdict.outcome.value == "error"
    assert [f.name for f in verdict.checks] == ["qr.format"]
    assert verdict.checks[0].reason and verdict.checks[0].reason_zh


def test_chain_down_is_error(issued: Issued, issuer: Issuer) -> None:
    text = issued.payload(0).encode()
    dead = RegistryClient(
        Rpc(f"http://127.0.0.1:{free_port()}", timeout=1), issuer.registry.deployment
    )
    verdict = verify_qr(text, dead, today=TODAY)
    assert verdict.outcome.value == "error"
    assert statuses(verdict)["certificate.validity"] == "VALID"  # judged without the chain


def test_a_retired_key_never_makes_a_qr_valid(issued: Issued, issuer: Issuer) -> None:
    """A key taken out of service can still sign: without a Merkle proof, a QR signed with
    it could point at a root from the key's time (review finding F3). Even the genuine QR
    decides nothing then; the document still does."""
    genuine = issued.payload(0).encode()
    forged = _forge_with_key(issued, issuer, issued.payload(0).root)
    key_id = key_id_of(issued.signer.public_key)
    issuer.registry.retire_key(issuer.uscc, key_id, int(time.time()) + 2)  # after the anchor
    time.sleep(2.5)
    for text in (genuine, forged):
        verdict = verify_qr(text, issuer.registry, today=TODAY)
        assert verdict.outcome.value == "error", verdict.to_json()
        assert statuses(verdict)["issuer.key"] == "ERROR"
        assert "出示码" in chinese(verdict)["issuer.key"]
    document = verify_certificate_text(issued.document(0), lambda: issuer.registry, today=TODAY)
    assert document.outcome.value == "valid", document.to_json()


def test_a_compromise_report_must_name_a_real_time(issued: Issued, issuer: Issuer) -> None:
    """0 means "never reported" on chain, so a report for all time is made with 1; a cut-off
    beyond the year 9999 is refused (it broke the index and the clerk's page)."""
    from chain.errors import ContractRevert

    key_id = key_id_of(issued.signer.public_key)
    for cut_off in (0, 2**40, 2**63):
        with pytest.raises(ContractRevert) as err:
            issuer.registry.report_key_compromised(issuer.uscc, key_id, cut_off)
        assert err.value.error_name == "InvalidValidity"
    with pytest.raises(ContractRevert):
        issuer.registry.add_key(issuer.uscc, secrets.token_bytes(32), 0, 2**40)


def test_a_key_whose_point_was_never_published_cannot_call_a_qr_forged(
    issuer: Issuer, tmp_path: Path
) -> None:
    """A key registered without its public key: the QR cannot be checked, which is not the
    same as forged (review finding F6)."""
    signer = KeySigner(generate_private_key())
    issuer.registry.add_key(issuer.uscc, key_id_of(signer.public_key), 0, None)
    store = Store.open(f"sqlite:///{tmp_path / 'u.sqlite3'}")
    report = issue(store, IssuerProfile(issuer.uscc, "机关", signer), [(1, request("赵六"))],
                   today=TODAY)
    Batcher(store, lambda _: issuer.registry).run_once()
    text = qr.payload_for(load_record(store, report.accepted[0].identifier).document).encode()
    verdict = verify_qr(text, issuer.registry, today=TODAY)
    assert verdict.outcome.value == "error", verdict.to_json()
    assert statuses(verdict)["certificate.signature"] == "ERROR"



# ------------------------------------------------------------------ short codes (核验码)


def lookup_in(store: Store) -> Callable[[str], CertificateRecord | None]:
    def lookup(identifier: str) -> CertificateRecord | None:
        try:
            return load_record(store, identifier)
        except CertificateNotFound:
            return None

    return lookup


def code_of(issued: Issued, index: int) -> str:
    record = load_record(issued.store, issued.ids[index])
    return shortcode.short_code(record.identifier, record.document.leaf)


def by_code(issued: Issued, issuer: Issuer, text: str) -> Verdict:
    """As the service reads a short code: the stored leaf first, then the record."""
    return verify_short_code(text, lookup_in(issued.store), lambda: issuer.registry,
                             leaf_of=lambda identifier: leaf_of(issued.store, identifier),
                             today=TODAY)


def test_a_short_code_is_the_stored_certificate_verified_in_full(
    issued: Issued, issuer: Issuer
) -> None:
    code = code_of(issued, 0)
    assert len(code) < 70 and re.fullmatch(r"[0-9A-Z.]+-[0-9A-Z]{4}-[0-9A-Z]{4}", code)
    verdict = by_code(issued, issuer, code)
    assert verdict.outcome.value == "valid", verdict.to_json()
    assert statuses(verdict) == {
        "short_code.check": "VALID", "certificate.format": "VALID",
        "certificate.integrity": "VALID", "certificate.signature": "VALID",
        "certificate.merkle_proof": "VALID", "certificate.validity": "VALID",
        "chain.anchored": "VALID", "issuer.authorized": "VALID", "issuer.key": "VALID",
        "certificate.status": "VALID",
    }
    assert issued.ids[0] in chinese(verdict)["short_code.check"]
    subject = verdict.subject
    assert subject["identifier"] == issued.ids[0] and subject["type.code"] == EXAMPLE_TYPE
    assert subject["issuer.code"] == issuer.uscc and subject["chain"]["block"] >= 1
    # shown as for the certificate file: the holder masked, enough to match the person
    assert (subject["holder.name"], subject["holder.code"]) == ("张*", "1101**********002X")
    assert "11010519491231002X" not in str(subject) and "张三" not in str(subject)


def test_a_short_code_as_a_clerk_may_type_it(issued: Issued, issuer: Issuer) -> None:
    code = code_of(issued, 1)
    body, check = code.split("-", 1)
    check = check.replace("-", "")
    variants = [
        code.lower(),
        code.replace("-", " "),
        code.replace("-", "").replace(".", ""),
        " ".join(code.replace("-", "").replace(".", "")),
        qr.IDENTIFIER_PREFIX + code,
        "  " + code.replace(".", " . ") + "\n",
        code.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"}),
        f"{body}-{check.replace('0', 'O').replace('1', 'I')}",
        f"{body}—{check[:4]}–{check[4:]}",
    ]
    for text in variants:
        verdict = by_code(issued, issuer, text)
        assert verdict.outcome.value == "valid", (text, verdict.to_json())
        assert verdict.subject["identifier"] == issued.ids[1]


def _refused(verdict: Verdict, code: str) -> None:
    assert verdict.outcome.value == "error", verdict.to_json()
    assert [f.name for f in verdict.checks] == ["short_code.check"]
    assert verdict.checks[0].data["code"] == code
    assert "重新输入" in verdict.checks[0].reason_zh
    assert "identifier" not in verdict.subject  # a verdict on no certificate


def test_wrong_check_characters_are_retype_never_a_verdict(issued: Issued, issuer: Issuer) -> None:
    """A right identifier with wrong check characters, the check characters of another
    certificate, or of the same certificate under another identifier: 无法核验, re-type."""
    code = code_of(issued, 0)
    other = code_of(issued, 1)
    body, _ = code.split("-", 1)
    last = code[-1]
    wrong = [
        code[:-1] + ("2" if last != "2" else "3"),           # one check character off
        body + "-" + other.split("-", 1)[1],                  # another certificate's check
        other.split("-", 1)[0] + "-" + code.split("-", 1)[1],  # another identifier, this check
        f"{body}-{code[-4:]}-{code[-9:-5]}",                  # the two groups swapped
    ]
    for text in wrong:
        _refused(by_code(issued, issuer, text), "short_code_mismatch")


def test_an_unknown_identifier_or_another_version_answers_as_a_mismatch(
    issued: Issued, issuer: Issuer
) -> None:
    """An identifier never issued here, or another version of a real one (with the real
    one's check characters): the same answer as wrong check characters, so typing codes
    does not tell which identifiers exist."""
    record = load_record(issued.store, issued.ids[0])
    real = qr.decode(issued.payload(0).encode()).identifier
    never = str(build_identifier(EXAMPLE_TYPE, issuer.uscc, "99999999"))
    next_version = str(build_identifier(EXAMPLE_TYPE, issuer.uscc, real.serial, "002"))
    mismatch = by_code(issued, issuer, code_of(issued, 0)[:-10] + "-0000-0000")
    _refused(mismatch, "short_code_mismatch")
    for identifier in (never, next_version):
        text = shortcode.short_code(identifier, record.document.leaf)
        verdict = by_code(issued, issuer, text)
        _refused(verdict, "short_code_mismatch")
        assert verdict.checks[0].reason_zh == mismatch.checks[0].reason_zh


@pytest.mark.parametrize("text", [
    "", "hello", "ZY2.ABC",
    "11100000000013338W032.91110000101623741K.1.001.X-AAAA-AAAA",  # a wrong id check char
    "11100000000013338W032.91110000101623741K.1.001-AAAA-AAAA",    # a part missing
    "11100000000013338W032.91110000101623741K.1.001.1-AAAA-AAAU",  # U is never a check char
    "1" * 60, "1" * 199 + "2", "1" * 5000, "１" * 300,
])
def test_unreadable_short_codes_are_retype(text: str, issued: Issued, issuer: Issuer) -> None:
    started = time.perf_counter()
    _refused(by_code(issued, issuer, text), "short_code_unreadable")
    assert time.perf_counter() - started < 0.5  # bounded: no lookup, nothing on chain


@pytest.mark.parametrize("action", ["revoke", "suspend", "supersede"])
def test_the_short_code_of_a_revoked_suspended_or_superseded_certificate_is_invalid(
    action: str, issued: Issued, issuer: Issuer
) -> None:
    code = code_of(issued, 0)
    change_status(issued.store, issuer.registry, issuer.uscc, issued.ids[:1], action,
                  reason_code=1, reason="信息有误",
                  successor=issued.ids[2] if action == "supersede" else None)
    verdict = by_code(issued, issuer, code)
    assert verdict.outcome.value == "invalid", verdict.to_json()
    assert statuses(verdict)["short_code.check"] == "VALID"
    assert statuses(verdict)["certificate.status"] == "INVALID"
    word = {"revoke": "revoked", "suspend": "suspended", "supersede": "superseded"}[action]
    status = next(f for f in verdict.checks if f.name == "certificate.status")
    assert status.reason.startswith(word), status.reason
    assert "信息有误" in status.reason_zh  # the reason the agency gave
    assert verdict.subject["identifier"] == issued.ids[0]


def test_the_short_code_of_a_pending_certificate_is_check_again_later(
    issued: Issued, issuer: Issuer
) -> None:
    signer = KeySigner(generate_private_key())
    issuer.registry.add_key(issuer.uscc, key_id_of(signer.public_key), 0, None,
                            signer.public_key.point)
    report = issue(issued.store, IssuerProfile(issuer.uscc, "机关", signer),
                   [(1, request("赵六"))], today=TODAY)
    identifier = report.accepted[0].identifier
    record = load_record(issued.store, identifier)
    verdict = by_code(issued, issuer, shortcode.short_code(identifier, record.document.leaf))
    assert verdict.outcome.value == "error"
    assert [f.name for f in verdict.checks] == ["short_code.check"]
    assert "稍后" in verdict.checks[0].reason_zh


def test_a_tampered_stored_document_is_never_valid_by_its_short_code(
    issued: Issued, issuer: Issuer
) -> None:
    """The store is not trusted: the stored document is verified against the chain as a
    file would be. A record whose document was edited where it is stored (a claim's value
    changed, its digest and the leaf kept, so the check characters still match) is
    invalid."""
    import json

    from certs.canonical import CertificateDocument

    code = code_of(issued, 0)
    record = load_record(issued.store, issued.ids[0])
    edited = json.loads(record.document.to_json())
    edited["claims"]["holder.name"]["value"] = "张四"
    forged = replace(record, document=CertificateDocument.from_json(json.dumps(edited)))
    assert forged.document.leaf == record.document.leaf
    verdict = verify_short_code(code, lambda _: forged, lambda: issuer.registry, today=TODAY)
    assert verdict.outcome.value == "invalid", verdict.to_json()
    assert statuses(verdict)["certificate.integrity"] == "INVALID"


def test_a_wrong_code_reads_no_document(issued: Issued, issuer: Issuer) -> None:
    """Wrong check characters are found on the stored leaf alone: no document is read for
    them, whether the identifier exists or not (no slower answer for a real identifier)."""
    read: list[str] = []

    def lookup(identifier: str) -> CertificateRecord | None:
        read.append(identifier)
        return lookup_in(issued.store)(identifier)

    code = code_of(issued, 0)
    never = str(build_identifier(EXAMPLE_TYPE, issuer.uscc, "99999999"))
    for text in (code[:-4] + ("0000" if code[-4:] != "0000" else "1111"),
                 shortcode.short_code(never, bytes(32))):
        verdict = verify_short_code(text, lookup, lambda: issuer.registry,
                                    leaf_of=lambda i: leaf_of(issued.store, i), today=TODAY)
        _refused(verdict, "short_code_mismatch")
    assert read == []
    assert by_code(issued, issuer, code).outcome.value == "valid"
