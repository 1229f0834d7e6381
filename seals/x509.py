"""X.509 certificates with SM2: reading, building, and path validation to a trust anchor.

- ``load_certificate(data) -> X509Certificate`` (PEM or DER), ``load_certificates(data)`` (a PEM
  bundle). :class:`X509Certificate` is a frozen view: names, validity, key usage, basic
  constraints, the SM2 public key, and the original DER (``.der``; never re-encoded).
- ``build_x509_certificate(...)``: a v3 certificate signed with SM2-with-SM3 (default signer ID)
  by any :class:`~seals.sm2.Signer`.
- ``validate_path(leaf, anchors=..., at=..., lenient_ca=False) -> PathResult``: builds the chain
  from ``leaf`` up to one of ``anchors`` (by issuer name, checking every SM2 signature), judges
  each certificate's validity at ``at``, and requires issuers to be CAs: basicConstraints
  ``cA`` and, when keyUsage is present, ``keyCertSign``. ``lenient_ca=True`` accepts issuers
  that lack those marks (legacy PKIs, such as the ofdrw test root) and says so in
  ``PathResult.notes``. Problems and notes are catalogue messages (:mod:`seals.report`).

Certificate signatures use SM2 with the default signer ID ``1234567812345678`` (GM/T 0015;
what ofdrw/BouncyCastle use). Note that OpenSSL 3.0's ``openssl verify`` uses an EMPTY ID
unless given ``-vfyopt distid:1234567812345678``.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from asn1crypto import pem
from asn1crypto import x509 as asn1x509

from seals import der as der_shape
from seals import sm2
from seals.errors import CertificateError, SealError, Sm2BadSignature, says_nothing_of_the_input
from seals.keys import public_key_from_spki
from seals.report import Joined, Message

SIGNING_USAGES = frozenset({"digital_signature", "non_repudiation"})
"""Key usages that allow a certificate's key to sign seals or documents (either suffices)."""
CA_USAGES = frozenset({"key_cert_sign", "crl_sign"})
"""Key usages of a CA certificate made here."""
MAX_CERTIFICATE_BYTES = 64 * 1024


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


@functools.lru_cache(maxsize=1024)
def _public_key(spki_der: bytes) -> sm2.Sm2PublicKey:
    """Decoding a key checks the point in libcrypto, which is slow: once per certificate."""
    # Why: bench/PERFORMANCE.md, "X.509: one key decoding per certificate"
    return public_key_from_spki(spki_der)


