"""index entries by the therapist who acknowledged them

Revision ID: 2f6a1c9d4e77
Revises: 7d1e3c5a9b20
Create Date: 2026-11-21 22:00:00.000000

Erasing an account looks up the entries it acknowledged, and the foreign key's ON DELETE SET
NULL does the same; without an index both read every entry. Partial: most entries never are.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "2f6a1c9d4e77"
down_revision = "7d1e3c5a9b20"
branch_labels = None
depends_on = None

ACKNOWLEDGED = sa.text("acknowledged_by_id IS NOT NULL")


def upgrade():
    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_entries_acknowledged_by",
            ["acknowledged_by_id"],
            unique=False,
            sqlite_where=ACKNOWLEDGED,
            postgresql_where=ACKNOWLEDGED,
        )


def downgrade():
    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.drop_index("ix_entries_acknowledged_by")
