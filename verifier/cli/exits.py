"""The exit status of every ``zhengyin`` command, in one place.

:class:`ExitStatus` names them (0 ok, 1 invalid or refused, 2 usage, 3 could not decide,
4 unavailable, 5 another process holds the role, 70 internal) and :data:`MEANINGS` says what
each means: the ``zhengyin --help`` text (:func:`help_text`) is made from it, and a test holds
the README's table equal to it. :func:`exit_status_of` maps an exception (the project's error
roots of :mod:`verifier.errors`, click's usage errors, anything else) to one of them;
:func:`exit_status_of_outcome` a verdict's outcome.
"""

from __future__ import annotations

from enum import IntEnum

import click

from chain.errors import (
    ArtefactError,
    ChainError,
    ChainUnavailable,
    ContractRevert,
    RpcError,
    TransactionDropped,
    TransactionFailed,
    TransactionTimeout,
)
from seals.errors import says_nothing_of_the_input
from verifier.checks.verdict import Outcome
from verifier.errors import ERROR_ROOTS, error_code


class ExitStatus(IntEnum):
    """What a ``zhengyin`` command's exit status means."""

    OK = 0
    INVALID = 1
    USAGE = 2
    UNDECIDED = 3
    UNAVAILABLE = 4
    BUSY = 5
    INTERNAL = 70


MEANINGS: dict[ExitStatus, str] = {
    ExitStatus.OK: "ok; a verified file is valid",
    ExitStatus.INVALID: "invalid, or refused (rejected rows, bad input, the chain said no)",
    ExitStatus.USAGE: "usage error (a wrong option or argument)",
    ExitStatus.UNDECIDED: "could not decide (a check could not be made; not yet confirmed)",
    ExitStatus.UNAVAILABLE: "unavailable (the chain, database or service did not answer)",
    ExitStatus.BUSY: "another process holds the role (batcher run: another batcher runs)",
    ExitStatus.INTERNAL: "internal error, a bug (ZHENGYIN_DEBUG=1 shows the traceback)",
}

#: Codes of project errors that mean "another process does this": a singleton role elected.
BUSY_CODES = frozenset({"batcher_role_held"})
#: Codes of project errors that mean "a component did not answer" (whatever their class).
UNAVAILABLE_CODES = frozenset(
    {
        "chain_unavailable",
        "devnet_not_running",
        "database_unavailable",
        "authorization_unchecked",
        "indexer_lagging",
        "indexer_contended",
        "tx_dropped",
        "tx_nonce_gap",
        "devnet_start_timeout",
        "deployment_record_corrupt",  # the local record of the contracts is damaged
    }
)
#: Codes of project errors that mean "asked, but the answer is not known (yet)".
UNDECIDED_CODES = frozenset({"tx_timeout", "verify_timeout", "verify_memory", "verify_busy"})
#: Codes of project errors that are mistakes in the command line.
USAGE_CODES = frozenset(
    {"usage", "unknown_format", "bad_configuration", "bad_time", "bad_date", "bad_trust_anchor"}
)


def exit_status_of(exc: BaseException) -> ExitStatus:
    """The exit status for an error that ended a command."""
    if isinstance(exc, click.UsageError):
        return ExitStatus.USAGE
    if isinstance(exc, click.ClickException):  # click.FileError: a file that cannot be read
        return ExitStatus.INVALID
    if not isinstance(exc, ERROR_ROOTS):
        return ExitStatus.INTERNAL
    code = error_code(exc)
    if code in USAGE_CODES:
        return ExitStatus.USAGE
    if code in BUSY_CODES:
        return ExitStatus.BUSY
    if (
        isinstance(exc, ChainUnavailable | TransactionDropped)
        or code in UNAVAILABLE_CODES
        or says_nothing_of_the_input(exc)
    ):
        # an SM2 fault: this machine cannot check; it says nothing of the input
        return ExitStatus.UNAVAILABLE
    if isinstance(exc, TransactionTimeout) or code in UNDECIDED_CODES:
        return ExitStatus.UNDECIDED
    if isinstance(exc, ContractRevert | TransactionFailed):
        return ExitStatus.INVALID  # the chain said no
    if isinstance(exc, ArtefactError):
        return ExitStatus.INTERNAL  # the installed package lacks its contract artefacts
    if isinstance(exc, RpcError) or type(exc) is ChainError:
        return ExitStatus.UNAVAILABLE  # the node answered, but not with an answer
    return ExitStatus.INVALID


def exit_status_of_outcome(outcome: Outcome) -> ExitStatus:
    """A verdict's exit status: valid 0, invalid 1, error (could not decide) 3."""
    return {
        Outcome.VALID: ExitStatus.OK,
        Outcome.INVALID: ExitStatus.INVALID,
        Outcome.ERROR: ExitStatus.UNDECIDED,
    }[outcome]


def help_text() -> str:
    """The exit-status table of ``zhengyin --help`` (``\\b``: click keeps the lines)."""
    lines = ["\b", "Exit status:"]
    lines += [f"  {status.value:>2}  {MEANINGS[status]}" for status in ExitStatus]
    lines += [
        "",
        "\b",
        "With --json a command prints one JSON document on stdout, an error too:",
        '  {"error": "<code>", "message": "<text>"}',
        "Progress is shown on stderr only when it is a terminal; --quiet hides it.",
    ]
    return "\n".join(lines)
