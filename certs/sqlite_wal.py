"""SQLite specifics of the store: the pragmas of each connection, and WAL checkpoints made by
a background thread after each write transaction instead of by the committing connection.

Connections never checkpoint as they commit (``wal_autocheckpoint=0``): after each write
transaction a background thread copies the WAL into the database file and syncs both
(``PRAGMA wal_checkpoint(PASSIVE)``), so the commit does not pay for it
(# Why: bench/PERFORMANCE.md, "SQLite: checkpoints in the background"). A process crash
loses nothing either way (the pages are in the WAL); against power loss
(``synchronous=NORMAL``) a commit is safe once its checkpoint has synced it, a fraction of a
second later.

A process forks workers only while it runs one thread (:mod:`certs.workers`): issuance waits
for the thread first (:meth:`WalCheckpoints.wait`). A child forked anyway (by other code)
forgets the thread its parent ran, and starts its own for its commits.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from typing import Any

from sqlalchemy.engine import Engine

_log = logging.getLogger(__name__)

PAGE_SIZE = 8192
"""SQLite page size of a database this code creates."""


def sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Set up each new SQLite connection (an engine ``connect`` listener)."""
    # the driver's own transaction handling is replaced by explicit BEGIN IMMEDIATE
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # a new database only (an existing one keeps its page size): ~3 KB documents fill 4 KB
    # pages one each (# Why: bench/PERFORMANCE.md, "SQLite: page size")
    cursor.execute(f"PRAGMA page_size={PAGE_SIZE}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA wal_autocheckpoint=0")  # WalCheckpoints does it
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


_live: weakref.WeakSet[WalCheckpoints] = weakref.WeakSet()
"""Every checkpointer of this process (a forked child forgets their threads)."""


def _after_fork_in_child() -> None:
    for checkpoints in list(_live):
        checkpoints.forget()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class WalCheckpoints:
    """The background checkpoints of one SQLite engine (does nothing on other databases)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.forget()
        _live.add(self)

    def forget(self) -> None:
        """No checkpoint running or due (a new store, or a forked child: the thread that may
        have run in its parent does not exist in it, and its lock may have been held)."""
        self._lock = threading.Lock()
        self._due = False
        self._thread: threading.Thread | None = None

    def soon(self) -> None:
        """Have the background thread checkpoint what is committed now (a thread already
        running goes round once more)."""
        if self.engine.dialect.name != "sqlite":
            return
        with self._lock:
            self._due = True
            if self._thread is None:
                # not a daemon: a process that ends now still finishes the checkpoint first
                self._thread = threading.Thread(target=self._run, name="zhengyin-wal-checkpoint")
                self._thread.start()

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._due:
                    self._thread = None
                    return
                self._due = False
            try:
                with self.engine.connect() as connection:
                    # PASSIVE: never waits for readers or writers, which go on meanwhile
                    connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").all()
            except Exception as exc:  # the WAL keeps everything; the next commit retries
                _log.warning("background WAL checkpoint failed: %s", exc)

    def wait(self) -> None:
        """Wait until the background thread is done (nothing is due)."""
        while True:
            with self._lock:
                running = self._thread
            if running is None:
                return
            running.join()
