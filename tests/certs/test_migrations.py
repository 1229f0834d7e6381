"""The migrations build exactly the schema the code declares (no drift), and an upgrade keeps
every stored certificate, document and proof (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from certs.batcher import Batcher
from certs.canonical import Anchor, CertificateDocument, make_document
from certs.events import event_row, write_events
from certs.merkle import MerkleTree, verify_proof
from certs.status import load_record, load_records
from certs.store import (
    HEAD_REVISION,
    MIGRATIONS,
    Store,
    batches,
    certificate_documents,
    metadata,
    service_events,
)
from tests.conftest import Issuer
from tests.postgres import postgres_server

from .samples import certificate, issuer_code


def test_migrated_schema_matches_the_declared_tables(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'm.sqlite3'}")
    with store.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), metadata)
    assert diff == []


def test_opening_twice_is_a_no_op(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.sqlite3'}"
    Store.open(url)
    store = Store.open(url)
    with store.engine.connect() as connection:
        version = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    assert version == HEAD_REVISION


def test_head_revision_is_the_newest_migration() -> None:
    """Opening a database skips Alembic when it is at HEAD_REVISION: a new migration must move
    that constant, or databases would not be upgraded."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_heads() == [HEAD_REVISION]


def test_opening_an_up_to_date_database_does_not_load_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.sqlite3'}"
    Store.open(url)
    script = (
        "import sys\n"
        "from certs.store import Store\n"
        f"Store.open({url!r})\n"
        "print('alembic' in sys.modules)\n"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=root
    )
    assert out.stdout.strip() == "False"


def test_a_database_behind_is_still_upgraded(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'm.sqlite3'}", migrate=False)
    _upgrade(store, "0002")
    store.migrate()
    with store.engine.connect() as connection:
        version = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        tables = set(sa.inspect(connection).get_table_names())
    assert version == HEAD_REVISION and "certificate_documents" in tables


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'm.sqlite3'}"
    else:
        with postgres_server() as url:
            yield url


