"""A document as a viewer sees it at one revision: objects resolved through a suffix of the
cross-reference chain, the catalog, the pages in order, the form fields.
"""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING

from seals.pdf.errors import PdfHostile, PdfMalformed
from seals.pdf.kids import TEXT_PER_UNIT, KidsWalk
from seals.pdf.syntax import OBJ_HEADER, Indirect, Name, PdfObject, Ref, Stream, decode_text
from seals.pdf.xref import Entry

if TYPE_CHECKING:
    from seals.pdf.reader import PdfFile


class View:
    """The document as described by a suffix of the cross-reference chain."""

    def __init__(self, file: PdfFile, index: int = 0, limit: int | None = None) -> None:
        self.file = file
        self.index = index
        self.sections = file.sections[index:]
        self.trailer = self.sections[0].trailer
        self.limit = limit
        self._entries: dict[int, Entry | None] = {}
        self._cache: dict[int, PdfObject] = {}
        self._busy: set[int] = set()
        self._fields: list[tuple[Ref | None, dict[str, PdfObject], str]] | None = None

    def entry(self, num: int) -> Entry | None:
        """The newest cross-reference entry of object ``num`` in this view."""
        try:
            return self._entries[num]
        except KeyError:
            pass
        found: Entry | None = None
        if len(self.file.sections) > 8:
            where = self.file.where(num)
            j = bisect.bisect_left(where, self.index)
            if j < len(where):
                found = self.file.sections[where[j]].entries.get(num)
        else:
            for section in self.sections:
                found = section.entries.get(num)
                if found is not None:
                    break
        self._entries[num] = found
        return found

    def in_use(self, num: int) -> bool:
        entry = self.entry(num)
        return entry is not None and entry.kind in (1, 2) and num > 0

    def peek(self, num: int) -> PdfObject:
        """Object ``num`` as :meth:`get` reads it, but a stream without its data (not kept:
        a look at the dictionary that costs no copy of the data)."""
        if num in self._cache:
            return self._cache[num]
        entry = self.entry(num)
        if entry is None or entry.kind not in (1, 2) or num <= 0:
            return None
        return self.fetch(num, entry, keep_data=False)

    def source(self, num: int) -> tuple[bytes, int]:
        """Where object ``num``'s value is written: the file's bytes (or its object stream's
        decoded data) and the position of the value in them. Read :meth:`get` first."""
        entry = self.entry(num)
        if entry is None or entry.kind not in (1, 2) or num <= 0:
            raise PdfMalformed(f"object {num} is not in use")
        if entry.kind == 1:
            m = OBJ_HEADER.match(self.file.data, entry.a)
            if m is None:
                raise PdfMalformed(f"no object at byte {entry.a}")
            return self.file.data, m.end()
        holder_entry = self.entry(entry.a)
        if holder_entry is None or holder_entry.kind != 1 or holder_entry.b != 0:
            raise PdfMalformed(f"object {num} is in object stream {entry.a}, which is not here")
        holder = self._read(holder_entry.a, keep_data=True, level=0)
        decoded, start, _ = self.file.member_span(holder, holder_entry.a, entry.b, num)
        return decoded, start

    def check_ref(self, ref: Ref) -> None:
        """A reference to an object in use must carry that object's generation."""
        entry = self.entry(ref.num)
        if entry is not None and entry.kind in (1, 2) and ref.num > 0 and entry.gen != ref.gen:
            raise PdfMalformed(
                f"a reference '{ref.num} {ref.gen} R' names generation {ref.gen}, but object "
                f"{ref.num} has generation {entry.gen} (viewers disagree on what it means)"
            )

    def get(self, num: int, gen: int | None = None) -> PdfObject:
        """Object ``num`` (``None`` when free or absent, as the PDF rules say); with ``gen``,
        a reference ``num gen R`` (its generation must be the object's)."""
        if gen is not None:
            self.check_ref(Ref(num, gen))
        if num in self._cache:
            return self._cache[num]
        entry = self.entry(num)
        if entry is None or entry.kind not in (1, 2) or num <= 0:
            return None
        if num in self._busy:
            raise PdfMalformed(f"object {num} refers to itself while being read")
        self._busy.add(num)
        try:
            value = self.fetch(num, entry)
        finally:
            self._busy.discard(num)
        self._cache[num] = value
        return value

    def fetch(
        self, num: int, entry: Entry, *, keep_data: bool = True, level: int = 0
    ) -> PdfObject:
        """The object ``entry`` defines as object ``num``, checked against the entry."""
        return self.locate(num, entry, keep_data=keep_data, level=level)[0]

    def locate(
        self, num: int, entry: Entry, *, keep_data: bool = True, level: int = 0
    ) -> tuple[PdfObject, int]:
        """:meth:`fetch`, and where the object (or its object stream) ends in the file."""
        if entry.kind == 1:
            obj = self._read(entry.a, keep_data=keep_data, level=level)
            if obj.num != num or obj.gen != entry.b:
                raise PdfMalformed(
                    f"the xref says object {num} {entry.b} is at byte {entry.a}, but object "
                    f"{obj.num} {obj.gen} is"
                )
            return obj.value, obj.end
        holder_entry = self.entry(entry.a)
        if holder_entry is None or holder_entry.kind != 1 or holder_entry.b != 0:
            raise PdfMalformed(
                f"object {num} is in object stream {entry.a}, which is not an object here"
            )
        holder = self._read(holder_entry.a, keep_data=True, level=level)
        if holder.num != entry.a or holder.gen != 0:
            raise PdfMalformed(
                f"the xref says object stream {entry.a} is at byte {holder_entry.a}, but "
                f"object {holder.num} {holder.gen} is"
            )
        return self.file.member(holder, holder_entry.a, entry.b, num), holder.end

    def _read(self, offset: int, *, keep_data: bool, level: int) -> Indirect:
        if self.limit is not None and offset >= self.limit:
            raise PdfMalformed(f"an object at byte {offset} lies past the end of the revision")

        def length(ref: Ref) -> int:
            return self.length(ref, level + 1)

        obj = self.file.read(offset, length, keep_data=keep_data)
        if self.limit is not None and obj.end > self.limit:
            raise PdfMalformed(f"object {obj.num} runs past the end of the revision")
        return obj

    def length(self, ref: Ref, level: int = 1) -> int:
        """An indirect ``/Length``: an integer object, read without following further
        ``/Length``s beyond one object stream (no chains, no recursion)."""
        if level > 2:
            raise PdfMalformed("a stream /Length refers through more than one object stream")
        self.check_ref(ref)
        entry = self.entry(ref.num)
        if entry is None or entry.kind not in (1, 2) or ref.num <= 0:
            raise PdfMalformed(f"a stream /Length refers to object {ref.num}, which is not in use")
        if entry.kind == 1:
            if self.limit is not None and entry.a >= self.limit:
                raise PdfMalformed(f"object {ref.num} lies past the end of the revision")
            obj = self.file.parser.indirect(entry.a)  # a stream here has no usable /Length
            if obj.num != ref.num or obj.gen != entry.b:
                raise PdfMalformed(
                    f"the xref says object {ref.num} {entry.b} is at byte {entry.a}, but "
                    f"object {obj.num} {obj.gen} is"
                )
            value = obj.value
        else:
            value = self.fetch(ref.num, entry, level=level)
        if not isinstance(value, int) or isinstance(value, bool):
            raise PdfMalformed(f"a stream /Length refers to object {ref.num}, not an integer")
        return value

    def resolve(self, value: PdfObject) -> PdfObject:
        """``value`` with one level of reference followed (chains of references too)."""
        hops = 0
        while isinstance(value, Ref):
            hops += 1
            if hops > 32:
                raise PdfHostile("a chain of more than 32 references")
            value = self.get(value.num, value.gen)
        return value

    def resolve_dict(self, value: PdfObject) -> dict[str, PdfObject]:
        """The dictionary ``value`` refers to (a stream's dictionary too), else ``{}``."""
        value = self.resolve(value)
        if isinstance(value, Stream):
            return value.dict
        return value if isinstance(value, dict) else {}

    @property
    def size(self) -> int:
        size = self.trailer.get("Size")
        highest = max((s.entries.highest() for s in self.sections), default=0) + 1
        return max(size, highest) if isinstance(size, int) else highest

    def catalog(self) -> tuple[Ref, dict[str, PdfObject]]:
        root = self.trailer.get("Root")
        catalog = self.resolve(root)
        if not isinstance(root, Ref) or not isinstance(catalog, dict):
            raise PdfMalformed("the trailer's /Root is not a catalog dictionary")
        return root, catalog

    def pages(self) -> list[tuple[Ref, dict[str, PdfObject], dict[str, PdfObject]]]:
        """Every page in order: (reference, page dictionary, inherited attributes)."""
        _, catalog = self.catalog()
        out: list[tuple[Ref, dict[str, PdfObject], dict[str, PdfObject]]] = []
        seen: set[int] = set()
        stack: list[tuple[PdfObject, dict[str, PdfObject]]] = [(catalog.get("Pages"), {})]
        while stack:
            ref, inherited = stack.pop()
            if not isinstance(ref, Ref) or ref.num in seen:
                raise PdfMalformed("the page tree is broken (a node is missing or repeated)")
            seen.add(ref.num)
            if len(seen) > self.file.limits.max_nodes:
                raise PdfHostile(f"more than {self.file.limits.max_nodes} page-tree nodes")
            node = self.resolve(ref)
            if not isinstance(node, dict):
                raise PdfMalformed(f"page-tree node {ref.num} is not a dictionary")
            here = dict(inherited)
            for key in ("MediaBox", "CropBox", "Rotate", "Resources"):
                if key in node:
                    here[key] = node[key]
            kids = self.resolve(node.get("Kids"))
            if node.get("Type") == "Pages" or (node.get("Type") != "Page" and kids is not None):
                if not isinstance(kids, list):
                    raise PdfMalformed(f"page-tree node {ref.num} has no /Kids array")
                stack.extend((kid, here) for kid in reversed(kids))
            else:
                out.append((ref, node, here))
        return out

    def page_count(self) -> int:
        """``/Count`` of the page tree's root."""
        _, catalog = self.catalog()
        count = self.resolve_dict(catalog.get("Pages")).get("Count")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise PdfMalformed("the page tree has no usable /Count")
        return count

    def page(self, index: int) -> tuple[Ref, dict[str, PdfObject], dict[str, PdfObject]]:
        """Page ``index`` (0-based), found by descending the tree with ``/Count``: only the
        nodes on the way (and siblings counted past) are read, so the last page of a long
        document is found quickly. Returns what :meth:`pages` returns for that page."""
        _, catalog = self.catalog()
        ref: PdfObject = catalog.get("Pages")
        inherited: dict[str, PdfObject] = {}
        remaining = index
        for _ in range(self.file.limits.max_depth):
            node = self.resolve(ref)
            if not isinstance(ref, Ref) or not isinstance(node, dict):
                raise PdfMalformed("the page tree is broken (a node is missing)")
            inherited = dict(inherited)
            for key in ("MediaBox", "CropBox", "Rotate", "Resources"):
                if key in node:
                    inherited[key] = node[key]
            kids = self.resolve(node.get("Kids"))
            if node.get("Type") == "Page" or not isinstance(kids, list):
                if remaining != 0:
                    raise PdfMalformed("the page tree's /Count does not match its pages")
                return ref, node, inherited
            self.file.budget.spend(len(kids) + 1)  # a shared /Kids may be met at every level
            total = node.get("Count")
            backwards = isinstance(total, int) and remaining >= total // 2
            order = range(len(kids) - 1, -1, -1) if backwards else range(len(kids))
            if backwards and isinstance(total, int):
                remaining = total - 1 - remaining
            for i in order:
                kid = self.resolve_dict(kids[i])
                n = kid.get("Count") if kid.get("Type") != "Page" and "Kids" in kid else 1
                if not isinstance(n, int) or n < 0:
                    raise PdfMalformed("the page tree has a node without a usable /Count")
                if remaining < n:
                    if backwards:
                        remaining = n - 1 - remaining
                    ref = kids[i]
                    break
                remaining -= n
            else:
                raise PdfMalformed("the page tree's /Count does not match its pages")
        raise PdfHostile("the page tree is nested too deeply")

    def page_attributes(self, page: dict[str, PdfObject]) -> dict[str, PdfObject]:
        """A page's inheritable attributes (``/MediaBox``, ``/CropBox``, ``/Rotate``,
        ``/Resources``), its own or its ancestors' (``/Parent``), bounded."""
        out: dict[str, PdfObject] = {}
        node: dict[str, PdfObject] = page
        seen: set[int] = set()
        for _ in range(self.file.limits.max_depth):
            for key in ("MediaBox", "CropBox", "Rotate", "Resources"):
                if key not in out and key in node:
                    out[key] = node[key]
            parent = node.get("Parent")
            if not isinstance(parent, Ref) or parent.num in seen:
                return out
            seen.add(parent.num)
            node = self.resolve_dict(parent)
        raise PdfHostile("the page tree is nested too deeply")

    def field_value(self, d: dict[str, PdfObject]) -> tuple[PdfObject, PdfObject, str]:
        """(``/FT``, ``/V``, partial name ``/T``) of a field or widget dictionary, inherited
        through ``/Parent`` where the dictionary has none (bounded; the name's length paid
        for from the budget)."""
        ft, value, name = d.get("FT"), d.get("V"), decode_text(d.get("T"))
        node = d
        seen: set[int] = set()
        for _ in range(self.file.limits.max_depth):
            if ft is not None and value is not None:
                break
            parent = node.get("Parent")
            if not isinstance(parent, Ref) or parent.num in seen:
                break
            seen.add(parent.num)
            node = self.resolve_dict(parent)
            ft = ft if ft is not None else node.get("FT")
            value = value if value is not None else node.get("V")
            name = name or decode_text(node.get("T"))
        # the one name decoded is paid for: a parent's long /T met by every widget under it
        self.file.budget.spend(len(name) // TEXT_PER_UNIT)
        return ft, value, name

    def acroform(self) -> dict[str, PdfObject]:
        _, catalog = self.catalog()
        return self.resolve_dict(catalog.get("AcroForm"))

    def fields(self) -> list[tuple[Ref | None, dict[str, PdfObject], str]]:
        """Every terminal form field: (reference, dictionary, full name), in order. Walked
        once per view (then remembered): each node at most once (shared ``/Kids`` arrays
        make a DAG, not a tree), at most ``max_nodes`` of them, every kid looked at and
        every full name built paid for from the budget."""
        if self._fields is None:
            self._fields = self._walk_fields()
        return list(self._fields)

    def _walk_fields(self) -> list[tuple[Ref | None, dict[str, PdfObject], str]]:
        fields = self.resolve(self.acroform().get("Fields"))
        out: list[tuple[Ref | None, dict[str, PdfObject], str]] = []
        if not isinstance(fields, list):
            return out
        budget = self.file.budget
        budget.spend(len(fields) + 1)
        # (name, inherited FT/V) carried from a field to its kids
        walk: KidsWalk[tuple[str, dict[str, PdfObject]]] = KidsWalk(
            fields, ("", {}), max_nodes=self.file.limits.max_nodes, what="form fields"
        )
        for ref, _, (parent_name, inherited) in walk:
            node = self.resolve(ref)
            if not isinstance(node, dict):
                continue
            part = decode_text(node.get("T")) if "T" in node else ""
            name = f"{parent_name}.{part}" if parent_name and part else parent_name or part
            # a name is paid for by its length: a direct node among its own /Kids is walked
            # again at every level (only references are met once), each name longer
            budget.spend(len(name) // TEXT_PER_UNIT)
            here = dict(inherited)
            for key in ("FT", "V"):
                if key in node:
                    here[key] = node[key]
            kids = self.resolve(node.get("Kids"))
            if isinstance(kids, list):
                budget.spend(len(kids) + 1)  # a shared array is paid for at every visit
            named_kids = isinstance(kids, list) and any(
                "T" in self.resolve_dict(k) for k in kids
            )
            if named_kids and isinstance(kids, list):
                walk.descend(kids, (name, here))
            else:
                merged = {**here, **node}
                out.append((ref if isinstance(ref, Ref) else None, merged, name))
        return out


def is_name(value: PdfObject, name: str) -> bool:
    return isinstance(value, Name) and value == name
