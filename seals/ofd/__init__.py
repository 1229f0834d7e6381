"""Sealed OFD files (GB/T 33190 packages with GB/T 38540 signatures): reading a package
safely (:mod:`seals.ofd.package`, :mod:`seals.ofd.xml`), its model
(:mod:`seals.ofd.document`) and verifying its seals (:mod:`seals.ofd.verify`); writing sealed
packages (:mod:`seals.ofd.write`). The policy: ``seals/ofd/README.md``."""

from seals.ofd.errors import OfdEncrypted, OfdError, OfdHostile, OfdMalformed, OfdTooLarge
from seals.ofd.package import DEFAULT_LIMITS, OfdLimits, OfdPackage, looks_like_ofd, read_package
from seals.ofd.verify import OfdReport, OfdSignatureReport, verify_ofd

__all__ = [
    "DEFAULT_LIMITS",
    "OfdEncrypted",
    "OfdError",
    "OfdHostile",
    "OfdLimits",
    "OfdMalformed",
    "OfdPackage",
    "OfdReport",
    "OfdSignatureReport",
    "OfdTooLarge",
    "looks_like_ofd",
    "read_package",
    "verify_ofd",
]
