"""The certificate catalogue (证照目录, GB/T 36902) and issuer authorizations, as the chain
records them (``IssuerRegistry``): publishing, withdrawing, authorizing, and reading them back
for issuance and for the admin commands and endpoints.

Reading folds the chain's events with :mod:`verifier.checks.authority` (the one fold, which
verification uses too). Dates given by people (``--from``, ``--until``) are Beijing dates: a
grant starts at 00:00 China Standard Time of its first day and ends at 00:00 of the day after
its last.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from certs import clock
from certs.store import Store
from certs.types import CertificateType, TypeDefinitions, default_registry
from chain.errors import ChainUnavailable, ContractRevert, InvalidArgument
from chain.registry import (
    CATALOGUE_EVENTS,
    ChainEvent,
    RegistryClient,
)
from chain.transactions import TransactionReceipt
from verifier.app.context import registry
from verifier.checks.authority import (
    CatalogueEntry,
    Entitlements,
    authorized,
    entitlements,
    fold_catalogue,
    fold_grants,
    type_text,
)
from verifier.errors import VerifierError
from verifier.index.indexer import indexed_authorization_events
from verifier.settings import Settings


def checked_entitlements(events: list[ChainEvent], issuer: str) -> Entitlements:
    """:func:`entitlements` now, refusing to decide from events that hold no catalogue at
    all (an index that has not read the chain yet would refuse every row for a wrong
    reason)."""
    if not any(e.name in CATALOGUE_EVENTS for e in events):
        raise VerifierError(
            "the certificate catalogue on chain could not be read (the chain is unreachable "
            "and this database's index of it holds no catalogue), so the agency's "
            "authorization cannot be checked: nothing was issued; start the chain "
            "(`zhengyin devnet up`) and try again",
            code="authorization_unchecked",
        )
    return entitlements(events, issuer)


def issuing_entitlements(settings: Settings, store: Store, issuer: str) -> Entitlements:
    """What a command may issue for ``issuer``: read from the chain, or, when the chain is
    away, from the service's index in this database (as the service last saw the chain)."""
    try:
        events = registry(settings).authorization_events(issuer)
    except ChainUnavailable:
        events = indexed_authorization_events(store, issuer)
    except VerifierError as exc:
        if exc.code != "devnet_not_running":
            raise
        events = indexed_authorization_events(store, issuer)
    return checked_entitlements(events, issuer)


# ------------------------------------------------------------------------------ writing


def local_type(code: str, types: TypeDefinitions | None = None) -> CertificateType:
    """The type's schema as this project publishes it (``certs/types.json``)."""
    found = types or default_registry()
    if code not in found:
        raise AdminRefused(
            f"type {code} is not in this service's type files (certs/types.json): its schema "
            "must be published with the project before it enters the catalogue",
            code="unknown_type",
            status=422,
            message_zh=f"证照类型 {code} 不在本服务的证照类型文件中，须先随项目发布其字段规范",
        )
    return found.get(code)


def publish_type(admin: RegistryClient, code: str, *, revise: bool = False) -> TransactionReceipt:
    """Put a local type into the chain's catalogue (or publish a new version of it), sent by
    ``admin`` (the operator account: a national admin on chain)."""
    ctype = local_type(code)
    args = (code, ctype.name, ctype.defining_body_name, ctype.schema_digest())
    with refusals_explained():
        return admin.revise_type(*args) if revise else admin.add_type(*args)


def withdraw_type(admin: RegistryClient, code: str) -> TransactionReceipt:
    """Withdraw a type from the catalogue: no certificate of it anchored from now on is
    valid."""
    with refusals_explained():
        return admin.withdraw_type(code)


@dataclass(frozen=True)
class Authorization:
    """One grant as asked for: the issuer, the type, its window and jurisdiction."""

    uscc: str
    type_code: str
    valid_from: int
    valid_until: int | None
    jurisdiction: str

    def to_json(self) -> dict[str, Any]:
        return {
            "issuer": self.uscc,
            "type": self.type_code,
            "valid_from": self.valid_from,
            "valid_until": self.valid_until,
            "jurisdiction": self.jurisdiction,
        }


