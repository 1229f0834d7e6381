"""Anchoring pending certificates: SM3 Merkle batches, one transaction per batch.

A batch moves ``prepared`` (tree built and stored, certificates given their batch and position
in it, committed: by the batcher, or by issuance for a request that fills whole batches,
:func:`certs.issuance.issue`) →
``sent`` (transaction hash recorded) → ``anchored`` (receipt seen; certificates ``active``).
Every step is committed before the next begins, and :meth:`Batcher.run_once` first finishes
any batch a crash left behind: if the chain already knows the root, the batch is marked
anchored from the chain's own record, otherwise the anchor is sent (again). The contract
refuses a second anchor of one root, so each certificate ends anchored exactly once.

If the chain is unreachable, batches wait in ``prepared``/``sent`` and the next run resumes.

A chain can lose its last blocks (a devnet restored from an older state; a reorganisation):
:meth:`Batcher.recheck_anchored` reads the roots of the recently ``anchored`` batches back
from the chain in one batched call, and a batch whose root the chain no longer has goes back
to ``prepared`` (its ``active`` certificates to ``pending``, so no copy handed out meanwhile
claims an anchor) and is anchored again by the next run. The service rechecks every
``RECHECK_SECONDS``; ``zhengyin reconcile`` rechecks every anchored batch.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from certs.bulk import gc_paused
from certs.bulk_writes import assign_batch
from certs.errors import CertError
from certs.merkle import tree_bytes
from certs.store import Store, batches, certificates, now
from chain.errors import ContractRevert, TransactionDropped, TransactionTimeout
from chain.registry import AnchorInfo, RegistryClient

_log = logging.getLogger(__name__)

MAX_BATCH = 10_000
MAX_AGE = 2.0
"""Seconds a certificate may wait for more to join its batch (used by :meth:`run_forever`)."""
RECHECK_DEPTH = 256
"""Anchored batches whose block is this close to the chain's head (or above it) are read back
from the chain by :meth:`Batcher.recheck_anchored`."""
RECHECK_SECONDS = 1.0
"""How often :meth:`Batcher.run_forever` rechecks recent anchors."""
MAX_BACKOFF = 2.0
"""Longest wait between two rounds after errors (a chain back up is used within this)."""


@dataclass(frozen=True)
class LostAnchor:
    """An ``anchored`` batch whose root the chain no longer has: queued to anchor again."""

    batch_id: int
    issuer: str
    root: bytes
    block_number: int | None
    certificates: int
    """How many of its certificates went back from ``active`` to ``pending``."""


@dataclass(frozen=True)
class BatchResult:
    batch_id: int
    issuer: str
    root: bytes
    leaf_count: int
    state: str
    tx_hash: str | None
    block_number: int | None


def log_round(results: list[BatchResult], seconds: float, oldest: float | None = None) -> None:
    """One log line per batch a round sent (INFO: its size, root, transaction and the
    round's time); a round that sent none, one DEBUG line (``oldest``: the age in seconds
    of the oldest certificate waiting for a fuller batch, if any)."""
    if not results:
        if oldest is None:
            _log.debug("batcher round: nothing to anchor seconds=%.3f", seconds)
        else:
            _log.debug("batcher round: waiting for a fuller batch oldest=%.1fs", oldest)
    for r in results:
        _log.info(
            "batch %s batch=%d issuer=%s certificates=%d root=%s block=%s tx=%s seconds=%.3f",
            r.state, r.batch_id, r.issuer, r.leaf_count, r.root.hex(), r.block_number,
            r.tx_hash, seconds,
        )


class Batcher:
    """Builds and anchors batches. ``registry_for(uscc)`` gives a registry client that sends
    from an account of that issuer."""

    def __init__(
        self,
        store: Store,
        registry_for: Callable[[str], RegistryClient],
        *,
        max_batch: int = MAX_BATCH,
        on_mined: Callable[[], object] | None = None,
    ) -> None:
        self.store = store
        self.registry_for = registry_for
        self.max_batch = max_batch
        self.on_mined = on_mined
        """Called once the chain has a batch's anchor and before the batch is recorded
        ``anchored`` (the service catches its index up there: a certificate stored
        ``active`` is then already anchored in the index its verifications read)."""
        self.errors: Counter[str] = Counter()
        """Errors of :meth:`run_forever`'s rounds, by code (for the metrics)."""
        self.lost: list[LostAnchor] = []
        """Every lost anchor :meth:`recheck_anchored` found (for the metrics)."""

    def run_once(self, *, min_size: int = 1) -> list[BatchResult]:
        """Finish unfinished batches, then batch and anchor every pending certificate.
        ``ChainUnavailable`` propagates once the database state is safe."""
        results = [self._finish(b) for b in self._unfinished()]
        while True:
            prepared = self._prepare(min_size)
            if prepared is None:
                return results
            results.append(self._finish(prepared))

    def run_forever(
        self,
        stop: Callable[[], bool],
        *,
        interval: float = 0.2,
        on_batch: Callable[[BatchResult], object] | None = None,
        recheck_since: Callable[[], int | None] | None = None,
    ) -> None:
        """Anchor continuously: a batch goes out when it is full or its oldest certificate
        has waited ``MAX_AGE`` seconds; every ``RECHECK_SECONDS`` the recent anchors are read
        back from the chain (:meth:`recheck_anchored`; ``recheck_since()`` may name a block
        after which every anchor is rechecked, e.g. where the index last rewound to). Chain
        outages and other failures are logged, counted and waited out with a back-off (the
        batch stays in the database; the next round resumes it)."""
        failures = 0
        rechecked = 0.0
        while not stop():
            try:
                if time.monotonic() - rechecked >= RECHECK_SECONDS:
                    self.recheck_anchored(since=recheck_since() if recheck_since else None)
                    rechecked = time.monotonic()
                started = time.monotonic()
                oldest = self._oldest_pending_age()
                if oldest is not None:
                    full = self._pending_count() >= self.max_batch
                    results = self.run_once(
                        min_size=1 if full or oldest >= MAX_AGE else self.max_batch
                    )
                else:
                    results = self.run_once(min_size=self.max_batch)
                log_round(results, time.monotonic() - started, oldest)
                for result in results:
                    if on_batch is not None:
                        on_batch(result)
            except Exception as exc:  # a daemon loop must survive; the state is durable
                failures += 1
                code = getattr(exc, "code", None)
                self.errors[code if isinstance(code, str) else type(exc).__name__] += 1
                delay = min(MAX_BACKOFF, 0.5 * 2 ** min(failures, 16))
                _log.warning(
                    "batcher round failed attempt=%d retry_in=%.1fs", failures, delay,
                    exc_info=exc,
                )
                _sleep_unless(stop, delay)
                continue
            if failures:
                _log.info("batcher recovered after=%d failed rounds", failures)
            failures = 0
            _sleep_unless(stop, interval)

    def recheck_anchored(
        self, *, since: int | None = None, depth: int | None = RECHECK_DEPTH
    ) -> list[LostAnchor]:
        """Read back from the chain the roots of the ``anchored`` batches anchored within
        ``depth`` blocks of its head (every one if ``depth`` is None), above its head, or
        after block ``since``; each root the chain no longer has sends its batch back to
        ``prepared`` and its ``active`` certificates to ``pending``, for the next run to
        anchor again. One batched read per issuer. Returns what was lost."""
        with self.store.engine.connect() as connection:
            issuers = list(
                connection.execute(
                    sa.select(batches.c.issuer).where(batches.c.state == "anchored").distinct()
                ).scalars()
            )
        lost: list[LostAnchor] = []
        for issuer in issuers:
            registry = self.registry_for(issuer)
            head = registry.block_number()
            recent = batches.c.block_number > head  # above the head: lost for certain
            if depth is None:
                recent = sa.true()
            else:
                recent = sa.or_(recent, batches.c.block_number > head - depth)
            if since is not None:
                recent = sa.or_(recent, batches.c.block_number > since)
            with self.store.engine.connect() as connection:
                rows = connection.execute(
                    sa.select(batches.c.id, batches.c.root, batches.c.block_number).where(
                        batches.c.state == "anchored",
                        batches.c.issuer == issuer,
                        # only what was anchored on the chain this client reads
                        batches.c.chain_id == registry.deployment.chain_id,
                        sa.func.lower(batches.c.contract)
                        == registry.deployment.certificate_registry.lower(),
                        recent,
                    )
                ).all()
            if not rows:
                continue
            # judged at the head the batches were chosen by: read again, the head may come
            # from another node behind a load balancer, below an anchor it would call lost
            found = registry.snapshot(
                roots=[bytes.fromhex(r.root) for r in rows], block=head
            ).anchors
            for row in rows:
                root = bytes.fromhex(row.root)
                info = found.get(root)
                if info is None:
                    lost.append(self._unanchor(row.id, issuer, root, row.block_number))
                elif info.block_number != row.block_number:
                    self._moved(registry, row.id, root, info)
        self.lost += lost
        return lost

    def _unanchor(
        self, batch_id: int, issuer: str, root: bytes, block_number: int | None
    ) -> LostAnchor:
        with self.store.transaction() as connection:
            connection.execute(
                batches.update()
                .where(batches.c.id == batch_id, batches.c.state == "anchored")
                .values(state="prepared", tx_hash=None, block_number=None, anchored_at=None)
            )
            moved = connection.execute(
                certificates.update()
                .where(certificates.c.batch_id == batch_id, certificates.c.status == "active")
                .values(status="pending")
            ).rowcount
        _log.warning(
            "anchor lost by the chain batch=%d issuer=%s root=%s block=%s certificates=%d: "
            "queued to anchor again",
            batch_id, issuer, root.hex(), block_number, moved,
        )
        return LostAnchor(batch_id, issuer, root, block_number, int(moved))

    def _moved(
        self, registry: RegistryClient, batch_id: int, root: bytes, info: AnchorInfo
    ) -> None:
        """The chain has the root in another block than recorded (sent again, or the chain
        re-mined it): record where it is now."""
        events = registry.history_of_root(root)
        with self.store.transaction() as connection:
            connection.execute(
                batches.update()
                .where(batches.c.id == batch_id)
                .values(
                    block_number=info.block_number,
                    anchored_at=dt.datetime.fromtimestamp(info.timestamp, dt.UTC),
                    **({"tx_hash": events[-1].tx_hash} if events else {}),
                )
            )

    # ---- steps ----

    def _unfinished(self) -> list[int]:
        with self.store.engine.connect() as connection:
            return list(
                connection.execute(
                    sa.select(batches.c.id)
                    .where(batches.c.state.in_(("prepared", "sent")))
                    .order_by(batches.c.id)
                ).scalars()
            )

    def _pending_count(self) -> int:
        with self.store.engine.connect() as connection:
            return int(
                connection.execute(
                    sa.select(sa.func.count())
                    .select_from(certificates)
                    .where(certificates.c.status == "pending", certificates.c.batch_id.is_(None))
                ).scalar_one()
            )

    def _oldest_pending_age(self) -> float | None:
        with self.store.engine.connect() as connection:
            oldest = connection.execute(
                sa.select(sa.func.min(certificates.c.created_at)).where(
                    certificates.c.status == "pending", certificates.c.batch_id.is_(None)
                )
            ).scalar_one()
        if oldest is None:
            return None
        if oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=dt.UTC)
        return float((now() - oldest).total_seconds())

    def _prepare(self, min_size: int) -> int | None:
        """Build one batch from the pending certificates of one issuer (oldest first).

        The cyclic collector is paused meanwhile: building a tree of 10,000 leaves allocates
        enough to set off a full collection, costly in a process holding a large request
        (the CLI after issuing one, the service) (# Why: bench/PERFORMANCE.md, "Batcher:
        collector paused while preparing")."""
        with gc_paused(), self.store.transaction() as connection:
            issuer = connection.execute(
                sa.select(certificates.c.issuer)
                .where(certificates.c.status == "pending", certificates.c.batch_id.is_(None))
                .order_by(certificates.c.created_at)
                .limit(1)
            ).scalar()
            if issuer is None:
                return None
            rows = connection.execute(
                sa.select(certificates.c.identifier, certificates.c.leaf)
                .where(
                    certificates.c.status == "pending",
                    certificates.c.batch_id.is_(None),
                    certificates.c.issuer == issuer,
                )
                .order_by(certificates.c.created_at, certificates.c.identifier)
                .limit(self.max_batch)
                # PostgreSQL: two batchers never take the same certificates (SQLite's
                # BEGIN IMMEDIATE already serialises them)
                .with_for_update(skip_locked=True)
            ).all()
            if len(rows) < min_size:
                return None
            # by position (# Why: bench/PERFORMANCE.md, "Batcher: rows read by position")
            identifiers, hex_leaves = [r[0] for r in rows], [r[1] for r in rows]
            leaves = bytes.fromhex("".join(hex_leaves))
            if len(leaves) != 32 * len(rows):
                raise CertError(
                    "a pending certificate's stored leaf is not a 32-byte digest",
                    code="stored_leaf_malformed",
                )
            tree = tree_bytes(leaves)
            batch_id = int(
                connection.execute(
                    batches.insert()
                    .values(
                        issuer=issuer,
                        root=tree[-32:].hex(),  # the top level's one node, stored last
                        leaf_count=len(rows),
                        state="prepared",
                        created_at=now(),
                        tree=tree,  # the proofs of all its certificates
                    )
                    .returning(batches.c.id)
                ).scalar_one()
            )
            assign_batch(connection, batch_id, identifiers)
        return batch_id

    def _finish(self, batch_id: int) -> BatchResult:
        with self.store.engine.connect() as connection:
            batch = connection.execute(sa.select(batches).where(batches.c.id == batch_id)).one()
        root = bytes.fromhex(batch.root)
        registry = self.registry_for(batch.issuer)
        info = registry.anchor_of(root)
        tx_hash = batch.tx_hash
        if info is None:
            sender = registry.sender
            assert sender is not None
            data = registry.anchor_call(batch.issuer, root, batch.leaf_count)
            try:
                tx_hash = sender.submit(to=registry.deployment.certificate_registry, data=data)
            except ContractRevert as revert:
                if revert.error_name != "RootAlreadyAnchored":
                    raise
                # the node judges against its pending state: an earlier send of this root
                # (from before a crash) is about to be mined; wait for it
                info = self._await_anchor(registry, root, sender.receipt_timeout)
            else:
                self._set(batch_id, state="sent", tx_hash=tx_hash)
                try:
                    sender.wait(tx_hash)
                except ContractRevert as revert:
                    if revert.error_name != "RootAlreadyAnchored":  # an earlier send won
                        raise
                    tx_hash = None  # not ours: the anchoring transaction is read back below
                except (TransactionTimeout, TransactionDropped) as exc:
                    # judged by the chain's record below; the next run resumes (sends again)
                    _log.warning(
                        "anchor not mined yet batch=%d tx=%s", batch_id, tx_hash, exc_info=exc
                    )
            if info is None:
                info = registry.anchor_of(root)
            if info is None:
                return self._result(batch_id)
        if info.issuer != batch.issuer:
            raise CertError(
                f"batch root {root.hex()} is anchored on chain by {info.issuer}, not "
                f"{batch.issuer}",
                code="root_anchored_by_other_issuer",
            )
        if tx_hash is None or batch.tx_hash is None:
            events = registry.history_of_root(root)
            tx_hash = events[0].tx_hash if events else tx_hash
        if self.on_mined is not None:
            self.on_mined()
        with self.store.transaction() as connection:
            connection.execute(
                batches.update()
                .where(batches.c.id == batch_id)
                .values(
                    state="anchored",
                    tx_hash=tx_hash,
                    block_number=info.block_number,
                    anchored_at=dt.datetime.fromtimestamp(info.timestamp, dt.UTC),
                    chain_id=registry.deployment.chain_id,
                    contract=registry.deployment.certificate_registry,
                )
            )
            connection.execute(
                certificates.update()
                .where(certificates.c.batch_id == batch_id, certificates.c.status == "pending")
                .values(status="active")
            )
        return self._result(batch_id)

    @staticmethod
    def _await_anchor(registry: RegistryClient, root: bytes, timeout: float) -> AnchorInfo | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            info = registry.anchor_of(root)
            if info is not None:
                return info
            time.sleep(0.05)
        return None

    def _set(self, batch_id: int, **values: object) -> None:
        with self.store.transaction() as connection:
            connection.execute(batches.update().where(batches.c.id == batch_id).values(**values))

    def _result(self, batch_id: int) -> BatchResult:
        with self.store.engine.connect() as connection:
            b = connection.execute(sa.select(batches).where(batches.c.id == batch_id)).one()
        return BatchResult(
            b.id, b.issuer, bytes.fromhex(b.root), b.leaf_count, b.state, b.tx_hash, b.block_number
        )


def _sleep_unless(stop: Callable[[], bool], seconds: float) -> None:
    """Sleep ``seconds``, waking early (every 0.1 s) once ``stop()``."""
    deadline = time.monotonic() + seconds
    while not stop() and time.monotonic() < deadline:
        time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
