"""Narrow certificate rows: documents in a table of their own, each batch's Merkle tree once.

Anchoring a batch updates every certificate in it twice (batch and position, then status).
With the ~4 KB document inline, each update rewrote a whole page per certificate (about
160 MB of writes for 10,000); the certificate rows are now a few hundred bytes. Proofs are
no longer stored per certificate: ``batches.tree`` holds every node of the batch's tree once
(level 0 first, 32 bytes each) and ``certificates.batch_index`` the leaf's position. Rows
anchored before this revision keep their ``proof``.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "certificate_documents",
        sa.Column("identifier", sa.String(120), primary_key=True),
        sa.Column("document", sa.Text, nullable=False),
    )
    op.execute(
        "INSERT INTO certificate_documents (identifier, document) "
        "SELECT identifier, document FROM certificates"
    )
    with op.batch_alter_table("certificates") as batch:
        batch.drop_column("document")
        batch.add_column(sa.Column("batch_index", sa.Integer))
    with op.batch_alter_table("batches") as batch:
        batch.add_column(sa.Column("tree", sa.LargeBinary))


def downgrade() -> None:
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT count(*) FROM batches WHERE tree IS NOT NULL")).scalar():
        # their certificates' proofs exist only as the batch trees: refuse to lose them
        raise RuntimeError(
            "cannot downgrade below 0003: batches prepared since then keep their Merkle "
            "proofs only in batches.tree"
        )
    with op.batch_alter_table("batches") as batch:
        batch.drop_column("tree")
    with op.batch_alter_table("certificates") as batch:
        batch.drop_column("batch_index")
        batch.add_column(sa.Column("document", sa.Text, nullable=False, server_default=""))
    op.execute(
        "UPDATE certificates SET document = (SELECT d.document FROM certificate_documents d "
        "WHERE d.identifier = certificates.identifier)"
    )
    op.drop_table("certificate_documents")
