"""Reading the chain index: whether it is current (its state and lag), and the chain facts
a verification judges, read from the index tables at the cursor's block."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from certs.store import (
    Store,
    StoreError,
    chain_cursor,
    chain_events,
    chain_keys,
)
from chain.errors import ChainError
from chain.registry import (
    CATALOGUE_EVENTS,
    AnchorInfo,
    ChainEvent,
    ChainSnapshot,
    ChainStatus,
    Deployment,
    KeyRecord,
    LeafStatus,
    RegistryClient,
)
from verifier.index.tables import (
    Cursor,
    chunks,
    describe,
    indexed_authorization_events,
    read_events,
    stored_event,
)

_log = logging.getLogger("verifier.indexer")  # one logger for the index


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
class Confirmation:
    """The last confirmation, by any process, that the shared index was current (the
    ``chain_cursor`` columns of migration 0007)."""

    head: int | None
    block: int | None
    """The block the index had to reach (the head less the confirmations)."""
    age: float | None
    """Seconds since, on the database's clock (None: never confirmed)."""

    @classmethod
    def of(cls, head: Any, block: Any, at: Any, clock: Any) -> Confirmation:
        age = None if at is None else float(clock) - float(at)
        return cls(
            None if head is None else int(head),
            None if block is None else int(block),
            # a confirmation in the database's future (its clock stepped back; a fail-over to
            # a server whose clock is behind) is of unknown age: never current
            None if age is None or age < 0 else age,
        )


CURSOR_SQL = "SELECT block, generation FROM chain_cursor WHERE id = 1"
SHARED_CURSOR_SQL = (
    "SELECT block, generation, head, confirmed_block, confirmed_at,"
    " EXTRACT(EPOCH FROM clock_timestamp()) FROM chain_cursor WHERE id = 1"
)
CLOCK_SQL = "SELECT EXTRACT(EPOCH FROM clock_timestamp())"
STATUS_COLUMNS = "leaf, status, reason, block_number, timestamp, superseded_by"


def cursor_with_statuses_sql(shared: bool, leaves: int) -> str:
    """The cursor row (with the shared confirmation when ``shared``: the columns of
    :data:`CURSOR_SQL` or :data:`SHARED_CURSOR_SQL`), each row followed by one stored
    status of the issuer (``?``, then ``leaves`` leaves ``?``) or by NULLs: one statement,
    so one snapshot of the database and one round trip (# Why: bench/PERFORMANCE.md,
    "Index: the cursor and the statuses in one statement")."""
    cursor = (
        "c.block, c.generation, c.head, c.confirmed_block, c.confirmed_at,"
        " EXTRACT(EPOCH FROM clock_timestamp())"
        if shared
        else "c.block, c.generation"
    )
    status = ", ".join(f"s.{name}" for name in STATUS_COLUMNS.split(", "))
    return (
        f"SELECT {cursor}, {status} FROM chain_cursor c LEFT JOIN chain_status s"
        f" ON s.issuer = ? AND s.leaf IN ({', '.join('?' * leaves)}) WHERE c.id = 1"
    )


