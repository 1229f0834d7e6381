"""Stamping PDF and OFD files with an agency's seal, and anchoring each sealed document on
chain.

:class:`AgencyStamper` loads the agency's signer key, certificate and newest seal (the one
that lists the signer) once, then stamps any number of files: a file is an OFD package by
its content (a zip: :func:`seals.ofd.looks_like_ofd`), else a PDF. :func:`anchor_sealed` records
SM3 of the sealed file in the CertificateRegistry from the agency's own account, so anyone can
later see that this seal stamped this document at that time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from chain.transactions import TransactionReceipt
from seals.ca import Issued
from seals.errors import SealInputError
from seals.keys import load_private_key_file
from seals.ofd import looks_like_ofd
from seals.ofd.stamp import stamp_ofd
from seals.pdf import sealed_document_digest, stamp_pdf
from seals.ses import Seal, parse_seal
from seals.x509 import X509Certificate, load_certificate
from verifier.app.agency import issuer_chain_client
from verifier.app.keyring import check_uscc, key_passphrase
from verifier.settings import Settings


def newest_seal(home: Path, uscc: str, signer_cert: X509Certificate) -> Seal:
    """The issuer's newest seal (``<home>/seals/<USCC>*.esl``) that lists its signer."""
    paths = sorted(
        (home / "seals").glob(f"{uscc}*.esl"), key=lambda p: p.stat().st_mtime, reverse=True
    )
    listed = signer_cert.fingerprint_sm3()
    for path in paths:
        seal = parse_seal(path.read_bytes())
        p = seal.property
        if signer_cert.der in p.certificates or any(d.value == listed for d in p.digests):
            return seal
    raise SealInputError(
        f"issuer {uscc} has no seal for its signer certificate under {home / 'seals'}: "
        "run `zhengyin seal new` / `zhengyin issuer add` first",
        code="seal_not_found",
    )


@dataclass(frozen=True)
class AgencyStamper:
    uscc: str
    seal: Seal
    signer: Issued

    @classmethod
    def load(cls, settings: Settings, uscc: str) -> AgencyStamper:
        uscc = check_uscc(uscc)
        home = settings.home_dir
        cert_path, key_path = home / "signers" / f"{uscc}.pem", home / "signers" / f"{uscc}.key"
        if not cert_path.is_file() or not key_path.is_file():
            raise SealInputError(
                f"issuer {uscc} has no signer key and certificate under {home / 'signers'}: "
                "run `zhengyin seal new` / `zhengyin issuer add` first",
                code="seal_not_found",
            )
        certificate = load_certificate(cert_path.read_bytes())
        key = load_private_key_file(key_path, key_passphrase(home))
        return cls(uscc, newest_seal(home, uscc, certificate), Issued(certificate, key))

    def stamp(
        self,
        data: bytes,
        *,
        page: int | None = None,
        x_mm: float | None = None,
        y_mm: float | None = None,
        width_mm: float | None = None,
    ) -> bytes:
        """The sealed file: an OFD package when ``data`` is one (by content), else a PDF;
        the place means the same for both (``y_mm``: the bottom edge from the page's
        bottom)."""
        refuse_certificate_files(data)
        stamp = stamp_ofd if looks_like_ofd(data) else stamp_pdf
        return stamp(
            data,
            seal=self.seal,
            signer=self.signer.signer,
            signer_certificate=self.signer.certificate,
            page=page,
            x_mm=x_mm,
            y_mm=y_mm,
            width_mm=width_mm,
        )


CERTIFICATE_ATTACHMENT = "certificate.json"


def refuse_certificate_files(data: bytes) -> None:
    """Refuse (``stamp_certificate_file``) to seal a file that would become a certificate
    file by this seal: an OFD carrying a ``certificate.json`` attachment (its whole file is
    anchored, by whoever seals it last), or a PDF carrying one and no seal yet (its first
    seal is the one anchored). A certificate file reads ``valid`` when its first seal (an
    OFD: the whole file) is anchored by the certificate's issuer, so an agency sealing a
    file someone sent it would vouch for pages it never made, around any certificate of its
    own — a disclosed copy shown at some counter will do. Certificate files are made by
    rendering (``zhengyin render``, ``GET /v1/certificates/{id}/pdf``), never here. A file
    the readers cannot read is left to the stamper, which refuses it with its own code."""
    from seals.ofd import OfdError, verify_ofd
    from seals.pdf import verify_pdf
    from seals.pdf.attachments import embedded_files
    from seals.pdf.errors import PdfError

    wanted = CERTIFICATE_ATTACHMENT.casefold()
    try:
        if looks_like_ofd(data):
            ofd = verify_ofd(data)
            carries = any(
                name.casefold() == wanted or (path or "").rsplit("/", 1)[-1].casefold() == wanted
                for name, path, _ in ofd.attachments
            )
            sealed_before = False
        else:
            pdf = verify_pdf(data)
            carries = any(name.casefold() == wanted
                          for name in embedded_files(data, file=pdf.file))
            sealed_before = bool(pdf.signatures)
    except (OfdError, PdfError):
        return
    if carries and not sealed_before:
        raise SealInputError(
            f"the file carries a certificate document ({CERTIFICATE_ATTACHMENT}): a "
            "certificate file is made by rendering the certificate, not by sealing a file "
            "around it; remove the attachment to seal the file",
            code="stamp_certificate_file",
        )


def media_type(sealed: bytes) -> str:
    """The media type of a sealed file (GB/T 33190 registers none: ``application/ofd`` is
    what OFD readers and servers use)."""
    return "application/ofd" if looks_like_ofd(sealed) else "application/pdf"


def anchor_sealed(settings: Settings, uscc: str, sealed: bytes) -> TransactionReceipt:
    return issuer_chain_client(settings, uscc).anchor_document(uscc, sealed_document_digest(sealed))
