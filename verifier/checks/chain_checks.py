"""The chain checks of a certificate, all judged at one block: ``chain.anchored``,
``issuer.authorized``, ``issuer.key``, ``certificate.status`` (see
:mod:`verifier.checks.certificates`); :class:`ChainFacts`, where the facts come from; and
:class:`ChainJudge`, which judges many certificates chunk by chunk at one block."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

from certs.status import status_reason
from chain.errors import ChainError
from chain.registry import (
    AnchorInfo,
    ChainEvent,
    ChainSnapshot,
    ChainStatus,
    Deployment,
    KeyRecord,
)
from verifier.checks.authority import Authority, authority_of
from verifier.checks.certificate_checks import LocalResult, fragment
from verifier.checks.messages import chain_problem, chain_time
from verifier.checks.verdict import Fragment, Status, Verdict


class ChainFacts(Protocol):
    """Where chain facts come from: the chain itself (:class:`~chain.registry.RegistryClient`) or
    the service's index of it (:class:`~verifier.index.indexer.Indexer`)."""

    @property
    def deployment(self) -> Deployment: ...

    def snapshot(
        self,
        *,
        roots: Iterable[bytes] = (),
        leaves: Iterable[tuple[str, bytes]] = (),
        keys: Iterable[tuple[str, bytes]] = (),
        block: int | None = None,
    ) -> ChainSnapshot: ...

    def published_keys(self, issuer: str) -> dict[bytes, bytes]: ...

    def documents(self, digests: Iterable[bytes]) -> dict[bytes, AnchorInfo | None]: ...

    def anchor_of(self, root: bytes) -> AnchorInfo | None:
        """The root's anchor at the chain's head, unconfirmed blocks included."""
        ...

    def issuer_name(self, issuer: str) -> str | None: ...

    def key_ids(self, issuer: str) -> list[bytes]: ...

    def authorization_events(
        self, issuer: str, code: str, *, block: int | None = None
    ) -> list[ChainEvent]: ...

    def lag(self) -> Mapping[str, Any]:
        """How far behind the chain these facts may be (``lag_blocks``, ``lag_seconds``)."""
        ...


_NOT_AUTHORIZED = {
    "authority.unknown_type": "issuer.authorized.unknown_type",
    "authority.withdrawn": "issuer.authorized.withdrawn",
}
"""The ``issuer.authorized`` message of what :meth:`Authority.why_not` found missing (a grant
in any other case)."""

CHAIN_CHECKS = (
    ("chain.anchored", "chain"),
    ("issuer.authorized", "chain"),
    ("issuer.key", "chain"),
    ("certificate.status", "status"),
)


def chain_checks(
    local: LocalResult,
    snapshot: ChainSnapshot | None,
    deployment: Deployment,
    error: ChainError | str | None = None,
    authority: Authority | None = None,
) -> list[Fragment]:
    """The chain-derived fragments of one certificate (``snapshot`` None: chain unreadable,
    ``error`` says why; ``authority``: what the chain says of the certificate's issuer and
    type at the snapshot's block). Each states in its data the block it was judged at and how
    far behind the chain that may be (``lag_blocks``, ``lag_seconds``)."""
    if local.root is None or local.leaf is None or local.key_id is None:
        return [
            fragment(
                n,
                t,
                Status.SKIPPED,
                "chain.not_looked_up",
            )
            for n, t in CHAIN_CHECKS
        ]
    if snapshot is None:
        return chain_unreadable(error, CHAIN_CHECKS)
    return [
        with_lag(f, snapshot.lag) for f in _judged(local, snapshot, deployment, authority)
    ]


def _unconfirmed(local: LocalResult, snapshot: ChainSnapshot) -> Fragment | None:
    """A root not found at the judged block, which the document says was anchored in a
    later block the index has seen the chain reach (the head less the confirmations is
    judged): not yet confirmed, so it cannot be checked yet (ERROR), never INVALID for a
    genuine certificate in its first blocks. A claimed block beyond the head the index last
    saw is no such excuse: the root is missing (INVALID)."""
    claimed, judged = local.anchor_block, snapshot.block
    head = judged + int(snapshot.lag.get("lag_blocks") or 0)
    if claimed is None or not judged < claimed <= head:
        return None
    return fragment(
        "chain.anchored",
        "chain",
        Status.ERROR,
        "chain.anchored.unconfirmed",
        {"claimed": claimed, "block": judged, "head": head},
        block=judged,
    )


