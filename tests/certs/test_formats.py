"""The fast paths :mod:`certs.formats` selects, held equal to their references over generated
inputs (non-ASCII, beyond the BMP, control characters, edge numbers, empty and large), and
the document text ``certs.status`` writes held to what it wrote before it stopped splicing."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certs import formats
from certs.claims import issue_claims_reference, signing_input
from certs.document import Anchor, CertificateDocument, IssuerSignature, document_text
from certs.errors import CanonicalizationError
from certs.jcs import MAX_SAFE_INT, jcs
from certs.merkle import MerkleTree
from certs.status import anchored_text

from .samples import business_licence_request, certificate, example_request
from .test_canonical import counter_bytes

EDGE_INTS = [0, 1, -1, 9, 10, 99, MAX_SAFE_INT, -MAX_SAFE_INT, 10**15, 10**15 - 1, 2**31, 2**32]
EDGE_TEXT = [
    "", " ", '"', "\\", "\x00", "\x1f", "\x7f", "\u2028\u2029", "\ufeff", "\uffff", "é",
    "张三", "𠮷", "😀", "\U0010ffff", "a" * 100_000, "长" * 50_000, "\b\t\n\f\r",
]  # fmt: skip

json_text = st.text() | st.sampled_from(EDGE_TEXT)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-MAX_SAFE_INT, MAX_SAFE_INT)
    | st.sampled_from(EDGE_INTS)
    | json_text,
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(json_text, inner, max_size=6),
    max_leaves=30,
)


def outcome(write: Any, value: Any) -> object:
    try:
        result = write(value)
    except CanonicalizationError as exc:
        return ("CanonicalizationError", str(exc))
    return result if isinstance(result, str) else result.decode("utf-8")


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_jcs_fast_path_equals_the_reference(value: Any) -> None:
    assert formats.jcs_text(value) == jcs(value).decode("utf-8")


@pytest.mark.parametrize(
    "value",
    [
        {"a": "\ud800"},
        ["\udfff"],
        {"\ud83d": 1},
        float("nan"),
        [float("inf")],
        {"s": {1, 2}},
        {"b": b"bytes"},
        {"𠮷": 1, "ｚ": 2, "\uffef": 3},  # UTF-16 order differs from code-point order
        {"a": ["😀", {"\U0010ffff": None, "\uffff": True}]},
        {},
        [],
        "",
    ],
)
def test_jcs_fast_path_declines_what_it_would_write_otherwise(value: Any) -> None:
    assert outcome(formats.jcs_text, value) == outcome(integers_only, value)


def integers_only(value: Any) -> bytes:
    """The reference as the certificate formats use it: JSON numbers are integers."""
    return jcs(value, floats=False)


OUTSIDE_THE_FORMATS = [
    1.5,
    1.0,
    -0.0,
    [1e16],
    {"a": 0.1},
    {"a": [2**53]},
    -(2**53),
    [2**64, 1],
    {"n": 10**20},
    {1: "x"},
    {"a": {2: None}},
    {True: 1},
    {None: "x"},
    {1.5: "x"},
    {"s": {1, 2}},
    {"b": b"bytes"},
    [object()],
]


@pytest.mark.parametrize("value", OUTSIDE_THE_FORMATS, ids=repr)
def test_jcs_text_refuses_what_the_formats_cannot_hold(value: Any) -> None:
    """A float, an integer beyond ±(2^53 - 1), a member name that is not text, a value of
    another type: a named error, never text the ``json`` encoder would write for it (it
    writes ``1.5``, ``9007199254740992`` and ``{"1":"x"}`` where the reference refuses)."""
    with pytest.raises(CanonicalizationError):
        formats.jcs_text(value)
    assert outcome(formats.jcs_text, value) == outcome(integers_only, value)


def test_the_reference_still_writes_rfc_8785_numbers_when_asked() -> None:
    assert jcs([1.5, 1e21, 2.0]) == b"[1.5,1e+21,2]"
    with pytest.raises(CanonicalizationError, match="no floats"):
        jcs([1.5], floats=False)


any_json = st.recursive(
    json_values
    | st.floats()
    | st.integers()
    | st.sampled_from([2**53, -(2**53), 10**16, 1.0, -0.0]),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(json_text | st.integers() | st.booleans() | st.none(), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(any_json)
def test_jcs_text_equals_the_reference_or_both_refuse(value: Any) -> None:
    assert outcome(formats.jcs_text, value) == outcome(integers_only, value)


def test_signing_input_is_jcs() -> None:
    leaf, key_id = bytes(range(32)), bytes(range(32, 64))
    for identifier in ("1.2.156.3005.2.X", '名𠮷\x00"\\'):
        for until in ("2029-12-31", None):
            signed = {
                "format": "zhengyin-cert/2",
                "alg": {"digest": "sm3", "signature": "sm2"},
                "leaf": leaf.hex(),
                "key_id": key_id.hex(),
                "identifier": identifier,
                "jurisdiction": "360100",
                "valid_from": "2024-01-01",
                "valid_until": until,
            }
            assert signing_input(leaf, key_id, identifier, "360100", "2024-01-01", until) == jcs(
                signed
            )
    with pytest.raises(CanonicalizationError):
        signing_input(leaf, key_id, "\ud800", "360100", "2024-01-01", None)


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(
        json_text.filter(lambda p: len(p.encode("utf-8", "surrogatepass")) < 0x10000),
        st.none() | json_text | st.lists(json_text, max_size=4).map(tuple),
        max_size=12,
    )
)
def test_claims_fast_path_equals_the_reference(values: dict[str, Any]) -> None:
    """Whatever the selected path (C, or the reference where C declines): the reference's
    bytes, or the reference's error."""
    salts = random.Random(len(values)).randbytes(16 * len(values)).hex()
    assert outcome(lambda v: repr(formats.issue_claims(v, salts)), values) == outcome(
        lambda v: repr(issue_claims_reference(v, salts)), values
    )


