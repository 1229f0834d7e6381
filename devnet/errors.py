"""Errors of the ``devnet`` package, each with a stable string ``code``."""

from __future__ import annotations


class DevnetError(Exception):
    """Root of every error raised by ``devnet``."""

    code = "devnet_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