@dataclass(frozen=True)
class X509Certificate:
    """A parsed X.509 certificate. ``der`` is the original encoding."""

    der: bytes
    subject: str
    """Human-readable subject DN."""
    issuer: str
    subject_key: str
    """Normalised subject DN, for matching issuers."""
    issuer_key: str
    serial: int
    not_before: datetime
    not_after: datetime
    signature_algorithm: str
    """Dotted OID of the certificate's signature algorithm."""
    tbs_der: bytes = field(repr=False)
    signature: bytes = field(repr=False)
    spki_der: bytes = field(repr=False)
    is_ca: bool | None
    """basicConstraints ``cA`` (None when the extension is absent)."""
    path_length: int | None
    key_usage: frozenset[str] | None
    """keyUsage names (asn1crypto spelling), None when the extension is absent."""
    extended_key_usage: tuple[str, ...]
    common_name: str | None
    organization_identifier: str | None

    # -- reading
    @classmethod
    def from_der(cls, der: bytes) -> X509Certificate:
        """Parse DER; raises :class:`CertificateError` naming what is wrong."""
        der = bytes(der)
        if len(der) > MAX_CERTIFICATE_BYTES:
            raise CertificateError(f"certificate: {len(der)} bytes is too large")
        if not der_shape.within(der):
            raise CertificateError(
                f"certificate: more than {der_shape.MAX_ELEMENTS} ASN.1 elements is too large"
            )
        try:
            cert = asn1x509.Certificate.load(der, strict=True)
            tbs = cert["tbs_certificate"]
            validity = tbs["validity"]
            not_before = _utc(validity["not_before"].native)
            not_after = _utc(validity["not_after"].native)
            sig_alg = cert["signature_algorithm"]["algorithm"].dotted
            signature = cert["signature_value"].native
            is_ca: bool | None = None
            path_len: int | None = None
            usage: frozenset[str] | None = None
            eku: tuple[str, ...] = ()
            for ext in tbs["extensions"]:
                name = ext["extn_id"].native
                value = ext["extn_value"].parsed
                if name == "basic_constraints":
                    is_ca = bool(value["ca"].native)
                    path_len = value["path_len_constraint"].native
                elif name == "key_usage":
                    usage = frozenset(value.native)
                elif name == "extended_key_usage":
                    eku = tuple(str(v) for v in value.native)
            subject = tbs["subject"]
            issuer = tbs["issuer"]
            attrs = subject.native
            common_name = attrs.get("common_name")
            org_id = attrs.get("organization_identifier")
            result = cls(
                der=der,
                subject=subject.human_friendly,
                issuer=issuer.human_friendly,
                subject_key=subject.hashable,
                issuer_key=issuer.hashable,
                serial=int(tbs["serial_number"].native),
                not_before=not_before,
                not_after=not_after,
                signature_algorithm=sig_alg,
                tbs_der=tbs.dump(),
                signature=bytes(signature),
                spki_der=tbs["subject_public_key_info"].dump(),
                is_ca=is_ca,
                path_length=path_len,
                key_usage=usage,
                extended_key_usage=eku,
                common_name=common_name if isinstance(common_name, str) else None,
                organization_identifier=org_id if isinstance(org_id, str) else None,
            )
        except (CertificateError, MemoryError):  # out of memory says nothing of the input
            raise
        except Exception as exc:  # asn1crypto raises ValueError, TypeError, KeyError…
            raise CertificateError(f"certificate: bad DER ({exc})") from exc
        return result

    def public_key(self, backend: sm2.Sm2Backend | None = None) -> sm2.Sm2PublicKey:
        """The SM2 public key; raises :class:`CertificateError` if it is not SM2."""
        try:
            if backend is None:
                return _public_key(self.spki_der)
            return public_key_from_spki(self.spki_der, backend=backend)
        except SealError as exc:
            if says_nothing_of_the_input(exc):  # this machine's SM2 failed, not the key
                raise
            raise CertificateError(
                f"certificate {self.subject}: {exc}", code="cert_not_sm2"
            ) from exc

    def to_pem(self) -> bytes:
        return bytes(pem.armor("CERTIFICATE", self.der))

    def fingerprint_sm3(self) -> bytes:
        return sm2.sm3(self.der)

    def valid_at(self, at: datetime) -> bool:
        return self.not_before <= _utc(at) <= self.not_after

    @property
    def self_issued(self) -> bool:
        return self.subject_key == self.issuer_key

    def verify_issued_by(self, issuer: X509Certificate) -> None:
        """Raise unless ``issuer``'s key signed this certificate (SM2-with-SM3, default ID)."""
        if self.signature_algorithm != sm2.OID_SM2_WITH_SM3:
            raise CertificateError(
                f"certificate {self.subject}: signature algorithm {self.signature_algorithm} "
                "is not SM2-with-SM3",
                code="cert_unsupported_algorithm",
            )
        issuer.public_key().verify(self.tbs_der, self.signature)

    def describe(self) -> dict[str, Any]:
        """JSON-friendly summary."""
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "serial": format(self.serial, "x"),
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "sm3": self.fingerprint_sm3().hex(),
        }


def load_certificate(data: bytes) -> X509Certificate:
    """One certificate from PEM or DER."""
    certs = load_certificates(data)
    if not certs:
        raise CertificateError("no certificate found")
    return certs[0]


def load_certificates(data: bytes) -> list[X509Certificate]:
    """Every certificate in PEM (``CERTIFICATE`` blocks) or one DER certificate."""
    data = bytes(data)
    stripped = data.lstrip()
    if not pem.detect(stripped):
        return [X509Certificate.from_der(data)]
    try:
        blocks = list(pem.unarmor(stripped, multiple=True))
    except (ValueError, TypeError) as exc:
        raise CertificateError(f"certificate: malformed PEM ({exc})") from exc
    return [X509Certificate.from_der(der) for kind, _h, der in blocks if kind == "CERTIFICATE"]


# ------------------------------------------------------------------------------ building


