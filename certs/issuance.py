"""Issuing certificates: validate every row, then (in ONE database transaction) assign gapless
serials, build each certificate's salted document, sign its leaf with the issuer's SM2 key,
and store it as ``pending``. The batcher (:mod:`certs.batcher`) anchors pending certificates.

Rows that fail validation are reported with their line and every reason; the valid rows of
the same request are still issued. Large requests use every core: worker processes (forked,
so only from a single-threaded process such as the CLI; the multi-threaded service signs
in-process) validate chunks of rows into their claims and keep them, this process gives the
valid ones their serials (in row order), and the worker that validated a chunk completes its
claims with the identifiers and signs them; nothing but plain data crosses process
boundaries.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import multiprocessing
import os
import threading
from collections.abc import Callable, Collection, Iterable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.engine import Connection

from certs import clock
from certs.batcher import MAX_BATCH
from certs.bulk import die_with_parent, gc_paused
from certs.canonical import (
    ClaimValue,
    IssuerSignature,
    document_text,
    issue_claim_values,
    request_claims,
    signing_input,
)
from certs.errors import CertError, RequestInvalid, ValidationError
from certs.identifiers import build_identifier
from certs.merkle import tree_bytes
from certs.model import parse_request
from certs.store import Store, compress_document, now
from certs.types import TypeDefinitions, default_registry
from seals.sm2 import KeySigner, Signer, Sm2PublicKey, sm3

SERIAL_WIDTH = 8
"""Serials are decimal, zero-padded to at least this many digits."""
PARALLEL_THRESHOLD = 2_000
"""Below this many certificates, signing in one process is faster than starting workers."""
CHUNK = 500


def key_id_of(public_key: Sm2PublicKey) -> bytes:
    """The key id registered on chain: SM3 of the 65-byte uncompressed SM2 public point."""
    return sm3(public_key.point)


@dataclass(frozen=True)
class IssuerProfile:
    """Who issues: the agency and its signing key."""

    uscc: str
    name: str
    signer: Signer


class Entitlements(Protocol):
    """What an issuer may issue, as the chain's catalogue and grants say (built by
    :func:`verifier.catalogue.entitlements`; plain data, so worker processes can hold it)."""

    def why_not(self, type_code: str, jurisdiction: str) -> str | None:
        """``None`` if the issuer may issue ``type_code`` in ``jurisdiction`` now; else why
        not, as a sentence a clerk can act on."""
        ...


@dataclass(frozen=True)
class RowRejection:
    """A row that was not issued, and every reason why."""

    line: int
    errors: tuple[ValidationError, ...]

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "errors": [e.to_dict() for e in self.errors]}


@dataclass(frozen=True)
class IssuedCertificate:
    """A row that was accepted: stored durably, queued for anchoring."""

    line: int
    identifier: str
    leaf: bytes


@dataclass(frozen=True)
class IssueReport:
    accepted: tuple[IssuedCertificate, ...]
    rejected: tuple[RowRejection, ...]


def serial_text(serial: int) -> str:
    return str(serial).zfill(SERIAL_WIDTH)


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
    batches the rest as usual). Built by the batcher, a batch of 10,000 first read back what
    was just written (~0.1 s); ``None`` leaves every row to the batcher.

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
    today = today or clock.today()
    rows = list(rows)
    key_id = key_id_of(issuer.signer.public_key)
    job = _Job(
        issuer.uscc, issuer.name, today, registry, store.compresses_documents, entitlements
    )
    count = workers if workers is not None else (os.cpu_count() or 1)
    bulk = len(rows) >= PARALLEL_THRESHOLD
    # only an in-memory key can be handed to worker processes (an HSM signer stays here)
    parallel = bulk and count > 1 and isinstance(issuer.signer, KeySigner)
    if parallel:
        store.wait_for_checkpoints()  # its thread would keep this process from forking
        parallel = _can_fork()
    rejected: list[RowRejection] = []
    accepted: list[IssuedCertificate] = []
    with store.transaction() as connection, contextlib.ExitStack() as stack:
        if on_begin is not None:
            on_begin(connection)
        numbers = _Numbers(store, connection, issuer.uscc, reusable)
        if bulk:
            stack.enter_context(gc_paused())
        # one worker process per pool, and chunk k goes to worker k % count for both steps:
        # the worker keeps the chunk's claims between them, so only (line, type, number)
        # comes back and only serials go out (sending the claims both ways cost ~18% of the
        # CPU, a quarter of this process's)
        pools = (
            [stack.enter_context(_pool(job, issuer.signer, key_id, rows)) for _ in range(count)]
            if parallel
            else []
        )
        # (line, type code, agency number, serial) of each row sent to be signed, and the
        # signing: a future on a pool, or its result
        submitted: list[tuple[list[tuple[int, str, str | None, int]], Any]] = []

        def numbered(valid: list[tuple[int, str, str | None]]) -> list[int]:
            """Serials for a chunk's valid rows ``(line, type, number)``, in row order."""
            counts: dict[str, int] = {}
            for _, type_code, _ in valid:
                counts[type_code] = counts.get(type_code, 0) + 1
            ranges = {
                code: iter(store.allocate_serials(connection, issuer.uscc, code, n))
                for code, n in counts.items()
            }
            return [next(ranges[type_code]) for _, type_code, _ in valid]

        # validation runs on the workers too (it costs as much as signing); serials are
        # given here, in row order, to the rows found valid
        starts = range(0, len(rows), CHUNK)
        outcomes: Iterable[_Checked]
        if pools:
            # a worker has the rows already (forked after they were read): it is sent where
            # its chunk starts (pickling the rows here and reading them there cost ~4% of
            # the request)
            checks = [
                pools[k % count].submit(_worker_validate, k, start)
                for k, start in enumerate(starts)
            ]
            outcomes = (future.result() for future in checks)
        else:
            outcomes = (_validate_chunk(job, rows[start : start + CHUNK]) for start in starts)
        for k, (valid, invalid, claims) in enumerate(outcomes):
            rejected += [
                RowRejection(line, tuple(ValidationError(m, field=f, code=c) for m, f, c in errors))
                for line, errors in invalid
            ]
            if not valid:
                continue
            # rows refused here take no serial; the claims of a chunk (kept by its worker)
            # stay aligned with its valid rows: a refused row's serial is None, and skipped
            refused = numbers.refuse(valid)
            for line, error in refused.values():
                rejected.append(RowRejection(line, (error,)))
            kept = [row for i, row in enumerate(valid) if i not in refused]
            serials = numbered(kept) if kept else []
            given = iter(serials)
            slots = [None if i in refused else next(given) for i in range(len(valid))]
            if not kept:
                if pools:
                    pools[k % count].submit(_worker_forget, k)
                continue
            meta = [(line, t, n, s) for (line, t, n), s in zip(kept, serials, strict=True)]
            if pools:
                submitted.append((meta, pools[k % count].submit(_worker_sign, k, slots)))
            else:
                work = _slotted(claims, slots)
                submitted.append((meta, _sign_chunk(job, issuer.signer, key_id, work)))
        created = now()
        uscc = issuer.uscc
        # whole batches, filled in row order: their ids, and the leaves placed in them
        size = batch_size or 0
        full = sum(len(meta) for meta, _ in submitted) // size if size else 0
        batch_ids = [store.open_batch(connection, uscc, size) for _ in range(full)]
        batched: list[bytes] = []
        for meta, outcome in submitted:
            signed = outcome.result() if pools else outcome
            records = []
            for (_, type_code, number, serial), (identifier, leaf, _) in zip(
                meta, signed, strict=True
            ):
                batch_id = position = None
                if len(batched) < full * size:
                    batch_id, position = batch_ids[len(batched) // size], len(batched) % size
                    batched.append(leaf)
                records.append(
                    (identifier, uscc, type_code, serial, number, leaf.hex(), "pending",
                     batch_id, position)
                )
            store.insert_issued(
                connection,
                records,
                [(identifier, document) for identifier, _, document in signed],
                created,
            )
            accepted += [
                IssuedCertificate(line, identifier, leaf)
                for (line, *_), (identifier, leaf, _) in zip(meta, signed, strict=True)
            ]
            if progress is not None:
                progress(len(meta))
        for k, batch_id in enumerate(batch_ids):
            leaves = b"".join(batched[k * size : (k + 1) * size])
            store.close_batch(connection, batch_id, tree_bytes(leaves))
        accepted.sort(key=lambda a: a.line)
        rejected.sort(key=lambda r: r.line)
        report = IssueReport(tuple(accepted), tuple(rejected))
        if before_commit is not None:
            before_commit(connection, report)
    return report


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

    def refuse(
        self, valid: Sequence[tuple[int, str, str | None]]
    ) -> dict[int, tuple[int, ValidationError]]:
        """Of a chunk's valid rows ``(line, type, number)``: ``{index: (line, error)}`` of
        those whose number is taken (one query for the chunk)."""
        numbered = [(i, line, t, n) for i, (line, t, n) in enumerate(valid) if n is not None]
        if not numbered:
            return {}
        types = {t for _, _, t, _ in numbered} - self.locked
        if types:
            self.store.lock_numbers(self.connection, self.issuer, types)
            self.locked |= types
        held = self.store.numbers_held(
            self.connection,
            self.issuer,
            [(t, n) for _, _, t, n in numbered if (t, n) not in self.first],
            except_identifiers=self.reusable,
        )
        refused: dict[int, tuple[int, ValidationError]] = {}
        for i, line, type_code, number in numbered:
            pair = (type_code, number)
            if pair in self.first:
                message = (
                    f"number {number} is already used by line {self.first[pair]} of this "
                    "request for the same certificate type; give each certificate its own "
                    "number"
                )
            elif pair in held:
                identifier, status = held[pair]
                message = (
                    f"number {number} is already held by certificate {identifier} "
                    f"({status}) of the same type; give this certificate another number, or "
                    "revoke or supersede that one first"
                )
            else:
                self.first[pair] = line
                continue
            refused[i] = (line, ValidationError(message, field="number", code="duplicate_number"))
        return refused


def _slotted(claims: Sequence[_Claims], slots: Sequence[int | None]) -> list[tuple[_Claims, int]]:
    """``(claims, serial)`` of the rows given a serial (a refused row's slot is None)."""
    return [(c, s) for c, s in zip(claims, slots, strict=True) if s is not None]


@dataclass(frozen=True)
class _Job:
    issuer_uscc: str
    issuer_name: str
    today: dt.date
    types: TypeDefinitions
    compress: bool = False
    """Store documents as zlib streams (:attr:`Store.compresses_documents`)."""
    entitlements: Entitlements | None = None


_Claims = dict[str, ClaimValue]
"""A valid row's claims, but the identifier (set once the serial is known)."""

_Checked = tuple[
    list[tuple[int, str, "str | None"]],
    list[tuple[int, list[tuple[str, str, str]]]],
    list[_Claims],
]
"""A validated chunk: ``(line, type code, agency number)`` of the valid rows, ``(line,
[(message, field, code), …])`` of the others, and the valid rows' claims (a worker keeps
those itself and returns an empty list; only plain data crosses processes)."""


def _validate_chunk(job: _Job, chunk: Sequence[tuple[int, Any]]) -> _Checked:
    valid: list[tuple[int, str, str | None]] = []
    invalid: list[tuple[int, list[tuple[str, str, str]]]] = []
    claims: list[_Claims] = []
    types, name = job.types, job.issuer_name
    for line, row in chunk:
        try:
            request = parse_request(
                row, issuer_uscc=job.issuer_uscc, registry=types, today=job.today
            )
        except RequestInvalid as exc:
            invalid.append((line, [(e.reason, e.field, e.code) for e in exc.errors]))
            continue
        refused = (
            None
            if job.entitlements is None
            else job.entitlements.why_not(request.type_code, request.jurisdiction)
        )
        if refused is not None:
            invalid.append((line, [(refused, "type", "not_authorized")]))
        else:
            valid.append((line, request.type_code, request.number))
            claims.append(
                request_claims(
                    request, certificate_type=types.get(request.type_code), issuer_name=name
                )
            )
    return valid, invalid, claims


def _sign_chunk(
    job: _Job, signer: Signer, key_id: bytes, work: Sequence[tuple[_Claims, int]]
) -> list[tuple[str, bytes, str | bytes]]:
    """``(identifier, leaf, document as stored)`` of each ``(claims, serial)``: the JSON, or
    its zlib stream if ``job.compress`` (done here, on the workers); each claims dict is
    completed with its identifier."""
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
    out: list[tuple[str, bytes, str | bytes]] = []
    for (identifier, leaf, json), value in zip(digested, signatures, strict=True):
        text = document_text(json, leaf, IssuerSignature(key_id, point, value))
        out.append((identifier, leaf, compress_document(text) if job.compress else text))
    return out


_worker: tuple[_Job, Signer, bytes, Sequence[tuple[int, Any]]] | None = None
"""In a worker: the job, the key, its id, and every row of the request."""
_kept: dict[int, list[_Claims]] = {}
"""In a worker: the claims of each chunk it validated, until it signs them."""


def _worker_init(
    parent: int, job: _Job, signer: Signer, key_id: bytes, rows: Sequence[tuple[int, Any]]
) -> None:
    global _worker
    die_with_parent(parent)  # a killed `zhengyin issue` leaves no worker behind
    _worker = (job, signer, key_id, rows)
    _kept.clear()


def _worker_validate(k: int, start: int) -> _Checked:
    """Validate chunk ``k``, the rows from ``start``, and keep its claims."""
    assert _worker is not None
    with gc_paused():
        valid, invalid, claims = _validate_chunk(_worker[0], _worker[3][start : start + CHUNK])
    _kept[k] = claims
    return valid, invalid, []


def _worker_sign(k: int, slots: Sequence[int | None]) -> list[tuple[str, bytes, str | bytes]]:
    """Sign chunk ``k``'s kept claims, each valid row with its serial (``None``: the row
    was refused after validation, and is dropped)."""
    assert _worker is not None
    job, signer, key_id, _ = _worker
    with gc_paused():
        return _sign_chunk(job, signer, key_id, _slotted(_kept.pop(k), slots))


def _worker_forget(k: int) -> None:
    """Drop chunk ``k``'s claims: every valid row of it was refused after validation."""
    _kept.pop(k, None)


def _can_fork() -> bool:
    """Whether worker processes can be forked: on POSIX, while this process runs a single
    thread. A process running other threads (the service) signs in-process instead: forking
    it is unsafe, and spawning workers (a fresh interpreter each, importing the application)
    cost more than they saved (measured: 10,000 certificates 3.5 s with two spawned workers,
    2.7 s in-process)."""
    return os.name == "posix" and threading.active_count() == 1


def _pool(
    job: _Job, signer: Signer, key_id: bytes, rows: Sequence[tuple[int, Any]]
) -> Executor:
    """One worker process, forked at its first task: the job, the key (which refuses to be
    pickled) and the request's rows pass without pickling."""
    return ProcessPoolExecutor(
        1,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_worker_init,
        initargs=(os.getpid(), job, signer, key_id, rows),
    )


class IssuanceError(CertError):
    code = "issuance_error"