def authorize_issuer(
    admin: RegistryClient,
    uscc: str,
    type_code: str,
    valid_from: str | None = None,
    valid_until: str | None = None,
    jurisdiction: str | None = None,
) -> tuple[Authorization, TransactionReceipt]:
    """Authorize an agency for a type from ``valid_from`` to ``valid_until`` (Beijing dates
    ``YYYY-MM-DD``; default now — never earlier — and no end) in ``jurisdiction`` (default:
    the agency's registered jurisdiction, so an agency of 南昌市 issues for 南昌市 unless
    told otherwise; "" anywhere its admin may govern); sent by ``admin``."""
    start, end = grant_window(parse_date(valid_from, "from"), parse_date(valid_until, "until"))
    with refusals_explained():
        place = (
            admin.jurisdiction_of(uscc) if jurisdiction is None else jurisdiction.strip()
        )
        receipt = admin.authorize(uscc, type_code, start, end, place)
    jurisdiction = place
    return Authorization(uscc, type_code, start, end, jurisdiction), receipt


def deauthorize_issuer(admin: RegistryClient, uscc: str, type_code: str) -> TransactionReceipt:
    """End an agency's authorization for a type now (earlier certificates stay valid)."""
    with refusals_explained():
        return admin.deauthorize(uscc, type_code)


def parse_date(text: str | None, what: str) -> dt.date | None:
    """A date given by a person (``from``, ``until``): ``YYYY-MM-DD`` or nothing."""
    if text is None or text == "":
        return None
    try:
        return dt.date.fromisoformat(text)
    except (TypeError, ValueError):
        raise AdminRefused(
            f"the {what!r} date {text!r} is not a date YYYY-MM-DD (a Beijing date)",
            code="bad_date",
            status=422,
            message_zh=f"日期 {text} 的格式不正确，应为 YYYY-MM-DD（北京时间）",
        ) from None


