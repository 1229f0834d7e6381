"""Request and response bodies of the HTTP API (pydantic models live only at this edge)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StatusChange(Strict):
    reason: str = Field(min_length=1, max_length=500, description="Why, in words.")
    reason_code: int = Field(0, ge=0, le=65535, description="Reason code recorded on chain.")


class BulkStatusChange(StatusChange):
    identifiers: list[str] = Field(min_length=1, max_length=10_000)


QR_MAX_LENGTH = 2_000


class VerifyBody(Strict):
    qr: str | None = Field(
        None, max_length=QR_MAX_LENGTH, description="A scanned ZY2 QR payload."
    )
    certificate: dict[str, Any] | None = Field(None, description="A certificate document.")


class PresentationRequest(Strict):
    certificate: str = Field(min_length=1, max_length=120, description="Identifier.")
    purpose: str = Field(min_length=1, max_length=200, description="用证事由")
    fields: list[str] | None = Field(None, max_length=200, description="Paths to disclose.")
    ttl_seconds: int = Field(300, ge=30, le=3600)


class TypeAdd(Strict):
    code: str = Field(min_length=1, max_length=40, description="The type code (21 characters).")


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
    code: str = Field(min_length=4, max_length=40)


class Check(BaseModel):
    name: str
    type: str
    status: Literal["VALID", "INVALID", "ERROR", "SKIPPED"]
    reason: str = Field(description="What the check found, in English (stable wording).")
    reason_zh: str = Field(
        description="The same in Chinese, for the counter clerk (the English reason when a "
        "check has no Chinese one)."
    )


class VerifyResponse(BaseModel):
    verdict: Literal["valid", "invalid", "error"]
    checks: list[Check]
    certificate: dict[str, Any]
    chain: dict[str, Any]


class ErrorBody(BaseModel):
    error: str
    message: str
