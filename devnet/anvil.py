"""The local devnet: one anvil process per data directory, started in the background.

Layout under ``<home>/devnet/``: ``state.json`` (anvil's state, dumped every second and on a
clean stop, loaded at start), ``state.prev.json`` (the last state that loaded cleanly),
``devnet.json`` (pid, port, chain id of the running node) and ``anvil.log``.

anvil always runs with ``--prune-history N``: without it anvil writes ~150 KB per block under
``~/.foundry/anvil/tmp`` and never deletes it; with N it keeps the last N block states in
memory only, so calls at a recent block still work.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from chain.errors import ChainError
from chain.rpc import Rpc
from devnet.errors import DevnetError

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
        f"anvil is not installed (looked for {candidate.relative_to(REPO_ROOT)}): run `make setup`",
        code="anvil_missing",
    )


@dataclass(frozen=True)
class DevnetInfo:
    """A running devnet."""

    pid: int
    port: int
    chain_id: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class Devnet:
    """The devnet of one data directory."""

    def __init__(self, home: Path) -> None:
        self.dir = home / "devnet"
        self.state_file = self.dir / "state.json"
        self.backup_file = self.dir / "state.prev.json"
        self.record_file = self.dir / "devnet.json"
        self.log_file = self.dir / "anvil.log"

    def running(self) -> DevnetInfo | None:
        """The running devnet, or ``None`` (a stale record is removed)."""
        try:
            raw = json.loads(self.record_file.read_text())
            info = DevnetInfo(int(raw["pid"]), int(raw["port"]), int(raw["chain_id"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if _is_anvil(info.pid):
            return info
        self.record_file.unlink(missing_ok=True)
        return None

    def up(self, port: int, *, timeout: float = 15.0) -> tuple[DevnetInfo, bool]:
        """Start anvil unless it runs already. Returns ``(info, started_now)``."""
        current = self.running()
        if current is not None:
            if current.port != port:
                raise DevnetError(
                    f"the devnet of this data directory already runs on port {current.port}; "
                    f"run `zhengyin devnet down` first to move it to port {port}",
                    code="devnet_running_elsewhere",
                )
            return current, False
        self.dir.mkdir(parents=True, exist_ok=True)
        self._check_state()
        if not _port_free(port, wait=1.0):
            raise DevnetError(
                f"port {port} on 127.0.0.1 is taken by another program; choose another with "
                f"--port or ZHENGYIN_DEVNET_PORT",
                code="port_in_use",
            )
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
        info = DevnetInfo(process.pid, port, CHAIN_ID)
        rpc = Rpc(info.url, timeout=1.0)
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise DevnetError(
                    f"anvil exited at start (status {process.returncode}): {self._log_tail()}",
                    code="devnet_start_failed",
                )
            try:
                if int(rpc.call("eth_chainId"), 16) == CHAIN_ID:
                    break
            except ChainError:
                pass
            if time.monotonic() > deadline:
                process.kill()
                raise DevnetError(
                    f"anvil did not answer within {timeout:.0f} s: {self._log_tail()}",
                    code="devnet_start_timeout",
                )
            time.sleep(0.02)
        self.record_file.write_text(
            json.dumps({"pid": info.pid, "port": port, "chain_id": CHAIN_ID})
        )
        return info, True

    def down(self, *, timeout: float = 15.0) -> bool:
        """Stop the devnet; anvil dumps its whole state on SIGTERM. False if none ran."""
        info = self.running()
        if info is None:
            return False
        os.kill(info.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _is_anvil(info.pid):
            _reap(info.pid)
            if time.monotonic() > deadline:
                os.kill(info.pid, signal.SIGKILL)
                break
            time.sleep(0.02)
        self.record_file.unlink(missing_ok=True)
        return True

    def _check_state(self) -> None:
        """Refuse a corrupt state file; keep a copy of a good one before anvil rewrites it."""
        if not self.state_file.exists():
            return
        try:
            raw = json.loads(self.state_file.read_bytes())
            if not isinstance(raw, dict) or "accounts" not in raw:
                raise ValueError("not an anvil state (no accounts)")
        except (ValueError, UnicodeDecodeError) as exc:
            hint = (
                f"; the last good state is {self.backup_file}: copy it over {self.state_file.name}"
                if self.backup_file.exists()
                else "; move it away to start an empty chain"
            )
            raise DevnetError(
                f"the devnet state file {self.state_file} is corrupt ({exc}){hint}",
                code="state_corrupt",
            ) from exc
        shutil.copyfile(self.state_file, self.backup_file)

    def _log_tail(self) -> str:
        try:
            lines = self.log_file.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        return " | ".join(lines[-3:]) or "(empty log)"


def _port_free(port: int, *, wait: float = 0.0) -> bool:
    """Can a server bind ``port``? Waits up to ``wait`` s (a node that just died frees its
    port a moment after its process is gone)."""
    deadline = time.monotonic() + wait
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                if time.monotonic() > deadline:
                    return False
            else:
                return True
        time.sleep(0.05)


def _reap(pid: int) -> None:
    """Collect the exit status if anvil is a child of this process (no zombie stays)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _is_anvil(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # guard against a reused pid
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True
    if b"anvil" not in cmdline:
        return False
    try:
        return "Z" not in Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except (OSError, IndexError):
        return True
