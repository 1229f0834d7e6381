"""Where the service's private keys are unlocked, and the agency code check of the CLI.

Private keys at rest are encrypted with ``ZHENGYIN_KEY_PASSPHRASE`` when set, else with a
random passphrase kept in ``<home>/keys/kek`` (mode 0600; the development default).
"""

from __future__ import annotations

import os
from pathlib import Path

from seals.errors import SealInputError
from seals.keys import load_or_create_kek

PASSPHRASE_ENV = "ZHENGYIN_KEY_PASSPHRASE"
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def key_passphrase(home: Path) -> bytes:
    """The key-encryption passphrase: ``ZHENGYIN_KEY_PASSPHRASE``, else ``<home>/keys/kek``."""
    value = os.environ.get(PASSPHRASE_ENV)
    if value:
        return value.encode()
    return load_or_create_kek(home / "keys" / "kek")


def check_uscc(code: str) -> str:
    """A valid 18-character USCC (GB 32100 check character), upper-cased; else raises."""
    code = code.strip().upper()
    if len(code) != 18 or any(c not in _USCC_ALPHABET for c in code):
        raise SealInputError(
            f"--issuer {code!r} is not a USCC: 18 characters from {_USCC_ALPHABET}",
            code="seal_bad_uscc",
        )
    total = sum(_USCC_ALPHABET.index(c) * pow(3, i, 31) for i, c in enumerate(code[:17]))
    expected = _USCC_ALPHABET[(31 - total % 31) % 31]
    if code[17] != expected:
        raise SealInputError(
            f"--issuer {code!r}: check character is {code[17]}, expected {expected}",
            code="seal_bad_uscc",
        )
    return code
