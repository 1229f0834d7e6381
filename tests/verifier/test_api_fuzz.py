"""No input makes the API fail: property-based tests against the served OpenAPI schema
(schemathesis), and explicit hostile inputs.

The service runs for real (``zhengyin demo`` data, a devnet, ``zhengyin serve`` with a small
body limit). The property: no response is a 5xx (the chain is up, so not even 503), and every
4xx is JSON ``{"error": code, "message": text}``. The served schema describes every body
(those that routes read themselves too), so it is fuzzed as served; schemathesis also runs
with every one of its checks against the live service (the contract: statuses, bodies,
content types and headers as documented, invalid data refused, auth enforced). The
documentation pages are rendered by Chromium with no access to anything but the service.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from tests.verifier.browser import (  # the counter page's headless Chromium
    Served,
    browser,  # noqa: F401
    demo_service,
)
from verifier.api.app import create_app

BODY_LIMIT = 4096
EXAMPLES = 50
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)

SCHEMA = schemathesis.openapi.from_dict(create_app().openapi())
"""The schema as the service serves it: every body is described there, none patched in."""
OPERATIONS = {op.label: op for op in (r.ok() for r in SCHEMA.get_all_operations())}
# operations whose every input is valid (no body, free-form path strings) have no negative data
NO_NEGATIVE = {
    "GET /healthz",
    "GET /metrics",
    "GET /v1/certificates/{identifier}",
}
COUNTER_ROUTES = {"POST /v1/verify", "POST /v1/presentations/redeem"}
ADMIN_ROUTES = {
    label for label in OPERATIONS if label.split(" ")[1].startswith(("/v1/types", "/v1/issuers"))
}
"""The catalogue and authorization routes, fuzzed with an admin key: every refusal the chain
or the input can give is a coded 4xx (the chain's state barely moves: random codes name no
type or agency)."""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    home = tmp_path_factory.mktemp("fuzz-home")
    with demo_service(home, ZHENGYIN_MAX_BODY_BYTES=str(BODY_LIMIT)) as service:
        yield service


@pytest.fixture(scope="module")
def admin_key(served: Served) -> str:
    from verifier.app.agency import hash_api_key, new_api_key, open_store
    from verifier.settings import Settings

    key = new_api_key()
    open_store(Settings(home=served.home)).add_api_key("admin", "模糊测试", hash_api_key(key))
    return key


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


class Answer(Protocol):
    """What both ``requests`` and schemathesis responses offer."""

    status_code: int
    text: str

    def json(self) -> Any: ...


def assert_no_failure(response: Answer, what: str = "") -> None:
    """The property: never a 5xx; every 4xx a JSON body with a code and a message."""
    context = f"{what} → {response.status_code} {response.text[:300]!r}"
    assert response.status_code < 500, context
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body, dict), context
        assert isinstance(body.get("error"), str) and body["error"], context
        assert isinstance(body.get("message"), str) and body["message"], context


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_no_operation_fails_on_any_input(served: Served, admin_key: str, label: str) -> None:
    operation = OPERATIONS[label]
    modes = [GenerationMode.POSITIVE]
    if label not in NO_NEGATIVE:
        modes.append(GenerationMode.NEGATIVE)
    strategy = st.one_of(*(operation.as_strategy(mode) for mode in modes))
    key = served.counter_key if label in COUNTER_ROUTES else str(served.demo["issuer_api_key"])
    if label in ADMIN_ROUTES:
        key = admin_key
    session = requests.Session()

    @FUZZ
    @given(case=strategy, authenticated=st.booleans() | st.just(True))
    def check(case: Case, authenticated: bool) -> None:
        if authenticated and case.headers:
            # the generated Authorization header is replaced by a real key
            case.headers = {k: v for k, v in case.headers.items() if k.lower() != "authorization"}
        headers = bearer(key) if authenticated else None
        response = case.call(base_url=served.url, session=session, headers=headers, timeout=30)
        assert_no_failure(response, case.as_curl_command())

    check()


# ---- explicit hostile inputs ----


def test_malformed_json_and_wrong_types(served: Served) -> None:
    counter, issuer = bearer(served.counter_key), bearer(str(served.demo["issuer_api_key"]))
    json_type = {"Content-Type": "application/json"}
    cases: list[tuple[str, dict[str, str], bytes]] = []
    for path, who in (
        ("/v1/verify", counter),
        ("/v1/presentations/redeem", counter),
        ("/v1/certificates", issuer),
        ("/v1/certificates/batch", issuer),
        ("/v1/certificates/bulk/revoke", issuer),
        ("/v1/certificates/x/suspend", issuer),
        ("/v1/presentations", issuer),
    ):
        for raw in (
            b"{bad",
            b"",
            b"null",
            b"[]",
            b"42",
            b'"text"',
            b"\xff\xfe\x00{",
            b'{"qr": 5}',
            b'{"qr": "ZY1.A", "certificate": {}}',
            b'{"certificate": "not an object"}',
            b'{"code": 1234}',
            b'{"reason": ["x"], "reason_code": "one", "identifiers": "x"}',
            b'{"certificate": 1, "purpose": null, "ttl_seconds": 1e309}',
            b"[" * 2000 + b"]" * 2000,
            b'{"a": ' + b"[" * 1000 + b"]" * 1000 + b"}",
        ):
            cases.append((path, {**who, **json_type}, raw))
    for path, headers, raw in cases:
        response = requests.post(served.url + path, data=raw, headers=headers, timeout=30)
        assert_no_failure(response, f"POST {path} {raw[:40]!r}")
        assert response.status_code != 201 or path == "/v1/certificates/batch"
    deep = requests.post(
        served.url + "/v1/certificates/batch",
        data=b"[" * 2000 + b"]" * 2000,
        headers={**issuer, **json_type},
        timeout=30,
    )
    assert deep.status_code == 400 and deep.json()["error"] == "bad_json", deep.text
    for document in (
        b'{"a": ' + b"[" * 1900 + b"]" * 1900 + b"}",
        b'{"format": "zhengyin-cert/1", "claims": ' + b"{" * 1000 + b"}" * 1000 + b"}",
    ):
        nested = requests.post(
            served.url + "/v1/verify", files={"file": ("c.json", document)}, headers=counter,
            timeout=30,
        )
        assert nested.status_code == 200 and nested.json()["verdict"] == "invalid", nested.text
    # malformed JSON is a 400 bad_json on every route; well-formed JSON of the wrong shape a
    # 422 bad_request
    for path, who in (("/v1/verify", counter), ("/v1/presentations/redeem", counter),
                      ("/v1/certificates", issuer), ("/v1/certificates/batch", issuer),
                      ("/v1/certificates/x/suspend", issuer)):
        for raw in (b"{bad", b"", b"\xff\xfe\x00{"):
            unreadable = requests.post(served.url + path, data=raw,
                                       headers={**who, **json_type}, timeout=30)
            assert unreadable.status_code == 400, (path, raw, unreadable.text)
            assert unreadable.json()["error"] == "bad_json", (path, raw, unreadable.text)
            assert "not JSON" in unreadable.json()["message"] or "empty" in unreadable.json()[
                "message"]
            assert "pydantic" not in unreadable.text
        shape = requests.post(served.url + path, data=b"42", headers={**who, **json_type},
                              timeout=30)
        assert shape.status_code == 422, (path, shape.text)
        assert shape.json()["error"] in ("bad_request", "batch_not_list"), shape.text
    wrong = requests.post(served.url + "/v1/verify", json={"qr": 5}, headers=counter, timeout=30)
    assert wrong.status_code == 422 and "qr" in wrong.json()["message"]
    both = requests.post(
        served.url + "/v1/verify", json={"qr": "ZY1.x", "certificate": {}}, headers=counter,
        timeout=30,
    )
    assert both.status_code == 422 and "exactly one" in both.json()["message"]


def test_oversized_bodies_are_refused(served: Served) -> None:
    counter = bearer(served.counter_key)
    big = {"qr": "ZY1." + "A" * (BODY_LIMIT + 10)}
    declared = requests.post(served.url + "/v1/verify", json=big, headers=counter, timeout=30)
    assert declared.status_code == 413, declared.text
    assert declared.json()["error"] == "body_too_large"
    assert str(BODY_LIMIT) in declared.json()["message"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the service counts what arrives
        yield b'{"qr": "ZY1.'
        for _ in range(BODY_LIMIT // 512 + 2):
            yield b"A" * 512
        yield b'"}'

    streamed = requests.post(
        served.url + "/v1/verify",
        data=chunks(),
        headers={**counter, "Content-Type": "application/json"},
        timeout=30,
    )
    assert streamed.status_code == 413 and streamed.json()["error"] == "body_too_large"
    upload = requests.post(
        served.url + "/v1/verify",
        files={"file": ("big.pdf", b"%PDF-1.7\n" + os.urandom(BODY_LIMIT))},
        headers=counter,
        timeout=30,
    )
    assert upload.status_code == 413 and upload.json()["error"] == "body_too_large"
    # just under the limit is still read
    small = requests.post(
        served.url + "/v1/verify", json={"qr": "ZY1.AAAA"}, headers=counter, timeout=30
    )
    assert small.status_code == 200 and small.json()["verdict"] == "error"


def test_malformed_multipart_and_missing_file(served: Served) -> None:
    counter = bearer(served.counter_key)
    issuer = bearer(str(served.demo["issuer_api_key"]))
    for path, who in (("/v1/verify", counter), ("/v1/seals/stamp", issuer)):
        for content_type, raw in (
            ("multipart/form-data", b"xx"),
            ("multipart/form-data; boundary=zz", b"xx"),
            ("multipart/form-data; boundary=zz", b"--zz\r\nContent-Disposition: form-data\r\n"),
        ):
            response = requests.post(
                served.url + path, data=raw, headers={**who, "Content-Type": content_type},
                timeout=30,
            )
            assert_no_failure(response, f"{path} {content_type} {raw!r}")
            assert 400 <= response.status_code < 500
        other = requests.post(served.url + path, files={"other": b"1"}, headers=who, timeout=30)
        assert other.status_code == 422 and other.json()["error"] == "file_missing"


def test_stamp_numbers_must_be_finite(served: Served) -> None:
    issuer = bearer(str(served.demo["issuer_api_key"]))
    pdf = (Path(__file__).resolve().parents[1] / "data" / "pdf" / "three-pages.pdf").read_bytes()
    for field, value in (
        ("page", "nan"), ("page", "inf"), ("page", "-inf"), ("page", "1.5"), ("page", "abc"),
        ("x", "nan"), ("y", "-inf"), ("width", "inf"), ("width", "1e999"),
    ):
        response = requests.post(
            served.url + "/v1/seals/stamp",
            files={"file": ("a.pdf", pdf, "application/pdf")},
            data={field: value},
            headers=issuer,
            timeout=30,
        )
        assert response.status_code == 422, (field, value, response.text)
        assert response.json()["error"] == "bad_request"
        assert f"'{field}'" in response.json()["message"]


_PREFIXES = [
    b"",
    b"%PDF-1.7\n",
    b"{",
    b'{"format": "zhengyin-cert/1", "claims": ',
    b"0\x82\x01\x00",  # a DER SEQUENCE, as seals and seal signatures start
    b"PK\x03\x04",  # a zip local header, as OFD packages start
]


@FUZZ
@given(prefix=st.sampled_from(_PREFIXES), tail=st.binary(max_size=2048))
def test_random_files_get_a_verdict_or_a_coded_4xx(
    served: Served, prefix: bytes, tail: bytes
) -> None:
    response = requests.post(
        served.url + "/v1/verify",
        files={"file": ("upload.bin", prefix + tail)},
        headers=bearer(served.counter_key),
        timeout=30,
    )
    assert_no_failure(response, f"file {(prefix + tail)[:40]!r}")
    if response.status_code == 200:
        assert response.json()["verdict"] == "invalid"
    else:
        assert response.status_code == 422, response.text


def test_random_bytes_upload_is_unsupported(served: Served) -> None:
    response = requests.post(
        served.url + "/v1/verify",
        files={"file": ("noise.bin", b"\x01\x02" + os.urandom(1000))},
        headers=bearer(served.counter_key),
        timeout=30,
    )
    assert response.status_code == 422 and response.json()["error"] == "unsupported_file"


_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567."


@FUZZ
@given(data=st.data())
def test_garbage_and_mutated_qr_payloads(served: Served, data: st.DataObject) -> None:
    real = served.certificate("active")["qr"]
    payload = data.draw(
        st.one_of(
            st.text(max_size=300),
            st.text(alphabet=_BASE32, max_size=300).map(lambda t: "ZY2." + t),
            st.integers(0, len(real)).map(lambda n: real[:n]),
            st.tuples(
                st.integers(4, len(real) - 1), st.sampled_from(_BASE32)
            ).map(lambda m: real[: m[0]] + m[1] + real[m[0] + 1 :]),
        ),
        label="payload",
    )
    response = requests.post(
        served.url + "/v1/verify", json={"qr": payload}, headers=bearer(served.counter_key),
        timeout=30,
    )
    assert_no_failure(response, f"qr {payload!r}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["verdict"] in ("valid", "invalid", "error"), body
    if body["verdict"] == "error":  # an unreadable scan: only its format could be judged
        assert [c["name"] for c in body["checks"]] == ["qr.format"], body
    if payload != real and body["verdict"] == "valid":
        # only a change the encoding ignores (base32 padding bits) may still verify
        assert body["certificate"]["identifier"] == served.certificate("active")["identifier"]
    if body["verdict"] == "invalid":
        assert any(c["status"] == "INVALID" for c in body["checks"])


def test_bad_keys_and_unknown_routes(served: Served) -> None:
    for header in ("", "Bearer", "Bearer ", "Basic abc", "Bearer zy_nope", "bearer x" * 100):
        response = requests.post(
            served.url + "/v1/verify", json={"qr": "ZY1.A"},
            headers={"Authorization": header} if header else {}, timeout=30,
        )
        assert response.status_code == 401, (header, response.text)
        assert response.json()["error"] in ("api_key_missing", "api_key_invalid")
    latin = requests.post(
        served.url + "/v1/verify", json={"qr": "ZY1.A"},
        headers={"Authorization": "Bearer \xff\xfe".encode("latin-1")}, timeout=30,
    )
    assert latin.status_code == 401 and latin.json()["error"] == "api_key_invalid"
    assert_no_failure(requests.get(served.url + "/v1/nothing-here", timeout=30))
    gone = requests.delete(served.url + "/v1/verify", timeout=30)
    assert gone.status_code == 405 and gone.json()["error"] == "method_not_allowed"
    page = requests.get(served.url + "/static/../../etc/passwd", timeout=30)
    assert page.status_code == 404 and "root:" not in page.text
    assert json.loads(requests.get(served.url + "/v1/nope", timeout=30).text)["error"]


# ---- the contract: schemathesis with every check, against the live service ----

CONTRACT_EXAMPLES = 10
"""Examples per operation and phase: about 20 s a role on the project's 2-core machine."""
_ST_CONFIG = """
# What JSON Schema cannot say is checked by the service and refused with a 422 that the
# schema documents (a USCC's or an ID number's check character, a type in the catalogue, a
# date after another, a number already used), or with a 404 or 409 (the certificate or
# agency named does not exist, or is not in the state asked); a 410 for a used code; a 413
# when a generated body is over the service's (small, here) body limit.
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "401", "403", "404", "409", "410", "413", "422"]
[checks.negative_data_rejection]
expected-statuses = ["400", "401", "403", "404", "405", "409", "413", "422"]
"""
ROLE_OPERATIONS = {
    "counter": "^/v1/(verify|presentations/redeem)$",
    "issuer": "^/(v1/certificates|v1/seals|v1/presentations$|healthz$|metrics$)",
    "admin": "^/v1/(types|issuers)",
}
"""Which operations are driven with which role's key (each with the key that may use them;
the others' 401 and 403 are checked by ``ignored_auth`` and the fuzzing above)."""