class IndexReader:
    """The index of one deployment in one database, as verifications read it.

    On PostgreSQL the index is **shared** by every instance on the database: one elected
    process follows the chain (:mod:`verifier.app.service.leader`), and each process judges
    whether the index is current from the last confirmation stored with the cursor (by
    whichever process made it), aged on the database's clock; a process's own failed
    catch-up newer than that confirmation also counts. On SQLite each process judges from
    its own catch-ups."""

    def __init__(
        self,
        store: Store,
        registry: RegistryClient,
        *,
        confirmations: int = 0,
        max_staleness: float = 2.0,
        max_head_age: float = 0.0,
    ) -> None:
        self.store = store
        self.registry = registry
        self.deployment: Deployment = registry.deployment
        self.confirmations = confirmations
        self.max_staleness = max_staleness
        self.max_head_age = max_head_age
        """A head block older than this (seconds, by its timestamp against this machine's
        clock) means the node stopped following the chain: a catch-up then fails
        (``node_stale``) and confirms nothing. 0: not checked (a chain that makes blocks
        only on demand, as the devnet does)."""
        self._lock = threading.Lock()
        self._head: int | None = None
        self._contact: float | None = None
        self._current_at: float | None = None
        """When (monotonic) the head was read at the last catch-up that reached it."""
        self._current_block: int = -1
        """The block that catch-up reached (head less confirmations)."""
        self._error: str | None = None
        self._error_at: float | None = None
        """When (monotonic) this process's last catch-up failed."""
        self.shared = store.engine.dialect.name == "postgresql"
        """Staleness judged from the confirmation in the database (see the class)."""
        self.confirms = True
        """Whether a :meth:`catch_up` not told otherwise stores a confirmation (PostgreSQL).
        A service's follower must not: its node may lag the elected indexer's (a load
        balancer's other node), and its catch-up — after a change it made, at its start —
        would then rewind the shared index below its head and confirm that as current for
        every instance. Only the elected indexer's loop confirms there."""
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

    # ---- reading ----

    def _cursor(self) -> Cursor | None:
        with self.store.engine.connect() as connection:
            row = connection.execute(
                sa.select(chain_cursor).where(chain_cursor.c.id == 1)
            ).first()
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
        return Cursor(int(row.block), row.block_hash, int(row.generation))


    def _confirmation(self) -> Confirmation:
        with self.store.reader() as fetch:
            rows = fetch(SHARED_CURSOR_SQL)
        return Confirmation.of(*rows[0][2:]) if rows else Confirmation(None, None, None)

    def state(self) -> IndexerState:
        try:
            cursor = self._cursor()
            confirmation = self._confirmation() if self.shared else None
        except Exception as exc:
            return IndexerState(None, self._head, None, False, describe(exc))
        if cursor is None:
            return self._judge(None, 0, confirmation)
        return self._judge(cursor.block, cursor.generation, confirmation)

    def _judge(
        self, cursor: int | None, generation: int, shared: Confirmation | None = None
    ) -> IndexerState:
        moment = time.monotonic()
        current_block: int | None
        if shared is None:  # this process's own catch-ups
            head, error, current_block = self._head, self._error, self._current_block
            silence = None if self._contact is None else moment - self._contact
            staleness = None if self._current_at is None else moment - self._current_at
        else:  # the last confirmation any process stored; an error of ours since counts
            head, current_block = shared.head, shared.block
            silence = staleness = shared.age
            error = self._error
            if error is not None and staleness is not None and self._error_at is not None:
                error = error if moment - self._error_at < staleness else None
        healthy = (
            cursor is not None
            and current_block is not None
            and cursor >= current_block
            and head is not None
            and error is None
            and staleness is not None
            and staleness <= self.max_staleness
        )
        return IndexerState(cursor, head, silence, healthy, error, staleness, generation)

    def _current(self, fetch: Any, rows: list[tuple[Any, ...]] | None = None) -> IndexerState:
        """The state judged on the cursor row read through ``fetch`` (or the ``rows`` of
        :func:`cursor_with_statuses_sql` already read) (dropping this process's cached chain
        facts if the index was rewound since they were read); :class:`IndexerLagging` unless
        the index is current."""
        if rows is None:
            rows = fetch(SHARED_CURSOR_SQL if self.shared else CURSOR_SQL)
        cursor, generation = (int(rows[0][0]), int(rows[0][1])) if rows else (None, 0)
        shared = None
        if self.shared:
            shared = Confirmation.of(*rows[0][2:6]) if rows else Confirmation(None, None, None)
        if generation != self._generation:
            self._anchor_cache.clear()
            self._key_cache.clear()
            self._names.clear()
            self._grant_cache.clear()
            self._generation = generation
        self._seen_block = -1 if cursor is None else cursor
        state = self._judge(cursor, generation, shared)
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
        """The same facts as :meth:`RegistryClient.snapshot`, from the index, at the indexed block.

        Anchors never change once made (but for a rewind, which empties the cache), so they
        are cached; key records (which a retirement or a compromise report changes) are
        cached while the index's cursor stays where it was; statuses are read every time.

        The cursor (and the confirmation) and the statuses of the first issuer's leaves (up
        to a chunk: a QR's, a certificate's, a batch's of one issuer) are one statement, one
        snapshot of the database. What is read in further statements (anchors or keys not
        cached, further statuses) is checked against a rewind committed meanwhile by reading
        the cursor's generation again at the end."""
        root_list = list(dict.fromkeys(r.hex() for r in roots))
        leaf_list = list(dict.fromkeys((u, x.hex()) for u, x in leaves))
        key_list = list(dict.fromkeys((u, k.hex()) for u, k in keys))
        anchors: dict[bytes, AnchorInfo | None] = {}
        statuses: dict[tuple[str, bytes], LeafStatus] = {
            (u, bytes.fromhex(x)): LeafStatus(ChainStatus.ACTIVE, 0, None, None, None)
            for u, x in leaf_list
        }

        def keep_status(issuer: str, row: tuple[Any, ...]) -> None:
            leaf, status, reason, block_number, timestamp, superseded_by = row
            statuses[(issuer, bytes.fromhex(leaf))] = LeafStatus(
                ChainStatus(status),
                reason,
                block_number,
                timestamp,
                bytes.fromhex(superseded_by) if superseded_by else None,
            )

        first = leaf_list[0][0] if leaf_list else None
        by_issuer = {
            issuer: list(chunks([x for u, x in leaf_list if u == issuer]))
            for issuer in dict.fromkeys(u for u, _ in leaf_list)
        }
        with self.store.reader() as fetch:
            if first is None:
                state = self._current(fetch)
                apart = False  # whether anything is read in a statement of its own
            else:
                chunk = by_issuer[first].pop(0)
                rows = fetch(cursor_with_statuses_sql(self.shared, len(chunk)), first, *chunk)
                state = self._current(fetch, rows)
                width = 6 if self.shared else 2
                for row in rows:
                    if row[width] is not None:
                        keep_status(first, row[width:])
                apart = any(by_issuer.values())
            missing = [r for r in root_list if r not in self._anchor_cache]
            apart = apart or bool(missing)
            for chunk in chunks(missing):
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
            for issuer, rest in by_issuer.items():  # (issuer, leaf) is the primary key
                for chunk in rest:
                    for row in fetch(
                        f"SELECT {STATUS_COLUMNS} FROM chain_status WHERE issuer = ?"
                        f" AND leaf IN ({', '.join('?' * len(chunk))})",
                        issuer,
                        *chunk,
                    ):
                        keep_status(issuer, row)
            records: dict[tuple[str, bytes], KeyRecord | None] = {}
            for issuer in {u for u, _ in key_list}:
                apart = apart or not self._keys_cached(issuer)
                known = self._issuer_keys(issuer)
                for u, k in key_list:
                    if u == issuer:
                        found = known.get(bytes.fromhex(k))
                        records[(u, bytes.fromhex(k))] = found[0] if found else None
            # a rewind committed while this was read: judge nothing on a mixture (and let
            # the next read drop what this one may have cached)
            # (nothing read apart: all in the cursor's statement, or cached in its generation)
            after = (
                fetch("SELECT generation FROM chain_cursor WHERE id = 1")
                if apart
                else [(state.generation,)]
            )
        if not after or int(after[0][0]) != state.generation:
            self._generation = None
            raise IndexerLagging(
                "the chain index was rewound while it was read; try again", lag=state.lag_data
            )
        assert state.indexed_block is not None
        return ChainSnapshot(state.indexed_block, anchors, statuses, records, state.lag_data)

    def _keys_cached(self, issuer: str) -> bool:
        """Whether :meth:`_issuer_keys` will answer from the cache (read at the cursor's
        block last seen, in this generation)."""
        cached = self._key_cache.get(issuer)
        return cached is not None and cached[0] == self._seen_block >= 0

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

    def anchor_of(self, root: bytes) -> AnchorInfo | None:
        """The root's anchor as the chain node's head has it, read from the node (the blocks
        not yet confirmed included, which the index does not judge by): only ever to tell
        "not yet confirmed" from "missing", never to make a verdict valid."""
        return self.registry.anchor_of(root)

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
                if block is None:
                    # "up to now" (issuance, a timeline) is judged with no facts read before:
                    # what must hold is that this one read saw one generation. This process's
                    # own generation may predate a rewind another worker indexed, and no
                    # snapshot here has refreshed it yet.
                    with self.store.reader() as fetch:
                        rows = fetch("SELECT generation FROM chain_cursor WHERE id = 1")
                    generation = int(rows[0][0]) if rows else 0
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
        return read_events(
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
        return [stored_event(r) for r in rows]
