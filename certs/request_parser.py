"""Validating a request to issue a certificate (GB/T 36903 core metadata).

A request arrives as a JSON object (API body, CLI file) or a CSV row with the same keys
flattened with dots (``holder.name``, ``fields.企业名称``, ``annotations.1``)::

    {"type": "11100000000013338W032", "number": "optional agency number",
     "holder": {"name": "张三", "code": "11010519491231002X", "code_type": "111"},
     "issue_date": "2026-11-28", "valid_from": "2026-11-28", "valid_until": null,
     "jurisdiction": "360100", "fields": {"key": "text"}, "annotations": []}

:func:`parse_request` checks every value and reports ALL problems of the request at once in
:class:`~certs.errors.RequestInvalid`. Rules: ``type``, ``holder.*`` and ``jurisdiction`` are
required; ``issue_date`` defaults to ``today`` and may be at most one day later;
``valid_from`` defaults to ``issue_date``; ``valid_until`` may be null (no end) and is not
before ``valid_from``; every text is NFC-normalized and trimmed, has no control characters
(field values may hold line breaks) and is bounded (names and number 64 characters, field keys
64, field and annotation values 1,000, at most 64 fields and 64 annotations); field values are
text (a CSV cell and a JSON string give the same certificate); an empty optional value counts
as absent; holder codes are checked by their type (``111`` citizen ID, ``001`` USCC).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from collections.abc import Callable, Mapping
from typing import Any, TypeGuard

from certs import clock
from certs.errors import RequestInvalid, ValidationError
from certs.identifiers import validate_citizen_id, validate_type_code, validate_uscc
from certs.model import CITIZEN_ID, CertificateRequest, Holder
from certs.types import HOLDER_CODE_TYPES, CertificateType, TypeDefinitions

MAX_NAME = 64
MAX_NUMBER = 64
MAX_FIELD_KEY = 64
MAX_VALUE = 1000
MAX_FIELDS = 64
MAX_ANNOTATIONS = 64

REQUEST_KEYS = frozenset(
    {
        "type",
        "number",
        "holder",
        "issue_date",
        "valid_from",
        "valid_until",
        "jurisdiction",
        "fields",
        "annotations",
    }
)
HOLDER_KEYS = frozenset({"name", "code", "code_type"})

FORMAT_CHARACTERS = (
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u180e\u200b-\u200f"
    "\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd"
    "\U00013430-\U00013438\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001"
    "\U000e0020-\U000e007f"
)
"""Every character of Unicode category Cf (format: zero-width spaces and joiners, direction
marks and overrides, the byte order mark, tags…), as a regex class body: invisible, so a
text holding one is not the text a clerk reads (``tests/certs/test_model.py`` holds it equal
to the category in ``unicodedata``)."""
_CONTROL = re.compile(f"[\\x00-\\x1f\\x7f-\\x9f\\ud800-\\udfff{FORMAT_CHARACTERS}]")
_CONTROL_EXCEPT_NEWLINE = re.compile(
    f"[\\x00-\\x09\\x0b-\\x1f\\x7f-\\x9f\\ud800-\\udfff{FORMAT_CHARACTERS}]"
)
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_JURISDICTION = re.compile(r"[1-9][0-9]{5}")



class _Collector:
    """Collects every ValidationError of one request."""

    def __init__(self) -> None:
        self.errors: list[ValidationError] = []

    def add(self, field_: str, code: str, message: str) -> None:
        self.errors.append(ValidationError(message, field=field_, code=code))

    def run(self, check: Callable[..., str], *args: Any, **kwargs: Any) -> str | None:
        """``check(*args, **kwargs)``, or None with its ValidationError recorded."""
        try:
            return check(*args, **kwargs)
        except ValidationError as exc:
            self.errors.append(exc)
            return None

    def text(
        self,
        value: Any,
        field_: str,
        *,
        max_len: int,
        required: bool,
        newlines: bool = False,
        what: str = "a value",
    ) -> str | None:
        """NFC-normalized, trimmed text, or None (absent, or an error was recorded)."""
        if _clean(value, max_len, _CONTROL_EXCEPT_NEWLINE if newlines else _CONTROL):
            return value  # the common case
        if value is None or value == "":
            if required:
                self.add(field_, "missing_field", f"{what} is required; fill it in")
            return None
        if not isinstance(value, str):
            self.add(
                field_,
                "wrong_type",
                f"{what} must be text, not {_json_kind(value)}; write it in quotes",
            )
            return None
        control = (_CONTROL_EXCEPT_NEWLINE if newlines else _CONTROL).search(value)
        if control is not None:
            kind = "invisible format" if unicodedata.category(control.group()) == "Cf" else (
                "control or invalid"
            )
            self.add(
                field_,
                "invalid_text",
                f"{what} contains the {kind} character U+{ord(control.group()):04X} at "
                f"position {control.start() + 1}; remove it",
            )
            return None
        text = value.strip()
        if not unicodedata.is_normalized("NFC", text):
            text = unicodedata.normalize("NFC", text)
        if not text:
            if required:
                self.add(field_, "missing_field", f"{what} is required but only blank; fill it in")
            return None
        if len(text) > max_len:
            self.add(
                field_,
                "field_too_long",
                f"{what} has {len(text)} characters; at most {max_len} are allowed",
            )
            return None
        return text

    def date(self, value: Any, field_: str, *, what: str) -> dt.date | None:
        text = self.text(value, field_, max_len=10 + 32, required=False, what=what)
        if text is None:
            return None
        try:
            if not _ISO_DATE.fullmatch(text):
                raise ValueError(text)
            return dt.date.fromisoformat(text)
        except ValueError:
            self.add(
                field_,
                "invalid_date",
                f"{what} {text!r} is not a real date written as YYYY-MM-DD (e.g. 2026-11-28)",
            )
            return None


def _clean(value: Any, max_len: int, control: re.Pattern[str]) -> TypeGuard[str]:
    """Whether ``value`` is text to take as it is: exactly ``str``, 1 to ``max_len``
    characters, trimmed, NFC, nothing ``control`` matches (decided by C calls alone)."""
    return (
        value.__class__ is str
        and 0 < len(value) <= max_len
        and value.strip() == value
        and not control.search(value)
        and unicodedata.is_normalized("NFC", value)
    )


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _unknown_keys(
    c: _Collector, obj: Mapping[Any, Any], allowed: frozenset[str], prefix: str
) -> None:
    for key in obj:
        if key not in allowed:
            c.add(
                f"{prefix}{key}",
                "unknown_key",
                f"{key!r} is not a known key here; the known keys are {', '.join(sorted(allowed))}",
            )


def parse_request(
    obj: Any,
    *,
    issuer_uscc: str,
    registry: TypeDefinitions,
    today: dt.date | None = None,
) -> CertificateRequest:
    """Validate a request object (see the module docstring); raise :class:`RequestInvalid`
    listing every problem found, or return the normalized request."""
    today = today if today is not None else clock.today()
    c = _Collector()
    if not isinstance(obj, Mapping):
        c.add("request", "wrong_type", f"the request must be a JSON object, not {_json_kind(obj)}")
        raise RequestInvalid(c.errors)
    _unknown_keys(c, obj, REQUEST_KEYS, "")

    checked = _issuer_code(issuer_uscc)  # the same for every row of a request
    issuer_code = checked if isinstance(checked, str) else None
    if isinstance(checked, ValidationError):  # a fresh error for each request
        c.errors.append(ValidationError(checked.reason, field=checked.field, code=checked.code))

    # type
    ctype: CertificateType | None = None
    type_code = c.text(obj.get("type"), "type", max_len=64, required=True, what="the type")
    if type_code is not None and c.run(validate_type_code, type_code) is not None:
        try:
            ctype = registry.get(type_code)
        except ValidationError as exc:
            c.errors.append(exc)

    # holder
    holder = _parse_holder(c, obj.get("holder"), ctype, today)

    # number, jurisdiction
    number = c.text(
        obj.get("number"),
        "number",
        max_len=MAX_NUMBER,
        required=False,
        what="the certificate number",
    )
    jurisdiction = c.text(
        obj.get("jurisdiction"), "jurisdiction", max_len=64, required=True, what="the jurisdiction"
    )
    if jurisdiction is not None and not _JURISDICTION.fullmatch(jurisdiction):
        c.add(
            "jurisdiction",
            "invalid_jurisdiction",
            f"jurisdiction {jurisdiction!r} must be a 6-digit administrative division code "
            "not starting with 0 (e.g. 360100)",
        )
        jurisdiction = None

    # dates
    issue_date = today
    if obj.get("issue_date") not in (None, ""):
        issue_date = c.date(obj.get("issue_date"), "issue_date", what="the issue date") or today
        if issue_date > today + dt.timedelta(days=1):
            c.add(
                "issue_date",
                "issue_date_future",
                f"the issue date {issue_date.isoformat()} is in the future; "
                f"it may be at most {(today + dt.timedelta(days=1)).isoformat()}",
            )
    valid_from = issue_date
    if obj.get("valid_from") not in (None, ""):
        valid_from = c.date(obj.get("valid_from"), "valid_from", what="the validity start") or (
            issue_date
        )
    valid_until = c.date(obj.get("valid_until"), "valid_until", what="the validity end")
    if valid_until is not None and valid_until < valid_from:
        c.add(
            "valid_until",
            "validity_order",
            f"the validity end {valid_until.isoformat()} is before the validity start "
            f"{valid_from.isoformat()}",
        )
    elif valid_until is not None and valid_until < today:
        c.add(
            "valid_until",
            "already_expired",
            f"the certificate would have expired on {valid_until.isoformat()}, before it is "
            f"issued ({today.isoformat()}); check the validity end",
        )
    if ctype is not None and ctype.number_required and number is None and not any(
        e.field == "number" for e in c.errors
    ):
        c.add("number", "missing_field", f"a {ctype.name} needs its number (证照编号); fill it in")

    fields = _parse_fields(c, obj.get("fields"), ctype, today)
    annotations = _parse_annotations(c, obj.get("annotations"))
    if ctype is not None and holder is not None:
        _check_holder_fields(c, holder, fields, ctype)

    if c.errors:
        raise RequestInvalid(c.errors)
    assert ctype is not None and holder is not None and issuer_code is not None
    assert jurisdiction is not None
    return CertificateRequest(
        type_code=ctype.code,
        issuer_code=issuer_code,
        holder=holder,
        issue_date=issue_date,
        valid_from=valid_from,
        valid_until=valid_until,
        jurisdiction=jurisdiction,
        number=number,
        fields=fields,
        annotations=annotations,
    )


@functools.lru_cache(maxsize=64)
def _issuer_code(uscc: str) -> str | ValidationError:
    """The issuer's USCC as validated (upper-cased), or why it is not one."""
    try:
        return validate_uscc(uscc, field="issuer.code")
    except ValidationError as exc:
        return exc


