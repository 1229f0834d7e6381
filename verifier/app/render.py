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
- :meth:`CertificatePdfMaker.render_ofd` makes the same certificate as a sealed OFD package
  (:mod:`certs.render_ofd`, :mod:`seals.ofd.write`): the same page, ``certificate.json``
  attached, and the issuer's seal as the signature's stamp at the same place
  (:func:`ofd_stamp_place`); its SM3 is anchored the same way (:func:`anchor_certificate_pdf`
  takes any sealed file).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from certs.canonical import CertificateDocument
from certs.render import (
    PAGE_HEIGHT_MM,
    SEAL_PLACEMENT,
    FontSet,
    default_fonts,
    render_certificate,
)
from certs.status import CertificateRecord
from certs.types import CertificateType, TypeDefinitions, default_registry
from chain.transactions import TransactionReceipt
from seals.ofd.write import StampAnnot, write_sealed_ofd
from seals.pdf import stamp_pdf
from seals.ses import Seal
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


def sealing_time(at: dt.datetime | None = None) -> dt.datetime:
    """The time a certificate is sealed: ``at`` (naive: UTC) or now, in UTC, to the second
    (what the seal signature's ``/M`` and ``timeInfo`` can say), so the PDF's ``/ModDate``
    and the signature name the same instant."""
    t = at or dt.datetime.now(dt.UTC)
    return (t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)).replace(
        microsecond=0
    )


def ofd_stamp_place(seal: Seal) -> StampAnnot:
    """Where the seal shows on a certificate OFD: :data:`~certs.render.SEAL_PLACEMENT` (as
    on the PDF), its height from the seal picture's proportions as ``stamp_pdf`` takes it."""
    place = SEAL_PLACEMENT
    picture = seal.picture
    height = place.width_mm
    if picture.width_mm > 0 and picture.height_mm > 0:
        height = place.width_mm * picture.height_mm / picture.width_mm
    top = PAGE_HEIGHT_MM - place.y_mm - height
    return StampAnnot(place.page, place.x_mm, top, place.width_mm, height)


def anchor_certificate_pdf(settings: Settings, issuer: str, sealed: bytes) -> TransactionReceipt:
    """Anchor SM3 of the sealed certificate PDF (or OFD) from the issuer's chain account."""
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

    def _type_of(self, record: CertificateRecord) -> CertificateType:
        type_code = record.document.values().get("type.code")
        if not isinstance(type_code, str):
            raise VerifierError(
                f"certificate {record.identifier} does not disclose its type",
                code="type_hidden",
            )
        return self.types.get(type_code)

    def render_ofd(self, record: CertificateRecord, *, at: dt.datetime | None = None) -> bytes:
        """The sealed OFD of an anchored certificate (not anchored on chain itself)."""
        from certs.render_ofd import certificate_ofd

        document = require_anchored(record)
        ofd = certificate_ofd(document, certificate_type=self._type_of(record), fonts=self.fonts)
        stamper = self.stamper(record.issuer)
        return write_sealed_ofd(
            ofd, seal=stamper.seal, signer=stamper.signer.signer,
            signer_certificate=stamper.signer.certificate, stamp=ofd_stamp_place(stamper.seal),
            at=at,
        )

    def render(self, record: CertificateRecord, *, at: dt.datetime | None = None) -> bytes:
        """The sealed PDF of an anchored certificate (not anchored on chain itself). Its
        ``/CreationDate`` is the certificate's issue, its ``/ModDate`` the sealing time
        ``at`` (default now), the signing time of the seal (``/M``, ``timeInfo``) too."""
        document = require_anchored(record)
        sealed_at = sealing_time(at)
        pdf = render_certificate(
            document,
            certificate_type=self._type_of(record),
            seal_picture_png=None,  # the seal's own appearance is the visible seal
            fonts=self.fonts,
            modified=sealed_at,
        )
        return seal_certificate_pdf(
            pdf, settings=self.settings, issuer=record.issuer,
            stamper=self.stamper(record.issuer), at=sealed_at,
        )
