"""Service tables: the chain index (what the indexer follows), presentations, service events.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "chain_cursor",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("chain_id", sa.BigInteger, nullable=False),
        sa.Column("contract", sa.String(42), nullable=False),
        sa.Column("block", sa.BigInteger, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_table(
        "chain_anchors",
        sa.Column("root", sa.String(64), primary_key=True),
        sa.Column("issuer", sa.String(18), nullable=False),
        sa.Column("leaf_count", sa.Integer, nullable=False),
        sa.Column("block_number", sa.BigInteger, nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("tx_hash", sa.String(66), nullable=False),
    )
    op.create_table(
        "chain_status",
        sa.Column("issuer", sa.String(18), primary_key=True),
        sa.Column("leaf", sa.String(64), primary_key=True),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("reason", sa.Integer, nullable=False),
        sa.Column("block_number", sa.BigInteger, nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("superseded_by", sa.String(64)),
    )
    op.create_table(
        "chain_keys",
        sa.Column("issuer", sa.String(18), primary_key=True),
        sa.Column("key_id", sa.String(64), primary_key=True),
        sa.Column("valid_from", sa.BigInteger, nullable=False),
        sa.Column("valid_until", sa.BigInteger),
        sa.Column("compromised_at", sa.BigInteger),
        sa.Column("public_key", sa.String(130)),
    )
    op.create_table(
        "chain_events",
        sa.Column("block_number", sa.BigInteger, primary_key=True),
        sa.Column("log_index", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("issuer", sa.String(18), index=True),
        sa.Column("subject", sa.String(64), index=True),
        sa.Column("other", sa.String(64), index=True),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("tx_hash", sa.String(66), nullable=False),
        sa.Column("args", sa.Text, nullable=False),
    )
    op.create_table(
        "presentations",
        sa.Column("code_hash", sa.String(64), primary_key=True),
        sa.Column("identifier", sa.String(120), nullable=False, index=True),
        sa.Column("purpose", sa.String(200), nullable=False),
        sa.Column("fields", sa.Text),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("used_at", TZ),
        sa.Column("used_by", sa.String(200)),
    )
    op.create_table(
        "service_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("identifier", sa.String(120), nullable=False, index=True),
        sa.Column("event", sa.String(20), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )


def downgrade() -> None:
    for table in ("service_events", "presentations", "chain_events", "chain_keys",
                  "chain_status", "chain_anchors", "chain_cursor"):
        op.drop_table(table)
