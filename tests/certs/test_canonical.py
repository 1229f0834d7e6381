"""RFC 8785 canonical JSON, claim digests, the leaf, disclosure and the document format."""

from __future__ import annotations

import hashlib
import json
import math
import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certs._sm3 import sm3
from certs.canonical import (
    ALWAYS_DISCLOSED,
    CORE_PATHS,
    Anchor,
    CertificateDocument,
    DisclosedClaim,
    HiddenClaim,
    IssuerSignature,
    check_leaf,
    claim_digest,
    claims_of,
    disclose,
    document_text,
    issue_claims,
    jcs,
    leaf_digest,
    make_document,
    recompute_leaf,
    request_claims,
    signing_input,
)
from certs.errors import CanonicalizationError, DocumentError, LeafMismatch
from certs.identifiers import build_identifier, parse_identifier
from certs.merkle import MerkleTree, verify_proof
from certs.model import build_certificate
from certs.request_parser import parse_request

from .samples import (
    BUSINESS_LICENCE,
    EXAMPLE_TYPE,
    REGISTRY,
    TODAY,
    business_licence_request,
    certificate,
    example_request,
    issuer_code,
)

VECTORS = json.loads((Path(__file__).parent / "vectors" / "jcs_rfc8785.json").read_text("utf-8"))


def counter_bytes(n: int) -> bytes:
    """Deterministic stand-in for os.urandom in tests: 00 01 02 …"""
    return bytes(i % 256 for i in range(n))


# ----------------------------------------------------------------------------------- SM3


def test_sm3_known_answers_and_agreement_with_seals() -> None:
    from seals.sm2 import sm3 as seals_sm3

    abc = "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    abcd = "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
    for data, expected in ((b"abc", abc), (b"abcd" * 16, abcd)):
        assert sm3(data).hex() == expected
        assert seals_sm3(data).hex() == expected


# ----------------------------------------------------------------------------------- JCS


@pytest.mark.parametrize("example", VECTORS["examples"], ids=lambda e: e["name"])
def test_rfc8785_examples(example: dict[str, str]) -> None:
    assert jcs(json.loads(example["input"])) == example["canonical"].encode("utf-8")


@pytest.mark.parametrize("vector", VECTORS["numbers"], ids=lambda v: v["binary64"])
def test_rfc8785_numbers(vector: dict[str, str]) -> None:
    (value,) = struct.unpack(">d", bytes.fromhex(vector["binary64"]))
    assert jcs(value) == vector["es"].encode("ascii")


@pytest.mark.parametrize(
    "value",
    [math.nan, math.inf, -math.inf, 2**53, -(2**53), "\ud800", {"\udc00": 1}, {1: "x"}, b"x"],
    ids=repr,
)
def test_jcs_rejects(value: Any) -> None:
    with pytest.raises(CanonicalizationError) as err:
        jcs(value)
    assert err.value.code == "not_canonicalizable"


def test_jcs_integers_and_literals() -> None:
    assert jcs([2**53 - 1, -(2**53 - 1), 0, -0.0, True, False, None]) == (
        b"[9007199254740991,-9007199254740991,0,0,true,false,null]"
    )
    assert jcs({"b": [], "a": {}}) == b'{"a":{},"b":[]}'
    assert jcs("\u2028\x7f\x1f") == '"\u2028\x7f\\u001f"'.encode()


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(json_values)
def test_jcs_is_valid_json_of_the_same_value(value: Any) -> None:
    try:
        encoded = jcs(value)
    except CanonicalizationError:
        return  # lone surrogates in generated text
    # compare numbers as IEEE doubles, as JSON (and RFC 8785) does
    assert json.loads(encoded, parse_int=float) == as_double(value)
    assert jcs(json.loads(encoded, parse_int=float)) == encoded


def as_double(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, list):
        return [as_double(v) for v in value]
    return {k: as_double(v) for k, v in value.items()}


@given(st.dictionaries(st.text(), st.integers(), max_size=8), st.randoms())
def test_jcs_ignores_member_order(obj: dict[str, int], rnd: Any) -> None:
    items = list(obj.items())
    rnd.shuffle(items)
    try:
        assert jcs(dict(items)) == jcs(obj)
    except CanonicalizationError:
        pass


