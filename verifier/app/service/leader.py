"""Leader election: which process of all the instances on one database runs a singleton role
(the chain indexer's loop; the batcher with the status reconciler).

On PostgreSQL (:class:`AdvisoryLockElection`) a role is a session-level advisory lock
(``pg_try_advisory_lock``) taken on a connection of its own, outside the pool, held for as
long as the process leads. Whoever holds it leads; the others try again every
:data:`RETRY_SECONDS`. The lock goes with its session: a leader killed (even ``kill -9``), its
host gone (TCP keep-alives and ``tcp_user_timeout``, set on that connection), or paused for
longer than ``idle_session_timeout`` (:data:`IDLE_SESSION_SECONDS`: the server ends the idle
session) releases it, and a follower takes over. The leader checks every
:data:`HEARTBEAT_SECONDS`, on that connection, that it still holds the lock (each check bounded
by ``statement_timeout`` and ``tcp_user_timeout``); a check that fails stops the role's work
at once. :meth:`Election.leading` (what ``/healthz`` and the metrics show) is true only within
:data:`LEASE_SECONDS` of the last check that succeeded, shorter than the idle timeout: a
leader that was paused (a GC pause, SIGSTOP) no longer claims the role when it resumes.

What a late step of a deposed leader could still write is safe by construction, not by the
lock (a lock is no fence): the index moves its cursor by compare-and-set under the cursor's
row lock, two batchers never take the same certificates (``FOR UPDATE SKIP LOCKED``), and the
contract refuses a second anchor of one root.

On SQLite (:class:`FileLockElection`) the database is on one host by nature: a lock file in
the home directory (``flock``), released by the kernel when the process ends.

Every contender names itself (:func:`contender`: what it is, its pid and host): on PostgreSQL
in the ``application_name`` of the lock's session, in the lock file on SQLite, so a process
that cannot take a role can say who holds it (:meth:`Election.holder`). The service
(``zhengyin serve``) and ``zhengyin batcher run`` contend for the same ``batcher`` role.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import threading
import time
import zlib
from pathlib import Path
from typing import IO, Any, Protocol

import sqlalchemy as sa

_log = logging.getLogger("verifier.service")  # the service's logger: one place to read

RETRY_SECONDS = 1.0
"""How often a follower tries to take a role (the longest a role stays without a leader
after its leader's session ended)."""
HEARTBEAT_SECONDS = 0.5
"""How often a leader checks, on its lock's connection, that it still holds the lock."""
LEASE_SECONDS = 3.0
"""A leader leads only this long after its last successful check."""
IDLE_SESSION_SECONDS = 6
"""The server ends the lock's session after this long without a statement (a paused
leader): longer than :data:`LEASE_SECONDS`, so the paused leader has already stopped."""
CONNECT_SECONDS = 5

ROLES = ("indexer", "batcher")


def contender(what: str) -> str:
    """How a contender names itself to the others: ``<what> pid=<pid> host=<host>``."""
    return f"{what} pid={os.getpid()} host={socket.gethostname()}"


def lock_key(role: str) -> int:
    """The advisory lock key of a role: a signed 64-bit number, the same in every instance."""
    return (zlib.crc32(b"zhengyin") << 32 | zlib.crc32(role.encode())) - (1 << 63)


class Election(Protocol):
    role: str

    def try_acquire(self) -> bool:
        """Take the role if nobody holds it; True if this process now leads."""

    def check(self) -> bool:
        """Whether this process still holds the role (False: it was lost; stop now)."""

    def leading(self) -> bool:
        """Cheap: whether this process leads, as of its last successful check."""

    def release(self) -> None:
        """Give the role up (a no-op unless leading)."""

    def holder(self) -> str | None:
        """Who holds the role, as it named itself (:func:`contender`); ``None`` if nobody
        does or it cannot be told. For messages only: it may be out of date at once."""


class FileLockElection:
    """SQLite: the role is an exclusive ``flock`` of ``<home>/<name>.lock``; the holder writes
    its name (:func:`contender`) into the file."""

    def __init__(self, role: str, path: Path, who: str = "zhengyin") -> None:
        self.role = role
        self.path = path
        self.who = contender(who)
        self._handle: IO[str] | None = None
        self._lock = threading.Lock()

    def try_acquire(self) -> bool:
        with self._lock:
            if self._handle is not None:
                return True
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = self.path.open("a+")  # not "w": that would erase the holder's name
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                return False
            try:
                handle.seek(0)
                handle.truncate()
                handle.write(self.who + "\n")
                handle.flush()
            except OSError:  # the name is only for messages; the lock is what counts
                pass
            self._handle = handle
            return True

    def holder(self) -> str | None:
        if self._handle is not None:
            return self.who
        try:
            text = self.path.read_text(errors="replace").strip()
        except OSError:
            return None
        return text.splitlines()[0][:200] if text else None

    def check(self) -> bool:
        return self._handle is not None

    def leading(self) -> bool:
        return self._handle is not None

    def release(self) -> None:
        with self._lock:
            if self._handle is not None:
                self._handle.close()
                self._handle = None


class AdvisoryLockElection:
    """PostgreSQL: the role is the session-level advisory lock :func:`lock_key` held on a
    dedicated connection (see the module's docstring)."""

    def __init__(self, role: str, engine: sa.Engine, who: str = "zhengyin") -> None:
        self.role = role
        self.key = lock_key(role)
        self.who = contender(who)
        self._engine = engine
        self._connection: Any = None
        self._held = False
        self._checked = -float("inf")
        self._lock = threading.Lock()

    def _connect(self) -> Any:
        """A connection of the election's own: autocommit (it never holds a transaction or
        a snapshot open), keep-alives and timeouts so a dead peer is noticed in seconds."""
        import psycopg

        url = self._engine.url.set(drivername="postgresql")
        params: dict[str, Any] = {
            "autocommit": True,
            "connect_timeout": CONNECT_SECONDS,
            "keepalives": 1,
            "keepalives_idle": 5,
            "keepalives_interval": 2,
            "keepalives_count": 2,
            "tcp_user_timeout": 5000,
            # PostgreSQL keeps 63 bytes of it: the role first, then who (holder() reads it)
            "application_name": f"zhengyin-{self.role} {self.who}"[:63],
        }
        connection = psycopg.connect(url.render_as_string(hide_password=False), **params)
        for setting, value in (
            ("statement_timeout", "5s"),
            ("idle_session_timeout", f"{IDLE_SESSION_SECONDS}s"),  # PostgreSQL 14 and later
            ("tcp_keepalives_idle", "5"),
            ("tcp_keepalives_interval", "2"),
            ("tcp_keepalives_count", "2"),
        ):
            try:
                connection.execute(f"SET {setting} = '{value}'")
            except psycopg.Error:
                _log.warning("leader election role=%s: the server does not know %s (older "
                             "PostgreSQL); a paused leader then keeps the role until it ends",
                             self.role, setting)
        return connection

    def try_acquire(self) -> bool:
        with self._lock:
            if self._held:
                return self._check()
            try:
                if self._connection is None:  # kept between tries: no new session a second
                    self._connection = self._connect()
                got = bool(self._connection.execute(
                    "SELECT pg_try_advisory_lock(%s)", (self.key,)
                ).fetchone()[0])
            except Exception:
                self._drop()
                raise
            if got:
                self._held, self._checked = True, time.monotonic()
            return got

    def check(self) -> bool:
        with self._lock:
            return self._check()

    def _check(self) -> bool:
        if not self._held:
            return False
        asked = time.monotonic()
        try:
            row = self._connection.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND pid = pg_backend_pid() AND classid::bigint = %s AND objid::bigint = %s",
                ((self.key >> 32) & 0xFFFFFFFF, self.key & 0xFFFFFFFF),
            ).fetchone()
        except Exception as exc:
            _log.warning("leader election role=%s: the lock's connection failed: %s",
                         self.role, type(exc).__name__)
            self._drop()
            return False
        if not row or int(row[0]) < 1:
            self._drop()
            return False
        self._checked = asked
        return True

    def leading(self) -> bool:
        return self._held and time.monotonic() - self._checked < LEASE_SECONDS

    def holder(self) -> str | None:
        """The holder's name from its session's ``application_name`` (and its client
        address when the server shows it), asked on the election's own connection."""
        with self._lock:
            if self._held:
                return self.who
            if self._connection is None:
                return None
            try:
                row = self._connection.execute(
                    "SELECT a.application_name, host(a.client_addr) FROM pg_locks l"
                    " JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory'"
                    " AND l.granted AND l.classid::bigint = %s AND l.objid::bigint = %s",
                    ((self.key >> 32) & 0xFFFFFFFF, self.key & 0xFFFFFFFF),
                ).fetchone()
            except Exception:  # only for a message
                return None
        if row is None or not row[0]:
            return None
        name = str(row[0]).removeprefix(f"zhengyin-{self.role}").strip()
        if not name:
            name = str(row[0])
        return f"{name} (connected from {row[1]})" if row[1] else name

    def release(self) -> None:
        """Unlock (the next holder can take the role at once, not only once the server has
        ended the session) and close the connection."""
        with self._lock:
            if self._held:
                try:
                    self._connection.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
                except Exception:  # a broken session: closing it frees the lock anyway
                    pass
            self._drop()

    def _drop(self) -> None:
        """Close the lock's connection: the server releases the lock with the session."""
        connection, self._connection = self._connection, None
        self._held, self._checked = False, -float("inf")
        if connection is not None:
            try:
                connection.close()
            except Exception:  # already broken: the session is gone or going
                pass


def election_for(role: str, engine: sa.Engine, home: Path, who: str = "zhengyin") -> Election:
    """The election of ``role`` for the database behind ``engine``; ``who`` says what the
    contending process is (``serve``, ``batcher run``), for the others' messages."""
    if engine.dialect.name == "postgresql":
        return AdvisoryLockElection(role, engine, who)
    return FileLockElection(role, home / f"{role}.lock", who)
