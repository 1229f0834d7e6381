"""The holder's own path: a certificate file the holder has, checked in full, and a
presentation code made from it without an account.

Possession of the full, salted certificate document is the credential. A file yields a code
only when every one of these holds:

- it is a certificate document (JSON), or a sealed PDF or OFD carrying one (read as
  ``POST /v1/verify`` reads them: in a child process within the service's limits);
- the document hides nothing: every claim is there with its salt (a disclosed copy, a QR
  payload or an identifier alone proves possession of nothing: all of that is shown to
  counters);
- it is the very document this service stores under its identifier: the same leaf, the
  same claims with the same salts, the same signature (an altered or superseded one is
  refused);
- the stored certificate is anchored and active (not pending, suspended, revoked or
  superseded);
- the whole file verifies ``valid`` now: its seals and their anchors, the document's
  signature, Merkle proof, chain anchor, issuer key and status.

The caller is limited twice: per client address in this process
(:class:`AddressLimiter`), and per certificate across every process, by counting the
presentations stored for it in a window (:func:`certificate_allowance`). Refusals carry a
stable code and a Chinese message with what to do (``message_zh``).
"""

from __future__ import annotations

import collections
import datetime as dt
import functools
import ipaddress
import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from certs.canonical import ALWAYS_DISCLOSED, CertificateDocument
from certs.errors import CertError
from certs.status import CertificateNotFound, CertificateRecord, load_record
from certs.store import Store, now, presentations
from certs.types import CORE_LABELS, HOLDER_CODE_TYPES, default_registry
from verifier.app import presentations as presenting
from verifier.app.isolation import LimitExceeded, run_isolated
from verifier.checks.certificates import verify_certificate_text
from verifier.checks.verdict import Outcome, Verdict
from verifier.errors import VerifierError

_log = logging.getLogger("verifier.holder")

ACTOR = "holder"
"""Who creates a presentation on this path (no account: the file is the credential)."""

TTL_MIN = 60
TTL_MAX = 1800
"""Bounds of a holder's presentation's life, in seconds (default 300)."""


