"""Seal verification as verdict fragments: maps :mod:`seals.seal` steps onto ``Fragment``.

``seals`` cannot import ``verifier`` (layering), so it reports with its own ``Step`` type; this
module is the one place that turns a :class:`seals.seal.VerificationReport` into the
project-wide :class:`verifier.verdict.Verdict`.
"""

from __future__ import annotations

from seals.seal import Step, StepStatus, VerificationReport
from verifier.verdict import Fragment, Status, Verdict

_STATUS = {
    StepStatus.VALID: Status.VALID,
    StepStatus.INVALID: Status.INVALID,
    StepStatus.ERROR: Status.ERROR,
    StepStatus.SKIPPED: Status.SKIPPED,
}


def fragment_of(step: Step) -> Fragment:
    """One seal verification step as a verdict fragment."""
    return Fragment(
        name=step.name,
        type=step.type,
        status=_STATUS[step.status],
        reason=step.reason,
        data=dict(step.data),
    )


def fragments_of(report: VerificationReport) -> tuple[Fragment, ...]:
    """Every step of ``report``, in order."""
    return tuple(fragment_of(s) for s in report.steps)


def verdict_of(report: VerificationReport) -> Verdict:
    """The verdict over a seal or seal-signature report; ``subject`` says what was verified."""
    return Verdict(checks=fragments_of(report), subject={"kind": report.kind, **report.subject})
