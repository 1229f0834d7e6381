"""The certificate and the validated request to issue one (GB/T 36903 core metadata).

Validating a request is :mod:`certs.request_parser`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from certs.identifiers import CertificateIdentifier, build_identifier
from certs.types import CertificateType

CITIZEN_ID = "111"
"""Holder code type: 18-character citizen ID number (GB 11643)."""
USCC = "001"
"""Holder code type: unified social credit code (GB 32100)."""


class CertificateStatus(StrEnum):
    """Status of a certificate (GB/T 36903 证照状态). Not part of the signed claims: it changes
    over the certificate's life and the chain is the authority on it."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    SUPERSEDED = "superseded"


@dataclass(frozen=True)
class Holder:
    """The holder (持证主体) of a certificate."""

    name: str
    """Person's or organisation's name, NFC-normalized."""
    code: str
    """Citizen ID number or USCC, upper case."""
    code_type: str
    """``111`` (citizen ID number) or ``001`` (USCC)."""


@dataclass(frozen=True)
class CertificateRequest:
    """A validated request to issue one certificate, before it has an identifier."""

    type_code: str
    """21-character code of a type in the registry."""
    issuer_code: str
    """USCC of the issuing agency."""
    holder: Holder
    issue_date: dt.date
    valid_from: dt.date
    valid_until: dt.date | None
    """None: valid without end."""
    jurisdiction: str
    """6-digit administrative division code (GB/T 2260)."""
    number: str | None = None
    """The agency's own certificate number, if any."""
    fields: Mapping[str, str] = field(default_factory=dict)
    """Type-specific values, key → text."""
    annotations: tuple[str, ...] = ()
    """Annotations (加注件), in order."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", MappingProxyType(dict(self.fields)))


@dataclass(frozen=True)
class Certificate:
    """An electronic certificate's metadata (GB/T 36903 core metadata plus type fields)."""

    identifier: CertificateIdentifier
    """GB/T 36904 identifier; type code, issuer code and version are read from it."""
    name: str
    """Certificate name (证照名称), the type name unless the issuer says otherwise."""
    type_name: str
    defining_body_name: str
    issuer_name: str
    issue_date: dt.date
    valid_from: dt.date
    valid_until: dt.date | None
    jurisdiction: str
    holder: Holder
    number: str | None = None
    fields: Mapping[str, str] = field(default_factory=dict)
    annotations: tuple[str, ...] = ()
    status: CertificateStatus = CertificateStatus.ACTIVE
    """Current status; informative only, never part of the signed claims."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", MappingProxyType(dict(self.fields)))

    @property
    def type_code(self) -> str:
        return self.identifier.type_code

    @property
    def defining_body_code(self) -> str:
        return self.identifier.defining_body_code

    @property
    def issuer_code(self) -> str:
        return self.identifier.issuer_code

    @property
    def version(self) -> str:
        return self.identifier.version


def build_certificate(
    request: CertificateRequest,
    *,
    certificate_type: CertificateType,
    issuer_name: str,
    serial: str,
    version: str = "001",
) -> Certificate:
    """The certificate for a validated request, with its identifier built from ``serial``."""
    if certificate_type.code != request.type_code:
        raise ValueError("certificate_type is not the type of the request")
    identifier = build_identifier(request.type_code, request.issuer_code, serial, version)
    return Certificate(
        identifier=identifier,
        name=certificate_type.name,
        type_name=certificate_type.name,
        defining_body_name=certificate_type.defining_body_name,
        issuer_name=issuer_name,
        issue_date=request.issue_date,
        valid_from=request.valid_from,
        valid_until=request.valid_until,
        jurisdiction=request.jurisdiction,
        holder=request.holder,
        number=request.number,
        fields=request.fields,
        annotations=request.annotations,
    )
