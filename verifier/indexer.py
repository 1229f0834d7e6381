"""The chain indexer: contract events into the database, so a verification reads no RPC.

The indexer reads every event of both contracts from the deployment block onward (in ranges
of at most ``STEP`` blocks), applies each to the index tables (anchors, statuses, keys, and
the raw event log for history) and moves its cursor, all in one database transaction per
range. A status change made through this service calls :meth:`Indexer.catch_up` right after
its receipt, so the next verification sees it at once.

The cursor is a block number *and that block's hash*. Each catch-up first checks that the
chain still has that block; when it does not (the chain lost recent blocks: a devnet restored
from an older state, a reorganisation) or its head is below the cursor, the index rewinds to
the newest recorded checkpoint (number, hash) the chain still has — to the deployment block
if none — deletes the events indexed after it, derives the anchors, statuses and keys again
from the events that remain, and bumps the cursor's *generation*: every process reading the
index (several workers share one database) drops its cached chain facts when it sees a new
generation.

A verification judges the chain at the cursor's block, and only while the index is known to be
current: this process last saw the node answer and the cursor reach its head (less
``confirmations``) at most ``max_staleness`` seconds ago, and no error since. Otherwise
:meth:`snapshot` raises :class:`IndexerLagging` and chain checks report ERROR — never valid
or invalid. Every snapshot and :meth:`state` states the lag in blocks and in seconds.

:meth:`run_forever` (a daemon thread of the service) survives every error: each is logged on
one line, counted (:attr:`Indexer.errors`, in the metrics) and kept in the state (so
``/healthz`` is unhealthy while it lasts), and the catch-up is retried with a back-off capped
at ``MAX_BACKOFF`` seconds (2).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
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
    now,
)
from chain.errors import ChainError
from chain.registry import (
    CATALOGUE_EVENTS,
    GRANT_EVENTS,
    AnchorInfo,
    CertificateStatus,
    ChainEvent,
    ChainSnapshot,
    Deployment,
    KeyRecord,
    LeafStatus,
    Registry,
    uscc_of,
)
from seals.sm2 import sm3

_log = logging.getLogger(__name__)

STEP = 5_000
RECENT_CHECKPOINTS = 16
"""Checkpoints kept for every recent cursor position; older ones thin out exponentially (one
at each distance of 32, 64, 128 … blocks from the newest), so a rollback of any depth finds
a common block near its fork."""
MAX_BACKOFF = 2.0
"""Longest wait between two catch-up attempts after errors: a node back up is followed
again within this (each attempt against a node that is down costs one refused request)."""


class IndexerLagging(ChainError):
    """The index is not known to be current: chain checks cannot be judged from it."""

    code = "indexer_lagging"

    def __init__(
        self, message: str, *, code: str | None = None, lag: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.lag: dict[str, Any] = dict(lag or {})


@dataclass(frozen=True)
class IndexerState:
    indexed_block: int | None
    head: int | None
    seconds_since_contact: float | None
    healthy: bool
    error: str | None
    staleness: float | None = None
    """Seconds since this process last confirmed the index current (None: never)."""
    generation: int = 0

    @property
    def lag(self) -> int | None:
        if self.indexed_block is None or self.head is None:
            return None
        return max(0, self.head - self.indexed_block)

    @property
    def lag_data(self) -> dict[str, Any]:
        """The lag as chain checks and ``/healthz`` report it."""
        return {
            "lag_blocks": self.lag,
            "lag_seconds": None if self.staleness is None else round(self.staleness, 3),
        }


@dataclass(frozen=True)
class _Cursor:
    block: int
    block_hash: str | None
    generation: int


class Indexer:
    """Follows one deployment into one database."""

    def __init__(
        self,
        store: Store,
        registry: Registry,
        *,
        confirmations: int = 0,
        max_staleness: float = 2.0,
    ) -> None:
        self.store = store
        self.registry = registry
        self.deployment: Deployment = registry.deployment
        self.confirmations = confirmations
        self.max_staleness = max_staleness
        self._lock = threading.Lock()
        self._head: int | None = None
        self._contact: float | None = None
        self._current_at: float | None = None
        """When (monotonic) the head was read at the last catch-up that reached it."""
        self._current_block: int = -1
        """The block that catch-up reached (head less confirmations)."""
        self._error: str | None = None
        self._generation: int | None = None
        """The index generation this process's caches belong to."""
        self._anchor_cache: dict[str, AnchorInfo] = {}
        self._names: dict[str, str] = {}
        self._key_cache: dict[str, tuple[int, dict[bytes, tuple[KeyRecord, bytes | None]]]] = {}
        self._grant_cache: dict[
            tuple[str, str | None, int | None, int | None], list[ChainEvent]
        ] = {}
        """Each issuer's key records, with the cursor block they were read at: kept only
        while the index has not moved (a retirement or compromise report indexed reaches
        the next verification)."""
        self._seen_block = -1
        """The cursor block the last read of the index saw."""
        self.errors: Counter[str] = Counter()
        """Errors of :meth:`run_forever`'s catch-ups, by code (for the metrics)."""
        self.rewinds = 0
        """Rewinds this process made (for the metrics)."""

    # ---- following ----

    def catch_up(self) -> int:
        """Index every event up to the head (less confirmations), after checking the cursor's
        block is still the chain's (rewinding if not); return the indexed block."""
        with self._lock:
            try:
                reached = self._catch_up()
            except Exception as exc:
                self._error = _describe(exc)
                raise
            self._error = None
            return reached

    def _catch_up(self) -> int:
        for _ in range(5):  # another process may move the cursor meanwhile: read it again
            asked = time.monotonic()
            cursor = self._cursor()
            head, head_hash, cursor_hash = self._head_and(cursor)
            self._head, self._contact = head, time.monotonic()
            target = head - self.confirmations
            if cursor is not None and cursor.block >= self.deployment.block and (
                cursor.block > head or cursor_hash is None or cursor_hash != cursor.block_hash
            ):
                cursor = self._rewind(cursor, head)
                if cursor is None:
                    continue
            start = self.deployment.block if cursor is None else cursor.block + 1
            moved = True
            while start <= target and moved:
                end = min(target, start + STEP - 1)
                end_hash = head_hash if end == head else self.registry.block_hashes([end])[end]
                if end_hash is None:
                    raise ChainError(f"block {end} vanished while indexing", code="block_missing")
                events = self.registry.events(start, end)
                cursor, moved = self._apply(events, cursor, end, end_hash)
                start = end + 1
            if not moved:
                continue
            self._current_at, self._current_block = asked, target
            return max(target, cursor.block if cursor is not None else target)
        raise IndexerLagging(
            "the index cursor kept moving under this catch-up (other processes indexing)",
            code="indexer_contended",
        )

    def _head_and(self, cursor: _Cursor | None) -> tuple[int, str, str | None]:
        """The head's number and hash, and the chain's hash of the cursor's block (None if
        the chain has no such block), in one JSON-RPC batch."""
        calls: list[tuple[str, list[Any]]] = [("eth_getBlockByNumber", ["latest", False])]
        if cursor is not None and cursor.block >= self.deployment.block:
            calls.append(("eth_getBlockByNumber", [hex(cursor.block), False]))
        answers = self.registry.rpc.batch(calls)
        latest = answers[0]
        if not isinstance(latest, dict):
            raise ChainError("the node returned no latest block", code="block_missing")
        at_cursor = answers[1] if len(answers) > 1 else None
        return (
            int(latest["number"], 16),
            str(latest["hash"]),
            str(at_cursor["hash"]) if isinstance(at_cursor, dict) else None,
        )

    def run_forever(
        self, stop: threading.Event, interval: float = 0.5, max_backoff: float = MAX_BACKOFF
    ) -> None:
        """Catch up every ``interval`` seconds until ``stop``. Every error is logged, counted
        and kept in the state; the next attempt comes after a back-off (doubling, at most
        ``max_backoff`` seconds). Nothing ends the loop but ``stop``."""
        failures = 0
        while not stop.is_set():
            try:
                self.catch_up()
            except Exception as exc:
                failures += 1
                code = getattr(exc, "code", None)
                self.errors[code if isinstance(code, str) else type(exc).__name__] += 1
                delay = min(max_backoff, interval * 2 ** min(failures, 16))
                _log.warning(
                    "indexer catch-up failed attempt=%d retry_in=%.1fs", failures, delay,
                    exc_info=exc,
                )
                stop.wait(delay)
                continue
            if failures:
                _log.info("indexer recovered after=%d failed attempts", failures)
            failures = 0
            stop.wait(interval)

    def _cursor(self) -> _Cursor | None:
        with self.store.engine.connect() as connection:
            row = connection.execute(sa.select(chain_cursor).where(chain_cursor.c.id == 1)).first()
        if row is None:
            return None
        if row.chain_id != self.deployment.chain_id or (
            row.contract.lower() != self.deployment.certificate_registry.lower()
        ):
            raise IndexerLagging(
                f"this database indexes chain {row.chain_id} contract {row.contract}, not the "
                f"configured deployment; use a fresh database for another deployment",
                code="index_of_other_deployment",
            )
        return _Cursor(int(row.block), row.block_hash, int(row.generation))

    def _apply(
        self, events: Iterable[ChainEvent], expected: _Cursor | None, through: int, hash_: str
    ) -> tuple[_Cursor | None, bool]:
        """Apply ``events`` and move the cursor from ``expected`` to ``(through, hash_)`` in
        one transaction; ``(cursor, False)`` if another process moved it first."""
        try:
            with self.store.transaction() as connection:
                current = _locked_cursor(connection)
                if current != expected:
                    return current, False  # another process got here first
                for event in events:
                    _derive(_SqlTables(connection), event)
                    connection.execute(
                        sa.delete(chain_events).where(
                            chain_events.c.block_number == event.block_number,
                            chain_events.c.log_index == event.log_index,
                        )
                    )
                    connection.execute(chain_events.insert().values(**_event_row(event)))
                generation = 0 if expected is None else expected.generation
                values = {"block": through, "block_hash": hash_, "updated_at": now()}
                if expected is None:
                    connection.execute(
                        chain_cursor.insert().values(
                            id=1,
                            chain_id=self.deployment.chain_id,
                            contract=self.deployment.certificate_registry,
                            generation=generation,
                            **values,
                        )
                    )
                else:
                    connection.execute(
                        chain_cursor.update().where(chain_cursor.c.id == 1).values(**values)
                    )
                _checkpoint(connection, through, hash_)
        except sa.exc.IntegrityError:
            return None, False  # another process wrote the first cursor meanwhile
        return _Cursor(through, hash_, generation), True

    def _rewind(self, cursor: _Cursor, head: int) -> _Cursor | None:
        """Go back to the newest checkpoint the chain still has (the deployment block if
        none), drop the events indexed after it and derive the anchors, statuses and keys
        again from the rest. ``None`` if another process changed the cursor meanwhile."""
        with self.store.engine.connect() as connection:
            checkpoints = connection.execute(
                sa.select(chain_checkpoints.c.block_number, chain_checkpoints.c.block_hash)
                .where(chain_checkpoints.c.block_number <= min(head, cursor.block))
                .order_by(chain_checkpoints.c.block_number.desc())
            ).all()
        on_chain = self.registry.block_hashes(int(c.block_number) for c in checkpoints)
        common = next(
            (c for c in checkpoints if on_chain.get(int(c.block_number)) == c.block_hash), None
        )
        base = int(common.block_number) if common is not None else self.deployment.block - 1
        with self.store.transaction() as connection:
            if _locked_cursor(connection) != cursor:
                return None  # another process rewound (or moved on) first
            dropped = connection.execute(
                sa.delete(chain_events).where(chain_events.c.block_number > base)
            ).rowcount
            connection.execute(
                sa.delete(chain_checkpoints).where(chain_checkpoints.c.block_number > base)
            )
            _rebuild_derived(connection)
            generation = cursor.generation + 1
            connection.execute(
                chain_cursor.update()
                .where(chain_cursor.c.id == 1)
                .values(
                    block=base,
                    block_hash=common.block_hash if common is not None else None,
                    generation=generation,
                    rewound_to=base,
                    updated_at=now(),
                )
            )
        self.rewinds += 1
        self._current_at = None  # not current until the catch-up that follows completes
        why = "head below the cursor" if cursor.block > head else "the cursor's block changed"
        _log.warning(
            "index rewound from block=%d to block=%d reason=%r head=%d events_dropped=%d "
            "generation=%d",
            cursor.block, base, why, head, dropped, generation,
        )
        return _Cursor(base, common.block_hash if common is not None else None, generation)

    # ---- reading ----

    def state(self) -> IndexerState:
        try:
            cursor = self._cursor()
        except Exception as exc:
            return IndexerState(None, self._head, None, False, _describe(exc))
        if cursor is None:
            return self._judge(None, 0)
        return self._judge(cursor.block, cursor.generation)

    def _judge(self, cursor: int | None, generation: int) -> IndexerState:
        moment = time.monotonic()
        silence = None if self._contact is None else moment - self._contact
        staleness = None if self._current_at is None else moment - self._current_at
        healthy = (
            cursor is not None
            and cursor >= self._current_block
            and self._head is not None
            and self._error is None
            and staleness is not None
            and staleness <= self.max_staleness
        )
        return IndexerState(cursor, self._head, silence, healthy, self._error, staleness,
                            generation)

    def _current(self, fetch: Any) -> IndexerState:
        """The state judged on the cursor row read through ``fetch`` (dropping this
        process's cached chain facts if the index was rewound since they were read);
        :class:`IndexerLagging` unless the index is current."""
        rows = fetch("SELECT block, generation FROM chain_cursor WHERE id = 1")
        cursor, generation = (int(rows[0][0]), int(rows[0][1])) if rows else (None, 0)
        if generation != self._generation:
            self._anchor_cache.clear()
            self._key_cache.clear()
            self._names.clear()
            self._grant_cache.clear()
            self._generation = generation
        self._seen_block = -1 if cursor is None else cursor
        state = self._judge(cursor, generation)
        if not state.healthy or state.indexed_block is None:
            if state.error:
                why = state.error
            elif state.head is None or state.staleness is None:
                why = "the chain has not been reached yet"
            else:
                why = (
                    f"the index at block {state.indexed_block} was last confirmed current "
                    f"{state.staleness:.1f} s ago (chain head {state.head}; the limit is "
                    f"{self.max_staleness:g} s)"
                )
            raise IndexerLagging(f"the chain index is not current: {why}", lag=state.lag_data)
        return state

    def _require_current(self) -> IndexerState:
        with self.store.reader() as fetch:
            return self._current(fetch)

    def snapshot(
        self,
        *,
        roots: Iterable[bytes] = (),
        leaves: Iterable[tuple[str, bytes]] = (),
        keys: Iterable[tuple[str, bytes]] = (),
        block: int | None = None,
    ) -> ChainSnapshot:
        """The same facts as :meth:`Registry.snapshot`, from the index, at the indexed block.

        Anchors never change once made (but for a rewind, which empties the cache), so they
        are cached; key records (which a retirement or a compromise report changes) are
        cached while the index's cursor stays where it was; statuses are read every time."""
        root_list = list(dict.fromkeys(r.hex() for r in roots))
        leaf_list = list(dict.fromkeys((u, x.hex()) for u, x in leaves))
        key_list = list(dict.fromkeys((u, k.hex()) for u, k in keys))
        anchors: dict[bytes, AnchorInfo | None] = {}
        statuses: dict[tuple[str, bytes], LeafStatus] = {
            (u, bytes.fromhex(x)): LeafStatus(CertificateStatus.ACTIVE, 0, None, None, None)
            for u, x in leaf_list
        }
        with self.store.reader() as fetch:
            state = self._current(fetch)
            missing = [r for r in root_list if r not in self._anchor_cache]
            for chunk in _chunks(missing):
                for root, issuer, leaf_count, block_number, timestamp in fetch(
                    "SELECT root, issuer, leaf_count, block_number, timestamp FROM chain_anchors"
                    f" WHERE root IN ({', '.join('?' * len(chunk))})",
                    *chunk,
                ):
                    self._anchor_cache[root] = AnchorInfo(
                        bytes.fromhex(root), issuer, leaf_count, block_number, timestamp, ""
                    )
            for r in root_list:
                anchors[bytes.fromhex(r)] = self._anchor_cache.get(r)
            for issuer in {u for u, _ in leaf_list}:  # (issuer, leaf) is the primary key
                for chunk in _chunks([x for u, x in leaf_list if u == issuer]):
                    for leaf, status, reason, block_number, timestamp, superseded_by in fetch(
                        "SELECT leaf, status, reason, block_number, timestamp, superseded_by"
                        " FROM chain_status WHERE issuer = ?"
                        f" AND leaf IN ({', '.join('?' * len(chunk))})",
                        issuer,
                        *chunk,
                    ):
                        statuses[(issuer, bytes.fromhex(leaf))] = LeafStatus(
                            CertificateStatus(status),
                            reason,
                            block_number,
                            timestamp,
                            bytes.fromhex(superseded_by) if superseded_by else None,
                        )
            records: dict[tuple[str, bytes], KeyRecord | None] = {}
            for issuer in {u for u, _ in key_list}:
                known = self._issuer_keys(issuer)
                for u, k in key_list:
                    if u == issuer:
                        found = known.get(bytes.fromhex(k))
                        records[(u, bytes.fromhex(k))] = found[0] if found else None
            # a rewind committed while this was read: judge nothing on a mixture (and let
            # the next read drop what this one may have cached)
            after = fetch("SELECT generation FROM chain_cursor WHERE id = 1")
        if not after or int(after[0][0]) != state.generation:
            self._generation = None
            raise IndexerLagging(
                "the chain index was rewound while it was read; try again", lag=state.lag_data
            )
        assert state.indexed_block is not None
        return ChainSnapshot(state.indexed_block, anchors, statuses, records, state.lag_data)

    def _issuer_keys(self, issuer: str) -> dict[bytes, tuple[KeyRecord, bytes | None]]:
        cached = self._key_cache.get(issuer)
        seen = self._seen_block
        if cached is not None and cached[0] == seen >= 0:
            return cached[1]
        with self.store.engine.connect() as connection:
            rows = connection.execute(
                sa.select(chain_keys).where(chain_keys.c.issuer == issuer)
            ).all()
        found = {
            bytes.fromhex(r.key_id): (
                KeyRecord(bytes.fromhex(r.key_id), r.valid_from, r.valid_until, r.compromised_at),
                bytes.fromhex(r.public_key) if r.public_key else None,
            )
            for r in rows
        }
        self._key_cache[issuer] = (seen, found)
        return found

    def key_ids(self, issuer: str) -> list[bytes]:
        """Every key the issuer registered (with or without its public key)."""
        return list(self._issuer_keys(issuer))

    def published_keys(self, issuer: str) -> dict[bytes, bytes]:
        self._require_current()
        known = self._issuer_keys(issuer)
        return {k: point for k, (_, point) in known.items() if point}

    def issuer_name(self, issuer: str) -> str | None:
        """The name the issuer was registered under, from the indexed ``IssuerRegistered``
        event (an issuer is registered once, so a name found is kept until a rewind)."""
        found = self._names.get(issuer)
        if found is None:
            with self.store.engine.connect() as connection:
                row = connection.execute(
                    sa.select(chain_events.c.args)
                    .where(
                        chain_events.c.name == "IssuerRegistered",
                        chain_events.c.issuer == issuer,
                    )
                    .order_by(chain_events.c.block_number.desc())
                    .limit(1)
                ).first()
            if row is None:
                return None
            found = str(json.loads(row.args).get("name", ""))
            self._names[issuer] = found
        return found

    def documents(self, digests: Iterable[bytes]) -> dict[bytes, AnchorInfo | None]:
        """Anchors of sealed-document digests, from the indexed events (only while the index
        is current: :class:`IndexerLagging` otherwise)."""
        self._require_current()
        wanted = {d.hex(): d for d in digests}
        out: dict[bytes, AnchorInfo | None] = {d: None for d in wanted.values()}
        with self.store.engine.connect() as connection:
            rows = connection.execute(
                sa.select(chain_events).where(
                    chain_events.c.name == "DocumentAnchored",
                    chain_events.c.subject.in_(list(wanted)),
                )
            ).all()
        for r in rows:
            out[wanted[r.subject]] = AnchorInfo(
                wanted[r.subject], r.issuer or "", 1, r.block_number, r.timestamp, ""
            )
        return out

    def authorization_events(
        self, issuer: str, code: str | None = None, *, block: int | None = None
    ) -> list[ChainEvent]:
        """The indexed events that decide whether ``issuer`` may issue type ``code``
        (``None``: any type): the type's catalogue events, the issuer's grants of it, up to
        ``block``, in order."""
        generation = self._generation
        key = (issuer, code, block, generation)
        found = self._grant_cache.get(key) if block is not None else None
        if found is None:
            try:
                found = indexed_authorization_events(self.store, issuer, code, block=block)
                with self.store.reader() as fetch:
                    rows = fetch("SELECT generation FROM chain_cursor WHERE id = 1")
            except (sa.exc.SQLAlchemyError, StoreError) as exc:
                raise IndexerLagging(
                    f"the chain index could not be read: {exc.__class__.__name__}",
                    code="database_unavailable",
                ) from exc
            if generation is not None and (int(rows[0][0]) if rows else 0) != generation:
                # rewound since the facts this is judged with were read: not one fork
                raise IndexerLagging("the chain index was rewound while it was read")
            if block is not None:  # what the index holds up to a block never changes
                if len(self._grant_cache) >= 4096:  # …in one generation
                    self._grant_cache.clear()
                self._grant_cache[key] = found
        return list(found)

    def catalogue_events(self) -> list[ChainEvent]:
        """The indexed changes of the certificate catalogue, in chain order."""
        return self._stored_where(chain_events.c.name.in_(CATALOGUE_EVENTS))

    def issuer_events(self, issuer: str) -> list[ChainEvent]:
        """Every indexed registry event about ``issuer`` (registration, status, accounts,
        keys, grants of any type), in chain order."""
        return self._stored_where(
            chain_events.c.issuer == issuer,
            chain_events.c.name.not_in(
                ("RootAnchored", "DocumentAnchored", "StatusChanged", "Superseded")
            ),
        )

    def _stored_where(self, *conditions: Any) -> list[ChainEvent]:
        return _read_events(
            self.store,
            sa.select(chain_events)
            .where(*conditions)
            .order_by(chain_events.c.block_number, chain_events.c.log_index),
        )

    def lag(self) -> Mapping[str, Any]:
        """How far behind the chain the index may be (``lag_blocks``, ``lag_seconds``)."""
        return self.state().lag_data

    def events_of(self, issuer: str, subjects: Iterable[bytes]) -> list[ChainEvent]:
        """Indexed events of ``issuer`` about these roots/leaves (either side of a link)."""
        hexes = [s.hex() for s in subjects]
        with self.store.engine.connect() as connection:
            rows = connection.execute(
                sa.select(chain_events)
                .where(
                    chain_events.c.issuer == issuer,
                    sa.or_(chain_events.c.subject.in_(hexes), chain_events.c.other.in_(hexes)),
                )
                .order_by(chain_events.c.block_number, chain_events.c.log_index)
            ).all()
        return [_stored_event(r) for r in rows]


