"""Constants and helpers shared by the ``seals`` tests (a uniquely named module, so it never
clashes with other packages' test helpers)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from seals.ca import Issued, create_root, issue_seal_maker, issue_signer
from seals.picture import draw_round_seal
from seals.seal import SealSpec, create_seal
from seals.ses import Seal

HERE = Path(__file__).resolve().parent
VECTORS = HERE / "vectors"
OFDRW = HERE.parent / "data" / "interop" / "ofdrw"
T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
"""The pinned 'now' of the PKI made for the tests."""
USCC = "91110000101623741K"
"""The GB 32100 worked example (docs/standards/certificates.md §4)."""


class Pki:
    """A root, a seal maker and one agency signer, all dated from ``T0``."""

    def __init__(self) -> None:
        self.root: Issued = create_root(now=T0 - timedelta(days=30))
        self.maker: Issued = issue_seal_maker(self.root, now=T0 - timedelta(days=30))
        self.signer: Issued = issue_signer(
            self.root, uscc=USCC, name="北京市测试局", now=T0 - timedelta(days=1)
        )


def make_seal(pki: Pki, name: str = "北京市测试局") -> Seal:
    """The agency's seal (a v4 seal of ``pki``'s signer, made by its seal maker, valid a year
    from ``T0``, its picture a drawn round seal named ``name``)."""
    return create_seal(
        SealSpec(
            name=name,
            es_id=USCC + "0001",
            valid_from=T0,
            valid_until=T0 + timedelta(days=365),
            picture=draw_round_seal(name),
            signer_certificates=(pki.signer.certificate,),
            created=T0,
        ),
        pki.maker.certificate,
        pki.maker.signer,
    )
