"""Issue #18: ``POST /v1/verify`` has one implementation, the route, QR payloads included.

Before, a plain ``{"qr": …}`` was answered inside an ASGI middleware, a copy of the route
beside it: anything added to the route silently missed the busiest request. These tests
attack that: what the route does (read the caller, bound and read the body, refuse with the
project's error model) must apply to a QR request exactly as to any other, and a refusal
added where the route reads its caller must refuse a QR request too.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import Request
from fastapi.testclient import TestClient

from certs import qr
from certs.canonical import CertificateDocument
from devnet.anvil import Devnet
from tests.conftest import free_port
from verifier.api.app import create_app
from verifier.api.schemas import QR_MAX_LENGTH
from verifier.app.agency import add_issuer, hash_api_key, new_api_key, open_store
from verifier.app.catalogue import authorize_everywhere
from verifier.app.context import registry
from verifier.app.service import KEY_CACHE_SECONDS, AccessDenied, Principal
from verifier.cli.devnet import deploy_and_report
from verifier.settings import Settings

AGENCY = ("91110000101623741K", "示例市市场监督管理局")
BODY_LIMIT = 64 * 1024
"""A small body limit for this service, so an oversized body is cheap to send."""


class Counter:
    def __init__(self, client: TestClient, settings: Settings, keys: dict[str, str],
                 payload: str) -> None:
        self.client, self.settings, self.keys, self.payload = client, settings, keys, payload

    def h(self, who: str = "counter") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    def verify(self, body: Any, headers: dict[str, str] | None = None) -> Any:
        return self.client.post("/v1/verify", json=body,
                                headers=self.h() if headers is None else headers)


@pytest.fixture(scope="module")
def counter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Counter]:
    home = tmp_path_factory.mktemp("verify-route")
    settings = Settings(home=home, devnet_port=free_port(), max_body_bytes=BODY_LIMIT)
    Devnet(settings.home_dir).up(settings.devnet_port)
    try:
        deploy_and_report(settings)
        keys = {"issuer": add_issuer(settings, *AGENCY).api_key}
        authorize_everywhere(registry(settings, write=True), AGENCY[0])
        store = open_store(settings)
        for role, name in (("counter", "一号窗口"), ("auditor", "二号窗口")):
            keys[role] = new_api_key()
            store.add_api_key(role, name, hash_api_key(keys[role]))
        with TestClient(create_app(settings)) as client:
            created = client.post("/v1/certificates", headers={
                "Authorization": f"Bearer {keys['issuer']}"}, json={
                "type": "11100000000013338W032", "jurisdiction": "360100",
                "holder": {"name": "张三", "code": "11010519491231002X", "code_type": "111"}})
            assert created.status_code == 201, created.text
            identifier = created.json()["identifier"]
            deadline = time.monotonic() + 30
            while True:
                found = client.get(f"/v1/certificates/{identifier}",
                                   headers={"Authorization": f"Bearer {keys['issuer']}"}).json()
                if found.get("status") == "active" or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert found["status"] == "active", found
            document = CertificateDocument.from_json(json.dumps(found["document"]))
            yield Counter(client, settings, keys, qr.payload_for(document).encode())
    finally:
        Devnet(settings.home_dir).down()


def test_a_genuine_qr_is_valid_and_counted_as_the_route(counter: Counter) -> None:
    answer = counter.verify({"qr": counter.payload})
    assert answer.status_code == 200, answer.text
    assert answer.json()["verdict"] == "valid"
    line = 'zhengyin_http_requests_total{method="POST",route="/v1/verify",status="200"}'
    assert line in counter.client.get("/metrics").text


def test_a_refusal_added_where_the_route_reads_its_caller_refuses_a_qr_request(
    counter: Counter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The attack on the old design: a check added to the route (here a refusal where it
    reads the caller, as a rate limit or a closed counter would be) did not reach the plain
    ``{"qr": …}`` the middleware answered. Now it must, as for every other body."""
    from verifier.api.routes import verification

    async def closed(request: Request) -> Principal:
        raise AccessDenied("this counter is closed", code="wrong_role")

    monkeypatch.setattr(verification, "get_principal", closed)
    bodies: list[dict[str, Any]] = [
        {"qr": counter.payload},
        {"qr": counter.payload, "certificate": None},
        {"qr": "ZY2.X"},
    ]
    for body in bodies:
        refused = counter.verify(body)
        assert refused.status_code == 403, (body, refused.text)
        assert refused.json() == {"error": "wrong_role", "message": "this counter is closed"}
    monkeypatch.undo()
    assert counter.verify({"qr": counter.payload}).json()["verdict"] == "valid"


