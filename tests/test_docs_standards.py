"""The project's documents under ``docs/`` say what the code does, and every citation of
them points somewhere real (issue #17: the standards facts live in the repository).

Fast: no services. The values the standards pages state (curve parameters, OIDs, known
answers, worked examples, weights and alphabets) are read from the pages and compared with
the code; citations of the form ``docs/<file>.md §N`` anywhere in the tree must name an
existing file with a section ``N.``; relative links in the documents must resolve; and
nothing cites the project's old working notes, which lived outside the repository.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

from certs import identifiers
from seals import ses, sm2

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
STANDARDS = DOCS / "standards"
OLD_NOTES = "STANDARDS" + ".md"
"""The file name of the old notes (written so, this test does not cite them itself)."""

_TEXT_SUFFIXES = frozenset({".py", ".pyi", ".md", ".c", ".toml", ".txt", ".js", ".mjs", ".html"})
_SKIP_DIRS = frozenset({"node_modules", "__pycache__", "build", "dist"})


def _text_files() -> Iterator[Path]:
    for path in sorted(REPO.rglob("*")):
        parts = path.relative_to(REPO).parts
        if any(p.startswith(".") or p in _SKIP_DIRS or p.endswith(".egg-info") for p in parts):
            continue
        if path.is_file() and (path.suffix in _TEXT_SUFFIXES or path.name == "Makefile"):
            yield path


def _section(page: Path, number: int) -> str:
    """The text of section ``## number.`` of a page (up to the next ``## `` heading)."""
    text = page.read_text(encoding="utf-8")
    m = re.search(rf"^## {number}\. .*?(?=^## |\Z)", text, re.M | re.S)
    assert m, f"{page.relative_to(REPO)} has no section '## {number}.'"
    return m.group(0)


def _table(text: str) -> dict[str, list[str]]:
    """Rows of the Markdown tables in ``text``: first cell → the other cells."""
    rows: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.startswith("|") and not set(line) <= set("|-: "):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            rows[cells[0]] = cells[1:]
    return rows


def _code(cell: str) -> str:
    m = re.search(r"`([^`]+)`", cell)
    assert m, f"no value in backticks in {cell!r}"
    return m.group(1)


# ------------------------------------------------------------------------ citations, links


def test_nothing_cites_the_old_notes_outside_the_repository() -> None:
    found = [
        f"{path.relative_to(REPO)}:{n}: {line.strip()}"
        for path in _text_files()
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
        if OLD_NOTES in line
    ]
    assert not found, "cite docs/standards/<page>.md §N instead:\n" + "\n".join(found)


_CITATION = re.compile(
    r"docs/(?P<path>[\w./-]+?\.md)`?\)?(?P<sections>(?:\s*(?:,|and|&)?\s*§\s*\d+)*)"
)


def test_every_citation_of_a_document_names_a_page_and_section_that_exist() -> None:
    cited = 0
    problems = []
    for path in _text_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for n, line in enumerate(text.splitlines(), 1):
            for m in _CITATION.finditer(line):
                where = f"{path.relative_to(REPO)}:{n}"
                page = DOCS / m["path"]
                if not page.is_file():
                    problems.append(f"{where}: cites docs/{m['path']}, which does not exist")
                    continue
                headings = set(
                    re.findall(r"^## (\d+)\. ", page.read_text(encoding="utf-8"), re.M)
                )
                for number in re.findall(r"\d+", m["sections"]):
                    cited += 1
                    if number not in headings:
                        problems.append(f"{where}: docs/{m['path']} has no section §{number}")
    assert not problems, "\n".join(problems)
    assert cited >= 6  # the code, tests and README do cite sections


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    anchors = set()
    for heading in re.findall(r"^#+ (.+)$", page.read_text(encoding="utf-8"), re.M):
        slug = _slug(heading)
        count = seen.get(slug, 0)
        anchors.add(slug if count == 0 else f"{slug}-{count}")
        seen[slug] = count + 1
    return anchors


def test_links_in_the_documents_resolve() -> None:
    pages = [REPO / "README.md", *sorted(DOCS.rglob("*.md"))]
    problems = []
    checked = 0
    for page in pages:
        text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue  # http:, https:, mailto:
            file_part, _, anchor = target.partition("#")
            linked = (page.parent / file_part).resolve() if file_part else page
            where = f"{page.relative_to(REPO)} → {target}"
            checked += 1
            if not linked.exists():
                problems.append(f"{where}: no such file")
            elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
                problems.append(f"{where}: no heading with that anchor")
    assert not problems, "\n".join(problems)
    assert checked >= 10


def test_the_index_lists_every_standards_page() -> None:
    pages = {p.name for p in STANDARDS.glob("*.md")} - {"README.md"}
    assert pages
    for index in (STANDARDS / "README.md", DOCS / "README.md"):
        text = index.read_text(encoding="utf-8")
        missing = sorted(p for p in pages if f"{p})" not in text)
        assert not missing, f"{index.relative_to(REPO)} does not link {missing}"
    assert "decisions/" in (DOCS / "README.md").read_text(encoding="utf-8")


# ------------------------------------------------------------- the pages agree with the code


