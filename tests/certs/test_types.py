"""The certificate-type registry: the shipped file, agencies' own files, bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from certs.errors import TypeDefinitionError, ValidationError
from certs.identifiers import validate_type_code
from certs.types import CORE_LABELS, default_registry, load_registry

from .samples import BUSINESS_LICENCE, EXAMPLE_TYPE


def test_shipped_types() -> None:
    registry = default_registry()
    assert len(registry) >= 3
    example = registry.get(EXAMPLE_TYPE)
    assert example.name == "示例证照" and example.required_fields == () and example.open_fields
    licence = registry.get(BUSINESS_LICENCE)
    assert licence.name == "营业执照"
    assert licence.holder_code_types == ("001",)
    assert {"统一社会信用代码", "企业名称", "法定代表人", "注册资本", "成立日期", "住所"} <= set(
        licence.required_fields
    )
    assert licence.kind("成立日期") == "past_date" and licence.kind("住所") == "text"
    assert licence.number_required and dict(licence.holder_fields) == {
        "code": "统一社会信用代码", "name": "企业名称"}
    assert licence.allows_field("经营范围") and not licence.allows_field("注册号")
    for ctype in registry:
        assert validate_type_code(ctype.code) == ctype.code  # valid USCC + 3 digits
        assert ctype.defining_body_code == ctype.code[:18]
    birth = next(t for t in registry if t.name == "出生医学证明")
    assert birth.holder_code_types == ("111",)
    assert birth.label("助产机构名称") == "接生机构名称"
    assert birth.label("性别") == "性别"
    assert CORE_LABELS["holder.name"] == "持证主体"


def test_unknown_type() -> None:
    with pytest.raises(ValidationError) as err:
        default_registry().get("11100000000013338W999")
    assert err.value.code == "unknown_type" and err.value.field == "type"


def _agency_file(tmp_path: Path, types: list[dict[str, object]]) -> Path:
    path = tmp_path / "types.json"
    path.write_text(json.dumps({"format": "zhengyin-cert-types/1", "types": types}), "utf-8")
    return path


def test_agency_adds_a_type(tmp_path: Path) -> None:
    path = _agency_file(
        tmp_path,
        [
            {
                "code": "11100000MA0000002U009",
                "name": "预防接种证",
                "defining_body_name": "国家卫生健康委员会",
                "holder_code_types": ["111"],
                "fields": [{"key": "疫苗名称", "required": True}],
            }
        ],
    )
    registry = load_registry(path)
    assert registry.get("11100000MA0000002U009").required_fields == ("疫苗名称",)
    assert EXAMPLE_TYPE in registry


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        ({"code": EXAMPLE_TYPE, "name": "重复", "defining_body_name": "x"}, "defined twice"),
        ({"code": "11100000000013338X032", "name": "a", "defining_body_name": "b"}, "valid USCC"),
        ({"code": "11100000MA0000002U010", "name": "a"}, "defining_body_name"),
        (
            {"code": "11100000MA0000002U010", "name": "a", "defining_body_name": "b", "x": 1},
            "unknown keys",
        ),
        (
            {
                "code": "11100000MA0000002U010",
                "name": "a",
                "defining_body_name": "b",
                "holder_code_types": ["112"],
            },
            "111/001",
        ),
        (
            {
                "code": "11100000MA0000002U010",
                "name": "a",
                "defining_body_name": "b",
                "fields": [{"key": "k", "kind": "money"}],
            },
            "kind one of",
        ),
        (
            {
                "code": "11100000MA0000002U010",
                "name": "a",
                "defining_body_name": "b",
                "fields": [{"key": "k"}, {"key": "k"}],
            },
            "declared twice",
        ),
        (
            {
                "code": "11100000MA0000002U010",
                "name": "a",
                "defining_body_name": "b",
                "fields": [{"key": "k"}],
                "holder_fields": {"name": "undeclared"},
            },
            "holder_fields",
        ),
        (
            {
                "code": "11100000MA0000002U010",
                "name": "a",
                "defining_body_name": "b",
                "number_required": "yes",
            },
            "number_required",
        ),
    ],
)
def test_bad_agency_files(tmp_path: Path, entry: dict[str, object], fragment: str) -> None:
    with pytest.raises(TypeDefinitionError) as err:
        load_registry(_agency_file(tmp_path, [entry]))
    assert err.value.code == "type_registry_invalid"
    assert fragment in str(err.value)
    assert "types.json" in str(err.value)


def test_unreadable_agency_file(tmp_path: Path) -> None:
    with pytest.raises(TypeDefinitionError):
        load_registry(tmp_path / "absent.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{", "utf-8")
    with pytest.raises(TypeDefinitionError, match="not valid JSON"):
        load_registry(bad)
