"""The counter page (``GET /``) end to end: the real service (``zhengyin demo`` data, a real
devnet, ``zhengyin serve``) driven by a real headless Chromium through Selenium.

Chromium and its driver come from Debian (``chromium``, ``chromium-driver``; see
``.ci/system-packages``); Selenium is pointed at the system chromedriver and never downloads
anything (``SE_OFFLINE``). Every resource the page loads must come from the service itself.

The browser runs in New York's time zone (CDP ``Emulation.setTimezoneOverride``): every time
the page shows must still be Beijing time (issue #21). Each state of the page (idle, pending,
valid, invalid, cannot-check/rescan, error, presentation redeemed) is screenshot at counter
width (1024×768) and phone width (390×844) and checked by its text and layout, not pixels.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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

from tests.conftest import make_uscc
from tests.verifier.browser import Served, browser, served
from tests.verifier.test_cli_devnet import zhengyin_command

__all__ = ["browser", "served"]  # fixtures this module's tests use

WAIT_SECONDS = 30
CJK = re.compile(r"[\u4e00-\u9fff]")
BROWSER_TZ = "America/New_York"
BEIJING = dt.timezone(dt.timedelta(hours=8))
EXAMPLE_TYPE = "11100000000013338W032"
STATE_COLOURS = {  # the banner's background, by state (app.css)
    "valid": "rgb(26, 127, 55)",
    "invalid": "rgb(198, 40, 40)",
    "error": "rgb(255, 244, 224)",
    "idle": "rgb(255, 255, 255)",
    "pending": "rgb(255, 255, 255)",
}


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

    def technical(self) -> str:
        """What is folded away under 技术细节 (English reasons, codes): present in the page,
        closed by default."""
        tech = self.by_id("tech")
        assert tech.get_attribute("open") is None, "the technical detail is folded away"
        return str(self.driver.execute_script(
            "return [...document.querySelectorAll('#tech-body li')].map(l => l.textContent)"
            ".join('\\n')"
        ))

    def english_reason(self, name: str) -> str:
        """The English reason behind a row's Chinese one (in the folded technical detail)."""
        for line in self.technical().splitlines():
            if line.startswith(name + " · "):
                return line.split("：", 1)[1]
        raise AssertionError(f"no technical line for {name}: {self.technical()}")

    def facts(self) -> dict[str, str]:
        terms = self.driver.find_elements(By.CSS_SELECTOR, "#facts dt")
        values = self.driver.find_elements(By.CSS_SELECTOR, "#facts dd")
        labels = [t.text for t in terms]
        assert len(labels) == len(set(labels)), f"a label twice: {labels}"
        return {t.text: v.text for t, v in zip(terms, values, strict=True)}

    def fact_labels(self) -> list[str]:
        return [str(t) for t in self.driver.execute_script(
            "return [...document.querySelectorAll('#facts dt')].map(t => t.textContent)")]

    def redeem(self, code: str) -> str:
        before = self.seq
        field = self.by_id("code")
        field.clear()
        field.send_keys(code + Keys.ENTER)
        return self.wait_result(before)

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
    browser.execute_cdp_cmd(
        "Emulation.setTimezoneOverride", {"timezoneId": BROWSER_TZ}
    )
    shown.open()
    # the browser is not in Beijing: New York is UTC-5 or UTC-4, never UTC+8
    assert browser.execute_script("return new Date().getTimezoneOffset()") in (300, 240)
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
    # the English reason and the check's code are there for whoever needs them, folded away
    assert page.english_reason("qr.format") == "a Zhengyin ZY2 QR payload"
    assert "qr.format · VALID · qr.format.valid" in page.technical()
    # one Chinese sentence in the banner, with what to do
    assert page.summary == (
        "证照真实有效，可以受理；二维码不含持证人信息，需核对时请查看证照文件或出示码。"
    )
    facts = page.facts()
    assert facts["证照标识"] == cert["identifier"]
    # what the QR's signature binds, with the type's and the issuer's registered names
    assert facts["证照类型"] == "示例证照"
    assert facts["证照类型代码"] == cert["identifier"].split(".")[5]
    assert facts["发证机关"] == "示例市行政审批局"
    assert facts["发证机关代码"] == cert["identifier"].split(".")[6]
    assert facts["有效期起"] and facts["有效期至"]
    assert not [label for label in facts if not CJK.search(label)], facts
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
    # the banner: one sentence, what it means and what to do
    assert page.summary == "该证照已被吊销，请勿受理。"
    assert all(CJK.search(r) for _, _, r in checks.values()), checks
    # the English reason is still there for whoever needs it, folded away
    assert page.english_reason("certificate.status").startswith("revoked in block ")
    assert "certificate.status.revoked" in page.technical()


