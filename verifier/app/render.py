"""Certificate PDFs of this service: render a stored certificate (:mod:`certs.render`), seal
the PDF with its issuer's GB/T 38540 seal, and anchor the sealed file on chain.

- :func:`seal_certificate_pdf` is the one place a rendered certificate is sealed: the
  issuer's signer key and certificate (``signers/<USCC>.pem|.key``) and its newest seal
  listing that certificate (``seals/<USCC>*.esl``) are loaded from ``ZHENGYIN_HOME``
  (:class:`verifier.app.stamping.AgencyStamper`), and the seal is stamped on page 1 at
  :data:`certs.render.SEAL_PLACEMENT`, over the issuer line. The visible seal is the seal
  signature's own appearance (the picture inside the seal), so a sealed certificate shows
  exactly one seal picture, and the whole file is covered by the signature.
- :class:`CertificatePdfMaker` renders and seals many certificates of one or more issuers,
  loading fonts, type registry and each issuer's key and seal once.
- :func:`anchor_certificate_pdf` records SM3 of the sealed file on chain from the issuer's
  account, as ``zhengyin seal stamp`` does: ``zhengyin verify FILE.pdf`` checks that anchor,
  every seal, and the embedded ``certificate.json`` in full.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from certs.canonical import CertificateDocument
from certs.render import SEAL_PLACEMENT, FontSet, default_fonts, render_certificate
from certs.status import CertificateRecord
from certs.types import TypeDefinitions, default_registry
from chain.transactions import TransactionReceipt
from seals.pdf import stamp_pdf
from verifier.app.stamping import AgencyStamper, anchor_sealed
from verifier.errors import VerifierError
from verifier.settings import Settings


def seal_certificate_pdf(
    pdf_bytes: bytes,
    *,
    issuer: str,
    settings: Settings | None = None,
    stamper: AgencyStamper | None = None,
    at: dt.datetime | None = None,
) -> bytes:
    """Seal a rendered certificate with ``issuer``'s newest seal at
    :data:`~certs.render.SEAL_PLACEMENT`. The key and seal are loaded from ``settings``'
    home, unless ``stamper`` gives them already loaded. Raises
    :class:`~seals.errors.SealError` (``seal_not_found``…) when the issuer has none."""
    if stamper is None:
        if settings is None:
            raise VerifierError("give settings or a stamper to seal with", code="usage")
        stamper = AgencyStamper.load(settings, issuer)
    if stamper.uscc != issuer:
        raise VerifierError(
            f"the stamper of {stamper.uscc} cannot seal a certificate of {issuer}",
            code="wrong_agency",
        )
    place = SEAL_PLACEMENT
    return stamp_pdf(
        pdf_bytes,
        seal=stamper.seal,
        signer=stamper.signer.signer,
        signer_certificate=stamper.signer.certificate,
        page=place.page,
        x_mm=place.x_mm,
        y_mm=place.y_mm,
        width_mm=place.width_mm,
        at=at,
    )


def anchor_certificate_pdf(settings: Settings, issuer: str, sealed: bytes) -> TransactionReceipt:
    """Anchor SM3 of the sealed certificate PDF from the issuer's chain account."""
    return anchor_sealed(settings, issuer, sealed)


def require_anchored(record: CertificateRecord) -> CertificateDocument:
    """The record's document, if its batch is anchored; ``not_anchored`` otherwise."""
    document = record.document
    if record.status == "pending" or document.anchor is None or document.signature is None:
        raise VerifierError(
            f"certificate {record.identifier} is not anchored yet (status {record.status}): "
            "run `zhengyin batcher run --once` and try again",
            code="not_anchored",
        )
    return document


@dataclass
class CertificatePdfMaker:
    """Renders and seals certificate PDFs, loading what it needs once."""

    settings: Settings
    fonts: FontSet = field(default_factory=default_fonts)
    types: TypeDefinitions = field(default_factory=default_registry)
    _stampers: dict[str, AgencyStamper] = field(default_factory=dict)

    def stamper(self, issuer: str) -> AgencyStamper:
        found = self._stampers.get(issuer)
        if found is None:
            found = self._stampers[issuer] = AgencyStamper.load(self.settings, issuer)
        return found

    def render(self, record: CertificateRecord, *, at: dt.datetime | None = None) -> bytes:
        """The sealed PDF of an anchored certificate (not anchored on chain itself)."""
        document = require_anchored(record)
        type_code = document.values().get("type.code")
        if not isinstance(type_code, str):
            raise VerifierError(
                f"certificate {record.identifier} does not disclose its type",
                code="type_hidden",
            )
        pdf = render_certificate(
            document,
            certificate_type=self.types.get(type_code),
            seal_picture_png=None,  # the seal's own appearance is the visible seal
            fonts=self.fonts,
        )
        return seal_certificate_pdf(
            pdf, settings=self.settings, issuer=record.issuer,
            stamper=self.stamper(record.issuer), at=at,
        )
