"""idempotency answers keep the record's id, not the response body

Revision ID: 7d1e3c5a9b20
Revises: 1963fa011cfd
Create Date: 2026-11-21 20:00:00.000000

A stored answer used to hold the whole response body (journal text) and could be left "in
flight" by a request that died between its two commits. An answer is now written in the same
transaction as the record it answers for, and holds only the status and the record's id.
Answered rows keep working: the id is read from the Location they stored. Rows still in flight
are dropped (their request never committed an answer, so a retry may run again), and so are
rows past the 24-hour replay window, first, so the work is bounded by one day of keys.
"""

import json
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "7d1e3c5a9b20"
down_revision = "1963fa011cfd"
branch_labels = None
depends_on = None

keys = sa.table(
    "idempotency_keys",
    sa.column("user_id", sa.Uuid()),
    sa.column("key", sa.String(255)),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("status_code", sa.Integer()),
    sa.column("response_headers", sa.Text()),
    sa.column("resource_id", sa.Uuid()),
)


def _record_id(headers):
    try:
        return uuid.UUID(json.loads(headers)["Location"].rstrip("/").rsplit("/", 1)[-1])
    except (TypeError, ValueError, KeyError, AttributeError):
        return None


def upgrade():
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resource_id", sa.Uuid(), nullable=True))

    connection = op.get_bind()
    connection.execute(keys.delete().where(keys.c.created_at < datetime.now(UTC) - timedelta(hours=24)))
    rows = connection.execute(
        sa.select(keys.c.user_id, keys.c.key, keys.c.response_headers).where(keys.c.status_code.is_not(None))
    ).all()
    for user_id, key, headers in rows:
        record_id = _record_id(headers)
        if record_id is not None:
            connection.execute(
                keys.update()
                .where(keys.c.user_id == user_id, keys.c.key == key)
                .values(resource_id=record_id)
            )
    connection.execute(
        keys.delete().where(sa.or_(keys.c.status_code.is_(None), keys.c.resource_id.is_(None)))
    )

    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.alter_column("resource_id", existing_type=sa.Uuid(), nullable=False)
        batch_op.alter_column("status_code", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("response_body")
        batch_op.drop_column("response_headers")


def downgrade():
    # The bodies are gone; answers cannot be replayed by the old code, so they are dropped.
    op.execute(keys.delete())
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("response_headers", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("response_body", sa.Text(), nullable=True))
        batch_op.alter_column("status_code", existing_type=sa.Integer(), nullable=True)
        batch_op.drop_column("resource_id")
