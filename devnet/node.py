"""Which node is the local devnet: the one small interface both nodes offer, and the choice.

Two implementations of the local chain: anvil (:mod:`devnet.anvil`, the default: its state
is kept on disk) and Hardhat's node (:mod:`devnet.hardhat`: for tests against a second EVM
implementation; its chain lives in memory only). Both keep the same record of the running
node, ``<home>/devnet/devnet.json`` (pid, port, chain id, which node), so whichever was
started is found, reported and stopped by the same code, whatever node the current setting
names: :meth:`LocalDevnet.running` answers for any node of the data directory, and
:meth:`LocalDevnet.down` stops it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, get_args

from chain.errors import ChainError
from chain.rpc import Rpc
from devnet.errors import DevnetError
from devnet.keeper import alive, is_anvil

NodeName = Literal["anvil", "hardhat"]
NODES: tuple[NodeName, ...] = get_args(NodeName)
DEFAULT_NODE: NodeName = "anvil"
HARDHAT_ENTRY = "hardhat/internal/cli/bootstrap.js"
"""The script Node.js runs for Hardhat (what tells a Hardhat node's process from another)."""


@dataclass(frozen=True)
class DevnetInfo:
    """A running devnet."""

    pid: int
    port: int
    chain_id: int
    node: NodeName = DEFAULT_NODE
    """Which implementation runs (``anvil`` or ``hardhat``)."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def keeps_state(self) -> bool:
        """Does the chain outlive its process (anvil's state file)? Hardhat's does not."""
        return self.node == "anvil"


class LocalDevnet(Protocol):
    """What ``zhengyin devnet`` and the tests use of either node."""

    dir: Path
    record_file: Path

    @property
    def node(self) -> NodeName: ...

    @property
    def restored_from(self) -> str | None:
        """What the last :meth:`up` restored over a damaged state, in words (anvil only)."""

    def running(self) -> DevnetInfo | None:
        """The running devnet of the data directory, whichever node (``None`` if none)."""

    def up(self, port: int, *, timeout: float = ...) -> tuple[DevnetInfo, bool]:
        """Start this node unless it runs already: ``(info, started_now)``."""

    def down(self, *, timeout: float = ...) -> bool:
        """Stop the running devnet, whichever node; False if none ran."""


def devnet_of(home: Path, node: str = DEFAULT_NODE) -> LocalDevnet:
    """The local devnet of ``home`` run by ``node`` (``anvil`` or ``hardhat``)."""
    if node == "anvil":
        from devnet.anvil import Devnet

        return Devnet(home)
    if node == "hardhat":
        from devnet.hardhat import HardhatDevnet

        return HardhatDevnet(home)
    raise DevnetError(
        f"unknown devnet node {node!r}: set ZHENGYIN_DEVNET_NODE to one of {', '.join(NODES)}",
        code="devnet_node_unknown",
    )


# ---- the record of the running node, shared by both ----


def read_record(record_file: Path) -> tuple[DevnetInfo, dict[str, object]] | None:
    """The recorded devnet and the whole record (``None``: no record, or unreadable)."""
    try:
        raw = json.loads(record_file.read_text())
        node = raw.get("node", "anvil")  # records of earlier versions: anvil
        if node not in NODES:
            return None
        return DevnetInfo(int(raw["pid"]), int(raw["port"]), int(raw["chain_id"]), node), raw
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def write_record(record_file: Path, info: DevnetInfo, **extra: object) -> None:
    record = {"pid": info.pid, "port": info.port, "chain_id": info.chain_id, "node": info.node}
    record_file.write_text(json.dumps({**record, **extra}))


def running_node(record_file: Path) -> DevnetInfo | None:
    """The recorded devnet if its process still runs (a stale record is removed)."""
    found = read_record(record_file)
    if found is None:
        return None
    info, _ = found
    if is_node(info.pid, info.node):
        return info
    record_file.unlink(missing_ok=True)
    return None


def is_node(pid: int, node: NodeName) -> bool:
    """Is ``pid`` a live process of ``node`` (not another program that got its pid)?"""
    if node == "anvil":
        return is_anvil(pid)
    if not alive(pid):
        return False
    try:
        arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True
    return any(a.endswith(HARDHAT_ENTRY.encode()) for a in arguments)


def already_running(record_file: Path, node: NodeName, port: int) -> DevnetInfo | None:
    """The devnet already running in this data directory, if it is ``node`` on ``port``
    (``None``: none runs). One data directory runs one node: another node, or this one on
    another port, is refused until ``zhengyin devnet down``."""
    current = running_node(record_file)
    if current is None:
        return None
    if current.node != node:
        raise DevnetError(
            f"the devnet of this data directory runs {current.node} (port {current.port}), "
            f"not {node}: run `zhengyin devnet down` first, then `zhengyin devnet up` "
            f"with ZHENGYIN_DEVNET_NODE={node}",
            code="devnet_other_node",
        )
    if current.port != port:
        raise DevnetError(
            f"the devnet of this data directory already runs on port {current.port}; "
            f"run `zhengyin devnet down` first to move it to port {port}",
            code="devnet_running_elsewhere",
        )
    return current


def require_free_port(port: int) -> None:
    if not port_free(port, wait=1.0):
        raise DevnetError(
            f"port {port} on 127.0.0.1 is taken by another program; choose another with "
            f"--port or ZHENGYIN_DEVNET_PORT",
            code="port_in_use",
        )


def wait_ready(
    process: subprocess.Popen[bytes], info: DevnetInfo, log_file: Path, timeout: float
) -> Rpc:
    """Poll the started node until it answers with its chain id; a readiness probe (no
    retries) on it. A node that exits or stays silent past ``timeout`` is a coded error
    quoting its log (and, silent, is killed)."""
    name = "anvil" if info.node == "anvil" else "Hardhat's node"
    rpc = Rpc(info.url, timeout=1.0, retries=0)
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise DevnetError(
                f"{name} exited at start (status {process.returncode}): {log_tail(log_file)}",
                code="devnet_start_failed",
            )
        try:
            if int(rpc.call("eth_chainId"), 16) == info.chain_id:
                return rpc
        except ChainError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise DevnetError(
                f"{name} did not answer within {timeout:.0f} s: {log_tail(log_file)}",
                code="devnet_start_timeout",
            )
        time.sleep(0.02)


def stop_process(pid: int, node: NodeName, timeout: float) -> None:
    """SIGTERM, then SIGKILL after ``timeout`` seconds; the exit status collected."""
    import signal

    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while is_node(pid, node):
        reap(pid)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            break
        time.sleep(0.02)
    reap(pid)


def port_free(port: int, *, wait: float = 0.0) -> bool:
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


def reap(pid: int) -> None:
    """Collect the exit status if the node is a child of this process (no zombie stays)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def log_tail(log_file: Path) -> str:
    """The last lines of a node's log, on one line."""
    try:
        lines = log_file.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return " | ".join(lines[-3:]) or "(empty log)"