# ---- deriving the index tables from events ----


class _Tables(Protocol):
    """Where :func:`_derive` writes: the database (while following, :class:`_SqlTables`) or
    memory (rebuilding after a rewind, then written at once, :class:`_MemoryTables`)."""

    def put_anchor(self, root: str, row: dict[str, Any]) -> None: ...

    def put_status(self, issuer: str, leaf: str, row: dict[str, Any]) -> None: ...

    def put_key(self, issuer: str, key_id: str, row: dict[str, Any]) -> None: ...

    def update_key(self, issuer: str, key_id: str, values: dict[str, Any]) -> None: ...


class _SqlTables:
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


def _derive(tables: _Tables, event: ChainEvent) -> None:
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
                "status": int(a["status"]) if changed else int(CertificateStatus.SUPERSEDED),
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


def _event_row(event: ChainEvent) -> dict[str, Any]:
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
    return _read_events(store, query)


def _read_events(store: Store, query: Any) -> list[ChainEvent]:
    """Stored events; a database that cannot answer is :class:`StoreError`
    (``database_unavailable``: "could not decide", as every other index read says)."""
    try:
        with store.engine.connect() as connection:
            return [_stored_event(r) for r in connection.execute(query).all()]
    except sa.exc.DBAPIError as exc:
        raise StoreError(
            f"the database could not be read: {exc.orig}", code="database_unavailable"
        ) from exc


