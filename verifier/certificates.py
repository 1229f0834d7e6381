"""Verifying certificate documents: small checks returning fragments, the verdict over them.

Local checks (no chain): ``certificate.format``, ``certificate.integrity`` (every claim
against its digest; hidden claims reported), ``certificate.signature`` (the issuer's SM2
signature over the leaf, key id, identifier and validity dates, the key id being SM3 of the
enclosed public key), ``certificate.merkle_proof`` (leaf → anchored root),
``certificate.validity`` (today within the validity period; the dates are always disclosed).

Chain checks, all judged at ONE block stated in their data: ``chain.anchored`` (the root is
on chain, by the issuer the certificate names, on the chain and contract this verifier
follows), ``issuer.key`` (the key was the issuer's and valid when the batch was anchored —
the latest moment the signature can have been made), ``certificate.status`` (not revoked,
suspended or superseded). If the chain cannot be read they are ERROR: "could not check",
never valid or invalid.

Every fragment carries its reason twice: ``reason`` in English (API clients rely on its
wording) and ``reason_zh``, the same facts in Chinese for the clerk at the counter, saying
what to do where that helps.

Many documents are verified together: the local checks run on every core, the chain facts
of all of them come from one batched snapshot.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from certs import clock, qr
from certs.bulk import die_with_parent, gc_paused
from certs.canonical import FORMAT, CertificateDocument, check_leaf
from certs.errors import CertError
from certs.merkle import verify_proof
from certs.status import REASONS
from chain.errors import ChainError
from chain.registry import (
    AnchorInfo,
    ChainEvent,
    ChainSnapshot,
    ChainStatus,
    Deployment,
    KeyRecord,
    RegistryClient,
)
from seals.errors import SealError, says_nothing_of_the_input
from seals.sm2 import Sm2PublicKey, sm3
from verifier.catalogue import Authority, authority_of
from verifier.context import chain_rpc, deployment
from verifier.errors import ERROR_ROOTS, error_code
from verifier.settings import Settings
from verifier.verdict import Fragment, Status, Verdict

BULK = 2_000
"""From this many documents on, verification runs on worker processes, collector paused."""


class ChainFacts(Protocol):
    """Where chain facts come from: the chain itself (:class:`~chain.registry.RegistryClient`) or
    the service's index of it (:class:`~verifier.indexer.Indexer`)."""

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

    def issuer_name(self, issuer: str) -> str | None: ...

    def key_ids(self, issuer: str) -> list[bytes]: ...

    def authorization_events(
        self, issuer: str, code: str, *, block: int | None = None
    ) -> list[ChainEvent]: ...

    def lag(self) -> Mapping[str, Any]:
        """How far behind the chain these facts may be (``lag_blocks``, ``lag_seconds``)."""
        ...


@dataclass(frozen=True)
class LocalResult:
    """What the chain-free checks found, and the facts the chain checks need."""

    fragments: tuple[Fragment, ...]
    subject: dict[str, Any] = field(default_factory=dict)
    issuer: str | None = None
    leaf: bytes | None = None
    root: bytes | None = None
    key_id: bytes | None = None
    chain_id: int | None = None
    contract: str | None = None
    type_code: str | None = None
    jurisdiction: str | None = None


def _fragment(
    name: str, type_: str, status: Status, reason: str, reason_zh: str, **data: Any
) -> Fragment:
    return Fragment(name, type_, status, reason, data, reason_zh)


# ------------------------------------------------------------------- Chinese reasons

_FORMAT_ZH = {
    "document_version_unsupported": (
        "证照文件的格式版本不受本服务支持（旧版证照请向发证机关申请重新出具）"
    ),
    "claim_must_be_disclosed": "证照文件隐藏了证照标识、类型、发证机关或有效期，这些内容必须公开",
    "claims_inconsistent": "证照文件的标识与其类型、发证机关或有效期不一致",
    "document_algorithm_unsupported": "证照文件使用了本服务不支持的算法（应为 SM2/SM3）",
    "unknown_path": "证照文件含有本服务不认识的字段",
}

_QR_ZH = {
    "qr_version_unsupported": (
        "二维码版本不受支持（仅支持 ZY2；旧版 ZY1 二维码不能证明其显示的证照标识），"
        "无法核验；请持证人出示电子证照文件或出示码"
    ),
    "qr_not_anchored": "该证照尚未上链，没有可核验的二维码",
}

QR_HIDDEN = (
    "all other fields: a QR carries only the identifier, type, issuer, jurisdiction and validity"
)
"""``subject["hidden"]`` of a QR verdict."""

