"""The row shapes of issuance, and the work done on each chunk of a request's rows:
validating rows into their claims, then signing the valid ones once they have serials.

:class:`ChunkWork` does both, in a worker process (:class:`certs.workers.Workers`) or in
the issuing process itself: it keeps each validated chunk's claims until that chunk is
signed, so only the short :class:`ValidRow` facts come back and only serials go out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from certs.canonical import (
    ClaimValue,
    IssuerSignature,
    document_text,
    issue_claim_values,
    request_claims,
    signing_input,
)
from certs.documents import compress_document
from certs.errors import RequestInvalid, ValidationError
from certs.identifiers import build_identifier
from certs.request_parser import parse_request
from certs.types import TypeDefinitions
from seals.report import Message
from seals.sm2 import Signer

SERIAL_WIDTH = 8
"""Serials are decimal, zero-padded to at least this many digits."""
CHUNK = 500
"""Rows validated, signed and stored together."""

# The shapes that cross processes (ValidRow, InvalidRow, RowError, SignedCertificate) keep a
# __dict__: pickle reads one back a few times faster than a slotted dataclass.


def serial_text(serial: int) -> str:
    return str(serial).zfill(SERIAL_WIDTH)


class Entitlements(Protocol):
    """What an issuer may issue, as the chain's catalogue and grants say (built by
    :func:`verifier.checks.authority.entitlements`; plain data, so worker processes can hold it)."""

    def why_not(self, type_code: str, jurisdiction: str) -> Message | None:
        """``None`` if the issuer may issue ``type_code`` in ``jurisdiction`` now; else why
        not, as a catalogue message a clerk can act on."""
        ...


@dataclass(frozen=True)
class RowRejection:
    """A row that was not issued, and every reason why."""

    line: int
    errors: tuple[ValidationError, ...]

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "errors": [e.to_dict() for e in self.errors]}


@dataclass(frozen=True)
class ValidRow:
    """A row found valid: what the issuing process needs to give it a serial."""

    line: int
    type_code: str
    number: str | None
    """The agency number (证照编号), if the row has one."""


@dataclass(frozen=True, slots=True)
class NumberedRow:
    """A valid row given its serial (in row order, per issuer and type)."""

    row: ValidRow
    serial: int


@dataclass(frozen=True)
class SignedCertificate:
    """A signed certificate, ready to be stored."""

    identifier: str
    leaf: bytes
    document: str | bytes
    """The document JSON as stored: its text, or its zlib stream (see ``IssueJob.compress``)."""


@dataclass(frozen=True)
class RowError:
    """One reason a row was rejected, as plain data (a :class:`ValidationError` does not
    cross processes)."""

    message: str
    field: str
    code: str

    def error(self) -> ValidationError:
        return ValidationError(self.message, field=self.field, code=self.code)


@dataclass(frozen=True)
class InvalidRow:
    """A row found invalid, and every reason why."""

    line: int
    errors: tuple[RowError, ...]

    def rejection(self) -> RowRejection:
        return RowRejection(self.line, tuple(e.error() for e in self.errors))


@dataclass(frozen=True)
class ValidatedChunk:
    """A chunk of rows, validated: the valid ones (in row order) and the others."""

    valid: tuple[ValidRow, ...]
    invalid: tuple[InvalidRow, ...]


@dataclass(frozen=True)
class IssueJob:
    """What every chunk of one request is validated and signed with."""

    issuer_uscc: str
    issuer_name: str
    today: dt.date
    types: TypeDefinitions
    compress: bool = False
    """Store documents as zlib streams (:attr:`certs.store.Store.compresses_documents`)."""
    entitlements: Entitlements | None = None


Claims = dict[str, ClaimValue]
"""A valid row's claims, but the identifier (set once the serial is known)."""


