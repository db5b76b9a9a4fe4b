"""Mood rules: scoped reads and writes through api.records."""

from api import records
from api.extensions import db
from api.jsonlists import contains
from api.models import utcnow
from api.moods.models import Mood


def list_moods(*, owner_id, query, after):
    filters = records.time_range(Mood, query)
    if query.get("emotion"):
        filters.append(contains(Mood.emotions, query["emotion"], db.engine.dialect.name))
    return records.list_page(Mood, owner_id=owner_id, filters=filters, limit=query["limit"], after=after)


def create_mood(*, owner_id, data):
    data.setdefault("recorded_at", utcnow())
    data.setdefault("emotions", [])
    return records.create_owned(Mood, owner_id=owner_id, data=data)
