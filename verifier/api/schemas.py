"""Request and response bodies of the HTTP API (pydantic models live only at this edge).

They are the OpenAPI contract: what a route reads itself (``/v1/verify``, the batch, the
seal stamp) is described here too, and every answer a route gives has its model.
"""

from __future__ import annotations

import enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from certs.status import REASONS


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReasonCode(enum.IntEnum):
    """Why a certificate's status changed, as recorded on chain (``uint16 reason`` of the
    registry's ``StatusChanged`` and ``Superseded`` events)."""

    UNSPECIFIED = 0
    WRONG_INFORMATION = 1
    HOLDER_REQUEST = 2
    WITHDRAWN_UNDER_LAW = 3
    HOLDER_DISSOLVED = 4
    REPLACED = 5
    LOST = 6
    UNDER_REVIEW = 7


REASON_CODES_DESCRIPTION = "Reason code recorded on chain: " + "; ".join(
    f"{code} {text}" for code, text in sorted(REASONS.items())
) + "."


class StatusAction(enum.StrEnum):
    """A status change of certificates."""

    REVOKE = "revoke"
    SUSPEND = "suspend"
    REINSTATE = "reinstate"


class StatusChange(Strict):
    reason: str = Field(
        min_length=1, max_length=500, description="Why, in words.", examples=["信息有误"]
    )
    reason_code: ReasonCode = Field(ReasonCode.UNSPECIFIED, description=REASON_CODES_DESCRIPTION)

    @field_validator("reason_code", mode="before")
    @classmethod
    def _a_whole_number(cls, value: Any) -> Any:
        if type(value) is not int and not isinstance(value, ReasonCode):
            raise ValueError("the reason code is a whole number from 0 to 7, not text")
        return value


class BulkStatusChange(StatusChange):
    identifiers: list[str] = Field(
        min_length=1,
        max_length=10_000,
        description="Identifiers of certificates of one agency.",
        examples=[["11360100MB1234567X0010000000001"]],
    )


class StatusChanged(BaseModel):
    identifiers: list[str]
    action: StatusAction
    tx_hash: str = Field(description="The chain transaction that recorded the change.")
    block: int


QR_MAX_LENGTH = 2_000


class VerifyQr(Strict):
    """A scanned QR payload, or a typed short code (核验码)."""

    qr: str = Field(max_length=QR_MAX_LENGTH,
                    description="A scanned ZY2 QR payload, or the short code (核验码) printed "
                    "on the certificate, as typed: resolved to the stored certificate it names "
                    "and verified in full.",
                    examples=["ZY2.…"])
    certificate: None = Field(None, description="Absent or null when ``qr`` is sent.")


class VerifyCertificate(Strict):
    """A certificate document (the JSON file a holder has), judged as its file would be."""

    certificate: dict[str, Any] = Field(description="A certificate document (JSON object).")
    qr: None = Field(None, description="Absent or null when ``certificate`` is sent.")


class VerifyUpload(BaseModel):
    file: bytes = Field(
        json_schema_extra={"format": "binary"},
        description="A sealed PDF, a seal (.esl), a seal signature, or certificate JSON.",
    )


class StampForm(BaseModel):
    file: bytes = Field(json_schema_extra={"format": "binary"}, description="The PDF to seal.")
    page: str | None = Field(None, description="Page number, from 1 (default: the last).")
    x: str | None = Field(None, description="Distance of the seal from the left edge, mm.")
    y: str | None = Field(None, description="Distance of the seal from the bottom edge, mm.")
    width: str | None = Field(None, description="The seal's width, mm.")


class Holder(BaseModel):
    name: str = Field(description="持证主体名称", examples=["张三"])
    code: str = Field(description="公民身份号码 or 统一社会信用代码",
                      examples=["11010519491231002X"])
    code_type: Literal["111", "001"] = Field(
        description="111 citizen ID number, 001 USCC", examples=["111"]
    )


