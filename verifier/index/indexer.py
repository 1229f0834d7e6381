"""The chain indexer: contract events into the database, so a verification reads no RPC.

The indexer reads every event of both contracts from the deployment block onward (in ranges
of at most ``STEP`` blocks), applies each to the index tables (anchors, statuses, keys, and
the raw event log for history) and moves its cursor, all in one database transaction per
range. A status change made through this service calls :meth:`Indexer.catch_up` right after
its receipt, so the next verification sees it at once.

The cursor is a block number *and that block's hash*. Each catch-up first checks that the
chain still has that block. When the node has it with another hash (a reorganisation, a
devnet restored from an older state that mined on), the index rewinds to the newest recorded
checkpoint (number, hash) the chain still has — to the deployment block if none — deletes
the events indexed after it, derives the anchors, statuses and keys again from the events
that remain, and bumps the cursor's *generation*: every process reading the index (several
workers share one database) drops its cached chain facts when it sees a new generation.
When the node's head is below the cursor, the index rewinds only if a block it recorded
below that head now has another hash (a fork, proven); otherwise it waits, not current (a
node behind another looks the same as a chain that went back: :meth:`Indexer._rewind`).

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

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from certs.store import (
    chain_checkpoints,
    chain_cursor,
    chain_events,
    now,
)
from chain.errors import ChainError
from chain.registry import (
    ChainEvent,
)
from verifier.index.reader import (
    CLOCK_SQL,
    IndexerLagging,
    IndexerState,
    IndexReader,
)
from verifier.index.tables import (
    RECENT_CHECKPOINTS,
    Cursor,
    SqlTables,
    checkpoint,
    derive,
    describe,
    event_row,
    indexed_authorization_events,
    locked_cursor,
    rebuild_derived,
)

__all__ = [
    "IndexReader",
    "Indexer",
    "IndexerLagging",
    "IndexerState",
    "indexed_authorization_events",
]

_log = logging.getLogger("verifier.indexer")  # one logger for the index

STEP = 5_000
MAX_BACKOFF = 2.0
"""Longest wait between two catch-up attempts after errors: a node back up is followed
again within this (each attempt against a node that is down costs one refused request)."""


class Indexer(IndexReader):
    """Follows one deployment into one database."""

    # ---- following ----

    def catch_up(self, *, confirm: bool | None = None) -> int:
        """Index every event up to the head (less confirmations), after checking the cursor's
        block is still the chain's (rewinding if not); return the indexed block. On
        PostgreSQL store the confirmation every instance judges staleness by if ``confirm``
        (default: :attr:`confirms`)."""
        with self._lock:
            try:
                reached = self._catch_up(self.confirms if confirm is None else confirm)
            except Exception as exc:
                self._error, self._error_at = describe(exc), time.monotonic()
                raise
            self._error = None
            return reached

    def _catch_up(self, confirm: bool) -> int:
        for _ in range(5):  # another process may move the cursor meanwhile: read it again
            asked = time.monotonic()
            # the database's clock, before the head
            clock = self._clock() if self.shared and confirm else None
            cursor = self._cursor()
            head, head_hash, cursor_hash = self._head_and(cursor)
            self._head, self._contact = head, time.monotonic()
            target = head - self.confirmations
            if cursor is not None and cursor.block >= self.deployment.block and (
                cursor_hash != cursor.block_hash
            ):
                # the node's block at the cursor differs (a fork: rewind), or the node has no
                # such block — its head is below the cursor: rewind only if it proves a fork
                self._rewind(cursor, head, forked=cursor_hash is not None)
                # read the head and the new cursor's block again, in one batch: the node
                # that answered the recorded blocks' hashes may not be the head's
                continue
            # never below the deployment block (a cursor set back to 0 rebuilds the index)
            start = self.deployment.block if cursor is None else max(
                self.deployment.block, cursor.block + 1
            )
            moved = True
            while start <= target and moved:
                end = min(target, start + STEP - 1)
                end_hash = head_hash if end == head else self.registry.block_hashes([end])[end]
                if end_hash is None:
                    raise ChainError(f"block {end} vanished while indexing", code="block_missing")
                events = self.registry.events(start, end, end_hash=end_hash)
                cursor, moved = self._apply(events, cursor, end, end_hash)
                start = end + 1
            if not moved:
                continue
            if clock is not None and cursor is not None:
                self._confirm(cursor, head, target, clock)
            self._current_at, self._current_block = asked, target
            return max(target, cursor.block if cursor is not None else target)
        raise IndexerLagging(
            "the index cursor kept moving under this catch-up (other processes indexing)",
            code="indexer_contended",
        )

    def _clock(self) -> float:
        """The database's clock, in seconds since the epoch."""
        with self.store.reader() as fetch:
            return float(fetch(CLOCK_SQL)[0][0])

    def _confirm(self, cursor: Cursor, head: int, target: int, clock: float) -> None:
        """Store that the index reached ``target`` of a head read after ``clock`` (for every
        instance to judge staleness by): only over an older confirmation, and only while the
        cursor is still at or past ``target`` in the same generation (no rewind since). A
        confirmation stored in the database's future is replaced (it is never current)."""
        with self.store.transaction() as connection:
            connection.execute(
                chain_cursor.update()
                .where(
                    chain_cursor.c.id == 1,
                    chain_cursor.c.block >= target,
                    chain_cursor.c.generation == cursor.generation,
                    sa.or_(
                        chain_cursor.c.confirmed_at.is_(None),
                        chain_cursor.c.confirmed_at < clock,
                        # one from the database's future (its clock stepped back, a fail-over
                        # to a server whose clock is behind): of unknown age, replaced
                        chain_cursor.c.confirmed_at
                        > sa.extract("epoch", sa.func.clock_timestamp()),
                    ),
                )
                .values(head=head, confirmed_block=target, confirmed_at=clock)
            )

    def _head_and(self, cursor: Cursor | None) -> tuple[int, str, str | None]:
        """The head's number and hash, and the chain's hash of the cursor's block (None if
        the chain has no such block), in one JSON-RPC batch."""
        calls: list[tuple[str, list[Any]]] = [("eth_getBlockByNumber", ["latest", False])]
        if cursor is not None and cursor.block >= self.deployment.block:
            calls.append(("eth_getBlockByNumber", [hex(cursor.block), False]))
        answers = self.registry.rpc.batch(calls)
        latest = answers[0]
        if not isinstance(latest, dict):
            raise ChainError("the node returned no latest block", code="block_missing")
        if self.max_head_age > 0:
            age = time.time() - int(latest["timestamp"], 16)
            if age > self.max_head_age:
                # a node that stopped syncing answers its old head as the newest: every
                # revocation since would go unseen, its certificates read valid
                raise IndexerLagging(
                    f"the node's newest block ({int(latest['number'], 16)}) is {age:.0f} s "
                    f"old, more than the {self.max_head_age:g} s allowed: the node may have "
                    "stopped following the chain",
                    code="node_stale",
                )
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
                self.catch_up(confirm=True)  # the elected indexer's loop (SQLite: each one's)
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

    def _apply(
        self, events: Sequence[ChainEvent], expected: Cursor | None, through: int, hash_: str
    ) -> tuple[Cursor | None, bool]:
        """Apply ``events`` and move the cursor from ``expected`` to ``(through, hash_)`` in
        one transaction; ``(cursor, False)`` if another process moved it first."""
        try:
            with self.store.transaction() as connection:
                current = locked_cursor(connection)
                if current != expected:
                    return current, False  # another process got here first
                for event in events:
                    derive(SqlTables(connection), event)
                    connection.execute(
                        sa.delete(chain_events).where(
                            chain_events.c.block_number == event.block_number,
                            chain_events.c.log_index == event.log_index,
                        )
                    )
                    connection.execute(chain_events.insert().values(**event_row(event)))
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
                # the newest blocks with events too: a fork through them shows even while the
                # node's head is below the cursor
                checkpoint(connection, through, hash_, {
                    e.block_number: e.block_hash for e in events[-RECENT_CHECKPOINTS:]
                })
        except sa.exc.IntegrityError:
            return None, False  # another process wrote the first cursor meanwhile
        return Cursor(through, hash_, generation), True

    def _rewind(self, cursor: Cursor, head: int, *, forked: bool) -> None:
        """Go back to the newest checkpoint the chain still has (the deployment block if
        none), drop the events indexed after it and derive the anchors, statuses and keys
        again from the rest (nothing if another process changed the cursor meanwhile). The
        caller reads the head and the new cursor's block again before it indexes on: the
        hashes compared here may come from another node than its head (a load balancer).

        ``forked``: the node's block at the cursor has another hash. Otherwise the node has
        no block at the cursor (its head is below it): a node behind the one this index
        followed (two nodes behind a load balancer) and a chain that went back (a devnet
        restored from an older state) look the same from one read, and rewinding for a node
        that is behind would drop what a newer block holds — a revocation — and the rewound
        index would be confirmed current. So the index rewinds only on proof of a fork (a
        recorded block below the head that the node has with another hash) and otherwise
        raises :class:`IndexerLagging`: not confirmed, every instance answers ERROR once the
        bound passes, until the node passes the cursor or shows a block of its own."""
        with self.store.engine.connect() as connection:
            checkpoints = connection.execute(
                sa.select(chain_checkpoints.c.block_number, chain_checkpoints.c.block_hash)
                .where(chain_checkpoints.c.block_number <= min(head, cursor.block))
                .order_by(chain_checkpoints.c.block_number.desc())
            ).all()
        if not forked:
            # the proof asked of one node: its block at the newest recorded number at or
            # below the head. The same block proves all the older ones (each block names its
            # parent); a node without it (behind the head's node: a balancer's third node)
            # proves nothing — it is not a block with another hash.
            newest = checkpoints[0] if checkpoints else None
            theirs = (
                None if newest is None
                else self.registry.block_hashes([int(newest.block_number)]).get(
                    int(newest.block_number))
            )
            if newest is None or theirs is None or theirs == newest.block_hash:
                raise IndexerLagging(
                    f"the chain node's head (block {head}) is below the index (block "
                    f"{cursor.block}) and agrees with every block recorded below it: a node "
                    "behind, or a chain that went back; the index waits until the node "
                    "passes the index or shows a block of its own",
                    code="indexer_lagging",
                )
            checkpoints = checkpoints[1:]  # the newest is another block there: not common
        on_chain = self.registry.block_hashes(int(c.block_number) for c in checkpoints)
        common = next(
            (c for c in checkpoints if on_chain.get(int(c.block_number)) == c.block_hash), None
        )
        base = int(common.block_number) if common is not None else self.deployment.block - 1
        with self.store.transaction() as connection:
            if locked_cursor(connection) != cursor:
                return  # another process rewound (or moved on) first
            dropped = connection.execute(
                sa.delete(chain_events).where(chain_events.c.block_number > base)
            ).rowcount
            connection.execute(
                sa.delete(chain_checkpoints).where(chain_checkpoints.c.block_number > base)
            )
            rebuild_derived(connection)
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
        why = "the cursor's block changed" if forked else "a recorded block below the head changed"
        _log.warning(
            "index rewound from block=%d to block=%d reason=%r head=%d events_dropped=%d "
            "generation=%d",
            cursor.block, base, why, head, dropped, generation,
        )

