"""/v1/sessions: treatment sessions (medicine, route, dose, setting, side effects, vitals)."""

from api.plans import service as follow_ups
from api.plans.models import FollowUp
from api.plans.schemas import FollowUpSchema
from api.resources import JournalKind, Operation, Schemas, Sharing, Synced, register_views
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
        "`medicine` defaults to `ketamine`; `vitals` is a list of readings taken during the session.\n\n"
        "It makes the session's follow-ups from your integration plan, in the same transaction "
        "(`GET /v1/follow-ups?session_id=`, and `follow_up` changes in `/v1/sync`).",
    ),
    read=Operation("getSession", "Read one treatment session."),
    update=Operation(
        "updateSession",
        "Change a treatment session.",
        "A new `started_at` moves the session's open follow-ups with it.",
    ),
    delete=Operation("deleteSession", "Delete a treatment session.", "Its follow-ups go with it."),
    sharing=Sharing(
        scope="sessions",
        audit_type="session",
        list=Operation("listPatientSessions", "List a patient's shared treatment sessions, newest first."),
        read=Operation("getPatientSession", "Read one of a patient's shared treatment sessions."),
    ),
    match=("medicine",),
    prepare_create=service.vitals_as_json,
    prepare_update=service.vitals_as_json,
    after_create=follow_ups.schedule,
    after_update=follow_ups.reschedule_if_moved,
    before_delete=follow_ups.remove,
    forget_person=follow_ups.forget_author,
    also_synced=(Synced("follow_up", FollowUp, FollowUpSchema),),
)
register_views(kind)
