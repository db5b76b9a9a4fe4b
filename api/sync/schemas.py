"""Sync feed schemas."""

import marshmallow as ma

from api.kinds import SYNC_TYPES
from api.pagination import CURSOR_MAX_LENGTH

MAX_SYNC_LIMIT = 500


class SyncQuerySchema(ma.Schema):
    cursor = ma.fields.String(
        validate=ma.validate.Length(min=1, max=CURSOR_MAX_LENGTH),
        metadata={
            "description": "`next_cursor` of the previous call; omit to start from the beginning.",
            "pattern": "^[A-Za-z0-9_-]+$",
        },
    )
    limit = ma.fields.Integer(load_default=100, validate=ma.validate.Range(1, MAX_SYNC_LIMIT))


def change_schema(types):
    """One change; `data` is the record as its own GET returns it, or null for a delete."""
    return ma.Schema.from_dict(
        {
            "type": ma.fields.String(metadata={"enum": types}),
            "id": ma.fields.UUID(),
            "op": ma.fields.String(metadata={"enum": ["upsert", "delete"]}),
            "version": ma.fields.Integer(metadata={"minimum": 1, "maximum": 2**31 - 1}),
            "data": ma.fields.Dict(
                allow_none=True,
                metadata={
                    "description": "The record (as GET returns it) for an upsert; null for a delete.",
                    "maxProperties": 100,
                },
            ),
        },
        name="Change",
    )


class SyncPageSchema(ma.Schema):
    changes = ma.fields.List(
        ma.fields.Nested(change_schema(list(SYNC_TYPES))), validate=ma.validate.Length(max=MAX_SYNC_LIMIT)
    )
    next_cursor = ma.fields.String(
        metadata={"maxLength": 200, "description": "Keep it; pass it as `cursor` next time."}
    )
    has_more = ma.fields.Boolean()
