"""The verdict shape the whole project uses: check fragments and the verdict over them.

A check returns a :class:`Fragment` ``{name, type, status, reason, data, reason_zh}``; the
verdict is a pure function of the fragments: ``valid`` only if nothing is INVALID or ERROR,
``invalid`` if anything is INVALID, otherwise ``error`` (something could not be decided).

``reason`` is English (API clients and logs rely on its wording); ``reason_zh`` says the same
in Chinese for the clerk at the counter: what was found, with the same facts, and what to do.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    VALID = "VALID"
    INVALID = "INVALID"
    ERROR = "ERROR"
    SKIPPED = "SKIPPED"


class Outcome(StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    ERROR = "error"


@dataclass(frozen=True)
class Fragment:
    """What one check found."""

    name: str
    """Stable machine name of the check, e.g. ``seal.maker_signature``."""
    type: str
    """What the check is about: ``integrity``, ``signature``, ``validity``, ``status``…"""
    status: Status
    reason: str
    """A sentence a counter clerk can act on."""
    data: Mapping[str, Any] = field(default_factory=dict)
    """Facts the check used (times, block numbers, names); JSON-serializable."""
    reason_zh: str = ""
    """The reason in Chinese, for the counter page (same facts; empty: none given)."""

    def __reduce__(self) -> tuple[Any, ...]:
        # worker processes send fragments back by the thousand: plain arguments pickle in
        # half the time of the default (instance dictionary + enum member lookup)
        return (
            _fragment,
            (self.name, self.type, self.status.value, self.reason, self.data, self.reason_zh),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "status": self.status.value,
            "reason": self.reason,
        }
        if self.reason_zh:
            out["reason_zh"] = self.reason_zh
        if self.data:
            out["data"] = dict(self.data)
        return out


def _fragment(
    name: str, type_: str, status: str, reason: str, data: Mapping[str, Any], reason_zh: str
) -> Fragment:
    return Fragment(name, type_, Status(status), reason, data, reason_zh)


def outcome_of(fragments: Iterable[Fragment]) -> Outcome:
    """The verdict over fragments. No fragment at all decides nothing: ``error``."""
    statuses = [f.status for f in fragments]
    if Status.INVALID in statuses:
        return Outcome.INVALID
    if Status.ERROR in statuses or not any(s is Status.VALID for s in statuses):
        return Outcome.ERROR
    return Outcome.VALID


@dataclass(frozen=True)
class Verdict:
    """The fragments, the outcome over them, and what was verified."""

    checks: tuple[Fragment, ...]
    subject: Mapping[str, Any] = field(default_factory=dict)

    @property
    def outcome(self) -> Outcome:
        return outcome_of(self.checks)

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.outcome.value,
            "checks": [f.to_json() for f in self.checks],
            "subject": dict(self.subject),
        }