@pytest.mark.parametrize("role", sorted(ROLE_OPERATIONS))
def test_the_live_service_keeps_its_contract_under_every_check(
    served: Served, admin_key: str, role: str, tmp_path: Path
) -> None:
    keys = {"counter": served.counter_key, "issuer": str(served.demo["issuer_api_key"]),
            "admin": admin_key}
    config = tmp_path / "schemathesis.toml"
    config.write_text(_ST_CONFIG, encoding="utf-8")
    command = [
        str(Path(sys.executable).with_name("st")), "--no-color", "--config-file", str(config),
        "run", f"{served.url}/openapi.json",
        "--checks", "all",
        "--max-examples", str(CONTRACT_EXAMPLES),
        "--seed", "17",
        "--workers", "1",
        "--include-path-regex", ROLE_OPERATIONS[role],
        "--header", f"Authorization: Bearer {keys[role]}",
        "--request-timeout", "30",
        "--report", "junit", "--report-dir", str(tmp_path / "report"),
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path,
                         check=False)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-6000:]
    summary = re.search(r"(\d+) generated, (\d+) passed", output)
    assert summary is not None, output[-3000:]
    assert int(summary.group(1)) >= 50 and summary.group(1) == summary.group(2), output[-3000:]
    for phase in ("Examples", "Coverage", "Fuzzing"):
        assert re.search(rf"✅ {phase}", output), output[-3000:]