def with_lag(fragment: Fragment, lag: Mapping[str, Any]) -> Fragment:
    """``fragment`` with the chain's lag added to its data."""
    return replace(fragment, data={**fragment.data, **lag})


def chain_unreadable(
    error: BaseException | str | None, names: Sequence[tuple[str, str]]
) -> list[Fragment]:
    """The chain checks ``names`` when the chain (or its index) could not be read: ERROR,
    with the error's code and, from an index, its lag in the data. The reasons say why by
    the error's code only (:func:`chain_problem`): the error's own text names the chain
    node's address, so it stays in the data (``error``), which the API does not answer with;
    the service logs it where it happens (the indexer's catch-up)."""
    data: dict[str, Any] = {}
    code = getattr(error, "code", None)
    if isinstance(code, str):
        data = {"code": code, **getattr(error, "lag", {})}
    if error is not None:
        data["error"] = str(error)
    why = {"error": chain_problem(error)}
    return [fragment(n, t, Status.ERROR, "chain.unreadable", why, **data) for n, t in names]


def _judged(
    local: LocalResult,
    snapshot: ChainSnapshot,
    deployment: Deployment,
    authority: Authority | None,
) -> list[Fragment]:
    names = CHAIN_CHECKS
    assert local.root is not None and local.leaf is not None and local.key_id is not None
    block = snapshot.block
    if local.chain_id != deployment.chain_id or (
        (local.contract or "").lower() != deployment.certificate_registry.lower()
    ):
        where = {
            "chain_id": local.chain_id,
            "contract": local.contract,
            "our_chain_id": deployment.chain_id,
            "our_contract": deployment.certificate_registry,
        }
        return [
            fragment(n, t, Status.ERROR, "chain.elsewhere", where, block=block) for n, t in names
        ]
    anchor = snapshot.anchors.get(local.root)
    if anchor is None:
        return [
            _unconfirmed(local, snapshot)
            or fragment(
                "chain.anchored",
                "chain",
                Status.INVALID,
                "chain.anchored.missing",
                {"block": block},
                block=block,
            ),
            fragment(
                "issuer.authorized",
                "chain",
                Status.SKIPPED,
                "issuer.authorized.not_anchored",
                block=block,
            ),
            fragment(
                "issuer.key",
                "chain",
                Status.SKIPPED,
                "issuer.key.not_anchored",
                block=block,
            ),
            fragment(
                "certificate.status",
                "status",
                Status.SKIPPED,
                "certificate.status.not_anchored",
                block=block,
            ),
        ]
    if local.issuer is not None and anchor.issuer != local.issuer:
        anchored = fragment(
            "chain.anchored",
            "chain",
            Status.INVALID,
            "chain.anchored.other_issuer",
            {"anchorer": anchor.issuer, "issuer": local.issuer},
            block=block,
        )
    else:
        found = {
            "issuer": anchor.issuer,
            "block": anchor.block_number,
            "when": chain_time(anchor.timestamp),
        }
        anchored = fragment(
            "chain.anchored",
            "chain",
            Status.VALID,
            "chain.anchored.valid",
            found,
            block=block,
            anchored_block=anchor.block_number,
        )
    authorized = _authorized(local, anchor, authority, block)
    key = snapshot.keys.get((anchor.issuer, local.key_id))
    if key is None:
        key_check = fragment(
            "issuer.key",
            "chain",
            Status.INVALID,
            "issuer.key.unregistered",
            {"issuer": anchor.issuer},
            block=block,
        )
    elif not key.valid_at(anchor.timestamp):
        key_check = fragment(
            "issuer.key",
            "chain",
            Status.INVALID,
            "issuer.key.not_valid_then",
            block=block,
        )
    else:
        key_check = fragment(
            "issuer.key",
            "chain",
            Status.VALID,
            "issuer.key.valid",
            {"issuer": anchor.issuer},
            block=block,
        )
    state = snapshot.statuses.get((anchor.issuer, local.leaf))
    if state is None or state.status is ChainStatus.ACTIVE:
        status = fragment(
            "certificate.status",
            "status",
            Status.VALID,
            "certificate.status.active",
            {"block": block},
            block=block,
        )
    else:
        message = {
            ChainStatus.REVOKED: "certificate.status.revoked",
            ChainStatus.SUSPENDED: "certificate.status.suspended",
            ChainStatus.SUPERSEDED: "certificate.status.superseded",
        }[state.status]
        changed = {
            "changed": state.block_number,
            "code": state.reason,
            "reason": status_reason(state.reason),
        }
        status = fragment(
            "certificate.status",
            "status",
            Status.INVALID,
            message,
            changed,
            block=block,
            changed_block=state.block_number,
        )
    return [anchored, authorized, key_check, status]