def _parse_holder(
    c: _Collector, obj: Any, ctype: CertificateType | None, today: dt.date
) -> Holder | None:
    if obj is None:
        c.add("holder", "missing_field", "the holder (name, code, code_type) is required")
        return None
    if not isinstance(obj, Mapping):
        c.add("holder", "wrong_type", f"holder must be an object, not {_json_kind(obj)}")
        return None
    _unknown_keys(c, obj, HOLDER_KEYS, "holder.")
    name = c.text(
        obj.get("name"), "holder.name", max_len=MAX_NAME, required=True, what="the holder's name"
    )
    code_type = obj.get("code_type")
    code_type_ok = False
    if code_type in (None, ""):
        c.add(
            "holder.code_type",
            "missing_field",
            "the holder code type is required: 111 for a citizen ID number, 001 for a USCC",
        )
    elif code_type not in HOLDER_CODE_TYPES:
        hint = (
            " (a spreadsheet may have dropped its leading zeros)" if code_type in (1, "1") else ""
        )
        c.add(
            "holder.code_type",
            "invalid_code_type",
            f'holder code type {code_type!r} must be "111" (citizen ID number) or '
            f'"001" (USCC){hint}',
        )
    elif ctype is not None and code_type not in ctype.holder_code_types:
        c.add(
            "holder.code_type",
            "invalid_code_type",
            f"a {ctype.name} cannot be issued to a holder identified by "
            f"{HOLDER_CODE_TYPES[code_type]} ({code_type}); allowed: "
            f"{', '.join(ctype.holder_code_types)}",
        )
    else:
        code_type_ok = True
    raw_code = c.text(
        obj.get("code"), "holder.code", max_len=64, required=True, what="the holder's code"
    )
    code: str | None = None
    if raw_code is not None and code_type_ok:
        if code_type == CITIZEN_ID:
            code = c.run(validate_citizen_id, raw_code, field="holder.code", today=today)
        else:
            code = c.run(validate_uscc, raw_code, field="holder.code")
    if name is None or code is None:
        return None
    return Holder(name=name, code=code, code_type=str(code_type))