def _upgrade(store: Store, revision: str, *, down: bool = False) -> None:
    """Migrate the store's database up (or ``down``) to ``revision``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


CHAIN_ID, CONTRACT, TX = 31337, "0x" + "12" * 20, "0x" + "ab" * 32
CREATED = dt.datetime(2026, 11, 28, 8, 0, tzinfo=dt.UTC)


def _insert_batch(connection: sa.Connection, issuer: str, tree: MerkleTree, state: str) -> int:
    anchored = state == "anchored"
    inserted = connection.execute(
        sa.text(
            "INSERT INTO batches (issuer, root, leaf_count, state, tx_hash, block_number, "
            "anchored_at, chain_id, contract, created_at) VALUES (:issuer, :root, :n, "
            ":state, :tx, :block, :anchored_at, :chain, :contract, :at) RETURNING id"
        ),
        {"issuer": issuer, "root": tree.root.hex(), "n": tree.size,
         "state": state, "tx": TX if anchored else None, "block": 12 if anchored else None,
         "anchored_at": CREATED if anchored else None, "chain": CHAIN_ID if anchored else None,
         "contract": CONTRACT if anchored else None, "at": CREATED},
    )
    return int(inserted.scalar_one())


def _insert_certificate(connection: sa.Connection, serial: int, issuer: str, leaf: bytes,
                        status: str, batch: tuple[int, MerkleTree, int] | None) -> str:
    """A certificate row as revision 0002 stored it (document inline, a JSON proof once it
    is in a batch); returns its document text."""
    doc = make_document(certificate(serial=f"{serial}"), random_bytes=os.urandom)
    connection.execute(
        sa.text(
            "INSERT INTO certificates (identifier, issuer, type_code, serial, leaf, status, "
            "document, batch_id, proof, created_at) VALUES (:id, :issuer, :type, :serial, "
            ":leaf, :status, :doc, :batch, :proof, :at)"
        ),
        {"id": str(doc.values()["identifier"]), "issuer": issuer,
         "type": doc.values()["type.code"], "serial": serial, "leaf": leaf.hex(),
         "status": status, "doc": doc.to_json(), "batch": batch[0] if batch else None,
         "proof": json.dumps(batch[1].proof(batch[2]).to_json()) if batch else None,
         "at": CREATED + dt.timedelta(seconds=serial)},
    )
    return doc.to_json()


def test_upgrade_to_narrow_rows_keeps_documents_and_proofs(empty_url: str) -> None:
    """A database written at 0002 (documents inline, a JSON proof per certificate) reads back
    the same documents after 0003, anchors and proofs included."""
    store = Store.open(empty_url, migrate=False)
    _upgrade(store, "0002")
    documents: dict[str, tuple[str, bytes, MerkleTree, int]] = {}
    with store.engine.begin() as connection:
        for size in (1, 2, 3, 5, 8, 13):
            leaves = [os.urandom(32) for _ in range(size)]
            tree = MerkleTree.build(leaves)
            batch_id = _insert_batch(connection, issuer_code(), tree, "anchored")
            for i, leaf in enumerate(leaves):
                serial = 100 * size + i
                text = _insert_certificate(
                    connection, serial, issuer_code(), leaf, "active", (batch_id, tree, i)
                )
                documents[str(CertificateDocument.from_json(text).values()["identifier"])] = (
                    text, leaf, tree, i
                )
    store.migrate()
    with store.engine.connect() as connection:
        version = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        stored = dict(connection.execute(sa.select(certificate_documents)).all())
    assert version == HEAD_REVISION
    assert stored == {identifier: text for identifier, (text, *_) in documents.items()}
    records = load_records(store, list(documents))
    for record in records:
        text, leaf, tree, index = documents[record.identifier]
        assert record.leaf == leaf and record.status == "active"
        expected = replace(
            CertificateDocument.from_json(text),
            anchor=Anchor(tree.root, tree.proof(index), CHAIN_ID, CONTRACT, TX, 12),
        )
        assert record.document == expected
        assert load_record(store, record.identifier).document == expected


def test_batches_half_done_at_0002_are_finished_after_the_upgrade(
    empty_url: str, issuer: Issuer
) -> None:
    """A batch prepared (proofs as JSON) but not sent before the upgrade is anchored after it
    with those proofs; a certificate still waiting goes into a new batch that stores its
    tree."""
    store = Store.open(empty_url, migrate=False)
    _upgrade(store, "0002")
    leaves = [os.urandom(32) for _ in range(3)]
    tree = MerkleTree.build(leaves)
    waiting_leaf = os.urandom(32)
    with store.engine.begin() as connection:
        batch_id = _insert_batch(connection, issuer.uscc, tree, "prepared")
        prepared = [
            _insert_certificate(
                connection, i + 1, issuer.uscc, leaf, "pending", (batch_id, tree, i)
            )
            for i, leaf in enumerate(leaves)
        ]
        waiting = _insert_certificate(connection, 9, issuer.uscc, waiting_leaf, "pending", None)
    store.migrate()
    results = Batcher(store, lambda uscc: issuer.registry).run_once()
    assert [(r.batch_id, r.state, r.leaf_count) for r in results] == [
        (batch_id, "anchored", 3), (batch_id + 1, "anchored", 1)
    ]
    assert results[0].root == tree.root
    identifiers = [str(CertificateDocument.from_json(t).values()["identifier"])
                   for t in [*prepared, waiting]]
    records = load_records(store, identifiers)
    for record, text in zip(records, [*prepared, waiting], strict=True):
        assert record.status == "active"
        anchor = record.document.anchor
        assert anchor is not None
        assert replace(record.document, anchor=None) == CertificateDocument.from_json(text)
        verify_proof(record.leaf, anchor.proof, anchor.root)
    assert [r.document.anchor.proof for r in records[:3] if r.document.anchor] == [
        tree.proof(i) for i in range(3)
    ]
    assert records[3].root == MerkleTree.build([waiting_leaf]).root
    with store.engine.connect() as connection:
        trees = connection.execute(sa.select(batches.c.id, batches.c.tree)).all()
    assert sorted((i, t is not None) for i, t in trees) == [
        (batch_id, False), (batch_id + 1, True)
    ]


def _column_storage(store: Store) -> dict[str, tuple[str, str]]:
    """PostgreSQL's storage strategy and compression method of the document and tree."""
    with store.engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT attrelid::regclass::text, attstorage, attcompression FROM pg_attribute "
            "WHERE (attrelid, attname) IN (('certificate_documents'::regclass, 'document'), "
            "('batches'::regclass, 'tree'))"
        ).all()
    return {str(table): (str(storage), str(compression)) for table, storage, compression in rows}


