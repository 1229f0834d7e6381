"""The index cursor is (block number, block hash), with recent checkpoints and a generation;
status changes carry a note (resent after a rollback, reconciled with the chain).

``chain_cursor.block_hash`` lets each catch-up check that the chain still has the block the
index stopped at; ``chain_checkpoints`` keeps recent (number, hash) pairs to find the last
block the index and the chain share after a rollback; ``generation`` counts rewinds (every
process drops its caches when it moves) and ``rewound_to`` is the block the last rewind went
back to. A cursor written before this revision has no hash: the next catch-up re-indexes from
the deployment block, once.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("chain_cursor") as batch:
        batch.add_column(sa.Column("block_hash", sa.String(66)))
        batch.add_column(
            sa.Column("generation", sa.BigInteger, nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("rewound_to", sa.BigInteger))
    op.create_table(
        "chain_checkpoints",
        sa.Column("block_number", sa.BigInteger, primary_key=True),
        sa.Column("block_hash", sa.String(66), nullable=False),
    )
    with op.batch_alter_table("status_changes") as batch:
        batch.add_column(sa.Column("note", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("status_changes") as batch:
        batch.drop_column("note")
    op.drop_table("chain_checkpoints")
    with op.batch_alter_table("chain_cursor") as batch:
        batch.drop_column("rewound_to")
        batch.drop_column("generation")
        batch.drop_column("block_hash")