def _parse_fields(
    c: _Collector, obj: Any, ctype: CertificateType | None, today: dt.date
) -> dict[str, str]:
    out: dict[str, str] = {}
    if obj is None:
        obj = {}
    if not isinstance(obj, Mapping):
        c.add("fields", "wrong_type", f"fields must be an object, not {_json_kind(obj)}")
        return out
    if len(obj) > MAX_FIELDS:
        c.add(
            "fields",
            "too_many_fields",
            f"there are {len(obj)} fields; at most {MAX_FIELDS} are allowed",
        )
        return out
    kinds = ctype.kinds if ctype is not None else {}
    for raw_key, raw_value in obj.items():
        if (  # the common case: a clean text field of a known plain-text key, as given
            _clean(raw_key, MAX_FIELD_KEY, _CONTROL)
            and _clean(raw_value, MAX_VALUE, _CONTROL_EXCEPT_NEWLINE)
            and raw_key not in out
            and raw_key not in kinds
            and (ctype is None or ctype.allows_field(raw_key))
        ):
            out[raw_key] = raw_value
            continue
        key = c.text(raw_key, "fields", max_len=MAX_FIELD_KEY, required=True, what="a field name")
        if key is None:
            continue
        path = f"fields.{key}"
        if key in out:
            c.add(path, "unknown_key", f"the field {key!r} is given twice (after trimming spaces)")
            continue
        if ctype is not None and not ctype.allows_field(key):
            known = ", ".join((*ctype.required_fields, *ctype.optional_fields))
            c.add(
                path, "unknown_key", f"a {ctype.name} has no field {key!r}; its fields are {known}"
            )
            continue
        value = c.text(
            raw_value, path, max_len=MAX_VALUE, required=False, newlines=True, what=f"{key}"
        )
        if value is None:
            continue
        kind = ctype.kind(key) if ctype is not None else "text"
        if kind in ("date", "past_date"):
            parsed = c.date(value, path, what=key)
            value = parsed.isoformat() if parsed is not None else None
            if parsed is not None and kind == "past_date" and parsed > today:
                c.add(
                    path,
                    "date_in_future",
                    f"{key} {value} is in the future; it records something that has happened "
                    f"(today is {today.isoformat()})",
                )
                value = None
        elif kind == "uscc":
            value = c.run(validate_uscc, value, field=path)
        elif kind == "citizen_id":
            value = c.run(validate_citizen_id, value, field=path, today=today)
        if value is not None:
            out[key] = value
    if ctype is not None:
        for key in ctype.required_fields:
            if key not in out and not any(e.field == f"fields.{key}" for e in c.errors):
                c.add(
                    f"fields.{key}",
                    "missing_field",
                    f"{key} is required for a {ctype.name}; fill it in",
                )
    return out