# ------------------------------------------------------------------------- claims, leaf


def test_claim_digest_definition() -> None:
    salt = bytes.fromhex("00112233445566778899aabbccddeeff")
    expected = sm3('["00112233445566778899aabbccddeeff","holder.name","张三"]'.encode())
    assert claim_digest(salt, "holder.name", "张三") == expected
    assert claim_digest(salt, "valid_until", None) == sm3(
        b'["00112233445566778899aabbccddeeff","valid_until",null]'
    )
    assert claim_digest(salt, "annotations", ("a",)) == sm3(
        b'["00112233445566778899aabbccddeeff","annotations",["a"]]'
    )


@given(st.text(), st.text())
def test_claim_digest_fast_path_is_jcs(path: str, value: str) -> None:
    salt = b"\x07" * 16
    try:
        expected = sm3(jcs([salt.hex(), path, value]))
    except CanonicalizationError:
        with pytest.raises(CanonicalizationError):
            claim_digest(salt, path, value)
        return
    assert claim_digest(salt, path, value) == expected


def independent_leaf(digests: dict[str, bytes]) -> bytes:
    body = b"".join(
        len(p.encode()).to_bytes(2, "big") + p.encode() + digests[p]
        for p in sorted(digests, key=lambda p: p.encode("utf-8"))
    )
    return hashlib.new("sm3", b"zhengyin:leaf:v1" + body).digest()


def test_leaf_definition() -> None:
    digests = {
        "fields.名称": b"\x01" * 32,
        "holder.name": b"\x02" * 32,
        "fields.\U00020bb7": b"\x03" * 32,
    }
    assert leaf_digest(digests) == independent_leaf(digests)
    with pytest.raises(ValueError):
        leaf_digest({"name": b"\x00"})


def test_claims_of_a_certificate() -> None:
    cert = certificate()
    claims = claims_of(cert)
    assert tuple(claims)[: len(CORE_PATHS)] == CORE_PATHS
    assert claims["identifier"] == str(cert.identifier)
    assert claims["valid_until"] is None
    assert claims["fields.企业名称"] == "北京某某科技有限公司"
    assert claims["annotations"] == ("2026-11-28 变更登记：住所",)
    assert "status" not in claims


@pytest.mark.parametrize("number", [None, "No.7"])
@pytest.mark.parametrize("sample", ["licence", "example"])
def test_request_claims_are_the_certificates_claims(sample: str, number: str | None) -> None:
    """Issuance builds the claims straight from the validated request: exactly (values and
    order) the claims of the certificate built from it, once the identifier is set."""
    obj = business_licence_request() if sample == "licence" else example_request()
    if number is not None:
        obj["number"] = number
    elif sample == "example":  # a 营业执照 always has its number
        obj.pop("number", None)
    request = parse_request(obj, issuer_uscc=issuer_code(), registry=REGISTRY, today=TODAY)
    ctype = REGISTRY.get(request.type_code)
    built = claims_of(
        build_certificate(request, certificate_type=ctype, issuer_name="某局", serial="00000042")
    )
    direct = request_claims(request, certificate_type=ctype, issuer_name="某局")
    assert direct["identifier"] == ""
    direct["identifier"] = str(build_identifier(request.type_code, issuer_code(), "00000042"))
    assert list(direct.items()) == list(built.items())
    other = REGISTRY.get(BUSINESS_LICENCE if sample == "example" else EXAMPLE_TYPE)
    with pytest.raises(ValueError):
        request_claims(request, certificate_type=other, issuer_name="某局")


# ---------------------------------------------------------------------------- documents


def signed_anchored(doc: CertificateDocument) -> CertificateDocument:
    other = make_document(certificate(serial="2430600"))
    tree = MerkleTree.build([other.leaf, doc.leaf, other.leaf])
    return CertificateDocument(
        claims=doc.claims,
        leaf=doc.leaf,
        signature=IssuerSignature(
            key_id=b"\x11" * 32, public_key=b"\x04" + b"\x22" * 64, value=b"\x30\x44" + b"\x01" * 68
        ),
        anchor=Anchor(
            root=tree.root,
            proof=tree.proof(1),
            chain_id=31337,
            contract="0x5FbDB2315678afecb367f032d93F642f64180aa3",
            tx_hash="0x" + "ab" * 32,
            block=12,
        ),
    )


