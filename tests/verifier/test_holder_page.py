"""The holder's page (``GET /holder``) end to end at phone size (390×844): the real service
(``zhengyin demo`` data, a real devnet, ``zhengyin serve``) driven by a real headless
Chromium. Each state is photographed and asserted from its text and layout (no horizontal
overflow, the code and its QR on the first screen), not from pixels; the QR is read back
from the screenshot (zxing-cpp) and redeemed with the counter's key.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import zxingcpp
from PIL import Image
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select, WebDriverWait

from certs.canonical import ALWAYS_DISCLOSED, CertificateDocument, disclose
from tests.verifier.browser import Served, browser, served
from tests.verifier.test_counter_page import Page as CounterPage

__all__ = ["browser", "served"]  # fixtures this module's tests use

WAIT_SECONDS = 30
WIDTH, HEIGHT = 390, 844
CJK = re.compile(r"[\u4e00-\u9fff]")
CODE = re.compile(r"[2-9A-HJKMNP-Z]{5}-[2-9A-HJKMNP-Z]{5}")


@dataclass
class HolderPage:
    driver: WebDriver
    url: str
    shots: Path

    def open(self) -> None:
        self.driver.execute_cdp_cmd(  # type: ignore[attr-defined]
            "Emulation.setDeviceMetricsOverride",
            {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": True},
        )
        self.driver.get(self.url + "/holder")
        WebDriverWait(self.driver, WAIT_SECONDS).until(
            lambda d: d.execute_script("return document.readyState") == "complete"
            and self.state == "idle"
        )

    def by_id(self, element_id: str) -> WebElement:
        return self.driver.find_element(By.ID, element_id)

    @property
    def state(self) -> str:
        return str(self.by_id("holder").get_attribute("data-state"))

    @property
    def seq(self) -> int:
        return int(self.by_id("holder").get_attribute("data-seq") or 0)

    def wait(self, *states: str, after: int) -> str:
        WebDriverWait(self.driver, WAIT_SECONDS).until(
            lambda _: self.seq > after and self.state in states
        )
        return self.state

    def choose_file(self, path: Path) -> str:
        before = self.seq
        self.by_id("file").send_keys(str(path))
        return self.wait("opened", "error", after=before)

    def make_code(self) -> str:
        before = self.seq
        self.by_id("make").click()
        return self.wait("code", "error", after=before)

    def shot(self, name: str) -> Path:
        path = self.shots / f"holder-{name}.png"
        assert self.driver.save_screenshot(str(path))
        with Image.open(path) as image:
            assert image.size == (WIDTH, HEIGHT), image.size
        return path

    def assert_fits_phone(self) -> None:
        width = self.driver.execute_script(
            "return [document.documentElement.scrollWidth, window.innerWidth]"
        )
        assert width[0] <= width[1] == WIDTH, f"horizontal overflow at phone width: {width}"

    def on_first_screen(self, element: WebElement) -> bool:
        box = self.driver.execute_script(
            "const r = arguments[0].getBoundingClientRect();"
            "return [r.left, r.top, r.right, r.bottom];", element)
        return bool(element.is_displayed() and box[0] >= 0 and box[1] >= 0
                    and box[2] <= WIDTH and box[3] <= HEIGHT)

    def visible_text(self) -> str:
        return str(self.by_id("holder").text)

    def fields(self) -> dict[str, WebElement]:
        return {str(item.get_attribute("data-path")): item
                for item in self.driver.find_elements(By.CSS_SELECTOR, "#fields li")}

    def assert_only_local_requests(self) -> None:
        urls: list[str] = self.driver.execute_script(
            "return performance.getEntriesByType('navigation')"
            ".concat(performance.getEntriesByType('resource')).map(e => e.name)"
        )
        assert any(u.endswith("/static/holder.js") for u in urls), urls
        assert any(u.endswith("/static/holder.css") for u in urls), urls
        for url in urls:
            parts = urlsplit(url)
            assert parts.scheme in ("http", "data", "blob") and (
                parts.scheme in ("data", "blob") or parts.hostname == "127.0.0.1"
            ), f"the page fetched {url}"


@pytest.fixture
def page(served: Served, browser: WebDriver, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[HolderPage]:
    shown = HolderPage(browser, served.url, tmp_path_factory.mktemp("holder-shots"))
    shown.open()
    yield shown
    shown.assert_only_local_requests()


def document_of(served: Served, status: str) -> Path:
    return Path(served.certificate(status)["document"])


def beijing_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(hours=8)


def test_the_page_is_chinese_local_and_fits_a_phone(page: HolderPage) -> None:
    assert page.driver.title.startswith("证印链")
    text = page.visible_text()
    assert "选择证照文件" in text and "只有您选择的这个文件" in text
    assert page.by_id("file").get_attribute("type") == "file"
    csp = page.driver.find_element(
        By.CSS_SELECTOR, 'meta[http-equiv="Content-Security-Policy"]').get_attribute("content")
    assert csp is not None and "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "unsafe" not in csp
    page.assert_fits_phone()
    page.shot("idle")


def test_open_choose_show_and_redeem_at_a_phone(page: HolderPage, served: Served) -> None:
    source = document_of(served, "active")
    document = json.loads(source.read_text(encoding="utf-8"))
    values = {p: c.get("value") for p, c in document["claims"].items()}

    # 1. opened and verified
    assert page.choose_file(source) == "opened"
    assert page.by_id("verdict-word").text == "通过"
    assert page.by_id("fact-type").text == values["type.name"] == "示例证照"
    assert page.by_id("fact-issuer").text == values["issuer.name"] == "示例市行政审批局"
    assert page.by_id("fact-identifier").text == values["identifier"]
    assert page.on_first_screen(page.by_id("verdict-word"))
    page.assert_fits_phone()
    page.shot("opened-valid")

    # 2. choosing: the always-disclosed ones fixed, the rest unticked, Chinese labels
    fields = page.fields()
    assert set(fields) == set(document["claims"])
    for path, item in fields.items():
        box = item.find_element(By.CSS_SELECTOR, "input")
        always = path in ALWAYS_DISCLOSED
        assert box.is_selected() == always and (not box.is_enabled()) == always, path
        assert ("必示" in item.text) == always, path
    assert fields["holder.name"].text.splitlines()[:2] == ["持证主体", "张三"]
    assert fields["holder.code"].text.startswith("居民身份证号码")
    assert fields["valid_from"].text.startswith("有效期起始日期")
    assert all(CJK.search(item.text.splitlines()[0]) for item in fields.values())
    fields["holder.name"].find_element(By.CSS_SELECTOR, "label").click()
    fields["fields.用途"].find_element(By.CSS_SELECTOR, "label").click()
    # no purpose yet: refused on the page, nothing sent
    page.by_id("make").click()
    problem = page.by_id("choose-problem")
    assert problem.is_displayed() and "用证事由" in problem.text and page.state == "opened"
    Select(page.by_id("purpose-choice")).select_by_visible_text("办理社保")
    page.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})",
                               page.by_id("purpose-choice"))
    page.assert_fits_phone()
    page.shot("choosing")

    # 3. the code, its QR and its expiry on the first screen
    assert page.make_code() == "code"
    code = page.by_id("code").text
    assert CODE.fullmatch(code), code
    assert page.on_first_screen(page.by_id("code")) and page.on_first_screen(page.by_id("qr"))
    assert page.driver.execute_script("return arguments[0].naturalWidth", page.by_id("qr")) > 0
    size = page.by_id("code").value_of_css_property("font-size")
    assert float(size.removesuffix("px")) >= 32, size
    expiry = page.by_id("expiry").text
    assert "北京时间" in expiry, expiry
    found = re.fullmatch(r"有效至 北京时间 (\d{1,2})月(\d{1,2})日 (\d{2}):(\d{2}):(\d{2})",
                         expiry)
    assert found, expiry
    expected = beijing_now() + dt.timedelta(minutes=5)
    shown_at = dt.datetime(expected.year, *map(int, found.groups()), tzinfo=dt.UTC)
    assert abs((shown_at - expected).total_seconds()) < 90, (expiry, expected)
    assert re.fullmatch(r"剩余 [45] 分 \d{2} 秒", page.by_id("countdown").text)
    labels = [li.text for li in page.driver.find_elements(By.CSS_SELECTOR, "#shown li")]
    assert "持证主体" in labels and "用途" in labels and "居民身份证号码" not in labels
    assert page.by_id("shown-purpose").text == "办理社保"
    assert page.by_id("code-certificate").text == "示例证照 · 示例市行政审批局"
    page.assert_fits_phone()
    screenshot = page.shot("code")

    # the QR, read from the screenshot, is exactly the code; the counter page, scanning it
    # into its scan field, redeems it and shows exactly what the holder chose
    with Image.open(screenshot) as image:
        read = zxingcpp.read_barcodes(image.convert("RGB"))
    assert [r.text for r in read] == [code], [r.text for r in read]
    assert read[0].format == zxingcpp.BarcodeFormat.QRCode  # a counter's scanner reads it
    holder_tab = page.driver.current_window_handle
    page.driver.switch_to.new_window("tab")
    try:
        counter = CounterPage(page.driver, served.url)
        counter.open()
        counter.set_key(served.counter_key)
        assert counter.scan(read[0].text) == "valid", counter.summary
        assert counter.by_id("result").get_attribute("data-input") == "presentation"
        facts = counter.facts()
        assert facts["用证事由"] == "办理社保" and facts["用途"] == values["fields.用途"]
        assert "张三" in facts.values()  # the holder's name, disclosed
        assert values["holder.code"] not in " ".join(facts.values())  # the ID number, not
        assert "持证主体代码" in facts["未披露字段"], facts
        counter.assert_only_local_requests()
    finally:
        page.driver.close()
        page.driver.switch_to.window(holder_tab)
    used = requests.post(f"{served.url}/v1/presentations/redeem", json={"code": code},
                         headers={"Authorization": f"Bearer {served.counter_key}"}, timeout=30)
    assert used.status_code == 410 and used.json()["error"] == "presentation_used", used.text

    # past its time (the page's clock moved on 5 minutes): said so, the QR faded
    page.driver.execute_script(
        "window.__now = Date.now; Date.now = () => window.__now() + 301000;")
    WebDriverWait(page.driver, 5).until(
        lambda _: page.by_id("step-code").get_attribute("data-expired") == "true")
    assert page.by_id("countdown").text == "出示码已过期，请点“重新生成”。"
    assert "expired" in str(page.by_id("qr").get_attribute("class"))
    page.shot("code-expired")
    page.driver.execute_script("Date.now = window.__now;")

    # 重新生成: a new code; 完成: back to the start, nothing kept
    before = page.seq
    page.by_id("again").click()
    assert page.wait("code", "error", after=before) == "code"
    assert CODE.fullmatch(page.by_id("code").text) and page.by_id("code").text != code
    page.by_id("done").click()
    assert page.state == "idle" and not page.by_id("step-code").is_displayed()
    assert page.by_id("file-name").text == ""


def test_errors_say_what_happened_and_what_to_do(
    page: HolderPage, served: Served, tmp_path: Path
) -> None:
    # a revoked certificate: 不通过, and why, and the next step
    assert page.choose_file(document_of(served, "revoked")) == "error"
    assert page.by_id("verdict-word").text == "不通过"
    assert page.by_id("error-message").text == "该证照已被发证机关撤销，不能出示。"
    assert page.by_id("error-next").text == "如有疑问请联系发证机关。"
    assert page.on_first_screen(page.by_id("error-message"))
    page.assert_fits_phone()
    page.shot("error-revoked")

    # a disclosed copy verifies, but is not the holder's document
    full = CertificateDocument.from_json(document_of(served, "active").read_bytes())
    copy = tmp_path / "副本.json"
    copy.write_text(disclose(full, ["holder.code"]).to_json(), encoding="utf-8")
    assert page.choose_file(copy) == "error"
    assert page.by_id("verdict-word").text == "通过"
    assert "副本" in page.by_id("error-message").text
    assert page.by_id("error-retry").text == "重新选择文件"
    page.shot("error-copy")

    # a QR payload saved as text is no certificate file
    payload = tmp_path / "qr.txt"
    payload.write_text(served.certificate("active")["qr"], encoding="utf-8")
    assert page.choose_file(payload) == "error"
    assert "无法识别该文件" in page.by_id("error-message").text
    assert not page.by_id("verified").is_displayed()
    page.assert_fits_phone()


def test_a_sealed_pdf_opens_and_makes_a_code(
    page: HolderPage, served: Served, tmp_path: Path
) -> None:
    identifier = served.certificate("active")["identifier"]
    pdf = requests.get(f"{served.url}/v1/certificates/{identifier}/pdf", timeout=120,
                       headers={"Authorization": f"Bearer {served.demo['issuer_api_key']}"})
    assert pdf.status_code == 200, pdf.text
    path = tmp_path / "证照.pdf"
    path.write_bytes(pdf.content)
    assert page.choose_file(path) == "opened"
    assert page.by_id("verdict-word").text == "通过"
    Select(page.by_id("purpose-choice")).select_by_visible_text("其他（自行填写）")
    purpose = page.by_id("purpose")
    assert purpose.is_displayed()
    purpose.send_keys("租房登记")
    assert page.make_code() == "code"
    assert page.by_id("shown-purpose").text == "租房登记"
    page.by_id("done").click()


def test_rate_limited_says_when_to_try_again(page: HolderPage, served: Served) -> None:
    """Last in this module: it spends this address's allowance of the window."""
    answers: list[Any] = []
    while not answers or answers[-1].status_code != 429:
        answers.append(requests.post(f"{served.url}/v1/holder/open",
                                     files={"file": ("x.txt", b"not a certificate")},
                                     timeout=30))
        assert len(answers) <= 100, "no limit per address"
    assert page.choose_file(document_of(served, "active")) == "error"
    assert page.by_id("error-title").text == "操作过于频繁"
    assert re.fullmatch(r"请 \d+ 秒后再试。", page.by_id("error-next").text), page.by_id(
        "error-next").text
    assert page.by_id("error-retry").text == "重试"
    page.assert_fits_phone()
    page.shot("error-rate-limited")