def test_garbage_cannot_be_checked_and_asks_for_a_rescan(page: Page) -> None:
    assert page.scan("hello, not a certificate") == "error"
    assert page.word == "无法核验"
    assert page.by_id("result").get_attribute("data-why") == "rescan"
    label, status, reason = page.checks()["qr.format"]
    assert label == "二维码格式" and "无法核验" in status and "ZY2" in reason
    assert reason.startswith("这不是证印链电子证照二维码") and "请重新扫描" in reason
    # the row is Chinese only: the parser's English words are in the technical detail
    assert "技术细节" not in reason and "Zhengyin" not in reason
    assert "this is not a Zhengyin certificate QR code" in page.technical()
    assert page.summary == "未能完整读取二维码，请重新扫描。"


def test_a_garbled_or_truncated_scan_asks_for_a_rescan_not_a_fail(
    page: Page, served: Served
) -> None:
    """What a scanner does wrong — cut short, a character dropped, a doubled read, Caps Lock,
    another keyboard layout — could not be read: 无法核验, 请重新扫描, never a red 不通过. The
    server's codes tell them apart: qr.format.* (the scan was not read) is ERROR; only a
    payload that was read and whose signature is false is INVALID."""
    qr = served.certificate("active")["qr"]
    cut = qr.rfind(".") + 40
    garbled = {
        "cut short": qr[:-7],
        "cut at the data": qr[:cut],
        "cut at the dates": qr[: _dates_at(qr) + 3],
        "a character dropped": qr[:cut] + qr[cut + 1 :],
        "read twice": qr + qr,
        "Caps Lock": qr.swapcase(),
        "a German keyboard (Y and Z swapped)": qr.translate(str.maketrans("YZyz", "ZYzy")),
        "a French keyboard (digits shifted)": qr.translate(str.maketrans("234567", "é\"'(-è")),
    }
    for how, text in garbled.items():
        assert page.scan(text) == "error", how
        assert page.word == "无法核验", how
        assert page.summary == "未能完整读取二维码，请重新扫描。", (how, page.summary)
        assert page.by_id("result").get_attribute("data-why") == "rescan", how
        assert page.by_id("banner").get_attribute("class") == "banner error", how
    # read in full but changed (a forger's edit, or a character misread): the issuer's
    # signature is false, so it is 不通过 — with the reason
    at = qr.rfind(".") + 10
    changed = qr[:at] + ("A" if qr[at] != "A" else "B") + qr[at + 1 :]
    assert page.scan(changed) == "invalid"
    assert page.summary == "二维码内容与发证机关的签名不符（被改动或伪造），请勿受理。"


