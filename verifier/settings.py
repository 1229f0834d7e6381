"""Settings from the environment (``ZHENGYIN_*``), resolved once per command or request.

Nothing below ``verifier`` reads the environment: each layer takes explicit values.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Configuration. Every field reads ``ZHENGYIN_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="ZHENGYIN_", frozen=True)

    home: Path = Path(".zhengyin")
    """Data directory: devnet state, deployment record, keys, seals, the SQLite database."""
    rpc_url: str | None = None
    """JSON-RPC endpoint of the chain. Unset: the local devnet of ``home`` (started only by
    ``zhengyin devnet up``; nothing else starts a chain)."""
    database_url: str | None = None
    """SQLAlchemy URL. Unset: SQLite at ``<home>/zhengyin.sqlite3``."""
    devnet_port: int = 8545
    """Port of the local devnet on 127.0.0.1 (when ``rpc_url`` is unset)."""
    devnet_node: Literal["anvil", "hardhat"] = "anvil"
    """The node ``zhengyin devnet up`` starts: anvil (state kept), or Hardhat's node (for
    tests: an empty chain each time, discarded by ``devnet down``)."""
    operator_key_file: Path | None = None
    """File holding the hex private key of the account that deploys and governs.
    Unset: ``<home>/keys/operator.key``, created (and funded on the devnet) on first use."""
    confirmations: int = 0
    """Blocks to wait after a transaction's receipt before it counts as done."""
    max_staleness_seconds: float = 2.0
    """A verdict is never ``valid`` (chain checks are ERROR, ``indexer_lagging``) when the
    service's chain index was last confirmed current (the node answered and the index
    reached its head less ``confirmations``) longer ago than this."""
    max_head_age_seconds: float = 0.0
    """The oldest the chain node's newest block may be (its timestamp against this machine's
    clock) for the node to count as following the chain; older, and the index confirms
    nothing (``node_stale``), so verdicts turn ``error`` after ``max_staleness_seconds``.
    For a chain that seals a block every few seconds even when idle (QBFT, IBFT 2.0, Clique
    with empty blocks), set it to a few block periods plus the clocks' skew. 0 (the
    default): not checked, as a devnet makes blocks only on demand."""
    log_level: str | None = None
    """Level of the one-line log on stderr (``DEBUG``, ``INFO``, ``WARNING``, ``ERROR``).
    Unset: ``INFO`` for ``serve``, ``WARNING`` for other commands."""
    max_body_bytes: int = 20 * 1024 * 1024
    """Largest HTTP request body the service accepts (uploads included)."""
    verify_seconds: float = 10.0
    """Wall-clock limit of reading one uploaded file (PDF, seal): then it is stopped and the
    verdict is ``error`` (``verify_timeout``)."""
    verify_memory_mb: int = 512
    """Memory one uploaded file may take to read, beyond the reading process's start."""
    holder_address_limit: int = 30
    """Requests to the holder's routes (``/v1/holder/…``, no account) one client address
    (IPv6: its /64 network) may make per ``holder_address_window_seconds``, counted in each
    worker process: more are refused, 429 ``rate_limited``."""
    holder_address_window_seconds: float = 60.0
    """The window of ``holder_address_limit``."""
    holder_certificate_limit: int = 10
    """Presentation codes one certificate may have made per
    ``holder_certificate_window_seconds`` (counted in the database, across every worker
    and instance) before a holder's request for another is refused, 429 ``rate_limited``."""
    holder_certificate_window_seconds: float = 3600.0
    """The window of ``holder_certificate_limit``."""
    host: str = "127.0.0.1"
    """Address ``zhengyin serve`` listens on."""
    port: int = 8000
    """Port ``zhengyin serve`` listens on."""
    workers: int = 2
    """HTTP worker processes of ``zhengyin serve``."""

    @cached_property
    def home_dir(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def uses_devnet(self) -> bool:
        return self.rpc_url is None

    @property
    def verify_memory_bytes(self) -> int:
        return self.verify_memory_mb * 1024 * 1024

    @property
    def operator_key_path(self) -> Path:
        return self.operator_key_file or self.home_dir / "keys" / "operator.key"

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{self.home_dir / 'zhengyin.sqlite3'}"