def _authorized(
    local: LocalResult, anchor: AnchorInfo, authority: Authority | None, block: int
) -> Fragment:
    """``issuer.authorized``: the issuer was authorized for the certificate's type (and its
    jurisdiction) when its batch was anchored, by the chain's catalogue and grants."""
    name = "issuer.authorized"
    if authority is None or local.type_code is None or local.jurisdiction is None:
        return fragment(
            name, "chain", Status.ERROR, "issuer.authorized.unreadable", block=block,
        )
    entry = authority.entry
    type_name = entry.name if entry is not None else local.type_code
    facts: dict[str, Any] = {
        "issuer": anchor.issuer,
        "type_code": local.type_code,
        "type_name": type_name,
        "jurisdiction": local.jurisdiction,
        "when": chain_time(anchor.timestamp),
    }
    problem = authority.why_not(anchor.timestamp, local.jurisdiction)
    if problem is not None:
        message = _NOT_AUTHORIZED.get(problem.id, "issuer.authorized.not_granted")
        return fragment(
            name, "chain", Status.INVALID, message, {**facts, "problem": problem}, block=block
        )
    return fragment(name, "chain", Status.VALID, "issuer.authorized.valid", facts, block=block)


class ChainJudge:
    """Chain checks chunk by chunk, at one block: anchors and key records (few, shared by
    many certificates) are looked up once, statuses per chunk. After a chain error, every
    later chunk gets the same error (a run is judged at one block or not at all)."""

    def __init__(self, registry: ChainFacts) -> None:
        self.registry = registry
        self.block: int | None = None
        self.error: ChainError | None = None
        self.anchors: dict[bytes, AnchorInfo | None] = {}
        self.keys: dict[tuple[str, bytes], KeyRecord | None] = {}
        self.authorities: dict[tuple[str, str], Authority] = {}

    def verdicts(self, locals_: Sequence[LocalResult]) -> list[Verdict]:
        snapshot = self._snapshot(locals_) if self.error is None else None
        deployment = self.registry.deployment
        return [
            Verdict(
                local.fragments
                + tuple(
                    chain_checks(
                        local, snapshot, deployment, self.error, self._authority(local)
                    )
                ),
                local.subject,
            )
            for local in locals_
        ]

    def _authority(self, local: LocalResult) -> Authority | None:
        """The chain's catalogue entry and grants for the local result's issuer and type, at
        the judged block (looked up once a pair)."""
        if self.error is not None or self.block is None:
            return None
        if local.issuer is None or local.type_code is None:
            return None
        key = (local.issuer, local.type_code)
        found = self.authorities.get(key)
        if found is None:
            try:
                events = self.registry.authorization_events(*key, block=self.block)
            except ChainError as exc:
                self.error = exc
                return None
            found = self.authorities[key] = authority_of(events, *key)
        return found

    def _snapshot(self, locals_: Sequence[LocalResult]) -> ChainSnapshot | None:
        registry, anchors, keys = self.registry, self.anchors, self.keys
        wanted = [r for r in locals_ if r.root is not None and r.leaf is not None]
        try:
            # statuses and keys are asked under the issuer the chain recorded for each root
            roots = [r.root for r in wanted if r.root is not None and r.root not in anchors]
            if roots or self.block is None:
                found = registry.snapshot(roots=roots, block=self.block)
                self.block = found.block
                anchors.update(found.anchors)
            issuers = {root: a.issuer for root, a in anchors.items() if a is not None}
            leaves = [(issuers[r.root], r.leaf) for r in wanted if r.root in issuers and r.leaf]
            new_keys = [
                (issuers[r.root], r.key_id)
                for r in wanted
                if r.root in issuers and r.key_id and (issuers[r.root], r.key_id) not in keys
            ]
            rest = registry.snapshot(leaves=leaves, keys=new_keys, block=self.block)
        except ChainError as exc:
            self.error = exc
            return None
        keys.update(rest.keys)
        assert self.block is not None
        # how far behind the chain these facts may be: as the source said (an index's lag)
        return ChainSnapshot(self.block, anchors, rest.statuses, keys, rest.lag)