def _dates_at(qr: str) -> int:
    found = re.search(r"\.\d{8}\.", qr)
    assert found, qr
    return found.start()


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
    assert page.summary == "二维码内容与发证机关的签名不符（被改动或伪造），请勿受理。"


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
    # broken JSON is caught in the page, with a clear message and what to do
    assert page.scan("{not json") == "error"
    assert page.summary == "粘贴的内容不是完整的证照 JSON，请重新粘贴或改用文件。"
    assert "not_json" in page.technical()


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
    assert facts["证照类型"] == "示例证照"
    assert "证照名称" not in facts  # the same as the type's name: one row
    # a natural person: masked by the API, labelled by the kind of holder
    assert facts["持证主体类型"] == "自然人（居民身份证）"
    holder = facts["持证人姓名"]
    assert holder.startswith("张") and "*" in holder
    assert "*" in facts["公民身份号码"]
    assert page.summary == "证照真实有效，可以受理；请核对持证人信息。"
    assert not [label for label in facts if not CJK.search(label)], facts


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
    assert page.summary == "发证机关无权签发这份证照，请勿受理。"
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
    assert page.summary == "不支持的文件类型，请选择签章 PDF、OFD 或证照 JSON 文件。"
    assert "unsupported_file" in page.technical() and "HTTP 422" in page.technical()


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
    assert page.by_id("result").get_attribute("data-input") == "presentation"
    # what the holder did not disclose, named in Chinese: never a raw key
    hidden = facts["未披露字段"]
    assert "持证主体" in hidden and "证照编号" in hidden, hidden
    assert not re.search(r"[a-z_]+\.[a-z_]+|holder|number", hidden), hidden
    assert not [label for label in facts if not CJK.search(label)], facts
    before = page.seq
    field.send_keys(Keys.ENTER)  # single use: the second time is refused, clearly
    assert page.wait_result(before) == "error"
    # Chinese only, with the next step; the code and the English message folded away
    assert page.summary == "出示码已使用过，请持证人重新生成出示码。"
    assert page.by_id("result").get_attribute("data-why") == "refused"
    assert "presentation_used" in page.technical()


def test_wrong_or_missing_key_is_named(page: Page) -> None:
    page.set_key("zy_this-key-does-not-exist")
    assert page.scan("ZY1.whatever") == "error"
    assert page.word == "无法核验"
    assert page.summary == "窗口 API 密钥无效或已吊销，请向管理员索取新的密钥。"
    assert page.by_id("result").get_attribute("data-error") == "api_key_invalid"
    assert "api_key_invalid" in page.technical() and "HTTP 401" in page.technical()
    assert page.driver.switch_to.active_element == page.by_id("api-key")
    page.set_key("")
    assert page.scan("ZY1.whatever") == "error"
    assert page.summary == "未填写窗口 API 密钥，请在页面顶部填写后重试。"


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


def _present(served: Served, identifier: str, purpose: str, fields: list[str]) -> str:
    """A presentation code made by the issuer (the holder's own path is the holder page's),
    once the certificate is anchored."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        issued = requests.post(
            f"{served.url}/v1/presentations",
            json={"certificate": identifier, "purpose": purpose, "fields": fields},
            headers={"Authorization": f"Bearer {served.demo['issuer_api_key']}"},
            timeout=30,
        )
        if issued.status_code == 201:
            return str(issued.json()["code"])
        assert issued.json().get("error") == "not_anchored", issued.text
        assert time.monotonic() < deadline, issued.text
        time.sleep(0.3)


def test_a_presentation_qr_scanned_is_redeemed(page: Page, served: Served) -> None:
    """The holder's presentation QR carries only the code (XXXXX-XXXXX): scanned into the
    scan field, with or without its dash, in any case, it is redeemed as the 出示码 field
    does."""
    cert = served.certificate("active")
    for shown in (str.lower, lambda c: c.replace("-", "")):
        code = _present(served, cert["identifier"], "办理社保", ["fields.用途"])
        assert re.fullmatch(r"[23456789A-HJKMNP-Z]{5}-[23456789A-HJKMNP-Z]{5}", code), code
        assert page.scan(shown(code)) == "valid"
        assert page.by_id("result").get_attribute("data-input") == "presentation"
        assert page.facts()["用证事由"] == "办理社保"
        assert page.summary == "证照真实有效，可以受理；请核对持证人披露的信息与用证事由。"
        # single use, whichever field it came through
        assert page.scan(code) == "error"
        assert page.summary == "出示码已使用过，请持证人重新生成出示码。"


def test_the_short_manual_entry_code_is_verified_and_a_mistyped_one_asks_to_retype(
    page: Page, served: Served
) -> None:
    """The short code printed on a certificate for typing in (its identifier without the
    1.2.156.3005.2. prefix, then check characters) is sent as a QR text and the service
    verifies the certificate it names in full; typed in lower case it is the same code. A
    code with one check character wrong is 无法核验 with "re-type", never 不通过 of some
    certificate, and never 通过."""
    code = str(served.certificate("active")["short_code"])
    for text in (code, code.lower()):
        assert page.scan(text) == "valid", page.summary
        assert page.by_id("result").get_attribute("data-input") == "qr"
        assert page.checks()["short_code.check"][0] == "核验码"
    last = code[-1]
    wrong = code[:-1] + ("7" if last != "7" else "8")
    assert page.scan(wrong) == "error"
    assert page.word == "无法核验" and "重新输入" in page.summary, page.summary
    assert page.checks()["short_code.check"][0] == "核验码"


def _issue_company(served: Served) -> tuple[str, str]:
    """A certificate whose holder is a company (统一社会信用代码, code type 001), issued
    through the API; its identifier and the company's USCC."""
    uscc = make_uscc("36")
    issued = requests.post(
        f"{served.url}/v1/certificates",
        json={
            "type": EXAMPLE_TYPE,
            "holder": {"name": "示例数据科技有限公司", "code": uscc, "code_type": "001"},
            "jurisdiction": "360100",
            "fields": {"统一社会信用代码": uscc, "企业名称": "示例数据科技有限公司",
                       "经营范围": "软件开发"},
        },
        headers={"Authorization": f"Bearer {served.demo['issuer_api_key']}"},
        timeout=30,
    )
    assert issued.status_code == 201, issued.text
    return str(issued.json()["identifier"]), uscc


