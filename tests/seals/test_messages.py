"""The message catalogue (``seals.report``): every message id the code uses exists in English
and Chinese, and every call that names a message supplies its templates' parameters."""

from __future__ import annotations

import ast
import datetime as dt
import pickle
import re
import string
from collections.abc import Iterator
from pathlib import Path

import pytest

import certs.status  # noqa: F401  (registers the status reasons)
import verifier.checks.authority
import verifier.checks.verdict  # noqa: F401  (registers the verifier's messages)
from seals.report import (
    CATALOGUE,
    Check,
    Joined,
    Message,
    MessageError,
    Status,
    beijing,
    detail,
    render,
    template_fields,
)

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("seals", "verifier", "certs", "chain")

# callee name → (index of the message id, where its parameters are: an argument index,
# "keywords", or None for a message without parameters)
CALLS: dict[str, tuple[int, int | str | None]] = {
    "Check": (3, 4),
    "Fragment": (3, 4),
    "fragment": (3, 4),
    "said": (3, 4),
    "_said": (3, 4),
    "step": (3, None),
    "_step": (3, None),
    "_check": (3, "keywords"),
    "Message": (0, 1),
    "_anchored": (2, 3),
    "invalid_range": (0, 1),
    "problem": (1, "keywords"),
}

ONE_LANGUAGE_ONLY = {
    "empty": ("en", "zh"),
    "pdf.modifications.more": ("zh",),  # the Chinese gives the count instead
    "pdf.modifications.kinds": ("en",),  # the English lists the problems themselves
}
"""Messages deliberately empty in a language (they are parts of longer sentences)."""


def _calls() -> Iterator[tuple[str, ast.Call, str]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call):
                    continue
                func = node.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
                if name in CALLS:
                    yield f"{path.relative_to(ROOT)}:{node.lineno}", node, name


def _message_arg(node: ast.Call, index: int) -> ast.expr | None:
    if len(node.args) > index and not any(isinstance(a, ast.Starred) for a in node.args):
        return node.args[index]
    for kw in node.keywords:
        if kw.arg in ("message", "id"):
            return kw.value
    return None


def _ids(arg: ast.expr) -> Iterator[str]:
    """The ids an argument can name: a constant, each branch of a conditional, or the fixed
    start of an f-string (reported with a trailing ``*``)."""
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        yield arg.value
    elif isinstance(arg, ast.IfExp):
        yield from _ids(arg.body)
        yield from _ids(arg.orelse)
    elif isinstance(arg, ast.JoinedStr):
        head = arg.values[0] if arg.values else None
        if isinstance(head, ast.Constant) and isinstance(head.value, str):
            yield head.value + "*"


def test_every_message_the_code_names_is_in_the_catalogue_in_both_languages() -> None:
    named = 0
    missing = []
    for where, node, name in _calls():
        index, _ = CALLS[name]
        arg = _message_arg(node, index)
        if arg is None:
            continue
        for message in _ids(arg):
            named += 1
            if message.endswith("*"):
                if not any(k.startswith(message[:-1]) for k in CATALOGUE):
                    missing.append(f"{where}: {message}")
            elif message not in CATALOGUE:
                missing.append(f"{where}: {message}")
    assert named > 120  # the scan finds the code's messages
    assert not missing, missing
    for key, texts in CATALOGUE.items():
        assert isinstance(texts, tuple) and len(texts) == 2, key
        for language, text in zip(("en", "zh"), texts, strict=True):
            assert text or language in ONE_LANGUAGE_ONLY.get(key, ()), (key, language)


def test_every_call_supplies_the_parameters_of_both_templates() -> None:
    checked = 0
    problems = []
    for where, node, name in _calls():
        index, params_at = CALLS[name]
        arg = _message_arg(node, index)
        if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
            continue
        if arg.value not in CATALOGUE:
            continue  # the test above reports it
        en, zh = template_fields(arg.value)
        if params_at is None:
            supplied: set[str] | None = set()
        elif params_at == "keywords":
            if any(kw.arg is None for kw in node.keywords):
                continue  # **mapping: checked when rendered
            supplied = {kw.arg for kw in node.keywords if kw.arg is not None}
        else:
            assert isinstance(params_at, int)
            given = node.args[params_at] if len(node.args) > params_at else None
            if given is None:
                given = next((kw.value for kw in node.keywords if kw.arg == "params"), None)
            if given is None:
                supplied = set()
            elif isinstance(given, ast.Dict) and all(
                isinstance(k, ast.Constant) for k in given.keys
            ):
                supplied = {str(k.value) for k in given.keys if isinstance(k, ast.Constant)}
            else:
                continue  # built elsewhere: checked when rendered
        checked += 1
        lacking = (en | zh) - supplied
        if lacking:
            problems.append(f"{where}: {arg.value} lacks {sorted(lacking)}")
    assert checked > 80  # the scan finds the calls
    assert not problems, problems


def test_every_template_is_well_formed() -> None:
    for key in CATALOGUE:
        template_fields(key)  # parses both


