"""Treatment session rules: defaults, how vitals are stored, and which sessions a record may name."""

from datetime import UTC

from api.errors import ValidationFailed
from api.extensions import db
from api.records import live
from api.sessions.models import Session


def vitals_as_json(data, *, owner_id):
    """Vitals are stored as JSON; their timestamps as RFC 3339 text in UTC."""
    if data.get("vitals"):
        data["vitals"] = [
            {**reading, "taken_at": reading["taken_at"].astimezone(UTC).isoformat()}
            for reading in data["vitals"]
        ]
    return data


def require_own_session(session_id, *, owner_id):
    """A link to a treatment session must name one of the owner's live sessions (else 422)."""
    if session_id is None:
        return
    exists = db.session.execute(
        live(Session, owner_id).where(Session.id == session_id).with_only_columns(Session.id)
    )
    if exists.first() is None:
        raise ValidationFailed("session_id", "No such session.")
