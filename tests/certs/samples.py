"""Realistic requests and certificates shared by the certs tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

from certs.model import Certificate, build_certificate
from certs.request_parser import parse_request
from certs.types import TypeDefinitions, default_registry

TODAY = dt.date(2026, 11, 28)
ISSUER = "11110105MB0000000C"  # made up; check character computed below in the tests
BUSINESS_LICENCE = "11100000MA0000001Q001"
EXAMPLE_TYPE = "11100000000013338W032"
REGISTRY: TypeDefinitions = default_registry()


def business_licence_request() -> dict[str, Any]:
    return {
        "type": BUSINESS_LICENCE,
        "number": "110105012345678",
        "holder": {
            "name": "北京某某科技有限公司",
            "code": "91110000101623741K",
            "code_type": "001",
        },
        "issue_date": "2026-11-28",
        "valid_from": "2026-11-28",
        "valid_until": None,
        "jurisdiction": "110105",
        "fields": {
            "统一社会信用代码": "91110000101623741K",
            "企业名称": "北京某某科技有限公司",
            "类型": "有限责任公司（自然人投资或控股）",
            "法定代表人": "张三",
            "注册资本": "100万元人民币",
            "成立日期": "2015-06-01",
            "住所": "北京市朝阳区某某路1号院2号楼3层301",
            "经营范围": "技术开发、技术咨询、技术服务；软件开发。\n"
            "（依法须经批准的项目，经相关部门批准后方可开展经营活动）",
        },
        "annotations": ["2026-11-28 变更登记：住所"],
    }


def example_request() -> dict[str, Any]:
    return {
        "type": EXAMPLE_TYPE,
        "holder": {"name": "张三", "code": "11010519491231002X", "code_type": "111"},
        "issue_date": "2026-11-28",
        "valid_from": "2026-11-28",
        "valid_until": "2031-11-27",
        "jurisdiction": "360100",
        "fields": {"type-specific": "values"},
        "annotations": [],
    }


def issuer_code() -> str:
    from certs.identifiers import uscc_check_char

    return ISSUER[:17] + uscc_check_char(ISSUER[:17])


def certificate(obj: dict[str, Any] | None = None, serial: str = "2430599") -> Certificate:
    request = parse_request(
        obj if obj is not None else business_licence_request(),
        issuer_uscc=issuer_code(),
        registry=REGISTRY,
        today=TODAY,
    )
    return build_certificate(
        request,
        certificate_type=REGISTRY.get(request.type_code),
        issuer_name="北京市朝阳区市场监督管理局",
        serial=serial,
    )
