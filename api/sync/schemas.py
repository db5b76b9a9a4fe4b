"""Sync feed schemas: a page of changes, each typed by the kind of record it carries."""

import marshmallow as ma

from api.fields import Version
from api.kinds import SYNCED
from api.pagination import CURSOR_MAX_LENGTH, QueryInteger
from api.smorest.conventions import OneOf
from api.sync.service import encode_sync_cursor

MAX_SYNC_LIMIT = 500


class SyncQuerySchema(ma.Schema):
    cursor = ma.fields.String(
        validate=ma.validate.Length(min=1, max=CURSOR_MAX_LENGTH),
        metadata={
            "description": "`next_cursor` of the previous call; omit to start from the beginning.",
            "pattern": "^[A-Za-z0-9_-]+$",
        },
    )
    limit = QueryInteger(load_default=100, validate=ma.validate.Range(1, MAX_SYNC_LIMIT))


def change_schema(synced):
    """A change to one type of record: `data` is the record as its own GET returns it, or null
    for a delete. `type` tells the types apart, so a client knows what `data` is."""
    return ma.Schema.from_dict(
        {
            "type": ma.fields.Constant(synced.sync_type),
            "id": ma.fields.UUID(),
            "op": ma.fields.String(
                metadata={
                    "enum": ["upsert", "delete"],
                    "enum_name": "ChangeOp",
                    "enum_description": "`upsert`: the record was created or changed; `delete`: it is gone.",
                }
            ),
            "version": Version(),
            "data": ma.fields.Nested(
                synced.schema,
                allow_none=True,
                metadata={"description": "The record (as GET returns it) for an upsert; null for a delete."},
            ),
        },
        name=f"{synced.model.__name__}Change",
    )


CHANGE_SCHEMAS = tuple(change_schema(synced) for synced in SYNCED)


class SyncPageSchema(ma.Schema):
    changes = ma.fields.List(
        OneOf(CHANGE_SCHEMAS, name="Change", discriminator="type"),
        validate=ma.validate.Length(max=MAX_SYNC_LIMIT),
    )
    next_cursor = ma.fields.String(
        metadata={
            "maxLength": 200,
            "description": "Keep it; pass it as `cursor` next time.",
            "example": encode_sync_cursor(128),
        }
    )
    has_more = ma.fields.Boolean()
