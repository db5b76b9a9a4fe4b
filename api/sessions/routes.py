"""/v1/sessions: treatment sessions (medicine, route, dose, setting, side effects, vitals)."""

from datetime import UTC

from api.resources import ResourceSpec, register_resource
from api.sessions.models import Medicine, Session
from api.sessions.schemas import (
    SessionCreateSchema,
    SessionPageSchema,
    SessionQuerySchema,
    SessionSchema,
    SessionUpdateSchema,
)
from api.smorest import Blueprint

blp = Blueprint("sessions", __name__, url_prefix="/v1/sessions", description="Treatment sessions, e.g. ketamine infusions.")


def defaults(data, *, owner_id):
    data.setdefault("medicine", Medicine.KETAMINE)
    data.setdefault("side_effects", [])
    data.setdefault("vitals", [])
    return data


def vitals_as_json(data, *, owner_id):
    """Vitals are stored as JSON; their timestamps as RFC 3339 text in UTC."""
    if data.get("vitals"):
        data["vitals"] = [{**reading, "taken_at": reading["taken_at"].astimezone(UTC).isoformat()} for reading in data["vitals"]]
    return data


def prepare_create(data, *, owner_id):
    return vitals_as_json(defaults(data, owner_id=owner_id), owner_id=owner_id)


spec = ResourceSpec(
    model=Session,
    schema=SessionSchema,
    create_schema=SessionCreateSchema,
    update_schema=SessionUpdateSchema,
    query_schema=SessionQuerySchema,
    page_schema=SessionPageSchema,
    scope="sessions",
    singular="Session",
    plural="Sessions",
    noun="treatment session",
    plural_noun="treatment sessions",
    match=("medicine",),
    prepare_create=prepare_create,
    prepare_update=vitals_as_json,
    list_notes="Filter by `from`/`to` (on `started_at`) and `medicine`.",
    create_notes="`medicine` defaults to `ketamine`; `vitals` is a list of readings taken during the session.",
)
register_resource(blp, spec)
