"""JSON list columns (tags, emotions) and a portable "list contains" filter."""

from sqlalchemy import JSON, func, literal, select
from sqlalchemy.dialects.postgresql import JSONB

from api.extensions import db

JSONList = JSON().with_variant(JSONB(), "postgresql")


def contains(column, value):
    """`column` (a JSON array) holds `value`: jsonb @> on PostgreSQL, json_each on SQLite."""
    if db.engine.dialect.name == "postgresql":
        return column.op("@>")(func.jsonb_build_array(literal(value)))
    items = func.json_each(column).table_valued("value")
    return select(1).select_from(items).where(items.c.value == value).exists()
