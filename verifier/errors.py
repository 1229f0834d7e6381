"""The project's error roots, gathered so the front ends can map them in one place.

Every package has one root of its own (``chain`` and ``seals`` import no other package, so
they cannot share a class); each error carries a stable string ``code`` that callers,
the CLI and the HTTP API show unchanged.
"""

from __future__ import annotations

from certs.errors import CertError
from chain.errors import ChainError
from devnet.errors import DevnetError
from seals.errors import SealError


class VerifierError(Exception):
    """Root of the verifier's own errors (bad input at the edge, configuration)."""

    code = "verifier_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


ERROR_ROOTS: tuple[type[Exception], ...] = (
    CertError,
    ChainError,
    DevnetError,
    SealError,
    VerifierError,
)


def error_code(exc: BaseException) -> str:
    """The stable code of a project error (``internal_error`` for anything else)."""
    code = getattr(exc, "code", None)
    return code if isinstance(code, str) and isinstance(exc, ERROR_ROOTS) else "internal_error"
