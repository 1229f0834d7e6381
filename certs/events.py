"""The service's audit log (``service_events``): who did what to which certificate, why,
and where it stands against the chain. Every writer goes through :func:`write_events`.

An event's ``id`` is its sequence. Ids are given in commit order, so that a reader paging by
id (``id > last seen``) never skips an event that commits after it read past that id:

- SQLite: every write transaction is taken at once (``BEGIN IMMEDIATE``), one at a time;
- PostgreSQL: a sequence's values are not commit-ordered (a transaction can take id 10, then
  commit after another took 11 and committed). :func:`write_events` first takes a
  transaction-scoped advisory lock (:data:`ORDER_LOCK`), held until commit, and writers put
  their events last in their transaction: ids are taken only by the lock's holder, which
  commits (and becomes visible) before the next holder takes any.

Nothing secret is ever written here: never an API key, never a presentation code (not even
its hash: a 49-bit code's hash is no secret from whoever reads the log).
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from certs.schema import certificates, chain_cursor, service_events

ROLES = ("admin", "issuer", "counter", "auditor", "holder", "system")
"""Who may act: the API's four roles, a holder (no account: possession of the document),
the service itself (``system``: reconciling, re-sending)."""

ORDER_LOCK = 0x7A79_6576
"""The PostgreSQL advisory lock (``pg_advisory_xact_lock``) that orders the log's ids by
commit."""

COLUMNS = (
    "identifier", "event", "actor", "role", "issuer", "type_code", "reason_code", "reason",
    "tx_hash", "chain_block", "detail", "created_at",
)
"""The columns :func:`write_events` writes, in order (the id is the database's)."""

IDENTIFIER_WIDTH = 120
ACTOR_WIDTH = 200


@dataclass(frozen=True)
class Actor:
    """Who acts: a role and a name (an agency's USCC, a counter's or auditor's name, the
    operator's login for the CLI)."""

    role: str
    name: str

    @property
    def text(self) -> str:
        """As the log stores it: ``role:name`` (the API's ``Principal.actor``)."""
        return f"{self.role}:{self.name}"

    @staticmethod
    def parse(text: str) -> Actor:
        """An actor from its ``role:name`` text; a text of no known role is the system's."""
        role, _, name = text.partition(":")
        return Actor(role, name or role) if role in ROLES else Actor("system", text)


def cli_actor() -> Actor:
    """The person at the command line: the operator of the installation (admin), by the
    login of the process."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no name for the uid (a container)
        name = "unknown"
    return Actor("admin", f"cli:{name}")


SYSTEM = Actor("system", "zhengyin")
"""The service itself (the reconciler, the batcher)."""


def event_row(
    event: str,
    actor: Actor | str,
    *,
    identifier: str | None = None,
    issuer: str | None = None,
    type_code: str | None = None,
    reason_code: int | None = None,
    reason: str | None = None,
    tx_hash: str | None = None,
    chain_block: int | None = None,
    detail: Mapping[str, Any] | None = None,
    created_at: dt.datetime | None = None,
) -> dict[str, Any]:
    """One event as :func:`write_events` takes it. What a caller sent (an identifier in a
    URL, of any length) is cut to its column's width: a row the database refuses would stop
    the queue it waits in."""
    who = Actor.parse(actor) if isinstance(actor, str) else actor
    return {
        "identifier": _fit(identifier, IDENTIFIER_WIDTH),
        "event": event,
        "actor": _fit(actor if isinstance(actor, str) else actor.text, ACTOR_WIDTH),
        "role": who.role,
        "issuer": issuer,
        "type_code": type_code,
        "reason_code": reason_code,
        "reason": _fit(reason, None),
        "tx_hash": tx_hash,
        "chain_block": chain_block,
        "detail": json.dumps(dict(detail or {}), ensure_ascii=False, sort_keys=True),
        "created_at": created_at or dt.datetime.now(dt.UTC),
    }


def _fit(text: str | None, width: int | None) -> str | None:
    """``text`` as a text column takes it: at most ``width`` characters, no NUL (which
    PostgreSQL's text refuses)."""
    if text is None:
        return None
    return text.replace("\x00", "\ufffd")[:width]


def index_block(connection: Connection) -> int | None:
    """The chain block the service's index has reached, as the database holds it."""
    found = connection.execute(sa.select(sa.func.max(chain_cursor.c.block))).scalar()
    return int(found) if found is not None else None


def certificate_facts(
    connection: Connection, identifiers: Sequence[str]
) -> dict[str, tuple[str, str]]:
    """(agency, type) of each stored certificate among ``identifiers``."""
    if not identifiers:
        return {}
    rows = connection.execute(
        sa.select(certificates.c.identifier, certificates.c.issuer, certificates.c.type_code)
        .where(certificates.c.identifier.in_(list(dict.fromkeys(identifiers))))
    ).all()
    return {r.identifier: (r.issuer, r.type_code) for r in rows}


def write_events(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (:func:`event_row`) inside the caller's transaction, which must write
    nothing after them (it holds the log's order until it commits, see the module's text).
    Rows without a chain block get the index's. PostgreSQL (psycopg) writes through
    ``COPY``, otherwise the driver's ``executemany``, as :mod:`certs.bulk_writes` does."""
    if not rows:
        return
    dialect = connection.dialect
    if dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({ORDER_LOCK})")
    if any(row["chain_block"] is None for row in rows):
        block = index_block(connection)
        rows = [row if row["chain_block"] is not None else {**row, "chain_block": block}
                for row in rows]
    _insert(connection, [tuple(row[name] for name in COLUMNS) for row in rows])


def _insert(connection: Connection, values: Sequence[tuple[Any, ...]]) -> None:
    """Insert rows of :data:`COLUMNS` values (``created_at`` an aware datetime)."""
    dialect = connection.dialect
    if dialect.name == "postgresql" and dialect.driver == "psycopg":
        driver = connection.connection.driver_connection
        assert driver is not None
        with driver.cursor() as cursor:
            with cursor.copy(f"COPY service_events ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in values:
                    copy.write_row(row)
        return
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    processor = service_events.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)
    if processor is not None:  # each moment processed once (issuance: one for all rows)
        at = COLUMNS.index("created_at")
        done: dict[Any, Any] = {}
        values = [
            (*row[:at], done[row[at]] if row[at] in done else done.setdefault(
                row[at], processor(row[at])), *row[at + 1:])
            for row in values
        ]
    connection.exec_driver_sql(
        f"INSERT INTO service_events ({', '.join(COLUMNS)}) "
        f"VALUES ({', '.join([mark] * len(COLUMNS))})",
        values,
    )

def issued_events(
    connection: Connection, issuer: str, accepted: Sequence[Any], actor: Actor | str
) -> None:
    """The 'issued' event of each accepted certificate (``IssuedCertificate``), written in
    bulk in the issuance transaction: the service's and the CLI's issuance alike."""
    if not accepted:
        return
    created = dt.datetime.now(dt.UTC)
    who = Actor.parse(actor) if isinstance(actor, str) else actor
    text = actor if isinstance(actor, str) else actor.text
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({ORDER_LOCK})")
    block = index_block(connection)
    # the rows built here, not through event_row: # Why: bench/PERFORMANCE.md, "Issuance:
    # the 'issued' events"
    _insert(connection, [
        (a.identifier, "issued", text, who.role, issuer, a.type_code or None, None, None,
         None, block, "{}", created)
        for a in accepted
    ])