_STATUS_ZH = {
    ChainStatus.REVOKED: (
        "已吊销：该证照已于区块 {block} 被发证机关吊销（原因 {code}：{why}），"
        "不能作为有效证照使用"
    ),
    ChainStatus.SUSPENDED: (
        "已暂停：该证照已于区块 {block} 被发证机关暂停使用（原因 {code}：{why}），"
        "暂停期间不能作为有效证照使用，可请持证人联系发证机关"
    ),
    ChainStatus.SUPERSEDED: (
        "已换发：该证照已于区块 {block} 被新证照取代（原因 {code}：{why}），"
        "不能再作为有效证照使用，请持证人出示新证照"
    ),
}


def _status_reason_zh(code: int) -> str:
    """The Chinese words of a status reason code (``REASONS`` holds "english (中文)")."""
    text = REASONS.get(code)
    if text is None:
        return "未知"
    start, end = text.rfind("("), text.rfind(")")
    return text[start + 1 : end] if 0 <= start < end else text


def _detail(text: object) -> str:
    """Technical detail for whoever follows up (an administrator), after the sentence."""
    return f"（技术细节：{text}）" if str(text) else ""


def _chain_unreadable_zh(error: object) -> str:
    return "无法读取区块链，暂时无法判断，请稍后重试或联系管理员" + _detail(error)


def _utc_zh(timestamp: int) -> str:
    return _when(timestamp)[1]


def _when(timestamp: int) -> tuple[str, str]:
    """A chain time as ISO 8601 and as the counter reads it (a time no calendar holds is
    shown as its number, never an error)."""
    try:
        when = dt.datetime.fromtimestamp(timestamp, dt.UTC)
    except (ValueError, OverflowError, OSError):
        return f"unix time {timestamp}", f"Unix 时间 {timestamp}"
    return when.isoformat(), when.strftime("%Y-%m-%d %H:%M:%S UTC")


def mask_name(name: str) -> str:
    return name[:1] + "*" * (len(name) - 1) if len(name) > 1 else "*"


def mask_code(code: str) -> str:
    return code[:4] + "*" * (len(code) - 8) + code[-4:] if len(code) > 8 else "*" * len(code)


def certificate_subject(document: CertificateDocument) -> dict[str, Any]:
    """What a verdict on ``document`` shows of it: the disclosed core facts (the holder's
    name and code masked) and the hidden paths."""
    values = document.values()
    subject: dict[str, Any] = {}
    for path in (
        "identifier",
        "name",
        "type.name",
        "type.code",
        "issuer.name",
        "issuer.code",
        "jurisdiction",
        "issue_date",
        "valid_from",
        "valid_until",
        "number",
    ):
        if path in values:
            subject[path] = values[path]
    if isinstance(values.get("holder.name"), str):
        subject["holder.name"] = mask_name(str(values["holder.name"]))
    if isinstance(values.get("holder.code"), str):
        subject["holder.code"] = mask_code(str(values["holder.code"]))
    subject["hidden"] = list(document.hidden_paths)
    return subject


def local_checks(text: str | bytes, today: dt.date) -> LocalResult:
    """Every check that needs no chain, each failure contained in its own fragment."""
    try:
        document = CertificateDocument.from_json(text)
    except (CertError, ValueError) as exc:
        code = getattr(exc, "code", "document_malformed")
        return LocalResult(
            (
                _fragment(
                    "certificate.format",
                    "format",
                    Status.INVALID,
                    f"not a certificate document: {exc}",
                    _FORMAT_ZH.get(code, "这不是一份有效的电子证照文件（格式错误）")
                    + "，无法核验；请向持证人索取发证机关出具的原始证照文件"
                    + _detail(exc),
                    code=code,
                ),
            )
        )
    fragments = [
        _fragment(
            "certificate.format",
            "format",
            Status.VALID,
            f"a {FORMAT} certificate document",
            f"证印链电子证照文件（{FORMAT} 格式）",
        )
    ]
    fragments.append(_guard("certificate.integrity", "integrity", lambda: _integrity(document)))
    fragments.append(_guard("certificate.signature", "signature", lambda: _signature(document)))
    fragments.append(_guard("certificate.merkle_proof", "integrity", lambda: _proof(document)))
    fragments.append(_guard("certificate.validity", "validity", lambda: _validity(document, today)))
    values = document.values()
    anchor, signature = document.anchor, document.signature
    issuer = values.get("issuer.code")
    return LocalResult(
        tuple(fragments),
        certificate_subject(document),
        issuer=issuer if isinstance(issuer, str) else None,
        leaf=document.leaf,
        root=anchor.root if anchor else None,
        key_id=signature.key_id if signature else None,
        chain_id=anchor.chain_id if anchor else None,
        contract=anchor.contract if anchor else None,
        type_code=str(values["type.code"]),  # always disclosed (reading ensures it)
        jurisdiction=str(values["jurisdiction"]),
    )


