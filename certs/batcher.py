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
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from certs.bulk import gc_paused
from certs.errors import CertError
from certs.merkle import tree_bytes
from certs.store import Store, batches, certificates, now
from chain.errors import ContractRevert, TransactionTimeout
from chain.registry import AnchorInfo, Registry

MAX_BATCH = 10_000
MAX_AGE = 2.0
"""Seconds a certificate may wait for more to join its batch (used by :meth:`run_forever`)."""


@dataclass(frozen=True)
class BatchResult:
    batch_id: int
    issuer: str
    root: bytes
    leaf_count: int
    state: str
    tx_hash: str | None
    block_number: int | None


class Batcher:
    """Builds and anchors batches. ``registry_for(uscc)`` gives a registry client that sends
    from an account of that issuer."""

    def __init__(
        self,
        store: Store,
        registry_for: Callable[[str], Registry],
        *,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self.store = store
        self.registry_for = registry_for
        self.max_batch = max_batch

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
    ) -> None:
        """Anchor continuously: a batch goes out when it is full or its oldest certificate
        has waited ``MAX_AGE`` seconds. Chain outages and other failures are waited out
        (the batch stays in the database; the next round resumes it)."""
        while not stop():
            try:
                oldest = self._oldest_pending_age()
                if oldest is not None:
                    full = self._pending_count() >= self.max_batch
                    results = self.run_once(
                        min_size=1 if full or oldest >= MAX_AGE else self.max_batch
                    )
                else:
                    results = self.run_once(min_size=self.max_batch)
                for result in results:
                    if on_batch is not None:
                        on_batch(result)
            except Exception:  # a daemon loop must survive; the state is durable
                time.sleep(1.0)
            time.sleep(interval)

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
        enough to set off a full collection, which in a process holding a large request
        (the CLI after issuing one, the service) took 220 ms, as long as the rest of the
        batch's preparation (measured: one run in three)."""
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
            # by position: a row's attribute access cost ~1 µs (20 ms for 10,000 leaves)
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
            self.store.assign_batch(connection, batch_id, identifiers)
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
                except TransactionTimeout:
                    pass  # judged by the chain's record below; the next run resumes
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
    def _await_anchor(registry: Registry, root: bytes, timeout: float) -> AnchorInfo | None:
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
