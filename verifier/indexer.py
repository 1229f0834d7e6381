"""The chain indexer: contract events into the database, so a verification reads no RPC.

The indexer reads every event of both contracts from the deployment block onward (in ranges
of at most ``STEP`` blocks), applies each to the index tables (anchors, statuses, keys, and
the raw event log for history) and moves its cursor, all in one database transaction per
range. A status change made through this service calls :meth:`Indexer.catch_up` right after
its receipt, so the next verification sees it at once.

Verifications judge the chain at the cursor's block. If the indexer cannot reach the chain,
or falls more than ``max_lag`` blocks behind the head it last saw, :meth:`snapshot` raises
:class:`IndexerLagging` and chain checks report ERROR — never valid or invalid.

The devnet and the permissioned chains this targets have instant finality; on a chain with
reorganisations, run with ``ZHENGYIN_CONFIRMATIONS`` and index only confirmed blocks.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from certs.store import (
    Store,
    chain_anchors,
    chain_cursor,
    chain_events,
    chain_keys,
    chain_status,
    now,
)
from chain.errors import ChainError
from chain.registry import (
    AnchorInfo,
    CertificateStatus,
    ChainEvent,
    ChainSnapshot,
    Deployment,
    KeyRecord,
    LeafStatus,
    Registry,
)
from seals.sm2 import sm3

STEP = 5_000
KEY_CACHE_SECONDS = 2.0
"""How long a process trusts its copy of an issuer's key records (retirements and compromise
reports reach verifications within this time)."""


class IndexerLagging(ChainError):
    code = "indexer_lagging"


@dataclass(frozen=True)
class IndexerState:
    indexed_block: int | None
    head: int | None
    seconds_since_contact: float | None
    healthy: bool
    error: str | None

    @property
    def lag(self) -> int | None:
        if self.indexed_block is None or self.head is None:
            return None
        return max(0, self.head - self.indexed_block)


class Indexer:
    """Follows one deployment into one database."""

    def __init__(
        self,
        store: Store,
        registry: Registry,
        *,
        confirmations: int = 0,
        max_lag: int = 5,
        max_silence: float = 10.0,
    ) -> None:
        self.store = store
        self.registry = registry
        self.deployment: Deployment = registry.deployment
        self.confirmations = confirmations
        self.max_lag = max_lag
        self.max_silence = max_silence
        self._lock = threading.Lock()
        self._head: int | None = None
        self._contact: float | None = None
        self._error: str | None = None
        self._anchor_cache: dict[str, AnchorInfo] = {}
        self._names: dict[str, str] = {}
        self._key_cache: dict[str, tuple[float, dict[bytes, tuple[KeyRecord, bytes | None]]]] = {}

    # ---- following ----

    def catch_up(self) -> int:
        """Index every event up to the head (less confirmations); return the indexed block."""
        with self._lock:
            try:
                head = self.registry.block_number()
            except ChainError as exc:
                self._error = str(exc)
                raise
            self._head, self._contact, self._error = head, time.monotonic(), None
            target = head - self.confirmations
            cursor = self._cursor()
            start = self.deployment.block if cursor is None else cursor + 1
            while start <= target:
                end = min(target, start + STEP - 1)
                try:
                    events = self.registry.events(start, end)
                except ChainError as exc:
                    self._error = str(exc)
                    raise
                self._apply(events, end)
                start = end + 1
            return max(target, cursor or 0)

    def run_forever(self, stop: threading.Event, interval: float = 0.5) -> None:
        while not stop.is_set():
            try:
                self.catch_up()
            except ChainError:
                pass  # the state says so; verifications report ERROR until it recovers
            stop.wait(interval)

    def _cursor(self) -> int | None:
        with self.store.engine.connect() as connection:
            row = connection.execute(sa.select(chain_cursor).where(chain_cursor.c.id == 1)).first()
        if row is None:
            return None
        if row.chain_id != self.deployment.chain_id or (
            row.contract.lower() != self.deployment.certificate_registry.lower()
        ):
            raise IndexerLagging(
                f"this database indexes chain {row.chain_id} contract {row.contract}, not the "
                f"configured deployment; use a fresh database for another deployment",
                code="index_of_other_deployment",
            )
        return int(row.block)

    def _apply(self, events: Iterable[ChainEvent], through: int) -> None:
        try:
            self._apply_once(events, through)
        except sa.exc.IntegrityError:
            pass  # another process indexed the same range first

    def _apply_once(self, events: Iterable[ChainEvent], through: int) -> None:
        with self.store.transaction() as connection:
            done = connection.execute(sa.select(chain_cursor.c.block)).scalar()
            if done is not None and done >= through:
                return  # another process got here first
            for event in events:
                self._apply_one(connection, event)
            connection.execute(sa.delete(chain_cursor))
            connection.execute(
                chain_cursor.insert().values(
                    id=1,
                    chain_id=self.deployment.chain_id,
                    contract=self.deployment.certificate_registry,
                    block=through,
                    updated_at=now(),
                )
            )

    def _apply_one(self, connection: sa.Connection, event: ChainEvent) -> None:
        a = event.args
        issuer = a.get("issuer")
        subject = other = None
        if event.name == "RootAnchored":
            subject = a["root"].hex()
            connection.execute(sa.delete(chain_anchors).where(chain_anchors.c.root == subject))
            connection.execute(
                chain_anchors.insert().values(
                    root=subject,
                    issuer=issuer,
                    leaf_count=a["leafCount"],
                    block_number=event.block_number,
                    timestamp=event.timestamp,
                    tx_hash=event.tx_hash,
                )
            )
        elif event.name in ("StatusChanged", "Superseded"):
            leaf = (a["leaf"] if event.name == "StatusChanged" else a["oldLeaf"]).hex()
            subject = leaf
            status = (
                int(a["status"])
                if event.name == "StatusChanged"
                else int(CertificateStatus.SUPERSEDED)
            )
            if event.name == "Superseded":
                other = a["newLeaf"].hex()
            connection.execute(
                sa.delete(chain_status).where(
                    chain_status.c.issuer == issuer, chain_status.c.leaf == leaf
                )
            )
            connection.execute(
                chain_status.insert().values(
                    issuer=issuer,
                    leaf=leaf,
                    status=status,
                    reason=int(a["reason"]),
                    block_number=event.block_number,
                    timestamp=event.timestamp,
                    superseded_by=other,
                )
            )
        elif event.name == "KeyAdded":
            subject = a["keyId"].hex()
            point = bytes(a.get("publicKey") or b"")
            connection.execute(
                sa.delete(chain_keys).where(
                    chain_keys.c.issuer == issuer, chain_keys.c.key_id == subject
                )
            )
            connection.execute(
                chain_keys.insert().values(
                    issuer=issuer,
                    key_id=subject,
                    valid_from=int(a["validFrom"]),
                    valid_until=int(a["validUntil"]) or None,
                    compromised_at=None,
                    public_key=point.hex() if point and sm3(point).hex() == subject else None,
                )
            )
        elif event.name in ("KeyRetired", "KeyCompromised"):
            subject = a["keyId"].hex()
            values = (
                {"valid_until": int(a["validUntil"])}
                if event.name == "KeyRetired"
                else {"compromised_at": int(a["compromisedAt"])}
            )
            connection.execute(
                chain_keys.update()
                .where(chain_keys.c.issuer == issuer, chain_keys.c.key_id == subject)
                .values(**values)
            )
        elif event.name == "DocumentAnchored":
            subject = a["digest"].hex()
        connection.execute(
            sa.delete(chain_events).where(
                chain_events.c.block_number == event.block_number,
                chain_events.c.log_index == event.log_index,
            )
        )
        connection.execute(
            chain_events.insert().values(
                block_number=event.block_number,
                log_index=event.log_index,
                name=event.name,
                issuer=issuer,
                subject=subject,
                other=other,
                timestamp=event.timestamp,
                tx_hash=event.tx_hash,
                args=json.dumps({k: _jsonable(v) for k, v in a.items()}),
            )
        )

    # ---- reading ----

    def state(self) -> IndexerState:
        try:
            cursor = self._cursor()
        except ChainError as exc:
            return IndexerState(None, self._head, None, False, str(exc))
        return self._judge(cursor)

    def _judge(self, cursor: int | None) -> IndexerState:
        silence = None if self._contact is None else time.monotonic() - self._contact
        healthy = (
            cursor is not None
            and self._head is not None
            and self._error is None
            and silence is not None
            and silence <= self.max_silence
            and self._head - cursor <= self.max_lag + self.confirmations
        )
        return IndexerState(cursor, self._head, silence, healthy, self._error)

    def snapshot(
        self,
        *,
        roots: Iterable[bytes] = (),
        leaves: Iterable[tuple[str, bytes]] = (),
        keys: Iterable[tuple[str, bytes]] = (),
        block: int | None = None,
    ) -> ChainSnapshot:
        """The same facts as :meth:`Registry.snapshot`, from the index, at the indexed block.

        Anchors never change once made, so they are cached; key records (which a retirement
        or a compromise report changes) are cached for ``KEY_CACHE_SECONDS``; statuses are
        read every time."""
        root_list = list(dict.fromkeys(r.hex() for r in roots))
        leaf_list = list(dict.fromkeys((u, x.hex()) for u, x in leaves))
        key_list = list(dict.fromkeys((u, k.hex()) for u, k in keys))
        anchors: dict[bytes, AnchorInfo | None] = {}
        statuses: dict[tuple[str, bytes], LeafStatus] = {
            (u, bytes.fromhex(x)): LeafStatus(CertificateStatus.ACTIVE, 0, None, None, None)
            for u, x in leaf_list
        }
        with self.store.reader() as fetch:
            rows = fetch("SELECT block FROM chain_cursor WHERE id = 1")
            cursor = rows[0][0] if rows else None
            state = self._judge(None if cursor is None else int(cursor))
            if not state.healthy or state.indexed_block is None:
                why = state.error or (
                    f"the index is at block {state.indexed_block}, the chain at {state.head}"
                    if state.head is not None
                    else "the chain has not been reached yet"
                )
                raise IndexerLagging(f"the chain index is not current: {why}")
            missing = [r for r in root_list if r not in self._anchor_cache]
            for chunk in _chunks(missing):
                for root, issuer, leaf_count, block_number, timestamp in fetch(
                    "SELECT root, issuer, leaf_count, block_number, timestamp FROM chain_anchors"
                    f" WHERE root IN ({', '.join('?' * len(chunk))})",
                    *chunk,
                ):
                    self._anchor_cache[root] = AnchorInfo(
                        bytes.fromhex(root), issuer, leaf_count, block_number, timestamp, ""
                    )
            for r in root_list:
                anchors[bytes.fromhex(r)] = self._anchor_cache.get(r)
            for issuer in {u for u, _ in leaf_list}:  # (issuer, leaf) is the primary key
                for chunk in _chunks([x for u, x in leaf_list if u == issuer]):
                    for leaf, status, reason, block_number, timestamp, superseded_by in fetch(
                        "SELECT leaf, status, reason, block_number, timestamp, superseded_by"
                        " FROM chain_status WHERE issuer = ?"
                        f" AND leaf IN ({', '.join('?' * len(chunk))})",
                        issuer,
                        *chunk,
                    ):
                        statuses[(issuer, bytes.fromhex(leaf))] = LeafStatus(
                            CertificateStatus(status),
                            reason,
                            block_number,
                            timestamp,
                            bytes.fromhex(superseded_by) if superseded_by else None,
                        )
        records: dict[tuple[str, bytes], KeyRecord | None] = {}
        for issuer in {u for u, _ in key_list}:
            known = self._issuer_keys(issuer)
            for u, k in key_list:
                if u == issuer:
                    found = known.get(bytes.fromhex(k))
                    records[(u, bytes.fromhex(k))] = found[0] if found else None
        assert state.indexed_block is not None
        return ChainSnapshot(state.indexed_block, anchors, statuses, records)

    def _issuer_keys(self, issuer: str) -> dict[bytes, tuple[KeyRecord, bytes | None]]:
        cached = self._key_cache.get(issuer)
        if cached is not None and time.monotonic() - cached[0] < KEY_CACHE_SECONDS:
            return cached[1]
        with self.store.engine.connect() as connection:
            rows = connection.execute(
                sa.select(chain_keys).where(chain_keys.c.issuer == issuer)
            ).all()
        found = {
            bytes.fromhex(r.key_id): (
                KeyRecord(bytes.fromhex(r.key_id), r.valid_from, r.valid_until, r.compromised_at),
                bytes.fromhex(r.public_key) if r.public_key else None,
            )
            for r in rows
        }
        self._key_cache[issuer] = (time.monotonic(), found)
        return found

    def key_ids(self, issuer: str) -> list[bytes]:
        """Every key the issuer registered (with or without its public key)."""
        return list(self._issuer_keys(issuer))

    def published_keys(self, issuer: str) -> dict[bytes, bytes]:
        known = self._issuer_keys(issuer)
        return {k: point for k, (_, point) in known.items() if point}

    def issuer_name(self, issuer: str) -> str | None:
        """The name the issuer was registered under, from the indexed ``IssuerRegistered``
        event (an issuer is registered once, so a name found is kept)."""
        found = self._names.get(issuer)
        if found is None:
            with self.store.engine.connect() as connection:
                row = connection.execute(
                    sa.select(chain_events.c.args)
                    .where(
                        chain_events.c.name == "IssuerRegistered",
                        chain_events.c.issuer == issuer,
                    )
                    .order_by(chain_events.c.block_number.desc())
                    .limit(1)
                ).first()
            if row is None:
                return None
            found = str(json.loads(row.args).get("name", ""))
            self._names[issuer] = found
        return found

    def documents(self, digests: Iterable[bytes]) -> dict[bytes, AnchorInfo | None]:
        """Anchors of sealed-document digests, from the indexed events."""
        wanted = {d.hex(): d for d in digests}
        out: dict[bytes, AnchorInfo | None] = {d: None for d in wanted.values()}
        with self.store.engine.connect() as connection:
            rows = connection.execute(
                sa.select(chain_events).where(
                    chain_events.c.name == "DocumentAnchored",
                    chain_events.c.subject.in_(list(wanted)),
                )
            ).all()
        for r in rows:
            out[wanted[r.subject]] = AnchorInfo(
                wanted[r.subject], r.issuer or "", 1, r.block_number, r.timestamp, ""
            )
        return out

    def events_of(self, issuer: str, subjects: Iterable[bytes]) -> list[ChainEvent]:
        """Indexed events of ``issuer`` about these roots/leaves (either side of a link)."""
        hexes = [s.hex() for s in subjects]
        with self.store.engine.connect() as connection:
            rows = connection.execute(
                sa.select(chain_events)
                .where(
                    chain_events.c.issuer == issuer,
                    sa.or_(chain_events.c.subject.in_(hexes), chain_events.c.other.in_(hexes)),
                )
                .order_by(chain_events.c.block_number, chain_events.c.log_index)
            ).all()
        return [
            ChainEvent(
                r.name,
                "",
                r.block_number,
                r.timestamp,
                r.tx_hash,
                r.log_index,
                _from_json(json.loads(r.args)),
            )
            for r in rows
        ]


def _chunks(values: list[str], size: int = 500) -> Iterable[list[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _jsonable(value: Any) -> Any:
    return {"hex": value.hex()} if isinstance(value, bytes) else value


def _from_json(args: dict[str, Any]) -> dict[str, Any]:
    return {
        k: bytes.fromhex(v["hex"]) if isinstance(v, dict) and "hex" in v else v
        for k, v in args.items()
    }