def _guard(name: str, type_: str, check: Callable[[], Fragment]) -> Fragment:
    try:
        return check()
    except Exception as exc:  # an unexpected failure is an ERROR, never a crash or a VALID
        return _fragment(
            name,
            type_,
            Status.ERROR,
            f"the check failed unexpectedly: {exc}",
            "该项检查意外出错，暂时无法判断，请联系管理员" + _detail(exc),
        )


def _integrity(document: CertificateDocument) -> Fragment:
    try:
        hidden = check_leaf(document)
    except CertError as exc:
        return _fragment(
            "certificate.integrity",
            "integrity",
            Status.INVALID,
            str(exc),
            "证照内容与其摘要不符：有字段的内容、盐值或隐藏摘要被改动过，证照已被篡改，不能受理"
            + _detail(exc),
        )
    reason = f"all {len(document.claims)} fields match their digests"
    reason_zh = f"全部 {len(document.claims)} 项内容与摘要一致，未被改动"
    if hidden:
        reason += f"; hidden by the holder: {', '.join(hidden)}"
        reason_zh += f"；持证人未披露：{'、'.join(hidden)}"
    return _fragment(
        "certificate.integrity", "integrity", Status.VALID, reason, reason_zh, hidden=list(hidden)
    )


def _signature(document: CertificateDocument) -> Fragment:
    signature = document.signature
    if signature is None:
        return _fragment(
            "certificate.signature",
            "signature",
            Status.INVALID,
            "the certificate carries no issuer signature",
            "证照没有发证机关的签名，无法证明是发证机关签发的，不能受理",
        )
    if sm3(signature.public_key) != signature.key_id:
        return _fragment(
            "certificate.signature",
            "signature",
            Status.INVALID,
            "the enclosed public key is not the key named by the key id",
            "证照所附的公钥与其密钥标识不符，签名不可信，证照可能被伪造，不能受理",
        )
    try:
        _public_key(signature.public_key).verify(
            document.signing_input(signature.key_id), signature.value
        )
    except SealError as exc:
        if says_nothing_of_the_input(exc):
            return _fragment(
                "certificate.signature",
                "signature",
                Status.ERROR,
                f"the issuer's SM2 signature could not be checked on this service ({exc.code}: "
                f"{exc}); try again, or verify elsewhere",
                f"本机无法核验发证机关的 SM2 签名（{exc.code}），请稍后重试或换一台设备核验",
            )
        return _fragment(
            "certificate.signature",
            "signature",
            Status.INVALID,
            f"the issuer's SM2 signature does not verify ({exc.code})",
            f"发证机关的 SM2 签名验证不通过（{exc.code}）：证照内容被改动过或并非该机关签发，"
            "不能受理",
        )
    return _fragment(
        "certificate.signature",
        "signature",
        Status.VALID,
        "the issuer's SM2 signature over the certificate verifies",
        "发证机关对证照的 SM2 签名验证通过",
        key_id=signature.key_id.hex(),
    )


@functools.lru_cache(maxsize=256)
def _public_key(point: bytes) -> Sm2PublicKey:
    """Keys are few (one or two per issuer) and loading one costs as much as a verification."""
    return Sm2PublicKey.from_point(point)


def _proof(document: CertificateDocument) -> Fragment:
    anchor = document.anchor
    if anchor is None:
        return _fragment(
            "certificate.merkle_proof",
            "integrity",
            Status.INVALID,
            "the certificate has no anchor yet: it was issued but not anchored",
            "证照已签发但尚未上链存证，暂不能作为有效证照使用；请稍后再核验，或请持证人联系发证机关",
        )
    try:
        verify_proof(document.leaf, anchor.proof, anchor.root)
    except CertError as exc:
        return _fragment(
            "certificate.merkle_proof",
            "integrity",
            Status.INVALID,
            str(exc),
            "批次证明不成立：证照不属于它声称的上链批次，可能被篡改或拼接，不能受理" + _detail(exc),
        )
    return _fragment(
        "certificate.merkle_proof",
        "integrity",
        Status.VALID,
        f"the certificate is in batch {anchor.root.hex()[:16]}…",
        f"证照属于上链批次 {anchor.root.hex()[:16]}…",
        root=anchor.root.hex(),
    )