def _document(served: Served, identifier: str) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        got = requests.get(
            f"{served.url}/v1/certificates/{identifier}",
            headers={"Authorization": f"Bearer {served.demo['issuer_api_key']}"},
            timeout=30,
        )
        assert got.status_code == 200, got.text
        if got.json()["status"] == "active":
            document: dict[str, Any] = got.json()["document"]
            return document
        assert time.monotonic() < deadline, got.text
        time.sleep(0.3)


def _verify_api(served: Served, body: dict[str, Any]) -> dict[str, Any]:
    answer = requests.post(
        f"{served.url}/v1/verify", json=body, timeout=30,
        headers={"Authorization": f"Bearer {served.counter_key}"},
    )
    assert answer.status_code == 200, answer.text
    verdict: dict[str, Any] = answer.json()
    return verdict


def test_a_company_is_shown_in_full_a_person_masked(page: Page, served: Served) -> None:
    """Masking by the kind of holder (issue #21): a legal person's name and 统一社会信用代码
    are public register data the clerk must match, shown in full; a natural person's name
    and ID number are masked — in the API's answers and on the page."""
    identifier, uscc = _issue_company(served)
    company = _document(served, identifier)
    person = json.loads(Path(served.certificate("active")["document"]).read_text("utf-8"))

    # the API: POST /v1/verify of each document
    shown = _verify_api(served, {"certificate": company})
    assert shown["verdict"] == "valid", shown
    assert shown["certificate"]["holder.name"] == "示例数据科技有限公司"
    assert shown["certificate"]["holder.code"] == uscc
    assert shown["certificate"]["holder.code_type"] == "001"
    masked = _verify_api(served, {"certificate": person})["certificate"]
    assert masked["holder.name"] == "张*" and masked["holder.code"] == "1101**********002X"
    assert masked["holder.code_type"] == "111"
    assert "张三" not in json.dumps(masked, ensure_ascii=False)
    # every check has its stable code
    assert all(c["code"] for c in shown["checks"])

    # the page: the company's document pasted
    before = page.seq
    page.driver.execute_script(
        "const f = document.getElementById('scan'); f.value = arguments[0];",
        json.dumps(company, ensure_ascii=False, separators=(",", ":")),
    )
    page.by_id("scan").send_keys(Keys.ENTER)
    assert page.wait_result(before) == "valid"
    facts = page.facts()
    assert facts["持证单位名称"] == "示例数据科技有限公司"
    assert facts["统一社会信用代码"] == uscc
    assert facts["持证主体类型"] == "法人或其他组织（统一社会信用代码）"

    # a presentation of it: the holder and the fields that repeat the holder are one row each
    code = _present(served, identifier, "办理开户",
                    ["holder.name", "holder.code", "holder.code_type", "fields.统一社会信用代码",
                     "fields.企业名称", "fields.经营范围"])
    assert page.redeem(code) == "valid"
    facts = page.facts()
    assert facts["持证单位名称"] == "示例数据科技有限公司"
    assert facts["统一社会信用代码"] == uscc
    assert facts["经营范围"] == "软件开发"
    assert "企业名称" not in facts  # the holder's name again
    values = list(facts.values())
    assert values.count(uscc) == 1 and values.count("示例数据科技有限公司") == 1, facts
    hidden = facts["未披露字段"]
    assert "证照编号" in hidden and "证照版本" in hidden and "加注件" in hidden, hidden
    assert "证照定义机构" in hidden and "." not in hidden, hidden
    assert not [label for label in page.fact_labels() if not CJK.search(label)], facts


