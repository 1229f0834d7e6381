"""The service's database: issuers, API keys, serial counters, certificates, batches,
status changes. SQLAlchemy 2 Core over SQLite (default) or PostgreSQL; the schema is owned by
Alembic migrations (``certs/migrations``), applied on :meth:`Store.open`.

The database holds what the chain must not: the certificates themselves (personal data,
salts). The chain stays the authority on anchors and status.
"""


from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from certs.documents import compress_document as compress_document
from certs.documents import document_json as document_json
from certs.errors import CertError
from certs.schema import HEAD_REVISION as HEAD_REVISION
from certs.schema import MIGRATIONS as MIGRATIONS
from certs.schema import (
    api_keys,
    batches,
    certificate_documents,
    certificates,
    idempotency_keys,
    issuers,
    serials,
)
from certs.schema import chain_anchors as chain_anchors
from certs.schema import chain_checkpoints as chain_checkpoints
from certs.schema import chain_cursor as chain_cursor
from certs.schema import chain_events as chain_events
from certs.schema import chain_keys as chain_keys
from certs.schema import chain_status as chain_status
from certs.schema import metadata as metadata
from certs.schema import presentations as presentations
from certs.schema import service_events as service_events
from certs.schema import status_changes as status_changes
from certs.sqlite_wal import PAGE_SIZE as PAGE_SIZE
from certs.sqlite_wal import WalCheckpoints, sqlite_pragmas
from chain.rpc import redact_url

# the tables, and the document encoding, are named here too (``from certs.store import
# certificates``): their homes are certs.schema and certs.documents
__all__ = [
    "HEAD_REVISION", "MIGRATIONS", "PAGE_SIZE", "Store", "StoreError", "StoredIssuer",
    "api_keys", "batches", "certificate_documents", "certificates", "chain_anchors",
    "chain_checkpoints", "chain_cursor", "chain_events", "chain_keys", "chain_status",
    "compress_document", "document_json", "idempotency_keys", "issuers", "metadata", "now",
    "presentations", "serials", "service_events", "status_changes",
]


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


def _unreachable(exc: BaseException | None) -> StoreError:
    """The error of a database that cannot be reached, saying why (:func:`_reason`)."""
    return StoreError(
        f"the database is not reachable: {_reason(exc)}", code="database_unavailable"
    )


def _psycopg_idle(driver: Any) -> bool:
    """Whether a psycopg 3 connection is in no transaction and not in autocommit."""
    from psycopg.pq import TransactionStatus

    return (
        driver is not None
        and not driver.autocommit
        and driver.info.transaction_status == TransactionStatus.IDLE
    )


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

    SQLite runs in WAL mode and checkpoints in the background (:mod:`certs.sqlite_wal`)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.checkpoints = WalCheckpoints(engine)

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
            sa.event.listen(engine, "connect", sqlite_pragmas)
        store = cls(engine)
        if migrate:
            store.migrate()
        return store

    def migrate(self) -> None:
        """Upgrade the schema to :data:`HEAD_REVISION`. A database already there is left as
        it is without loading Alembic (# Why: bench/PERFORMANCE.md, "Store: migrations
        skipped when at head")."""
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
            raise _unreachable(exc.orig) from exc
        self.checkpoints.soon()

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
        hot path of verification (# Why: bench/PERFORMANCE.md, "Store: raw reads for
        verification"). Yields ``fetch(sql, *params) -> rows``; write the SQL with
        ``?`` placeholders (rewritten for the driver) and name the columns."""
        style = self.engine.dialect.paramstyle
        dbapi_error = self.engine.dialect.loaded_dbapi.Error
        try:
            connection = self.engine.raw_connection()
        except sa.exc.DBAPIError as exc:
            raise _unreachable(exc.orig) from exc
        except dbapi_error as exc:  # a pool's new connection refused: the driver's own error
            raise _unreachable(exc) from exc
        # PostgreSQL: each read its own implicit transaction, as SQLite's reads already are
        # (no BEGIN before the first, no ROLLBACK when the pool takes the connection back,
        # which also cleared psycopg's prepared statements: # Why: bench/PERFORMANCE.md,
        # "Store: reads in autocommit"). Read committed either way: each statement saw its
        # own snapshot inside the transaction too. A connection handed out inside a
        # transaction (never, after the pool's reset) is read as it is.
        driver: Any = connection.dbapi_connection
        autocommit = self.engine.dialect.driver == "psycopg" and _psycopg_idle(driver)
        try:
            if autocommit:
                driver.autocommit = True
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
            if autocommit:
                try:
                    driver.autocommit = False  # as the pool's other users expect it
                except dbapi_error:  # a broken connection: not back into the pool
                    connection.invalidate()
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
            raise _unreachable(exc.orig) from exc
        self.checkpoints.soon()

    def wait_for_checkpoints(self) -> None:
        """Wait until the background WAL checkpoint is done (:mod:`certs.sqlite_wal`): a
        process forks worker processes only while it runs one thread (:mod:`certs.workers`)."""
        self.checkpoints.wait()

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
        # through the driver (# Why: bench/PERFORMANCE.md, "Store: agency numbers looked up");
        # ordered here, not by the query: an ORDER BY serial let PostgreSQL walk every
        # certificate of the type in serial order (# Why: bench/PERFORMANCE.md, "Scale")
        rows = connection.exec_driver_sql(
            "SELECT type_code, number, identifier, status, serial FROM certificates "
            f"WHERE issuer = {mark} AND type_code IN ({', '.join([mark] * len(types))}) "
            f"AND number IN ({', '.join([mark] * len(numbers))}) "
            "AND status NOT IN ('revoked', 'superseded')",
            (issuer, *types, *numbers),
        )
        found: dict[tuple[str, str], tuple[str, str]] = {}
        for type_code, number, identifier, status, _ in sorted(rows, key=lambda r: r[4]):
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

    @property
    def compresses_documents(self) -> bool:
        """Whether issuance stores documents compressed (a zlib stream instead of the JSON
        text). SQLite: yes, a ~2.9 KB document becomes ~2.2 KB (:func:`compress_document`;
        # Why: bench/PERFORMANCE.md, "Stored documents: zlib level"); PostgreSQL
        compresses them itself (lz4, migration 0004). Read them with :func:`document_json`."""
        return self.engine.dialect.name == "sqlite"

    @property
    def slices_trees(self) -> bool:
        """Whether a few nodes of a stored tree cost less to read than the whole tree.
        PostgreSQL reads only the TOAST chunks a substring needs; SQLite reads the whole
        value again for each ``substr`` (# Why: bench/PERFORMANCE.md, "Store: proofs from
        stored trees")."""
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


_CERTIFICATE_ROWS = (  # built once (# Why: bench/PERFORMANCE.md, "Store: statements built once")
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
