"""Requests from CSV: each record of a CSV text (header first) unflattened into the request
object :func:`certs.request_parser.parse_request` takes (``holder.name``, ``fields.企业名称``,
``annotations.1`` …)."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any


def request_from_csv_row(row: Mapping[Any, Any]) -> dict[str, Any]:
    """Unflatten a CSV row (``holder.name``, ``fields.企业名称``, ``annotations.1`` …) into the
    request object that :func:`parse_request` takes. Empty cells count as absent; unknown
    columns are kept so that :func:`parse_request` reports them; extra cells beyond the header
    (``csv.DictReader`` puts them under the key ``None``) are reported as ``(extra cells)``."""
    out: dict[str, Any] = {}
    holder: dict[str, Any] = {}
    fields: dict[str, Any] = {}
    annotations: list[tuple[int, Any]] = []
    for key, value in row.items():
        if not isinstance(key, str):
            if value:
                out["(extra cells)"] = value
            continue
        if value is None or (isinstance(value, str) and value.strip() == ""):
            continue
        head, dot, rest = key.partition(".")
        if head == "holder" and dot:
            holder[rest] = value
        elif head == "fields" and dot:
            fields[rest] = value
        elif head == "annotations" and dot and rest.isdigit() and rest.isascii():
            annotations.append((int(rest), value))
        else:
            out[key] = value
    if holder:
        out["holder"] = holder
    if fields:
        out["fields"] = fields
    if annotations:
        out["annotations"] = [value for _, value in sorted(annotations, key=lambda a: a[0])]
    return out


def requests_from_csv(text: str) -> list[tuple[int, dict[str, Any]]]:
    """``(line, request)`` for each record of a CSV text whose first line is the header.

    ``line`` is where the record STARTS in the file, as a clerk finds it in an editor: a
    quoted cell may span lines (``csv.DictReader.line_num`` is the record's LAST line), and
    blank lines are skipped. Cells are keyed by the header as ``csv.DictReader`` keys them
    (extra cells under ``None``) and unflattened by :func:`request_from_csv_row`.
    Raises ``csv.Error`` for text the csv module cannot read."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    rows: list[tuple[int, dict[str, Any]]] = []
    while header is not None:
        start = reader.line_num + 1
        cells = next(reader, None)
        if cells is None:
            break
        if not cells:
            continue
        row: dict[str | None, Any] = dict(zip(header, cells, strict=False))
        if len(cells) > len(header):
            row[None] = cells[len(header) :]
        rows.append((start, request_from_csv_row(row)))
    return rows
