"""Issuance refuses a certificate number already in use, and remembers idempotent answers.

``ix_certificates_issuer_type_number`` serves the one query per chunk of rows that finds
which agency numbers (证照编号) an issuer's certificates in force already hold for a type.
It is not unique: certificates stored before this revision may share a number, and a
revoked or superseded certificate's number may be given again.

``idempotency_keys`` keeps, per caller and ``Idempotency-Key``, the SHA-256 of the request
and the answer sent (status and JSON body), written in the transaction that issued; the
service forgets them after 24 hours.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_certificates_issuer_type_number",
        "certificates",
        ["issuer", "type_code", "number"],
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("principal", sa.String(220), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=False),
        sa.Column("response", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_idempotency_keys_created_at", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
    op.drop_index("ix_certificates_issuer_type_number", table_name="certificates")