class AdminRefused(VerifierError):
    """A catalogue or authorization change refused, by the chain or before it was sent;
    ``status`` is the HTTP status the API answers with (409 a conflict with what the chain
    holds, 403 beyond the operator's powers on chain, 404 an unknown agency, 422 bad
    input)."""

    code = "admin_refused"

    def __init__(
        self, message: str, *, code: str, status: int = 409, message_zh: str | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.status = status
        self.message_zh = message_zh
        """The same in Chinese, for the person at the service hall (the API's
        ``message_zh``)."""


_REFUSALS: dict[str, tuple[str, int, str, str]] = {
    # contract error → (code, HTTP status, what it means in English and in Chinese)
    "TypeExists": ("type_exists", 409, "type {type} is already in the certificate catalogue; "
                   "publish a new version of it with revise instead",
                   "证照类型 {type} 已在证照目录中；如需更新，请发布新版本（revise）"),
    "UnknownType": ("type_not_in_catalogue", 409, "type {type} is not in the certificate "
                    "catalogue on chain; add it first",
                    "证照类型 {type} 不在区块链上的证照目录中；请先将其加入目录"),
    "TypeIsWithdrawn": ("type_withdrawn", 409, "type {type} was withdrawn from the "
                        "certificate catalogue and can no longer be changed or granted",
                        "证照类型 {type} 已从证照目录中撤销，不能再修改或授权"),
    "NotAuthorized": ("not_authorized", 409, "agency {issuer} holds no current "
                      "authorization for type {type}: there is nothing to withdraw",
                      "发证机关 {issuer} 目前没有签发证照类型 {type} 的授权，无需撤销"),
    "UnknownIssuer": ("unknown_issuer", 404, "agency {issuer} is not registered on chain",
                      "发证机关 {issuer} 未在区块链上登记"),
    "InvalidValidity": ("bad_window", 422, "the authorization's dates are not a valid "
                        "window (it must end after it starts)",
                        "授权期限无效：结束日期必须晚于开始日期"),
    "OutsideScope": ("outside_scope", 403, "this service's admin account governs only "
                     "jurisdiction {scope}; the agency or the jurisdiction asked for "
                     "({jurisdiction}) is outside it",
                     "本服务的管理账户只能管理行政区划 {scope}；该发证机关或所请求的区划"
                     "（{jurisdiction}）不在其范围内"),
    "NationalAdminOnly": ("national_admin_only", 403, "only a national admin may change "
                          "the certificate catalogue; this service's admin account is a "
                          "regional one",
                          "只有全国管理员才能修改证照目录；本服务的管理账户是地方管理员"),
    "MissingRole": ("not_chain_admin", 403, "this service's operator account is not an "
                    "admin on chain", "本服务的管理账户不是区块链上的管理员"),
}


@contextmanager
def refusals_explained() -> Iterator[None]:
    """Contract reverts of catalogue and authorization changes as :class:`AdminRefused`
    with a stable code and a plain message (naming the contract's error too)."""
    try:
        yield
    except InvalidArgument as exc:  # a malformed code or division: refused before sending
        raise AdminRefused(
            str(exc), code="invalid_argument", status=422,
            message_zh="统一社会信用代码、证照类型代码或行政区划代码的格式不正确",
        ) from exc
    except ContractRevert as exc:
        found = _REFUSALS.get(exc.error_name)
        if found is None:
            raise
        code, status, text, text_zh = found
        args = {k: type_text(v) if isinstance(v, bytes | bytearray) else str(v)
                for k, v in exc.args_by_name.items()}
        shown = {
            "type": args.get("typeCode", "?"),
            "issuer": args.get("issuer", "?"),
            "scope": args.get("scope", "?"),
            "jurisdiction": args.get("jurisdiction") or "national",
        }
        raise AdminRefused(
            f"{text.format(**shown)} (the contract refused: {exc.error_name})",
            code=code,
            status=status,
            message_zh=text_zh.format(
                **{**shown, "jurisdiction": args.get("jurisdiction") or "全国"}
            ),
        ) from exc


def publish_catalogue(admin: RegistryClient) -> list[str]:
    """Every local type not yet in the chain's catalogue, added by ``admin`` (the national
    admin's first step after deploying); returns their codes."""
    added: list[str] = []
    for ctype in default_registry():
        if admin.type_record(ctype.code) is None:
            admin.add_type(ctype.code, ctype.name, ctype.defining_body_name, ctype.schema_digest())
            added.append(ctype.code)
    return added


def authorize_everywhere(
    admin: RegistryClient, uscc: str, codes: Iterable[str] | None = None
) -> None:
    """Authorize an issuer for types (default: every local type), from the start of time,
    without end, in any jurisdiction: what a test or a demo agency gets."""
    for code in codes if codes is not None else [t.code for t in default_registry()]:
        admin.authorize(uscc, code, 0)


def grant_window(
    valid_from: dt.date | None, valid_until: dt.date | None
) -> tuple[int, int | None]:
    """Beijing dates → the grant's Unix times: from 00:00 of the first day, but never before
    now (the contract starts a grant no earlier than its block either: a grant cannot bless
    what was anchored before it) to 00:00 of the day after the last (``None``: open-ended)."""
    now = int(dt.datetime.now(dt.UTC).timestamp())
    start = max(clock.start_of(valid_from or clock.today()), now)
    end = None if valid_until is None else clock.start_of(valid_until + dt.timedelta(days=1))
    if end is not None and end <= start:
        raise AdminRefused(
            "the authorization must end after it starts, and after today", code="bad_window",
            status=422, message_zh="授权的截止日期不能早于开始日期，也不能早于今天",
        )
    return start, end


def catalogue_json(entries: Mapping[str, CatalogueEntry]) -> list[dict[str, Any]]:
    """The catalogue with, for each type, whether the published schema is the local one."""
    local = default_registry()
    out = []
    for code in sorted(entries):
        item = entries[code].to_json()
        item["schema_matches_local"] = (
            code in local and local.get(code).schema_digest() == entries[code].schema_digest
        )
        out.append(item)
    return out


def type_json(entries: Mapping[str, CatalogueEntry], code: str) -> dict[str, Any]:
    """One type of the catalogue (as :func:`catalogue_json` gives it) with its field schema
    as published with the project (``None`` if this project has no such type)."""
    found = next((e for e in catalogue_json(entries) if e["code"] == code), None)
    if found is None:
        raise AdminRefused(
            f"type {code} is not in the catalogue on chain", code="type_not_in_catalogue",
            status=404, message_zh=f"证照类型 {code} 不在区块链上的证照目录中",
        )
    try:
        found["schema"] = local_type(code).schema()
    except VerifierError:
        found["schema"] = None
    return found


def authorizations_json(
    events: Iterable[ChainEvent], uscc: str, jurisdiction: str, when: int | None = None
) -> list[dict[str, Any]]:
    """An agency's grants by type, from catalogue and grant events, and whether each type
    is issuable at ``when`` (default now) in the agency's own ``jurisdiction``."""
    events = list(events)
    catalogue = fold_catalogue(events)
    now = int(dt.datetime.now(dt.UTC).timestamp()) if when is None else when
    return [
        {
            "type": code,
            "name": catalogue[code].name if code in catalogue else None,
            "grants": [vars(g) for g in grants],
            "now": authorized(catalogue.get(code), grants, now, jurisdiction),
        }
        for (issuer, code), grants in sorted(fold_grants(events).items())
        if issuer == uscc
    ]
