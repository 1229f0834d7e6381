"""A local certificate authority for development and demos, kept in a directory.

Layout (every private key encrypted at rest under one passphrase, files mode 0600)::

    <ca_dir>/root.pem  root.key              SM2 root CA (keyCertSign, cRLSign; 20 years)
    <ca_dir>/seal-maker.pem  seal-maker.key   the seal maker (制章者) that signs seals
    <signers_dir>/<USCC>.pem  <USCC>.key      an issuing agency's signer (签章者) certificate

In memory: ``create_root``, ``issue_seal_maker`` and ``issue_signer`` return
:class:`Issued` (certificate + key). On disk: ``LocalCA.open_or_create(ca_dir, passphrase)``,
then ``ca.seal_maker()`` and ``ca.signer(uscc, name, signers_dir)``. An agency that already has
a CA imports its own PEM certificate and key instead (``LocalCA.import_signer``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from seals import sm2
from seals.errors import CertificateError, SealInputError
from seals.keys import load_private_key_file, save_private_key
from seals.x509 import (
    CA_USAGES,
    DistinguishedName,
    X509Certificate,
    build_x509_certificate,
    load_certificate,
)

ROOT_NAME = "Zhengyin Development Root CA"
SEAL_MAKER_NAME = "Zhengyin Development Seal Maker"
_USCC_SHAPE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{18}$")


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key."""

    certificate: X509Certificate
    key: sm2.Sm2PrivateKey = field(repr=False)

    @property
    def signer(self) -> sm2.KeySigner:
        return sm2.KeySigner(self.key)


def _now(now: datetime | None) -> datetime:
    t = now or datetime.now(UTC)
    return (t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)).replace(microsecond=0)


def create_root(
    name: str = ROOT_NAME,
    *,
    now: datetime | None = None,
    years: int = 20,
    backend: sm2.Sm2Backend | None = None,
) -> Issued:
    """A self-signed SM2 root CA."""
    key = sm2.generate_private_key(backend)
    t = _now(now)
    cert = build_x509_certificate(
        subject=DistinguishedName(name, organization="Zhengyin"),
        public_key=key.public_key,
        issuer=None,
        signer=sm2.KeySigner(key),
        not_before=t - timedelta(minutes=5),
        not_after=t + timedelta(days=365 * years),
        ca=True,
        path_length=1,
        key_usage=CA_USAGES,
    )
    return Issued(cert, key)


def _issue(
    root: Issued,
    subject: DistinguishedName,
    *,
    now: datetime | None,
    years: int,
    backend: sm2.Sm2Backend | None,
) -> Issued:
    key = sm2.generate_private_key(backend)
    t = _now(now)
    not_after = min(t + timedelta(days=365 * years), root.certificate.not_after)
    cert = build_x509_certificate(
        subject=subject,
        public_key=key.public_key,
        issuer=root.certificate,
        signer=root.signer,
        not_before=t - timedelta(minutes=5),
        not_after=not_after,
        ca=False,
        key_usage={"digital_signature", "non_repudiation"},
    )
    return Issued(cert, key)


def issue_seal_maker(
    root: Issued,
    name: str = SEAL_MAKER_NAME,
    *,
    now: datetime | None = None,
    years: int = 10,
    backend: sm2.Sm2Backend | None = None,
) -> Issued:
    """The seal maker's (制章者) certificate: signs seals (digitalSignature, nonRepudiation)."""
    return _issue(
        root,
        DistinguishedName(name, organization="Zhengyin"),
        now=now,
        years=years,
        backend=backend,
    )


def issue_signer(
    root: Issued,
    *,
    uscc: str,
    name: str,
    now: datetime | None = None,
    years: int = 3,
    backend: sm2.Sm2Backend | None = None,
) -> Issued:
    """An issuing agency's signer (签章者) certificate, its USCC as organizationIdentifier."""
    if not _USCC_SHAPE.match(uscc):
        raise SealInputError(f"not an 18-character USCC: {uscc!r}", code="seal_bad_uscc")
    return _issue(
        root,
        DistinguishedName(name, organization=name, organization_identifier=uscc),
        now=now,
        years=years,
        backend=backend,
    )


def _load_pair(cert_path: Path, key_path: Path, passphrase: bytes | str) -> Issued:
    cert = load_certificate(cert_path.read_bytes())
    key = load_private_key_file(key_path, passphrase)
    if cert.public_key() != key.public_key:
        raise CertificateError(
            f"{key_path} does not hold the key of {cert_path}", code="cert_key_mismatch"
        )
    return Issued(cert, key)


def _save_pair(issued: Issued, cert_path: Path, key_path: Path, passphrase: bytes | str) -> None:
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    save_private_key(key_path, issued.key, passphrase)
    cert_path.write_bytes(issued.certificate.to_pem())


class LocalCA:
    """The development CA kept under ``directory`` (see the module docstring)."""

    def __init__(self, directory: Path, passphrase: bytes | str, root: Issued) -> None:
        self.directory = directory
        self._passphrase = passphrase
        self.root = root

    @property
    def root_path(self) -> Path:
        return self.directory / "root.pem"

    @classmethod
    def open_or_create(
        cls, directory: Path | str, passphrase: bytes | str, *, now: datetime | None = None
    ) -> LocalCA:
        """Open the CA in ``directory``, creating root (and nothing else) if it is missing."""
        d = Path(directory)
        cert_path, key_path = d / "root.pem", d / "root.key"
        if cert_path.exists() and key_path.exists():
            root = _load_pair(cert_path, key_path, passphrase)
        else:
            root = create_root(now=now)
            _save_pair(root, cert_path, key_path, passphrase)
        return cls(d, passphrase, root)

    def seal_maker(self, *, now: datetime | None = None) -> Issued:
        """The seal maker; created on first use."""
        cert_path, key_path = self.directory / "seal-maker.pem", self.directory / "seal-maker.key"
        if cert_path.exists() and key_path.exists():
            return _load_pair(cert_path, key_path, self._passphrase)
        issued = issue_seal_maker(self.root, now=now)
        _save_pair(issued, cert_path, key_path, self._passphrase)
        return issued

    def signer(
        self, uscc: str, name: str, signers_dir: Path | str, *, now: datetime | None = None
    ) -> Issued:
        """The agency's signer certificate and key; issued here on first use."""
        if not _USCC_SHAPE.match(uscc):
            raise SealInputError(f"not an 18-character USCC: {uscc!r}", code="seal_bad_uscc")
        d = Path(signers_dir)
        cert_path, key_path = d / f"{uscc}.pem", d / f"{uscc}.key"
        if cert_path.exists() and key_path.exists():
            return _load_pair(cert_path, key_path, self._passphrase)
        issued = issue_signer(self.root, uscc=uscc, name=name, now=now)
        _save_pair(issued, cert_path, key_path, self._passphrase)
        return issued

    def import_signer(
        self, uscc: str, issued: Issued, signers_dir: Path | str
    ) -> tuple[Path, Path]:
        """Keep an agency's own certificate and key (re-encrypted here) as its signer."""
        if not _USCC_SHAPE.match(uscc):
            raise SealInputError(f"not an 18-character USCC: {uscc!r}", code="seal_bad_uscc")
        if issued.certificate.public_key() != issued.key.public_key:
            raise CertificateError(
                "the key does not belong to the certificate", code="cert_key_mismatch"
            )
        d = Path(signers_dir)
        cert_path, key_path = d / f"{uscc}.pem", d / f"{uscc}.key"
        _save_pair(issued, cert_path, key_path, self._passphrase)
        return cert_path, key_path
