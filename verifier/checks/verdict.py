"""The verdict shape the whole project uses: check results and the verdict over them.

A check returns a :class:`Fragment` — the project's one check result,
:class:`seals.report.Check` ``{name, type, status, message, params, data}`` — whose
``reason`` (English: API clients and logs rely on its wording) and ``reason_zh`` (Chinese, for
the clerk at the counter: what was found, with the same facts, and what to do) are rendered
from the message catalogue (:mod:`seals.messages`, :mod:`verifier.checks.messages`). The verdict is
a pure function of the fragments: ``valid`` only if nothing is INVALID or ERROR, ``invalid`` if
anything is INVALID, otherwise ``error`` (something could not be decided).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import verifier.checks.messages  # noqa: F401  (registers the verifier's messages)
from seals.report import Check, Status

Fragment = Check
"""What one check found (:class:`seals.report.Check`)."""

__all__ = ["Fragment", "Outcome", "Status", "Verdict", "outcome_of"]


class Outcome(StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    ERROR = "error"


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
