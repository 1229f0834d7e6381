"""Issuing certificates: validate every row, then (in ONE database transaction) assign gapless
serials, build each certificate's salted document, sign its leaf with the issuer's SM2 key,
and store it as ``pending``. The batcher (:mod:`certs.batcher`) anchors pending certificates.

Rows that fail validation are reported with their line and every reason; the valid rows of
the same request are still issued. :func:`issue` runs in named steps, chunk by chunk
(:data:`CHUNK` rows):

1. plan — validate each chunk into its claims (:class:`~certs.issue_rows.ChunkWork`);
2. number — in the transaction, refuse agency numbers already used, give the valid rows
   their serials, in row order;
3. sign — complete each chunk's claims with the identifiers and sign them;
4. persist — store the signed certificates (:func:`certs.bulk_writes.insert_issued`);
5. pre-batch — build the whole batches the request fills (their Merkle trees), so the
   batcher only anchors them.

Plan and sign run on worker processes for large requests (:mod:`certs.workers` decides; the
workers live outside the transaction, started before it and stopped after it), each chunk on
one worker for both steps: the worker keeps the chunk's claims, so only short row facts come
back and only serials go out.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy.engine import Connection

from certs import clock
from certs.batcher import MAX_BATCH
from certs.bulk import gc_paused
from certs.bulk_writes import (
    CertificateRecord,
    analyze_if_grown,
    close_batch,
    insert_issued,
    open_batch,
)
from certs.errors import CertError, ValidationError
from certs.issue_rows import (
    CHUNK,
    SERIAL_WIDTH,
    ChunkWork,
    Entitlements,
    IssueJob,
    NumberedRow,
    RowRejection,
    SignedCertificate,
    ValidatedChunk,
    ValidRow,
    serial_text,
)
from certs.merkle import tree_bytes
from certs.store import Store, now
from certs.types import TypeDefinitions, default_registry
from certs.workers import BULK, Workers, worker_count
from seals.sm2 import KeySigner, Signer, Sm2PublicKey, sm3

__all__ = [
    "CHUNK",
    "PARALLEL_THRESHOLD",
    "SERIAL_WIDTH",
    "Entitlements",
    "IssuanceError",
    "IssueReport",
    "IssuedCertificate",
    "IssuerProfile",
    "RowRejection",
    "issue",
    "key_id_of",
    "serial_text",
]

PARALLEL_THRESHOLD = BULK
"""Below this many rows a request is signed in this process (:data:`certs.workers.BULK`)."""


def key_id_of(public_key: Sm2PublicKey) -> bytes:
    """The key id registered on chain: SM3 of the 65-byte uncompressed SM2 public point."""
    return sm3(public_key.point)


@dataclass(frozen=True)
class IssuerProfile:
    """Who issues: the agency and its signing key."""

    uscc: str
    name: str
    signer: Signer


@dataclass(frozen=True)
class IssuedCertificate:
    """A row that was accepted: stored durably, queued for anchoring."""

    line: int
    identifier: str
    leaf: bytes
    type_code: str = ""


@dataclass(frozen=True)
class IssueReport:
    accepted: tuple[IssuedCertificate, ...]
    rejected: tuple[RowRejection, ...]


def issue(
    store: Store,
    issuer: IssuerProfile,
    rows: Iterable[tuple[int, Any]],
    *,
    types: TypeDefinitions | None = None,
    today: dt.date | None = None,
    workers: int | None = None,
    progress: Callable[[int], object] | None = None,
    batch_size: int | None = MAX_BATCH,
    entitlements: Entitlements | None = None,
    reusable: Collection[str] = (),
    on_begin: Callable[[Connection], object] | None = None,
    before_commit: Callable[[Connection, IssueReport], object] | None = None,
) -> IssueReport:
    """Validate ``(line, row)`` pairs and issue the valid ones (status ``pending``).
    ``progress(n)`` is called as each chunk of ``n`` certificates is signed.

    Large requests are validated and signed on worker processes, chunk by chunk; serials are
    given here, in row order, and the whole request is one database transaction (serials stay
    gapless). A request that fills whole batches of ``batch_size`` (the batcher's size) gets
    them built here, in the same transaction, from its first accepted rows in row order: they
    are stored ``prepared``, tree and positions in, and the batcher only anchors them (it
    batches the rest as usual; # Why: bench/PERFORMANCE.md, "Issuance: batches built while
    storing"); ``None`` leaves every row to the batcher.

    ``entitlements``: rows of a type the issuer is not authorized for (in the row's
    jurisdiction, now) are rejected with the code ``not_authorized``. The service and the CLI
    always pass it (from the chain's catalogue and grants); ``None`` skips the check, for
    tests that must make what the service would refuse.

    A row whose agency number (``number``, 证照编号) is already used for its type by this
    issuer is rejected with the code ``duplicate_number``: used by an earlier row of the
    request (the first such row is issued), or held by a stored certificate that is not
    ``revoked`` or ``superseded``. The check is made in the issuance transaction, one query
    per chunk; ``reusable`` names certificates whose numbers may be given again (a
    replacement keeps the number of the certificate it supersedes). Rows without a number
    are not checked.

    ``on_begin(connection)`` runs first in the issuance transaction, ``before_commit(
    connection, report)`` last: what they write commits with the certificates, or not at
    all (the service keeps its audit events and idempotent answers so)."""
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be at least 1 or None, not {batch_size}")
    registry = types if types is not None else default_registry()
    rows = list(rows)
    job = IssueJob(
        issuer.uscc, issuer.name, today or clock.today(), registry,
        store.compresses_documents, entitlements,
    )
    work = ChunkWork(job, issuer.signer, key_id_of(issuer.signer.public_key), rows)
    # only an in-memory key can be handed to worker processes (an HSM signer stays here)
    count = 0
    if isinstance(issuer.signer, KeySigner):
        if len(rows) >= BULK:
            store.wait_for_checkpoints()  # its thread would keep this process from forking
        count = worker_count(len(rows), workers)
    with contextlib.ExitStack() as stack:
        if len(rows) >= BULK:
            stack.enter_context(gc_paused())
        place = _Place(
            work, stack.enter_context(Workers(count, partial(_work_of, work))) if count else None
        )
        planned = _plan(place, len(rows))
        with store.transaction() as connection:
            if on_begin is not None:
                on_begin(connection)
            steps = _Steps(store, connection, issuer.uscc, reusable)
            signing = steps.number(place, planned)
            report = steps.persist(signing, batch_size, progress)
            if before_commit is not None:
                before_commit(connection, report)
    analyze_if_grown(store.engine, len(report.accepted))
    return report


def _work_of(work: ChunkWork) -> ChunkWork:
    """A worker's state: the chunk work it inherited when it was forked."""
    return work


class _Place:
    """Where the chunk work runs: on worker processes (chunk ``k`` on worker ``k % count``,
    for every step: the worker keeps what it validated), or here."""

    def __init__(self, work: ChunkWork, workers: Workers[ChunkWork] | None) -> None:
        self.work, self.workers = work, workers

    def call(self, k: int, method: Callable[..., Any], *args: Any) -> Callable[[], Any]:
        """Run ``method(work, *args)`` for chunk ``k``; returns how to get its answer."""
        workers = self.workers
        if workers is None:
            answer = method(self.work, *args)
            return lambda: answer
        call = workers.submit(k % workers.count, method, *args)
        return lambda: workers.result(call)


def _plan(place: _Place, rows: int) -> list[Callable[[], ValidatedChunk]]:
    """Step 1: validate every chunk (on workers, this only sends them where each chunk
    starts; the answers are read as the transaction numbers them)."""
    if place.workers is None:  # here: each chunk when it is numbered, as it goes
        return [
            partial(ChunkWork.validate, place.work, k, start)
            for k, start in enumerate(range(0, rows, CHUNK))
        ]
    return [
        place.call(k, ChunkWork.validate, k, start)
        for k, start in enumerate(range(0, rows, CHUNK))
    ]


@dataclass(frozen=True)
class _Signing:
    """A chunk sent to be signed: its numbered rows, and how to get its certificates."""

    rows: tuple[NumberedRow, ...]
    signed: Callable[[], list[SignedCertificate]]


class _Steps:
    """Steps 2 to 5 of one request, inside its transaction."""

    def __init__(
        self, store: Store, connection: Connection, issuer: str, reusable: Collection[str]
    ) -> None:
        self.store, self.connection, self.issuer = store, connection, issuer
        self.numbers = _Numbers(store, connection, issuer, reusable)
        self.rejected: list[RowRejection] = []

    def number(
        self, place: _Place, planned: Sequence[Callable[[], ValidatedChunk]]
    ) -> list[_Signing]:
        """Step 2 (and 3 sent off): each chunk's valid rows numbered and sent to be signed;
        its rejected rows noted."""
        signing: list[_Signing] = []
        for k, validated in enumerate(planned):
            checked = validated()
            self.rejected += [row.rejection() for row in checked.invalid]
            if not checked.valid:
                continue
            # rows refused here take no serial; the chunk's claims (kept where it was
            # validated) stay aligned with its valid rows: a refused row's serial is None
            refused = self.numbers.refuse(checked.valid)
            for line, error in refused.values():
                self.rejected.append(RowRejection(line, (error,)))
            kept = [row for i, row in enumerate(checked.valid) if i not in refused]
            if not kept:
                place.call(k, ChunkWork.forget, k)
                continue
            numbered = self._serials(kept)
            given = iter(row.serial for row in numbered)
            slots = [None if i in refused else next(given) for i in range(len(checked.valid))]
            signing.append(_Signing(tuple(numbered), place.call(k, ChunkWork.sign, k, slots)))
        return signing

    def _serials(self, valid: Sequence[ValidRow]) -> list[NumberedRow]:
        """Serials for a chunk's valid rows, in row order."""
        counts: dict[str, int] = {}
        for row in valid:
            counts[row.type_code] = counts.get(row.type_code, 0) + 1
        ranges = {
            code: iter(self.store.allocate_serials(self.connection, self.issuer, code, n))
            for code, n in counts.items()
        }
        return [NumberedRow(row, next(ranges[row.type_code])) for row in valid]

    def persist(
        self,
        signing: Sequence[_Signing],
        batch_size: int | None,
        progress: Callable[[int], object] | None,
    ) -> IssueReport:
        """Steps 4 and 5: store each chunk as it is signed, placing the first rows (in row
        order) in the whole batches the request fills; then close those batches."""
        connection, issuer = self.connection, self.issuer
        created = now()
        size = batch_size or 0
        full = sum(len(chunk.rows) for chunk in signing) // size if size else 0
        batch_ids = [open_batch(connection, issuer, size) for _ in range(full)]
        batched: list[bytes] = []
        accepted: list[IssuedCertificate] = []
        for chunk in signing:
            records = []
            for numbered, certificate in zip(chunk.rows, chunk.signed(), strict=True):
                row = numbered.row
                batch_id = position = None
                if len(batched) < full * size:
                    batch_id, position = batch_ids[len(batched) // size], len(batched) % size
                    batched.append(certificate.leaf)
                records.append(
                    CertificateRecord(
                        certificate.identifier, issuer, row.type_code, numbered.serial, row.number,
                        certificate.leaf.hex(), "pending", batch_id, position,
                        certificate.document,
                    )
                )
                accepted.append(
                    IssuedCertificate(
                        row.line, certificate.identifier, certificate.leaf, row.type_code
                    )
                )
            insert_issued(connection, records, created)
            if progress is not None:
                progress(len(chunk.rows))
        for k, batch_id in enumerate(batch_ids):
            leaves = b"".join(batched[k * size : (k + 1) * size])
            close_batch(connection, batch_id, tree_bytes(leaves))
        accepted.sort(key=lambda a: a.line)
        self.rejected.sort(key=lambda r: r.line)
        return IssueReport(tuple(accepted), tuple(self.rejected))


class _Numbers:
    """The agency numbers (证照编号) of one request: which are already used for their type,
    by an earlier row of the request or by a stored certificate in force."""

    def __init__(
        self, store: Store, connection: Connection, issuer: str, reusable: Collection[str]
    ) -> None:
        self.store, self.connection, self.issuer = store, connection, issuer
        self.reusable = frozenset(reusable)
        self.first: dict[tuple[str, str], int] = {}
        """(type, number) → the line that got it in this request."""
        self.locked: set[str] = set()

    def refuse(self, valid: Sequence[ValidRow]) -> dict[int, tuple[int, ValidationError]]:
        """Of a chunk's valid rows: ``{index: (line, error)}`` of those whose number is
        taken (one query for the chunk)."""
        numbered = [(i, row) for i, row in enumerate(valid) if row.number is not None]
        if not numbered:
            return {}
        types = {row.type_code for _, row in numbered} - self.locked
        if types:
            self.store.lock_numbers(self.connection, self.issuer, types)
            self.locked |= types
        held = self.store.numbers_held(
            self.connection,
            self.issuer,
            [
                (row.type_code, row.number)
                for _, row in numbered
                if row.number is not None and (row.type_code, row.number) not in self.first
            ],
            except_identifiers=self.reusable,
        )
        refused: dict[int, tuple[int, ValidationError]] = {}
        for i, row in numbered:
            assert row.number is not None
            pair = (row.type_code, row.number)
            if pair in self.first:
                message = (
                    f"number {row.number} is already used by line {self.first[pair]} of this "
                    "request for the same certificate type; give each certificate its own "
                    "number"
                )
            elif pair in held:
                identifier, status = held[pair]
                message = (
                    f"number {row.number} is already held by certificate {identifier} "
                    f"({status}) of the same type; give this certificate another number, or "
                    "revoke or supersede that one first"
                )
            else:
                self.first[pair] = row.line
                continue
            error = ValidationError(message, field="number", code="duplicate_number")
            refused[i] = (row.line, error)
        return refused


class IssuanceError(CertError):
    code = "issuance_error"
