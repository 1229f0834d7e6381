"""Request validation: every error code from realistic bad rows, all errors of a row at once,
normalization, CSV rows, and building the certificate."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certs.errors import VALIDATION_CODES, RequestInvalid, ValidationError
from certs.identifiers import build_identifier
from certs.model import CertificateStatus
from certs.request_csv import request_from_csv_row
from certs.request_parser import parse_request

from .samples import (
    BUSINESS_LICENCE,
    REGISTRY,
    TODAY,
    business_licence_request,
    certificate,
    example_request,
    issuer_code,
)


def errors_of(obj: Any, *, issuer: str | None = None) -> set[tuple[str, str]]:
    with pytest.raises(RequestInvalid) as err:
        parse_request(obj, issuer_uscc=issuer or issuer_code(), registry=REGISTRY, today=TODAY)
    assert err.value.code == "request_invalid"
    found = {(e.field, e.code) for e in err.value.errors}
    for e in err.value.errors:
        assert str(e).startswith(f"{e.field}: "), str(e)
        assert e.code in VALIDATION_CODES
        assert e.to_dict() == {"field": e.field, "code": e.code, "message": str(e)}
    return found


def test_valid_requests() -> None:
    req = parse_request(
        business_licence_request(), issuer_uscc=issuer_code(), registry=REGISTRY, today=TODAY
    )
    assert req.type_code == BUSINESS_LICENCE
    assert req.holder.code_type == "001" and req.valid_until is None
    assert req.fields["成立日期"] == "2015-06-01"
    assert req.annotations == ("2026-11-28 变更登记：住所",)
    example = parse_request(
        example_request(), issuer_uscc=issuer_code(), registry=REGISTRY, today=TODAY
    )
    assert example.valid_until == dt.date(2031, 11, 27)
    assert example.fields == {"type-specific": "values"}


def test_every_problem_of_a_row_is_reported_at_once() -> None:
    row = business_licence_request()
    row["holder"] = {
        "name": "北京某某科技有限公司",
        "code": "91110000101623741A",
        "code_type": "001",
    }
    row["jurisdiction"] = "010105"
    row["issue_date"] = "2026-13-01"
    row["valid_from"] = "2027-01-01"
    row["valid_until"] = "2026-12-31"
    row["remarks"] = "急件"
    del row["fields"]["住所"]
    row["fields"]["注册号"] = "110105000000000"
    row["fields"]["成立日期"] = "2015/06/01"
    row["number"] = "N" * 65
    assert errors_of(row) == {
        ("holder.code", "invalid_uscc"),
        ("jurisdiction", "invalid_jurisdiction"),
        ("issue_date", "invalid_date"),
        ("valid_until", "validity_order"),
        ("remarks", "unknown_key"),
        ("fields.住所", "missing_field"),
        ("fields.注册号", "unknown_key"),
        ("fields.成立日期", "invalid_date"),
        ("number", "field_too_long"),
    }


CASES: list[tuple[Any, set[tuple[str, str]]]] = [
    (lambda r: r["holder"].update(code_type="112"), {("holder.code_type", "invalid_code_type")}),
    (lambda r: r["holder"].update(code_type="111"), {("holder.code_type", "invalid_code_type")}),
    (lambda r: r["holder"].update(code_type=1), {("holder.code_type", "invalid_code_type")}),
    (lambda r: r["holder"].pop("code_type"), {("holder.code_type", "missing_field")}),
    (lambda r: r["holder"].update(name="  "), {("holder.name", "missing_field")}),
    (lambda r: r["holder"].update(name="张\x00三"), {("holder.name", "invalid_text")}),
    (lambda r: r["holder"].update(name="张\n三"), {("holder.name", "invalid_text")}),
    (lambda r: r["holder"].update(name="張" * 65), {("holder.name", "field_too_long")}),
    (lambda r: r["holder"].update(nick="x"), {("holder.nick", "unknown_key")}),
    (lambda r: r.update(holder="张三"), {("holder", "wrong_type")}),
    (lambda r: r.pop("holder"), {("holder", "missing_field")}),
    (lambda r: r.update(type="11100000000013338W999"), {("type", "unknown_type")}),
    (lambda r: r.update(type="营业执照"), {("type", "invalid_type_code")}),
    (lambda r: r.pop("type"), {("type", "missing_field")}),
    (lambda r: r.pop("jurisdiction"), {("jurisdiction", "missing_field")}),
    (lambda r: r.update(jurisdiction="36010"), {("jurisdiction", "invalid_jurisdiction")}),
    (lambda r: r.update(issue_date="2026-11-30"), {("issue_date", "issue_date_future")}),
    (lambda r: r.update(issue_date="20261128"), {("issue_date", "invalid_date")}),
    (lambda r: r.update(valid_until="2026-02-30"), {("valid_until", "invalid_date")}),
    (lambda r: r.update(valid_until="2026-11-27"), {("valid_until", "validity_order")}),
    (lambda r: r["fields"].update(注册资本=100), {("fields.注册资本", "wrong_type")}),
    (lambda r: r["fields"].update(住所="x" * 1001), {("fields.住所", "field_too_long")}),
    (lambda r: r["fields"].update(法定代表人=""), {("fields.法定代表人", "missing_field")}),
    (
        lambda r: r["fields"].update(统一社会信用代码="91110000101623741A"),
        {("fields.统一社会信用代码", "invalid_uscc")},
    ),
    (lambda r: r.update(fields=[]), {("fields", "wrong_type")}),
    (lambda r: r.update(annotations="加注"), {("annotations", "wrong_type")}),
    (lambda r: r.update(annotations=["ok", ""]), {("annotations.2", "missing_field")}),
    (lambda r: r.update(annotations=["a"] * 65), {("annotations", "too_many_fields")}),
    (lambda r: r.update(number=12), {("number", "wrong_type")}),
    # issue #16: bad data refused at issuance
    (lambda r: r.pop("number"), {("number", "missing_field")}),
    (lambda r: r.update(issue_date="2026-01-05", valid_from="2026-01-05",
                        valid_until="2026-11-27"), {("valid_until", "already_expired")}),
    (lambda r: r["fields"].update(企业名称="北京另一家科技有限公司"),
     {("fields.企业名称", "holder_mismatch")}),
    (lambda r: r["fields"].update(统一社会信用代码="91110000710931348K"),
     {("fields.统一社会信用代码", "holder_mismatch")}),
    (lambda r: r["fields"].update(成立日期="2026-11-29"), {("fields.成立日期", "date_in_future")}),
    (lambda r: r["holder"].update(name="北京某某科技\u200b有限公司"),
     {("holder.name", "invalid_text")}),
    (lambda r: r["fields"].update(住所="北京市朝阳区\u202e号1路某某"),
     {("fields.住所", "invalid_text")}),
    (lambda r: r.update(annotations=["\ufeff加注"]), {("annotations.1", "invalid_text")}),
    (lambda r: r.update(number="1101050\u200d12345678"), {("number", "invalid_text")}),
    (lambda r: r["fields"].update({"法定\u2060代表人": "张三"}), {("fields", "invalid_text")}),
]
CITIZEN_CASES: list[tuple[Any, set[tuple[str, str]]]] = [
    (
        lambda r: r["holder"].update(code="110105194912310021"),
        {("holder.code", "invalid_citizen_id")},
    ),
    (
        lambda r: r["holder"].update(code="11010520301231002X"),
        {("holder.code", "invalid_citizen_id")},
    ),
]


@pytest.mark.parametrize(("change", "expected"), CASES)
def test_single_problems(change: Any, expected: set[tuple[str, str]]) -> None:
    row = business_licence_request()
    change(row)
    assert errors_of(row) == expected


@pytest.mark.parametrize(("change", "expected"), CITIZEN_CASES)
def test_citizen_holder_problems(change: Any, expected: set[tuple[str, str]]) -> None:
    row = example_request()
    change(row)
    assert errors_of(row) == expected


def test_too_many_fields_and_unknown_example_fields() -> None:
    row = example_request()
    row["fields"] = {f"k{i}": "v" for i in range(65)}
    assert errors_of(row) == {("fields", "too_many_fields")}
    row["fields"] = {"k" * 65: "v"}
    assert errors_of(row) == {("fields", "field_too_long")}
    row["fields"] = {"名称": "a", " 名称 ": "b"}
    assert errors_of(row) == {("fields.名称", "unknown_key")}


def test_bad_issuer_and_non_object() -> None:
    assert ("issuer.code", "invalid_uscc") in errors_of(business_licence_request(), issuer="123")
    seen = []
    for _ in range(2):  # the issuer's check is remembered; each request gets its own error
        with pytest.raises(RequestInvalid) as err:
            parse_request(
                business_licence_request(), issuer_uscc="123", registry=REGISTRY, today=TODAY
            )
        (error,) = [e for e in err.value.errors if e.field == "issuer.code"]
        assert str(error) == (
            "issuer.code: unified social credit code '123' has 3 characters instead of 18"
        )
        seen.append(error)
    assert seen[0] is not seen[1]
    lower = parse_request(
        business_licence_request(), issuer_uscc=issuer_code().lower(), registry=REGISTRY,
        today=TODAY,
    )
    assert lower.issuer_code == issuer_code() != issuer_code().lower()
    assert errors_of(["not", "an", "object"]) == {("request", "wrong_type")}


def test_holder_code_type_hint_for_spreadsheets() -> None:
    row = business_licence_request()
    row["holder"]["code_type"] = "1"
    with pytest.raises(RequestInvalid) as err:
        parse_request(row, issuer_uscc=issuer_code(), registry=REGISTRY, today=TODAY)
    assert "leading zeros" in str(err.value.errors[0])


def test_every_validation_code_is_produced() -> None:
    seen: set[str] = {
        "invalid_identifier",  # test_identifiers.py::test_bad_identifiers
        # tests/verifier/test_certificate_verification.py::
        # test_issuance_refuses_rows_the_issuer_is_not_authorized_for (needs the chain)
        "not_authorized",
        # test_issuance_refuses_a_number_given_twice_in_one_request (needs the database)
        "duplicate_number",
    }
    for make, cases in ((business_licence_request, CASES), (example_request, CITIZEN_CASES)):
        for change, _ in cases:
            row = make()
            change(row)
            seen.update(code for _, code in errors_of(row))
    seen.update(code for _, code in errors_of({"fields": {f"k{i}": "v" for i in range(65)}}))
    for args in (
        ("11100000000013338W032", issuer_code(), "a", "001"),
        ("11100000000013338W032", issuer_code(), "A", "1"),
    ):
        with pytest.raises(ValidationError) as err:
            build_identifier(*args)
        seen.add(err.value.code)
    assert set(VALIDATION_CODES) == seen, set(VALIDATION_CODES) ^ seen


def test_format_characters_are_exactly_unicode_category_cf() -> None:
    import sys
    import unicodedata

    from certs.request_parser import FORMAT_CHARACTERS

    pattern = re.compile(f"[{FORMAT_CHARACTERS}]")
    for cp in range(sys.maxunicode + 1):
        ch = chr(cp)
        if 0xD800 <= cp <= 0xDFFF:
            continue
        assert bool(pattern.match(ch)) == (unicodedata.category(ch) == "Cf"), hex(cp)


def test_a_format_character_is_named_where_it_is() -> None:
    row = business_licence_request()
    row["holder"]["name"] = "北京某某\u200b科技有限公司"
    with pytest.raises(RequestInvalid) as err:
        parse_request(row, issuer_uscc=issuer_code(), registry=REGISTRY, today=TODAY)
    (error,) = [e for e in err.value.errors if e.field == "holder.name"]
    assert "invisible format character U+200B at position 5" in str(error)


def test_normalization() -> None:
    row = example_request()
    row["holder"]["name"] = "  李䶮𠮷\u0065\u0301 "  # rare CJK, beyond BMP, decomposed é
    row["holder"]["code"] = "11010519491231002x"
    row["issue_date"] = ""  # absent: today
    del row["valid_from"]  # absent: the issue date
    req = parse_request(row, issuer_uscc=issuer_code(), registry=REGISTRY, today=TODAY)
    assert req.holder.name == "李䶮𠮷\u00e9"
    assert req.holder.code == "11010519491231002X"
    assert req.issue_date == TODAY and req.valid_from == TODAY


def test_issue_date_may_be_tomorrow() -> None:
    row = example_request()
    row["issue_date"] = row["valid_from"] = "2026-11-29"
    assert parse_request(
        row, issuer_uscc=issuer_code(), registry=REGISTRY, today=TODAY
    ).issue_date == dt.date(2026, 11, 29)


def test_csv_rows() -> None:
    text = (
        "type,holder.name,holder.code,holder.code_type,issue_date,valid_until,jurisdiction,"
        "fields.type-specific,annotations.2,annotations.1,number\n"
        "11100000000013338W032,张三,11010519491231002X,111,2026-11-28,,360100,values,乙,甲,\n"
    )
    row = next(csv.DictReader(io.StringIO(text)))
    obj = request_from_csv_row(row)
    assert obj == {
        "type": "11100000000013338W032",
        "holder": {"name": "张三", "code": "11010519491231002X", "code_type": "111"},
        "issue_date": "2026-11-28",
        "jurisdiction": "360100",
        "fields": {"type-specific": "values"},
        "annotations": ["甲", "乙"],
    }
    req = parse_request(obj, issuer_uscc=issuer_code(), registry=REGISTRY, today=TODAY)
    assert req.valid_until is None and req.number is None


def test_csv_unknown_columns_and_extra_cells() -> None:
    text = "type,holder.nick,remark.x,annotations.x\nT,a,b,c,extra\n"
    obj = request_from_csv_row(next(csv.DictReader(io.StringIO(text))))
    found = errors_of(obj)
    assert {
        ("holder.nick", "unknown_key"),
        ("remark.x", "unknown_key"),
        ("annotations.x", "unknown_key"),
        ("(extra cells)", "unknown_key"),
    } <= found


def test_build_certificate() -> None:
    cert = certificate()
    assert str(cert.identifier).startswith("1.2.156.3005.2.11100000MA0000001Q001.")
    assert cert.type_code == BUSINESS_LICENCE and cert.version == "001"
    assert cert.issuer_code == issuer_code()
    assert cert.defining_body_code == "11100000MA0000001Q"
    assert cert.name == cert.type_name == "营业执照"
    assert cert.status is CertificateStatus.ACTIVE
    with pytest.raises(TypeError):
        cert.fields["企业名称"] = "x"  # type: ignore[index]


class _Text(str):
    """Text that is not exactly ``str``: the validation takes its general path for it."""


_FIELD_KEYS = [
    "企业名称", "住所", "经营范围", "成立日期", "统一社会信用代码", "未知", "type-specific",
]
_KEY_PADS = ["", " ", "\t", "\x07", "e\u0301"]
_FIELD_TEXTS = [
    "北京某某科技有限公司", "e\u0301", "é", "a\nb", "a\tb", "a\x00b", "\u00a0x", "", " ",
    "x" * 1000, "x" * 1001, "2015-06-01", "91110000101623741K", "\ud800", None, 7,
]
_VALUE_PADS = ["", " ", "\n"]


def _fields_verdict(base: dict[str, Any], entries: list[tuple[str, Any]], general: bool) -> Any:
    """The fields of ``base`` (a request) after ``entries`` (placed first, in place of the
    request's own of the same key), or every error; ``general``: every key and text value
    as a ``str`` subclass."""

    def wrap(value: Any) -> Any:
        return _Text(value) if general and isinstance(value, str) else value

    own = [(k, v) for k, v in base["fields"].items() if k not in dict(entries)]
    row = dict(base)
    row["fields"] = {wrap(k): wrap(v) for k, v in [*entries, *own]}
    try:
        request = parse_request(row, issuer_uscc=issuer_code(), registry=REGISTRY, today=TODAY)
    except RequestInvalid as exc:
        return sorted((e.field, e.code, str(e)) for e in exc.errors)
    assert all(type(k) is str and type(v) is str for k, v in request.fields.items())
    return list(request.fields.items())


@pytest.mark.parametrize("base", [business_licence_request(), example_request()],
                         ids=["declared fields", "open fields"])
def test_each_field_gets_the_general_path_s_verdict(base: dict[str, Any]) -> None:
    """Clean text fields are accepted on a short path. Whatever one field holds, before the
    request's own (padded, control characters, decomposed, too long, not text, a date or a
    USCC, the same key once trimmed), the verdict (the fields kept, or every error) is the
    one the general path gives, which text of a ``str`` subclass always takes."""
    for key in _FIELD_KEYS:
        for key_pad in _KEY_PADS:
            for value in _FIELD_TEXTS:
                for value_pad in _VALUE_PADS:
                    text = value + value_pad if isinstance(value, str) else value
                    entries = [(key_pad + key, text)] if key_pad == " " else [(key + key_pad, text)]
                    assert _fields_verdict(base, entries, False) == _fields_verdict(
                        base, entries, True
                    ), entries


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([business_licence_request(), example_request()]),
    st.lists(
        st.tuples(
            st.sampled_from(_FIELD_KEYS),
            st.sampled_from(_KEY_PADS),
            st.sampled_from(_FIELD_TEXTS),
            st.sampled_from(_VALUE_PADS),
        ),
        max_size=8,
    ),
)
def test_fields_together_get_the_general_path_s_verdict(
    base: dict[str, Any], drawn: list[tuple[str, str, Any, str]]
) -> None:
    entries = [
        (key + key_pad, value + value_pad if isinstance(value, str) else value)
        for key, key_pad, value, value_pad in drawn
    ]
    assert _fields_verdict(base, entries, False) == _fields_verdict(base, entries, True)
