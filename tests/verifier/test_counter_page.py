"""The counter page (``GET /``) end to end: the real service (``zhengyin demo`` data, a real
devnet, ``zhengyin serve``) driven by a real headless Chromium through Selenium.

Chromium and its driver come from Debian (``chromium``, ``chromium-driver``; see
``.ci/system-packages``); Selenium is pointed at the system chromedriver and never downloads
anything (``SE_OFFLINE``). Every resource the page loads must come from the service itself.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from PIL import Image
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from tests.verifier.browser import Served, browser, served

__all__ = ["browser", "served"]  # fixtures this module's tests use

WAIT_SECONDS = 30
CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass
class Page:
    """The counter page in the browser, with the steps a clerk takes."""

    driver: WebDriver
    url: str

    def viewport(self, width: int, height: int, *, mobile: bool = False) -> None:
        """Exactly this many CSS pixels of page (the window size would include its frame)."""
        self.driver.execute_cdp_cmd(  # type: ignore[attr-defined]
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
        )

    def open(self) -> None:
        self.driver.get(self.url + "/")
        WebDriverWait(self.driver, WAIT_SECONDS).until(
            lambda d: d.execute_script("return document.readyState") == "complete"
        )

    def by_id(self, element_id: str) -> WebElement:
        return self.driver.find_element(By.ID, element_id)

    def set_key(self, key: str) -> None:
        field = self.by_id("api-key")
        field.clear()
        field.send_keys(key)

    @property
    def seq(self) -> int:
        return int(self.by_id("result").get_attribute("data-seq") or 0)

    @property
    def state(self) -> str:
        return str(self.by_id("result").get_attribute("data-state"))

    def wait_result(self, before: int) -> str:
        WebDriverWait(self.driver, WAIT_SECONDS).until(
            lambda _: self.seq > before and self.state != "pending"
        )
        return self.state

    def scan(self, text: str) -> str:
        before = self.seq
        field = self.by_id("scan")
        field.clear()
        field.send_keys(text + Keys.ENTER)
        return self.wait_result(before)

    @property
    def word(self) -> str:
        return self.by_id("verdict-word").text.strip()

    @property
    def summary(self) -> str:
        return self.by_id("verdict-summary").text.strip()

    def checks(self) -> dict[str, tuple[str, str, str]]:
        """check name → (Chinese label, status, reason), from the table."""
        rows: dict[str, tuple[str, str, str]] = {}
        for row in self.driver.find_elements(By.CSS_SELECTOR, "#checks tbody tr"):
            name = str(row.get_attribute("data-name"))
            label = row.find_element(By.CSS_SELECTOR, "th").text.splitlines()[0]
            cells = row.find_elements(By.CSS_SELECTOR, "td")
            rows[name] = (label, cells[0].text, cells[1].text)
        return rows

    def english_reason(self, name: str) -> str:
        """The English reason behind a row's Chinese one (its tooltip)."""
        cell = self.driver.find_element(
            By.CSS_SELECTOR, f'#checks tbody tr[data-name="{name}"] td.reason'
        )
        return str(cell.get_attribute("title") or "")

    def facts(self) -> dict[str, str]:
        terms = self.driver.find_elements(By.CSS_SELECTOR, "#facts dt")
        values = self.driver.find_elements(By.CSS_SELECTOR, "#facts dd")
        return {t.text: v.text for t, v in zip(terms, values, strict=True)}

    def assert_only_local_requests(self) -> None:
        urls: list[str] = self.driver.execute_script(
            "return performance.getEntriesByType('navigation')"
            ".concat(performance.getEntriesByType('resource')).map(e => e.name)"
        )
        assert any(u.endswith("/static/app.js") for u in urls), urls
        assert any(u.endswith("/static/app.css") for u in urls), urls
        for url in urls:
            parts = urlsplit(url)
            assert parts.scheme in ("http", "data") and (
                parts.scheme == "data" or parts.hostname == "127.0.0.1"
            ), f"the page fetched {url}"


@pytest.fixture
def page(served: Served, browser: WebDriver) -> Iterator[Page]:
    shown = Page(browser, served.url)
    shown.viewport(1024, 768)
    shown.open()
    shown.set_key(served.counter_key)
    yield shown
    shown.assert_only_local_requests()


def test_page_loads_offline_focused_and_in_chinese(page: Page) -> None:
    assert page.driver.title.startswith("证印链")
    page.open()  # the fixture typed the key; a fresh load focuses the scan field
    assert page.driver.switch_to.active_element == page.by_id("scan")
    assert page.state == "idle" and page.word == "待核验"
    assert page.by_id("result").get_attribute("aria-label") == "核验结果"
    assert page.by_id("banner").get_attribute("aria-live") in ("polite", "assertive")
    # camera: a button when BarcodeDetector is there, otherwise a plain explanation
    camera = page.by_id("camera-start")
    note = page.by_id("camera-note").text
    assert camera.is_displayed() != bool(note), (camera.is_displayed(), note)
    if note:
        assert "扫码枪" in note