# ---- the documentation pages, offline ----

@pytest.mark.parametrize(("path", "rendered"), [
    ("/docs", "#swagger-ui .opblock"),
    ("/redoc", "[role=navigation] li, .menu-content li"),
])
def test_the_documentation_renders_with_nothing_but_the_service(
    served: Served, browser: WebDriver, path: str, rendered: str  # noqa: F811
) -> None:
    """Swagger UI and ReDoc load their scripts and styles from the service: on an intranet
    with no way out they still render the whole API."""
    html = requests.get(served.url + path, timeout=30).text
    external = [u for u in re.findall(r"""(?:src|href)=["']([^"']+)""", html)
                if urlsplit(u).scheme or u.startswith("//")]
    assert external == [], external
    assert "cdn" not in html.lower() and "googleapis" not in html
    browser.get(served.url + path)
    WebDriverWait(browser, 30).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, rendered)) >= 10)
    page = browser.find_element(By.TAG_NAME, "body").text
    assert "/v1/verify" in page or "Verify" in page, page[:500]
    if path == "/docs":
        assert browser.find_elements(By.CSS_SELECTOR, ".btn.authorize"), "no Authorize button"
    if path == "/docs":
        _authorize_and_try(browser, served.counter_key)
    fetched: list[str] = browser.execute_script(
        "return performance.getEntriesByType('navigation')"
        ".concat(performance.getEntriesByType('resource')).map(e => e.name)")
    assert any(u.endswith("/openapi.json") for u in fetched), fetched
    for url in fetched:
        parts = urlsplit(url)
        assert parts.scheme == "data" or (
            parts.scheme == "http" and parts.hostname == "127.0.0.1"), f"{path} fetched {url}"


def _authorize_and_try(browser: WebDriver, key: str) -> None:  # noqa: F811
    """Swagger's "Authorize" takes the key, and "Try it out" then sends it: the catalogue
    comes back (a 200, not a 401)."""
    wait = WebDriverWait(browser, 30)
    browser.find_element(By.CSS_SELECTOR, ".btn.authorize").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".modal-ux input"))[0].send_keys(key)
    browser.find_element(By.CSS_SELECTOR, ".modal-ux .auth-btn-wrapper .authorize").click()
    browser.find_element(By.CSS_SELECTOR, ".modal-ux .btn-done").click()
    block = browser.find_element(By.ID, "operations-catalogue-list_types_v1_types_get")
    block.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
    wait.until(lambda d: block.find_elements(By.CSS_SELECTOR, ".try-out__btn"))[0].click()
    wait.until(lambda d: block.find_elements(By.CSS_SELECTOR, ".execute"))[0].click()
    answer = wait.until(
        lambda d: block.find_elements(By.CSS_SELECTOR, ".live-responses-table"))[0].text
    assert "\n200\n" in answer and '"types"' in answer, answer[:500]