def test_document_round_trip_and_is_canonical() -> None:
    doc = signed_anchored(make_document(certificate(), random_bytes=counter_bytes))
    text = doc.to_json()
    assert text.encode() == jcs(json.loads(text))
    assert CertificateDocument.from_json(text) == doc
    assert CertificateDocument.from_json(text.encode()) == doc
    assert check_leaf(doc) == ()
    assert doc.anchor is not None
    verify_proof(doc.leaf, doc.anchor.proof, doc.anchor.root)
    bare = make_document(certificate(example_request()))
    assert CertificateDocument.from_json(bare.to_json()) == bare
    assert json.loads(bare.to_json())["signature"] is None


def test_make_document_is_deterministic_given_the_salts() -> None:
    one = make_document(certificate(), random_bytes=counter_bytes)
    two = make_document(certificate(), random_bytes=counter_bytes)
    assert one == two
    assert make_document(certificate()).leaf != make_document(certificate()).leaf
    first = one.claims["identifier"]
    assert isinstance(first, DisclosedClaim) and first.salt == bytes(range(16))


def test_disclosure_hides_and_keeps_the_leaf() -> None:
    doc = signed_anchored(make_document(certificate()))
    shown = disclose(doc, ["holder.code", "fields.注册资本", "issue_date"])
    assert shown.hidden_paths == ("fields.注册资本", "holder.code", "issue_date")
    assert "holder.code" not in shown.values()
    assert shown.values()["holder.name"] == "北京某某科技有限公司"
    assert recompute_leaf(shown) == (doc.leaf, shown.hidden_paths)
    assert check_leaf(shown) == shown.hidden_paths
    text = shown.to_json()
    assert "91110000101623741K" not in text.split('"holder.code"')[1][:100]
    assert "100万元" not in text
    again = CertificateDocument.from_json(text)
    assert check_leaf(again) == shown.hidden_paths
    assert disclose(again, ["holder.code"]) == again  # hiding twice is harmless
    hideable = [p for p in doc.claims if p not in ALWAYS_DISCLOSED]
    everything = disclose(doc, hideable)
    assert check_leaf(everything) == tuple(sorted(hideable))
    assert set(everything.values()) == set(ALWAYS_DISCLOSED)
    with pytest.raises(DocumentError) as err:
        disclose(doc, ["holder.phone"])
    assert err.value.code == "unknown_path"


@pytest.mark.parametrize("path", ALWAYS_DISCLOSED)
def test_what_a_certificate_is_cannot_be_hidden(path: str) -> None:
    """Type, issuer, identifier and validity are always shown: disclose() refuses to hide
    them, and a document that hides one anyway (built by hand) is not read."""
    doc = signed_anchored(make_document(certificate()))
    with pytest.raises(DocumentError) as err:
        disclose(doc, ["holder.code", path])
    assert err.value.code == "claim_must_be_disclosed"
    claims = dict(doc.claims)
    claims[path] = HiddenClaim(doc.claims[path].digest(path))  # type: ignore[union-attr]
    forged = CertificateDocument(claims, doc.leaf, doc.signature, doc.anchor)
    assert check_leaf(forged) == (path,)  # the leaf still matches: only the rule refuses it
    with pytest.raises(DocumentError) as err:
        CertificateDocument.from_json(forged.to_json())
    assert err.value.code == "claim_must_be_disclosed"
    assert path in str(err.value)


def test_the_identifier_must_name_the_type_and_issuer_claims() -> None:
    own = parse_identifier(str(_doc_dict()["claims"]["identifier"]["value"]))
    assert own.issuer_code != "91110000101623741K"
    other_issuer = build_identifier(own.type_code, "91110000101623741K", own.serial)
    other_type = build_identifier(
        BUSINESS_LICENCE if own.type_code != BUSINESS_LICENCE else EXAMPLE_TYPE,
        own.issuer_code,
        own.serial,
    )
    for identifier in (other_issuer, other_type):
        d = _doc_dict()
        d["claims"]["identifier"]["value"] = str(identifier)
        with pytest.raises(DocumentError) as err:
            CertificateDocument.from_json(json.dumps(d))
        assert err.value.code == "claims_inconsistent"
    for bad in ("1.2.156.3005.2.x", "2024-01-01"):
        d = _doc_dict()
        d["claims"]["identifier"]["value"] = bad
        with pytest.raises(DocumentError) as err:
            CertificateDocument.from_json(json.dumps(d))
        assert err.value.code == "claims_inconsistent"


