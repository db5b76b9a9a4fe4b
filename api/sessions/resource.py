"""/v1/sessions: treatment sessions (medicine, route, dose, setting, side effects, vitals)."""

from api.resources import JournalKind, Operation, Schemas, Sharing, register_views
from api.sessions import service
from api.sessions.models import Session
from api.sessions.schemas import (
    SessionCreateSchema,
    SessionPageSchema,
    SessionQuerySchema,
    SessionSchema,
    SessionUpdateSchema,
)
from api.smorest import Blueprint

blp = Blueprint(
    "sessions",
    __name__,
    url_prefix="/v1/sessions",
    description="Treatment sessions, e.g. ketamine infusions.",
)

kind = JournalKind(
    blueprint=blp,
    model=Session,
    schemas=Schemas(
        record=SessionSchema,
        create=SessionCreateSchema,
        update=SessionUpdateSchema,
        query=SessionQuerySchema,
        page=SessionPageSchema,
    ),
    sync_type="session",
    list=Operation(
        "listSessions",
        "List your treatment sessions, newest first.",
        "Filter by `from`/`to` (on `started_at`) and `medicine`.",
    ),
    create=Operation(
        "createSession",
        "Create a treatment session.",
        "`medicine` defaults to `ketamine`; `vitals` is a list of readings taken during the session.",
    ),
    read=Operation("getSession", "Read one treatment session."),
    update=Operation("updateSession", "Change a treatment session."),
    delete=Operation("deleteSession", "Delete a treatment session."),
    sharing=Sharing(
        scope="sessions",
        audit_type="session",
        list=Operation("listPatientSessions", "List a patient's shared treatment sessions, newest first."),
        read=Operation("getPatientSession", "Read one of a patient's shared treatment sessions."),
    ),
    match=("medicine",),
    prepare_create=service.vitals_as_json,
    prepare_update=service.vitals_as_json,
)
register_views(kind)
