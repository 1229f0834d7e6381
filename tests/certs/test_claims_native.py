"""The C issuance path (``certs._claims``, ``certs/_claims.c``) against the Python reference.

``issue_claims`` hands the common case to the C extension; its result must be byte for byte
what ``certs.claims.issue_claims_reference`` gives, and everything outside the common case
must come back as ``None`` so the Python code decides (and raises what it raises). The import
below fails (it does not skip) when the extension is not built: ``make setup`` builds it.
Random cases come from seeded generators, so a failure reproduces.
"""

from __future__ import annotations

import hashlib
import os
import random
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certs import _claims, document, formats
from certs._sm3 import sm3 as reference_sm3
from certs.canonical import (
    SALT_BYTES,
    DisclosedClaim,
    check_leaf,
    claims_of,
    disclose,
    issue_claims,
    leaf_digest,
    make_document,
    recompute_leaf,
)
from certs.claims import issue_claims_reference
from certs.errors import CanonicalizationError, LeafMismatch

from .samples import business_licence_request, certificate, example_request
from .test_canonical import _issued_both_ways, counter_bytes

ABC = "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
ABCD16 = "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"


def salts_for(values: dict[str, Any], seed: int = 0) -> str:
    return random.Random(seed).randbytes(SALT_BYTES * len(values)).hex()


def both(values: dict[str, Any], seed: int = 0) -> tuple[bytes, str]:
    """The C result, checked to exist and to equal the Python reference."""
    salts = salts_for(values, seed)
    fast = _claims.issue_claims(values, salts)
    assert fast is not None, "the C path declined a common case"
    assert fast == issue_claims_reference(values, salts)
    assert type(fast[0]) is bytes and type(fast[1]) is str
    return fast


def test_issue_claims_uses_the_extension() -> None:
    assert formats._native is _claims
    assert formats.IN_USE["claims"] == formats.IN_USE["merkle"] == "certs._claims (C)"


# ----------------------------------------------------------------------------------- SM3


def test_sm3_known_answers() -> None:
    assert _claims.sm3(b"abc").hex() == ABC
    assert _claims.sm3(b"abcd" * 16).hex() == ABCD16
    assert _claims.sm3(bytearray(b"abc")).hex() == ABC
    assert _claims.sm3(memoryview(b"xxabcxx")[2:5]).hex() == ABC


def test_sm3_equals_the_reference_at_every_length() -> None:
    rnd = random.Random(32905)
    if "sm3" in hashlib.algorithms_available:
        assert reference_sm3(b"abc") == hashlib.new("sm3", b"abc").digest()
    for n in range(301):  # every padding case: 0-55, 56-63 (a second block), 64, …
        data = rnd.randbytes(n)
        assert _claims.sm3(data) == reference_sm3(data), n
    for n in (1000, 4096, 65_536 + 7, 1 << 20):
        data = rnd.randbytes(n)
        assert _claims.sm3(data) == reference_sm3(data), n


def test_sm3_argument_errors() -> None:
    with pytest.raises(TypeError):
        _claims.sm3("abc")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        _claims.sm3()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        _claims.sm3(b"a", b"b")  # type: ignore[call-arg]


# -------------------------------------------------------------- equal to the reference

CONTROL = "".join(chr(c) for c in range(0x20))


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"": ""},
        {"a": None},
        {"annotations": ()},
        {"annotations": ("",)},
        {"annotations": ("一", 'two "2"', "three\\3", CONTROL, "")},
        {"control": CONTROL, "del": "\x7f", "mixed": f"a{CONTROL}b\x7fc"},
        {"quotes": '"', "backslash": "\\", "both": '\\"\\""\\'},
        {"cjk": "北京市朝阳区某某路1号院", "rare": "𠮷野家", "emoji": "😀\U0010ffff"},
        {"nbsp": "\u00a0\u00ff", "bmp-top": "\uffff\ufffe\u2028\u2029", "latin": "é"},
        {f"path\x00{c}": c for c in CONTROL},
        {'fields."quoted"': "x", "fields.\\": "y", "fields.\n": "z", "fields.\x7f": "w"},
        {"fields.中文": "值", "fields.ｚ": "全角", "fields.\uffef": "c", "fields.a": "a"},
        {"b": "1", "a": "2", "ab": "3", "aa": "4", "": "5", "a\x00": "6", "\x00": "7"},
        {"long": "长" * 100_000, "p" * 65_535: "longest path"},
    ],
    ids=[
        "empty", "empty-strings", "null", "empty-tuple", "tuple-of-empty", "tuple",
        "control-characters", "quotes", "cjk-and-beyond-bmp-values", "bmp-edges",
        "control-paths", "escaped-paths", "cjk-paths", "order", "long",
    ],
)
def test_handmade_claims_equal_the_reference(values: dict[str, Any]) -> None:
    for seed in range(3):
        both(values, seed)