@dataclass(frozen=True)
class DistinguishedName:
    """The subject of a certificate made here."""

    common_name: str
    """CN: the agency, seal maker or CA name."""
    organization: str | None = None
    """O."""
    organizational_unit: str | None = None
    """OU."""
    organization_identifier: str | None = None
    """2.5.4.97: the agency's 18-character USCC (统一社会信用代码)."""
    country: str = "CN"
    """C."""

    def to_asn1(self) -> asn1x509.Name:
        attrs: dict[str, str] = {"country_name": self.country}
        if self.organization:
            attrs["organization_name"] = self.organization
        if self.organizational_unit:
            attrs["organizational_unit_name"] = self.organizational_unit
        if self.organization_identifier:
            attrs["organization_identifier"] = self.organization_identifier
        attrs["common_name"] = self.common_name
        return asn1x509.Name.build(attrs, use_printable=False)


def build_x509_certificate(
    *,
    subject: DistinguishedName,
    public_key: sm2.Sm2PublicKey,
    issuer: X509Certificate | None,
    signer: sm2.Signer,
    not_before: datetime,
    not_after: datetime,
    ca: bool,
    key_usage: Iterable[str],
    path_length: int | None = None,
    extended_key_usage: Sequence[str] = (),
    serial: int | None = None,
) -> X509Certificate:
    """A v3 certificate signed by ``signer`` (self-signed when ``issuer`` is None)."""
    nb, na = _utc(not_before).replace(microsecond=0), _utc(not_after).replace(microsecond=0)
    if na <= nb:
        raise CertificateError("certificate: not_after must be later than not_before")
    subject_name = subject.to_asn1()
    if issuer is None:
        if signer.public_key != public_key:
            raise CertificateError("self-signed certificate: signer key is not the subject key")
        issuer_name = subject_name
    else:
        issuer_name = asn1x509.Certificate.load(issuer.der)["tbs_certificate"]["subject"]
        if signer.public_key != issuer.public_key():
            raise CertificateError("certificate: signer key is not the issuer's key")
    spki = asn1x509.PublicKeyInfo.load(public_key.spki_der())
    ski = sm2.sm3(public_key.point)[:20]
    extensions: list[dict[str, Any]] = [
        {
            "extn_id": "basic_constraints",
            "critical": True,
            "extn_value": {"ca": ca, "path_len_constraint": path_length if ca else None},
        },
        {"extn_id": "key_usage", "critical": True, "extn_value": set(key_usage)},
        {"extn_id": "key_identifier", "critical": False, "extn_value": ski},
    ]
    if issuer is not None:
        aki = sm2.sm3(issuer.public_key().point)[:20]
        extensions.append(
            {
                "extn_id": "authority_key_identifier",
                "critical": False,
                "extn_value": {"key_identifier": aki},
            }
        )
    else:
        extensions.append(
            {
                "extn_id": "authority_key_identifier",
                "critical": False,
                "extn_value": {"key_identifier": ski},
            }
        )
    if extended_key_usage:
        extensions.append(
            {
                "extn_id": "extended_key_usage",
                "critical": False,
                "extn_value": list(extended_key_usage),
            }
        )
    tbs = asn1x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": serial if serial is not None else secrets.randbits(63) | 1 << 62,
            "signature": {"algorithm": sm2.OID_SM2_WITH_SM3},
            "issuer": issuer_name,
            "validity": {
                "not_before": asn1x509.Time(
                    {"utc_time": nb} if nb.year < 2050 else {"general_time": nb}
                ),
                "not_after": asn1x509.Time(
                    {"utc_time": na} if na.year < 2050 else {"general_time": na}
                ),
            },
            "subject": subject_name,
            "subject_public_key_info": spki,
            "extensions": extensions,
        }
    )
    tbs_der = tbs.dump()
    signature = signer.sign_raw(tbs_der)
    cert = asn1x509.Certificate(
        {
            "tbs_certificate": tbs,
            "signature_algorithm": {"algorithm": sm2.OID_SM2_WITH_SM3},
            "signature_value": signature,
        }
    )
    return X509Certificate.from_der(cert.dump())


# ------------------------------------------------------------------------- path checking