class CertificateRequest(BaseModel):
    """What an agency asks to issue (the service checks each value and answers a 422 with
    every problem and its field)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "type": "11100000000013338W032",
                    "holder": {"name": "张三", "code": "11010519491231002X", "code_type": "111"},
                    "jurisdiction": "360100",
                    "valid_until": "2030-12-31",
                }
            ]
        },
    )

    type: str = Field(description="The 21-character certificate type code (证照类型代码).")
    holder: Holder
    jurisdiction: str = Field(description="6-digit administrative division (GB/T 2260).",
                              examples=["360100"])
    number: str | None = Field(None, description="The agency's own number (证照编号).")
    issue_date: str | None = Field(None, description="YYYY-MM-DD (default: today).")
    valid_from: str | None = Field(None, description="YYYY-MM-DD (default: the issue date).")
    valid_until: str | None = Field(None, description="YYYY-MM-DD (default: no end).")
    fields: dict[str, str] | None = Field(
        None, description="The type's own fields (照面信息), name → text.",
        examples=[{"企业名称": "北京某某科技有限公司"}],
    )
    annotations: list[str] | None = Field(None, description="Annotations (加注件), in order.")


class Issued(BaseModel):
    id: str
    identifier: str = Field(examples=["11360100MB1234567X0010000000001"])
    status: Literal["pending"] = Field(description="Queued for anchoring on chain.")


class AcceptedRow(Issued):
    line: int = Field(description="The row's line (JSON: its position from 1).")


class FieldError(BaseModel):
    field: str
    code: str
    message: str


class RejectedRow(BaseModel):
    line: int
    errors: list[FieldError]


class BatchReport(BaseModel):
    accepted: list[AcceptedRow]
    rejected: list[RejectedRow]


class Certificate(BaseModel):
    id: str
    identifier: str
    status: Literal["pending", "active", "suspended", "revoked", "superseded"]
    issuer: str = Field(description="The issuing agency's USCC.")
    document: dict[str, Any] = Field(description="The certificate document (for an auditor, "
                                     "with every claim but the always-disclosed ones hidden: "
                                     "the full salted document is the holder's credential).")
    values: dict[str, Any] | None = Field(None, description="An auditor's view of the claims' "
                                          "values (no salts).")


class PresentationRequest(Strict):
    certificate: str = Field(min_length=1, max_length=120, description="Identifier.")
    purpose: str = Field(min_length=1, max_length=200, description="用证事由",
                         examples=["办理社保"])
    fields: list[str] | None = Field(None, max_length=200, description="Paths to disclose.",
                                     examples=[["holder.name"]])
    ttl_seconds: int = Field(300, ge=30, le=3600)


class Presentation(BaseModel):
    code: str = Field(description="Single-use code for the counter.", examples=["K7Q2M-9XRTA"])
    expires_at: str
    certificate: str
    purpose: str = Field(examples=["办理社保"])


class TypeAdd(Strict):
    code: str = Field(min_length=1, max_length=40, description="The type code (21 characters).",
                      examples=["11100000MA0000001Q001"])


class AuthorizationRequest(Strict):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    type: str = Field(min_length=1, max_length=40, description="The certificate type code.")
    valid_from: str | None = Field(
        None, alias="from", max_length=40, description="First day, a Beijing date YYYY-MM-DD "
        "(default today)."
    )
    valid_until: str | None = Field(
        None, alias="until", max_length=40, description="Last day (default: no end)."
    )
    jurisdiction: str | None = Field(
        None, max_length=12, description="Only certificates under this division prefix "
        "(default: the agency's registered jurisdiction; \"\" for anywhere)."
    )


class DeauthorizeRequest(Strict):
    type: str = Field(min_length=1, max_length=40, description="The certificate type code.")


class RedeemRequest(Strict):
    code: str = Field(min_length=4, max_length=40, examples=["K7Q2M-9XRTA"])


class Check(BaseModel):
    name: str
    type: str
    status: Literal["VALID", "INVALID", "ERROR", "SKIPPED"]
    code: str | None = Field(
        None,
        description="What the check found, as a stable code: the id of its sentence in the "
        "message catalogue (e.g. certificate.status.revoked, qr.format.invalid, "
        "chain.unreadable).",
        examples=["certificate.status.revoked"],
    )
    cause: str | None = Field(
        None,
        description="Why a check could not be made or read its input, as the error's stable "
        "code (e.g. chain_unavailable, qr_payload_invalid, qr_version_unsupported); absent "
        "when none.",
        examples=["chain_unavailable"],
    )
    reason: str = Field(description="What the check found, in English (stable wording).")
    reason_zh: str = Field(
        description="The same in Chinese, for the counter clerk (the English reason when a "
        "check has no Chinese one).",
        examples=["发证机关对证照的 SM2 签名验证通过"],
    )


class ChainFacts(BaseModel):
    block: int | None = Field(description="The block the chain facts were read at.")
    checked_at: str
    lag_blocks: int | None = None
    lag_seconds: float | None = None


class VerifyResponse(BaseModel):
    verdict: Literal["valid", "invalid", "error"]
    checks: list[Check]
    certificate: dict[str, Any] = Field(
        description="What the certificate says (masked where the holder did not disclose).",
        examples=[{"holder.name": "张*", "type.name": "营业执照"}],
    )
    chain: ChainFacts


class Redeemed(VerifyResponse):
    purpose: str = Field(examples=["办理社保"])


class AttachedChainEvent(BaseModel):
    block: int
    log_index: int
    tx_hash: str
    event: str = Field(examples=["StatusChanged"])
    time: str = Field(description="The block's timestamp, 北京时间 (+08:00).")


class HistoryEvent(BaseModel):
    source: Literal["chain", "service"]
    event: str = Field(examples=["anchored", "suspended", "verified", "redeem_refused"])
    time: str = Field(description="北京时间 (+08:00): the service's clock for a service event, "
                      "the block's timestamp for a chain event. Shown, never the order: "
                      "entries come in their true order (docs/audit.md).")
    about: str | None = Field(None, description="Chain events: what the event is about.")
    block: int | None = Field(None, description="Chain events: the block.")
    log_index: int | None = Field(None, description="Chain events: the log's index.")
    tx_hash: str | None = None
    seq: int | None = Field(None, description="Service events: the sequence number.")
    actor: str | None = Field(None, description="Service events: who.",
                              examples=["counter:一号窗口"])
    role: str | None = Field(None, description="Service events: admin, issuer, counter, "
                             "auditor, holder or system.")
    identifier: str | None = None
    issuer: str | None = None
    type: str | None = None
    reason_code: int | None = Field(None, description="A status change's reason code.")
    reason_name: str | None = Field(None, description="The reason code's name (中文).")
    reason: str | None = Field(None, description="A status change's reason in words.")
    chain_block: int | None = Field(None, description="Service events: the chain block the "
                                    "service knew then.")
    chain: AttachedChainEvent | None = Field(None, description="Service events: the chain "
                                             "event it caused (a status change).")
    detail: dict[str, Any]


class History(BaseModel):
    identifier: str
    status: str
    events: list[HistoryEvent]
    indexed_block: int | None
    next_cursor: str | None = Field(description="Pass as ``cursor`` for the next page; null "
                                                "on the last.")


class Events(BaseModel):
    events: list[HistoryEvent] = Field(description="Service events, in sequence.")
    next_cursor: str | None = Field(description="Pass as ``cursor`` for the next page; null "
                                                "on the last.")


class CertificateSummary(BaseModel):
    identifier: str
    issuer: str
    type: str
    serial: int
    number: str | None
    status: str
    created_at: str = Field(description="北京时间 (+08:00).")


class CertificateList(BaseModel):
    certificates: list[CertificateSummary]
    next_cursor: str | None


class CatalogueType(BaseModel):
    code: str
    version: int
    name: str = Field(examples=["营业执照"])
    defining_body: str
    schema_sm3: str
    withdrawn_at: int | None
    block: int | None
    schema_matches_local: bool


class CatalogueTypeWithSchema(CatalogueType):
    schema_: dict[str, Any] | None = Field(alias="schema")


class Catalogue(BaseModel):
    types: list[CatalogueType]
    indexed_block: int | None
    next_cursor: str | None


class Grant(BaseModel):
    model_config = ConfigDict(extra="allow")


class TypeAuthorization(BaseModel):
    type: str
    name: str | None = Field(examples=["营业执照"])
    grants: list[dict[str, Any]]
    now: bool = Field(description="Whether the agency may issue this type now.")


class Authorizations(BaseModel):
    issuer: str
    authorizations: list[TypeAuthorization]
    indexed_block: int | None
    next_cursor: str | None


class ChainChange(BaseModel):
    """A change sent to the chain: what was done, and its transaction."""

    model_config = ConfigDict(extra="allow")

    done: Literal["added", "revised", "withdrawn", "authorized", "deauthorized"]
    tx_hash: str
    block: int


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    chain: bool
    database: bool
    indexer: dict[str, Any]
    roles: list[str] = Field(
        default_factory=list,
        description="The elected roles the answering process holds now: `indexer` (on "
        "PostgreSQL; on SQLite every process indexes) and `batcher`.",
    )


class ErrorBody(BaseModel):
    """Every refusal: a stable code, and a message a clerk can act on."""

    model_config = ConfigDict(extra="allow")

    error: str = Field(description="Stable code (see the README's error table).",
                       examples=["api_key_missing"])
    message: str = Field(examples=["send an API key as 'Authorization: Bearer <key>'"])
    message_zh: str | None = Field(None, description="The same in Chinese, where the service "
                                   "says it.")
    errors: list[FieldError] | None = Field(
        None, description="invalid_certificate: each problem with its field."
    )


class BatchRejected(ErrorBody):
    accepted: list[AcceptedRow] = Field(description="Empty: no row was accepted.")
    rejected: list[RejectedRow]


class HolderField(BaseModel):
    path: str = Field(examples=["holder.name"])
    label: str = Field(description="Its Chinese label.", examples=["持证主体"])
    value: Any = Field(None, description="Its value (a holder's own file: nothing masked).")
    always: bool = Field(description="Always disclosed (what the certificate is, who issued "
                         "it, its validity): not the holder's choice.")
    hidden: bool = Field(False, description="Hidden in this file (a disclosed copy).")


class HolderRefusal(BaseModel):
    error: str = Field(examples=["holder_disclosed_copy"])
    message: str
    message_zh: str = Field(examples=["这是隐藏了部分信息的副本，不能用来生成出示码"])


class HolderOpened(VerifyResponse):
    """A holder's file, verified in full, and whether it can make a presentation code."""

    kind: Literal["json", "pdf", "ofd"]
    fields: list[HolderField] = Field(description="Every claim the file carries, with its "
                                      "Chinese label, in the document's order.")
    presentable: bool = Field(description="A presentation code can be made from this file.")
    refusal: HolderRefusal | None = Field(None, description="Why not, when it cannot.")


class HolderPresentation(BaseModel):
    code: str = Field(description="Single-use code for the counter (what the QR says).",
                      examples=["K7Q2M-9XRTA"])
    expires_at: str = Field(description="UTC, ISO 8601.")
    ttl_seconds: int
    certificate: str = Field(description="The certificate's identifier.")
    purpose: str = Field(examples=["办理社保"])
    fields: list[HolderField] = Field(description="What the counter will see (no values).")
    qr_svg: str = Field(description="The code as a QR symbol (SVG): its text is exactly "
                        "``code``.")