class HolderRefused(VerifierError):
    """A holder's request refused: a stable code, an English and a Chinese message."""

    def __init__(
        self, message: str, *, code: str, message_zh: str, retry_after: int | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.message_zh = message_zh
        self.retry_after = retry_after
        """Seconds after which the same request may succeed (``Retry-After``)."""


@dataclass(frozen=True)
class HolderFile:
    """What a holder's file is: its verdict, and the certificate document it carries."""

    kind: str
    """``json``, ``pdf`` or ``ofd``."""
    verdict: Verdict
    """The whole file's: its seals and their anchors (PDF, OFD), and the document's."""
    document: CertificateDocument | None
    """The certificate document, read strictly; ``None`` when the file carries none that
    can be read."""


def read_file(data: bytes, indexer: Any, *, seconds: float, memory: int, anchors: Any
              ) -> HolderFile:
    """Read and verify a holder's file. A PDF or OFD is parsed in a child process within
    ``seconds`` and ``memory`` (:mod:`verifier.app.isolation`); the chain is asked here.
    Raises :class:`HolderRefused` (``unsupported_file``) for anything else than a
    certificate JSON, a PDF or an OFD file."""
    from seals.ofd.package import looks_like_ofd
    from verifier.app.service.reading import limit_verdict
    from verifier.checks.ofd_checks import OfdLocal, judge_ofd, read_ofd
    from verifier.checks.pdf_checks import PdfLocal, judge_pdf, read_pdf

    def facts() -> Any:
        return indexer

    head = data.lstrip()[:5]
    if head[:1] == b"{":
        return HolderFile("json", verify_certificate_text(data, facts), _document(data))
    if head.startswith(b"%PDF-"):
        kind = "pdf"
    elif looks_like_ofd(data):
        kind = "ofd"
    else:
        raise HolderRefused(
            "the file is not a certificate: send the certificate's PDF, OFD or JSON file",
            code="unsupported_file",
            message_zh="无法识别该文件：请选择发证机关发给您的电子证照 PDF、OFD 或 JSON 文件"
            "（二维码图片或截图不能用来生成出示码）",
        )
    local: PdfLocal | OfdLocal
    try:
        if kind == "pdf":
            local = run_isolated(functools.partial(read_pdf, anchors=anchors), data,
                                 seconds=seconds, memory=memory, public=True)
            verdict = judge_pdf(local, facts)
        else:
            local = run_isolated(functools.partial(read_ofd, anchors=anchors), data,
                                 seconds=seconds, memory=memory, public=True)
            verdict = judge_ofd(local, data, facts)
    except LimitExceeded as exc:
        return HolderFile(kind, limit_verdict(exc, kind), None)
    embedded = local.certificate
    return HolderFile(kind, verdict, None if embedded is None else _document(embedded))


def _document(data: bytes) -> CertificateDocument | None:
    try:
        return CertificateDocument.from_json(data)
    except (CertError, ValueError, RecursionError):
        return None


def check_presentable(store: Store, found: HolderFile) -> CertificateRecord:
    """The stored record of the certificate ``found`` carries, if a presentation may be made
    from it (see the module docstring); :class:`HolderRefused` says why not."""
    document = found.document
    if document is None:
        if found.verdict.outcome is Outcome.ERROR:
            raise _unavailable()
        raise HolderRefused(
            "the file carries no readable certificate document",
            code="holder_no_certificate",
            message_zh="该文件中没有可读取的电子证照数据：请选择发证机关发给您的证照文件"
            "（带证照数据的 PDF、OFD 或证照 JSON）",
        )
    if document.hidden_paths:
        raise HolderRefused(
            "this is a disclosed copy (some claims are hidden): only the full certificate "
            "file the issuer gave the holder can make a presentation code",
            code="holder_disclosed_copy",
            message_zh="这是隐藏了部分信息的副本，不能用来生成出示码：请使用发证机关发给您的"
            "完整证照文件",
        )
    identifier = document.values().get("identifier")
    try:
        record: CertificateRecord | None = load_record(store, str(identifier))
    except CertificateNotFound:
        record = None
    stored = record.document if record is not None else None
    if (
        stored is None
        or stored.leaf != document.leaf
        or dict(stored.claims) != dict(document.claims)
        or stored.signature != document.signature
    ):
        # an identifier unknown here and a known one under another document get the same
        # answer unless the file verifies: anyone can write a file around any identifier (no
        # account needed), and it must not tell which identifiers exist. A genuine file from
        # another service verifies (its anchor is public): saying so tells nothing new.
        if found.verdict.outcome is Outcome.ERROR:
            raise _unavailable()
        if record is None and found.verdict.outcome is Outcome.VALID:
            raise HolderRefused(
                "no certificate with this identifier was issued by this service",
                code="certificate_not_found",
                message_zh="本服务没有签发这份证照：请到发证机关的服务生成出示码，或联系发证机关",
            )
        raise HolderRefused(
            "the file's certificate is not the one this service holds under its identifier "
            "(altered, or replaced since)",
            code="holder_document_mismatch",
            message_zh="这份文件与发证机关登记的证照不一致（可能被修改过或已换发）：请使用"
            "发证机关最新发给您的证照文件",
        )
    assert record is not None
    refusals = {
        "pending": ("not_anchored", "the certificate is not anchored yet; try again in a "
                    "moment", "证照尚未完成上链存证：请稍后再试"),
        "revoked": ("certificate_revoked", "the certificate was revoked",
                    "该证照已被发证机关撤销，不能出示：如有疑问请联系发证机关"),
        "suspended": ("certificate_suspended", "the certificate is suspended",
                      "该证照已被暂停使用，暂时不能出示：请联系发证机关"),
        "superseded": ("certificate_superseded", "the certificate was replaced by a new one",
                       "该证照已换发新证，旧证不能出示：请使用新证照文件"),
    }
    if record.status in refusals:
        code, message, message_zh = refusals[record.status]
        raise HolderRefused(message, code=code, message_zh=message_zh)
    outcome = found.verdict.outcome
    if outcome is Outcome.ERROR:
        raise _unavailable()
    if outcome is not Outcome.VALID:
        raise HolderRefused(
            "the file does not verify (a seal, the signature, the anchor or the status "
            "check failed): no code is made from it",
            code="certificate_invalid",
            message_zh="证照文件未通过核验（可能被修改或已失效），不能生成出示码：请使用发证"
            "机关发给您的原始文件",
        )
    return record


def _unavailable() -> HolderRefused:
    return HolderRefused(
        "the certificate could not be checked now (the chain or the service is not "
        "available): try again",
        code="verification_unavailable",
        message_zh="暂时无法核验证照（区块链或服务暂不可用）：请稍后重试",
    )


def disclosed_fields(document: CertificateDocument, fields: list[str]) -> list[str]:
    """The paths a presentation discloses: those asked (each a claim of the document) and
    the always-disclosed ones, without repeats."""
    unknown = [f for f in fields if f not in document.claims]
    if unknown:
        raise HolderRefused(
            f"unknown field(s) to disclose: {', '.join(unknown)}",
            code="unknown_field",
            message_zh="要出示的信息项不在这份证照中",
        )
    return [*dict.fromkeys([*ALWAYS_DISCLOSED, *fields])]


def field_rows(document: CertificateDocument) -> list[dict[str, Any]]:
    """Every claim of ``document`` with its Chinese label (the type's, from the project's
    type file, for ``fields.*``) and whether it is always disclosed: first what the holder
    may choose (about the holder, then the certificate's own fields in the type's order,
    then the rest), then the always-disclosed ones."""
    values = document.values()
    type_code = values.get("type.code")
    try:
        certificate_type = default_registry().get(str(type_code)) if type_code else None
    except Exception:  # a type this service does not define: the keys are the labels
        certificate_type = None
    code_type = values.get("holder.code_type")
    declared = (
        [*certificate_type.required_fields, *certificate_type.optional_fields]
        if certificate_type is not None else []
    )

    def rank(path: str) -> tuple[int, int, str]:
        if path in ALWAYS_DISCLOSED:
            return (2, ALWAYS_DISCLOSED.index(path), path)
        if path in _FIRST:
            return (0, _FIRST.index(path), path)
        key = path.removeprefix("fields.")
        if path.startswith("fields."):
            return (0, len(_FIRST) + (declared.index(key) if key in declared else len(declared)),
                    path)
        return (1, _LATER.index(path) if path in _LATER else len(_LATER), path)

    rows: list[dict[str, Any]] = []
    for path in sorted(document.claims, key=rank):
        if path.startswith("fields."):
            key = path.removeprefix("fields.")
            label = certificate_type.label(key) if certificate_type is not None else key
        elif path == "holder.code" and isinstance(code_type, str):
            label = HOLDER_CODE_TYPES.get(code_type, CORE_LABELS["holder.code"])
        else:
            label = CORE_LABELS.get(path, path)
        value = values.get(path)
        if path == "holder.code_type" and isinstance(value, str):
            value = HOLDER_CODE_TYPES.get(value, value)
        rows.append({
            "path": path,
            "label": label,
            "value": list(value) if isinstance(value, tuple) else value,
            "always": path in ALWAYS_DISCLOSED,
            "hidden": path not in values,
        })
    return rows


_FIRST = ("holder.name", "holder.code", "holder.code_type", "number", "name")
_LATER = ("issue_date", "annotations", "version", "defining_body.name", "defining_body.code")


# ---- limits ----


class AddressLimiter:
    """At most ``limit`` requests per ``window`` seconds per client address, in this
    process (a sliding window of the requests' times). Addresses not seen for a window are
    forgotten; at most ``MAX_ADDRESSES`` are tracked (the oldest dropped first)."""

    MAX_ADDRESSES = 50_000

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self._seen: collections.OrderedDict[str, collections.deque[float]] = (
            collections.OrderedDict()
        )
        self._lock = threading.Lock()

    def take(self, address: str) -> None:
        """Count one request from ``address``; :class:`HolderRefused` (``rate_limited``)
        when it is over the limit (a refused request is not counted)."""
        at = time.monotonic()
        with self._lock:
            times = self._seen.pop(address, None) or collections.deque()
            while times and times[0] <= at - self.window:
                times.popleft()
            self._forget(at)
            self._seen[address] = times  # the most recently seen last
            if len(times) >= self.limit:
                wait = math.ceil(times[0] + self.window - at) if times else math.ceil(self.window)
                raise rate_limited(max(1, wait), "address")
            times.append(at)

    def _forget(self, at: float) -> None:
        while self._seen:
            times = next(iter(self._seen.values()))
            if len(self._seen) < self.MAX_ADDRESSES and times and times[-1] > at - self.window:
                return
            self._seen.popitem(last=False)


def address_key(host: str) -> str:
    """What the limit per client address counts by: an IPv4 address (an IPv4-mapped IPv6
    one too); an IPv6 address's /64 network, which one subscriber is given whole (counted
    by address, any of its 2⁶⁴ addresses would be a fresh allowance); any other text as it
    is."""
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def rate_limited(wait: int, by: str) -> HolderRefused:
    if by == "address":
        message = "too many requests from this address: try again later"
        message_zh = (f"操作过于频繁（为防止滥用，同一网络短时间内的操作次数有限）：请 {wait} "
                      "秒后再试")
    else:
        message = "too many presentation codes for this certificate: try again later"
        message_zh = (f"这份证照在短时间内生成的出示码过多：请 {_minutes(wait)}后再试；"
                      "已生成的出示码在有效期内仍可使用")
    return HolderRefused(f"{message} (in {wait} s)", code="rate_limited",
                         message_zh=message_zh, retry_after=wait)


def _minutes(seconds: int) -> str:
    return f"{seconds} 秒" if seconds < 120 else f"{math.ceil(seconds / 60)} 分钟"


def certificate_allowance(store: Store, identifier: str, limit: int, window: float) -> None:
    """Refuse (``rate_limited``) when ``limit`` presentations were created for
    ``identifier`` in the last ``window`` seconds, by anyone, in any process (counted in the
    database; concurrent requests may each pass the count and go a few over)."""
    since = now() - dt.timedelta(seconds=window)
    query = sa.select(sa.func.count(), sa.func.min(presentations.c.created_at)).where(
        presentations.c.identifier == identifier, presentations.c.created_at > since
    )
    with store.engine.connect() as connection:
        count, oldest = connection.execute(query).one()
    if count >= limit:
        if oldest is not None and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=dt.UTC)
        left = (oldest - since).total_seconds() if oldest is not None else window
        raise rate_limited(max(1, math.ceil(left)), "certificate")


def present(
    store: Store,
    found: HolderFile,
    purpose: str,
    fields: list[str],
    ttl: dt.timedelta,
    *,
    certificate_limit: int,
    certificate_window: float,
) -> presenting.Presentation:
    """A presentation code from a holder's file (see the module docstring)."""
    record = check_presentable(store, found)
    shown = disclosed_fields(record.document, fields)
    if not purpose.strip():
        raise HolderRefused(
            "a purpose of use (用证事由) is required", code="purpose_required",
            message_zh="请填写用证事由（例如：办理社保）",
        )
    certificate_allowance(store, record.identifier, certificate_limit, certificate_window)
    made = presenting.create(store, record.identifier, purpose, shown, ACTOR, ttl)
    _log.info("holder presentation created fields=%d ttl=%ds", len(shown),
              int(ttl.total_seconds()))
    return made
