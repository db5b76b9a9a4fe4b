"""index journal records by owner and creation time, for the export

Revision ID: 5e0c8a1f3b92
Revises: c7f67f2fb9b8
Create Date: 2026-11-22 00:05:00.000000

GET /v1/me/export reads each table in batches of (created_at, id) after the last one read: a
key no edit changes, so a record edited while the export streams is read exactly once. With
this index each batch is one range scan. Contacts and safety events already have it (their own
time is created_at: ix_<table>_owner_time).
"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "5e0c8a1f3b92"
down_revision = "c7f67f2fb9b8"
branch_labels = None
depends_on = None

TABLES = ("sessions", "entries", "moods", "practices", "assessments")


def upgrade():
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(f"ix_{table}_owner_created", ["owner_id", "created_at", "id"], unique=False)


def downgrade():
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(f"ix_{table}_owner_created")
