"""Keyset pagination: opaque cursors, `{items, next_cursor}` pages and the Link header."""

import base64
import json
import re
import uuid
from datetime import UTC, datetime
from urllib.parse import urlencode

import marshmallow as ma
from flask import request
from sqlalchemy import tuple_

from api.errors import ValidationFailed
from api.extensions import db

MAX_LIMIT = 100
DEFAULT_LIMIT = 20
CURSOR_MAX_LENGTH = 200


class QueryInteger(ma.fields.Integer):
    """A whole number in a query string, in ASCII digits only: int() would also take "+5", " 5",
    "1_0" and other scripts' digits, which the spec's `type: integer` does not."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and not re.fullmatch(r"[0-9]{1,10}", value):
            raise self.make_error("invalid", input=value)
        return super()._deserialize(value, attr, data, **kwargs)


class PageQuerySchema(ma.Schema):
    """Query parameters every list takes; resources add their filters."""

    limit = QueryInteger(
        load_default=DEFAULT_LIMIT,
        validate=ma.validate.Range(1, MAX_LIMIT),
        metadata={"description": f"Page size, 1 to {MAX_LIMIT}."},
    )
    cursor = ma.fields.String(
        validate=ma.validate.Length(min=1, max=CURSOR_MAX_LENGTH),
        metadata={"description": "`next_cursor` of the previous page.", "pattern": "^[A-Za-z0-9_-]+$"},
    )


def encode_cursor(value):
    """Opaque cursor text for any JSON value (datetimes and UUIDs as strings)."""
    raw = json.dumps(
        value, default=lambda item: item.isoformat() if isinstance(item, datetime) else str(item)
    )
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode()


# A cursor as a list returns it (the docs' example works when sent back).
EXAMPLE_CURSOR = encode_cursor(
    [datetime(2026, 3, 14, 9, 30, tzinfo=UTC), uuid.UUID("6f1c2a9e-7b4d-4e2a-9c1f-5d6e7a8b9c0d")]
)

PAGE_HEADERS = {
    "Link": {
        "description": 'RFC 8288 `<url>; rel="next"`: the next page (the same query with `cursor`). '
        "Absent on the last page.",
        "schema": {"type": "string", "maxLength": 2048},
    }
}


def page_schema(item_schema, name):
    """The `{items, next_cursor}` envelope around one resource's schema."""
    return ma.Schema.from_dict(
        {
            "items": ma.fields.List(
                ma.fields.Nested(item_schema), validate=ma.validate.Length(max=MAX_LIMIT)
            ),
            "next_cursor": ma.fields.String(
                allow_none=True,
                metadata={
                    "maxLength": CURSOR_MAX_LENGTH,
                    "description": "Pass as `cursor` for the next page; null on the last.",
                    "example": EXAMPLE_CURSOR,
                },
            ),
        },
        name=name,
    )


def decode_cursor(cursor):
    """The JSON value inside a cursor; raises ValueError for anything that is not one of ours."""
    try:
        return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError("not a cursor") from error


def decode_time_cursor(cursor):
    """(time, id) from a list cursor; a cursor that is not ours is a 422, never a 500."""
    try:
        time_text, id_text = decode_cursor(cursor)
        if not (isinstance(time_text, str) and isinstance(id_text, str)):
            raise ValueError
        moment = datetime.fromisoformat(time_text)
        if moment.tzinfo is None:
            raise ValueError
        return moment.astimezone(UTC), uuid.UUID(id_text)
    except (ValueError, TypeError, OverflowError):
        raise ValidationFailed("cursor", "Not a cursor from this list.") from None


def page_position(query):
    """The (time, id) a list request continues after: from its `cursor`, or None on page one."""
    return decode_time_cursor(query["cursor"]) if "cursor" in query else None


def keyset(query, *, time_column, id_column, limit, after=None):
    """Newest first by time, then id; `after` is the last (time, id) of the previous page. One
    extra row tells whether more follow. An index on (..., time, id) serves it as one range scan."""
    if after is not None:
        query = query.where(tuple_(time_column, id_column) < tuple_(*after))
    return query.order_by(time_column.desc(), id_column.desc()).limit(limit + 1)


def fetch_page(query, *, time_column, id_column, limit, after=None):
    """(rows, has_more) for one page of `query` in keyset order."""
    paged = keyset(query, time_column=time_column, id_column=id_column, limit=limit, after=after)
    rows = db.session.execute(paged).scalars().all()
    return rows[:limit], len(rows) > limit


def page_response(records, has_more, *, time_field, items=None):
    """The page body and headers: next_cursor and Link rel="next" when more follow.

    `items` replaces `records` in the body when the page shows something built from them.
    """
    next_cursor = None
    headers = {}
    if has_more:
        last = records[-1]
        next_cursor = encode_cursor([getattr(last, time_field), last.id])
        args = request.args.to_dict()
        args["cursor"] = next_cursor
        query = urlencode(sorted(args.items()))
        headers["Link"] = f'<{request.path}?{query}>; rel="next"'
    return {"items": records if items is None else items, "next_cursor": next_cursor}, headers
