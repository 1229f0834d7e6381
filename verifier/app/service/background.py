"""The service's background work, in daemon threads started by :meth:`start`: the chain
indexer in every process; the batcher (which also reads recent anchors back from the chain)
and the status reconciler (:mod:`certs.reconcile`) in exactly one, chosen by a lock file;
the writer of the 'verified' event log. Each loop logs every error on one line, counts it
(the metrics) and carries on. The service never starts, stops or restarts the chain."""

from __future__ import annotations

import fcntl
import logging
import os
import threading
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

_log = logging.getLogger("verifier.service")  # one logger for the whole service



class BackgroundWork(ServiceBase):
    """Starting and stopping the background loops, and the loops themselves."""


    def start(self) -> None:
        try:
            self.indexer.catch_up()
        except Exception as exc:  # reported by /healthz and as ERROR checks until it recovers
            self._count("service_start", exc)
            _log.warning(
                "service start: the first catch-up of the index failed; verifications answer "
                "error until it succeeds", exc_info=exc,
            )
        self._spawn("indexer", lambda: self.indexer.run_forever(self._stop))
        self._spawn("audit-log", self._flush_forever)
        batcher = self._take_batcher_lock()
        if batcher:
            self.batcher = Batcher(
                self.store, self.registry_for, on_mined=lambda: self.index_now("anchoring")
            )
            loop = self.batcher.run_forever
            self._spawn(
                "batcher",
                lambda: loop(
                    self._stop.is_set, on_batch=self._anchored, recheck_since=self._rewound_to
                ),
            )
            self._spawn("reconciler", self._reconcile_forever)
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
        if self._batcher_lock is not None:
            self._batcher_lock.close()

    def _spawn(self, name: str, target: Any) -> None:
        thread = threading.Thread(target=target, name=f"zhengyin-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _take_batcher_lock(self) -> bool:
        path = Path(self.settings.home_dir) / "batcher.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._batcher_lock = handle
        return True

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

    def _reconcile_forever(self) -> None:
        while not self._stop.wait(RECONCILE_SECONDS):
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
