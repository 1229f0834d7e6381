"""The one report model of every verification in the project: check results and messages.

A check returns a :class:`Check`: ``name``, ``type``, ``status``, a ``message`` id with its
``params``, and ``data`` (the facts it used). Its sentences are not stored but rendered from
the message catalogue, in English (``reason``: API clients and logs rely on its wording) and
in Chinese (``reason_zh``: the counter clerk's sentence, same facts, what to do). The catalogue
is one mapping, id → (English template, Chinese template): :mod:`seals.messages` holds the
seal and PDF messages, other packages add theirs with :func:`register` (``verifier`` does in
:mod:`verifier.checks.messages`). ``seals`` sits lowest: seals, certificates and the verifier all
report with this model.

Templates are :meth:`str.format` strings over ``params``. A parameter may itself be a
:class:`Message` (rendered in the same language) or a :class:`Joined` list of them; the
conversion ``{x!d}`` writes ``x`` as technical detail after a Chinese sentence
(``（技术细节：x）``, nothing when ``x`` is empty); ``{t!b:…}`` writes a time in Beijing time
(UTC+8), as every time shown to people is. A missing parameter is an error
(:class:`MessageError`), never a sentence with a hole.
"""

from __future__ import annotations

import datetime as dt
import functools
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal, NamedTuple

from seals.messages import LABELS, MESSAGES

Language = Literal["en", "zh"]

_NO_PARAMS: Mapping[str, Any] = {}  # shared, never written

CATALOGUE: dict[str, tuple[str, str]] = {}
"""Every message: id → (English template, Chinese template)."""


class MessageError(KeyError):
    """A message id that is not in the catalogue, or a template parameter not supplied."""


def register(entries: Mapping[str, tuple[str, str]]) -> None:
    """Add a package's messages to the catalogue (an id may not mean two things)."""
    for key, texts in entries.items():
        known = CATALOGUE.get(key)
        if known is not None and known != texts:
            raise MessageError(f"message {key!r} is registered twice with different texts")
        CATALOGUE[key] = texts


register(MESSAGES)
register({f"check.{name}": (name, label) for name, label in LABELS.items()})


BEIJING = dt.timezone(dt.timedelta(hours=8), "北京时间")
"""UTC+8 (Asia/Shanghai, no daylight saving since 1991): every time shown to people."""


def beijing(value: Any) -> Any:
    """A time as people here read it: in Beijing time (a time without a zone is UTC)."""
    if not isinstance(value, dt.datetime):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(BEIJING)


def detail(text: object) -> str:
    """Technical detail (usually an English reason) after a Chinese sentence."""
    return f"（技术细节：{text}）" if str(text) else ""


class Status(StrEnum):
    VALID = "VALID"
    INVALID = "INVALID"
    ERROR = "ERROR"
    SKIPPED = "SKIPPED"


class Message(NamedTuple):
    """A catalogue message with its parameters, rendered when asked (a named tuple: checks
    carry them across processes by the thousand)."""

    id: str
    params: Mapping[str, Any] = _NO_PARAMS

    def render(self, language: Language) -> str:
        return render(self.id, self.params, language)


class Joined(NamedTuple):
    """Several parameters written one after another with a separator per language."""

    items: tuple[Any, ...]
    en: str = "; "
    zh: str = "；"


_Part = tuple[str, str | None, str | None, str | None]
"""A template's piece: literal text, then a field's name, format spec and conversion."""


@functools.cache
def _parts(template: str) -> tuple[_Part, ...]:
    """A template parsed once (``str.format``'s syntax: ``{name!conversion:spec}``, ``{{``
    for a brace); every sentence of every verdict is rendered from it (# Why:
    bench/PERFORMANCE.md, "Reports: templates parsed once")."""
    parts = tuple(string.Formatter().parse(template))
    for _, name, spec, conversion in parts:
        if name is not None and (not name.isidentifier() or "{" in (spec or "")):
            raise MessageError(f"template field {name!r} is not a plain parameter name")
        if conversion not in (None, "b", "d", "r"):
            raise MessageError(f"template conversion !{conversion} is not known")
    return parts


def _text(value: Any, language: Language) -> str:
    """A parameter as text: a message rendered, joined items written one after another."""
    if isinstance(value, Message):
        return value.render(language)
    if isinstance(value, Joined):
        sep = value.en if language == "en" else value.zh
        return sep.join(_text(v, language) for v in value.items)
    return str(value)