def _stored_event(row: Any) -> ChainEvent:
    return ChainEvent(
        row.name,
        "",
        row.block_number,
        row.timestamp,
        row.tx_hash,
        row.log_index,
        _from_json(json.loads(row.args)),
    )


def _rebuild_derived(connection: sa.Connection) -> None:
    """Anchors, statuses and keys derived anew from the whole stored event log, in order."""
    tables = _MemoryTables()
    rows = connection.execute(
        sa.select(chain_events).order_by(chain_events.c.block_number, chain_events.c.log_index)
    )
    for row in rows:
        _derive(tables, _stored_event(row))
    for table in (chain_anchors, chain_status, chain_keys):
        connection.execute(sa.delete(table))
    for table, values in (
        (chain_anchors, tables.anchors),
        (chain_status, tables.statuses),
        (chain_keys, tables.keys),
    ):
        if values:
            connection.execute(table.insert(), list(values.values()))


def _locked_cursor(connection: sa.Connection) -> _Cursor | None:
    """The cursor row inside a write transaction (PostgreSQL: locked until it ends; SQLite's
    write transaction excludes other writers already)."""
    query = sa.select(chain_cursor).where(chain_cursor.c.id == 1)
    if connection.dialect.name == "postgresql":
        query = query.with_for_update()
    row = connection.execute(query).first()
    return None if row is None else _Cursor(int(row.block), row.block_hash, int(row.generation))