PAGE_SM2 = STANDARDS / "sm2-sm3.md"
PAGE_SEALS = STANDARDS / "seals.md"
PAGE_CERTS = STANDARDS / "certificates.md"


def test_sm2_curve_parameters_are_the_codes() -> None:
    rows = _table(_section(PAGE_SM2, 3))
    for name, value in {"p": sm2.P, "b": sm2.B, "n": sm2.N, "Gx": sm2.GX, "Gy": sm2.GY}.items():
        assert int(_code(rows[name][0]), 16) == value, name
    assert rows["a"][0] == "p − 3" and sm2.A == sm2.P - 3
    assert (sm2.GY**2 - (sm2.GX**3 + sm2.A * sm2.GX + sm2.B)) % sm2.P == 0  # G is on the curve


def test_sm2_object_identifiers_are_the_codes() -> None:
    rows = _table(_section(PAGE_SM2, 2))
    del rows["what"]
    assert len(rows) == 4
    for what, (oid, attribute) in rows.items():
        name = _code(attribute).rsplit(".", 1)[1]
        assert getattr(sm2, name) == _code(oid), what
    accepted = re.findall(r"`(1\.2\.156\.10197\.[\d.]+)`", _table(_section(PAGE_SEALS, 4))[
        "Which signature algorithm OIDs count as SM2 over SM3?"
    ][0])
    assert set(accepted) == set(ses.SIGNATURE_ALGORITHMS)


def test_signer_id_and_z_are_as_written() -> None:
    text = _section(PAGE_SM2, 4)
    assert "`1234567812345678`" in text and sm2.DEFAULT_ID == b"1234567812345678"
    assert "`0x0080`" in text and len(sm2.DEFAULT_ID) * 8 == 0x0080
    vector = json.loads((REPO / "tests/seals/vectors/sm2_annex_a.json").read_text())
    point = bytes.fromhex("04" + vector["public_x"] + vector["public_y"])
    assert sm2.z_value(point).hex().upper() == vector["z"]  # Z as §4 defines it


def test_sm3_known_answers_are_what_sm3_gives() -> None:
    rows = _table(_section(PAGE_SM2, 6))
    digests = {k: bytes.fromhex(v[0].replace(" ", "").strip("`")) for k, v in rows.items()
               if k != "input"}
    assert digests == {
        '`"abc"` (3 bytes)': sm2.sm3(b"abc"),
        '`"abcd"` repeated 16 times (64 bytes)': sm2.sm3(b"abcd" * 16),
    }


def test_seal_size_bounds_are_the_codes() -> None:
    row = _table(_section(PAGE_SEALS, 4))["How large may a structure be?"][0]
    assert "at most 4 MiB" in row and ses.MAX_SES_BYTES == 4 * 1024 * 1024
    assert "at most 1 MiB" in row and ses.MAX_PICTURE_BYTES == 1024 * 1024


def test_identifier_worked_example() -> None:
    text = _section(PAGE_CERTS, 3)
    full = re.findall(r"`(1\.2\.156\.3005\.2\.[0-9A-Z.]+\.[0-9A-Z])`", text)
    assert len(full) == 1
    parsed = identifiers.parse_identifier(full[0])
    assert parsed.check == "F"
    body = "".join([parsed.type_code, parsed.issuer_code, parsed.serial, parsed.version])
    assert f"`{body}`" in text and identifiers.mod37_36_check_char(body) == "F"
    assert f"`{full[0][: -len('.F')]}`" in text


def test_citizen_id_worked_example() -> None:
    text = _section(PAGE_CERTS, 4)
    m = re.search(r"`([0-9]{17}[0-9X])` \(the first 17\s+digits weigh (\d+)", text)
    assert m
    code, total = m[1], int(m[2])
    assert identifiers.validate_citizen_id(code) == code
    weights = identifiers._CID_WEIGHTS
    assert sum(int(c) * w for c, w in zip(code[:17], weights, strict=True)) == total
    assert identifiers.citizen_id_check_char(code[:17]) == code[17] == "10X98765432"[total % 11]


def test_uscc_worked_example() -> None:
    m = re.search(r"`([0-9A-Z]{18})` \(the\s+sum is (\d+)", _section(PAGE_CERTS, 4))
    assert m
    code, total = m[1], int(m[2])
    assert identifiers.validate_uscc(code) == code
    alphabet = identifiers.USCC_ALPHABET
    assert sum(alphabet.index(c) * pow(3, i, 31) for i, c in enumerate(code[:17])) == total
    assert identifiers.uscc_check_char(code[:17]) == code[17] == alphabet[(31 - total % 31) % 31]


def test_check_character_tables_are_the_codes() -> None:
    text = _section(PAGE_CERTS, 4)
    weights = re.search(r"```\n(7 9 10[0-9 ]+)\n```", text)
    assert weights and tuple(map(int, weights[1].split())) == identifiers._CID_WEIGHTS
    assert '`"10X98765432"' in text and identifiers._CID_CHECK == "10X98765432"
    assert f"```\n{identifiers.USCC_ALPHABET}\n```" in text
    assert "`3^(i−1) mod 31`" in text
