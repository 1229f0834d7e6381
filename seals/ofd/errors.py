"""Errors of ``seals.ofd``: one subtree under :class:`seals.errors.SealError`. Each refusal
carries a stable ``code`` and an English sentence; the counter page's Chinese sentence is
the catalogue message ``ofd.unreadable.<code>`` (:mod:`seals.messages_ofd`).

::

    OfdError            ofd_error         root of the OFD errors
    ├── OfdMalformed    ofd_malformed     not an OFD package that can be read strictly
    │                   (codes: ofd_not_zip, ofd_zip_inconsistent, ofd_bad_name,
    │                    ofd_duplicate_name, ofd_zip_method, ofd_zip64, ofd_xml_malformed,
    │                    ofd_xml_encoding, ofd_bad_path, ofd_missing_file, ofd_bad_structure)
    ├── OfdEncrypted    ofd_encrypted     an encrypted zip entry: refused, never guessed at
    ├── OfdTooLarge     ofd_too_large     the package or its content beyond the size caps
    └── OfdHostile      ofd_hostile       built to exhaust or trick a reader
                        (codes: ofd_zip_bomb, ofd_too_many_entries, ofd_xml_too_deep,
                         ofd_xml_dtd, ofd_xml_entity, ofd_xml_too_large)
"""

from __future__ import annotations

from seals.errors import SealError


class OfdError(SealError):
    """Root of every error about OFD packages."""

    code = "ofd_error"


class OfdMalformed(OfdError):
    """The bytes are not an OFD package that can be read strictly (nothing is repaired)."""

    code = "ofd_malformed"


class OfdEncrypted(OfdError):
    """A zip entry is encrypted: the package is refused."""

    code = "ofd_encrypted"


class OfdTooLarge(OfdError):
    """The package, an entry or the whole content is larger than the configured caps."""

    code = "ofd_too_large"


class OfdHostile(OfdError):
    """The package exceeds a bound made against hostile input: compression ratio, entry
    count, XML depth, a DTD or entity declaration."""

    code = "ofd_hostile"


UNREADABLE_CODES = frozenset(
    {
        "ofd_malformed", "ofd_not_zip", "ofd_zip_inconsistent", "ofd_bad_name",
        "ofd_duplicate_name", "ofd_zip_method", "ofd_zip64", "ofd_xml_malformed",
        "ofd_xml_encoding", "ofd_bad_path", "ofd_missing_file", "ofd_bad_structure",
        "ofd_encrypted", "ofd_too_large", "ofd_hostile", "ofd_zip_bomb",
        "ofd_too_many_entries", "ofd_xml_too_deep", "ofd_xml_dtd", "ofd_xml_entity",
        "ofd_xml_too_large", "ofd_certificate_attachment",
    }
)
"""Every code an :class:`OfdError` raised while reading a package may carry (each has its
catalogue message ``ofd.unreadable.<code>``)."""
