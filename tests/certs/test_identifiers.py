"""GB 11643 citizen IDs, GB 32100 USCCs and GB/T 36904 identifiers (worked examples from
docs/standards/certificates.md §3 and §4, property tests of the check characters)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certs.errors import ValidationError
from certs.identifiers import (
    MOD37_ALPHABET,
    USCC_ALPHABET,
    build_identifier,
    citizen_id_check_char,
    mod37_36_check_char,
    parse_identifier,
    uscc_check_char,
    validate_citizen_id,
    validate_type_code,
    validate_uscc,
)

WORKED_IDENTIFIER = "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F"
TODAY = dt.date(2026, 11, 28)


def test_worked_identifier_check_char() -> None:
    assert mod37_36_check_char("11100000000013338W03211220000013544541J2430599001") == "F"
    built = build_identifier("11100000000013338W032", "11220000013544541J", "2430599", "001")
    assert str(built) == WORKED_IDENTIFIER
    parsed = parse_identifier(WORKED_IDENTIFIER)
    assert parsed == built
    assert parsed.defining_body_code == "11100000000013338W"
    assert (parsed.serial, parsed.version, parsed.check) == ("2430599", "001", "F")


def test_worked_holder_codes() -> None:
    assert citizen_id_check_char("11010519491231002") == "X"
    assert validate_citizen_id("11010519491231002X", today=TODAY) == "11010519491231002X"
    assert validate_citizen_id(" 11010519491231002x ", today=TODAY) == "11010519491231002X"
    assert uscc_check_char("91110000101623741") == "K"
    assert validate_uscc("91110000101623741k") == "91110000101623741K"


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("110105194912310021", "wrong check digit (expected X)"),
        ("11010519491331002X", "not a real calendar date"),
        ("11010518991231002X", "not between 1900-01-01"),
        ("11010520301231002X", "not between 1900-01-01"),
        ("01010519491231002X", "cannot start with 0"),
        ("110105491231002", "old 15-digit number"),
        ("1101051949123100", "must be 17 digits"),
        ("11010519491231002Y", "must be 17 digits"),
        ("１１010519491231002X", "must be 17 digits"),
    ],
)
def test_bad_citizen_ids(value: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as err:
        validate_citizen_id(value, field="holder.code", today=TODAY)
    assert err.value.code == "invalid_citizen_id"
    assert err.value.field == "holder.code"
    assert str(err.value).startswith("holder.code: ")
    assert fragment in str(err.value)


def test_citizen_id_message_matches_the_house_style() -> None:
    with pytest.raises(ValidationError) as err:
        validate_citizen_id("110105194912310021", today=TODAY)
    assert str(err.value) == (
        "holder.code: citizen ID number 110105194912310021 has a wrong check digit (expected X)"
    )


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("91110000101623741A", "wrong check character (expected K)"),
        ("9111000010162374", "16 characters instead of 18"),
        ("9111000010162374IK", "I, O, S, V and Z are never used"),
    ],
)
def test_bad_usccs(value: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as err:
        validate_uscc(value, field="issuer.code")
    assert err.value.code == "invalid_uscc"
    assert fragment in str(err.value)


def test_type_code() -> None:
    assert validate_type_code("11100000000013338W032") == "11100000000013338W032"
    for bad in ("11100000000013338W03", "11100000000013338X032", "11100000000013338W03A"):
        with pytest.raises(ValidationError) as err:
            validate_type_code(bad)
        assert err.value.code == "invalid_type_code"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (WORKED_IDENTIFIER[:-1] + "G", "wrong check character (expected F)"),
        (WORKED_IDENTIFIER.replace("1.2.156.3005.2.", "1.2.156.3005.3."), "must start with"),
        (WORKED_IDENTIFIER.replace(".001.", ".01."), "exactly 3 digits"),
        (WORKED_IDENTIFIER.replace("2430599", "243-0599"), "0-9 and upper-case A-Z"),
        (WORKED_IDENTIFIER.replace("2430599", "A" * 33), "0-9 and upper-case A-Z"),
        (WORKED_IDENTIFIER.replace("41J", "41K"), "wrong check character (expected J)"),
        (WORKED_IDENTIFIER.replace("38W", "38X"), "valid USCC of the defining body"),
        (WORKED_IDENTIFIER.lower(), "valid USCC of the defining body"),
        (WORKED_IDENTIFIER + ".1", "must have 5 parts"),
    ],
)
def test_bad_identifiers(text: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as err:
        parse_identifier(text)
    assert err.value.code == "invalid_identifier"
    assert err.value.field == "identifier"
    assert fragment in str(err.value)


def _uscc_strategy() -> st.SearchStrategy[str]:
    body = st.text(alphabet=USCC_ALPHABET, min_size=17, max_size=17)
    return body.map(lambda b: b + uscc_check_char(b))


identifier_parts = st.tuples(
    _uscc_strategy().map(lambda u: u),
    st.integers(0, 999).map(lambda n: f"{n:03d}"),
    _uscc_strategy(),
    st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=32),
    st.integers(0, 999).map(lambda n: f"{n:03d}"),
)


@given(identifier_parts)
def test_identifiers_round_trip(parts: tuple[str, str, str, str, str]) -> None:
    body, number, issuer, serial, version = parts
    built = build_identifier(body + number, issuer, serial, version)
    assert parse_identifier(str(built)) == built


@given(
    st.text(alphabet=MOD37_ALPHABET, min_size=1, max_size=80),
    st.data(),
)
def test_mod37_36_detects_every_single_substitution(text: str, data: st.DataObject) -> None:
    check = mod37_36_check_char(text)
    position = data.draw(st.integers(0, len(text)))  # len(text): change the check char itself
    full = text + check
    replacement = data.draw(st.sampled_from(MOD37_ALPHABET).filter(lambda c: c != full[position]))
    changed = full[:position] + replacement + full[position + 1 :]
    assert mod37_36_check_char(changed[:-1]) != changed[-1]


def test_mod37_36_detects_all_substitutions_exhaustively_on_the_worked_example() -> None:
    body = "11100000000013338W03211220000013544541J2430599001"
    full = body + "F"
    for i in range(len(full)):
        for c in MOD37_ALPHABET:
            if c != full[i]:
                changed = full[:i] + c + full[i + 1 :]
                assert mod37_36_check_char(changed[:-1]) != changed[-1]


@given(identifier_parts, st.data())
def test_any_single_character_change_to_an_identifier_is_rejected(
    parts: tuple[str, str, str, str, str], data: st.DataObject
) -> None:
    body, number, issuer, serial, version = parts
    text = str(build_identifier(body + number, issuer, serial, version))
    position = data.draw(st.integers(0, len(text) - 1))
    replacement = data.draw(
        st.sampled_from(MOD37_ALPHABET + ".").filter(lambda c: c != text[position])
    )
    with pytest.raises(ValidationError):
        parse_identifier(text[:position] + replacement + text[position + 1 :])


@given(st.text(alphabet="0123456789", min_size=17, max_size=17), st.data())
def test_citizen_id_check_detects_single_substitutions(first17: str, data: st.DataObject) -> None:
    full = first17 + citizen_id_check_char(first17)
    i = data.draw(st.integers(0, 16))
    c = data.draw(st.sampled_from("0123456789").filter(lambda d: d != full[i]))
    changed = full[:i] + c + full[i + 1 :]
    assert citizen_id_check_char(changed[:17]) != changed[17]


@given(st.text(alphabet=USCC_ALPHABET, min_size=17, max_size=17), st.data())
def test_uscc_check_detects_single_substitutions(first17: str, data: st.DataObject) -> None:
    full = first17 + uscc_check_char(first17)
    i = data.draw(st.integers(0, 16))
    c = data.draw(st.sampled_from(USCC_ALPHABET).filter(lambda d: d != full[i]))
    changed = full[:i] + c + full[i + 1 :]
    assert uscc_check_char(changed[:17]) != changed[17]
    with pytest.raises(ValidationError):
        validate_uscc(changed)
