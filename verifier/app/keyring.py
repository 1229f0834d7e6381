"""Where the service's private keys are unlocked, and the agency code check of the CLI.

Private keys at rest are encrypted with ``ZHENGYIN_KEY_PASSPHRASE`` when set, else with a
random passphrase kept in ``<home>/keys/kek`` (mode 0600; the development default).
"""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

from seals.ca import Issued, LocalCA
from seals.errors import SealInputError
from seals.keys import load_or_create_kek, load_private_key_file
from seals.picture import draw_round_seal, picture_from_bytes
from seals.seal import SealSpec, create_seal
from seals.x509 import load_certificate
from verifier.settings import Settings

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


def signer_pair(
    settings: Settings, uscc: str, name: str, key: Path | None = None, cert: Path | None = None
) -> Issued:
    """The agency's SM2 key and certificate: imported from ``key``/``cert``, else kept or
    issued by the local CA."""
    home = settings.home_dir
    passphrase = key_passphrase(home)
    ca = LocalCA.open_or_create(home / "ca", passphrase)
    if (key is None) != (cert is None):
        raise SealInputError("--key and --cert go together")
    if key is not None and cert is not None:
        issued = Issued(load_certificate(cert.read_bytes()), load_private_key_file(key, passphrase))
        ca.import_signer(uscc, issued, home / "signers")
        return issued
    return ca.signer(uscc, name, home / "signers")


def make_seal(
    settings: Settings,
    uscc: str,
    name: str,
    signer: Issued,
    picture: Path | None = None,
    years: int = 3,
) -> Path:
    """A v4 seal for the agency, signed by the local seal maker; returns its path."""
    home = settings.home_dir
    maker = LocalCA.open_or_create(home / "ca", key_passphrase(home)).seal_maker()
    now = datetime.now(UTC).replace(microsecond=0)
    valid_until = min(now + timedelta(days=365 * years), signer.certificate.not_after)
    if valid_until <= now:
        raise SealInputError("the signer's certificate has expired", code="seal_signer_expired")
    pic = picture_from_bytes(picture.read_bytes()) if picture is not None else draw_round_seal(name)
    es_id = f"{uscc}{secrets.token_hex(4).upper()}"
    seal = create_seal(
        SealSpec(
            name=name,
            es_id=es_id,
            valid_from=now,
            valid_until=valid_until,
            picture=pic,
            signer_certificates=(signer.certificate,),
            created=now,
        ),
        maker.certificate,
        maker.signer,
    )
    path = home / "seals" / f"{es_id}.esl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(seal.der)
    return path
