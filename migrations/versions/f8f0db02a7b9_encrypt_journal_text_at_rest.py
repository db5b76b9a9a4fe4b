"""encrypt journal text at rest

Revision ID: f8f0db02a7b9
Revises: 5e0c8a1f3b92
Create Date: 2026-11-22 01:20:05.843033

The journal's free text (api/encryption.py lists the columns) is stored as AES-256-GCM
ciphertext under the newest key of DATA_ENCRYPTION_KEYS. Columns that were VARCHAR(n) become
TEXT (a ciphertext is longer than its text; the API's limits stay in the schemas); entry tags
become encrypted text with a blind index beside them (`tag_index`) for the `tag` filter. Rows
already there are encrypted in batches of 500, in the migration's transaction, through Core:
versions, sync numbers and updated_at do not change. The downgrade decrypts them back.
"""

import json

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from api.encryption import keyring

# revision identifiers, used by Alembic.
revision = "f8f0db02a7b9"
down_revision = "5e0c8a1f3b92"
branch_labels = None
depends_on = None

BATCH = 500
JSON_LIST = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
# Table -> its encrypted columns; VARCHAR ones with the length they had.
ENCRYPTED = {
    "entries": ("body", "title", "tags"),
    "sessions": ("provider", "intention", "notes"),
    "moods": ("note",),
    "practices": ("notes",),
    "contacts": ("name", "phone", "email", "notes"),
    "safety_acknowledgements": ("note",),
}
VARCHARS = {
    ("contacts", "name"): 100,
    ("contacts", "phone"): 40,
    ("contacts", "email"): 254,
    ("entries", "title"): 200,
    ("sessions", "provider"): 200,
}


def _table(name):
    columns = [sa.column(column, sa.Text()) for column in ENCRYPTED[name]]
    if name == "entries":  # the tags' blind index is per owner (api/encryption.py)
        columns += [sa.column("tag_index", JSON_LIST), sa.column("owner_id", sa.Uuid())]
    return sa.table(name, sa.column("id", sa.Uuid()), *columns)


def _rewrite(name, change):
    """Every row of the table, in batches by id: `change(column, value)` for each value that is
    not NULL, written back with one UPDATE per row."""
    connection = op.get_bind()
    table = _table(name)
    columns = [table.c[column] for column in ENCRYPTED[name]]
    last_id = None
    while True:
        extra = [table.c.owner_id] if "owner_id" in table.c else []
        query = sa.select(table.c.id, *extra, *columns).order_by(table.c.id).limit(BATCH)
        if last_id is not None:
            query = query.where(table.c.id > last_id)
        rows = connection.execute(query).all()
        if not rows:
            return
        for row in rows:
            values = {}
            for column in ENCRYPTED[name]:
                value = row._mapping[column]
                if value is not None:
                    values.update(change(name, column, value, row))
            if values:
                connection.execute(table.update().where(table.c.id == row.id).values(values))
        last_id = rows[-1].id


def _encrypt(table, column, value, row):
    ring, context = keyring(), f"{table}.{column}"
    if (table, column) == ("entries", "tags"):
        tags = json.loads(value)
        return {
            column: ring.encrypt(json.dumps(tags, ensure_ascii=False), context),
            "tag_index": ring.index(tags, context, row.owner_id),
        }
    return {column: ring.encrypt(value, context)}


def _decrypt(table, column, value, row):
    return {column: keyring().decrypt(value, f"{table}.{column}")}


def upgrade():
    for (table, column), length in VARCHARS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(
                column, existing_type=sa.String(length), type_=sa.Text(), existing_nullable=column != "name"
            )
    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tag_index", JSON_LIST, nullable=True))
        batch_op.alter_column(
            "tags",
            existing_type=JSON_LIST,
            type_=sa.Text(),
            existing_nullable=False,
            postgresql_using="tags::text",
        )

    for table in ENCRYPTED:
        _rewrite(table, _encrypt)

    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.alter_column("tag_index", existing_type=JSON_LIST, nullable=False)
    _shared_entries_index_last()
    _rewrite_table_files()


def _rewrite_table_files():
    """The UPDATEs above leave each row's plaintext version behind in the table's pages (dead
    tuples on PostgreSQL, free pages and WAL frames on SQLite) until something rewrites them: a
    file-level backup, a disk image or a replica would still hold the journal text. Rewrite the
    files now, outside the migration's transaction as both databases require. (Backups and WAL
    archives from before this revision keep the plaintext: README, "Encryption at rest".)"""
    with op.get_context().autocommit_block():
        if op.get_bind().dialect.name == "postgresql":
            for table in ENCRYPTED:
                op.execute(f"VACUUM FULL {table}")  # the table and its TOAST, new files
        else:
            op.execute("VACUUM")
            op.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _shared_entries_index_last():
    """SQLite rebuilt `entries` above, its indexes in an order that varies with Python's hash seed.
    Without statistics its planner rates the partial index of shared entries no better than
    ix_entries_owner_time and takes whichever the order favours; made last, the partial index is
    the one it takes (tests/test_query_plans.py)."""
    if op.get_bind().dialect.name != "sqlite":
        return
    shared = "visibility = 'care_team' AND deleted_at IS NULL"
    op.drop_index("ix_entries_owner_shared_time", table_name="entries")
    op.create_index(
        "ix_entries_owner_shared_time",
        "entries",
        ["owner_id", "occurred_at", "id"],
        sqlite_where=sa.text(shared),
    )


def downgrade():
    for table in ENCRYPTED:
        _rewrite(table, _decrypt)

    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.drop_column("tag_index")
        batch_op.alter_column(
            "tags",
            existing_type=sa.Text(),
            type_=JSON_LIST,
            existing_nullable=False,
            postgresql_using="tags::jsonb",
        )
    for (table, column), length in VARCHARS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(
                column, existing_type=sa.Text(), type_=sa.String(length), existing_nullable=column != "name"
            )