def test_claims_fast_path_equals_the_reference_empty_and_large() -> None:
    for values in ({}, {f"fields.{i:03d}": "值" * 1000 for i in range(64)}):
        salts = counter_bytes(16 * len(values)).hex()
        assert formats.issue_claims(values, salts) == issue_claims_reference(values, salts)


@pytest.mark.parametrize("count", [1, 2, 3, 5, 64, 1000])
def test_merkle_fast_path_equals_the_reference(count: int) -> None:
    leaves = random.Random(count).randbytes(32 * count)
    fast = formats.merkle_tree(leaves)
    assert fast is not None  # the extension is built by make setup
    assert fast == MerkleTree.build([leaves[i : i + 32] for i in range(0, len(leaves), 32)]
                                    ).to_bytes()  # fmt: skip


def test_in_use_names_every_format() -> None:
    assert set(formats.IN_USE) == {"jcs", "claims", "merkle"}


# --------------------------------------------- certs.status: the anchor, without splicing


def spliced(stored: str, anchor: Anchor) -> str:
    """What certs.status.load_document_texts wrote before issue #18: the anchor's JSON
    written into the place of ``"anchor":null`` in the stored JCS text."""
    anchored = '{"alg":{"digest":"sm3","signature":"sm2"},"anchor":'
    unanchored = anchored + "null,"
    assert stored.startswith(unanchored)
    written = json.dumps(anchor.to_dict(), sort_keys=True, separators=(",", ":"),
                         ensure_ascii=False)  # fmt: skip
    return f"{anchored}{written},{stored[len(unanchored) :]}"


def stored_documents() -> list[str]:
    signature = IssuerSignature(b"\x11" * 32, b"\x04" + b"\x22" * 64, b"\x30\x44" + b"\x01" * 68)
    requests = [
        example_request(),
        business_licence_request(),
        {**example_request(), "fields": {"𠮷": "a", "ｚ": "b", "\uffef": "c"}},
        {**example_request(), "annotations": ["加注\n二", 'q"\\'], "valid_until": None},
    ]
    texts = []
    for request in requests:
        leaf, claims_json = formats.issue_claims(
            *_values_and_salts(certificate(request))  # the issuance path
        )
        texts.append(document_text(claims_json, leaf, signature))
    return texts


def _values_and_salts(cert: Any) -> tuple[dict[str, Any], str]:
    from certs.claims import claims_of

    values = claims_of(cert)
    return values, counter_bytes(16 * len(values)).hex()


@pytest.mark.parametrize("steps", [0, 1, 14])
@pytest.mark.parametrize("block", [0, 1, 19_999_999, MAX_SAFE_INT])
def test_anchored_text_is_what_the_splice_wrote(steps: int, block: int) -> None:
    tree = MerkleTree.build([i.to_bytes(32, "big") for i in range(2**steps)])
    anchor = Anchor(
        root=tree.root,
        proof=tree.proof(0),
        chain_id=31337 if block else MAX_SAFE_INT,
        contract="0x" + "aB" * 20,
        tx_hash="0x" + "0f" * 32,
        block=block,
    )
    for stored in stored_documents():
        written = anchored_text(stored, anchor)
        assert written == spliced(stored, anchor)
        assert written == replace(CertificateDocument.from_json(stored), anchor=anchor).to_json()
        assert anchored_text(written, anchor) is None  # anchored already: read whole
