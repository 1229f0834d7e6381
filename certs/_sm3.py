"""The SM3 entry point of ``certs``: :func:`seals.sm3.sm3`, where the implementation is chosen
(the reference, pyca/cryptography, or hashlib's OpenSSL SM3 as the one fast path)."""

from __future__ import annotations

from seals.sm3 import sm3

__all__ = ["sm3"]