def licence(n: int) -> dict[str, Any]:
    req = business_licence_request()
    req["number"] = f"L{n:08d}"
    req["holder"] = {**req["holder"], "name": f"杭州示例科技有限公司{n}"}
    req["fields"] = {**req["fields"], "企业名称": f"杭州示例科技有限公司{n}"}
    return req


@pytest.mark.parametrize(
    "request_obj",
    [
        business_licence_request(),
        example_request(),
        {
            **example_request(),
            "annotations": ["第一条加注", 'with "quotes" and \\', "换行\n第二行"],
        },
        {**example_request(), "valid_until": None, "number": "No. 7"},
        {
            **example_request(),
            "fields": {"名称": '值"引号"\\反斜线\u2028', "zz": "𠮷", "多行": "甲\n乙"},
        },
        *(licence(n) for n in range(5)),
    ],
)
def test_certificates_equal_the_reference(request_obj: dict[str, Any]) -> None:
    cert = certificate(request_obj)
    values = claims_of(cert)
    both(values)
    # and through the public function, with the C path on and off
    on = issue_claims(cert, random_bytes=counter_bytes)
    assert on == issue_claims_reference(values, counter_bytes(SALT_BYTES * len(values)).hex())


def test_documents_are_the_model_documents_on_both_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    """test_canonical's document check (issue_claims + document_text = to_json of the model
    document), once through C and once through Python: the same text."""
    certs = [certificate(), certificate(example_request())]
    with_c = [_issued_both_ways(c) for c in certs]
    monkeypatch.setattr(formats, "_native", None)
    without_c = [_issued_both_ways(c) for c in certs]
    assert with_c == without_c
    for fast, slow in with_c:
        assert fast == slow


ALPHABET = [*CONTROL, '"', "\\", "\x7f", "a", "Z", "0", ".", "é", "中", "\uffff", "𠮷", "😀"]


def test_random_claims_equal_the_reference() -> None:
    rnd = random.Random(2024)

    def text(size: int) -> str:
        return "".join(rnd.choice(ALPHABET) for _ in range(rnd.randrange(size)))

    for _ in range(400):
        values: dict[str, Any] = {}
        for _ in range(rnd.randrange(30)):
            path = text(12).replace("𠮷", "吉").replace("😀", "笑")  # paths stay in the BMP
            kind = rnd.randrange(4)
            values[path] = (
                None if kind == 0 else tuple(text(8) for _ in range(rnd.randrange(4)))
                if kind == 1 else text(rnd.choice((5, 60, 300)))
            )
        both(values, rnd.randrange(1 << 30))


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.text(st.characters(max_codepoint=0xFFFF, exclude_categories=("Cs",)), max_size=10),
        st.none()
        | st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
        | st.lists(st.text(st.characters(exclude_categories=("Cs",)), max_size=10)).map(tuple),
        max_size=12,
    )
)
def test_any_common_claims_equal_the_reference(values: dict[str, Any]) -> None:
    both(values)


# ----------------------------------------------------------------------------- fallbacks


class Text(str):
    pass


class Items(tuple):  # type: ignore[type-arg]
    pass


class Claims(dict):  # type: ignore[type-arg]
    pass


FALLBACKS: dict[str, dict[str, Any]] = {
    "path-beyond-bmp": {"a": "1", "fields.𠮷": "x"},
    "path-too-long": {"p" * 65_536: "x"},
    "path-too-long-utf8": {"长" * 21_846: "x"},  # 65,538 bytes, 21,846 characters
    "lone-surrogate-value": {"a": "x\ud800y"},
    "lone-surrogate-path": {"a\udfff": "x"},
    "lone-surrogate-item": {"annotations": ("ok", "\udc80")},
    "int-value": {"a": 7},
    "bool-value": {"a": True},
    "list-value": {"annotations": ["x"]},
    "tuple-with-int": {"annotations": ("x", 1)},
    "tuple-with-none": {"annotations": (None,)},
    "nested-tuple": {"annotations": (("x",),)},
    "str-subclass-value": {"a": Text("x")},
    "str-subclass-item": {"annotations": (Text("x"),)},
    "str-subclass-path": {Text("a"): "x"},
    "tuple-subclass": {"annotations": Items(("x",))},
    "dict-value": {"a": {"b": "c"}},
}


