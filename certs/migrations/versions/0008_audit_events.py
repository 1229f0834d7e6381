"""The audit log: each service event says who (actor and role), about what (agency,
certificate type; a certificate, or none for an attempt that names no stored one), why (a
reason code and text) and where it stands against the chain (the transaction it caused, the
chain block the service knew then); chain events are found by transaction.

Rows written before this revision get their role from their actor's prefix (``issuer:…``)
and their agency and type from their certificate; their chain block stays unknown (null).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_ROLES = ("admin", "issuer", "counter", "auditor", "holder")


def upgrade() -> None:
    with op.batch_alter_table("service_events") as batch:
        batch.alter_column("identifier", existing_type=sa.String(120), nullable=True)
        batch.add_column(
            sa.Column("role", sa.String(16), nullable=False, server_default="system")
        )
        batch.add_column(sa.Column("issuer", sa.String(18)))
        batch.add_column(sa.Column("type_code", sa.String(21)))
        batch.add_column(sa.Column("reason_code", sa.Integer))
        batch.add_column(sa.Column("reason", sa.Text))
        batch.add_column(sa.Column("tx_hash", sa.String(66)))
        batch.add_column(sa.Column("chain_block", sa.BigInteger))
    cases = " ".join(f"WHEN actor LIKE '{role}:%' THEN '{role}'" for role in _ROLES)
    op.execute(f"UPDATE service_events SET role = CASE {cases} ELSE 'system' END")
    op.execute(
        "UPDATE service_events SET "
        "issuer = (SELECT c.issuer FROM certificates c "
        "WHERE c.identifier = service_events.identifier), "
        "type_code = (SELECT c.type_code FROM certificates c "
        "WHERE c.identifier = service_events.identifier)"
    )
    op.create_index("ix_service_events_issuer", "service_events", ["issuer"])
    op.create_index("ix_service_events_created_at", "service_events", ["created_at"])
    op.create_index("ix_chain_events_tx_hash", "chain_events", ["tx_hash"])


def downgrade() -> None:
    op.drop_index("ix_chain_events_tx_hash", "chain_events")
    op.drop_index("ix_service_events_created_at", "service_events")
    op.drop_index("ix_service_events_issuer", "service_events")
    op.execute("DELETE FROM service_events WHERE identifier IS NULL")
    with op.batch_alter_table("service_events") as batch:
        for name in ("chain_block", "tx_hash", "reason", "reason_code", "type_code", "issuer",
                     "role"):
            batch.drop_column(name)
        batch.alter_column("identifier", existing_type=sa.String(120), nullable=False)