def test_api_key_is_masked_and_kept(page: Page, served: Served) -> None:
    assert page.by_id("api-key").get_attribute("type") == "password"
    page.open()
    assert page.by_id("api-key").get_attribute("value") == served.counter_key
    assert served.counter_key[-4:] in page.by_id("key-state").text


def test_valid_qr_passes(page: Page, served: Served) -> None:
    cert = served.certificate("active")
    assert page.scan(cert["qr"]) == "valid"
    assert page.word == "通过"
    checks = page.checks()
    assert checks["certificate.status"][0] == "证照状态"
    assert all(status.endswith("通过") and "不" not in status for _, status, _ in checks.values())
    assert {"qr.format", "certificate.signature", "chain.anchored", "issuer.key"} <= set(checks)
    assert checks["chain.anchored"][0] == "链上存证"
    # every reason the clerk reads is the service's Chinese one
    assert all(CJK.search(reason) for _, _, reason in checks.values()), checks
    assert checks["certificate.status"][2].startswith("状态正常：截至区块 ")
    assert checks["chain.anchored"][2].startswith("已由 ") and "上链存证" in checks[
        "chain.anchored"][2]
    assert checks["qr.format"][2] == "证印链电子证照二维码（ZY2 格式）"
    assert page.english_reason("qr.format") == "a Zhengyin ZY2 QR payload"
    facts = page.facts()
    assert facts["证照标识"] == cert["identifier"]
    # what the QR's signature binds, with the type's and the issuer's registered names
    assert facts["证照类型"] and facts["证照类型代码"] == cert["identifier"].split(".")[5]
    assert facts["发证机关"] and facts["发证机关代码"] == cert["identifier"].split(".")[6]
    assert facts["有效期起"] and facts["有效期至"]
    assert checks["certificate.validity"][2].startswith("在有效期内")
    assert "链上区块 #" in page.by_id("chain").text
    # the scan field keeps focus with its text selected: the next scan replaces it
    assert page.driver.switch_to.active_element == page.by_id("scan")


def test_revoked_qr_fails(page: Page, served: Served) -> None:
    assert page.scan(served.certificate("revoked")["qr"]) == "invalid"
    assert page.word == "不通过"
    checks = page.checks()
    label, status, reason = checks["certificate.status"]
    assert label == "证照状态" and "不通过" in status
    # in Chinese, with the block, the reason code and what it means for the clerk
    assert re.fullmatch(
        r"已吊销：该证照已于区块 \d+ 被发证机关吊销（原因 1：信息有误），"
        r"不能作为有效证照使用",
        reason,
    ), reason
    assert page.summary == "证照状态：" + reason
    assert all(CJK.search(r) for _, _, r in checks.values()), checks
    # the English reason is still there for whoever needs it, as the cell's tooltip
    assert page.english_reason("certificate.status").startswith("revoked in block ")


def test_garbage_cannot_be_checked_and_asks_for_a_rescan(page: Page) -> None:
    assert page.scan("hello, not a certificate") == "error"
    assert page.word == "无法核验"
    label, status, reason = page.checks()["qr.format"]
    assert label == "二维码格式" and "无法核验" in status and "ZY2" in reason
    assert reason.startswith("这不是证印链电子证照二维码") and "请重新扫描" in reason
    assert page.summary == "二维码格式：" + reason


def test_a_qr_with_another_identifier_fails(page: Page, served: Served) -> None:
    """Issue #14 item 1 at the counter: a genuine payload's tail behind the identifier of
    the agency's revoked certificate is 不通过, not 通过."""
    genuine, revoked = served.certificate("active"), served.certificate("revoked")
    short = revoked["identifier"].removeprefix("1.2.156.3005.2.")
    forged = ".".join(["ZY2", short, *genuine["qr"].split(".")[-4:]])
    assert page.scan(forged) == "invalid"
    assert page.word == "不通过"
    _, status, reason = page.checks()["certificate.signature"]
    assert "不通过" in status and "不能受理" in reason


def test_pasted_certificate_json_is_verified(page: Page, served: Served) -> None:
    document = Path(served.certificate("active")["document"]).read_text(encoding="utf-8")
    compact = json.dumps(json.loads(document), ensure_ascii=False, separators=(",", ":"))
    before = page.seq
    page.driver.execute_script(
        "const f = document.getElementById('scan'); f.value = arguments[0];"
        "f.dispatchEvent(new Event('input'));",
        compact,
    )
    page.by_id("scan").send_keys(Keys.ENTER)
    assert page.wait_result(before) == "valid"
    assert page.checks()["certificate.integrity"][0] == "完整性"
    assert page.checks()["certificate.integrity"][2].startswith("全部 ")
    # broken JSON is caught in the page, with a clear message
    assert page.scan("{not json") == "error"
    assert "JSON" in page.summary