def _validity(document: CertificateDocument, today: dt.date) -> Fragment:
    values = document.values()  # reading a document ensures both dates are disclosed
    end_text = values["valid_until"]
    return validity_check(
        dt.date.fromisoformat(str(values["valid_from"])),
        dt.date.fromisoformat(str(end_text)) if end_text else None,
        today,
    )


def validity_check(start: dt.date, end: dt.date | None, today: dt.date) -> Fragment:
    """``certificate.validity``: is ``today`` within ``start``..``end`` (``None``: no end)?"""
    if today < start:
        return _fragment(
            "certificate.validity",
            "validity",
            Status.INVALID,
            f"not valid before {start.isoformat()}",
            f"证照尚未生效：有效期自 {start.isoformat()} 起（今天是 {today.isoformat()}），"
            "目前不能作为有效证照使用",
            today=today.isoformat(),
        )
    if end is not None and today > end:
        return _fragment(
            "certificate.validity",
            "validity",
            Status.INVALID,
            f"expired on {end.isoformat()}",
            f"证照已过期：有效期至 {end.isoformat()}（今天是 {today.isoformat()}），"
            "不能作为有效证照使用，请持证人办理换证",
            today=today.isoformat(),
        )
    until = f"until {end.isoformat()}" if end else "without end"
    until_zh = f"至 {end.isoformat()}" if end else "起长期有效"
    return _fragment(
        "certificate.validity",
        "validity",
        Status.VALID,
        f"valid from {start.isoformat()} {until}",
        f"在有效期内：{start.isoformat()} {until_zh}",
        today=today.isoformat(),
    )


_CHAIN_CHECKS = (
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
            _fragment(
                n,
                t,
                Status.SKIPPED,
                "nothing to look up: see the checks above",
                "未查询区块链：证照本身的检查未通过，见上方各项",
            )
            for n, t in _CHAIN_CHECKS
        ]
    if snapshot is None:
        return chain_unreadable(error, _CHAIN_CHECKS)
    return [
        with_lag(f, snapshot.lag) for f in _judged(local, snapshot, deployment, authority)
    ]


def with_lag(fragment: Fragment, lag: Mapping[str, Any]) -> Fragment:
    """``fragment`` with the chain's lag added to its data."""
    return replace(fragment, data={**fragment.data, **lag})


def chain_unreadable(
    error: BaseException | str | None, names: Sequence[tuple[str, str]]
) -> list[Fragment]:
    """The chain checks ``names`` when the chain (or its index) could not be read: ERROR,
    with the error's code and, from an index, its lag in the data."""
    data: dict[str, Any] = {}
    if isinstance(error, ChainError):
        data = {"code": error.code, **getattr(error, "lag", {})}
    return [
        _fragment(
            n, t, Status.ERROR, f"could not read the chain: {error}", _chain_unreadable_zh(error),
            **data,
        )
        for n, t in names
    ]


