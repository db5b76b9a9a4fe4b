"""Mood check-in rules."""

from api.models import utcnow


def prepare_create(data, *, owner_id):
    data.setdefault("recorded_at", utcnow())
    data.setdefault("emotions", [])
    return data