def test_every_time_shown_is_beijing_time(page: Page, served: Served) -> None:
    """The browser is in New York; the 核验时间 and the times in the reasons are Beijing time,
    labelled so — the same moments the API gives in UTC."""
    before = dt.datetime.now(dt.UTC)
    assert page.scan(served.certificate("active")["qr"]) == "valid"
    after = dt.datetime.now(dt.UTC)
    found = re.search(r"核验时间 (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)（北京时间）",
                      page.by_id("chain").text)
    assert found, page.by_id("chain").text
    shown = dt.datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)
    assert before - dt.timedelta(seconds=2) <= shown <= after + dt.timedelta(seconds=1), (
        shown, before)
    # the anchoring time: UTC in the English reason, Beijing time in the Chinese row
    english = page.english_reason("chain.anchored")
    utc = re.search(r"at (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\+00:00", english)
    assert utc, english
    anchored = dt.datetime.fromisoformat(utc.group(1)).replace(tzinfo=dt.UTC)
    beijing = anchored.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")
    row = page.checks()["chain.anchored"][2]
    assert f"（{beijing}（北京时间））" in row, (row, beijing)
    assert "UTC" not in page.by_id("result").text


def _devnet_port(served: Served) -> int:
    return int(json.loads((served.home / "devnet" / "devnet.json").read_text("utf-8"))["port"])


@contextmanager
def chain_stopped(served: Served) -> Iterator[None]:
    """The service's real chain node stopped (``zhengyin devnet down``), then started again
    on its port with its state, and the service's index current again."""
    port = _devnet_port(served)
    env = {**os.environ, "ZHENGYIN_HOME": str(served.home), "ZHENGYIN_DEVNET_PORT": str(port)}
    env.pop("ZHENGYIN_RPC_URL", None)
    subprocess.run([*zhengyin_command(), "devnet", "down"], env=env, check=True,
                   capture_output=True, timeout=60)
    try:
        yield
    finally:
        subprocess.run([*zhengyin_command(), "devnet", "up"], env=env, check=True,
                       capture_output=True, timeout=60)
        deadline = time.monotonic() + 60
        while True:  # the index confirmed current again
            health = requests.get(f"{served.url}/healthz", timeout=5).json()
            if health["indexer"]["healthy"]:
                break
            assert time.monotonic() < deadline, health
            time.sleep(0.3)


def _assert_chain_down(page: Page, port: int) -> None:
    assert page.word == "无法核验"
    assert page.summary == "核验服务暂时连不上区块链，请稍后重试或联系管理员。"
    assert page.by_id("result").get_attribute("data-why") == "chain"
    text = page.by_id("result").text + page.technical()
    for leak in ("127.0.0.1", f":{port}", "http://", "connection refused"):
        assert leak not in text, (leak, text)
    for name, (_, status, reason) in page.checks().items():
        if "无法核验" in status:
            assert reason == ("无法读取区块链，暂时无法判断（核验服务暂时连不上区块链，或链上数据"
                              "尚未同步到最新），请稍后重试或联系管理员"), (name, reason)