def test_a_missing_parameter_or_message_is_an_error_not_a_sentence_with_a_hole() -> None:
    with pytest.raises(MessageError):
        render("signature.value.valid", {}, "en")
    with pytest.raises(MessageError):
        render("no.such.message", {}, "zh")


def test_rendering_nested_messages_lists_and_technical_detail() -> None:
    check = Check(
        "seal.maker_path",
        "trust",
        Status.INVALID,
        "path.invalid",
        {
            "role": Message("role.maker.plain"),
            "problems": Joined((Message("path.too_long"), Message("path.no_anchor_at_end"))),
        },
    )
    assert check.reason == "certificate chain too long; the chain does not end at a trust anchor"
    assert check.reason_zh == "制章者证书链不可信：证书链过长；证书链没有终止于信任根证书，不能受理"
    detail = Check("x", "format", Status.INVALID, "seal.structure.unreadable", {"error": "bad"})
    assert detail.reason_zh.endswith("不能受理（技术细节：bad）")
    empty = Check("x", "format", Status.INVALID, "seal.structure.unreadable", {"error": ""})
    assert empty.reason_zh.endswith("不能受理")


def test_every_template_renders_as_str_format_writes_it() -> None:
    """Templates are parsed once and rendered by the project's own loop: it writes what
    ``str.format`` writes for each of them (``!d`` is the technical-detail form)."""
    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    checked = 0
    for key in CATALOGUE:
        for language, template in zip(("en", "zh"), CATALOGUE[key], strict=True):
            params: dict[str, object] = {}
            plain = template
            for _, name, spec, conversion in string.Formatter().parse(template):
                if name is None:
                    continue
                params[name] = when if spec else f"<{name} 值>"
                if conversion == "d":
                    plain = plain.replace(f"{{{name}!d}}", detail(params[name]))
                if conversion == "b":  # Beijing time: not str.format's
                    plain = plain.replace(f"{{{name}!b:{spec}}}", format(beijing(when), spec))
            assert render(key, params, language) == plain.format(**params), key
            checked += 1
    assert checked == 2 * len(CATALOGUE) > 400


def test_times_are_shown_to_people_in_beijing_time() -> None:
    """Issue #21: every time a clerk reads is Beijing time (UTC+8), labelled so; the English
    reason keeps UTC (ISO 8601), as API clients read it."""
    when = dt.datetime(2026, 1, 2, 17, 4, 5, tzinfo=dt.UTC)
    signed = Check("x", "signature", Status.VALID, "signature.structure.made", {"t": when})
    assert signed.reason_zh == "，签章时间 2026-01-03 01:04:05（北京时间）"
    assert signed.reason == " made 2026-01-02 17:04:05Z"
    naive = Check("x", "signature", Status.VALID, "signature.structure.made",
                  {"t": when.replace(tzinfo=None)})
    assert naive.reason_zh == signed.reason_zh  # a time without a zone is UTC
    for key, (_, zh) in CATALOGUE.items():
        assert "UTC" not in zh, key


def test_a_template_field_must_be_a_plain_parameter_name() -> None:
    for template in ("{a.b}", "{a[0]}", "{0}", "{a:{b}}", "{a!s}"):
        CATALOGUE["test.odd"] = (template, template)
        try:
            with pytest.raises(MessageError):
                render("test.odd", {"a": "x", "b": "y"}, "en")
        finally:
            del CATALOGUE["test.odd"]


def test_a_check_pickles_as_its_arguments() -> None:
    check = Check("a", "b", Status.VALID, "pdf.digest.valid", {}, {"k": 1})
    back = pickle.loads(pickle.dumps(check))
    assert back == check and back.reason == check.reason and back.status is Status.VALID


TECHNICAL_TERMS = frozenset({
    "GM", "GB", "CA", "cA", "basicConstraints", "keyCertSign", "SM", "PDF", "Unix", "ZY",
    "XObject", "startxref", "endobj", "poppler", "OFD", "ZIP", "XML", "DTD", "UTF", "ZIP64",
    "StampAnnot", "FileRef", "CheckValue",
})
"""The Latin words a Chinese template may hold: standards, algorithms, X.509, PDF and OFD
names, a PDF viewer's name."""


def test_the_chinese_templates_hold_no_english_words() -> None:
    """The Chinese text is Chinese: English stays out of the templates (PDF names such as
    ``/ByteRange``, commands in backticks and technical terms aside); what is English is a
    parameter given as technical detail (``{x!d}``: an exception's text)."""
    english = []
    for key, (_, zh) in CATALOGUE.items():
        text = "".join(literal for literal, _, _, _ in string.Formatter().parse(zh))
        text = re.sub(r"/[A-Za-z]+|%%EOF|`[^`]*`", "", text)
        english += [
            f"{key}: {word}"
            for word in re.findall(r"[A-Za-z][A-Za-z_.]+", text)
            if word not in TECHNICAL_TERMS
        ]
    assert not english, english
    unreadable = render("check.unreadable", {"check": "印章", "error": "bad tag"}, "zh")
    assert unreadable == "印章无法读取，不能受理（技术细节：bad tag）"