def _judged(
    local: LocalResult,
    snapshot: ChainSnapshot,
    deployment: Deployment,
    authority: Authority | None,
) -> list[Fragment]:
    names = _CHAIN_CHECKS
    assert local.root is not None and local.leaf is not None and local.key_id is not None
    block = snapshot.block
    if local.chain_id != deployment.chain_id or (
        (local.contract or "").lower() != deployment.certificate_registry.lower()
    ):
        reason = (
            f"anchored on chain {local.chain_id} contract {local.contract}; this verifier "
            f"follows chain {deployment.chain_id} contract "
            f"{deployment.certificate_registry}"
        )
        reason_zh = (
            f"证照存证在链 {local.chain_id} 的合约 {local.contract} 上，而本核验服务跟随的是"
            f"链 {deployment.chain_id} 的合约 {deployment.certificate_registry}，无法判断；"
            "请到签发该证照的平台核验，或联系管理员"
        )
        return [_fragment(n, t, Status.ERROR, reason, reason_zh, block=block) for n, t in names]
    anchor = snapshot.anchors.get(local.root)
    if anchor is None:
        return [
            _fragment(
                "chain.anchored",
                "chain",
                Status.INVALID,
                "the certificate's batch root is not on the chain",
                f"区块链上（截至区块 {block}）查不到该证照所在的批次：证照未上链存证或已被篡改，"
                "不能受理",
                block=block,
            ),
            _fragment(
                "issuer.authorized",
                "chain",
                Status.SKIPPED,
                "not anchored",
                "证照未上链存证，未检查发证授权",
                block=block,
            ),
            _fragment(
                "issuer.key",
                "chain",
                Status.SKIPPED,
                "not anchored",
                "证照未上链存证，未检查签名密钥",
                block=block,
            ),
            _fragment(
                "certificate.status",
                "status",
                Status.SKIPPED,
                "not anchored",
                "证照未上链存证，未检查证照状态",
                block=block,
            ),
        ]
    if local.issuer is not None and anchor.issuer != local.issuer:
        anchored = _fragment(
            "chain.anchored",
            "chain",
            Status.INVALID,
            f"the batch was anchored by {anchor.issuer}, not by the issuer "
            f"the certificate names ({local.issuer})",
            f"该批次由 {anchor.issuer} 上链，而不是证照所写的发证机关（{local.issuer}）："
            "证照可能是冒名签发的，不能受理",
            block=block,
        )
    else:
        when = _when(anchor.timestamp)[0]
        anchored = _fragment(
            "chain.anchored",
            "chain",
            Status.VALID,
            f"anchored by {anchor.issuer} in block {anchor.block_number} at {when}",
            f"已由 {anchor.issuer} 于区块 {anchor.block_number}（{_utc_zh(anchor.timestamp)}）"
            "上链存证",
            block=block,
            anchored_block=anchor.block_number,
        )
    authorized = _authorized(local, anchor, authority, block)
    key = snapshot.keys.get((anchor.issuer, local.key_id))
    if key is None:
        key_check = _fragment(
            "issuer.key",
            "chain",
            Status.INVALID,
            f"the signing key is not registered for {anchor.issuer}",
            f"签名密钥不是 {anchor.issuer} 在区块链上登记的密钥，签名不可信，不能受理",
            block=block,
        )
    elif not key.valid_at(anchor.timestamp):
        key_check = _fragment(
            "issuer.key",
            "chain",
            Status.INVALID,
            "the issuer's key was not valid when the batch was anchored "
            "(retired, not yet valid, or reported compromised before)",
            "上链时发证机关的签名密钥已不可用（已停用、尚未生效或此前已报告泄露），"
            "签名不可信，不能受理",
            block=block,
        )
    else:
        key_check = _fragment(
            "issuer.key",
            "chain",
            Status.VALID,
            f"a registered key of {anchor.issuer}, valid when anchored",
            f"签名密钥是 {anchor.issuer} 在区块链上登记的密钥，上链时有效",
            block=block,
        )
    state = snapshot.statuses.get((anchor.issuer, local.leaf))
    if state is None or state.status is ChainStatus.ACTIVE:
        status = _fragment(
            "certificate.status",
            "status",
            Status.VALID,
            "not revoked, suspended or superseded",
            f"状态正常：截至区块 {block} 未被吊销、暂停或换发",
            block=block,
        )
    else:
        words = {
            ChainStatus.REVOKED: "revoked",
            ChainStatus.SUSPENDED: "suspended",
            ChainStatus.SUPERSEDED: "superseded by a newer certificate",
        }[state.status]
        status = _fragment(
            "certificate.status",
            "status",
            Status.INVALID,
            f"{words} in block {state.block_number} "
            f"(reason {state.reason}: {REASONS.get(state.reason, 'unknown')})",
            _STATUS_ZH[state.status].format(
                block=state.block_number, code=state.reason, why=_status_reason_zh(state.reason)
            ),
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
        return _fragment(
            name, "chain", Status.ERROR,
            "the catalogue and the issuer's authorizations could not be read",
            "未能读取区块链上的证照目录和发证授权，暂时无法判断，请稍后重试或联系管理员",
            block=block,
        )
    entry = authority.entry
    type_name = entry.name if entry is not None else local.type_code
    when, when_zh = _when(anchor.timestamp)
    problem = authority.why_not(anchor.timestamp, local.jurisdiction)
    if problem is not None:
        if entry is None:
            zh = f"证照类型 {local.type_code} 不在区块链上的证照目录中"
        elif not entry.current_at(anchor.timestamp):
            zh = f"证照类型“{type_name}”上链时已从证照目录中撤销"
        else:
            zh = (
                f"该证照上链时（{when_zh}），{anchor.issuer} 未获授权在行政区划 "
                f"{local.jurisdiction} 签发“{type_name}”"
            )
        return _fragment(
            name, "chain", Status.INVALID,
            f"{problem} when the batch was anchored ({when})",
            zh + "：发证机关无权签发这份证照，不能受理",
            block=block,
        )
    return _fragment(
        name, "chain", Status.VALID,
        f"{anchor.issuer} was authorized for {local.type_code} ({type_name}) in "
        f"{local.jurisdiction} when the batch was anchored",
        f"上链时 {anchor.issuer} 已获授权在行政区划 {local.jurisdiction} 签发“{type_name}”",
        block=block,
    )


def verify_documents(
    texts: Sequence[str | bytes],
    registry: ChainFacts,
    *,
    today: dt.date | None = None,
    workers: int = 1,
) -> tuple[list[Verdict], int | None]:
    """Verdicts for many documents, with the chain judged at one block (returned too).

    Large runs are checked in chunks on ``workers`` processes; the chain facts of each chunk
    are fetched here while the workers check the next ones, every chunk at the block of the
    first lookup (so no verdict uses a chain older than the start of the run)."""
    today = today or clock.today()
    judge = _ChainJudge(registry)
    verdicts: list[Verdict] = []
    with gc_paused() if len(texts) >= BULK else contextlib.nullcontext():
        for part in _local_parts(texts, today, workers):
            verdicts += judge.verdicts(part)
    return verdicts, judge.block


class _ChainJudge:
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
        return ChainSnapshot(self.block, anchors, rest.statuses, keys)


def _local_parts(
    texts: Sequence[str | bytes], today: dt.date, workers: int
) -> Iterator[list[LocalResult]]:
    """The local checks of ``texts`` in order, chunk by chunk as they finish."""
    if workers <= 1 or len(texts) < BULK:
        yield [local_checks(t, today) for t in texts]
        return
    method = "fork" if threading.active_count() == 1 and os.name == "posix" else "spawn"
    chunk = 500
    with ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context(method),
        initializer=die_with_parent,  # none outlives a killed verification
        initargs=(os.getpid(),),
    ) as pool:
        yield from pool.map(
            _local_chunk, [(texts[i : i + chunk], today) for i in range(0, len(texts), chunk)]
        )


