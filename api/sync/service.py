"""The change feed: every upsert and tombstone of a patient's records, in commit order."""

from api.errors import ValidationFailed
from api.extensions import db
from api.pagination import decode_cursor, encode_cursor

# (model, schema) for each synced resource; the model's SYNC_TYPE names it in the feed.
SYNCED = []


def register(model, schema):
    SYNCED.append((model, schema))


def encode_sync_cursor(seq):
    return encode_cursor({"seq": seq})


def decode_sync_cursor(cursor):
    try:
        seq = decode_cursor(cursor)["seq"]
        if not isinstance(seq, int) or seq < 0:
            raise ValueError
        return seq
    except (ValueError, TypeError, KeyError):
        raise ValidationFailed("cursor", "Not a cursor from /v1/sync.") from None


def changes_since(*, owner_id, after_seq, limit):
    """Up to `limit` changes after `after_seq`, oldest first.

    Every write takes the owner's next sequence number under a lock held until commit (see
    records.SyncClock), so sequence order is commit order and nothing can appear behind a
    cursor. Each resource contributes one index range scan of at most limit + 1 rows: the cost
    follows the page size, not the size of the journal.
    """
    candidates = []
    for model, schema in SYNCED:
        rows = db.session.execute(
            db.select(model)
            .where(model.owner_id == owner_id, model.sync_seq > after_seq)
            .order_by(model.sync_seq)
            .limit(limit + 1)
        ).scalars()
        candidates.extend((row.sync_seq, row, schema) for row in rows)
    candidates.sort(key=lambda candidate: candidate[0])
    page, has_more = candidates[:limit], len(candidates) > limit
    changes = [
        {
            "type": row.SYNC_TYPE,
            "id": row.id,
            "op": "delete" if row.deleted_at is not None else "upsert",
            "version": row.version,
            "data": None if row.deleted_at is not None else schema().dump(row),
        }
        for _, row, schema in page
    ]
    last_seq = page[-1][0] if page else after_seq
    return {"changes": changes, "next_cursor": encode_sync_cursor(last_seq), "has_more": has_more}