def test_postgres_stores_trees_uncompressed_and_documents_with_lz4() -> None:
    """Revision 0004: trees out of line and uncompressed (so a proof's nodes are read alone),
    documents compressed with lz4 where the server has it; the downgrade restores the
    defaults."""
    with postgres_server() as url:
        store = Store.open(url)
        with store.engine.connect() as connection:
            has_lz4 = connection.exec_driver_sql(
                "SELECT 'lz4' = ANY(enumvals) FROM pg_settings "
                "WHERE name = 'default_toast_compression'"
            ).scalar()
        assert _column_storage(store) == {
            "certificate_documents": ("x", "l" if has_lz4 else ""),
            "batches": ("e", ""),
        }
        _upgrade(store, "0003", down=True)
        assert _column_storage(store) == {
            "certificate_documents": ("x", ""), "batches": ("x", "")
        }
        _upgrade(store, "0004")
        assert _column_storage(store)["batches"] == ("e", "")


def test_upgrade_to_0006_keeps_certificates_that_share_a_number(empty_url: str) -> None:
    """Revision 0006 indexes (issuer, type, number) without making it unique: certificates
    stored before it may share a number, and a revoked one's number may be given again. Its
    downgrade drops the index and the idempotency table."""
    store = Store.open(empty_url, migrate=False)
    _upgrade(store, "0005")
    with store.engine.begin() as connection:
        for serial, status in ((1, "revoked"), (2, "active"), (3, "active")):
            connection.execute(
                sa.text(
                    "INSERT INTO certificates (identifier, issuer, type_code, serial, number, "
                    "leaf, status, created_at) VALUES (:id, :issuer, :type, :serial, 'N-1', "
                    ":leaf, :status, :at)"
                ),
                {"id": f"c{serial}", "issuer": issuer_code(), "type": "11100000000013338W032",
                 "serial": serial, "leaf": f"{serial:064x}", "status": status, "at": CREATED},
            )
    store.migrate()

    def indexes() -> set[str]:
        with store.engine.connect() as connection:
            inspector = sa.inspect(connection)
            return {str(i["name"]) for i in inspector.get_indexes("certificates")} | (
                {"idempotency_keys"} if inspector.has_table("idempotency_keys") else set()
            )

    assert {"ix_certificates_issuer_type_number", "idempotency_keys"} <= indexes()
    with store.engine.connect() as connection:
        held = store.numbers_held(
            connection, issuer_code(), [("11100000000013338W032", "N-1")]
        )
    assert held == {("11100000000013338W032", "N-1"): ("c2", "active")}
    _upgrade(store, "0005", down=True)
    assert not {"ix_certificates_issuer_type_number", "idempotency_keys"} & indexes()


def test_upgrade_to_0008_gives_old_events_their_role_agency_and_type(empty_url: str) -> None:
    """Events written before 0008 get their role from their actor's prefix and their agency
    and type from their certificate; an event may then name no certificate. The downgrade
    drops what 0007 could not hold (events without a certificate)."""
    store = Store.open(empty_url, migrate=False)
    _upgrade(store, "0007")
    uscc = issuer_code()
    with store.engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO certificates (identifier, issuer, type_code, serial, leaf, status, "
                "created_at) VALUES ('c1', :issuer, '11100000000013338W032', 1, :leaf, "
                "'active', :at)"
            ),
            {"issuer": uscc, "leaf": "11" * 32, "at": CREATED},
        )
        for actor, event in ((f"issuer:{uscc}", "issued"), ("counter:一号窗口", "verified"),
                             ("someone", "verified")):
            connection.execute(
                sa.text("INSERT INTO service_events (identifier, event, actor, detail, "
                        "created_at) VALUES ('c1', :event, :actor, '{}', :at)"),
                {"event": event, "actor": actor, "at": CREATED},
            )
    store.migrate()
    with store.engine.begin() as connection:
        rows = connection.execute(
            sa.select(service_events.c.role, service_events.c.issuer,
                      service_events.c.type_code).order_by(service_events.c.id)
        ).all()
        assert [tuple(r) for r in rows] == [
            ("issuer", uscc, "11100000000013338W032"),
            ("counter", uscc, "11100000000013338W032"),
            ("system", uscc, "11100000000013338W032"),
        ]
        write_events(connection, [event_row("redeem_refused", "counter:一号窗口")])
    _upgrade(store, "0007", down=True)
    with store.engine.connect() as connection:
        left = connection.exec_driver_sql("SELECT count(*) FROM service_events").scalar()
    assert left == 3
