"""Issuance, batching and anchoring against a real anvil, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import threading
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from certs import issuance, issue_rows
from certs import status as status_module
from certs.batcher import Batcher
from certs.bulk_writes import (
    CERTIFICATE_COLUMNS,
    CertificateRecord,
    assign_batch,
    assign_batch_row_by_row,
    insert_issued,
)
from certs.canonical import check_leaf
from certs.errors import DocumentError
from certs.issuance import IssuerProfile, issue, key_id_of
from certs.merkle import MerkleTree, verify_proof
from certs.sqlite_wal import PAGE_SIZE, WalCheckpoints
from certs.status import (
    WHOLE_TREE_ROWS,
    StatusChangeRefused,
    change_status,
    load_record,
    load_records,
)
from certs.store import (
    Store,
    batches,
    certificate_documents,
    certificates,
    document_json,
    metadata,
)
from certs.workers import can_fork
from chain.errors import ChainUnavailable
from chain.registry import ChainStatus, RegistryClient
from chain.rpc import Rpc
from seals.sm2 import KeySigner, generate_private_key, verify
from tests.conftest import Issuer, free_port
from tests.postgres import postgres_server

TODAY = dt.date(2026, 11, 28)
TYPE = "11100000000013338W032"


def request(name: str = "张三", code: str = "11010519491231002X", **extra: Any) -> dict[str, Any]:
    return {
        "type": TYPE,
        "holder": {"name": name, "code": code, "code_type": "111"},
        "issue_date": "2026-11-28",
        "valid_from": "2026-11-28",
        "valid_until": None,
        "jurisdiction": "360100",
        **extra,
    }


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        opened = Store.open(f"sqlite:///{tmp_path / 'z.sqlite3'}")
    else:
        url = request.getfixturevalue("postgres_url")
        opened = Store.open(url)
    yield opened
    if request.param == "postgresql":
        with opened.engine.begin() as connection:
            metadata.drop_all(connection)
            connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    opened.engine.dispose()


@pytest.fixture
def agency(issuer: Issuer) -> IssuerProfile:
    signer = KeySigner(generate_private_key())
    issuer.registry.add_key(issuer.uscc, key_id_of(signer.public_key), 0, None,
                            signer.public_key.point)
    return IssuerProfile(issuer.uscc, "示例市市场监督管理局", signer)


def batcher_for(issuer: Issuer, store: Store) -> Batcher:
    return Batcher(store, lambda uscc: issuer.registry)


def test_issue_rejects_bad_rows_and_keeps_the_good(store: Store, agency: IssuerProfile) -> None:
    rows = [
        (1, request()),
        (2, request(code="110105194912310021")),
        (3, "not an object"),
        (4, request(name="王䶮", valid_until="2020-01-01")),
    ]
    report = issue(store, agency, rows, today=TODAY)
    assert [a.line for a in report.accepted] == [1]
    assert [r.line for r in report.rejected] == [2, 3, 4]
    codes = {r.line: {e.code for e in r.errors} for r in report.rejected}
    assert "invalid_citizen_id" in codes[2]
    assert codes[4] == {"validity_order"}
    record = load_record(store, report.accepted[0].identifier)
    assert record.status == "pending" and record.document.anchor is None
    assert record.identifier.startswith(f"1.2.156.3005.2.{TYPE}.{agency.uscc}.00000001.001.")


def test_issued_rows_are_written_as_sqlalchemy_writes_them(
    store: Store, agency: IssuerProfile
) -> None:
    """Issuance inserts through the driver; its timestamps must be the dialect's own format
    (SQLite: text that sorts in time order), read back as the same instant."""
    before = dt.datetime.now(dt.UTC)
    report = issue(store, agency, [(1, request())], today=TODAY)
    identifier = report.accepted[0].identifier
    with store.engine.connect() as connection:
        stored = connection.execute(
            sa.select(certificates.c.created_at).where(certificates.c.identifier == identifier)
        ).scalar_one()
        if store.engine.dialect.name == "sqlite":
            raw = connection.exec_driver_sql(
                "SELECT created_at FROM certificates WHERE identifier = ?", (identifier,)
            ).scalar_one()
            assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}", raw), raw
    stored = stored if stored.tzinfo else stored.replace(tzinfo=dt.UTC)
    assert before <= stored <= dt.datetime.now(dt.UTC)


def test_inserted_certificates_read_back_exactly(store: Store) -> None:
    """Issuance writes through COPY (PostgreSQL) or the driver's executemany: every column
    and every character of a document (CJK, tabs, new lines, backslashes, COPY's own markers)
    comes back as given, a missing agency number as NULL."""
    created = dt.datetime(2026, 11, 28, 8, 30, 15, 123456, tzinfo=dt.UTC)
    text = '{"名称": "制\t证\n", "x": "\\N\\."}\t\n\\.\n\\N\r 证照'
    records = [
        {"identifier": f"1.2.156.3005.2.test.{i}", "issuer": "91110000101623741K",
         "type_code": TYPE, "serial": i + 1, "number": None if i % 2 else f"No.{i}",
         "leaf": f"{i:064x}", "status": "pending", "batch_id": None, "batch_index": None,
         "document": f"{text}{i}", "created_at": created}
        for i in range(3)
    ]
    columns = [c for c in records[0] if c not in ("document", "created_at")]
    assert columns == list(CERTIFICATE_COLUMNS[:-1])
    with store.transaction() as connection:
        insert_issued(connection, [], created)
        insert_issued(
            connection,
            [
                CertificateRecord(**{k: v for k, v in r.items() if k != "created_at"})
                for r in records
            ],
            created,
        )
    with store.engine.connect() as connection:
        rows = connection.execute(
            sa.select(certificates, certificate_documents.c.document)
            .join_from(
                certificates,
                certificate_documents,
                certificate_documents.c.identifier == certificates.c.identifier,
            )
            .order_by(certificates.c.serial)
        ).all()
    assert len(rows) == len(records)
    for record, row in zip(records, rows, strict=True):
        stored = row._asdict()
        at = stored.pop("created_at")
        assert (at if at.tzinfo else at.replace(tzinfo=dt.UTC)) == created
        assert {k: stored[k] for k in record if k != "created_at"} == {
            k: v for k, v in record.items() if k != "created_at"
        }


def test_batch_positions_are_the_same_row_by_row(store: Store, agency: IssuerProfile) -> None:
    """Both ways of putting certificates into a batch (one statement over the list, and the
    driver's executemany used where the database has no list form) give each certificate
    its position in the order given, and touch no other row."""
    report = issue(store, agency, [(i, request()) for i in range(7)], today=TODAY)
    identifiers = [a.identifier for a in report.accepted]
    order = identifiers[3:] + identifiers[:2][::-1]  # not issuance order; two left out
    placed, batch_ids = {}, {}
    for way, assign in (("list", assign_batch), ("rows", assign_batch_row_by_row)):
        with store.transaction() as connection:
            batch_ids[way] = batch_id = connection.execute(
                sa.insert(batches)
                .values(issuer=agency.uscc, root=f"{len(batch_ids):064x}", leaf_count=5,
                        state="prepared", created_at=dt.datetime.now(dt.UTC))
                .returning(batches.c.id)
            ).scalar_one()
            assign(connection, batch_id, order)
        with store.engine.connect() as connection:
            placed[way] = {
                identifier: (batch, index)
                for identifier, batch, index in connection.execute(
                    sa.select(
                        certificates.c.identifier,
                        certificates.c.batch_id,
                        certificates.c.batch_index,
                    )
                ).all()
            }
    for way, batch_id in batch_ids.items():
        assert placed[way] == {
            **{identifier: (None, None) for identifier in identifiers[2:3]},
            **{identifier: (batch_id, i) for i, identifier in enumerate(order)},
        }


def test_document_is_signed_over_its_leaf(store: Store, agency: IssuerProfile) -> None:
    report = issue(store, agency, [(1, request())], today=TODAY)
    document = load_record(store, report.accepted[0].identifier).document
    assert check_leaf(document) == ()
    assert document.signature is not None
    key_id = key_id_of(agency.signer.public_key)
    assert document.signature.key_id == key_id
    verify(agency.signer.public_key, document.signing_input(key_id), document.signature.value)


def test_batch_is_anchored_once_with_proofs(
    store: Store, agency: IssuerProfile, issuer: Issuer
) -> None:
    report = issue(store, agency, [(i, request()) for i in range(1, 8)], today=TODAY)
    results = batcher_for(issuer, store).run_once()
    assert len(results) == 1 and results[0].state == "anchored" and results[0].leaf_count == 7
    info = issuer.registry.anchor_of(results[0].root)
    assert info is not None and info.issuer == agency.uscc and info.leaf_count == 7
    for record in load_records(store, [a.identifier for a in report.accepted]):
        assert record.status == "active"
        anchor = record.document.anchor
        assert anchor is not None and anchor.root == results[0].root
        assert anchor.tx_hash == results[0].tx_hash and anchor.block == info.block_number
        verify_proof(record.leaf, anchor.proof, anchor.root)
    assert batcher_for(issuer, store).run_once() == []  # nothing left


def test_a_request_that_fills_batches_has_them_built_as_it_is_stored(
    store: Store, agency: IssuerProfile, issuer: Issuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """25 valid rows (and 2 bad ones) with batches of 10: the first 20 accepted rows, in row
    order, are stored in two prepared batches with their trees; the other 5 wait for the
    batcher. The batcher anchors all three batches once, and every proof verifies. A request
    that fails stores no batch either."""
    rows = [(i, request(name=f"持证人{i}")) for i in range(1, 28)]
    rows[4] = (5, request(code="110105194912310021"))  # wrong check digit
    rows[12] = (13, request(valid_until="2020-01-01"))  # ends before it starts
    report = issue(store, agency, rows, today=TODAY, batch_size=10)
    assert [r.line for r in report.rejected] == [5, 13] and len(report.accepted) == 25
    accepted = [a.identifier for a in report.accepted]
    with store.engine.connect() as connection:
        built = connection.execute(sa.select(batches).order_by(batches.c.id)).all()
        placed = {
            identifier: (batch_id, index)
            for identifier, batch_id, index in connection.execute(
                sa.select(
                    certificates.c.identifier, certificates.c.batch_id, certificates.c.batch_index
                )
            ).all()
        }
    assert [(b.state, b.leaf_count) for b in built] == [("prepared", 10), ("prepared", 10)]
    for k, batch in enumerate(built):
        members = accepted[10 * k : 10 * (k + 1)]
        assert [placed[i] for i in members] == [(batch.id, n) for n in range(10)]
        tree = MerkleTree.build([a.leaf for a in report.accepted[10 * k : 10 * (k + 1)]])
        assert (batch.tree, batch.root) == (tree.to_bytes(), tree.root.hex())
    assert all(placed[i] == (None, None) for i in accepted[20:])

    results = batcher_for(issuer, store).run_once()
    assert [(r.state, r.leaf_count) for r in results] == [("anchored", 10)] * 2 + [
        ("anchored", 5)
    ]
    for result in results:
        anchored = issuer.registry.anchor_of(result.root)
        assert anchored is not None and anchored.leaf_count == result.leaf_count
        assert len(issuer.registry.history_of_root(result.root)) == 1
    records = load_records(store, accepted)
    assert {r.status for r in records} == {"active"}
    for record in records:
        assert record.document.anchor is not None
        verify_proof(record.leaf, record.document.anchor.proof, record.document.anchor.root)
    assert batcher_for(issuer, store).run_once() == []

    def breaks(*args: Any) -> None:
        raise ZeroDivisionError("a bug while storing")

    for wrong in (0, -10):
        with pytest.raises(ValueError, match="batch_size"):
            issue(store, agency, rows, today=TODAY, batch_size=wrong)
    monkeypatch.setattr(issuance, "close_batch", breaks)
    with pytest.raises(ZeroDivisionError):
        issue(store, agency, rows, today=TODAY, batch_size=10)
    with store.engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(batches)).scalar() == 3
        assert connection.execute(
            sa.select(sa.func.count()).select_from(certificates)
        ).scalar() == 25


def test_batch_is_built_with_the_collector_paused(
    store: Store, agency: IssuerProfile, issuer: Issuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full collection in the middle of building a large batch's tree stalled anchoring
    (220 ms in a process holding a 10,000-row request); the batch is built with the
    collector paused, and the collector is back on afterwards."""
    import gc

    from certs import batcher as batcher_module

    seen: list[bool] = []
    build = batcher_module.tree_bytes

    def watched(leaves: bytes) -> bytes:
        seen.append(gc.isenabled())
        return build(leaves)

    monkeypatch.setattr(batcher_module, "tree_bytes", watched)
    issue(store, agency, [(1, request())], today=TODAY)
    assert gc.isenabled()
    (result,) = batcher_for(issuer, store).run_once()
    assert result.state == "anchored"
    assert seen == [False]
    assert gc.isenabled()


def test_document_texts_are_the_documents_json(
    store: Store, agency: IssuerProfile, issuer: Issuer
) -> None:
    """load_document_texts (the CLI's --out) writes the anchor into the stored text: the
    same JSON as the document read whole and written again, for anchored and pending
    certificates, and for a stored text not in canonical form."""
    anchored = issue(store, agency, [(i, request()) for i in range(5)], today=TODAY)
    batcher_for(issuer, store).run_once()
    pending = issue(store, agency, [(1, request(name="李四"))], today=TODAY)
    record = load_record(store, pending.accepted[0].identifier)
    odd = dict(json.loads(record.document.to_json()))
    odd["claims"] = dict(odd["claims"])
    identifier = "1.2.156.3005.2.test.odd"
    with store.transaction() as connection:
        document = json.dumps(odd, indent=2, ensure_ascii=True)
        insert_issued(
            connection,
            [CertificateRecord(identifier, agency.uscc, TYPE, 999, None, "ab" * 32, "pending",
                               None, None, document)],
            dt.datetime.now(dt.UTC),
        )
    identifiers = [a.identifier for a in (*anchored.accepted, *pending.accepted)] + [identifier]
    texts = status_module.load_document_texts(store, identifiers)
    expected = [r.document.to_json() for r in load_records(store, identifiers)]
    assert texts == expected
    assert all('"anchor":{"block":' in t for t in texts[:5])
    assert '"anchor":null' in texts[5] and texts[6] == record.document.to_json()
    with pytest.raises(status_module.CertificateNotFound):
        status_module.load_document_texts(store, ["1.2.156.3005.2.none"])


def test_sqlite_stores_documents_compressed(store: Store, agency: IssuerProfile) -> None:
    """On SQLite an issued document is stored as a zlib stream of its JSON (fewer bytes);
    PostgreSQL keeps the text (it compresses it itself). Either reads back as the same
    document, beside documents stored as text or as denser streams before."""
    report = issue(store, agency, [(i, request(name=f"持证人{i}")) for i in range(3)], today=TODAY)
    identifier = report.accepted[0].identifier
    with store.engine.connect() as connection:
        stored = connection.execute(
            sa.select(certificate_documents.c.document).where(
                certificate_documents.c.identifier == identifier
            )
        ).scalar_one()
    record = load_record(store, identifier)
    text = record.document.to_json()
    if store.engine.dialect.name == "sqlite":
        assert store.compresses_documents and isinstance(stored, bytes)
        assert zlib.decompress(stored).decode("utf-8") == text
        assert len(stored) < len(text.encode("utf-8")) * 0.85
    else:
        assert not store.compresses_documents and stored == text
    assert document_json(stored) == document_json(text) == text
    assert document_json(zlib.compress(text.encode("utf-8"), 9)) == text
    check_leaf(record.document)
    for damaged in (zlib.compress(text.encode())[:-9], zlib.compress(b"\xff\xfe")):
        with pytest.raises(DocumentError):
            document_json(damaged)


def test_every_batch_size_reads_back_proofs_that_verify(
    store: Store, agency: IssuerProfile, issuer: Issuer
) -> None:
    """Proofs come from each batch's stored tree (odd nodes promoted at several levels), the
    same whether a read takes only a proof's nodes (a few certificates, nothing in memory) or
    the whole tree (many certificates of one batch, or the tree already in memory)."""
    for size in (1, 2, 3, 5, 8, 13, WHOLE_TREE_ROWS + 1):
        report = issue(store, agency, [(i, request()) for i in range(size)], today=TODAY)
        (result,) = batcher_for(issuer, store).run_once()
        assert result.leaf_count == size
        identifiers = [a.identifier for a in report.accepted]
        status_module._trees.clear()
        one_by_one = [load_record(store, identifier) for identifier in identifiers]
        # PostgreSQL: only the proofs' nodes were read; SQLite: the whole tree, kept
        kept = status_module._trees.cached(result.root.hex()) is not None
        assert kept == (not store.slices_trees)
        together = load_records(store, identifiers)
        kept = status_module._trees.cached(result.root.hex()) is not None
        assert kept == (not store.slices_trees or size >= WHOLE_TREE_ROWS)
        positions = _positions(store, result.batch_id)
        ordered = sorted(together, key=lambda r: positions[r.identifier])
        tree = MerkleTree.build([r.leaf for r in ordered])
        assert tree.root == result.root
        for single, record in zip(one_by_one, together, strict=True):
            anchor = record.document.anchor
            assert anchor is not None and anchor.root == result.root
            assert anchor.proof == tree.proof(positions[record.identifier])
            verify_proof(record.leaf, anchor.proof, anchor.root)
            assert single.document == record.document
            assert load_record(store, record.identifier).document == record.document  # cached


def test_serials_have_no_gaps_or_duplicates_under_concurrency(
    store: Store, agency: IssuerProfile
) -> None:
    def one_call(n: int) -> list[str]:
        report = issue(store, agency, [(i, request()) for i in range(n)], today=TODAY)
        return [a.identifier for a in report.accepted]

    with ThreadPoolExecutor(6) as pool:
        issued = [i for chunk in pool.map(one_call, [3, 1, 4, 1, 5, 9, 2, 6]) for i in chunk]
    serials = sorted(int(i.split(".")[-3]) for i in issued)
    assert serials == list(range(1, 32))


def test_parallel_signing_matches_single_process(store: Store, agency: IssuerProfile) -> None:
    report = issue(store, agency, [(i, request()) for i in range(2_500)], today=TODAY, workers=2)
    assert len(report.accepted) == 2_500
    _assert_signed(agency, load_records(
        store, [report.accepted[i].identifier for i in (0, 1_234, 2_499)]
    ))


def _assert_signed(agency: IssuerProfile, records: list[Any]) -> None:
    """Each record's document is whole and signed by the agency's key."""
    for record in records:
        assert record.document.signature is not None
        verify(
            agency.signer.public_key,
            record.document.signing_input(record.document.signature.key_id),
            record.document.signature.value,
        )
        check_leaf(record.document)


def test_parallel_issuance_in_a_process_running_threads(
    store: Store, agency: IssuerProfile
) -> None:
    """A service runs threads: forking it is unsafe, so a large request is signed in the
    process itself (spawned workers once failed to receive the key and the types), with the
    same serials and signatures."""
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert not can_fork()
        report = issue(
            store, agency, [(i, request(name=f"持证人{i}")) for i in range(2_100)],
            today=TODAY, workers=2,
        )
    finally:
        release.set()
        other.join()
    assert len(report.accepted) == 2_100 and not report.rejected
    numbers = [int(a.identifier.split(".")[-3]) for a in report.accepted]
    assert numbers == list(range(1, 2_101))
    first, last = load_records(store, [report.accepted[i].identifier for i in (0, 2_099)])
    _assert_signed(agency, [first, last])
    assert last.document.values()["holder.name"] == "持证人2099"


def test_parallel_issuance_rejects_and_numbers_exactly_as_one_process(
    store: Store, agency: IssuerProfile
) -> None:
    """Workers validate chunks of rows; serials are still given in row order, gapless, and
    every bad row is reported with its line and reasons, in both paths alike."""

    def rows(offset: int) -> list[tuple[int, dict[str, Any]]]:
        out = []
        for i in range(2_200):
            if i % 450 == 7:  # bad rows in several chunks, one with two errors
                out.append((offset + i, request(code="11010519491231002Y", jurisdiction="x")))
            elif i % 450 == 8:
                out.append((offset + i, request(name="")))
            else:
                out.append((offset + i, request(name=f"持证人{i}")))
        return out

    serial = issue(store, agency, rows(0), today=TODAY, workers=1)
    parallel = issue(store, agency, rows(10_000), today=TODAY, workers=2)

    def shape(report: Any, offset: int) -> list[tuple[int, list[dict[str, str]]]]:
        return [(r.line - offset, [e.to_dict() for e in r.errors]) for r in report.rejected]

    assert shape(parallel, 10_000) == shape(serial, 0)
    assert len(parallel.rejected) == 10 and len(parallel.rejected[0].errors) == 2
    assert parallel.rejected[0].errors[0].code == "invalid_citizen_id"
    assert len(parallel.accepted) == len(serial.accepted) == 2_190
    numbers = [int(a.identifier.split(".")[-3]) for a in parallel.accepted]
    assert numbers == list(range(2_191, 2_191 + 2_190))  # row order, after the first call's
    assert [a.line - 10_000 for a in parallel.accepted] == [a.line for a in serial.accepted]
    record = load_record(store, parallel.accepted[-1].identifier)
    assert record.document.values()["holder.name"] == "持证人2199"
    check_leaf(record.document)


FOOD = "11100000MA0000001Q002"


def _food(name: str, type_code: str = FOOD) -> dict[str, Any]:
    fields = {"主体业态": "餐饮服务经营者", "经营场所": "示例路1号", "经营者名称": name,
              "经营项目": "热食类食品制售", "许可证编号": "JY13601000000001"}
    return request(name=name, type=type_code, fields=fields)


def test_parallel_issuance_numbers_each_type_in_row_order(
    store: Store, agency: IssuerProfile
) -> None:
    """Rows of several types, validated and signed chunk by chunk on workers: each type's
    serials follow row order without gaps, in both paths alike, a type only ever written with
    blanks around it (which validation trims) included."""

    def rows(offset: int) -> list[tuple[int, Any]]:
        out: list[tuple[int, Any]] = []
        for i in range(2_300):
            if i % 3 == 0:  # the food licence in every chunk, never written trimmed
                written = f" {FOOD}" if i % 2 else f"{FOOD}\u3000"
                out.append((offset + i, _food(f"食堂{i}", written)))
            elif i % 400 == 5:
                out.append((offset + i, request(type="11100000000000000X999")))  # unknown
            elif i == 1_001:
                out.append((offset + i, ["not", "an", "object"]))
            else:
                out.append((offset + i, request(name=f"持证人{i}")))
        return out

    def numbered(report: Any, offset: int) -> dict[str, list[tuple[int, int]]]:
        out: dict[str, list[tuple[int, int]]] = {}
        for a in report.accepted:
            parts = a.identifier.split(".")
            out.setdefault(parts[5], []).append((a.line - offset, int(parts[7])))
        return out

    serial = issue(store, agency, rows(0), today=TODAY, workers=1)
    parallel = issue(store, agency, rows(10_000), today=TODAY, workers=2)
    first, second = numbered(serial, 0), numbered(parallel, 10_000)
    assert set(first) == set(second) == {TYPE, FOOD}
    for code in (TYPE, FOOD):
        lines = [line for line, _ in first[code]]
        assert lines == sorted(lines) and [line for line, _ in second[code]] == lines
        n = len(lines)
        assert [number for _, number in first[code]] == list(range(1, n + 1))
        assert [number for _, number in second[code]] == list(range(n + 1, 2 * n + 1))
    assert len(first[FOOD]) == 767
    assert [r.line - 10_000 for r in parallel.rejected] == [r.line for r in serial.rejected]
    assert len(serial.rejected) == 5
    (row_21,) = [a for a in parallel.accepted if a.line == 10_021]
    trimmed = load_record(store, row_21.identifier)
    assert trimmed.document.values()["type.code"] == FOOD
    assert trimmed.document.values()["fields.经营者名称"] == "食堂21"


def test_a_failing_chunk_fails_the_request_and_stores_nothing(
    store: Store, agency: IssuerProfile, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A chunk whose validation breaks (a bug, not a bad row) ends the request with its
    error, on workers or not: nothing is stored and no serial is used."""
    validate = issue_rows.validate_chunk

    def breaks_on_third(job: Any, chunk: Any) -> Any:
        if chunk and chunk[0][0] == 2 * issuance.CHUNK:
            raise ZeroDivisionError("a bug in validation")
        return validate(job, chunk)

    monkeypatch.setattr(issue_rows, "validate_chunk", breaks_on_third)
    rows = [(i, request(name=f"持证人{i}")) for i in range(2_600)]
    for workers in (1, 2):
        with pytest.raises(ZeroDivisionError):
            issue(store, agency, rows, today=TODAY, workers=workers)
    with store.engine.connect() as connection:
        stored = connection.execute(sa.select(sa.func.count()).select_from(certificates))
        assert stored.scalar() == 0
    monkeypatch.undo()
    report = issue(store, agency, rows[:3], today=TODAY)
    assert [int(a.identifier.split(".")[-3]) for a in report.accepted] == [1, 2, 3]


def _prepare_only(batcher: Batcher) -> int:
    batch_id = batcher._prepare(1)
    assert batch_id is not None
    return batch_id


def _root_events(issuer: Issuer, store: Store, batch_id: int) -> int:
    with store.engine.connect() as connection:
        root = connection.execute(
            sa.select(batches.c.root).where(batches.c.id == batch_id)
        ).scalar_one()
    return len(issuer.registry.history_of_root(bytes.fromhex(root)))


def _positions(store: Store, batch_id: int) -> dict[str, int]:
    """Each certificate of a batch and its leaf's position in the batch's tree."""
    with store.engine.connect() as connection:
        rows = connection.execute(
            sa.select(certificates.c.identifier, certificates.c.batch_index).where(
                certificates.c.batch_id == batch_id
            )
        ).all()
    return {identifier: int(index) for identifier, index in rows}


def _states(store: Store) -> tuple[set[str], set[str]]:
    with store.engine.connect() as connection:
        return (
            set(connection.execute(sa.select(batches.c.state)).scalars()),
            set(connection.execute(sa.select(certificates.c.status)).scalars()),
        )


def test_crash_before_sending_is_finished_on_restart(
    store: Store, agency: IssuerProfile, issuer: Issuer
) -> None:
    report = issue(store, agency, [(i, request()) for i in range(5)], today=TODAY)
    batch_id = _prepare_only(batcher_for(issuer, store))  # the process dies here
    assert _states(store) == ({"prepared"}, {"pending"})
    with store.engine.connect() as connection:
        root, tree = connection.execute(
            sa.select(batches.c.root, batches.c.tree).where(batches.c.id == batch_id)
        ).one()
    positions = _positions(store, batch_id)
    # what was committed before the crash is the whole tree, each certificate placed in it
    leaves = {r.identifier: r.leaf for r in load_records(store, list(positions))}
    ordered = sorted(positions, key=positions.__getitem__)
    assert sorted(positions.values()) == list(range(5))
    built = MerkleTree.build([leaves[i] for i in ordered])
    assert bytes(tree) == built.to_bytes() and root == built.root.hex()
    status_module._trees.clear()  # a new process: nothing in memory
    (result,) = batcher_for(issuer, store).run_once()
    assert result.batch_id == batch_id and result.root == built.root
    assert _states(store) == ({"anchored"}, {"active"})
    assert _root_events(issuer, store, batch_id) == 1
    for record in load_records(store, [a.identifier for a in report.accepted]):
        anchor = record.document.anchor
        assert anchor is not None and anchor.root == built.root
        assert anchor.proof == built.proof(positions[record.identifier])
        verify_proof(record.leaf, anchor.proof, anchor.root)


def test_crash_after_receipt_does_not_resend(
    store: Store, agency: IssuerProfile, issuer: Issuer
) -> None:
    issue(store, agency, [(1, request())], today=TODAY)
    batcher = batcher_for(issuer, store)
    batch_id = _prepare_only(batcher)
    with store.engine.connect() as connection:
        batch = connection.execute(sa.select(batches).where(batches.c.id == batch_id)).one()
    receipt = issuer.registry.anchor(agency.uscc, bytes.fromhex(batch.root), batch.leaf_count)
    # mined, but the process died before recording anything
    batcher_for(issuer, store).run_once()
    assert _states(store) == ({"anchored"}, {"active"})
    assert _root_events(issuer, store, batch_id) == 1
    with store.engine.connect() as connection:
        assert connection.execute(sa.select(batches.c.tx_hash)).scalar_one() == receipt.tx_hash


def test_crash_while_transaction_pending_anchors_exactly_once(
    store: Store, agency: IssuerProfile, issuer: Issuer, rpc: Rpc
) -> None:
    issue(store, agency, [(1, request())], today=TODAY)
    batch_id = _prepare_only(batcher_for(issuer, store))
    with store.engine.connect() as connection:
        batch = connection.execute(sa.select(batches).where(batches.c.id == batch_id)).one()
    sender = issuer.registry.sender
    assert sender is not None
    rpc.call("evm_setAutomine", [False])
    try:
        # sent, still in the mempool, when the process died
        sender.submit(
            to=issuer.registry.deployment.certificate_registry,
            data=issuer.registry.anchor_call(agency.uscc, bytes.fromhex(batch.root), 1),
        )
        restarted = threading.Thread(target=batcher_for(issuer, store).run_once)
        restarted.start()
        restarted.join(1.0)  # it sends again and waits for a receipt
        rpc.call("evm_mine")
        restarted.join(30)
        assert not restarted.is_alive()
    finally:
        rpc.call("evm_setAutomine", [True])
    assert _states(store) == ({"anchored"}, {"active"})
    assert _root_events(issuer, store, batch_id) == 1


def test_chain_down_queues_then_resumes(
    store: Store, agency: IssuerProfile, issuer: Issuer
) -> None:
    report = issue(store, agency, [(1, request())], today=TODAY)  # needs no chain
    dead = RegistryClient(
        Rpc(f"http://127.0.0.1:{free_port()}", timeout=1),
        issuer.registry.deployment,
        issuer.registry.sender,
    )
    with pytest.raises(ChainUnavailable):
        Batcher(store, lambda uscc: dead).run_once()
    assert _states(store) == ({"prepared"}, {"pending"})
    batcher_for(issuer, store).run_once()
    assert load_record(store, report.accepted[0].identifier).status == "active"


def test_status_changes_single_bulk_and_supersede(
    store: Store, agency: IssuerProfile, issuer: Issuer
) -> None:
    report = issue(store, agency, [(i, request()) for i in range(5)], today=TODAY)
    batcher_for(issuer, store).run_once()
    ids = [a.identifier for a in report.accepted]
    reg, uscc = issuer.registry, agency.uscc
    change_status(store, reg, uscc, ids[:1], "suspend", reason_code=7, reason="核查")
    assert reg.status_of(uscc, load_record(store, ids[0]).leaf).status is (
        ChainStatus.SUSPENDED
    )
    change_status(store, reg, uscc, ids[:1], "reinstate", reason="核查完毕")
    receipt = change_status(store, reg, uscc, ids[1:3], "revoke", reason_code=1, reason="有误")
    assert len(issuer.registry.events(receipt.block_number, receipt.block_number)) == 2
    assert [r.status for r in load_records(store, ids[:3])] == ["active", "revoked", "revoked"]
    with pytest.raises(StatusChangeRefused) as caught:
        change_status(store, reg, uscc, ids[1:2], "suspend")
    assert caught.value.code == "cannot_suspend"
    with pytest.raises(StatusChangeRefused) as caught:
        change_status(store, reg, "91350100M000100Y43", ids[3:4], "revoke")
    assert caught.value.code == "not_your_certificate"
    change_status(store, reg, uscc, ids[3:4], "supersede", reason_code=5, successor=ids[4])
    state = reg.status_of(uscc, load_record(store, ids[3]).leaf)
    assert state.status is ChainStatus.SUPERSEDED
    assert state.superseded_by == load_record(store, ids[4]).leaf


def test_pending_certificate_cannot_change_status(
    store: Store, agency: IssuerProfile, issuer: Issuer
) -> None:
    report = issue(store, agency, [(1, request())], today=TODAY)
    with pytest.raises(StatusChangeRefused) as caught:
        change_status(
            store, issuer.registry, agency.uscc, [report.accepted[0].identifier], "revoke"
        )
    assert caught.value.code == "cannot_revoke"


def test_document_json_round_trips(store: Store, agency: IssuerProfile, issuer: Issuer) -> None:
    report = issue(store, agency, [(1, request())], today=TODAY)
    batcher_for(issuer, store).run_once()
    document = load_record(store, report.accepted[0].identifier).document
    text = document.to_json()
    assert json.loads(text)["anchor"]["chain_id"] == 3005
    assert type(document).from_json(text) == document


def test_new_sqlite_databases_use_8k_pages_and_old_ones_keep_theirs(tmp_path: Path) -> None:
    """Pages that hold more than one ~3 KB document; a database made with another page size
    opens and works as it is."""
    fresh = Store.open(f"sqlite:///{tmp_path / 'new.sqlite3'}")
    with fresh.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA page_size").scalar() == PAGE_SIZE == 8192
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    old = tmp_path / "old.sqlite3"
    engine = sa.create_engine(f"sqlite:///{old}")
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA page_size=4096")
        connection.exec_driver_sql("CREATE TABLE earlier (x INTEGER)")
    engine.dispose()
    store = Store.open(f"sqlite:///{old}")
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA page_size").scalar() == 4096
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert "certificates" in sa.inspect(connection).get_table_names()


def _rows_in_file_alone(database: Path, table: str, tmp_path: Path) -> int:
    """Rows of ``table`` in the database file itself, without its WAL (what a checkpoint
    has copied there)."""
    alone = tmp_path / "alone.sqlite3"
    alone.write_bytes(database.read_bytes())
    engine = sa.create_engine(f"sqlite:///{alone}")
    try:
        with engine.connect() as connection:
            return int(connection.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one())
    finally:
        engine.dispose()


def test_sqlite_commits_reach_the_database_file_in_the_background(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A commit leaves its pages in the WAL, even a large one (10 MB, past SQLite's own
    1,000-page checkpoint), and returns; the background checkpoint then copies them into
    the database file and syncs it."""
    path = tmp_path / "z.sqlite3"
    store = Store.open(f"sqlite:///{path}")
    store.wait_for_checkpoints()
    checkpoint_soon = WalCheckpoints.soon
    monkeypatch.setattr(WalCheckpoints, "soon", lambda self: None)
    with store.transaction() as connection:
        connection.execute(
            certificate_documents.insert(),
            [{"identifier": f"doc-{i}", "document": f"{i:05d}" * 1_000} for i in range(2_000)],
        )
    with store.engine.connect() as connection:  # committed: readers see it through the WAL
        assert connection.execute(
            sa.select(sa.func.count()).select_from(certificate_documents)
        ).scalar_one() == 2_000
    assert _rows_in_file_alone(path, "certificate_documents", tmp_path) == 0
    monkeypatch.setattr(WalCheckpoints, "soon", checkpoint_soon)
    with store.transaction() as connection:
        connection.execute(certificate_documents.insert(), {"identifier": "last", "document": "x"})
    store.wait_for_checkpoints()
    assert _rows_in_file_alone(path, "certificate_documents", tmp_path) == 2_001
    assert not any(t.name == "zhengyin-wal-checkpoint" for t in threading.enumerate())
    store.engine.dispose()


def _held_checkpoints(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> tuple[threading.Event, threading.Event]:
    """From now on a checkpoint thread of ``store`` sets the first event when it starts and
    holds until the second is set (at most 10 s)."""
    store.wait_for_checkpoints()
    started, release = threading.Event(), threading.Event()
    checkpoints = WalCheckpoints._run

    def slow_checkpoints(self: WalCheckpoints) -> None:
        started.set()
        release.wait(10)
        checkpoints(self)

    monkeypatch.setattr(WalCheckpoints, "_run", slow_checkpoints)
    return started, release


def test_issuance_forks_workers_after_a_checkpoint_in_progress(
    tmp_path: Path, agency: IssuerProfile, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The checkpoint thread of an earlier commit is waited for, not taken for a service's
    threads: the request is still signed on worker processes."""
    store = Store.open(f"sqlite:///{tmp_path / 'z.sqlite3'}")
    started, release = _held_checkpoints(store, monkeypatch)
    pools: list[int] = []
    started_workers = issuance.Workers
    monkeypatch.setattr(
        issuance,
        "Workers",
        lambda count, factory: pools.append(count) or started_workers(count, factory),
    )
    issue(store, agency, [(1, request())], today=TODAY)
    assert started.wait(10) and not can_fork()
    threading.Timer(0.2, release.set).start()
    report = issue(store, agency, [(i, request()) for i in range(2_000)], today=TODAY, workers=2)
    assert len(report.accepted) == 2_000 and pools == [2]
    _assert_signed(agency, load_records(store, [report.accepted[-1].identifier]))
    store.wait_for_checkpoints()
    store.engine.dispose()


def test_a_forked_child_checkpoints_its_own_commits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process forked while its parent's checkpoint thread runs does not have that thread:
    its store starts its own for its commits, and waiting for it returns."""
    path = tmp_path / "z.sqlite3"
    store = Store.open(f"sqlite:///{path}")
    started, release = _held_checkpoints(store, monkeypatch)
    with store.transaction() as connection:
        connection.execute(certificate_documents.insert(), {"identifier": "a", "document": "x"})
    assert started.wait(10)
    child = os.fork()
    if child == 0:  # pragma: no cover (the child reports through its exit status)
        status = 1
        try:
            store.engine.dispose(close=False)  # the parent's connections stay the parent's
            release.set()
            with store.transaction() as connection:
                connection.execute(
                    certificate_documents.insert(), {"identifier": "b", "document": "y"}
                )
            store.wait_for_checkpoints()
            status = 0 if _rows_in_file_alone(path, "certificate_documents", tmp_path) == 2 else 3
        finally:
            os._exit(status)
    deadline = time.monotonic() + 20
    while (done := os.waitpid(child, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    if done[0] == 0:
        os.kill(child, 9)
        os.waitpid(child, 0)
    release.set()
    store.wait_for_checkpoints()
    assert done[0] == child and os.waitstatus_to_exitcode(done[1]) == 0
    store.engine.dispose()