def _check_holder_fields(
    c: _Collector, holder: Holder, fields: Mapping[str, str], ctype: CertificateType
) -> None:
    """The fields that repeat the holder's code or name (``holder_fields`` of the type) agree
    with the holder."""
    for what, label in (("code", "code"), ("name", "name")):
        key = ctype.holder_fields.get(what)
        if key is None or key not in fields:
            continue
        given = getattr(holder, what)
        if fields[key] != given:
            c.add(
                f"fields.{key}",
                "holder_mismatch",
                f"{key} {fields[key]!r} is not the holder's {label} {given!r}; a {ctype.name} "
                "names its holder in both places: correct one of them",
            )


def _parse_annotations(c: _Collector, obj: Any) -> tuple[str, ...]:
    if obj is None:
        return ()
    if not isinstance(obj, list):
        c.add(
            "annotations",
            "wrong_type",
            f"annotations must be a list of texts, not {_json_kind(obj)}",
        )
        return ()
    if len(obj) > MAX_ANNOTATIONS:
        c.add(
            "annotations",
            "too_many_fields",
            f"there are {len(obj)} annotations; at most {MAX_ANNOTATIONS} are allowed",
        )
        return ()
    out: list[str] = []
    for i, item in enumerate(obj):
        text = c.text(
            item,
            f"annotations.{i + 1}",
            max_len=MAX_VALUE,
            required=True,
            newlines=True,
            what="an annotation",
        )
        if text is not None:
            out.append(text)
    return tuple(out)