def test_an_absent_unknown_or_revoked_key_is_refused_for_a_qr(counter: Counter) -> None:
    missing = counter.verify({"qr": counter.payload}, headers={})
    assert missing.status_code == 401 and missing.json()["error"] == "api_key_missing"
    for header in ("Basic " + counter.keys["auditor"], "Bearer", "Bearer zy_unknown"):
        refused = counter.verify({"qr": counter.payload}, headers={"Authorization": header})
        assert refused.status_code == 401, (header, refused.text)
        assert refused.json()["error"] in ("api_key_missing", "api_key_invalid")
    who = {"Authorization": f"Bearer {counter.keys['auditor']}"}
    assert counter.verify({"qr": counter.payload}, headers=who).json()["verdict"] == "valid"
    store = open_store(counter.settings)
    assert store.revoke_api_keys("auditor", "二号窗口") == 1
    time.sleep(KEY_CACHE_SECONDS + 0.2)  # a process trusts a looked-up key this long
    revoked = counter.verify({"qr": counter.payload}, headers=who)
    assert revoked.status_code == 401 and revoked.json()["error"] == "api_key_invalid"


def test_an_oversized_qr_body_is_refused_before_it_is_read(counter: Counter) -> None:
    """Over the service's body limit: 413 whether the length is declared or the body comes
    in pieces without one; a QR text over its own limit is the route's 422."""
    big = json.dumps({"qr": "ZY2." + "A" * BODY_LIMIT}).encode()
    headers = {**counter.h(), "content-type": "application/json"}
    declared = counter.client.post("/v1/verify", content=big, headers=headers)
    assert declared.status_code == 413 and declared.json()["error"] == "body_too_large"
    pieces = counter.client.post(
        "/v1/verify", headers=headers,
        content=iter([big[i : i + 4096] for i in range(0, len(big), 4096)]))
    assert pieces.status_code == 413 and pieces.json()["error"] == "body_too_large"
    long = counter.verify({"qr": "ZY2." + "A" * QR_MAX_LENGTH})
    assert long.status_code == 422 and long.json()["error"] == "bad_request", long.text


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b'{"qr": "ZY2.', 400, "bad_json"),
        (b"", 400, "bad_json"),
        ('{"qr": "ZY2.X"}'.encode("utf-16"), 400, "bad_json"),
        (b'{"qr": 5}', 422, "bad_request"),
        (b'{"qr": null}', 422, "bad_request"),
        (b'[["qr", "ZY2.X"]]', 422, "bad_request"),  # a list of pairs is not an object
        (b'{"qr": "ZY2.X", "qr": "ZY2.Y"}', 422, "bad_request"),
        (b'{"qr": "ZY2.X", "extra": 1}', 422, "bad_request"),
    ],
)
def test_a_malformed_qr_body_gets_the_routes_answer(
    counter: Counter, body: bytes, status: int, code: str
) -> None:
    headers = {**counter.h(), "content-type": "application/json"}
    answer = counter.client.post("/v1/verify", content=body, headers=headers)
    assert answer.status_code == status, (body, answer.text)
    assert answer.json()["error"] == code and answer.json()["message"], answer.text


@pytest.mark.parametrize("text", ["ZY2.X", "证照", "", "ZY1." + "A" * 40, " ZY2.X"])
def test_a_malformed_qr_text_is_an_error_verdict(counter: Counter, text: str) -> None:
    answer = counter.verify({"qr": text})
    assert answer.status_code == 200, answer.text
    assert answer.json()["verdict"] == "error", answer.text


def test_a_check_about_one_seal_of_a_file_is_coded_by_what_was_found() -> None:
    """The counter page chooses its sentence by a check's code: a sealed file's checks are
    worded "[Seal1] …" (``pdf.in_field``), and their code is what was found about that seal
    (``pdf.anchored.other_issuer``), not the wording's id — else a forged certificate file
    read as a generic seal failure, and a chain outage on a file never as one."""
    from verifier.api.routes.verification import verify_json
    from verifier.checks.pdf_checks import _anchored
    from verifier.checks.verdict import Status, Verdict

    forged = _anchored("Seal1", Status.INVALID, "pdf.anchored.other_issuer",
                       {"issuer": "A", "block": 3, "when": "x", "certificate_issuer": "B"})
    down = _anchored("Seal1", Status.ERROR, "pdf.anchored.unreadable", {"error": "x"})
    codes = [c["code"] for c in verify_json(Verdict((forged, down)))["checks"]]
    assert codes == ["pdf.anchored.other_issuer", "pdf.anchored.unreadable"]
