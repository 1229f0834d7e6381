"""The domain objects of GB/T 38540 seals and seal signatures: frozen dataclasses holding every
decoded field and the exact bytes that were signed. ``seals.ses`` parses into them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Layout = Literal["v1", "v4", "v5"]


@dataclass(frozen=True)
class ExtData:
    """One ``ExtData`` entry."""

    oid: str
    critical: bool
    value: bytes


@dataclass(frozen=True)
class CertDigest:
    """One ``CertDigestObj``: a digest of a signer certificate (certListType 2)."""

    type: str
    """The digest algorithm as written (e.g. ``SM3``)."""
    value: bytes


@dataclass(frozen=True)
class SealPicture:
    """``SES_ESPictureInfo``."""

    type: str
    """``PNG``, ``JPG``, ``GIF``, ``BMP``, ``SVG``."""
    data: bytes = field(repr=False)
    width_mm: int
    height_mm: int


@dataclass(frozen=True)
class SealProperty:
    """``SES_ESPropertyInfo``."""

    type: int
    """Seal type code, as the issuing system defines it."""
    name: str
    cert_list_type: int
    """1: ``certificates`` holds DER signer certificates; 2: ``digests`` holds digests."""
    certificates: tuple[bytes, ...] = field(repr=False)
    digests: tuple[CertDigest, ...]
    created: datetime
    valid_from: datetime
    valid_until: datetime


@dataclass(frozen=True)
class Seal:
    """A parsed electronic seal (``SESeal``)."""

    layout: Layout
    header_id: str
    version: int
    """``SES_Header.version``."""
    vendor_id: str
    es_id: str
    """The seal code (``esID``)."""
    property: SealProperty
    picture: SealPicture
    ext_datas: tuple[ExtData, ...]
    maker_certificate: bytes = field(repr=False)
    """DER of the seal maker's (制章者) certificate."""
    signature_algorithm: str
    signature: bytes = field(repr=False)
    """The maker's SM2 signature, DER ``SEQUENCE{r, s}``."""
    seal_info_der: bytes = field(repr=False)
    """The original bytes of ``SES_SealInfo``."""
    maker_signed_der: bytes = field(repr=False)
    """What the maker signed: ``SES_SealInfo`` as read (v4, v5); for v1 (GM/T 0031-2014)
    ``SEQUENCE { esealInfo, cert, signatureAlgorithm }`` of the original element bytes."""
    der: bytes = field(repr=False)
    """The original bytes of the whole ``SESeal``."""


@dataclass(frozen=True)
class SealSignature:
    """A parsed seal signature (``SES_Signature``)."""

    layout: Layout
    version: int
    """``TBS_Sign.version``."""
    seal: Seal
    signing_time: datetime | None
    """``timeInfo`` (None when a v1 timeInfo cannot be read as a time)."""
    time_info: bytes = field(repr=False)
    """The raw ``timeInfo`` contents."""
    data_hash: bytes
    property_info: str
    ext_datas: tuple[ExtData, ...]
    signer_certificate: bytes = field(repr=False)
    signature_algorithm: str
    signature: bytes = field(repr=False)
    timestamp: bytes | None = field(repr=False)
    tbs_der: bytes = field(repr=False)
    """The original bytes of ``TBS_Sign``: what the signer signed."""
    der: bytes = field(repr=False)