def test_chain_down_one_chinese_sentence_and_no_internal_address(
    page: Page, served: Served
) -> None:
    """Issue #21: with the chain node stopped, the banner and the rows repeated a Python
    connection error naming the internal chain address. Now: one Chinese sentence, and the
    service's answers name no address (the API included), but a stable code."""
    cert = served.certificate("active")
    port = _devnet_port(served)
    presented = requests.post(
        f"{served.url}/v1/presentations",
        json={"certificate": cert["identifier"], "purpose": "办理社保", "fields": ["name"]},
        headers={"Authorization": f"Bearer {served.demo['issuer_api_key']}"}, timeout=30)
    assert presented.status_code == 201, presented.text
    code = presented.json()["code"]
    with chain_stopped(served):
        deadline = time.monotonic() + WAIT_SECONDS
        while True:  # the service notices within its staleness bound (2 s)
            answer = _verify_api(served, {"qr": cert["qr"]})
            if answer["verdict"] == "error":
                break
            assert time.monotonic() < deadline, answer
            time.sleep(0.3)
        text = json.dumps(answer, ensure_ascii=False)
        assert "127.0.0.1" not in text and str(port) not in text, text
        chain = [c for c in answer["checks"] if c["status"] == "ERROR"]
        assert chain and {c["code"] for c in chain} == {"chain.unreadable"}, chain
        assert {c["cause"] for c in chain} <= {"indexer_lagging", "chain_unavailable"}, chain
        document = json.loads(Path(cert["document"]).read_text("utf-8"))
        assert "127.0.0.1" not in json.dumps(_verify_api(served, {"certificate": document}))

        assert page.scan(cert["qr"]) == "error"
        _assert_chain_down(page, port)
        facts = page.facts()  # the type's name from the catalogue; the issuer's: unknown now
        assert facts["证照类型"] == "示例证照" and facts["发证机关"].startswith("（暂时无法")
        before = page.seq
        page.by_id("file").send_keys(cert["document"])
        assert page.wait_result(before) == "error"
        _assert_chain_down(page, port)
        assert page.facts()["发证机关"] == "示例市行政审批局"  # from the document
        # a presentation code scanned now cannot be checked: said so, and not used up (it
        # was: the holder had to make a new one because the chain was down)
        assert page.scan(code) == "error"
        _assert_chain_down(page, port)
    assert page.scan(cert["qr"]) == "valid"
    assert page.scan(code) == "valid"  # the same code, once the chain is back
    assert page.by_id("result").get_attribute("data-input") == "presentation"
    assert page.scan(code) == "error" and "已使用过" in page.summary  # now it is used
    kinds = "presented,redeemed,redeem_unchecked,redeem_refused"
    timeline = requests.get(
        f"{served.url}/v1/events",
        params={"certificate": cert["identifier"], "event": kinds, "limit": 1000},
        headers={"Authorization": f"Bearer {served.demo['issuer_api_key']}"}, timeout=30)
    assert timeline.status_code == 200, timeline.text
    found = [e["event"] for e in timeline.json()["events"]]
    since = len(found) - 1 - found[::-1].index("presented")  # this test's code was made
    assert found[since:] == ["presented", "redeem_unchecked", "redeemed", "redeem_refused"], found


# ---------------------------------------------------------------- screenshots of each state

SIZES = {"counter": (1024, 768, False), "phone": (390, 844, True)}