def test_certificate_file_upload_passes(page: Page, served: Served) -> None:
    cert = served.certificate("active")
    before = page.seq
    page.by_id("file").send_keys(cert["document"])
    assert page.wait_result(before) == "valid"
    assert page.word == "通过"
    checks = page.checks()
    assert [checks[n][0] for n in ("certificate.format", "certificate.signature")] == [
        "格式",
        "发证机关签名",
    ]
    assert checks["certificate.merkle_proof"][0] == "批次证明"
    assert checks["certificate.validity"][0] == "有效期"
    facts = page.facts()
    assert facts["证照标识"] == cert["identifier"]
    assert facts["发证机关"] == "示例市行政审批局"
    holder = facts["持证人"]
    assert holder.startswith("张") and "*" in holder  # masked by the API
    assert "*" in facts["持证人证件号码"]


def _unauthorized_certificate(served: Served, tmp_path: Path) -> dict[str, Any]:
    """The attack of issue #16: an agency registered with its key but authorized for
    nothing signs a certificate and anchors it itself (the library, ``entitlements=None``,
    a database of its own), bypassing the service's refusal. Returns the document, once the
    service's index has its anchor."""
    from certs.batcher import Batcher
    from certs.issuance import issue
    from certs.status import load_record
    from certs.store import Store
    from tests.conftest import make_uscc
    from verifier.app.agency import add_issuer, issuer_chain_client, issuer_profile, open_store
    from verifier.settings import Settings

    settings = Settings(home=served.home)
    uscc = make_uscc()
    add_issuer(settings, uscc, "示例县农业农村局", jurisdiction="360100")
    own = Store.open(f"sqlite:///{tmp_path / 'own.sqlite3'}")
    row = {"type": "11100000000013338W032", "jurisdiction": "360100",
           "holder": {"name": "赵六", "code": "11010519491231002X", "code_type": "111"}}
    report = issue(own, issuer_profile(settings, open_store(settings), uscc), [(1, row)],
                   entitlements=None)
    assert not report.rejected, report.rejected
    Batcher(own, lambda _: issuer_chain_client(settings, uscc)).run_once()
    document: dict[str, Any] = json.loads(
        load_record(own, report.accepted[0].identifier).document.to_json()
    )
    deadline = time.monotonic() + WAIT_SECONDS
    while True:  # until the service's index has read the anchor
        verdict = requests.post(
            f"{served.url}/v1/verify", json={"certificate": document}, timeout=10,
            headers={"Authorization": f"Bearer {served.counter_key}"},
        ).json()
        anchored = next(c for c in verdict["checks"] if c["name"] == "chain.anchored")
        if anchored["status"] == "VALID":
            return document
        assert time.monotonic() < deadline, verdict
        time.sleep(0.2)


def test_a_certificate_of_an_agency_not_authorized_fails_at_the_counter(
    page: Page, served: Served, tmp_path: Path
) -> None:
    from certs import qr
    from certs.canonical import CertificateDocument

    document = _unauthorized_certificate(served, tmp_path)
    payload = qr.payload_for(CertificateDocument.from_json(json.dumps(document))).encode()
    assert page.scan(payload) == "invalid"
    assert page.word == "不通过"
    checks = page.checks()
    label, status, reason = checks["issuer.authorized"]
    assert label == "发证授权" and "不通过" in status
    assert "发证机关无权签发这份证照" in reason and "360100" in reason, reason
    # everything else about it is genuine
    for name in ("certificate.signature", "chain.anchored", "issuer.key"):
        assert "不" not in checks[name][1], (name, checks[name])
    assert page.summary.startswith("发证授权：")
    # the document pasted at the counter: the same refusal
    compact = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    before = page.seq
    page.driver.execute_script(
        "const f = document.getElementById('scan'); f.value = arguments[0];"
        "f.dispatchEvent(new Event('input'));",
        compact,
    )
    page.by_id("scan").send_keys(Keys.ENTER)
    assert page.wait_result(before) == "invalid"
    label, status, reason = page.checks()["issuer.authorized"]
    assert label == "发证授权" and "不通过" in status and "发证机关无权签发这份证照" in reason


def test_random_file_is_a_clear_error(page: Page, tmp_path: Path) -> None:
    junk = tmp_path / "junk.dat"
    # a NUL first: random bytes opening with "{" (1 in ~250) are read as a certificate
    # and judged malformed (a verdict, not this error)
    junk.write_bytes(b"\x00" + os.urandom(699))
    before = page.seq
    page.by_id("file").send_keys(str(junk))
    assert page.wait_result(before) == "error"
    assert page.word == "无法核验"
    assert page.by_id("result").get_attribute("data-error") == "unsupported_file"
    assert "不支持的文件类型" in page.summary


