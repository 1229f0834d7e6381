"""Parsing the XML files of an OFD package safely.

Before lxml sees a byte, the text is checked: UTF-8 only (GB/T 33190 §7.2; a declared other
encoding, a UTF-16 BOM or bytes that are not UTF-8 are ``ofd_xml_encoding``), at most
``max_xml`` bytes (``ofd_xml_too_large``), and no document type declaration (``<!DOCTYPE``:
``ofd_xml_dtd``) or entity declaration (``<!ENTITY``: ``ofd_xml_entity``) anywhere — OFD
needs neither, and external entities and entity expansion (billion laughs) start there.

lxml then parses with a parser that would refuse them anyway: ``resolve_entities=False``,
``no_network=True``, ``load_dtd=False``, ``huge_tree=False`` (libxml2's own limits on
depth and text size stay on). Element nesting beyond ``max_xml_depth`` is
``ofd_xml_too_deep``; a count of elements shared by every file of a package bounds the work
(``max_xml_elements``, ``ofd_hostile``). Anything lxml refuses is ``ofd_xml_malformed``.
"""

from __future__ import annotations

import re

from lxml import etree

from seals.ofd.errors import OfdHostile, OfdMalformed, OfdTooLarge
from seals.ofd.package import DEFAULT_LIMITS, OfdLimits

_DECLARATION = re.compile(rb"""\A<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=False,
        collect_ids=False,
    )


class ElementBudget:
    """Elements left to parse in one package (shared by all its XML files)."""

    def __init__(self, limits: OfdLimits = DEFAULT_LIMITS) -> None:
        self.left = limits.max_xml_elements
        self.limits = limits

    def check(self, count: int, name: str) -> None:
        """Refuse before parsing when ``count`` (an upper bound) is beyond what is left."""
        if count > self.left:
            self.spend(count, name)

    def spend(self, count: int, name: str) -> None:
        self.left -= count
        if self.left < 0:
            raise OfdHostile(
                f"{name}: the package's XML files hold more than "
                f"{self.limits.max_xml_elements} elements",
                code="ofd_hostile",
            )


def parse_xml(
    data: bytes, name: str, limits: OfdLimits = DEFAULT_LIMITS,
    budget: ElementBudget | None = None,
) -> etree._Element:
    """The root element of the XML file ``name`` (see the module docstring)."""
    if len(data) > limits.max_xml:
        raise OfdTooLarge(
            f"{name}: {len(data)} bytes of XML; at most {limits.max_xml}",
            code="ofd_xml_too_large",
        )
    text = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    declared = _DECLARATION.match(text.lstrip())
    if declared and declared.group(1).decode().upper().replace("_", "-") not in ("UTF-8", "UTF8"):
        raise OfdMalformed(
            f"{name}: declared encoding {declared.group(1)[:40].decode()!r}; OFD XML is UTF-8",
            code="ofd_xml_encoding",
        )
    try:
        text.decode("utf-8")
    except UnicodeDecodeError:
        raise OfdMalformed(f"{name}: not UTF-8 text", code="ofd_xml_encoding") from None
    if b"<!ENTITY" in text:
        raise OfdHostile(f"{name}: an entity declaration", code="ofd_xml_entity")
    if b"<!DOCTYPE" in text or b"<!doctype" in text:
        raise OfdHostile(f"{name}: a document type declaration (DTD)", code="ofd_xml_dtd")
    if budget is not None:  # at most this many elements, counted in C before parsing
        budget.check(text.count(b"<") - text.count(b"</"), name)
    try:
        root = etree.fromstring(text, _parser())
    except etree.XMLSyntaxError as exc:
        if "Excessive depth" in str(exc):
            raise OfdHostile(
                f"{name}: elements nested more than {limits.max_xml_depth} deep",
                code="ofd_xml_too_deep",
            ) from None
        raise OfdMalformed(f"{name}: not well-formed XML ({exc})", code="ofd_xml_malformed") \
            from None
    if root.getroottree().docinfo.internalDTD is not None:  # pragma: no cover - refused above
        raise OfdHostile(f"{name}: a document type declaration (DTD)", code="ofd_xml_dtd")
    depth = count = 0
    for event, _ in etree.iterwalk(root, events=("start", "end")):
        if event == "start":
            depth += 1
            count += 1
            if depth > limits.max_xml_depth:
                raise OfdHostile(
                    f"{name}: elements nested more than {limits.max_xml_depth} deep",
                    code="ofd_xml_too_deep",
                )
        else:
            depth -= 1
    if budget is not None:
        budget.spend(count, name)
    return root
