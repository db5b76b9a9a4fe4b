"""`flask rotate-keys`: every encrypted value not under the newest data key, re-encrypted under it."""

import json
from typing import cast

import click
from flask.cli import with_appcontext
from sqlalchemy import CursorResult, Text, and_, or_, select, type_coerce, update

from api.encryption import DecryptionFailed, EncryptedList, encrypted_columns, keyring
from api.extensions import db
from api.transactions import unit_of_work

BATCH = 500


def rotate_row(table, row, columns, ring):
    """Re-encrypt one row's stale values under the newest key with one compare-and-set UPDATE;
    False when the row changed meanwhile (the app wrote it: nothing of ours is lost)."""
    values, unchanged = {}, [table.c.id == row.id]
    for column in columns:
        stored = row._mapping[column.name]
        if stored is None or ring.is_current(stored):
            continue
        context = column.type.context
        try:
            plaintext = ring.decrypt(stored, context)
        except DecryptionFailed as error:
            raise click.ClickException(f"row {row.id}: {error}") from None
        values[column.name] = type_coerce(ring.encrypt(plaintext, context), Text)
        unchanged.append(type_coerce(column, Text) == stored)
        if isinstance(column.type, EncryptedList) and column.type.blind_index:
            values[column.type.blind_index] = ring.index(json.loads(plaintext), context, row.owner_id)
    # Core applies a column's `onupdate` (updated_at) to any UPDATE that does not set it: keep it.
    for column in table.columns:
        if column.onupdate is not None and column.name not in values:
            values[column.name] = column
    result = cast(CursorResult, db.session.execute(update(table).where(and_(*unchanged)).values(values)))
    return result.rowcount == 1


@click.command("rotate-keys")
@click.option("--batch-size", default=BATCH, show_default=True, help="rows per commit")
@with_appcontext
def rotate_keys(batch_size):
    """Re-encrypt every value not under the newest key of DATA_ENCRYPTION_KEYS.

    Through Core, not the ORM: versions, ETags, sync numbers and updated_at stay as they were
    (it is not a change a client must sync). Commits every batch, so it can be stopped and run
    again; a run with nothing left to do changes nothing.
    """
    ring = keyring()
    for table in db.metadata.sorted_tables:
        columns = encrypted_columns(table)
        if not columns:
            continue
        texts = [type_coerce(column, Text) for column in columns]  # as stored: never decrypted here
        current = ring.prefix()
        stale = or_(
            *(and_(value.is_not(None), ~value.startswith(current, autoescape=True)) for value in texts)
        )
        rotated = changed = 0
        last_id = None
        while True:
            query = (
                select(
                    table.c.id,
                    *(table.c[name] for name in ("owner_id",) if name in table.c),  # blind indexes
                    *(text.label(column.name) for text, column in zip(texts, columns, strict=True)),
                )
                .where(stale)
                .order_by(table.c.id)
                .limit(batch_size)
            )
            if last_id is not None:
                query = query.where(table.c.id > last_id)
            with unit_of_work():  # one commit per batch
                rows = db.session.execute(query).all()
                for row in rows:
                    if rotate_row(table, row, columns, ring):
                        rotated += 1
                    else:
                        changed += 1
            if not rows:
                break
            last_id = rows[-1].id
        click.echo(
            f"{table.name}: {rotated} rows re-encrypted under {ring.newest.key_id!r}"
            + (f", {changed} changed meanwhile (run again to finish them)" if changed else "")
        )
