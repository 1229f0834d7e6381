"""Writes of many rows at once, inside the caller's transaction: newly issued certificates
(:func:`insert_issued`), the batches issuance builds itself (:func:`open_batch`,
:func:`close_batch`) and the batcher's placing of certificates in a batch
(:func:`assign_batch`). Each takes the fastest way its database offers — the dialect branches
live here, not in the callers. After a bulk insert, :func:`analyze_if_grown` keeps
PostgreSQL's statistics of the certificate tables from falling far behind them."""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from certs.schema import batches, certificates

_log = logging.getLogger(__name__)

CERTIFICATE_COLUMNS = (
    "identifier", "issuer", "type_code", "serial", "number", "leaf", "status", "batch_id",
    "batch_index", "created_at",
)
"""The columns :func:`insert_issued` writes, in order."""


@dataclass(frozen=True, slots=True)
class CertificateRecord:
    """A newly issued certificate as stored: its row and its document."""

    identifier: str
    issuer: str
    type_code: str
    serial: int
    number: str | None
    leaf: str
    """The leaf digest, hex."""
    status: str
    batch_id: int | None
    batch_index: int | None
    document: str | bytes
    """The document JSON, or its zlib stream (:func:`certs.documents.compress_document`)."""

    def row(self, created_at: object) -> tuple[object, ...]:
        """The values of :data:`CERTIFICATE_COLUMNS`."""
        return (
            self.identifier, self.issuer, self.type_code, self.serial, self.number, self.leaf,
            self.status, self.batch_id, self.batch_index, created_at,
        )


def insert_issued(
    connection: Connection, records: Sequence[CertificateRecord], created_at: dt.datetime
) -> None:
    """Store newly issued certificates, all created at ``created_at``. PostgreSQL (psycopg)
    writes through ``COPY``, otherwise the driver's ``executemany`` (SQLAlchemy's, with its
    per-row parameter processing, is slower: # Why: bench/PERFORMANCE.md, "Storing issued
    certificates"); commit not included."""
    if not records:
        return
    names = CERTIFICATE_COLUMNS
    dialect = connection.dialect
    if dialect.name == "postgresql" and dialect.driver == "psycopg":
        driver = connection.connection.driver_connection
        assert driver is not None
        rows_sql = f"COPY certificates ({', '.join(names)}) FROM STDIN"
        documents_sql = "COPY certificate_documents (identifier, document) FROM STDIN"
        with driver.cursor() as cursor:
            with cursor.copy(rows_sql) as copy:
                for record in records:
                    copy.write_row(record.row(created_at))
            with cursor.copy(documents_sql) as copy:
                for record in records:
                    copy.write_row((record.identifier, record.document))
        return
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    # the driver gets the timestamp as SQLAlchemy would have written it
    processor = certificates.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)
    created = created_at if processor is None else processor(created_at)
    connection.exec_driver_sql(
        f"INSERT INTO certificates ({', '.join(names)}) "
        f"VALUES ({', '.join([mark] * len(names))})",
        [record.row(created) for record in records],
    )
    connection.exec_driver_sql(
        f"INSERT INTO certificate_documents (identifier, document) VALUES ({mark}, {mark})",
        [(record.identifier, record.document) for record in records],
    )


def open_batch(connection: Connection, issuer: str, leaf_count: int) -> int:
    """A batch whose certificates are being inserted (``building``: the batcher leaves it
    alone); :func:`close_batch` gives it its tree before the transaction commits."""
    return int(
        connection.execute(
            batches.insert()
            .values(
                issuer=issuer,
                root=f"building-{secrets.token_hex(16)}",  # unique until its tree is in
                leaf_count=leaf_count,
                state="building",
                created_at=dt.datetime.now(dt.UTC),
            )
            .returning(batches.c.id)
        ).scalar_one()
    )


def close_batch(connection: Connection, batch_id: int, tree: bytes) -> None:
    """Store the tree of a batch from :func:`open_batch` (:func:`certs.merkle.tree_bytes` of
    its leaves, in position order): it is ``prepared``, for the batcher to anchor."""
    connection.execute(
        batches.update()
        .where(batches.c.id == batch_id, batches.c.state == "building")
        .values(root=tree[-32:].hex(), tree=tree, state="prepared")
    )


def assign_batch(connection: Connection, batch_id: int, identifiers: Sequence[str]) -> None:
    """Put certificates into a batch, each at its position in ``identifiers`` (its leaf's
    index in the batch's tree), in one statement over the list where the database can,
    otherwise through the driver's ``executemany`` (# Why: bench/PERFORMANCE.md, "Assigning
    certificates to a batch")."""
    name = connection.dialect.name
    if name == "postgresql":
        connection.exec_driver_sql(
            "UPDATE certificates SET batch_id = %s, batch_index = v.position - 1 "
            "FROM unnest(%s::text[]) WITH ORDINALITY AS v(identifier, position) "
            "WHERE certificates.identifier = v.identifier",
            (batch_id, list(identifiers)),
        )
        return
    version = connection.dialect.server_version_info or ()
    if name == "sqlite" and version >= (3, 38):  # UPDATE … FROM, JSON built in
        connection.exec_driver_sql(
            "UPDATE certificates SET batch_id = ?, batch_index = j.key "
            "FROM json_each(?) AS j WHERE certificates.identifier = j.value",
            (batch_id, json.dumps(list(identifiers))),
        )
        return
    assign_batch_row_by_row(connection, batch_id, identifiers)


def assign_batch_row_by_row(
    connection: Connection, batch_id: int, identifiers: Sequence[str]
) -> None:
    """:func:`assign_batch` one row at a time through the driver's ``executemany``, for
    databases without a list form (SQLite before 3.38, as on Ubuntu 22.04)."""
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    connection.exec_driver_sql(
        f"UPDATE certificates SET batch_id = {mark}, batch_index = {mark} "
        f"WHERE identifier = {mark}",
        [(batch_id, index, identifier) for index, identifier in enumerate(identifiers)],
    )


def analyze_if_grown(engine: Engine, added: int) -> bool:
    """PostgreSQL, after ``added`` certificates were committed: analyze the certificate
    tables when the rows changed since their statistics were taken (these included) are
    at least as many as the rows they counted then (or they have none yet: a new database).
    Until autovacuum's next analyze, which may come minutes later, the planner would take a
    table of a million rows for the size it had when last analyzed, and read every
    certificate of a type to look up a request's agency numbers (# Why:
    bench/PERFORMANCE.md, "Scale"). So it runs about log2(rows) times over a table's life
    (less when autovacuum analyzes first), each a sample of at most 30,000 rows, in its own
    short transaction after the issuance's; a failure is logged, never raised (the
    certificates are stored). Returns whether it analyzed."""
    if engine.dialect.name != "postgresql" or added <= 0:
        return False
    try:
        with engine.connect() as connection:
            row = connection.exec_driver_sql(
                "SELECT c.reltuples, s.n_mod_since_analyze FROM pg_class c "
                "LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid "
                "WHERE c.oid = 'certificates'::regclass"
            ).first()
            known = -1.0 if row is None or row[0] is None else float(row[0])
            changed = added + int(row[1] or 0) if row is not None else added
            # reltuples -1: never analyzed; the counters may not hold this request yet
            if known >= 0 and changed < max(known, 1.0):
                return False
            connection.exec_driver_sql("ANALYZE certificates, certificate_documents")
            connection.commit()
    except sa.exc.SQLAlchemyError as exc:
        _log.warning("analyzing the certificate tables failed: %s", type(exc).__name__)
        return False
    return True