def _local_chunk(job: tuple[Sequence[str | bytes], dt.date]) -> list[LocalResult]:
    texts, today = job
    with gc_paused():
        return [local_checks(t, today) for t in texts]


def looks_like_certificate(data: bytes) -> bool:
    """Is ``data`` a JSON certificate document (rather than a seal, signature or PDF)?"""
    return data.lstrip()[:1] == b"{"


def verify_certificate_text(
    data: bytes, registry_factory: Callable[[], ChainFacts], *, today: dt.date | None = None
) -> Verdict:
    """One certificate document → its verdict; an unreachable chain gives ERROR checks."""
    day = today or clock.today()
    try:
        registry = registry_factory()
    except ChainError as exc:
        local = local_checks(data, day)
        return Verdict(local.fragments + tuple(chain_unreadable(exc, _CHAIN_CHECKS)), local.subject)
    verdicts, block = verify_documents([data], registry, today=day)
    verdict = verdicts[0]
    subject = {
        **verdict.subject,
        "chain": {"block": block, "chain_id": registry.deployment.chain_id},
    }
    return Verdict(verdict.checks, subject)


def certificate_verdict(settings: Settings, data: bytes, at: dt.datetime | None) -> Verdict:
    """``zhengyin verify CERT.json``: against the configured chain and deployment."""

    def registry() -> RegistryClient:
        try:
            rpc = chain_rpc(settings)
            return RegistryClient(rpc, deployment(settings, rpc))
        except ChainError:
            raise
        except ERROR_ROOTS as exc:  # no deployment, a damaged record: could not check
            raise ChainError(str(exc), code=error_code(exc)) from exc

    return verify_certificate_text(data, registry, today=at.date() if at else None)


