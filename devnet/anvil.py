"""The local devnet: one anvil process per data directory, started in the background.

Layout under ``<home>/devnet/``: ``state.json`` (anvil's state, dumped every second and on a
clean stop, loaded at start), ``backups/`` (complete copies of recent dumps, kept by the
keeper process that :meth:`Devnet.up` starts beside anvil: :mod:`devnet.keeper`),
``devnet.json`` (pid, port, chain id of the running node, the keeper's pid), ``anvil.log``
and ``keeper.log``.

anvil rewrites ``state.json`` in place, so a kill during a dump truncates it. :meth:`Devnet.up`
then restores the newest good copy (a crash loses seconds, not everything since the start),
keeps the damaged file beside it, and says so (:attr:`Devnet.restored`).

anvil always runs with ``--prune-history N``: without it anvil writes ~150 KB per block under
``~/.foundry/anvil/tmp`` and never deletes it; with N it keeps the last N block states in
memory only, so calls at a recent block still work.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from devnet.errors import DevnetError
from devnet.keeper import alive, backup_age, backups, parse_state, write_durably
from devnet.node import (
    DevnetInfo,
    NodeName,
    already_running,
    devnet_of,
    reap,
    require_free_port,
    running_node,
    stop_process,
    wait_ready,
    write_record,
)

__all__ = ["CHAIN_ID", "Devnet", "DevnetInfo", "Restored", "anvil_binary"]

CHAIN_ID = 3005
"""Chain id of the local devnet (after the ``1.2.156.3005`` e-certificate arc)."""
STATE_INTERVAL = 1
STATES_IN_MEMORY = 1024
"""Recent block states anvil keeps (in memory only), so reads "at block N" work for the last
1,024 blocks; older history lives in events and the persisted state."""
REPO_ROOT = Path(__file__).resolve().parent.parent


def anvil_binary() -> Path:
    """The pinned anvil from ``node_modules`` (``ZHENGYIN_ANVIL`` overrides)."""
    override = os.environ.get("ZHENGYIN_ANVIL")
    if override:
        return Path(override)
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower(), platform.machine().lower()
    )
    system = {"Linux": "linux", "Darwin": "darwin"}.get(platform.system(), platform.system())
    candidate = (
        REPO_ROOT / "node_modules" / "@foundry-rs" / f"anvil-{system}-{arch}" / "bin" / "anvil"
    )
    if candidate.exists():
        return candidate
    found = shutil.which("anvil")
    if found:
        return Path(found)
    raise DevnetError(
        "anvil is not installed: in a checkout run `make setup` (it installs the pinned anvil "
        f"under {candidate.relative_to(REPO_ROOT)}); with an installed package, set "
        "ZHENGYIN_ANVIL to an anvil binary or put anvil on PATH",
        code="anvil_missing",
    )


@dataclass(frozen=True)
class Restored:
    """The state file was damaged at start; a kept copy replaced it."""

    source: Path
    """The copy restored."""
    age_seconds: float
    """How long before the start the copy was taken."""
    damaged: Path
    """Where the damaged state file was kept."""
    reason: str

    def describe(self) -> str:
        return (
            f"the devnet state file was damaged ({self.reason}); restored the last good copy, "
            f"taken {self.age_seconds:.0f} s ago ({self.source.name}); the damaged file is "
            f"kept as {self.damaged.name}"
        )


class Devnet:
    """The anvil devnet of one data directory."""

    node: NodeName = "anvil"

    def __init__(self, home: Path) -> None:
        self.dir = home / "devnet"
        self.state_file = self.dir / "state.json"
        self.legacy_backup = self.dir / "state.prev.json"
        """Where earlier versions kept the state of the last clean start (restored from too,
        when nothing newer is kept)."""
        self.record_file = self.dir / "devnet.json"
        self.log_file = self.dir / "anvil.log"
        self.keeper_log = self.dir / "keeper.log"
        self.restored: Restored | None = None
        """Set by :meth:`up` when it restored a kept copy over a damaged state file."""

    @property
    def restored_from(self) -> str | None:
        return self.restored.describe() if self.restored is not None else None

    def running(self) -> DevnetInfo | None:
        """The running devnet (anvil, or another node started in this data directory), or
        ``None`` (a stale record is removed)."""
        return running_node(self.record_file)

    def backups(self) -> list[Path]:
        """The kept good copies of the state, newest first."""
        return backups(self.dir)

    def up(self, port: int, *, timeout: float = 15.0) -> tuple[DevnetInfo, bool]:
        """Start anvil unless it runs already. Returns ``(info, started_now)``."""
        current = already_running(self.record_file, self.node, port)
        if current is not None:
            return current, False
        self.dir.mkdir(parents=True, exist_ok=True)
        self._check_state()
        require_free_port(port)
        command = [
            str(anvil_binary()),
            "--host", "127.0.0.1",
            "--port", str(port),
            "--chain-id", str(CHAIN_ID),
            "--state", str(self.state_file),
            "--state-interval", str(STATE_INTERVAL),
            "--prune-history", str(STATES_IN_MEMORY),
            "--accounts", "1",
        ]  # fmt: skip
        with self.log_file.open("ab") as log:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # outlives the CLI that started it
            )
        info = DevnetInfo(process.pid, port, CHAIN_ID, self.node)
        wait_ready(process, info, self.log_file, timeout)
        keeper: subprocess.Popen[bytes] | None = None
        with self.keeper_log.open("ab") as log:
            keeper = subprocess.Popen(
                [sys.executable, "-m", "devnet.keeper", str(self.dir), str(process.pid)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # outlives the CLI; exits when its anvil exits
                cwd=REPO_ROOT,
            )
        write_record(self.record_file, info, keeper_pid=keeper.pid)
        return info, True

    def down(self, *, timeout: float = 15.0) -> bool:
        """Stop the devnet; anvil dumps its whole state on SIGTERM. False if none ran.
        Another node running in this data directory is stopped as that node stops."""
        info = self.running()
        if info is None:
            return False
        if info.node != self.node:
            return devnet_of(self.dir.parent, info.node).down(timeout=timeout)
        keeper = self._keeper_pid()
        stop_process(info.pid, info.node, timeout)
        if keeper is not None:  # let it copy the final dump
            deadline = time.monotonic() + 5.0
            while alive(keeper) and time.monotonic() < deadline:
                reap(keeper)
                time.sleep(0.02)
        self.record_file.unlink(missing_ok=True)
        return True

    def _keeper_pid(self) -> int | None:
        try:
            pid = json.loads(self.record_file.read_text()).get("keeper_pid")
        except (OSError, ValueError, AttributeError):
            return None
        return int(pid) if isinstance(pid, int) else None

    def _check_state(self) -> None:
        """A damaged state file (truncated by a kill during a dump) is replaced by the newest
        kept copy that parses, and the damaged one kept beside it; with no such copy, it is
        refused."""
        self.restored = None
        if not self.state_file.exists():
            return
        try:
            parse_state(self.state_file.read_bytes())
            return
        except (ValueError, UnicodeDecodeError) as exc:
            reason = str(exc)
        candidates = self.backups() + ([self.legacy_backup] if self.legacy_backup.exists() else [])
        for candidate in candidates:
            try:
                data = candidate.read_bytes()
                parse_state(data)
            except (OSError, ValueError, UnicodeDecodeError):
                continue
            damaged = self.dir / f"state.damaged-{int(time.time() * 1000)}.json"
            shutil.copyfile(self.state_file, damaged)
            write_durably(self.state_file, data)
            age = (
                backup_age(candidate)
                if candidate != self.legacy_backup
                else time.time() - candidate.stat().st_mtime
            )
            self.restored = Restored(candidate, age, damaged, reason)
            return
        raise DevnetError(
            f"the devnet state file {self.state_file} is corrupt ({reason}) and no good copy "
            "of it is kept; move it away to start an empty chain",
            code="state_corrupt",
        )



