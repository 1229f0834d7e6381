"""The local devnet run by Hardhat's node (npm ``hardhat`` 2.x, pinned): a second EVM
implementation for the tests, chosen with ``ZHENGYIN_DEVNET_NODE=hardhat``.

Hardhat's node keeps its chain in memory only: it has no state file like anvil's
``--state``. So with Hardhat, ``zhengyin devnet up`` starts an *empty* chain every time and
``zhengyin devnet down`` discards it, with every contract, anchor and event on it. That is
what the tests need (a fresh chain per session or per test) and nothing more: it is no
devnet to keep certificates on. What it cannot do is refused, not faked:

- a data directory that holds an anvil chain's state (``devnet/state.json``) is refused
  (``devnet_state_not_supported``): Hardhat cannot load it, and an empty chain in its place
  would leave the deployment record, the database and the anchors pointing at nothing;
- there are no backups, no keeper process and nothing to restore.

Its chain id is :data:`CHAIN_ID` (Hardhat's default 31337, not the devnet's 3005), so its
deployment record (``deployments/31337.json``) never replaces anvil's. The node runs from a
configuration written at each start into ``<home>/devnet/hardhat.config.js``, with its log
in ``hardhat.log``; its per-request logging is turned off once it answers (it would print
every call).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from devnet.errors import DevnetError
from devnet.node import (
    HARDHAT_ENTRY,
    DevnetInfo,
    NodeName,
    already_running,
    devnet_of,
    require_free_port,
    running_node,
    stop_process,
    wait_ready,
    write_record,
)

CHAIN_ID = 31337
"""Chain id of a Hardhat devnet (Hardhat's default; anvil's devnet is 3005)."""
REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIG = """\
// Written by `zhengyin devnet up` (devnet/hardhat.py) at each start: Hardhat's node as the
// local devnet. No accounts of its own (the project funds its accounts with
// hardhat_setBalance), a block mined on each transaction (automine), the chain id below.
// A transaction that reverts is mined with status 0 and its hash returned, as on any other
// chain (Hardhat's default answers its sending with an error instead). Blocks mined within
// one second may share its timestamp, as on anvil (Hardhat's default makes each block one
// second later than the last, so a burst of blocks runs the chain's clock ahead of the
// wall clock, and a grant made "now" began in the future of a certificate signed now).
module.exports = {
  networks: {
    hardhat: {
      chainId: %(chain_id)d,
      accounts: [],
      mining: { auto: true, interval: 0 },
      throwOnTransactionFailures: false,
      throwOnCallFailures: true,
      allowBlocksWithSameTimestamp: true,
    },
  },
};
"""


def hardhat_command() -> list[str]:
    """Node.js and the pinned Hardhat's entry script from ``node_modules``."""
    script = REPO_ROOT / "node_modules" / HARDHAT_ENTRY
    node = shutil.which("node")
    if node is None or not script.exists():
        raise DevnetError(
            "Hardhat's node is not installed: it is for the tests of a checkout (run `make "
            f"setup`, which installs the pinned hardhat under {Path('node_modules', 'hardhat')} "
            "and needs Node.js 20+); otherwise use ZHENGYIN_DEVNET_NODE=anvil",
            code="hardhat_missing",
        )
    return [node, str(script)]


class HardhatDevnet:
    """The Hardhat devnet of one data directory (its chain is not kept: see the module)."""

    node: NodeName = "hardhat"

    def __init__(self, home: Path) -> None:
        self.dir = home / "devnet"
        self.record_file = self.dir / "devnet.json"
        self.log_file = self.dir / "hardhat.log"
        self.config_file = self.dir / "hardhat.config.js"
        self.anvil_state = self.dir / "state.json"

    @property
    def restored_from(self) -> str | None:
        return None  # nothing is kept, nothing restored

    def running(self) -> DevnetInfo | None:
        """The running devnet (Hardhat, or another node started in this data directory), or
        ``None`` (a stale record is removed)."""
        return running_node(self.record_file)

    def up(self, port: int, *, timeout: float = 30.0) -> tuple[DevnetInfo, bool]:
        """Start Hardhat's node (an empty chain) unless it runs already:
        ``(info, started_now)``."""
        current = already_running(self.record_file, self.node, port)
        if current is not None:
            return current, False
        if self.anvil_state.exists():
            raise DevnetError(
                f"this data directory holds an anvil chain ({self.anvil_state}); Hardhat's "
                "node cannot load it and keeps no state of its own: use ZHENGYIN_DEVNET_NODE="
                "anvil here, or another ZHENGYIN_HOME for a Hardhat devnet",
                code="devnet_state_not_supported",
            )
        command = hardhat_command()
        self.dir.mkdir(parents=True, exist_ok=True)
        require_free_port(port)
        self.config_file.write_text(CONFIG % {"chain_id": CHAIN_ID})
        environment = {
            **os.environ,
            "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true",  # never ask (no terminal anyway)
            "NO_COLOR": "1",
        }
        with self.log_file.open("ab") as log:
            process = subprocess.Popen(
                [*command, "--config", str(self.config_file), "node",
                 "--hostname", "127.0.0.1", "--port", str(port)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # outlives the CLI that started it
                cwd=REPO_ROOT,  # where node_modules/hardhat is
                env=environment,
            )  # fmt: skip
        info = DevnetInfo(process.pid, port, CHAIN_ID, self.node)
        wait_ready(process, info, self.log_file, timeout).call("hardhat_setLoggingEnabled", [False])
        write_record(self.record_file, info)
        return info, True

    def down(self, *, timeout: float = 15.0) -> bool:
        """Stop the devnet: with Hardhat its chain is gone. False if none ran. Another node
        running in this data directory is stopped as that node stops."""
        info = self.running()
        if info is None:
            return False
        if info.node != self.node:
            return devnet_of(self.dir.parent, info.node).down(timeout=timeout)
        stop_process(info.pid, info.node, timeout)
        self.record_file.unlink(missing_ok=True)
        return True
