"""The service's background work, in daemon threads started by :meth:`start`: the chain
indexer's loop (on PostgreSQL in exactly one process of all the instances on the database,
elected, :mod:`verifier.app.service.leader`; on SQLite in every process); the batcher (which
also reads recent anchors back from the chain) and the status reconciler
(:mod:`certs.reconcile`) in exactly one (elected: an advisory lock on PostgreSQL, a lock file
on SQLite), with fail-over when the leader dies; the writer of the 'verified' event log.
Each loop logs every error on one line, counts it (the metrics) and carries on. The service
never starts, stops or restarts the chain."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from certs.batcher import Batcher, BatchResult
from certs.reconcile import Repair, reconcile_statuses
from certs.store import chain_cursor
from verifier.app.service.base import (
    LOG_FLUSH_SECONDS,
    RECONCILE_SECONDS,
    ServiceBase,
)
from verifier.app.service.leader import (
    HEARTBEAT_SECONDS,
    RETRY_SECONDS,
    Election,
    election_for,
)

_log = logging.getLogger("verifier.service")  # one logger for the whole service



class LeadershipLost(Exception):
    """This process no longer holds a role it led (counted as the role's election error)."""

    code = "leadership_lost"


class BackgroundWork(ServiceBase):
    """Starting and stopping the background loops, and the loops themselves."""


    def start(self) -> None:
        if self.indexer.shared:  # only the elected indexer's loop confirms the index current
            self.indexer.confirms = False
        try:
            self.indexer.catch_up()
        except Exception as exc:  # reported by /healthz and as ERROR checks until it recovers
            self._count("service_start", exc)
            _log.warning(
                "service start: the first catch-up of the index failed; verifications answer "
                "error until it succeeds", exc_info=exc,
            )
        home = Path(self.settings.home_dir)
        if self.indexer.shared:  # PostgreSQL: one indexer loop among all the instances
            self._lead(election_for("indexer", self.store.engine, home, "serve"), self._index)
        else:  # SQLite: every process follows the chain itself (one host, one file)
            self._spawn("indexer", lambda: self.indexer.run_forever(self._stop))
        self._spawn("audit-log", self._flush_forever)
        batcher = self._lead(election_for("batcher", self.store.engine, home, "serve"),
                             self._anchor)
        _log.info(
            "service started pid=%d chain=%s chain_id=%d contract=%s batcher=%s "
            "max_staleness=%gs",
            os.getpid(), self.rpc.shown_url, self.deployment.chain_id,
            self.deployment.certificate_registry, "yes" if batcher else "no",
            self.settings.max_staleness_seconds,
        )

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(5)
        try:
            self.flush_log()
        except Exception as exc:
            self._count("event_log", exc)
            _log.error("service stop: the queued 'verified' events were not written",
                       exc_info=exc)
        for election in self.elections.values():
            election.release()

    def _spawn(self, name: str, target: Any) -> threading.Thread:
        thread = threading.Thread(target=target, name=f"zhengyin-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)
        return thread

    # ---- the singleton roles ----

    def leads(self, role: str) -> bool:
        """Whether this process leads ``role`` (``indexer``, ``batcher``) right now."""
        election = self.elections.get(role)
        return election is not None and election.leading()

    def _lead(
        self, election: Election, work: Callable[[threading.Event], list[threading.Thread]]
    ) -> bool:
        """Run ``work`` while this process leads ``election``'s role: a first try now (the
        answer returned), then a thread that keeps trying every ``RETRY_SECONDS`` and, while
        leading, checks the lock every ``HEARTBEAT_SECONDS``; a lost lock stops the work at
        once (its loops see ``term`` set) and the thread goes back to trying."""
        self.elections[election.role] = election
        first = self._try(election)
        self._spawn(f"{election.role}-election",
                    lambda: self._elect_forever(election, work, first))
        return first

    def _try(self, election: Election) -> bool:
        try:
            return election.try_acquire()
        except Exception as exc:  # the database is away: a follower until it answers
            self._count(f"{election.role}_election", exc)
            _log.warning("leader election role=%s failed; retried in %gs", election.role,
                         RETRY_SECONDS, exc_info=exc)
            return False

    def _elect_forever(
        self,
        election: Election,
        work: Callable[[threading.Event], list[threading.Thread]],
        leading: bool,
    ) -> None:
        while not self._stop.is_set():
            if not leading and not (leading := self._try(election)):
                self._stop.wait(RETRY_SECONDS)
                continue
            _log.info("leadership taken role=%s pid=%d", election.role, os.getpid())
            term = threading.Event()
            threads = work(term)
            while not self._stop.wait(HEARTBEAT_SECONDS) and election.check():
                pass
            term.set()
            for thread in threads:
                thread.join(10)
            election.release()
            leading = False
            if not self._stop.is_set():
                self._count(f"{election.role}_election", LeadershipLost())
                _log.warning("leadership lost role=%s pid=%d: its work stopped; trying to "
                             "take it again every %gs", election.role, os.getpid(),
                             RETRY_SECONDS)

    def _index(self, term: threading.Event) -> list[threading.Thread]:
        return [self._spawn("indexer", lambda: self.indexer.run_forever(term))]

    def _anchor(self, term: threading.Event) -> list[threading.Thread]:
        if self.batcher is None:
            self.batcher = Batcher(
                self.store, self.registry_for, on_mined=lambda: self.index_now("anchoring")
            )
        loop = self.batcher.run_forever

        def stop() -> bool:  # the batcher checks this between its steps
            return term.is_set() or self._stop.is_set()

        return [
            self._spawn(
                "batcher",
                lambda: loop(stop, on_batch=self._anchored, recheck_since=self._rewound_to),
            ),
            self._spawn("reconciler", lambda: self._reconcile_forever(term)),
        ]

    def _anchored(self, result: BatchResult) -> None:
        self.batch_sizes.append(result.leaf_count)

    def _rewound_to(self) -> int | None:
        """The block the index last rewound to, once after each rewind (any process's): the
        batcher then reads back every anchor after it."""
        with self.store.engine.connect() as connection:
            row = connection.execute(
                sa.select(chain_cursor.c.generation, chain_cursor.c.rewound_to).where(
                    chain_cursor.c.id == 1
                )
            ).first()
        if row is None:
            return None
        first = self._rewind_seen is None
        if self._rewind_seen == row.generation:
            return None
        self._rewind_seen = int(row.generation)
        return None if first or row.rewound_to is None else int(row.rewound_to)

    def reconcile(self) -> list[Repair]:
        """One pass of the status reconciler, while the index is current."""
        if not self.indexer.state().healthy:
            return []
        repairs = reconcile_statuses(self.store, self.registry_for)
        for repair in repairs:
            if repair.action != "waiting":
                self.repairs[f"status_{repair.action}"] += 1
        if any(r.action != "waiting" for r in repairs):
            self.index_now("reconciling")
        return repairs

    def _reconcile_forever(self, term: threading.Event) -> None:
        """Reconcile every ``RECONCILE_SECONDS`` until ``term`` (the role lost, or the service
        stopping: the election's thread sets it then too)."""
        while not term.wait(RECONCILE_SECONDS):
            try:
                self.reconcile()
            except Exception as exc:
                self._count("reconciler", exc)
                _log.warning("status reconciliation failed; retried in %gs", RECONCILE_SECONDS,
                             exc_info=exc)

    def _flush_forever(self) -> None:
        failures = 0
        while not self._stop.wait(LOG_FLUSH_SECONDS if not failures else 1.0):
            try:
                self.flush_log()
            except Exception as exc:  # the database is away: the rows wait for the next round
                failures += 1
                self._count("event_log", exc)
                with self._log_lock:
                    waiting = len(self._log)
                _log.warning("event log flush failed attempt=%d waiting=%d", failures, waiting,
                             exc_info=exc)
                continue
            if failures:
                _log.info("event log flush recovered after=%d failed attempts", failures)
            failures = 0
