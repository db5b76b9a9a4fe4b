"""A minimal valid body and a valid change for every journal resource, for shared tests."""

RESOURCES = {
    "sessions": ({"started_at": "2026-03-01T09:00:00+01:00"}, {"dose_mg": 35.0}),
    "entries": ({"body": "Felt the fog lift."}, {"title": "After session 2"}),
    "moods": ({"mood": 6}, {"mood": 7}),
    "contacts": ({"name": "Sam", "relationship": "friend"}, {"phone": "+1 555 0100"}),
    "practices": (
        {"practice": "meditation", "performed_at": "2026-03-02T07:00:00Z"},
        {"duration_minutes": 20},
    ),
    "assessments": ({"instrument": "gad7", "answers": [1, 1, 1, 1, 1, 1, 1]}, None),
}

# Fields only a create's 201 shows: a read of the record returns the rest.
CREATED_ONLY = {"assessments": {"crisis_resources"}}


def as_read(path, created):
    """The record a 201 for /v1/{path} returned, as a read of it returns it."""
    return {name: value for name, value in created.items() if name not in CREATED_ONLY.get(path, ())}
