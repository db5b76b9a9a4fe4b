"""JSON list columns (tags, emotions) and a portable "list contains" filter."""

from sqlalchemy import JSON, func, literal, select
from sqlalchemy.dialects.postgresql import JSONB

JSONList = JSON().with_variant(JSONB(), "postgresql")


def contains(column, value, dialect_name):
    """`column` (a JSON array) holds `value`: jsonb @> on PostgreSQL, json_each on SQLite."""
    if dialect_name == "postgresql":
        return column.op("@>")(func.jsonb_build_array(literal(value)))
    items = func.json_each(column).table_valued("value")
    return select(1).select_from(items).where(items.c.value == value).exists()