def verify_qr(text: str, registry: ChainFacts, *, today: dt.date | None = None) -> Verdict:
    """A scanned QR payload (see :mod:`certs.qr`) against the chain: the issuer's signature
    over the identifier, dates and leaf with a key it published on chain, the dates against
    today, the batch root anchored by that issuer, the key valid when anchored and never
    reported compromised (a QR carries no Merkle proof: see :mod:`certs.qr`), and the
    certificate's status."""
    day = today or clock.today()
    try:
        payload = qr.decode(text)
    except CertError as exc:
        code = getattr(exc, "code", "qr_payload_invalid")
        return Verdict(
            (
                _fragment(
                    "qr.format",
                    "format",
                    Status.ERROR,
                    f"{exc}; nothing was checked",
                    _QR_ZH.get(
                        code,
                        "这不是证印链电子证照二维码（应以 ZY2. 开头），或二维码残缺、被改动，"
                        "无法核验；请重新扫描，或请持证人重新出示",
                    )
                    + _detail(exc),
                    code=code,
                ),
            )
        )
    identifier = str(payload.identifier)
    issuer = payload.identifier.issuer_code
    type_code = payload.identifier.type_code
    subject: dict[str, Any] = {
        "identifier": identifier,
        "type.code": type_code,
        "issuer.code": issuer,
        "valid_from": payload.valid_from.isoformat(),
        "valid_until": payload.valid_until.isoformat() if payload.valid_until else None,
        "jurisdiction": payload.jurisdiction,
        "hidden": [QR_HIDDEN],
    }
    type_name = _type_name(type_code)
    if type_name is not None:
        subject["type.name"] = type_name
    fragments = [
        _fragment(
            "qr.format",
            "format",
            Status.VALID,
            "a Zhengyin ZY2 QR payload",
            "证印链电子证照二维码（ZY2 格式）",
        )
    ]
    validity = validity_check(payload.valid_from, payload.valid_until, day)
    try:
        keys = {k: p for k, p in registry.published_keys(issuer).items() if sm3(p) == k}
        unpublished = [k for k in registry.key_ids(issuer) if k not in keys]
        snap = registry.snapshot(
            roots=[payload.root], leaves=[(issuer, payload.leaf)], keys=[(issuer, k) for k in keys]
        )
        name = registry.issuer_name(issuer)
        authority = authority_of(
            registry.authorization_events(issuer, type_code, block=snap.block), issuer, type_code
        )
    except ChainError as exc:
        names = (("certificate.signature", "signature"), *_CHAIN_CHECKS)
        return Verdict((*fragments, validity, *chain_unreadable(exc, names)), subject)
    if name is not None:
        subject["issuer.name"] = name
    if authority.entry is not None:  # the catalogue on chain names the type
        subject["type.name"] = authority.entry.name
    signed_with = None
    fault: SealError | None = None  # a key this machine could not check with
    for key_id, point in keys.items():
        try:
            _public_key(point).verify(
                payload.signing_input(key_id), qr.signature_der(payload.signature_rs)
            )
        except SealError as exc:
            if says_nothing_of_the_input(exc):
                fault = exc
            continue
        except ValueError:
            continue
        signed_with = key_id
        break
    who = f"{name}（{issuer}）" if name else issuer
    if signed_with is None and fault is not None:
        fragments.append(
            _fragment(
                "certificate.signature",
                "signature",
                Status.ERROR,
                f"the signature could not be checked on this service ({fault.code}: {fault}); "
                "try again, or verify elsewhere",
                f"本机无法核验该二维码的签名（{fault.code}），请稍后重试或换一台设备核验",
                block=snap.block,
            )
        )
    elif signed_with is None and unpublished:
        fragments.append(
            _fragment(
                "certificate.signature",
                "signature",
                Status.ERROR,
                f"no key that {issuer} published on chain verifies the signature, and it has "
                f"{len(unpublished)} registered key(s) whose public key it never published: "
                "the signature cannot be checked; ask for the certificate file or a "
                "presentation code",
                f"{who} 在区块链上登记了未公布公钥的签名密钥，无法核验该二维码的签名；"
                "请持证人出示电子证照文件或出示码再核验",
                block=snap.block,
            )
        )
    elif signed_with is None:
        fragments.append(
            _fragment(
                "certificate.signature",
                "signature",
                Status.INVALID,
                f"no key that {issuer} published on chain verifies the signature over the "
                "identifier, jurisdiction, validity and leaf this QR shows",
                f"{who} 在区块链上登记的密钥都不能验证该二维码的签名：二维码显示的证照标识、"
                "行政区划、有效期或内容被改动过，或是伪造的，不能受理",
                block=snap.block,
                **snap.lag,
            )
        )
    else:
        fragments.append(
            _fragment(
                "certificate.signature",
                "signature",
                Status.VALID,
                f"{issuer} signed this identifier, jurisdiction, validity and leaf with a key it "
                "published on chain",
                f"{who} 使用其在区块链上登记的密钥签署了二维码显示的证照标识、行政区划、有效期"
                "和内容摘要",
                key_id=signed_with.hex(),
                block=snap.block,
                **snap.lag,
            )
        )
    fragments.append(validity)
    local = LocalResult(
        (),
        subject,
        issuer=issuer,
        leaf=payload.leaf,
        root=payload.root,
        key_id=signed_with or b"\0" * 32,
        chain_id=registry.deployment.chain_id,
        contract=registry.deployment.certificate_registry,
        type_code=type_code,
        jurisdiction=payload.jurisdiction,
    )
    chain = chain_checks(local, snap, registry.deployment, authority=authority)
    if signed_with is None and (unpublished or fault is not None):  # which key: unknown
        chain = [
            _fragment(
                f.name, f.type, Status.ERROR,
                "which key signed cannot be told: "
                + ("the signature could not be checked on this service" if fault is not None
                   else "the issuer did not publish every key"),
                "无法确定签名所用的密钥（"
                + ("本机无法核验签名" if fault is not None else "发证机关有未公布公钥的密钥")
                + "），未判断",
                block=snap.block,
            )
            if f.name == "issuer.key"
            else f
            for f in chain
        ]
    key = snap.keys.get((issuer, signed_with)) if signed_with else None
    if key is not None and (key.compromised_at is not None or not key.valid_at(int(time.time()))):
        chain = [
            _qr_key_out_of_service(f, key, snap.block) if f.name == "issuer.key" else f
            for f in chain
        ]
    now = int(time.time())
    if not authority.permits(now, payload.jurisdiction):
        chain = [
            _qr_authority_ended(f, authority, now, payload.jurisdiction, snap.block)
            if f.name == "issuer.authorized"
            else f
            for f in chain
        ]
    fragments += chain
    subject["chain"] = {"block": snap.block, "chain_id": registry.deployment.chain_id}
    return Verdict(tuple(fragments), subject)


