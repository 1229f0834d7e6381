"""The service's database: issuers, API keys, serial counters, certificates, batches,
status changes. SQLAlchemy 2 Core over SQLite (default) or PostgreSQL; the schema is owned by
Alembic migrations (``certs/migrations``), applied on :meth:`Store.open`.

The database holds what the chain must not: the certificates themselves (personal data,
salts). The chain stays the authority on anchors and status.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import secrets
import threading
import weakref
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from isal import isal_zlib
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from certs.errors import CertError, DocumentError
from chain.rpc import redact_url

_log = logging.getLogger(__name__)

_stores: weakref.WeakSet[Store] = weakref.WeakSet()
"""Every open store of this process (a forked child forgets their checkpoint threads)."""


def _after_fork_in_child() -> None:
    for store in list(_stores):
        store._forget_checkpoints()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)

metadata = sa.MetaData()

issuers = sa.Table(
    "issuers",
    metadata,
    sa.Column("uscc", sa.String(18), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("account", sa.String(42), nullable=False),
    sa.Column("key_id", sa.String(64), nullable=False),
    sa.Column("public_key", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("subject", sa.String(200), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
)

serials = sa.Table(
    "serials",
    metadata,
    sa.Column("issuer", sa.String(18), primary_key=True),
    sa.Column("type_code", sa.String(21), primary_key=True),
    sa.Column("next_serial", sa.BigInteger, nullable=False),
)

batches = sa.Table(
    "batches",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("issuer", sa.String(18), nullable=False, index=True),
    sa.Column("root", sa.String(64), nullable=False, unique=True),
    sa.Column("leaf_count", sa.Integer, nullable=False),
    sa.Column("state", sa.String(16), nullable=False, index=True),
    sa.Column("tx_hash", sa.String(66)),
    sa.Column("block_number", sa.BigInteger),
    sa.Column("anchored_at", sa.DateTime(timezone=True)),
    sa.Column("chain_id", sa.BigInteger),
    sa.Column("contract", sa.String(42)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("tree", sa.LargeBinary),
    # every node of the batch's Merkle tree, level 0 first, 32 bytes each (certs.merkle);
    # PostgreSQL: STORAGE EXTERNAL (migration 0004), so substrings read only what they need
)

certificates = sa.Table(
    "certificates",
    metadata,
    sa.Column("identifier", sa.String(120), primary_key=True),
    sa.Column("issuer", sa.String(18), nullable=False, index=True),
    sa.Column("type_code", sa.String(21), nullable=False),
    sa.Column("serial", sa.BigInteger, nullable=False),
    sa.Column("number", sa.String(64), index=True),
    sa.Column("leaf", sa.String(64), nullable=False, unique=True),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("batch_id", sa.Integer, sa.ForeignKey("batches.id"), index=True),
    sa.Column("proof", sa.Text),
    # JSON proof, only for certificates anchored before migration 0003
    sa.Column("supersedes", sa.String(120)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("batch_index", sa.Integer),
    # the leaf's position in its batch's tree
    sa.UniqueConstraint("issuer", "type_code", "serial", name="uq_certificate_serial"),
    sa.Index("ix_certificates_issuer_type_number", "issuer", "type_code", "number"),
    # issuance looks up the agency numbers of each chunk of rows in one query (migration 0006)
)

certificate_documents = sa.Table(
    "certificate_documents",
    metadata,
    sa.Column("identifier", sa.String(120), primary_key=True),
    sa.Column("document", sa.Text, nullable=False),
    # kept apart so that the certificate rows the batcher updates stay narrow;
    # PostgreSQL: COMPRESSION lz4 where the server has it (migration 0004); SQLite: the JSON
    # text, or (issued since) a zlib stream of it, a BLOB (see Store.compresses_documents)
)

status_changes = sa.Table(
    "status_changes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("identifier", sa.String(120), nullable=False, index=True),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("reason_code", sa.Integer, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("tx_hash", sa.String(66)),
    sa.Column("block_number", sa.BigInteger),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("note", sa.Text),
    # set on a change this service made without a request: "resent: …" (the chain lost the
    # first transaction in a rollback) or "reconciled: …" (the database followed the chain)
)

chain_cursor = sa.Table(
    "chain_cursor",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("chain_id", sa.BigInteger, nullable=False),
    sa.Column("contract", sa.String(42), nullable=False),
    sa.Column("block", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("block_hash", sa.String(66)),
    # the hash of ``block`` when it was indexed: a catch-up first checks the chain still has it
    sa.Column("generation", sa.BigInteger, nullable=False, server_default="0"),
    # bumped by every rewind: each process drops its cached chain facts when it moves
    sa.Column("rewound_to", sa.BigInteger),
    # the block the last rewind went back to
)

chain_checkpoints = sa.Table(
    "chain_checkpoints",
    metadata,
    sa.Column("block_number", sa.BigInteger, primary_key=True),
    sa.Column("block_hash", sa.String(66), nullable=False),
)

chain_anchors = sa.Table(
    "chain_anchors",
    metadata,
    sa.Column("root", sa.String(64), primary_key=True),
    sa.Column("issuer", sa.String(18), nullable=False),
    sa.Column("leaf_count", sa.Integer, nullable=False),
    sa.Column("block_number", sa.BigInteger, nullable=False),
    sa.Column("timestamp", sa.BigInteger, nullable=False),
    sa.Column("tx_hash", sa.String(66), nullable=False),
)

chain_status = sa.Table(
    "chain_status",
    metadata,
    sa.Column("issuer", sa.String(18), primary_key=True),
    sa.Column("leaf", sa.String(64), primary_key=True),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("reason", sa.Integer, nullable=False),
    sa.Column("block_number", sa.BigInteger, nullable=False),
    sa.Column("timestamp", sa.BigInteger, nullable=False),
    sa.Column("superseded_by", sa.String(64)),
)

chain_keys = sa.Table(
    "chain_keys",
    metadata,
    sa.Column("issuer", sa.String(18), primary_key=True),
    sa.Column("key_id", sa.String(64), primary_key=True),
    sa.Column("valid_from", sa.BigInteger, nullable=False),
    sa.Column("valid_until", sa.BigInteger),
    sa.Column("compromised_at", sa.BigInteger),
    sa.Column("public_key", sa.String(130)),
)

chain_events = sa.Table(
    "chain_events",
    metadata,
    sa.Column("block_number", sa.BigInteger, primary_key=True),
    sa.Column("log_index", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(40), nullable=False),
    sa.Column("issuer", sa.String(18), index=True),
    sa.Column("subject", sa.String(64), index=True),
    sa.Column("other", sa.String(64), index=True),
    sa.Column("timestamp", sa.BigInteger, nullable=False),
    sa.Column("tx_hash", sa.String(66), nullable=False),
    sa.Column("args", sa.Text, nullable=False),
)

presentations = sa.Table(
    "presentations",
    metadata,
    sa.Column("code_hash", sa.String(64), primary_key=True),
    sa.Column("identifier", sa.String(120), nullable=False, index=True),
    sa.Column("purpose", sa.String(200), nullable=False),
    sa.Column("fields", sa.Text),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("used_at", sa.DateTime(timezone=True)),
    sa.Column("used_by", sa.String(200)),
)

service_events = sa.Table(
    "service_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("identifier", sa.String(120), nullable=False, index=True),
    sa.Column("event", sa.String(20), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("principal", sa.String(220), primary_key=True),
    # who asked (``role:subject``): another caller's same key is another key
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("digest", sa.String(64), nullable=False),
    # SHA-256 of the request (route, content type, body): never the body itself
    sa.Column("status_code", sa.Integer, nullable=False),
    sa.Column("response", sa.Text, nullable=False),
    # the JSON answer as sent; the key is claimed and answered in the transaction that
    # issues, so no other transaction ever sees it unanswered (migration 0006)
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
HEAD_REVISION = "0006"
"""The newest migration's revision (a test holds it equal to Alembic's head)."""


class StoreError(CertError):
    code = "store_error"


def _reason(exc: BaseException | None) -> str:
    """What a database driver's error says, fit for a message: its first line only (a
    driver's further lines quote the statement and the values of a row, which may be
    personal data), credentials removed, at most 200 characters."""
    lines = str(exc).strip().splitlines() if exc is not None else []
    text = lines[0].strip() if lines else "no reason given"
    text = re.sub(r"(?i)\b(password|passwd|pwd)\s*=\s*\S+", r"\1=***", text)
    text = re.sub(r"([a-z][a-z0-9+.-]*://)[^/\s@]*@", r"\1***@", text)
    return text if len(text) <= 200 else text[:200] + "…"


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class StoredIssuer:
    uscc: str
    name: str
    account: str
    key_id: bytes
    public_key: bytes


class Store:
    """One database. Thread-safe (one engine, a connection per unit of work).

    SQLite runs in WAL mode, and its connections never checkpoint as they commit: after each
    write transaction a background thread copies the WAL into the database file and syncs
    both (``PRAGMA wal_checkpoint(PASSIVE)``, see :meth:`wait_for_checkpoints`). Issuing
    10,000 certificates, that checkpoint took ~0.2 s of the request, and the anchoring that
    followed paid another ~0.05 s for its own. A process crash loses nothing either way (the
    pages are in the WAL); against power loss (``synchronous=NORMAL``) a commit is safe once
    its checkpoint has synced it, a fraction of a second later, where before a commit that
    did not fill the WAL to 1,000 pages waited for a later one to do it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._forget_checkpoints()
        _stores.add(self)

    def _forget_checkpoints(self) -> None:
        """No checkpoint running or due (a new store, or a forked child: the thread that may
        have run in its parent does not exist in it, and its lock may have been held)."""
        self._checkpoint_lock = threading.Lock()
        self._checkpoint_due = False
        self._checkpointer: threading.Thread | None = None

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Store:
        """Connect, and bring the schema up to date with the migrations."""
        # no statement's values in any error text (they may be personal data)
        kwargs: dict[str, Any] = {"hide_parameters": True}
        if url.startswith("sqlite"):
            path = url.split(":///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": 30}
        try:
            engine = sa.create_engine(url, **kwargs)
        except (sa.exc.ArgumentError, ImportError) as exc:
            shown = redact_url(url)  # a database URL may carry a password
            raise StoreError(
                f"the database URL {shown} is not usable: "
                f"{str(exc).replace(url, shown)}",
                code="database_url",
            ) from None
        if url.startswith("sqlite"):
            sa.event.listen(engine, "connect", _sqlite_pragmas)
        store = cls(engine)
        if migrate:
            store.migrate()
        return store

    def migrate(self) -> None:
        """Upgrade the schema to :data:`HEAD_REVISION`. A database already there is left as
        it is without loading Alembic (its import and script scan took ~0.3 s of every CLI
        command)."""
        if self._revisions() == [HEAD_REVISION]:
            return
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        try:
            with self.engine.begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        except sa.exc.OperationalError as exc:
            raise StoreError(
                f"the database is not reachable: {_reason(exc.orig)}",
                code="database_unavailable",
            ) from exc
        self._checkpoint_soon()

    def _revisions(self) -> list[str] | None:
        """The revisions recorded in ``alembic_version``; None if that cannot be read (a new
        or unreachable database: Alembic then creates it, or reports the error)."""
        try:
            with self.engine.connect() as connection:
                rows = connection.exec_driver_sql("SELECT version_num FROM alembic_version")
                return [str(version) for version in rows.scalars()]
        except sa.exc.DBAPIError:
            return None

    @contextmanager
    def reader(self) -> Iterator[Callable[..., list[tuple[Any, ...]]]]:
        """Plain reads on one pooled connection through the database driver itself, for the
        hot path of verification (SQLAlchemy's statement machinery costs ~200 µs a query,
        the driver ~30 µs). Yields ``fetch(sql, *params) -> rows``; write the SQL with
        ``?`` placeholders (rewritten for the driver) and name the columns."""
        style = self.engine.dialect.paramstyle
        try:
            connection = self.engine.raw_connection()
        except sa.exc.DBAPIError as exc:
            raise StoreError(
                f"the database is not reachable: {_reason(exc.orig)}",
                code="database_unavailable",
            ) from exc
        dbapi_error = self.engine.dialect.loaded_dbapi.Error
        try:
            cursor = connection.cursor()

            def fetch(sql: str, *params: Any) -> list[tuple[Any, ...]]:
                if style != "qmark":
                    sql = sql.replace("?", "%s")
                try:
                    cursor.execute(sql, params)
                    return list(cursor.fetchall())
                except dbapi_error as exc:
                    raise StoreError(
                        f"the database could not be read: {_reason(exc)}",
                        code="database_unavailable",
                    ) from exc

            yield fetch
            cursor.close()
        finally:
            connection.close()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction (SQLite: taken immediately, so writers queue, never deadlock;
        checkpointed in the background once committed)."""
        try:
            with self.engine.begin() as connection:
                if connection.dialect.name == "sqlite":
                    connection.exec_driver_sql("BEGIN IMMEDIATE")
                yield connection
        except sa.exc.OperationalError as exc:
            raise StoreError(
                f"the database is not reachable: {_reason(exc.orig)}",
                code="database_unavailable",
            ) from exc
        self._checkpoint_soon()

    # ---- WAL checkpoints (SQLite) ----

    def _checkpoint_soon(self) -> None:
        """Have the background thread checkpoint what is committed now (a thread already
        running goes round once more)."""
        if self.engine.dialect.name != "sqlite":
            return
        with self._checkpoint_lock:
            self._checkpoint_due = True
            if self._checkpointer is None:
                # not a daemon: a process that ends now still finishes the checkpoint first
                self._checkpointer = threading.Thread(
                    target=self._checkpoints, name="zhengyin-wal-checkpoint"
                )
                self._checkpointer.start()

    def _checkpoints(self) -> None:
        while True:
            with self._checkpoint_lock:
                if not self._checkpoint_due:
                    self._checkpointer = None
                    return
                self._checkpoint_due = False
            try:
                with self.engine.connect() as connection:
                    # PASSIVE: never waits for readers or writers, which go on meanwhile
                    connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").all()
            except Exception as exc:  # the WAL keeps everything; the next commit retries
                _log.warning("background WAL checkpoint failed: %s", exc)

    def wait_for_checkpoints(self) -> None:
        """Wait until the background checkpoint thread is done (nothing is due). A process
        forks worker processes only while it runs one thread (:mod:`certs.issuance`)."""
        while True:
            with self._checkpoint_lock:
                running = self._checkpointer
            if running is None:
                return
            running.join()

    # ---- serials ----

    def allocate_serials(
        self, connection: Connection, issuer: str, type_code: str, count: int
    ) -> range:
        """Reserve ``count`` consecutive serials for (issuer, type). Inside the caller's
        transaction: a rollback returns them, so serials have no gaps and no duplicates."""
        insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
        statement = (
            insert(serials)
            .values(issuer=issuer, type_code=type_code, next_serial=1 + count)
            .on_conflict_do_update(
                index_elements=["issuer", "type_code"],
                set_={"next_serial": serials.c.next_serial + count},
            )
            .returning(serials.c.next_serial)
        )
        end = int(connection.execute(statement).scalar_one())
        return range(end - count, end)

    def lock_numbers(self, connection: Connection, issuer: str, type_codes: Iterable[str]) -> None:
        """Hold, until the caller's transaction ends, the right to issue numbers for these
        (issuer, type) pairs, so that checking a number is free and then using it cannot
        race another request doing the same. SQLite: nothing to do (a write transaction
        already excludes every other writer). PostgreSQL: the row lock of each pair's serial
        counter (a zero-count :meth:`allocate_serials`, which also creates the counter)."""
        if connection.dialect.name == "sqlite":
            return
        for type_code in sorted(set(type_codes)):  # one order everywhere: no deadlock
            self.allocate_serials(connection, issuer, type_code, 0)

    def numbers_held(
        self,
        connection: Connection,
        issuer: str,
        pairs: Iterable[tuple[str, str]],
        *,
        except_identifiers: Collection[str] = (),
    ) -> dict[tuple[str, str], tuple[str, str]]:
        """Which of these ``(type code, number)`` pairs an issuer's certificates in force
        hold (any status but ``revoked`` and ``superseded``), as ``{pair: (identifier,
        status)}``; one query over the index on (issuer, type, number). ``except_identifiers``
        are left out (a replacement may keep the number of the certificate it supersedes)."""
        wanted = set(pairs)
        if not wanted:
            return {}
        types = sorted({t for t, _ in wanted})
        numbers = sorted({n for _, n in wanted})
        mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
        # through the driver: SQLAlchemy's rendering of a 500-value IN list cost ~20 ms a
        # chunk, the query itself (over the index) ~1 ms
        rows = connection.exec_driver_sql(
            "SELECT type_code, number, identifier, status FROM certificates "
            f"WHERE issuer = {mark} AND type_code IN ({', '.join([mark] * len(types))}) "
            f"AND number IN ({', '.join([mark] * len(numbers))}) "
            "AND status NOT IN ('revoked', 'superseded') ORDER BY serial",
            (issuer, *types, *numbers),
        )
        found: dict[tuple[str, str], tuple[str, str]] = {}
        for type_code, number, identifier, status in rows:
            if (type_code, number) in wanted and identifier not in except_identifiers:
                found.setdefault((type_code, number), (identifier, status))
        return found

    # ---- idempotency keys ----

    def stored_answer(
        self, principal: str, key: str, since: dt.datetime, connection: Connection | None = None
    ) -> tuple[str, int, str] | None:
        """``(digest, status code, JSON answer)`` kept for ``principal``'s idempotency key,
        if it was stored at ``since`` or later."""
        with self._connected(connection) as connected:
            row = connected.execute(
                sa.select(
                    idempotency_keys.c.digest,
                    idempotency_keys.c.status_code,
                    idempotency_keys.c.response,
                ).where(
                    idempotency_keys.c.principal == principal,
                    idempotency_keys.c.key == key,
                    idempotency_keys.c.created_at >= since,
                )
            ).first()
        return (str(row[0]), int(row[1]), str(row[2])) if row is not None else None

    def claim_key(
        self,
        connection: Connection,
        principal: str,
        key: str,
        digest: str,
        expired_before: dt.datetime,
    ) -> None:
        """Claim ``principal``'s idempotency key for the request ``digest``, inside the
        transaction that will do the work (an answer stored before ``expired_before`` is
        replaced); :meth:`answer_key` fills in the answer before it commits. On PostgreSQL a
        request holding the same key blocks this insert until it ends, which then fails
        (``IntegrityError``) if that one committed."""
        connection.execute(
            sa.delete(idempotency_keys).where(
                idempotency_keys.c.principal == principal,
                idempotency_keys.c.key == key,
                idempotency_keys.c.created_at < expired_before,
            )
        )
        connection.execute(
            idempotency_keys.insert().values(
                principal=principal,
                key=key,
                digest=digest,
                status_code=0,
                response="",
                created_at=now(),
            )
        )

    def answer_key(
        self, connection: Connection, principal: str, key: str, status_code: int, response: str
    ) -> None:
        """Store the answer of a key claimed in this transaction (:meth:`claim_key`)."""
        connection.execute(
            idempotency_keys.update()
            .where(idempotency_keys.c.principal == principal, idempotency_keys.c.key == key)
            .values(status_code=status_code, response=response)
        )

    def purge_answers(self, expired_before: dt.datetime) -> int:
        """Forget every idempotency answer stored before ``expired_before``; how many."""
        with self.transaction() as connection:
            result = connection.execute(
                sa.delete(idempotency_keys).where(idempotency_keys.c.created_at < expired_before)
            )
        return int(result.rowcount)

    # ---- certificates ----

    _CERTIFICATE_COLUMNS = (
        "identifier", "issuer", "type_code", "serial", "number", "leaf", "status", "batch_id",
        "batch_index", "created_at",
    )

    def insert_issued(
        self,
        connection: Connection,
        rows: Sequence[tuple[Any, ...]],
        documents: Sequence[tuple[str, str | bytes]],
        created_at: dt.datetime,
    ) -> None:
        """Store newly issued certificates inside the caller's transaction: ``rows`` hold the
        certificate columns (``_CERTIFICATE_COLUMNS`` but ``created_at``, given once for all),
        ``documents`` each ``(identifier, document JSON)`` (or its zlib stream, where
        :attr:`compresses_documents`). PostgreSQL (psycopg) writes through ``COPY``,
        otherwise the driver's ``executemany`` (SQLAlchemy's, with its per-row parameter
        processing, took nearly twice as long). 10,000 certificates with ~3 KB documents:
        SQLite ~0.3 s, PostgreSQL ~0.7 s; commit not included."""
        if not rows:
            return
        names = self._CERTIFICATE_COLUMNS
        dialect = connection.dialect
        if dialect.name == "postgresql" and dialect.driver == "psycopg":
            driver = connection.connection.driver_connection
            assert driver is not None
            rows_sql = f"COPY certificates ({', '.join(names)}) FROM STDIN"
            documents_sql = "COPY certificate_documents (identifier, document) FROM STDIN"
            with driver.cursor() as cursor:
                with cursor.copy(rows_sql) as copy:
                    for row in rows:
                        copy.write_row((*row, created_at))
                with cursor.copy(documents_sql) as copy:
                    for document in documents:
                        copy.write_row(document)
            return
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        # the driver gets the timestamp as SQLAlchemy would have written it
        processor = certificates.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)
        created = (created_at,) if processor is None else (processor(created_at),)
        connection.exec_driver_sql(
            f"INSERT INTO certificates ({', '.join(names)}) "
            f"VALUES ({', '.join([mark] * len(names))})",
            [row + created for row in rows],
        )
        connection.exec_driver_sql(
            f"INSERT INTO certificate_documents (identifier, document) VALUES ({mark}, {mark})",
            documents if isinstance(documents, list) else list(documents),
        )

    def open_batch(self, connection: Connection, issuer: str, leaf_count: int) -> int:
        """A batch whose certificates are being inserted, inside the caller's transaction
        (``building``: the batcher leaves it alone); :meth:`close_batch` gives it its tree
        before the transaction commits."""
        return int(
            connection.execute(
                batches.insert()
                .values(
                    issuer=issuer,
                    root=f"building-{secrets.token_hex(16)}",  # unique until its tree is in
                    leaf_count=leaf_count,
                    state="building",
                    created_at=now(),
                )
                .returning(batches.c.id)
            ).scalar_one()
        )

    def close_batch(self, connection: Connection, batch_id: int, tree: bytes) -> None:
        """Store the tree of a batch from :meth:`open_batch` (:func:`certs.merkle.tree_bytes`
        of its leaves, in position order): it is ``prepared``, for the batcher to anchor."""
        connection.execute(
            batches.update()
            .where(batches.c.id == batch_id, batches.c.state == "building")
            .values(root=tree[-32:].hex(), tree=tree, state="prepared")
        )

    def assign_batch(
        self, connection: Connection, batch_id: int, identifiers: Sequence[str]
    ) -> None:
        """Put certificates into a batch, each at its position in ``identifiers`` (its leaf's
        index in the batch's tree), inside the caller's transaction, in one statement over
        the list where the database can (10,000 rows: SQLite ~60 ms against ~95 ms for
        ``executemany``; PostgreSQL ~0.7 s against ~1.1 s); otherwise the driver's
        ``executemany`` (~10 µs a row, SQLAlchemy's ~30)."""
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

    @property
    def compresses_documents(self) -> bool:
        """Whether issuance stores documents compressed (a zlib stream instead of the JSON
        text). SQLite: yes, a ~2.9 KB document becomes ~2.2 KB (:func:`compress_document`;
        issuing 10,000 took 10% less time, the commit writing less); PostgreSQL
        compresses them itself (lz4, migration 0004). Read them with :func:`document_json`."""
        return self.engine.dialect.name == "sqlite"

    @property
    def slices_trees(self) -> bool:
        """Whether a few nodes of a stored tree cost less to read than the whole tree.
        PostgreSQL reads only the TOAST chunks a substring needs (one proof of a 10,000-leaf
        tree: ~0.3 ms, the whole 640 KB: ~6 ms); SQLite reads the whole value again for each
        ``substr`` (one proof: ~8 ms) but a whole tree in ~0.1 ms."""
        return self.engine.dialect.name == "postgresql"

    def batch_tree(self, batch_id: int, connection: Connection | None = None) -> bytes | None:
        """The stored Merkle tree of a batch (see ``batches.tree``), or None."""
        with self._connected(connection) as connected:
            tree = connected.execute(
                sa.select(batches.c.tree).where(batches.c.id == batch_id)
            ).scalar()
        return bytes(tree) if tree is not None else None

    def batch_tree_nodes(
        self, batch_id: int, offsets: Sequence[int], connection: Connection | None = None
    ) -> dict[int, bytes] | None:
        """The 32-byte nodes at these byte offsets of a batch's stored tree (None if it has
        none); PostgreSQL sends only those (see :attr:`slices_trees`)."""
        wanted = sorted(set(offsets))
        if not self.slices_trees or not wanted:
            tree = self.batch_tree(batch_id, connection)
            if tree is None:
                return None
            return {at: tree[at : at + 32] for at in wanted}
        found: dict[int, bytes] = {}
        with self._connected(connection) as connected:
            for start in range(0, len(wanted), 200):
                chunk = wanted[start : start + 200]
                row = connected.exec_driver_sql(
                    "SELECT tree IS NULL, "
                    + ", ".join(f"substr(tree, {int(at) + 1}, 32)" for at in chunk)
                    + " FROM batches WHERE id = %s",
                    (batch_id,),
                ).first()
                if row is None or row[0]:
                    return None
                found.update((at, bytes(node)) for at, node in zip(chunk, row[1:], strict=True))
        return found

    @contextmanager
    def _connected(self, connection: Connection | None) -> Iterator[Connection]:
        """The caller's connection, or one of our own for the duration."""
        if connection is not None:
            yield connection
            return
        with self.engine.connect() as opened:
            yield opened

    # ---- issuers ----

    def add_issuer(self, issuer: StoredIssuer) -> None:
        with self.transaction() as connection:
            connection.execute(sa.delete(issuers).where(issuers.c.uscc == issuer.uscc))
            connection.execute(
                issuers.insert().values(
                    uscc=issuer.uscc,
                    name=issuer.name,
                    account=issuer.account,
                    key_id=issuer.key_id.hex(),
                    public_key=issuer.public_key.hex(),
                    created_at=now(),
                )
            )

    def issuer(self, uscc: str) -> StoredIssuer | None:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(issuers).where(issuers.c.uscc == uscc)).first()
        if row is None:
            return None
        return StoredIssuer(
            row.uscc,
            row.name,
            row.account,
            bytes.fromhex(row.key_id),
            bytes.fromhex(row.public_key),
        )

    # ---- API keys ----

    def add_api_key(self, role: str, subject: str, key_hash: str) -> None:
        with self.transaction() as connection:
            connection.execute(
                api_keys.insert().values(
                    role=role, subject=subject, key_hash=key_hash, created_at=now()
                )
            )

    def revoke_api_keys(self, role: str, subject: str) -> int:
        """Revoke every live key of ``role`` for ``subject``; returns how many."""
        with self.transaction() as connection:
            result = connection.execute(
                api_keys.update()
                .where(api_keys.c.role == role, api_keys.c.subject == subject,
                       api_keys.c.revoked_at.is_(None))
                .values(revoked_at=now())
            )
        return int(result.rowcount)

    def api_key(self, key_hash: str) -> tuple[str, str] | None:
        """``(role, subject)`` of a live API key."""
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(api_keys.c.role, api_keys.c.subject).where(
                    api_keys.c.key_hash == key_hash, api_keys.c.revoked_at.is_(None)
                )
            ).first()
        return (row.role, row.subject) if row else None

    # ---- certificates ----

    def certificate_rows(
        self, identifiers: Sequence[str], connection: Connection | None = None
    ) -> list[sa.Row[Any]]:
        """Certificates with their documents and their batch's anchor facts (root, tx,
        block, chain, contract, leaf count)."""
        rows: list[sa.Row[Any]] = []
        with self._connected(connection) as connected:
            for start in range(0, len(identifiers), 500):
                chunk = identifiers[start : start + 500]
                rows += connected.execute(_CERTIFICATE_ROWS, {"identifiers": chunk}).all()
        return rows