@pytest.mark.parametrize(
    ("path", "value"),
    [("valid_from", "20240101"), ("valid_from", "2024-02-30"), ("valid_until", "2024-W01-1"),
     ("valid_from", None), ("valid_until", ""), ("jurisdiction", "36010"),
     ("jurisdiction", "060100"), ("jurisdiction", "３６０１００")],
)
def test_validity_dates_and_jurisdiction_must_be_well_formed(path: str, value: Any) -> None:
    d = _doc_dict()
    d["claims"][path]["value"] = value
    with pytest.raises(DocumentError) as err:
        CertificateDocument.from_json(json.dumps(d))
    assert err.value.code in ("claims_inconsistent", "document_malformed")


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_change_to_a_claim_changes_the_leaf(data: st.DataObject) -> None:
    doc = make_document(certificate())
    paths = sorted(doc.claims)
    path = data.draw(st.sampled_from(paths))
    hideable = [p for p in paths if p not in ALWAYS_DISCLOSED]
    hidden = data.draw(st.sets(st.sampled_from(hideable), max_size=5))
    shown = disclose(doc, sorted(hidden - {path}))
    claims = dict(shown.claims)
    claim = claims[path]
    assert isinstance(claim, DisclosedClaim)
    what = data.draw(st.sampled_from(["salt", "value", "hidden_digest", "relabel", "drop"]))
    if what == "salt":
        bit = data.draw(st.integers(0, 127))
        salt = bytearray(claim.salt)
        salt[bit // 8] ^= 1 << (bit % 8)
        claims[path] = DisclosedClaim(bytes(salt), claim.value)
    elif what == "value":
        value = claim.value
        if isinstance(value, str):
            claims[path] = DisclosedClaim(claim.salt, value + data.draw(st.text(min_size=1)))
        elif value is None:
            claims[path] = DisclosedClaim(claim.salt, "")
        else:
            claims[path] = DisclosedClaim(claim.salt, (*value, "x"))
    elif what == "hidden_digest":
        digest = claim.digest(path)
        claims[path] = HiddenClaim(digest[:-1] + bytes([digest[-1] ^ 1]))
    elif what == "relabel":
        del claims[path]
        claims["fields.改名"] = HiddenClaim(claim.digest(path))
    else:
        del claims[path]
    tampered = CertificateDocument(claims=claims, leaf=shown.leaf)
    with pytest.raises(LeafMismatch) as err:
        check_leaf(tampered)
    assert err.value.code == "leaf_mismatch"


IDENTIFIER = "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F"


def test_signing_input() -> None:
    leaf = bytes(range(32))
    assert signing_input(leaf, b"\xab\xcd", IDENTIFIER, "110105", "2024-01-01", None) == (
        b'{"alg":{"digest":"sm3","signature":"sm2"},"format":"zhengyin-cert/2",'
        b'"identifier":"' + IDENTIFIER.encode() + b'","jurisdiction":"110105",'
        b'"key_id":"abcd","leaf":"' + leaf.hex().encode()
        + b'","valid_from":"2024-01-01","valid_until":null}'
    )
    with pytest.raises(ValueError):
        signing_input(b"short", b"\x01", IDENTIFIER, "110105", "2024-01-01", None)
    with pytest.raises(ValueError):
        signing_input(leaf, b"", IDENTIFIER, "110105", "2024-01-01", None)


def test_the_signature_covers_the_identifier_jurisdiction_and_dates() -> None:
    """Each shown fact changes the signed bytes: a QR (which carries no salts) is bound to
    its identifier, jurisdiction and dates by the signature alone."""
    leaf, key = bytes(range(32)), b"\x01"
    base = signing_input(leaf, key, IDENTIFIER, "110105", "2024-01-01", "2029-12-31")
    other = IDENTIFIER[:-9] + "2430598.001.G"
    for changed in (
        signing_input(leaf, key, other, "110105", "2024-01-01", "2029-12-31"),
        signing_input(leaf, key, IDENTIFIER, "110106", "2024-01-01", "2029-12-31"),
        signing_input(leaf, key, IDENTIFIER, "110105", "2024-01-02", "2029-12-31"),
        signing_input(leaf, key, IDENTIFIER, "110105", "2024-01-01", "2030-12-31"),
        signing_input(leaf, key, IDENTIFIER, "110105", "2024-01-01", None),
    ):
        assert changed != base
    doc = signed_anchored(make_document(certificate()))
    values = doc.values()
    assert doc.signing_input(b"\x07") == signing_input(
        doc.leaf, b"\x07", str(values["identifier"]), str(values["jurisdiction"]),
        str(values["valid_from"]),
        None if values["valid_until"] is None else str(values["valid_until"]),
    )


def _doc_dict() -> dict[str, Any]:
    return json.loads(signed_anchored(make_document(certificate())).to_json())  # type: ignore[no-any-return]


def _mutations() -> list[tuple[str, Any, str]]:
    def set_(path: list[Any], value: Any) -> Any:
        def apply(d: dict[str, Any]) -> None:
            for key in path[:-1]:
                d = d[key]
            d[path[-1]] = value

        return apply

    def drop(path: list[Any]) -> Any:
        def apply(d: dict[str, Any]) -> None:
            for key in path[:-1]:
                d = d[key]
            del d[path[-1]]

        return apply

    salt = ["claims", "holder.name", "salt"]
    return [
        ("version", set_(["format"], "zhengyin-cert/3"), "document_version_unsupported"),
        ("format 1", set_(["format"], "zhengyin-cert/1"), "document_version_unsupported"),
        ("no format", drop(["format"]), "document_malformed"),
        ("alien format", set_(["format"], "vc/1"), "document_malformed"),
        ("alg", set_(["alg", "digest"], "sha256"), "document_algorithm_unsupported"),
        ("extra member", set_(["extra"], 1), "document_malformed"),
        ("missing leaf", drop(["leaf"]), "document_malformed"),
        ("upper hex", set_(salt, "AB" * 16), "document_malformed"),
        ("short salt", set_(salt, "ab" * 15), "document_malformed"),
        ("spaced salt", set_(salt, "ab " * 10 + "ab"), "document_malformed"),
        ("mixed-case salt", set_(salt, "aB" * 16), "document_malformed"),
        ("non-hex salt", set_(salt, "gg" * 16), "document_malformed"),
        ("salt number", set_(salt, 12345678901234567890123456789012), "document_malformed"),
        ("claims list", set_(["claims"], []), "document_malformed"),
        ("unknown path", set_(["claims", "holder.phone"], {"digest": "00" * 32}), "unknown_path"),
        ("missing core", drop(["claims", "identifier"]), "document_malformed"),
        ("both", set_(["claims", "name", "digest"], "00" * 32), "document_malformed"),
        ("int value", set_(["claims", "name", "value"], 5), "document_malformed"),
        ("null name", set_(["claims", "name", "value"], None), "document_malformed"),
        ("annotations text", set_(["claims", "annotations", "value"], "x"), "document_malformed"),
        ("sig member", drop(["signature", "key_id"]), "document_malformed"),
        ("contract", set_(["anchor", "contract"], "0x12"), "document_malformed"),
        ("tx", set_(["anchor", "tx_hash"], "ab" * 32), "document_malformed"),
        ("block", set_(["anchor", "block"], -1), "document_malformed"),
        ("chain id", set_(["anchor", "chain_id"], True), "document_malformed"),
        ("proof", set_(["anchor", "proof"], ["X:00"]), "document_malformed"),
        ("anchor", set_(["anchor"], {"root": "00" * 32}), "document_malformed"),
    ]


@pytest.mark.parametrize(("name", "mutate", "code"), _mutations(), ids=lambda x: str(x)[:20])
def test_malformed_documents(name: str, mutate: Any, code: str) -> None:
    d = _doc_dict()
    mutate(d)
    with pytest.raises(DocumentError) as err:
        CertificateDocument.from_json(json.dumps(d))
    assert err.value.code == code, (name, str(err.value))


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("{", "not valid JSON"),
        ("[]", "must be a JSON object"),
        ('{"format": "zhengyin-cert/1", "format": "zhengyin-cert/1"}', "repeats"),
        ('{"leaf": 1.5}', "non-integer number"),
        ('{"leaf": NaN}', "non-integer number"),
        (" " * (1 << 20) + "{}", "larger than"),
    ],
)
def test_unreadable_documents(text: str, fragment: str) -> None:
    with pytest.raises(DocumentError) as err:
        CertificateDocument.from_json(text)
    assert fragment in str(err.value)
    assert err.value.code == "document_malformed"