def _qr_authority_ended(
    found: Fragment, authority: Authority, now: int, jurisdiction: str, block: int
) -> Fragment:
    """``issuer.authorized`` of a QR whose issuer is not authorized for its type today: a QR
    has no Merkle proof, so an agency whose authorization ended (or whose type was
    withdrawn) can still sign a QR for a new leaf and point it at a root it anchored while
    it was authorized. A QR alone then decides nothing (an earlier INVALID stands); the
    certificate file or a presentation code can (their proof fixes the anchor time)."""
    if found.status is Status.INVALID:
        return found
    problem = authority.why_not(now, jurisdiction, at="now") or "not authorized now"
    return _fragment(
        found.name, found.type, Status.ERROR,
        f"{problem}: a QR code alone cannot show the "
        "certificate was issued while it was; ask for the certificate file or a "
        "presentation code",
        "发证机关目前未获授权签发该类证照（授权已终止或证照类型已撤销），仅凭二维码无法确认"
        "证照签发于授权期内；请持证人出示电子证照文件或出示码再核验",
        block=block,
    )


def _qr_key_out_of_service(found: Fragment, key: KeyRecord, block: int) -> Fragment:
    """``issuer.key`` of a QR signed with a key that was reported compromised, or is no longer
    (or not yet) in service: a QR has no Merkle proof, so whoever holds such a key can sign a
    QR for any leaf and point it at an old root of the issuer. A QR alone then decides
    nothing (an earlier INVALID stands); the certificate file or a presentation code can."""
    if found.status is Status.INVALID:
        return found
    if key.compromised_at is not None:
        iso, zh = _when(key.compromised_at)
        reason = f"the signing key was reported compromised (cut-off {iso})"
        reason_zh = f"该二维码的签名密钥已被报告泄露（截止时间 {zh}）"
    else:
        end = key.valid_until if key.valid_until is not None else key.valid_from
        iso, zh = _when(end)
        reason = f"the signing key is not in service now (valid until {iso})"
        reason_zh = f"该二维码的签名密钥已停用或尚未启用（有效期至 {zh}）"
    return _fragment(
        "issuer.key",
        "chain",
        Status.ERROR,
        f"{reason}; a QR carries no proof that its certificate was anchored while the key "
        "could be trusted, so it cannot be judged: ask for the certificate file or a "
        "presentation code",
        f"{reason_zh}：二维码本身无法证明证照是在密钥可信时上链的，仅凭二维码无法判断真伪；"
        "请持证人出示电子证照文件或出示码再核验",
        block=block,
        compromised_at=key.compromised_at,
        valid_until=key.valid_until,
    )


@functools.lru_cache(maxsize=256)
def _type_name(code: str) -> str | None:
    """The certificate type's name in the catalogue (``certs/types.json``), if listed."""
    from certs.types import default_registry

    types = default_registry()
    return types.get(code).name if code in types else None
