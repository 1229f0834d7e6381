"""Initial schema: issuers, API keys, serials, batches, certificates, status changes.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "issuers",
        sa.Column("uscc", sa.String(18), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("account", sa.String(42), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("public_key", sa.String(200), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("revoked_at", TZ),
    )
    op.create_table(
        "serials",
        sa.Column("issuer", sa.String(18), primary_key=True),
        sa.Column("type_code", sa.String(21), primary_key=True),
        sa.Column("next_serial", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "batches",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("issuer", sa.String(18), nullable=False, index=True),
        sa.Column("root", sa.String(64), nullable=False, unique=True),
        sa.Column("leaf_count", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("tx_hash", sa.String(66)),
        sa.Column("block_number", sa.BigInteger),
        sa.Column("anchored_at", TZ),
        sa.Column("chain_id", sa.BigInteger),
        sa.Column("contract", sa.String(42)),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "certificates",
        sa.Column("identifier", sa.String(120), primary_key=True),
        sa.Column("issuer", sa.String(18), nullable=False, index=True),
        sa.Column("type_code", sa.String(21), nullable=False),
        sa.Column("serial", sa.BigInteger, nullable=False),
        sa.Column("number", sa.String(64), index=True),
        sa.Column("leaf", sa.String(64), nullable=False, unique=True),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("batch_id", sa.Integer, sa.ForeignKey("batches.id"), index=True),
        sa.Column("proof", sa.Text),
        sa.Column("supersedes", sa.String(120)),
        sa.Column("created_at", TZ, nullable=False),
        sa.UniqueConstraint("issuer", "type_code", "serial", name="uq_certificate_serial"),
    )
    op.create_table(
        "status_changes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("identifier", sa.String(120), nullable=False, index=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("reason_code", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("tx_hash", sa.String(66)),
        sa.Column("block_number", sa.BigInteger),
        sa.Column("created_at", TZ, nullable=False),
    )


def downgrade() -> None:
    for table in ("status_changes", "certificates", "batches", "serials", "api_keys", "issuers"):
        op.drop_table(table)