def assign_batch_row_by_row(
    connection: Connection, batch_id: int, identifiers: Sequence[str]
) -> None:
    """:meth:`Store.assign_batch` one row at a time through the driver's ``executemany``, for
    databases without a list form (SQLite before 3.38, as on Ubuntu 22.04)."""
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    connection.exec_driver_sql(
        f"UPDATE certificates SET batch_id = {mark}, batch_index = {mark} "
        f"WHERE identifier = {mark}",
        [(batch_id, index, identifier) for index, identifier in enumerate(identifiers)],
    )


_CERTIFICATE_ROWS = (  # built once: building it per read cost ~0.2 ms
    sa.select(
        certificates,
        batches.c.root,
        batches.c.tx_hash,
        batches.c.block_number,
        batches.c.chain_id,
        batches.c.contract,
        batches.c.leaf_count,
        certificate_documents.c.document,
    )
    .select_from(
        certificates.join(
            certificate_documents,
            certificate_documents.c.identifier == certificates.c.identifier,
        ).outerjoin(batches)
    )
    .where(certificates.c.identifier.in_(sa.bindparam("identifiers", expanding=True)))
)


PAGE_SIZE = 8192
"""SQLite page size of a database this code creates."""


def compress_document(text: str) -> bytes:
    """A document JSON as stored where :attr:`Store.compresses_documents`: a zlib stream
    (~2.2 KB for ~2.9 KB; the salts, digests and signature are random hex) made by ISA-L at
    its level 0, 9 µs a document. Level 1 gives ~1.5 KB but took 21 µs, and issuing 10,000
    end to end was 0.17 s slower (6 paired runs). :func:`document_json` reads either."""
    return bytes(isal_zlib.compress(text.encode("utf-8"), 0))


def document_json(stored: str | bytes) -> str:
    """A stored document's JSON text: as stored, or decompressed (``zlib`` stream);
    :class:`DocumentError` if a stream is damaged."""
    if isinstance(stored, str):
        return stored
    try:
        return str(isal_zlib.decompress(stored).decode("utf-8"))
    except Exception as exc:  # isal_zlib.error (its stub types it as an instance) or UTF-8
        raise DocumentError(f"the stored document is damaged: {exc}") from None


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # the driver's own transaction handling is replaced by explicit BEGIN IMMEDIATE
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # a new database only (an existing one keeps its page size): ~3 KB documents fill 4 KB
    # pages one each; with 8 KB pages, issuing 10,000 costs ~30% less CPU in SQLite
    cursor.execute(f"PRAGMA page_size={PAGE_SIZE}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA wal_autocheckpoint=0")  # the Store's background thread does it
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
