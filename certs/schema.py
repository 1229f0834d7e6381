"""The database schema: every table the service keeps, as SQLAlchemy Core metadata. The
schema itself is owned by the Alembic migrations (``certs/migrations``); a test holds these
declarations equal to what the migrations make."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

metadata = sa.MetaData()

issuers = sa.Table(
    "issuers",
    metadata,
    sa.Column("uscc", sa.String(18), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("account", sa.String(42), nullable=False),
    sa.Column("key_id", sa.String(64), nullable=False),
    sa.Column("public_key", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("subject", sa.String(200), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
)

serials = sa.Table(
    "serials",
    metadata,
    sa.Column("issuer", sa.String(18), primary_key=True),
    sa.Column("type_code", sa.String(21), primary_key=True),
    sa.Column("next_serial", sa.BigInteger, nullable=False),
)

batches = sa.Table(
    "batches",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("issuer", sa.String(18), nullable=False, index=True),
    sa.Column("root", sa.String(64), nullable=False, unique=True),
    sa.Column("leaf_count", sa.Integer, nullable=False),
    sa.Column("state", sa.String(16), nullable=False, index=True),
    sa.Column("tx_hash", sa.String(66)),
    sa.Column("block_number", sa.BigInteger),
    sa.Column("anchored_at", sa.DateTime(timezone=True)),
    sa.Column("chain_id", sa.BigInteger),
    sa.Column("contract", sa.String(42)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("tree", sa.LargeBinary),
    # every node of the batch's Merkle tree, level 0 first, 32 bytes each (certs.merkle);
    # PostgreSQL: STORAGE EXTERNAL (migration 0004), so substrings read only what they need
)

certificates = sa.Table(
    "certificates",
    metadata,
    sa.Column("identifier", sa.String(120), primary_key=True),
    sa.Column("issuer", sa.String(18), nullable=False, index=True),
    sa.Column("type_code", sa.String(21), nullable=False),
    sa.Column("serial", sa.BigInteger, nullable=False),
    sa.Column("number", sa.String(64), index=True),
    sa.Column("leaf", sa.String(64), nullable=False, unique=True),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("batch_id", sa.Integer, sa.ForeignKey("batches.id"), index=True),
    sa.Column("proof", sa.Text),
    # JSON proof, only for certificates anchored before migration 0003
    sa.Column("supersedes", sa.String(120)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("batch_index", sa.Integer),
    # the leaf's position in its batch's tree
    sa.UniqueConstraint("issuer", "type_code", "serial", name="uq_certificate_serial"),
    sa.Index("ix_certificates_issuer_type_number", "issuer", "type_code", "number"),
    # issuance looks up the agency numbers of each chunk of rows in one query (migration 0006)
)

certificate_documents = sa.Table(
    "certificate_documents",
    metadata,
    sa.Column("identifier", sa.String(120), primary_key=True),
    sa.Column("document", sa.Text, nullable=False),
    # kept apart so that the certificate rows the batcher updates stay narrow;
    # PostgreSQL: COMPRESSION lz4 where the server has it (migration 0004); SQLite: the JSON
    # text, or (issued since) a zlib stream of it, a BLOB (see Store.compresses_documents)
)

status_changes = sa.Table(
    "status_changes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("identifier", sa.String(120), nullable=False, index=True),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("reason_code", sa.Integer, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("tx_hash", sa.String(66)),
    sa.Column("block_number", sa.BigInteger),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("note", sa.Text),
    # set on a change this service made without a request: "resent: …" (the chain lost the
    # first transaction in a rollback) or "reconciled: …" (the database followed the chain)
)

chain_cursor = sa.Table(
    "chain_cursor",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("chain_id", sa.BigInteger, nullable=False),
    sa.Column("contract", sa.String(42), nullable=False),
    sa.Column("block", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("block_hash", sa.String(66)),
    # the hash of ``block`` when it was indexed: a catch-up first checks the chain still has it
    sa.Column("generation", sa.BigInteger, nullable=False, server_default="0"),
    # bumped by every rewind: each process drops its cached chain facts when it moves
    sa.Column("rewound_to", sa.BigInteger),
    # the block the last rewind went back to
    sa.Column("head", sa.BigInteger),
    sa.Column("confirmed_block", sa.BigInteger),
    sa.Column("confirmed_at", sa.Float(precision=53)),
    # the last confirmation that the index is current (PostgreSQL, shared by every instance):
    # the chain's head then, the block the index had to reach (head less confirmations), and
    # when, in seconds since the epoch on the database's own clock (read before the head)
)

chain_checkpoints = sa.Table(
    "chain_checkpoints",
    metadata,
    sa.Column("block_number", sa.BigInteger, primary_key=True),
    sa.Column("block_hash", sa.String(66), nullable=False),
)

chain_anchors = sa.Table(
    "chain_anchors",
    metadata,
    sa.Column("root", sa.String(64), primary_key=True),
    sa.Column("issuer", sa.String(18), nullable=False),
    sa.Column("leaf_count", sa.Integer, nullable=False),
    sa.Column("block_number", sa.BigInteger, nullable=False),
    sa.Column("timestamp", sa.BigInteger, nullable=False),
    sa.Column("tx_hash", sa.String(66), nullable=False),
)

chain_status = sa.Table(
    "chain_status",
    metadata,
    sa.Column("issuer", sa.String(18), primary_key=True),
    sa.Column("leaf", sa.String(64), primary_key=True),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("reason", sa.Integer, nullable=False),
    sa.Column("block_number", sa.BigInteger, nullable=False),
    sa.Column("timestamp", sa.BigInteger, nullable=False),
    sa.Column("superseded_by", sa.String(64)),
)

chain_keys = sa.Table(
    "chain_keys",
    metadata,
    sa.Column("issuer", sa.String(18), primary_key=True),
    sa.Column("key_id", sa.String(64), primary_key=True),
    sa.Column("valid_from", sa.BigInteger, nullable=False),
    sa.Column("valid_until", sa.BigInteger),
    sa.Column("compromised_at", sa.BigInteger),
    sa.Column("public_key", sa.String(130)),
)

chain_events = sa.Table(
    "chain_events",
    metadata,
    sa.Column("block_number", sa.BigInteger, primary_key=True),
    sa.Column("log_index", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(40), nullable=False),
    sa.Column("issuer", sa.String(18), index=True),
    sa.Column("subject", sa.String(64), index=True),
    sa.Column("other", sa.String(64), index=True),
    sa.Column("timestamp", sa.BigInteger, nullable=False),
    sa.Column("tx_hash", sa.String(66), nullable=False, index=True),
    # a service event's transaction finds its chain event (migration 0008)
    sa.Column("args", sa.Text, nullable=False),
)

presentations = sa.Table(
    "presentations",
    metadata,
    sa.Column("code_hash", sa.String(64), primary_key=True),
    sa.Column("identifier", sa.String(120), nullable=False, index=True),
    sa.Column("purpose", sa.String(200), nullable=False),
    sa.Column("fields", sa.Text),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("used_at", sa.DateTime(timezone=True)),
    sa.Column("used_by", sa.String(200)),
)

service_events = sa.Table(
    "service_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    # the event's sequence: ids are given in commit order (certs.events.write_events), so
    # the audit log is read in id order, a page at a time, without skipping a late commit
    sa.Column("identifier", sa.String(120), index=True),
    # null for an attempt that names no stored certificate (an unknown presentation code)
    sa.Column("event", sa.String(20), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("role", sa.String(16), nullable=False, server_default="system"),
    # admin, issuer, counter, auditor, holder or system (migration 0008)
    sa.Column("issuer", sa.String(18), index=True),
    sa.Column("type_code", sa.String(21)),
    # the agency and the certificate type the event is about (copied: the log is filtered
    # by them without a join)
    sa.Column("reason_code", sa.Integer),
    sa.Column("reason", sa.Text),
    # a status change's reason (code and words), or a refusal's error code and message
    sa.Column("tx_hash", sa.String(66)),
    # the chain transaction the event caused (a status change): its chain event is attached
    # (found in chain_events by this hash; no index here: issuance would pay for it)
    sa.Column("chain_block", sa.BigInteger),
    # the chain block the service knew when the event happened (the index's block, or the
    # block of the transaction it caused): where chain-only events fall among the service's
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("principal", sa.String(220), primary_key=True),
    # who asked (``role:subject``): another caller's same key is another key
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("digest", sa.String(64), nullable=False),
    # SHA-256 of the request (route, content type, body): never the body itself
    sa.Column("status_code", sa.Integer, nullable=False),
    sa.Column("response", sa.Text, nullable=False),
    # the JSON answer as sent; the key is claimed and answered in the transaction that
    # issues, so no other transaction ever sees it unanswered (migration 0006)
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
HEAD_REVISION = "0008"
"""The newest migration's revision (a test holds it equal to Alembic's head)."""
