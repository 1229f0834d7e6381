"""The names of OFD (GB/T 33190-2016) that reading and writing share: the namespace, the
fixed file names, the algorithm identifiers a signature names, and the element and attribute
names that point at other files of a package. One home, so that the reader and the writer
cannot disagree on a spelling."""

from __future__ import annotations

from typing import Final

NS: Final = "http://www.ofdspec.org/2016"
"""The OFD namespace (GB/T 33190-2016 §7)."""

PREFIX: Final = "ofd"
"""The prefix writers use for :data:`NS` (any prefix is read)."""


def q(local: str) -> str:
    """``{NS}local``: an OFD element or attribute name as lxml spells it."""
    return f"{{{NS}}}{local}"


ENTRY: Final = "OFD.xml"
"""The package's entry file, at its root."""

SM3_OID: Final = "1.2.156.10197.1.401"
"""SM3 (GM/T 0006), as a ``References/@CheckMethod`` names it."""

SM2_SM3_OID: Final = "1.2.156.10197.1.501"
"""SM2 signature with SM3, as a ``SignatureMethod`` names it."""

SM3_NAMES: Final = frozenset({SM3_OID, "SM3", "sm3"})
"""The spellings of ``CheckMethod`` read as SM3 (ofdrw writes the OID or ``SM3``)."""

SIGNATURE_TYPES: Final = frozenset({"Seal", "Sign"})
"""``Signatures/Signature/@Type``: an electronic seal (default) or a plain signature."""

# --------------------------------------------------------------- files pointing at files
PATH_ELEMENTS: Final = frozenset(
    {
        "DocRoot",  # OFD.xml → Document.xml
        "Signatures",  # OFD.xml → Signatures.xml (the signatures' own file)
        "PublicRes",  # Document.xml → resources
        "DocumentRes",
        "PageRes",  # a page → its resources
        "Annotations",  # Document.xml → Annotations.xml
        "Attachments",  # Document.xml → Attachments.xml
        "CustomTags",  # Document.xml → CustomTags.xml
        "Extensions",  # Document.xml → Extensions.xml
        "FileLoc",  # annotations, attachments, custom tags → their files
        "SchemaLoc",  # custom tags → a schema
        "MediaFile",  # a resource → an image, a sound, a video
        "FontFile",  # a resource → an embedded font
        "Profile",  # a colour space → its ICC profile
        "Cover",  # DocInfo → the document's cover image
    }
)
"""Elements whose text is the location of another file of the package."""

PATH_ATTRIBUTES: Final = frozenset({"BaseLoc", "FileRef", "Profile"})
"""Attributes that are the location of another file (``BaseLoc`` of pages, templates,
signatures and version files; ``FileRef`` of a signature's references; a colour space's
``Profile``). ``Res/@BaseLoc`` is a folder: the base of its resources' file names, not a
file."""