def test_an_ofd_file_dropped_is_verified_with_chinese_labels(page: Page) -> None:
    ofd = Path(__file__).resolve().parents[1] / "data" / "interop" / "ofdrw" / "v4signed.ofd"
    before = page.seq
    page.by_id("file").send_keys(str(ofd))
    # intact, but its signer is not under the service's own trust anchor
    assert page.wait_result(before) == "invalid"
    checks = page.checks()
    assert checks["ofd.structure"][0] == "OFD 结构" and "通过" in checks["ofd.structure"][1]
    assert checks["ofd.references"][0] == "受保护文件摘要"
    assert "SM3 摘要相符" in checks["ofd.references"][2]
    assert checks["ofd.stamp"][0] == "签章位置" and "第 1 页" in checks["ofd.stamp"][2]
    assert "不通过" in checks["signature.signer_path"][1]


def test_presentation_code(page: Page, served: Served) -> None:
    cert = served.certificate("active")
    issued = requests.post(
        f"{served.url}/v1/presentations",
        json={
            "certificate": cert["identifier"],
            "purpose": "办理营业执照",
            "fields": ["identifier", "name", "fields.用途"],
        },
        headers={"Authorization": f"Bearer {served.demo['issuer_api_key']}"},
        timeout=30,
    )
    assert issued.status_code == 201, issued.text
    code = issued.json()["code"]
    field = page.by_id("code")
    before = page.seq
    field.send_keys(code + Keys.ENTER)
    assert page.wait_result(before) == "valid"
    facts = page.facts()
    assert facts["用证事由"] == "办理营业执照"
    assert facts["用途"] == "免证办理演示"
    assert "holder.name" in facts["未披露字段"]
    before = page.seq
    field.send_keys(Keys.ENTER)  # single use: the second time is refused, clearly
    assert page.wait_result(before) == "error"
    assert "出示码已使用过" in page.summary


def test_wrong_or_missing_key_is_named(page: Page) -> None:
    page.set_key("zy_this-key-does-not-exist")
    assert page.scan("ZY1.whatever") == "error"
    assert page.word == "无法核验"
    assert "API 密钥无效" in page.summary and "api_key_invalid" in page.summary
    assert page.driver.switch_to.active_element == page.by_id("api-key")
    page.set_key("")
    assert page.scan("ZY1.whatever") == "error"
    assert "未填写窗口 API 密钥" in page.summary


def test_escape_clears_and_refocuses(page: Page, served: Served) -> None:
    assert page.scan(served.certificate("active")["qr"]) == "valid"
    page.by_id("code").send_keys("ABCD")
    page.driver.switch_to.active_element.send_keys(Keys.ESCAPE)
    assert page.state == "idle"
    assert page.by_id("scan").get_attribute("value") == ""
    assert page.by_id("code").get_attribute("value") == ""
    assert page.by_id("details").is_displayed() is False
    assert page.driver.switch_to.active_element == page.by_id("scan")


def _share(image: Image.Image, colour: tuple[int, int, int]) -> float:
    small = image.convert("RGB").resize((256, 192))
    pixels = list(small.get_flattened_data())
    close = sum(1 for p in pixels if sum(abs(a - b) for a, b in zip(p, colour, strict=True)) < 30)
    return close / len(pixels)


def test_screenshots_at_counter_and_phone_width(
    page: Page, served: Served, tmp_path: Path
) -> None:
    assert page.scan(served.certificate("active")["qr"]) == "valid"
    desk = tmp_path / "counter-1024x768.png"
    assert page.driver.save_screenshot(str(desk))
    assert desk.stat().st_size > 20_000
    with Image.open(desk) as shot:
        assert shot.size == (1024, 768)
        assert _share(shot, (0x1A, 0x7F, 0x37)) > 0.02  # the green 通过 banner
    banner = page.by_id("banner").rect
    assert banner["y"] + banner["height"] < 768  # visible without scrolling

    page.viewport(390, 844, mobile=True)
    page.open()
    assert page.scan(served.certificate("revoked")["qr"]) == "invalid"
    width = page.driver.execute_script(
        "return [document.documentElement.scrollWidth, window.innerWidth]"
    )
    assert width[0] <= width[1], f"horizontal overflow at phone width: {width}"
    phone = tmp_path / "counter-phone.png"
    assert page.driver.save_screenshot(str(phone))
    with Image.open(phone) as shot:
        assert _share(shot, (0xC6, 0x28, 0x28)) > 0.02  # the red 不通过 banner
