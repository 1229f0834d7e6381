"""The index's last confirmation that it is current, kept in the database for every instance.

Many service instances share one PostgreSQL database and one index, which only the elected
indexer follows; each instance judges the staleness of what it answers from these columns of
``chain_cursor``: ``head`` (the chain's head the indexer last read), ``confirmed_block`` (the
block the index had to reach then: the head less the confirmations) and ``confirmed_at``
(when, in seconds since the epoch on the database's clock, so no two hosts' clocks are ever
compared).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("chain_cursor", sa.Column("head", sa.BigInteger))
    op.add_column("chain_cursor", sa.Column("confirmed_block", sa.BigInteger))
    op.add_column("chain_cursor", sa.Column("confirmed_at", sa.Float(precision=53)))


def downgrade() -> None:
    with op.batch_alter_table("chain_cursor") as batch:
        batch.drop_column("confirmed_at")
        batch.drop_column("confirmed_block")
        batch.drop_column("head")
