"""/v1/safety-events (therapists) and /v1/me/safety-events (the patient): the safety events a
PHQ-9's item 9 opens, and the care team's acknowledgements of them."""

from flask import g, url_for
from flask.views import MethodView
from flask_jwt_extended import current_user

from api.access import PATIENTS, THERAPISTS, auth_required
from api.assessments.safety import SafetyEventSchema
from api.idempotency import idempotent
from api.pagination import PAGE_HEADERS, page_position, page_response, page_schema
from api.safety import service
from api.safety.schemas import (
    AcknowledgementSchema,
    CareTeamSafetyEventPageSchema,
    CareTeamSafetyEventQuerySchema,
    CareTeamSafetyEventSchema,
    MySafetyEventQuerySchema,
)
from api.smorest import Blueprint
from api.smorest.conventions import operation
from api.smorest.etags import CREATED_HEADERS, created_response, item_response, versioned

blp = Blueprint(
    "safety",
    __name__,
    url_prefix="/v1",
    description="Safety events: a PHQ-9 with item 9 (thoughts of self-harm) above 0 opens one; linked "
    "therapists with the `assessments` scope see it until one of them acknowledges it.",
)

NOT_SHARED = (
    "404, the same as for an event that does not exist, unless its patient has an active link to you "
    "with the `assessments` scope (the attempt is then in the patient's access log)."
)


@blp.route("/safety-events")
class SafetyEventList(MethodView):
    @auth_required(roles=THERAPISTS)
    @operation("listSafetyEvents")
    @blp.arguments(CareTeamSafetyEventQuerySchema, location="query")
    @blp.response(200, CareTeamSafetyEventPageSchema, headers=PAGE_HEADERS)
    def get(self, query):
        """List the safety events of your linked patients, newest first (by when they opened).

        Open events (`status=open`, the default) until one of the care team acknowledges them;
        `status=acknowledged` lists the closed ones. Only patients whose link grants you the
        `assessments` scope; a revoked link or scope hides theirs at once. Each patient shown
        gets an event in their access log.
        """
        events, more = service.list_for_therapist(
            actor=current_user,
            status=query["status"],
            patient_id=query.get("patient_id"),
            limit=query["limit"],
            after=page_position(query),
            request_id=g.request_id,
        )
        return page_response(events, more, time_field="created_at")


@blp.route("/safety-events/<uuid:event_id>")
class SafetyEventItem(MethodView):
    @auth_required(roles=THERAPISTS)
    @operation("getSafetyEvent")
    @versioned
    @blp.response(200, CareTeamSafetyEventSchema)
    def get(self, event_id):
        """Read one of your linked patients' safety events, with its acknowledgements."""
        return item_response(
            service.read_for_therapist(actor=current_user, event_id=event_id, request_id=g.request_id)
        )

    get.__doc__ = f"{get.__doc__}\n\n{NOT_SHARED}"


def acknowledged(event):
    return created_response(event, location=url_for("safety.SafetyEventItem", event_id=event.id))


def replay_acknowledgement(event_id):
    """The answer again, with the event as it is now (see service.replay_for_therapist)."""
    return acknowledged(
        service.replay_for_therapist(actor=current_user, event_id=event_id, request_id=g.request_id)
    )


@blp.route("/safety-events/<uuid:event_id>/acknowledgement")
class SafetyEventAcknowledgement(MethodView):
    @auth_required(roles=THERAPISTS)
    @operation("acknowledgeSafetyEvent")
    @blp.arguments(AcknowledgementSchema)
    @blp.response(201, CareTeamSafetyEventSchema, headers=CREATED_HEADERS)
    @idempotent(replay_acknowledgement)
    def post(self, data, event_id):
        """Acknowledge a safety event: you have seen it and acted on it.

        Records who and when, with an optional note for the care team. The first
        acknowledgement closes the event (`status: acknowledged`); later ones, by you or the
        rest of the care team, join its trail. The patient sees who acknowledged it and when.
        Returns the event; `Location` is the event. An `Idempotency-Key` makes a retry safe: it
        replays the answer and never adds a second acknowledgement.
        """
        event = service.acknowledge(
            actor=current_user, event_id=event_id, note=data.get("note"), request_id=g.request_id
        )
        return acknowledged(event)

    post.__doc__ = f"{post.__doc__}\n\n{NOT_SHARED}"


@blp.route("/me/safety-events")
class MySafetyEventList(MethodView):
    @auth_required(roles=PATIENTS)
    @operation("listMySafetyEvents")
    @blp.arguments(MySafetyEventQuerySchema, location="query")
    @blp.response(200, page_schema(SafetyEventSchema, "SafetyEventPage"), headers=PAGE_HEADERS)
    def get(self, query):
        """List your safety events, newest first, and whether your care team acknowledged them.

        Newest by when each opened. A PHQ-9 where you answered item 9 above 0 opens one, and
        your linked therapists with the `assessments` scope see it. Each shows who acknowledged
        it (by name) and when. Filter with `status=open` or `acknowledged`. They are in
        `/v1/sync` too.
        """
        events, more = service.list_own(
            patient_id=current_user.id,
            status=query.get("status"),
            limit=query["limit"],
            after=page_position(query),
        )
        return page_response(events, more, time_field="created_at")
