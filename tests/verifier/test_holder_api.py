"""The holder's own path (``POST /v1/holder/open``, ``POST /v1/holder/presentations``): no
account, the full certificate file is the credential. A real service (devnet, SQLite,
background indexer and batcher) through FastAPI's test client; a second application on the
same database stands for another worker process.

The attacks first: forged salts, another certificate's identifier, a disclosed copy, a QR
payload or an identifier alone, a revoked, suspended or pending certificate, a tampered
PDF — none yields a code. Then the limits, per client address and per certificate (across
workers), and a code made here redeemed by a counter, showing exactly the fields chosen.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from certs import qr
from certs.canonical import ALWAYS_DISCLOSED, CertificateDocument, disclose
from certs.identifiers import build_identifier, parse_identifier
from certs.status import change_status
from devnet.anvil import Devnet
from tests.conftest import free_port
from verifier.api.app import create_app
from verifier.app.agency import (
    add_issuer,
    hash_api_key,
    issuer_chain_client,
    new_api_key,
    open_store,
)
from verifier.app.catalogue import authorize_everywhere
from verifier.app.context import registry
from verifier.cli.devnet import deploy_and_report
from verifier.settings import Settings

AGENCY = ("91360100MA35ABCD1R", "示例市行政审批局")
CERTIFICATE_LIMIT = 3
ADDRESS_LIMIT = 3
CODE = r"^[2-9A-HJKMNP-Z]{5}-[2-9A-HJKMNP-Z]{5}$"


def request(name: str, code: str = "11010519491231002X") -> dict[str, Any]:
    return {"type": "11100000000013338W032",
            "holder": {"name": name, "code": code, "code_type": "111"},
            "jurisdiction": "360100", "fields": {"用途": "演示"}}


@dataclass
class Holder:
    client: TestClient
    """The service (its address limit out of the way)."""
    settings: Settings
    keys: dict[str, str]

    def h(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    def issue(self, name: str, code: str = "11010519491231002X", *, anchored: bool = True
              ) -> tuple[str, dict[str, Any]]:
        """A new certificate's identifier and its full document (as the holder gets it)."""
        made = self.client.post("/v1/certificates", json=request(name, code),
                                headers=self.h("issuer"))
        assert made.status_code == 201, made.text
        identifier = str(made.json()["identifier"])
        if not anchored:
            body = self.client.get(f"/v1/certificates/{identifier}",
                                   headers=self.h("issuer")).json()
            assert body["status"] == "pending", body
            return identifier, body["document"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            body = self.client.get(f"/v1/certificates/{identifier}",
                                   headers=self.h("issuer")).json()
            if body["status"] == "active":
                return identifier, body["document"]
            time.sleep(0.2)
        raise AssertionError(f"{identifier} was not anchored in time")

    def open(self, content: bytes, name: str = "certificate.json",
             client: TestClient | None = None) -> Any:
        return (client or self.client).post("/v1/holder/open", files={"file": (name, content)})

    def present(self, content: bytes, fields: list[str] | None = None, *,
                name: str = "certificate.json", purpose: str = "办理社保",
                client: TestClient | None = None, **form: Any) -> Any:
        data: dict[str, Any] = {"purpose": purpose, **form}
        if fields is not None:
            data["fields"] = fields
        return (client or self.client).post(
            "/v1/holder/presentations", files={"file": (name, content)}, data=data
        )


def as_file(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Holder]:
    home = tmp_path_factory.mktemp("holder-home")
    settings = Settings(home=home, devnet_port=free_port(), holder_address_limit=1000,
                        holder_certificate_limit=CERTIFICATE_LIMIT)
    Devnet(settings.home_dir).up(settings.devnet_port)
    try:
        deploy_and_report(settings)
        keys = {"issuer": add_issuer(settings, *AGENCY).api_key}
        authorize_everywhere(registry(settings, write=True), AGENCY[0])
        store = open_store(settings)
        keys["counter"] = new_api_key()
        store.add_api_key("counter", "一号窗口", hash_api_key(keys["counter"]))
        keys["auditor"] = new_api_key()
        store.add_api_key("auditor", "审计员", hash_api_key(keys["auditor"]))
        with TestClient(create_app(settings)) as client:
            yield Holder(client, settings, keys)
    finally:
        Devnet(settings.home_dir).down()


@pytest.fixture(scope="module")
def worker(service: Holder) -> Iterator[TestClient]:
    """Another worker process's application on the same database, with a small limit per
    client address (its own, in its own memory)."""
    settings = Settings(home=service.settings.home, devnet_port=service.settings.devnet_port,
                        holder_address_limit=ADDRESS_LIMIT,
                        holder_certificate_limit=CERTIFICATE_LIMIT)
    app = create_app(settings)
    with TestClient(app, client=("198.51.100.20", 40000)) as client:
        yield client


def refused(answer: Any, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    body: dict[str, Any] = answer.json()
    assert body["error"] == code, body
    assert body["message"] and body["message_zh"], body
    assert "Traceback" not in answer.text
    return body


# ---- the attacks: nothing but the full, current, valid document yields a code ----


def test_a_disclosed_copy_yields_no_code(service: Holder) -> None:
    _, document = service.issue("赵一")
    copy = disclose(CertificateDocument.from_json(json.dumps(document)), ["holder.code"])
    opened = service.open(copy.to_json().encode())
    assert opened.status_code == 200, opened.text
    body = opened.json()
    assert body["verdict"] == "valid" and body["presentable"] is False
    assert body["refusal"]["error"] == "holder_disclosed_copy"
    assert "副本" in body["refusal"]["message_zh"]
    hidden = {f["path"] for f in body["fields"] if f["hidden"]}
    assert hidden == {"holder.code"}
    body = refused(service.present(copy.to_json().encode(), ["holder.name"]), 422,
                   "holder_disclosed_copy")
    assert "完整证照文件" in body["message_zh"]


def test_forged_salts_yield_no_code(service: Holder) -> None:
    """A disclosed copy 'completed' with an invented salt for its hidden claim, and a full
    document with one salt changed: neither is the stored document, neither verifies."""
    _, document = service.issue("钱二")
    copy = disclose(CertificateDocument.from_json(json.dumps(document)), ["holder.code"])
    completed = json.loads(copy.to_json())
    completed["claims"]["holder.code"] = {"salt": "00" * 16,
                                          "value": document["claims"]["holder.code"]["value"]}
    one_salt = json.loads(json.dumps(document))
    salt = one_salt["claims"]["holder.name"]["salt"]
    one_salt["claims"]["holder.name"]["salt"] = salt[:-1] + ("0" if salt[-1] != "0" else "1")
    for forged in (completed, one_salt):
        opened = service.open(as_file(forged)).json()
        assert opened["verdict"] == "invalid" and opened["presentable"] is False, opened
        assert opened["refusal"]["error"] == "holder_document_mismatch"
        refused(service.present(as_file(forged), ["holder.name"]), 422,
                "holder_document_mismatch")
    # each refused attempt is in the certificate's log, for its agency and auditors
    identifier = document["claims"]["identifier"]["value"]
    events = service.client.get("/v1/events", params={"certificate": identifier},
                                headers=service.h("issuer"))
    assert events.status_code == 200, events.text
    refusals = [e for e in events.json()["events"] if e["event"] == "present_refused"]
    assert len(refusals) == 2, events.json()
    assert all(e["actor"] == "holder" and e["role"] == "holder"
               and e["detail"]["error"] == "holder_document_mismatch" for e in refusals), refusals


def test_another_certificates_identifier_yields_no_code(service: Holder) -> None:
    """My full document relabelled with someone else's identifier (salt kept, the value
    changed), and someone else's document under my identifier."""
    _, mine = service.issue("孙三")
    theirs_id, theirs = service.issue("李四", "440305198512124565")
    relabelled = json.loads(json.dumps(mine))
    relabelled["claims"]["identifier"]["value"] = theirs_id
    borrowed = json.loads(json.dumps(theirs))
    borrowed["claims"]["identifier"] = mine["claims"]["identifier"]
    for forged in (relabelled, borrowed):
        refused(service.present(as_file(forged), ["holder.name"]), 422,
                "holder_document_mismatch")


def test_a_forged_file_does_not_tell_whether_an_identifier_exists(service: Holder) -> None:
    """Attack: anyone (no account) writes a document around an identifier and sends it. An
    identifier issued here and one never issued must get the same refusal, or the holder's
    route answers which identifiers exist (the short code's answer is careful not to)."""
    _, mine = service.issue("冯九")
    theirs_id, _ = service.issue("陈十", "440305198512124565")
    parts = parse_identifier(theirs_id)
    unknown_id = str(build_identifier(parts.type_code, parts.issuer_code, "ZZZZ9999"))
    answers = []
    for identifier in (theirs_id, unknown_id):
        forged = json.loads(json.dumps(mine))
        forged["claims"]["identifier"]["value"] = identifier
        opened = service.open(as_file(forged)).json()
        assert opened["verdict"] == "invalid" and opened["presentable"] is False, opened
        presented = service.present(as_file(forged), ["holder.name"])
        answers.append((opened["refusal"], presented.status_code, presented.json()))
    assert answers[0] == answers[1], answers
    assert answers[0][0]["error"] == "holder_document_mismatch"


def test_a_qr_payload_or_an_identifier_alone_yields_no_code(service: Holder) -> None:
    identifier, document = service.issue("周五")
    payload = qr.payload_for(CertificateDocument.from_json(json.dumps(document))).encode()
    for text in (payload, identifier):
        body = refused(service.present(text.encode(), [], name="qr.txt"), 422,
                       "unsupported_file")
        assert "二维码" in body["message_zh"]
        refused(service.open(text.encode(), name="qr.txt"), 422, "unsupported_file")
    for shape in ({"identifier": identifier}, {"qr": payload},
                  {"certificate": identifier}):
        refused(service.present(as_file(shape), []), 422, "holder_no_certificate")
        opened = service.open(as_file(shape)).json()
        assert opened["verdict"] == "invalid" and opened["presentable"] is False
        assert opened["refusal"]["error"] == "holder_no_certificate"


def test_revoked_and_suspended_certificates_yield_no_code(service: Holder) -> None:
    revoked_id, revoked = service.issue("吴六")
    suspended_id, suspended = service.issue("郑七")
    for identifier, action in ((revoked_id, "revoke"), (suspended_id, "suspend")):
        changed = service.client.post(f"/v1/certificates/{identifier}/{action}",
                                      json={"reason": "演示", "reason_code": 1},
                                      headers=service.h("issuer"))
        assert changed.status_code == 200, changed.text
    body = refused(service.present(as_file(revoked), ["holder.name"]), 409,
                   "certificate_revoked")
    assert "撤销" in body["message_zh"]
    body = refused(service.present(as_file(suspended), ["holder.name"]), 409,
                   "certificate_suspended")
    assert "暂停" in body["message_zh"]
    opened = service.open(as_file(revoked)).json()
    assert opened["verdict"] == "invalid" and opened["presentable"] is False
    assert opened["refusal"]["error"] == "certificate_revoked"
    # reinstated, the same file makes a code again
    again = service.client.post(f"/v1/certificates/{suspended_id}/reinstate",
                                json={"reason": "核实无误"}, headers=service.h("issuer"))
    assert again.status_code == 200, again.text
    assert service.present(as_file(suspended), ["holder.name"]).status_code == 201


def test_a_superseded_certificate_yields_no_code_its_successor_does(service: Holder) -> None:
    old_id, old = service.issue("楚十六")
    new_id, new = service.issue("楚十六")
    change_status(open_store(service.settings), issuer_chain_client(service.settings, AGENCY[0]),
                  AGENCY[0], [old_id], "supersede", reason_code=5, reason="换发",
                  successor=new_id)
    body = refused(service.present(as_file(old), ["holder.name"]), 409,
                   "certificate_superseded")
    assert "换发" in body["message_zh"]
    assert service.present(as_file(new), ["holder.name"]).status_code == 201


def test_a_pending_certificate_yields_no_code(service: Holder) -> None:
    _, document = service.issue("王八", anchored=False)
    body = refused(service.present(as_file(document), ["holder.name"]), 409, "not_anchored")
    assert "上链" in body["message_zh"]


def test_a_tampered_pdf_yields_no_code_and_the_sealed_one_does(service: Holder) -> None:
    identifier, _ = service.issue("冯九")
    pdf = service.client.get(f"/v1/certificates/{identifier}/pdf", headers=service.h("issuer"))
    assert pdf.status_code == 200, pdf.text
    opened = service.open(pdf.content, "证照.pdf").json()
    assert opened["kind"] == "pdf" and opened["verdict"] == "valid", opened
    assert opened["presentable"] is True and opened["refusal"] is None
    assert any(c["name"].startswith(("pdf.", "seal", "signature")) for c in opened["checks"])
    tampered = bytearray(pdf.content)
    tampered[200] ^= 1
    opened = service.open(bytes(tampered), "证照.pdf").json()
    assert opened["verdict"] == "invalid" and opened["presentable"] is False, opened
    assert opened["refusal"]["error"] == "certificate_invalid"
    body = refused(service.present(bytes(tampered), ["holder.name"], name="证照.pdf"), 422,
                   "certificate_invalid")
    assert "未通过核验" in body["message_zh"]
    made = service.present(pdf.content, ["holder.name"], name="证照.pdf")
    assert made.status_code == 201, made.text


def test_holders_files_never_take_the_counters_readers(service: Holder) -> None:
    """Attack: anyone (no key) uploads files that keep the isolated readers busy. The
    holder's readings run in their own share of the readers: with that share taken, a
    holder's PDF is 'try again' (503) at once, and a counter's upload of the same PDF still
    reads valid."""
    import threading

    from verifier.app.isolation import PUBLIC_SLOTS, PUBLIC_WAIT, SLOTS, run_isolated

    identifier, _ = service.issue("卫十七")
    pdf = service.client.get(f"/v1/certificates/{identifier}/pdf", headers=service.h("issuer"))
    assert pdf.status_code == 200, pdf.text
    threads = [threading.Thread(target=run_isolated, args=(time.sleep, PUBLIC_WAIT + 8.0),
                                kwargs={"seconds": 30, "memory": 256 << 20, "public": True})
               for _ in range(PUBLIC_SLOTS)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    try:
        started = time.monotonic()
        body = refused(service.present(pdf.content, [], name="证照.pdf"), 503,
                       "verification_unavailable")
        assert "稍后重试" in body["message_zh"]
        assert time.monotonic() - started < PUBLIC_WAIT + 2.0
        if SLOTS > 1:
            counter = service.client.post("/v1/verify", files={"file": ("证照.pdf", pdf.content)},
                                          headers=service.h("counter"))
            assert counter.status_code == 200, counter.text
            assert counter.json()["verdict"] == "valid", counter.json()
    finally:
        for thread in threads:
            thread.join()
    assert service.present(pdf.content, [], name="证照.pdf").status_code == 201


def test_an_ofd_file_makes_a_code_too(service: Holder) -> None:
    identifier, _ = service.issue("陈十")
    ofd = service.client.get(f"/v1/certificates/{identifier}/ofd", headers=service.h("issuer"))
    assert ofd.status_code == 200, ofd.text
    opened = service.open(ofd.content, "证照.ofd").json()
    assert opened["kind"] == "ofd" and opened["presentable"] is True, opened
    made = service.present(ofd.content, [], name="证照.ofd")
    assert made.status_code == 201, made.text


def test_bad_requests_are_coded(service: Holder) -> None:
    _, document = service.issue("褚十一")
    refused(service.present(as_file(document), ["holder.nickname"]), 422, "unknown_field")
    for ttl in (10, 7200):
        answer = service.present(as_file(document), [], ttl_seconds=ttl)
        assert answer.status_code == 422 and answer.json()["error"] == "bad_request"
    answer = service.present(as_file(document), [], purpose="")
    assert answer.status_code == 422 and answer.json()["error"] == "bad_request"
    refused(service.present(as_file(document), [], purpose="   "), 422, "purpose_required")
    missing = service.client.post("/v1/holder/presentations", data={"purpose": "x"})
    assert missing.status_code == 422 and missing.json()["error"] == "bad_request"


# ---- the holder's code at the counter ----


def test_the_code_is_redeemed_showing_exactly_the_fields_chosen(
    service: Holder, caplog: pytest.LogCaptureFixture
) -> None:
    name, id_number = "卫十二", "36010219900101123X"
    identifier, document = service.issue(name, id_number)
    opened = service.open(as_file(document))
    assert opened.status_code == 200, opened.text
    body = opened.json()
    assert body["verdict"] == "valid" and body["presentable"] is True and body["kind"] == "json"
    labels = {f["path"]: f["label"] for f in body["fields"]}
    assert labels["holder.name"] == "持证主体" and labels["holder.code"] == "居民身份证号码"
    assert labels["fields.用途"] == "用途"
    assert {f["path"] for f in body["fields"] if f["always"]} == set(ALWAYS_DISCLOSED)
    assert next(f for f in body["fields"] if f["path"] == "holder.name")["value"] == name

    chosen = ["holder.name", "fields.用途"]
    with caplog.at_level(logging.DEBUG):
        made = service.present(as_file(document), chosen, ttl_seconds=600)
    assert made.status_code == 201, made.text
    presentation = made.json()
    assert re.fullmatch(CODE, presentation["code"]), presentation
    assert presentation["certificate"] == identifier and presentation["ttl_seconds"] == 600
    assert made.headers["Location"] == f"/v1/certificates/{identifier}/history"
    assert {f["path"] for f in presentation["fields"]} == {*ALWAYS_DISCLOSED, *chosen}
    assert presentation["qr_svg"].startswith("<svg") and "<path" in presentation["qr_svg"]
    # a full QR symbol (21 + 4k modules and a border of 4), not a Micro QR (11 to 17)
    width = re.search(r'width="(\d+)"', presentation["qr_svg"])
    assert width and int(width[1]) - 8 >= 21 and (int(width[1]) - 8 - 21) % 4 == 0, width
    for secret in (name, id_number, presentation["code"], document["claims"]["holder.name"][
            "salt"]):
        assert secret not in caplog.text, secret

    redeemed = service.client.post("/v1/presentations/redeem",
                                   json={"code": presentation["code"]},
                                   headers=service.h("counter"))
    assert redeemed.status_code == 200, redeemed.text
    shown = redeemed.json()
    assert shown["verdict"] == "valid" and shown["purpose"] == "办理社保"
    disclosed = set(document["claims"]) - set(shown["certificate"]["hidden"])
    assert disclosed == {*ALWAYS_DISCLOSED, *chosen}
    assert shown["certificate"]["holder.name"] == name
    assert "holder.code" not in shown["certificate"]
    history = service.client.get(f"/v1/certificates/{identifier}/history",
                                 headers=service.h("issuer")).json()
    presented = [e for e in history["events"] if e["event"] == "presented"]
    assert presented and presented[-1]["actor"] == "holder"
    again = service.client.post("/v1/presentations/redeem", json={"code": presentation["code"]},
                                headers=service.h("counter"))
    assert again.status_code == 410 and again.json()["error"] == "presentation_used"


# ---- the limits ----


def test_the_limit_per_client_address(service: Holder, worker: TestClient) -> None:
    """Per address, in the process's memory: the fourth request from one address within
    the window is refused (with Retry-After); another address is not."""
    _, document = service.issue("蒋十三")
    for _ in range(ADDRESS_LIMIT):
        opened = service.open(as_file(document), client=worker)
        assert opened.status_code == 200 and opened.json()["presentable"] is True, opened.text
    body = refused(service.open(as_file(document), client=worker), 429, "rate_limited")
    assert "秒后再试" in body["message_zh"]
    over = service.present(as_file(document), [], client=worker)
    assert over.status_code == 429
    assert 1 <= int(over.headers["Retry-After"]) <= 60
    other = TestClient(worker.app, client=("198.51.100.21", 40001))
    assert service.open(as_file(document), client=other).status_code == 200


def test_the_limit_per_address_counts_an_ipv6_subscriber_once(service: Holder) -> None:
    """Attack: a subscriber is given a whole IPv6 /64, and each of its 2⁶⁴ addresses was a
    fresh allowance (no limit at all on /v1/holder/open, which reads any file in the
    service's isolated readers). Its addresses count as one; another /64, an IPv4
    address and the same IPv4 address mapped into IPv6 count as theirs."""
    settings = Settings(home=service.settings.home, devnet_port=service.settings.devnet_port,
                        holder_address_limit=ADDRESS_LIMIT)
    app = create_app(settings)
    with TestClient(app, client=("2001:db8:5:6::1", 40000)) as first:
        hosts = [f"2001:db8:5:6:{n:x}::{n:x}" for n in range(1, ADDRESS_LIMIT)]
        for client in [first, *(TestClient(app, client=(h, 40000)) for h in hosts)]:
            refused(service.open(b"not a certificate", "x.txt", client=client), 422,
                    "unsupported_file")
        again = TestClient(app, client=("2001:db8:5:6:ffff:ffff:ffff:fffe", 40000))
        refused(service.open(b"not a certificate", "x.txt", client=again), 429,
                "rate_limited")
        for host in ("2001:db8:5:7::1", "203.0.113.9"):
            other = TestClient(app, client=(host, 40000))
            refused(service.open(b"not a certificate", "x.txt", client=other), 422,
                    "unsupported_file")
        for _ in range(ADDRESS_LIMIT - 1):
            refused(service.open(b"not a certificate", "x.txt",
                                 client=TestClient(app, client=("203.0.113.9", 40000))),
                    422, "unsupported_file")
        mapped = TestClient(app, client=("::ffff:203.0.113.9", 40000))
        refused(service.open(b"not a certificate", "x.txt", client=mapped), 429,
                "rate_limited")


def test_the_limit_per_certificate_holds_across_workers(
    service: Holder, worker: TestClient
) -> None:
    """Per certificate, counted in the database: codes made through one process count in
    another; another certificate is not affected."""
    _, document = service.issue("沈十四")
    for _ in range(CERTIFICATE_LIMIT):
        assert service.present(as_file(document), []).status_code == 201
    elsewhere = TestClient(worker.app, client=("198.51.100.30", 40002))
    body = refused(service.present(as_file(document), [], client=elsewhere), 429,
                   "rate_limited")
    assert "出示码过多" in body["message_zh"]
    answer = service.present(as_file(document), [])
    assert answer.status_code == 429
    assert 3000 < int(answer.headers["Retry-After"]) <= 3600
    _, other = service.issue("韩十五")
    assert service.present(as_file(other), [], client=elsewhere).status_code == 201


def test_an_auditors_read_of_a_certificate_is_no_holders_credential(service: Holder) -> None:
    """The full salted document is the holder's credential. An auditor (a read-only role,
    over every agency) read it from GET /v1/certificates/{id} (and its PDF and OFD), then
    made a presentation code as the holder, and a counter redeemed it `valid` showing the
    full ID number. Now an auditor reads the values and a document hiding all but the
    always-disclosed claims — no code is made from it — and not the files."""
    identifier, _ = service.issue("吴十一", "110105194912310046")
    read = service.client.get(f"/v1/certificates/{identifier}", headers=service.h("auditor"))
    assert read.status_code == 200, read.text
    body = read.json()
    assert body["values"]["holder.code"] == "110105194912310046"  # the auditor still sees it
    assert "salt" not in body["document"]["claims"]["holder.code"]
    refused(service.present(as_file(body["document"]), ["holder.code"]), 422,
            "holder_disclosed_copy")
    for kind in ("pdf", "ofd"):
        denied = service.client.get(f"/v1/certificates/{identifier}/{kind}",
                                    headers=service.h("auditor"))
        assert denied.status_code == 403, denied.text
    # the issuing agency, which hands the file to the holder, still gets the full document
    full = service.client.get(f"/v1/certificates/{identifier}", headers=service.h("issuer"))
    assert "salt" in full.json()["document"]["claims"]["holder.code"]
    assert full.json().get("values") is None