def _checkpoint(connection: sa.Connection, block: int, block_hash: str) -> None:
    """Record ``(block, hash)`` and thin the older checkpoints: every one of the newest
    :data:`RECENT_CHECKPOINTS`, then one at each doubling distance from the newest."""
    connection.execute(
        sa.delete(chain_checkpoints).where(chain_checkpoints.c.block_number >= block)
    )
    connection.execute(chain_checkpoints.insert().values(block_number=block, block_hash=block_hash))
    numbers = list(
        connection.execute(
            sa.select(chain_checkpoints.c.block_number).order_by(
                chain_checkpoints.c.block_number.desc()
            )
        ).scalars()
    )
    keep = set(numbers[:RECENT_CHECKPOINTS])
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


def _describe(exc: BaseException) -> str:
    """An error as the state and ``/healthz`` show it (chain errors name an endpoint by
    scheme, host and port only)."""
    code = getattr(exc, "code", None)
    if isinstance(code, str):
        return f"{code}: {exc}"
    return f"{type(exc).__name__}: {exc}"


def _chunks(values: list[str], size: int = 500) -> Iterable[list[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _jsonable(value: Any) -> Any:
    return {"hex": value.hex()} if isinstance(value, bytes) else value


def _from_json(args: dict[str, Any]) -> dict[str, Any]:
    return {
        k: bytes.fromhex(v["hex"]) if isinstance(v, dict) and "hex" in v else v
        for k, v in args.items()
    }