@pytest.mark.parametrize("name", sorted(FALLBACKS))
def test_unusual_claims_fall_back(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    values = FALLBACKS[name]
    assert _claims.issue_claims(values, salts_for(values)) is None
    # issue_claims gives what the Python code alone gives: the same result or the same error
    cert = certificate(example_request())
    monkeypatch.setattr(document, "claims_of", lambda _: values)

    def outcome() -> object:
        try:
            return issue_claims(cert, random_bytes=counter_bytes)
        except CanonicalizationError as exc:
            return ("CanonicalizationError", str(exc))

    with_c = outcome()
    monkeypatch.setattr(formats, "_native", None)
    assert with_c == outcome()
    if "surrogate" in name or "too-long" in name:
        assert with_c[0] == "CanonicalizationError"  # type: ignore[index]


def test_dict_subclass_falls_back() -> None:
    values = Claims(a="x")
    assert _claims.issue_claims(values, salts_for(values)) is None


def test_wrong_salts_fall_back() -> None:
    values = {"a": "x", "b": None}
    good = salts_for(values)
    assert _claims.issue_claims(values, good) is not None
    for salts in (
        "",
        good[:-1],
        good + "0",
        good[:-1] + "é",  # right length in characters, not ASCII
        good[:-2] + "é",  # right length in UTF-8 bytes, not ASCII
        "中" + good[3:],
        good[:-1] + "\ud800",
        Text(good),
    ):
        assert _claims.issue_claims(values, salts) is None, repr(salts)
    assert _claims.issue_claims({}, "") == issue_claims_reference({}, "")
    assert _claims.issue_claims({}, "00") is None


def test_argument_type_errors() -> None:
    with pytest.raises(TypeError):
        _claims.issue_claims([("a", "x")], "00" * 16)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        _claims.issue_claims({"a": "x"}, b"00" * 16)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        _claims.issue_claims({"a": "x"})  # type: ignore[call-arg]


def test_salts_are_taken_in_dict_order() -> None:
    """Claim i takes salt i of the dict's order, whatever the sorted order of the paths."""
    values = {"z": "1", "a": "2", "m": None}
    salts = os.urandom(SALT_BYTES * 3).hex()
    leaf, text = _claims.issue_claims(values, salts) or (b"", "")
    assert text.startswith('{"a":{"salt":"' + salts[32:64] + '","value":"2"}')
    assert f'"z":{{"salt":"{salts[:32]}","value":"1"}}}}' in text
    assert (leaf, text) == issue_claims_reference(values, salts)


def test_verification_recomputes_the_leaf_the_same_on_both_paths(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Verification (check_leaf) takes the C path for fully disclosed documents: the leaf is
    the one the Python digests give, a changed value or salt is still caught, and documents
    with hidden claims or salts of another length go the Python way with the same answer."""
    documents = [
        make_document(certificate(r), random_bytes=os.urandom)
        for r in (example_request(), business_licence_request(), licence(3))
    ]
    hidden = disclose(documents[1], ["holder.code"])
    short_salts = replace(
        documents[0],
        claims={
            path: DisclosedClaim(claim.salt[:8], claim.value)
            if isinstance(claim, DisclosedClaim) else claim
            for path, claim in documents[0].claims.items()
        },
    )
    short_salts = replace(short_salts, leaf=leaf_digest(
        {p: c.digest(p) for p, c in short_salts.claims.items() if isinstance(c, DisclosedClaim)}
    ))
    cases = [*documents, hidden, short_salts]
    answered: list[bool] = []

    class Recording:  # the real extension, noting which documents it answered
        def issue_claims(self, values: Any, salts_hex: str) -> Any:
            result = _claims.issue_claims(values, salts_hex)
            answered.append(result is not None)
            return result

    monkeypatch.setattr(formats, "_native", Recording())
    with_c = [recompute_leaf(d) for d in cases]
    assert answered == [True, True, True]  # the fully disclosed ones, with 16-byte salts
    assert [leaf for leaf, _ in with_c] == [d.leaf for d in cases]
    assert with_c[3][1] == ("holder.code",)
    monkeypatch.setattr(formats, "_native", None)
    assert [recompute_leaf(d) for d in cases] == with_c
    monkeypatch.undo()
    path, claim = next(iter(documents[2].claims.items()))
    assert isinstance(claim, DisclosedClaim)
    for changed in (
        DisclosedClaim(claim.salt, f"{claim.value}x"),
        DisclosedClaim(bytes([claim.salt[0] ^ 1]) + claim.salt[1:], claim.value),
    ):
        tampered = replace(documents[2], claims={**documents[2].claims, path: changed})
        with pytest.raises(LeafMismatch):
            check_leaf(tampered)
