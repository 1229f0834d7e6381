"""The registry of certificate types (证照类型): what each type is called and which fields it has.

Types are data, not code: the package ships ``certs/types.json`` and an agency adds its own
types with a file of the same shape (``load_registry(extra_file)``)::

    {"format": "zhengyin-cert-types/1",
     "types": [{"code": "<21-char type code>", "name": "营业执照",
                "defining_body_name": "国家市场监督管理总局",
                "holder_code_types": ["001"],          # 111 citizen ID, 001 USCC
                "open_fields": false,                  # true: any field key is accepted
                "number_required": true,               # the agency's number (证照编号)
                "holder_fields": {"code": "统一社会信用代码", "name": "企业名称"},
                "fields": [{"key": "企业名称", "required": true,
                            "kind": "text",            # text | date | past_date | uscc
                                                       # | citizen_id
                            "label": "企业名称"}]}]}    # kind and label are optional

``holder_fields`` names the fields that repeat the holder's code or name: a request whose
holder contradicts them is refused. A ``past_date`` field records an event (成立日期): it
cannot lie in the future. ``number_required``, ``holder_fields`` and ``open_fields`` are
optional (false, none, false).

The defining body's code is not written: it is the first 18 characters of the type code.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from certs.errors import TypeDefinitionError, ValidationError
from certs.identifiers import validate_type_code

REGISTRY_FORMAT = "zhengyin-cert-types/1"
HOLDER_CODE_TYPES: Mapping[str, str] = MappingProxyType(
    {"111": "居民身份证号码", "001": "统一社会信用代码"}
)
"""Holder code types of GB/T 36903 that this service validates, with their Chinese names."""
FIELD_KINDS = frozenset({"text", "date", "past_date", "uscc", "citizen_id"})

CORE_LABELS: Mapping[str, str] = MappingProxyType(
    {
        "identifier": "证照标识",
        "name": "证照名称",
        "number": "证照编号",
        "version": "证照版本",
        "type.code": "证照类型代码",
        "type.name": "证照类型名称",
        "defining_body.code": "证照定义机构代码",
        "defining_body.name": "证照定义机构",
        "issuer.code": "证照颁发机构代码",
        "issuer.name": "证照颁发机构",
        "issue_date": "证照颁发日期",
        "valid_from": "有效期起始日期",
        "valid_until": "有效期截止日期",
        "jurisdiction": "证照所属行政区划",
        "holder.name": "持证主体",
        "holder.code": "持证主体代码",
        "holder.code_type": "持证主体代码类型",
        "annotations": "加注件",
    }
)
"""Chinese labels of the core metadata (GB/T 36903), for rendering."""


def _frozen_map(value: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(value))


@dataclass(frozen=True)
class CertificateType:
    """One certificate type: its code, names and the fields a certificate of it carries."""

    code: str
    """21 characters: defining body's USCC + 3 digits."""
    name: str
    """Type name, which is also the certificate name (``营业执照``)."""
    defining_body_name: str
    """Name of the body that defines the type (``国家市场监督管理总局``)."""
    defining_body_code: str
    """USCC of the defining body: always ``code[:18]``."""
    required_fields: tuple[str, ...] = ()
    """Keys that every certificate of this type must carry under ``fields``."""
    optional_fields: tuple[str, ...] = ()
    """Keys that a certificate may carry under ``fields``."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Field key → Chinese label for rendering, where the label differs from the key."""
    kinds: Mapping[str, str] = field(default_factory=dict)
    """Field key → value kind (``date``, ``uscc``, ``citizen_id``) where not plain text."""
    holder_code_types: tuple[str, ...] = ("111", "001")
    """Holder code types allowed for this type."""
    open_fields: bool = False
    """True: any field key is accepted (the example type); False: only the declared ones."""
    number_required: bool = False
    """True: every certificate of this type carries the agency's number (证照编号)."""
    holder_fields: Mapping[str, str] = field(default_factory=dict)
    """``code`` / ``name`` → the field that repeats the holder's code / name (营业执照:
    统一社会信用代码, 企业名称): the two must agree."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", _frozen_map(self.labels))
        object.__setattr__(self, "kinds", _frozen_map(self.kinds))
        object.__setattr__(self, "holder_fields", _frozen_map(self.holder_fields))

    def schema(self) -> dict[str, Any]:
        """The type's entry in the shape of a type file, every optional key written out:
        what the catalogue on chain holds the digest of (:meth:`schema_digest`)."""
        fields = [
            {
                "key": key,
                "required": key in self.required_fields,
                "kind": self.kind(key),
                "label": self.label(key),
            }
            for key in (*self.required_fields, *self.optional_fields)
        ]
        return {
            "code": self.code,
            "name": self.name,
            "defining_body_name": self.defining_body_name,
            "holder_code_types": list(self.holder_code_types),
            "open_fields": self.open_fields,
            "number_required": self.number_required,
            "holder_fields": dict(self.holder_fields),
            "fields": fields,
        }

    def schema_digest(self) -> bytes:
        """SM3 of the JCS (RFC 8785) text of :meth:`schema`."""
        from certs._sm3 import sm3
        from certs.canonical import jcs

        return sm3(jcs(self.schema()))

    def label(self, key: str) -> str:
        """The Chinese label of a field key (the key itself when no label is set)."""
        return self.labels.get(key, key)

    def kind(self, key: str) -> str:
        """The value kind of a field key (``text`` unless declared)."""
        return self.kinds.get(key, "text")

    def allows_field(self, key: str) -> bool:
        """Whether a certificate of this type may carry ``fields.<key>``."""
        return self.open_fields or key in self.required_fields or key in self.optional_fields


class TypeDefinitions:
    """The certificate types as the project defines them (its type file), by code: what a
    request is checked against. Immutable once built. (The on-chain catalogue of types is
    :mod:`verifier.app.catalogue`'s.)"""

    def __init__(self, types: Iterable[CertificateType] = ()) -> None:
        by_code: dict[str, CertificateType] = {}
        for t in types:
            if t.code in by_code:
                raise TypeDefinitionError(f"certificate type {t.code} is defined twice")
            by_code[t.code] = t
        self._types: Mapping[str, CertificateType] = MappingProxyType(by_code)

    def get(self, code: str) -> CertificateType:
        """The type with this code; :class:`ValidationError` ``unknown_type`` if unknown."""
        found = self._types.get(code)
        if found is None:
            raise ValidationError(
                f"certificate type {code!r} is not in the type registry; "
                "check the code or ask the administrator to register the type",
                field="type",
                code="unknown_type",
            )
        return found

    def __contains__(self, code: object) -> bool:
        return code in self._types

    def __iter__(self) -> Iterator[CertificateType]:
        return iter(self._types.values())

    def __len__(self) -> int:
        return len(self._types)

    def merged(self, other: TypeDefinitions) -> TypeDefinitions:
        """A registry with the types of both (a code defined in both is an error)."""
        return TypeDefinitions([*self, *other])

    @classmethod
    def from_json(cls, text: str | bytes, *, source: str = "type registry") -> TypeDefinitions:
        """Read a registry file (see the module docstring); errors name ``source``."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise TypeDefinitionError(f"{source} is not valid JSON: {exc}") from None
        return cls(_parse_registry(data, source))


def _parse_registry(data: Any, source: str) -> list[CertificateType]:
    def fail(msg: str) -> TypeDefinitionError:
        return TypeDefinitionError(f"{source}: {msg}")

    if not isinstance(data, dict) or data.get("format") != REGISTRY_FORMAT:
        raise fail(f'must be a JSON object with "format": "{REGISTRY_FORMAT}"')
    if set(data) - {"format", "note", "types"} or not isinstance(data.get("types"), list):
        raise fail('must hold "format", an optional "note" and a "types" list only')
    out: list[CertificateType] = []
    for i, entry in enumerate(data["types"]):
        where = f"types[{i}]"
        if not isinstance(entry, dict):
            raise fail(f"{where} must be an object")
        allowed = {"code", "name", "defining_body_name", "holder_code_types", "open_fields"}
        allowed |= {"fields", "note", "number_required", "holder_fields"}
        if set(entry) - allowed:
            raise fail(f"{where} has unknown keys {sorted(set(entry) - allowed)}")
        code, name, body = entry.get("code"), entry.get("name"), entry.get("defining_body_name")
        if not (isinstance(code, str) and isinstance(name, str) and isinstance(body, str)):
            raise fail(f"{where} needs text code, name and defining_body_name")
        if not name.strip() or not body.strip():
            raise fail(f"{where} ({code}) has an empty name or defining_body_name")
        try:
            validate_type_code(code, field=f"{where}.code")
        except ValidationError as exc:
            raise fail(str(exc)) from None
        holder_types = entry.get("holder_code_types", ["111", "001"])
        if (
            not isinstance(holder_types, list)
            or not holder_types
            or any(h not in HOLDER_CODE_TYPES for h in holder_types)
        ):
            raise fail(f"{where} ({code}) holder_code_types must be a non-empty list of 111/001")
        open_fields = entry.get("open_fields", False)
        if not isinstance(open_fields, bool):
            raise fail(f"{where} ({code}) open_fields must be true or false")
        required: list[str] = []
        optional: list[str] = []
        labels: dict[str, str] = {}
        kinds: dict[str, str] = {}
        fields = entry.get("fields", [])
        if not isinstance(fields, list):
            raise fail(f"{where} ({code}) fields must be a list")
        for j, f in enumerate(fields):
            fwhere = f"{where}.fields[{j}]"
            if not isinstance(f, dict) or set(f) - {"key", "required", "kind", "label"}:
                raise fail(f"{fwhere} must be an object with key, required, kind, label")
            key, req = f.get("key"), f.get("required", False)
            kind, label = f.get("kind", "text"), f.get("label")
            if not isinstance(key, str) or not key.strip() or len(key) > 64:
                raise fail(f"{fwhere} key must be non-empty text of at most 64 characters")
            if key in required or key in optional:
                raise fail(f"{fwhere} key {key!r} is declared twice")
            if not isinstance(req, bool) or kind not in FIELD_KINDS:
                raise fail(
                    f"{fwhere} required must be true/false, kind one of {sorted(FIELD_KINDS)}"
                )
            if label is not None and not isinstance(label, str):
                raise fail(f"{fwhere} label must be text")
            (required if req else optional).append(key)
            if label is not None and label != key:
                labels[key] = label
            if kind != "text":
                kinds[key] = kind
        number_required = entry.get("number_required", False)
        if not isinstance(number_required, bool):
            raise fail(f"{where} ({code}) number_required must be true or false")
        holder_fields = entry.get("holder_fields", {})
        if (
            not isinstance(holder_fields, dict)
            or set(holder_fields) - {"code", "name"}
            or any(v not in (*required, *optional) for v in holder_fields.values())
        ):
            raise fail(
                f"{where} ({code}) holder_fields must map code and/or name to declared fields"
            )
        out.append(
            CertificateType(
                number_required=number_required,
                holder_fields=holder_fields,
                code=code,
                name=name,
                defining_body_name=body,
                defining_body_code=code[:18],
                required_fields=tuple(required),
                optional_fields=tuple(optional),
                labels=labels,
                kinds=kinds,
                holder_code_types=tuple(holder_types),
                open_fields=open_fields,
            )
        )
    return out


def default_registry() -> TypeDefinitions:
    """The types shipped with the package (``certs/types.json``)."""
    text = resources.files("certs").joinpath("types.json").read_text(encoding="utf-8")
    return TypeDefinitions.from_json(text, source="certs/types.json")


def load_registry(*extra_files: Path) -> TypeDefinitions:
    """The shipped types plus those of each extra file (an agency's own types)."""
    registry = default_registry()
    for path in extra_files:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise TypeDefinitionError(f"cannot read type registry {path}: {exc}") from None
        extra = TypeDefinitions.from_json(text, source=str(path))
        try:
            registry = registry.merged(extra)
        except TypeDefinitionError as exc:
            raise TypeDefinitionError(f"{path}: {exc}") from None
    return registry
