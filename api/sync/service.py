"""The change feed: every upsert and tombstone of a patient's records, in commit order."""

from sqlalchemy import Integer, String, bindparam, literal, select, union_all

from api.errors import ValidationFailed
from api.extensions import db
from api.kinds import SYNCED
from api.pagination import decode_cursor, encode_cursor

# Sequence numbers are BIGINT: a cursor beyond that range is not one of ours.
MAX_SEQ = 2**63 - 1

# One schema instance per type of change, built once: a marshmallow schema deep-copies its
# fields (and builds its nested schemas) on instantiation, which per record cost more than
# the dump itself. Dumping holds no state in the instance, so threads share them.
DUMPERS = {synced.sync_type: synced.schema() for synced in SYNCED}


def encode_sync_cursor(seq):
    return encode_cursor({"seq": seq})


def decode_sync_cursor(cursor):
    try:
        seq = decode_cursor(cursor)["seq"]
        # type(), not isinstance(): JSON `true` is a bool, and a bool is an int to Python.
        if type(seq) is not int or not 0 <= seq <= MAX_SEQ:
            raise ValueError
        return seq
    except (ValueError, TypeError, KeyError):
        raise ValidationFailed("cursor", "Not a cursor from /v1/sync.") from None


def _positions_statement():
    """(type, id, sync_seq) of an owner's next changes, oldest first, read in ONE statement.

    One statement sees one snapshot of every table. Six separate SELECTs would each see the
    database at a different moment, and a newer change in a table read later could move the
    cursor past an older one that committed in between. Each branch is one range scan of
    ix_<table>_owner_sync. Built once, with the owner, the position and the count as
    parameters: building the union and its cache key cost more than running it.
    """
    taken = bindparam("taken", type_=Integer)
    branches = [
        select(
            literal(synced.sync_type, String).label("type"),
            synced.model.id.label("id"),
            synced.model.sync_seq.label("seq"),
        )
        .where(synced.model.owner_id == bindparam("owner_id"), synced.model.sync_seq > bindparam("after_seq"))
        .order_by(synced.model.sync_seq)
        .limit(taken)
        .subquery()
        .select()
        for synced in SYNCED
    ]
    feed = union_all(*branches).subquery()
    return select(feed).order_by(feed.c.seq).limit(taken)


POSITIONS = _positions_statement()
# Each type's records on a page, by id, built once. The page's range of sequence numbers bounds
# the read to the owner's (owner_id, sync_seq) index around the page: by id and owner alone,
# PostgreSQL's generic plan for a prepared statement could read every record of the owner (a
# journal of 200,000 check-ins took ten times as long as one of 1,000). A record changed again
# since the positions were read is beyond the range, and left for its later page as before.
LOADS = {
    synced.sync_type: select(synced.model).where(
        synced.model.owner_id == bindparam("owner_id"),
        synced.model.sync_seq > bindparam("after_seq"),
        synced.model.sync_seq <= bindparam("last_seq"),
        synced.model.id.in_(bindparam("ids", expanding=True)),
    )
    for synced in SYNCED
}


def _positions(*, owner_id, after_seq, limit):
    """The next limit + 1 changes after `after_seq` (POSITIONS)."""
    parameters = {"owner_id": owner_id, "after_seq": after_seq, "taken": limit + 1}
    return db.session.connection().execute(POSITIONS, parameters).all()


def changes_since(*, owner_id, after_seq, limit):
    """Up to `limit` changes after `after_seq`, oldest first.

    Every write takes the owner's next sequence number under a lock held until commit (see
    api/records.py's SyncClock), so sequence order is commit order: the snapshot of `_positions` holds
    every change up to some number and none after it. The records are then loaded by id; one
    that changed again since the snapshot now carries a higher sequence number, beyond every
    position on this page, so it is left for the later page where it belongs. Cost follows the
    page size, not the size of the journal.
    """
    positions = _positions(owner_id=owner_id, after_seq=after_seq, limit=limit)
    page, has_more = positions[:limit], len(positions) > limit
    records: dict = {}
    for synced in SYNCED:
        mine = [position for position in page if position.type == synced.sync_type]
        if mine:
            bounds = {"owner_id": owner_id, "after_seq": after_seq, "last_seq": mine[-1].seq}
            rows = db.session.execute(
                LOADS[synced.sync_type], {**bounds, "ids": [position.id for position in mine]}
            ).scalars()
            dump = DUMPERS[synced.sync_type].dump
            records.update(((synced.sync_type, row.id), (row, dump)) for row in rows)
    changes = []
    for position in page:
        row, dump = records.get((position.type, position.id), (None, None))
        if row is None or row.sync_seq != position.seq:
            continue
        deleted = row.deleted_at is not None
        changes.append(
            {
                "type": position.type,
                "id": row.id,
                "op": "delete" if deleted else "upsert",
                "version": row.version,
                "data": None if deleted else dump(row),
            }
        )
    last_seq = page[-1].seq if page else after_seq
    return {"changes": changes, "next_cursor": encode_sync_cursor(last_seq), "has_more": has_more}