def _check_layout(page: Page, state: str, shot: Path, width: int, height: int) -> None:
    """The state as the clerk sees it: the banner in the first screen with its colour, no
    horizontal overflow, one Chinese sentence in the banner, Chinese labels, rows without
    technical detail; and a screenshot of it."""
    assert page.state == state, (page.state, state)
    assert page.driver.save_screenshot(str(shot))
    with Image.open(shot) as image:
        assert image.size == (width, height)
    box = page.driver.execute_script(
        "const r = document.getElementById('banner').getBoundingClientRect();"
        "return [r.top, r.bottom, r.left, r.right, innerHeight, innerWidth,"
        " document.documentElement.scrollWidth,"
        " getComputedStyle(document.getElementById('banner')).backgroundColor]"
    )
    top, bottom, left, right, inner_h, inner_w, scroll_w, colour = box
    if state == "idle":  # waiting for a scan: the scan field is what the first screen shows
        field = page.driver.execute_script(
            "const r = document.getElementById('scan').getBoundingClientRect();"
            "return [r.top, r.bottom]")
        assert 0 <= field[0] and field[1] <= inner_h, shot.name
        assert page.driver.switch_to.active_element == page.by_id("scan")
    else:
        assert 0 <= top and bottom <= inner_h, f"{shot.name}: the banner is not in the first screen"
    assert 0 <= left and right <= inner_w, shot.name
    assert scroll_w <= inner_w, f"{shot.name}: horizontal overflow ({scroll_w} > {inner_w})"
    assert page.by_id("banner").get_attribute("class") == f"banner {state}"
    assert colour == STATE_COLOURS[state], (shot.name, colour)
    summary = page.summary
    assert CJK.search(summary) and summary.count("。") <= 1, summary
    assert not re.search(r"[A-Za-z]{3,}|http|技术细节|错误代码|[a-z]+_[a-z]+", summary), summary
    labels = page.fact_labels()
    assert not [label for label in labels if not CJK.search(label)], labels
    if state in ("valid", "invalid") or (state == "error" and page.checks()):
        rows = page.checks()
        assert rows, shot.name
        for name, (label, status, reason) in rows.items():
            assert CJK.search(label) and CJK.search(status), (name, label)
            assert "技术细节" not in reason and "http" not in reason, (name, reason)
            assert page.driver.find_element(
                By.CSS_SELECTOR, f'#checks tr[data-name="{name}"]').is_displayed()


def test_screenshots_of_each_state_at_counter_and_phone_width(
    page: Page, served: Served, tmp_path: Path
) -> None:
    active, revoked = served.certificate("active"), served.certificate("revoked")

    def scan(text: str) -> Callable[[], str]:
        return lambda: page.scan(text)

    def redeemed() -> str:
        return page.redeem(_present(served, active["identifier"], "办理社保", ["fields.用途"]))

    def used() -> str:
        code = _present(served, active["identifier"], "办理社保", ["fields.用途"])
        page.redeem(code)
        return page.redeem(code)

    states: dict[str, tuple[Callable[[], str], str]] = {
        "idle": (lambda: page.state, "idle"),
        "valid": (scan(active["qr"]), "valid"),
        "invalid": (scan(revoked["qr"]), "invalid"),
        "rescan": (scan(active["qr"][:120]), "error"),
        "error": (used, "error"),
        "presentation": (redeemed, "valid"),
    }
    for size, (width, height, mobile) in SIZES.items():
        page.viewport(width, height, mobile=mobile)
        for name, (produce, state) in states.items():
            page.open()
            assert produce() == state, name
            _check_layout(page, state, tmp_path / f"{name}-{size}.png", width, height)
            if name == "valid":
                with Image.open(tmp_path / f"{name}-{size}.png") as shot:
                    assert _share(shot, (0x1A, 0x7F, 0x37)) > 0.02  # the green banner
            if name == "invalid":
                with Image.open(tmp_path / f"{name}-{size}.png") as shot:
                    assert _share(shot, (0xC6, 0x28, 0x28)) > 0.02  # the red banner
            if name == "rescan":
                assert page.by_id("result").get_attribute("data-why") == "rescan"
                assert page.by_id("facts-block").is_displayed() is False  # nothing was read
            if name == "error":
                assert page.by_id("result").get_attribute("data-why") == "refused"
                assert page.by_id("checks-block").is_displayed() is False
            if name == "presentation":
                assert page.by_id("result").get_attribute("data-input") == "presentation"
                assert page.facts()["用证事由"] == "办理社保"

        # pending: the answer held back by a slow network (CDP), the state captured meanwhile
        page.open()
        page.driver.execute_cdp_cmd("Network.enable", {})
        page.driver.execute_cdp_cmd(
            "Network.emulateNetworkConditions",
            {"offline": False, "latency": 1500, "downloadThroughput": -1,
             "uploadThroughput": -1},
        )
        try:
            before = page.seq
            page.by_id("scan").send_keys(active["qr"] + Keys.ENTER)
            WebDriverWait(page.driver, WAIT_SECONDS).until(lambda _: page.state == "pending")
            _check_layout(page, "pending", tmp_path / f"pending-{size}.png", width, height)
            assert page.word == "核验中"
            assert page.wait_result(before) == "valid"
        finally:
            page.driver.execute_cdp_cmd(
                "Network.emulateNetworkConditions",
                {"offline": False, "latency": 0, "downloadThroughput": -1,
                 "uploadThroughput": -1},
            )
            page.driver.execute_cdp_cmd("Network.disable", {})
    page.viewport(1024, 768)