def validate_chunk(
    job: IssueJob, chunk: Sequence[tuple[int, Any]]
) -> tuple[ValidatedChunk, list[Claims]]:
    """The chunk's rows validated, and the claims of the valid ones (aligned with them)."""
    valid: list[ValidRow] = []
    invalid: list[InvalidRow] = []
    claims: list[Claims] = []
    types, name = job.types, job.issuer_name
    for line, row in chunk:
        try:
            request = parse_request(
                row, issuer_uscc=job.issuer_uscc, registry=types, today=job.today
            )
        except RequestInvalid as exc:
            errors = tuple(RowError(e.reason, e.field, e.code) for e in exc.errors)
            invalid.append(InvalidRow(line, errors))
            continue
        refused = (
            None
            if job.entitlements is None
            else job.entitlements.why_not(request.type_code, request.jurisdiction)
        )
        if refused is not None:
            why = refused.render("en")
            invalid.append(InvalidRow(line, (RowError(why, "type", "not_authorized"),)))
        else:
            valid.append(ValidRow(line, request.type_code, request.number))
            claims.append(
                request_claims(
                    request, certificate_type=types.get(request.type_code), issuer_name=name
                )
            )
    return ValidatedChunk(tuple(valid), tuple(invalid)), claims


def sign_claims(
    job: IssueJob, signer: Signer, key_id: bytes, work: Sequence[tuple[Claims, int]]
) -> list[SignedCertificate]:
    """Each ``(claims, serial)`` signed: its claims completed with the identifier, its
    document stored as :class:`SignedCertificate` says."""
    digested = []
    inputs: list[bytes] = []
    for claims, serial in work:
        identifier = str(
            build_identifier(
                str(claims["type.code"]), str(claims["issuer.code"]), serial_text(serial)
            )
        )
        claims["identifier"] = identifier
        leaf, json = issue_claim_values(claims)
        until = claims["valid_until"]
        digested.append((identifier, leaf, json))
        inputs.append(
            signing_input(
                leaf, key_id, identifier, str(claims["jurisdiction"]),
                str(claims["valid_from"]), None if until is None else str(until),
            )
        )
    # an in-memory key signs them all at once (one shared inversion); an HSM one by one
    sign_many = getattr(signer, "sign_raw_many", None)
    signatures = sign_many(inputs) if sign_many is not None else map(signer.sign_raw, inputs)
    point = signer.public_key.point
    out: list[SignedCertificate] = []
    for (identifier, leaf, json), value in zip(digested, signatures, strict=True):
        text = document_text(json, leaf, IssuerSignature(key_id, point, value))
        stored = compress_document(text) if job.compress else text
        out.append(SignedCertificate(identifier, leaf, stored))
    return out


class ChunkWork:
    """Validates and signs one request's rows chunk by chunk, keeping each validated chunk's
    claims until it is signed (or forgotten): only short row facts come back from a worker
    and only serials go to it (# Why: bench/PERFORMANCE.md, "Issuance: claims kept on the
    worker"). The rows are given whole at the start: a worker process inherits them when it
    is forked, and is sent only where a chunk starts (# Why: bench/PERFORMANCE.md,
    "Issuance: rows inherited by the workers")."""

    def __init__(
        self, job: IssueJob, signer: Signer, key_id: bytes, rows: Sequence[tuple[int, Any]]
    ) -> None:
        self.job, self.signer, self.key_id, self.rows = job, signer, key_id, rows
        self.kept: dict[int, list[Claims]] = {}

    def validate(self, k: int, start: int) -> ValidatedChunk:
        """Validate chunk ``k``, the rows from ``start``, and keep its claims."""
        checked, self.kept[k] = validate_chunk(self.job, self.rows[start : start + CHUNK])
        return checked

    def sign(self, k: int, serials: Sequence[int | None]) -> list[SignedCertificate]:
        """Sign chunk ``k``'s valid rows, each with its serial (``None``: the row was
        refused after validation, and is dropped)."""
        claims = self.kept.pop(k)
        work = [(c, s) for c, s in zip(claims, serials, strict=True) if s is not None]
        return sign_claims(self.job, self.signer, self.key_id, work)

    def forget(self, k: int) -> None:
        """Drop chunk ``k``'s claims: every valid row of it was refused after validation."""
        self.kept.pop(k, None)