def render(message: str, params: Mapping[str, Any], language: Language) -> str:
    """The sentence of ``message`` with ``params`` in ``language``: each field
    ``{name!conversion:spec}`` is the parameter ``name`` (``!d``: as technical detail, see
    :func:`detail`; ``!r``: its repr; ``!b``: a time in Beijing time), written with
    ``format(value, spec)``; a message or joined items are written as text in ``language``."""
    try:
        template = CATALOGUE[message][0 if language == "en" else 1]
    except KeyError:
        raise MessageError(f"message {message!r} is not in the catalogue") from None
    out: list[str] = []
    for literal, name, spec, conversion in _parts(template):
        if literal:
            out.append(literal)
        if name is None:
            continue
        try:
            value = params[name]
        except KeyError:
            raise MessageError(f"parameter {name!r} not supplied") from None
        if conversion == "b":
            value = beijing(value)
        elif conversion == "d":
            value = detail(_text(value, language))
        elif conversion == "r":
            value = repr(value)
        elif isinstance(value, Message | Joined):
            value = _text(value, language)
        out.append(value if not spec and type(value) is str else format(value, spec or ""))
    return "".join(out)


@functools.cache
def template_fields(message: str) -> tuple[frozenset[str], frozenset[str]]:
    """The parameter names the English and the Chinese template of ``message`` use."""
    en, zh = CATALOGUE[message]
    return _fields(en), _fields(zh)


def _fields(template: str) -> frozenset[str]:
    return frozenset(
        name.split(".")[0].split("[")[0]
        for _, name, _, _ in string.Formatter().parse(template)
        if name
    )


@dataclass(frozen=True)
class Check:
    """What one check found: the result of a verification step."""

    name: str
    """Stable machine name of the check, e.g. ``seal.maker_signature``."""
    type: str
    """What the check is about: ``format``, ``integrity``, ``signature``, ``validity``,
    ``trust``, ``chain``, ``status``…"""
    status: Status
    message: str
    """The id of its sentence in the catalogue."""
    params: Mapping[str, Any] = field(default_factory=dict)
    """What the sentence says (names, times, counts), already formatted for reading."""
    data: Mapping[str, Any] = field(default_factory=dict)
    """Facts the check used (times, block numbers, names); JSON-serializable."""

    @functools.cached_property
    def reason(self) -> str:
        """The English sentence."""
        return render(self.message, self.params, "en")

    @functools.cached_property
    def reason_zh(self) -> str:
        """The Chinese sentence, for the counter page."""
        return render(self.message, self.params, "zh")

    def __reduce__(self) -> tuple[Any, ...]:
        # worker processes send checks back by the thousand: pickled as plain arguments
        # Why: bench/PERFORMANCE.md, "Check pickling"
        return (
            _check,
            (self.name, self.type, self.status.value, self.message, self.params, self.data),
        )

    def with_data(self, **data: Any) -> Check:
        """This check with more facts in its data."""
        return Check(
            self.name, self.type, self.status, self.message, self.params, {**self.data, **data}
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "status": self.status.value,
            "reason": self.reason,
            "reason_zh": self.reason_zh,
        }
        if self.data:
            out["data"] = dict(self.data)
        return out


def _check(
    name: str, type_: str, status: str, message: str, params: Mapping[str, Any],
    data: Mapping[str, Any],
) -> Check:
    return Check(name, type_, Status(status), message, params, data)


def ok(checks: Iterable[Check]) -> bool:
    """True when no check is INVALID or ERROR and at least one is VALID."""
    statuses = {c.status for c in checks}
    return Status.INVALID not in statuses and Status.ERROR not in statuses and (
        Status.VALID in statuses
    )


@dataclass(frozen=True)
class VerificationReport:
    """The ordered checks of verifying one thing (a seal, a seal signature, a PDF's seal)."""

    kind: str
    """``seal``, ``signature``, ``pdf_signature``…"""
    steps: tuple[Check, ...]
    subject: Mapping[str, Any] = field(default_factory=dict)
    """What was verified (seal name and code, signing time…), JSON-serialisable."""

    @property
    def ok(self) -> bool:
        """True when no step is INVALID or ERROR and at least one is VALID."""
        return ok(self.steps)

    def step(self, name: str) -> Check:
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(name)
