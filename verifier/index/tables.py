"""The index tables derived from contract events (anchors, statuses, keys), in the
database or in memory, and the stored event log and cursor the indexer keeps beside them."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa

from certs.store import (
    Store,
    StoreError,
    chain_anchors,
    chain_checkpoints,
    chain_cursor,
    chain_events,
    chain_keys,
    chain_status,
)
from chain.registry import (
    CATALOGUE_EVENTS,
    GRANT_EVENTS,
    ChainEvent,
    ChainStatus,
    uscc_of,
)
from seals.sm2 import sm3

RECENT_CHECKPOINTS = 16
"""The newest checkpoints always kept (and the most event blocks one applied range records);
beyond :data:`RECENT_BLOCKS`, older ones thin out exponentially (one at each distance of
32, 64, 128 … blocks from the newest), so a rollback of any depth finds a common block near
its fork."""

RECENT_BLOCKS = 1024
"""Every checkpoint of the newest this many blocks is kept. A node whose head is below the
index proves a fork only at a number recorded here (docs/chain-nodes.md, "A head below the
index"): a devnet restored from a state this recent shows it with its first new block at a
number the index took events from, instead of answering ``error`` until it has mined up to
the next checkpoint left by the thinning."""


@dataclass(frozen=True)
class Cursor:
    block: int
    block_hash: str | None
    generation: int


_log = logging.getLogger("verifier.indexer")  # one logger for the index




class _Tables(Protocol):
    """Where :func:`derive` writes: the database (while following, :class:`SqlTables`) or
    memory (rebuilding after a rewind, then written at once, :class:`_MemoryTables`)."""

    def put_anchor(self, root: str, row: dict[str, Any]) -> None: ...

    def put_status(self, issuer: str, leaf: str, row: dict[str, Any]) -> None: ...

    def put_key(self, issuer: str, key_id: str, row: dict[str, Any]) -> None: ...

    def update_key(self, issuer: str, key_id: str, values: dict[str, Any]) -> None: ...


class SqlTables:
    def __init__(self, connection: sa.Connection) -> None:
        self.connection = connection

    def put_anchor(self, root: str, row: dict[str, Any]) -> None:
        self.connection.execute(sa.delete(chain_anchors).where(chain_anchors.c.root == root))
        self.connection.execute(chain_anchors.insert().values(root=root, **row))

    def put_status(self, issuer: str, leaf: str, row: dict[str, Any]) -> None:
        self.connection.execute(
            sa.delete(chain_status).where(
                chain_status.c.issuer == issuer, chain_status.c.leaf == leaf
            )
        )
        self.connection.execute(chain_status.insert().values(issuer=issuer, leaf=leaf, **row))

    def put_key(self, issuer: str, key_id: str, row: dict[str, Any]) -> None:
        self.connection.execute(
            sa.delete(chain_keys).where(
                chain_keys.c.issuer == issuer, chain_keys.c.key_id == key_id
            )
        )
        self.connection.execute(chain_keys.insert().values(issuer=issuer, key_id=key_id, **row))

    def update_key(self, issuer: str, key_id: str, values: dict[str, Any]) -> None:
        self.connection.execute(
            chain_keys.update()
            .where(chain_keys.c.issuer == issuer, chain_keys.c.key_id == key_id)
            .values(**values)
        )


class _MemoryTables:
    def __init__(self) -> None:
        self.anchors: dict[str, dict[str, Any]] = {}
        self.statuses: dict[tuple[str, str], dict[str, Any]] = {}
        self.keys: dict[tuple[str, str], dict[str, Any]] = {}

    def put_anchor(self, root: str, row: dict[str, Any]) -> None:
        self.anchors[root] = {"root": root, **row}

    def put_status(self, issuer: str, leaf: str, row: dict[str, Any]) -> None:
        self.statuses[(issuer, leaf)] = {"issuer": issuer, "leaf": leaf, **row}

    def put_key(self, issuer: str, key_id: str, row: dict[str, Any]) -> None:
        self.keys[(issuer, key_id)] = {"issuer": issuer, "key_id": key_id, **row}

    def update_key(self, issuer: str, key_id: str, values: dict[str, Any]) -> None:
        if (issuer, key_id) in self.keys:
            self.keys[(issuer, key_id)].update(values)


def derive(tables: _Tables, event: ChainEvent) -> None:
    """What one event changes in the anchors, statuses and keys of the index."""
    a = event.args
    issuer = a.get("issuer")
    if event.name == "RootAnchored":
        tables.put_anchor(
            a["root"].hex(),
            {
                "issuer": issuer,
                "leaf_count": a["leafCount"],
                "block_number": event.block_number,
                "timestamp": event.timestamp,
                "tx_hash": event.tx_hash,
            },
        )
    elif event.name in ("StatusChanged", "Superseded"):
        changed = event.name == "StatusChanged"
        tables.put_status(
            str(issuer),
            (a["leaf"] if changed else a["oldLeaf"]).hex(),
            {
                "status": int(a["status"]) if changed else int(ChainStatus.SUPERSEDED),
                "reason": int(a["reason"]),
                "block_number": event.block_number,
                "timestamp": event.timestamp,
                "superseded_by": None if changed else a["newLeaf"].hex(),
            },
        )
    elif event.name == "KeyAdded":
        key_id = a["keyId"].hex()
        point = bytes(a.get("publicKey") or b"")
        tables.put_key(
            str(issuer),
            key_id,
            {
                "valid_from": int(a["validFrom"]),
                "valid_until": int(a["validUntil"]) or None,
                "compromised_at": None,
                "public_key": point.hex() if point and sm3(point).hex() == key_id else None,
            },
        )
    elif event.name in ("KeyRetired", "KeyCompromised"):
        tables.update_key(
            str(issuer),
            a["keyId"].hex(),
            {"valid_until": int(a["validUntil"])}
            if event.name == "KeyRetired"
            else {"compromised_at": int(a["compromisedAt"])},
        )


def event_row(event: ChainEvent) -> dict[str, Any]:
    """The ``chain_events`` row of an event (what history and a rebuild read back)."""
    a = event.args
    subject = other = None
    if event.name == "RootAnchored":
        subject = a["root"].hex()
    elif event.name == "StatusChanged":
        subject = a["leaf"].hex()
    elif event.name == "Superseded":
        subject, other = a["oldLeaf"].hex(), a["newLeaf"].hex()
    elif event.name in ("KeyAdded", "KeyRetired", "KeyCompromised"):
        subject = a["keyId"].hex()
    elif event.name == "DocumentAnchored":
        subject = a["digest"].hex()
    elif "typeCode" in a:  # the catalogue and authorizations: by type code
        subject = uscc_of(bytes(a["typeCode"]))
    return {
        "block_number": event.block_number,
        "log_index": event.log_index,
        "name": event.name,
        "issuer": a.get("issuer"),
        "subject": subject,
        "other": other,
        "timestamp": event.timestamp,
        "tx_hash": event.tx_hash,
        "args": json.dumps({k: _jsonable(v) for k, v in a.items()}),
    }


def indexed_authorization_events(
    store: Store, issuer: str, code: str | None = None, *, block: int | None = None
) -> list[ChainEvent]:
    """:meth:`Indexer.authorization_events` from a store alone (what a command reads when the
    chain is away: the index as the service last wrote it)."""
    query = (
        sa.select(chain_events)
        .where(
            sa.or_(
                chain_events.c.name.in_(CATALOGUE_EVENTS),
                sa.and_(chain_events.c.name.in_(GRANT_EVENTS), chain_events.c.issuer == issuer),
            ),
        )
        .order_by(chain_events.c.block_number, chain_events.c.log_index)
    )
    if code is not None:
        query = query.where(chain_events.c.subject == code)
    if block is not None:
        query = query.where(chain_events.c.block_number <= block)
    return read_events(store, query)


def read_events(store: Store, query: Any) -> list[ChainEvent]:
    """Stored events; a database that cannot answer is :class:`StoreError`
    (``database_unavailable``: "could not decide", as every other index read says)."""
    try:
        with store.engine.connect() as connection:
            return [stored_event(r) for r in connection.execute(query).all()]
    except sa.exc.DBAPIError as exc:
        raise StoreError(
            f"the database could not be read: {exc.orig}", code="database_unavailable"
        ) from exc


def stored_event(row: Any) -> ChainEvent:
    return ChainEvent(
        row.name,
        "",
        row.block_number,
        row.timestamp,
        row.tx_hash,
        row.log_index,
        _from_json(json.loads(row.args)),
    )


def rebuild_derived(connection: sa.Connection) -> None:
    """Anchors, statuses and keys derived anew from the whole stored event log, in order."""
    tables = _MemoryTables()
    rows = connection.execute(
        sa.select(chain_events).order_by(chain_events.c.block_number, chain_events.c.log_index)
    )
    for row in rows:
        derive(tables, stored_event(row))
    for table in (chain_anchors, chain_status, chain_keys):
        connection.execute(sa.delete(table))
    for table, values in (
        (chain_anchors, tables.anchors),
        (chain_status, tables.statuses),
        (chain_keys, tables.keys),
    ):
        if values:
            connection.execute(table.insert(), list(values.values()))


def locked_cursor(connection: sa.Connection) -> Cursor | None:
    """The cursor row inside a write transaction (PostgreSQL: locked until it ends; SQLite's
    write transaction excludes other writers already)."""
    query = sa.select(chain_cursor).where(chain_cursor.c.id == 1)
    if connection.dialect.name == "postgresql":
        query = query.with_for_update()
    row = connection.execute(query).first()
    return None if row is None else Cursor(int(row.block), row.block_hash, int(row.generation))


def checkpoint(
    connection: sa.Connection, block: int, block_hash: str, also: Mapping[int, str] | None = None
) -> None:
    """Record ``(block, hash)`` — and ``also``, hashes of blocks below it (the blocks whose
    events were just indexed) — and thin the older checkpoints: every one of the newest
    :data:`RECENT_CHECKPOINTS` and of the last :data:`RECENT_BLOCKS` blocks, then one at each
    doubling distance from the newest.

    The hashes recorded are what :meth:`~verifier.index.indexer.Indexer.catch_up` compares
    with a node whose head is below the cursor: a recorded block the node has with another
    hash proves the chain went another way (docs/chain-nodes.md, "A head below the index")."""
    recorded = {n: h for n, h in (also or {}).items() if h and n < block}
    recorded[block] = block_hash
    connection.execute(
        sa.delete(chain_checkpoints).where(chain_checkpoints.c.block_number >= min(recorded))
    )
    connection.execute(
        chain_checkpoints.insert(),
        [{"block_number": n, "block_hash": h} for n, h in sorted(recorded.items())],
    )
    numbers = list(
        connection.execute(
            sa.select(chain_checkpoints.c.block_number).order_by(
                chain_checkpoints.c.block_number.desc()
            )
        ).scalars()
    )
    keep = set(numbers[:RECENT_CHECKPOINTS]) | {n for n in numbers if block - n < RECENT_BLOCKS}
    distance = 32
    for number in numbers[RECENT_CHECKPOINTS:]:
        if block - number >= distance:
            keep.add(number)
            while block - number >= distance:
                distance *= 2
    drop = [n for n in numbers if n not in keep]
    if drop:
        connection.execute(
            sa.delete(chain_checkpoints).where(chain_checkpoints.c.block_number.in_(drop))
        )


def describe(exc: BaseException) -> str:
    """An error as the state and ``/healthz`` show it (chain errors name an endpoint by
    scheme, host and port only)."""
    code = getattr(exc, "code", None)
    if isinstance(code, str):
        return f"{code}: {exc}"
    return f"{type(exc).__name__}: {exc}"


def chunks(values: list[str], size: int = 500) -> Iterable[list[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _jsonable(value: Any) -> Any:
    return {"hex": value.hex()} if isinstance(value, bytes) else value


def _from_json(args: dict[str, Any]) -> dict[str, Any]:
    return {
        k: bytes.fromhex(v["hex"]) if isinstance(v, dict) and "hex" in v else v
        for k, v in args.items()
    }
