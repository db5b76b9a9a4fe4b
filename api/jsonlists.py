"""JSON list columns (tags, emotions) and portable "list contains" filters, on plain lists and on
encrypted ones through their blind index."""

from sqlalchemy import JSON, func, literal, or_, select
from sqlalchemy.dialects.postgresql import JSONB

from api.encryption import blind_index_of, keyring
from api.extensions import db

JSONList = JSON().with_variant(JSONB(), "postgresql")


def contains(column, value):
    """`column` (a JSON array) holds `value`: jsonb @> on PostgreSQL, json_each on SQLite."""
    if db.engine.dialect.name == "postgresql":
        return column.op("@>")(func.jsonb_build_array(literal(value)))
    items = func.json_each(column).table_valued("value")
    return select(1).select_from(items).where(items.c.value == value).exists()


def contains_blind(attribute, value, owner_id):
    """The encrypted list `attribute` (Entry.tags) of `owner_id`'s records holds `value`, ignoring
    case: its blind index holds the value's digest for that owner under one of the configured
    keys (api/encryption.py)."""
    context = attribute.property.columns[0].type.context
    index = blind_index_of(attribute)
    digests = keyring().digests_of_any_key(value, context, owner_id)
    return or_(*(contains(index, digest) for digest in digests))
