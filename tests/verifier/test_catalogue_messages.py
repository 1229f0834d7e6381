"""What the chain's catalogue and grants say is missing (:meth:`Authority.why_not`), and the
reasons of status changes, as catalogue messages: the English as it always read, the Chinese
in Chinese throughout (no English sentence carried into it). No chain needed."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from certs.status import REASONS, STATUS_REASONS, status_reason
from chain.records import Grant
from seals.report import Message, render
from verifier.checks.authority import Authority, CatalogueEntry, Entitlements

LICENCE = "11100000MA0000001Q001"
ENTRY = CatalogueEntry(LICENCE, 1, "营业执照", "市场监管总局", b"\x00" * 32)
T = 1_800_000_000
ENGLISH = re.compile(r"[A-Za-z]{2,}")


def english_and_chinese(message: Message | None) -> tuple[str, str]:
    assert isinstance(message, Message), message
    return message.render("en"), message.render("zh")


def test_why_not_says_what_is_missing_in_both_languages() -> None:
    unknown = Authority(LICENCE, None, ())
    withdrawn = Authority(LICENCE, replace(ENTRY, withdrawn_at=T), ())
    never = Authority(LICENCE, ENTRY, ())
    elsewhere = Authority(LICENCE, ENTRY, (Grant(0, None, "3601"),))
    cases = {
        unknown: (
            f"type {LICENCE} is not in the certificate catalogue on chain",
            f"证照类型 {LICENCE} 不在区块链上的证照目录中",
        ),
        withdrawn: (
            f"type {LICENCE} (营业执照) was withdrawn from the catalogue",
            f"证照类型 {LICENCE}（营业执照）已从证照目录中撤销",
        ),
        never: (
            f"the issuer was never authorized for type {LICENCE} (营业执照)",
            f"发证机关从未获授权签发证照类型 {LICENCE}（营业执照）",
        ),
        elsewhere: (
            f"the issuer was not authorized for type {LICENCE} (营业执照) in jurisdiction "
            "110100 at that time",
            f"发证机关当时未获授权在行政区划 110100 签发证照类型 {LICENCE}（营业执照）",
        ),
    }
    for authority, (en, zh) in cases.items():
        assert english_and_chinese(authority.why_not(T, "110100")) == (en, zh)
        assert not ENGLISH.search(zh.replace(LICENCE, ""))
    now = english_and_chinese(elsewhere.why_not(T, "110100", now=True))
    assert now[0].endswith("in jurisdiction 110100 now")
    assert now[1].startswith("发证机关目前未获授权")
    assert elsewhere.why_not(T, "360102") is None


def test_an_issuance_refusal_names_the_command_that_authorizes_it() -> None:
    issuer = "91110000101623741K"
    allowed = Entitlements(issuer, T, {LICENCE: Authority(LICENCE, ENTRY, ())})
    en, zh = english_and_chinese(allowed.why_not(LICENCE, "110100"))
    command = f"`zhengyin issuer authorize --code {issuer} --type {LICENCE}`"
    assert en == (
        f"the issuer was never authorized for type {LICENCE} (营业执照): an admin authorizes "
        f"it with {command}"
    )
    assert zh == (
        f"发证机关从未获授权签发证照类型 {LICENCE}（营业执照）：可由管理员用 {command} 授权"
    )
    assert allowed.why_not("no such type", "110100") is not None
    assert Entitlements(issuer, T, {LICENCE: Authority(
        LICENCE, ENTRY, (Grant(0, None, ""),))}).why_not(LICENCE, "110100") is None


@pytest.mark.parametrize("code", sorted(STATUS_REASONS))
def test_status_reasons_are_catalogue_messages(code: int) -> None:
    en, zh = STATUS_REASONS[code]
    assert status_reason(code).render("en") == REASONS[code] == f"{en} ({zh})"
    assert status_reason(code).render("zh") == zh
    assert not ENGLISH.search(zh)


def test_a_revoked_certificates_chinese_reason_is_chinese_throughout() -> None:
    params = {"changed": 12, "code": 1, "reason": status_reason(1)}
    assert render("certificate.status.revoked", params, "en") == (
        "revoked in block 12 (reason 1: wrong information (信息有误))"
    )
    zh = render("certificate.status.revoked", params, "zh")
    assert "（原因 1：信息有误）" in zh and not ENGLISH.search(zh)
    unknown = {"changed": 12, "code": 99, "reason": status_reason(99)}
    assert render("certificate.status.suspended", unknown, "en").endswith("(reason 99: unknown)")
    assert "（原因 99：未知）" in render("certificate.status.suspended", unknown, "zh")