def test_fast_writers_equal_jcs() -> None:
    """signing_input and to_json take fast paths; their bytes must stay exactly JCS."""
    from certs.canonical import jcs

    leaf, key_id = bytes(range(32)), bytes(range(32, 64))
    for until in ("2029-12-31", None):
        assert signing_input(leaf, key_id, IDENTIFIER, "360100", "2024-01-01", until) == jcs(
            {"format": "zhengyin-cert/2", "alg": {"digest": "sm3", "signature": "sm2"},
             "leaf": leaf.hex(), "key_id": key_id.hex(), "identifier": IDENTIFIER,
             "jurisdiction": "360100", "valid_from": "2024-01-01", "valid_until": until}
        )
    req = example_request()
    req["fields"] = {"名称": '值"引号"\\反斜线\u2028', "zz": "𠮷", "ｚ": "x"}
    doc = signed_anchored(make_document(certificate(req)))
    assert doc.to_json().encode("utf-8") == jcs(doc.to_dict())
    supplementary = make_document(certificate({**req, "fields": {"𠮷": "a", "ｚ": "b"}}))
    assert supplementary.to_json().encode("utf-8") == jcs(supplementary.to_dict())


def _issued_both_ways(cert: Any) -> tuple[str, str]:
    """The document text from the issuance fast path and from the document model."""
    signature = IssuerSignature(b"\x11" * 32, b"\x04" + b"\x22" * 64, b"\x30\x44" + b"\x01" * 68)
    leaf, claims_json = issue_claims(cert, random_bytes=counter_bytes)
    fast = document_text(claims_json, leaf, signature)
    model = make_document(cert, random_bytes=counter_bytes)
    assert model.leaf == leaf
    slow = CertificateDocument(model.claims, model.leaf, signature).to_json()
    return fast, slow


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"annotations": ["第一条加注", 'with "quotes" and \\', "换行\n第二行"]},
        {"valid_until": None, "number": "No. 7"},
        {"fields": {"名称": '值"引号"\\反斜线\u2028', "zz": "𠮷", "ｚ": "x", "多行": "甲\n乙"}},
        {"fields": {"𠮷": "a", "ｚ": "b", "\uffef": "c"}},  # paths beyond the BMP: UTF-16 order
    ],
    ids=["licence-defaults", "annotations", "nulls", "escapes", "supplementary-paths"],
)
def test_issuance_fast_path_writes_the_model_document(changes: dict[str, Any]) -> None:
    """Issuance writes documents directly (issue_claims + document_text); a holder's file
    must be byte for byte what the document model writes, and canonical JCS."""
    req = {**example_request(), **changes} if changes else None
    fast, slow = _issued_both_ways(certificate(req))
    assert fast == slow
    assert fast.encode("utf-8") == jcs(json.loads(fast))
    doc = CertificateDocument.from_json(fast)
    assert check_leaf(doc) == ()
    assert document_text(*reversed(issue_claims(certificate(req))), None).endswith(
        '"signature":null}'
    )


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=8).filter(lambda k: k.strip() == k
       and k.isprintable()), st.text(min_size=1, max_size=20).filter(lambda v: v.strip() == v
       and v.isprintable()), max_size=5))
def test_issuance_fast_path_equals_model_for_any_fields(fields: dict[str, str]) -> None:
    import unicodedata

    if any(not unicodedata.is_normalized("NFC", t) for t in (*fields, *fields.values())):
        return
    fast, slow = _issued_both_ways(certificate({**example_request(), "fields": fields}))
    assert fast == slow
