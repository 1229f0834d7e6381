"""The short code (核验码, issue #21) end to end: printed on the sealed certificate PDF the
service hands out, typed at the counter (``POST /v1/verify`` with ``{"qr": …}``, as the
counter page sends what it scanned or typed) and with ``zhengyin verify --qr``, resolved to
the stored certificate and verified in full; the PDF's dates read back with pikepdf."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import subprocess
from pathlib import Path

import pikepdf

from tests.verifier.test_api import Api, api, request
from tests.verifier.test_cli_devnet import zhengyin_command
from verifier.api.schemas import QR_MAX_LENGTH

__all__ = ["api"]  # the module's service (devnet, SQLite, indexer, batcher)


def printed_code(pdf: bytes, tmp_path: Path) -> str:
    """The short code as pdftotext reads it off the page: what a clerk sees and types."""
    source = tmp_path / "certificate.pdf"
    source.write_bytes(pdf)
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(source), "-"], check=True,
                          capture_output=True, text=True).stdout
    found = re.search(r"核验码：\s*(\S+)", text)
    assert found, text
    return found.group(1)


def pdf_time(value: str) -> dt.datetime:
    """``D:YYYYMMDDHHmmSS`` then ``Z`` or ``+HH'mm'`` → an aware datetime."""
    found = re.fullmatch(r"D:(\d{14})(Z|([+-])(\d\d)'(\d\d)')", value)
    assert found, value
    when = dt.datetime.strptime(found.group(1), "%Y%m%d%H%M%S")
    if found.group(2) == "Z":
        return when.replace(tzinfo=dt.UTC)
    sign = 1 if found.group(3) == "+" else -1
    offset = dt.timedelta(hours=int(found.group(4)), minutes=int(found.group(5)))
    return when.replace(tzinfo=dt.timezone(sign * offset))


def test_the_code_printed_on_the_pdf_verifies_at_the_counter(api: Api, tmp_path: Path) -> None:
    c = api.client
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    identifier = c.post("/v1/certificates", json=request("吴十"),
                        headers=api.h("issuer_a")).json()["identifier"]
    api.wait_anchored(identifier)
    pdf = c.get(f"/v1/certificates/{identifier}/pdf", headers=api.h("issuer_a")).content
    code = printed_code(pdf, tmp_path)
    assert code.startswith(identifier.removeprefix("1.2.156.3005.2.") + "-") and len(code) < 70

    body = c.post("/v1/verify", json={"qr": code}, headers=api.h("counter")).json()
    assert body["verdict"] == "valid", body
    checks = {ch["name"]: ch["status"] for ch in body["checks"]}
    for name in ("short_code.check", "certificate.integrity", "certificate.signature",
                 "certificate.merkle_proof", "chain.anchored", "issuer.key",
                 "certificate.status"):
        assert checks.get(name) == "VALID", (name, body["checks"])
    shown = body["certificate"]
    assert shown["identifier"] == identifier and body["chain"]["block"] >= 1
    assert shown["holder.name"] == "吴*" and "11010519491231002X" not in str(body)  # masked
    typed = " ".join(code.lower().replace("-", " ").replace(".", " "))
    assert c.post("/v1/verify", json={"qr": typed},
                  headers=api.h("counter")).json()["verdict"] == "valid"

    # the PDF's dates: created at the issue (its date, 北京时间), modified when sealed, the
    # same instant as the seal signature's /M
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        created = str(doc.docinfo["/CreationDate"])
        modified = str(doc.docinfo["/ModDate"])
        signed = str(doc.Root.AcroForm.Fields[0].V.M)
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
    assert created in (f"D:{d:%Y%m%d}000000+08'00'" for d in (today, today - dt.timedelta(1)))
    assert modified.endswith("+08'00'") and pdf_time(modified) == pdf_time(signed)
    assert before <= pdf_time(modified) <= dt.datetime.now(dt.UTC)

    # revoked: the code now gives the stored certificate's verdict, invalid with its reason
    revoked = c.post(f"/v1/certificates/{identifier}/revoke",
                     json={"reason": "信息有误", "reason_code": 1}, headers=api.h("issuer_a"))
    assert revoked.status_code == 200, revoked.text
    after = c.post("/v1/verify", json={"qr": code}, headers=api.h("counter")).json()
    assert after["verdict"] == "invalid"
    status = next(ch for ch in after["checks"] if ch["name"] == "certificate.status")
    assert status["status"] == "INVALID" and "信息有误" in status["reason_zh"]


def test_a_mistyped_code_is_retype_and_long_input_is_refused(api: Api) -> None:
    c = api.client
    identifier = c.post("/v1/certificates", json=request("郑十一"),
                        headers=api.h("issuer_a")).json()["identifier"]
    api.wait_anchored(identifier)
    short = identifier.removeprefix("1.2.156.3005.2.")
    for typed in (f"{short}-0000-0000", short[:-3] + "-ABCD-EFGH", short + "-ABCD"):
        response = c.post("/v1/verify", json={"qr": typed}, headers=api.h("counter"))
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["verdict"] == "error", body
        assert [ch["name"] for ch in body["checks"]] == ["short_code.check"]
        assert "重新输入" in body["checks"][0]["reason_zh"]
        assert "identifier" not in body["certificate"]
    too_long = c.post("/v1/verify", json={"qr": short + "-" + "A" * QR_MAX_LENGTH},
                      headers=api.h("counter"))
    assert too_long.status_code == 422 and too_long.json()["error"] == "bad_request"
    # a QR payload is still read as one
    odd = c.post("/v1/verify", json={"qr": "ZY2." + short}, headers=api.h("counter")).json()
    assert [ch["name"] for ch in odd["checks"]] == ["qr.format"]
    assert c.post("/v1/verify", json={"qr": f"{short}-0000-0000"}).status_code == 401


def test_zhengyin_verify_takes_a_short_code_where_the_store_is(
    api: Api, tmp_path: Path
) -> None:
    from certs import shortcode
    from certs.canonical import CertificateDocument

    c = api.client
    identifier = c.post("/v1/certificates", json=request("王十二"),
                        headers=api.h("issuer_a")).json()["identifier"]
    document = CertificateDocument.from_json(json.dumps(api.wait_anchored(identifier)["document"]))
    code = shortcode.short_code(identifier, document.leaf)
    env = {**os.environ, "ZHENGYIN_HOME": str(api.settings.home_dir),
           "ZHENGYIN_DEVNET_PORT": str(api.settings.devnet_port)}
    env.pop("ZHENGYIN_RPC_URL", None)
    env.pop("ZHENGYIN_DATABASE_URL", None)

    def run(*args: str, home: Path | None = None) -> subprocess.CompletedProcess[str]:
        given = env if home is None else {**env, "ZHENGYIN_HOME": str(home)}
        return subprocess.run([*zhengyin_command(), *args], env=given, capture_output=True,
                              text=True, timeout=120, check=False)

    found = run("verify", "--qr", code.lower(), "--json")
    assert found.returncode == 0, found.stdout + found.stderr
    body = json.loads(found.stdout)
    assert body["verdict"] == "valid" and body["subject"]["identifier"] == identifier
    assert body["subject"]["holder.name"] == "王**"
    wrong = run("verify", "--qr", code[:-1] + ("0" if code[-1] != "0" else "1"))
    assert wrong.returncode == 3 and "short_code.check" in wrong.stdout, wrong.stdout
    nowhere = run("verify", "--qr", code, home=tmp_path / "empty-home")
    assert nowhere.returncode == 1, nowhere.stderr
    assert nowhere.stderr.startswith("error [no_store]: "), nowhere.stderr
    assert not (tmp_path / "empty-home" / "zhengyin.sqlite3").exists()
