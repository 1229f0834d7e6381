"""The migrations build exactly the schema the code declares (no drift), and an upgrade keeps
every stored certificate, document and proof (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext

from certs.canonical import CertificateDocument, make_document
from certs.merkle import MerkleTree
from certs.status import load_record
from certs.store import MIGRATIONS, Store, certificate_documents, metadata
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
    assert version == "0003"


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'm.sqlite3'}"
    else:
        with postgres_server() as url:
            yield url


def _upgrade(store: Store, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def test_upgrade_to_narrow_rows_keeps_documents_and_proofs(empty_url: str) -> None:
    """A database written at 0002 (documents inline, a JSON proof per certificate) reads back
    the same after 0003, and new batches then store their tree instead of proofs."""
    store = Store.open(empty_url, migrate=False)
    _upgrade(store, "0002")
    leaves = [bytes([i]) * 32 for i in range(3)]
    tree = MerkleTree.build(leaves)
    created = dt.datetime(2026, 11, 28, 8, 0, tzinfo=dt.UTC)
    documents = {}
    with store.engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO batches (id, issuer, root, leaf_count, state, tx_hash, "
                "block_number, anchored_at, chain_id, contract, created_at) VALUES (1, "
                ":issuer, :root, 3, 'anchored', :tx, 12, :at, 31337, :contract, :at)"
            ),
            {"issuer": issuer_code(), "root": tree.root.hex(), "tx": "0x" + "ab" * 32,
             "at": created, "contract": "0x" + "12" * 20},
        )
        for i, leaf in enumerate(leaves):
            doc = make_document(certificate(serial=f"{i + 1}"), random_bytes=os.urandom)
            identifier = str(doc.values()["identifier"])
            documents[identifier] = (doc.to_json(), leaf, i)
            connection.execute(
                sa.text(
                    "INSERT INTO certificates (identifier, issuer, type_code, serial, leaf, "
                    "status, document, batch_id, proof, created_at) VALUES (:id, :issuer, "
                    ":type, :serial, :leaf, 'active', :doc, 1, :proof, :at)"
                ),
                {"id": identifier, "issuer": issuer_code(), "type": doc.values()["type.code"],
                 "serial": i + 1,
                 "leaf": leaf.hex(), "doc": doc.to_json(),
                 "proof": json.dumps(tree.proof(i).to_json()), "at": created},
            )
    store.migrate()
    with store.engine.connect() as connection:
        version = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    assert version == "0003"
    for identifier, (text, leaf, index) in documents.items():
        record = load_record(store, identifier)
        assert record.leaf == leaf and record.status == "active"
        assert record.document.anchor is not None
        assert record.document.anchor.proof == tree.proof(index)
        bare = CertificateDocument.from_json(text)
        assert record.document.claims == bare.claims and record.document.leaf == bare.leaf
    with store.engine.connect() as connection:
        assert connection.execute(sa.select(certificate_documents)).all() != []