RAW_KEYS = re.compile(r"^[A-Za-z0-9_.\-]+$")


def _upload(page: Page, path: Path) -> str:
    before = page.seq
    page.by_id("file").send_keys(str(path))
    return page.wait_result(before)


def test_every_fact_label_is_chinese(page: Page, served: Served, tmp_path: Path) -> None:
    """Issue #21: raw keys appeared as labels (annotations, defining_body.code,
    holder.code_type, jurisdiction, type.code, version, signatures). Every key of what the
    demo, a full presentation, a sealed PDF, an OFD, a seal and a seal signature show gets a
    Chinese label; no label is ASCII only."""
    cert = served.certificate("active")
    seen: dict[str, list[str]] = {}

    def labels(what: str) -> dict[str, str]:
        facts = page.facts()
        raw = [label for label in facts if not CJK.search(label) or RAW_KEYS.match(label)]
        assert not raw, (what, facts)
        assert not [f for f in facts if f.startswith("其他信息")], (what, facts)  # all known
        seen[what] = list(facts)
        return facts

    # every core path of the certificate, disclosed (fields=None: all)
    issued = requests.post(
        f"{served.url}/v1/presentations",
        json={"certificate": cert["identifier"], "purpose": "全部信息"},
        headers={"Authorization": f"Bearer {served.demo['issuer_api_key']}"}, timeout=30,
    )
    assert issued.status_code == 201, issued.text
    assert page.redeem(issued.json()["code"]) == "valid"
    facts = labels("presentation")
    for label in ("证照版本", "证照定义机构", "证照定义机构代码", "持证主体类型", "行政区划",
                  "证照类型代码", "加注件", "发证日期", "证照编号", "用途"):
        assert label in facts, (label, facts)
    assert facts["持证人姓名"] == "张三"  # the holder disclosed it to this counter
    assert "证照名称" not in facts  # the same as the type's name

    # the certificate as the agency's sealed PDF (its seal and the certificate inside)
    pdf = requests.get(
        f"{served.url}/v1/certificates/{cert['identifier']}/pdf",
        headers={"Authorization": f"Bearer {served.demo['issuer_api_key']}"}, timeout=60,
    )
    assert pdf.status_code == 200, pdf.text[:300]
    (tmp_path / "certificate.pdf").write_bytes(pdf.content)
    assert _upload(page, tmp_path / "certificate.pdf") in ("valid", "invalid", "error")
    facts = labels("pdf")
    assert facts["文件类型"] == "签章 PDF 文件" and "印章“" in facts["电子签章"], facts

    interop = Path(__file__).resolve().parents[1] / "data" / "interop" / "ofdrw"
    for name in ("v4signed.ofd", "UserV4.esl", "SignedValueV4.dat"):
        _upload(page, interop / name)
        labels(name)
    assert "印章名称" in seen["UserV4.esl"] and "印章编码" in seen["UserV4.esl"], seen
    assert "签章时间" in seen["SignedValueV4.dat"] or "印章" in seen["SignedValueV4.dat"], seen
