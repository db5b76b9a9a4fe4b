"""Schema bases every journal resource shares."""

import marshmallow as ma

from api.dumping import FastDump
from api.fields import UUID, Timestamp, Version


class RecordSchema(FastDump):
    """Read-only fields every record has; records dump through a plan (api/dumping.py), since
    lists and the sync feed dump many of them."""

    id = ma.fields.UUID(dump_only=True)
    version = Version()
    created_at = Timestamp(dump_only=True)
    updated_at = Timestamp(dump_only=True)


class RecordCreateSchema(ma.Schema):
    """A client may choose the id (a UUID), so a record can be made offline."""

    id = UUID(load_default=None, metadata={"description": "Optional client-chosen UUID; 409 if taken."})


class TimeRangeQuerySchema(ma.Schema):
    """`from` (inclusive) and `to` (exclusive) on the record's own time field."""

    from_ = Timestamp(data_key="from", metadata={"description": "Only records at or after this time."})
    to = Timestamp(metadata={"description": "Only records before this time."})