@dataclass(frozen=True)
class PathResult:
    """What path validation found."""

    ok: bool
    chain: tuple[X509Certificate, ...]
    """From the leaf up to the trust anchor (as far as it got)."""
    problem_messages: tuple[Message, ...]
    """One message per problem (:mod:`seals.messages`); empty when ``ok``."""
    note_messages: tuple[Message, ...] = ()
    """Leniencies applied (lenient mode) and other remarks."""

    @property
    def problems(self) -> tuple[str, ...]:
        """Plain sentences, one per problem; empty when ``ok``."""
        return tuple(m.render("en") for m in self.problem_messages)

    @property
    def notes(self) -> tuple[str, ...]:
        return tuple(m.render("en") for m in self.note_messages)

    @property
    def anchor(self) -> str:
        """The trust anchor reached (its common name), ``?`` if none."""
        return (self.chain[-1].common_name or self.chain[-1].subject) if self.chain else "?"

    def message(self, role: Message) -> Message:
        """What was found, as one message (``role``: whose path, for the Chinese)."""
        if self.ok:
            notes = (
                Message("path.notes", {"notes": Joined(self.note_messages)})
                if self.note_messages
                else Message("empty")
            )
            return Message("path.valid", {"anchor": self.anchor, "notes": notes, "role": role})
        return Message("path.invalid", {"problems": Joined(self.problem_messages), "role": role})

    @property
    def reason(self) -> str:
        return self.message(Message("empty")).render("en")


def _ca_problems(cert: X509Certificate, lenient: bool) -> tuple[list[Message], list[Message]]:
    problems: list[Message] = []
    notes: list[Message] = []
    who = {"who": cert.common_name or cert.subject}
    suffix = "_lenient" if lenient else ""
    if cert.is_ca is not True:
        (notes if lenient else problems).append(Message("path.not_ca" + suffix, who))
    if cert.key_usage is not None and "key_cert_sign" not in cert.key_usage:
        (notes if lenient else problems).append(Message("path.no_key_cert_sign" + suffix, who))
    return problems, notes


def _outside(message: str, cert: X509Certificate, at: datetime) -> Message:
    return Message(
        message,
        {
            "who": cert.common_name or cert.subject,
            "start": cert.not_before,
            "end": cert.not_after,
            "at": at,
        },
    )


def validate_path(
    leaf: X509Certificate,
    *,
    anchors: Sequence[X509Certificate],
    at: datetime,
    intermediates: Sequence[X509Certificate] = (),
    lenient_ca: bool = False,
    max_depth: int = 8,
) -> PathResult:
    """Chain ``leaf`` to one of ``anchors`` and judge it at time ``at``."""
    at = _utc(at)
    anchor_ders = {a.der for a in anchors}
    pool = list(anchors) + [c for c in intermediates if c.der not in anchor_ders]
    chain: list[X509Certificate] = [leaf]
    problems: list[Message] = []
    notes: list[Message] = []
    current = leaf
    if not leaf.valid_at(at):
        problems.append(_outside("path.outside_validity", leaf, at))
    for _depth in range(max_depth):
        if current.der in anchor_ders:
            break
        issuer: X509Certificate | None = None
        failures: list[str] = []
        for candidate in pool:
            if candidate.subject_key != current.issuer_key or candidate.der == current.der:
                continue
            try:
                current.verify_issued_by(candidate)
            except (Sm2BadSignature, CertificateError) as exc:
                failures.append(str(exc))
                continue
            issuer = candidate
            break
        if issuer is None:
            who = current.common_name or current.subject
            if failures:
                problems.append(Message("path.bad_signature", {"who": who}))
            else:
                problems.append(Message("path.no_issuer", {"who": who, "issuer": current.issuer}))
            return PathResult(False, tuple(chain), tuple(problems), tuple(notes))
        p, n = _ca_problems(issuer, lenient_ca)
        problems += p
        notes += n
        if not issuer.valid_at(at):
            problems.append(_outside("path.issuer_outside_validity", issuer, at))
        if issuer.path_length is not None and len(chain) - 1 > issuer.path_length:
            problems.append(Message("path.length_exceeded", {"who": issuer.subject}))
        chain.append(issuer)
        current = issuer
    else:
        problems.append(Message("path.too_long"))
    if chain[-1].der not in anchor_ders:
        problems.append(Message("path.no_anchor_at_end"))
    return PathResult(not problems, tuple(chain), tuple(problems), tuple(notes))
