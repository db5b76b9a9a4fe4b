"""/v1/insights: what a patient's journal adds up to (mood by day or week, practices, treatment
sessions), and the same for a linked therapist at /v1/patients/{patient_id}/insights/..."""

from flask import g
from flask.views import MethodView
from flask_jwt_extended import current_user

from api import kinds
from api.access import PATIENTS, THERAPISTS, auth_required
from api.audit.models import FOLLOW_UP_INSIGHTS, MOOD_INSIGHTS, PRACTICE_INSIGHTS, SESSION_INSIGHTS
from api.insights import service
from api.insights.schemas import (
    SESSIONS_SHOWN,
    FollowUpInsightsSchema,
    MoodInsightQuerySchema,
    MoodInsightsSchema,
    PracticeInsightQuerySchema,
    PracticeInsightsSchema,
    SessionInsightPageSchema,
    SessionInsightQuerySchema,
)
from api.kinds import scope_of
from api.pagination import PAGE_HEADERS, page_position, page_response
from api.plans import service as plans
from api.plans.models import PLAN_SCOPE
from api.smorest import Blueprint
from api.smorest.conventions import operation

blp = Blueprint(
    "insights",
    __name__,
    url_prefix="/v1",
    description="What the journal adds up to: mood by local day or week, how practices move mood, "
    "and PHQ-9/GAD-7 around treatment sessions. A therapist's read is in the patient's access log.",
)


def therapist(patient_id, *, scopes, audit_type):
    return service.shared_reader(
        actor=current_user,
        patient_id=patient_id,
        scopes=scopes,
        audit_type=audit_type,
        request_id=g.request_id,
    )


def mood(reader, query):
    return service.mood_insights(
        reader, first=query.get("from_"), last=query.get("to"), bucket=query["bucket"]
    )


def sessions(reader, query):
    rows, more, items = service.session_insights(reader, limit=query["limit"], after=page_position(query))
    return page_response(rows, more, time_field="started_at", items=items)


@blp.route("/insights/mood")
class MoodInsights(MethodView):
    @auth_required(roles=PATIENTS)
    @operation("getMoodInsights")
    @blp.arguments(MoodInsightQuerySchema, location="query")
    @blp.response(200, MoodInsightsSchema)
    def get(self, query):
        """Your mood per local day or week: mean, lowest, highest and number of check-ins.

        Each check-in counts on its local day: in its own `timezone` when it has one, else in your
        profile's. `from` and `to` are local dates, both inclusive; with `bucket=week` the range
        grows to whole Monday-to-Sunday weeks. Days and weeks without check-ins are listed with
        `count` 0 and null values. At most 366 days or 260 weeks; `from` after `to` or a longer
        range is a 422.
        """
        return mood(service.own(current_user), query)


@blp.route("/patients/<uuid:patient_id>/insights/mood")
class PatientMoodInsights(MethodView):
    @auth_required(roles=THERAPISTS)
    @operation("getPatientMoodInsights")
    @blp.arguments(MoodInsightQuerySchema, location="query")
    @blp.response(200, MoodInsightsSchema)
    def get(self, query, patient_id):
        """A patient's mood per local day or week, as the patient's own insight shows it.

        404, the same as for a patient who does not exist, unless the patient has an active link
        to you with the `moods` scope.
        """
        return mood(therapist(patient_id, scopes=(scope_of(kinds.moods),), audit_type=MOOD_INSIGHTS), query)


@blp.route("/insights/practices")
class PracticeInsights(MethodView):
    @auth_required(roles=PATIENTS)
    @operation("getPracticeInsights")
    @blp.arguments(PracticeInsightQuerySchema, location="query")
    @blp.response(200, PracticeInsightsSchema)
    def get(self, query):
        """Your practices: how often, how long, and how your mood changed around them.

        Per practice done between `from` (inclusive) and `to` (exclusive) on `performed_at`: the
        number done, the minutes given, and the mean of `mood_after - mood_before` over those
        with both, with its 95% Student-t interval; from fewer than 3 such practices the mean and
        interval are null (`n` says how many there were).
        """
        return service.practice_insights(service.own(current_user), query=query)


@blp.route("/patients/<uuid:patient_id>/insights/practices")
class PatientPracticeInsights(MethodView):
    @auth_required(roles=THERAPISTS)
    @operation("getPatientPracticeInsights")
    @blp.arguments(PracticeInsightQuerySchema, location="query")
    @blp.response(200, PracticeInsightsSchema)
    def get(self, query, patient_id):
        """A patient's practices and how their mood changed around them.

        404, the same as for a patient who does not exist, unless the patient has an active link
        to you with the `practices` scope.
        """
        reader = therapist(patient_id, scopes=(scope_of(kinds.practices),), audit_type=PRACTICE_INSIGHTS)
        return service.practice_insights(reader, query=query)


@blp.route("/insights/sessions")
class SessionInsights(MethodView):
    @auth_required(roles=PATIENTS)
    @operation("listSessionInsights")
    @blp.arguments(SessionInsightQuerySchema, location="query")
    @blp.response(200, SessionInsightPageSchema, headers=PAGE_HEADERS)
    def get(self, query):
        """Your treatment sessions, newest first, with PHQ-9 and GAD-7 before and after each.

        Before: the latest taken in the 14 days up to `started_at` (inclusive). After: the
        earliest taken from 1 to 14 days after it (inclusive). Then the `change` (after minus
        before), `response` (a drop of at least 50%) and `remission` (below 5 from a baseline of
        10 or more), null when a side is missing. Paged like every list.
        """
        return sessions(service.own(current_user), query)


@blp.route("/patients/<uuid:patient_id>/insights/sessions")
class PatientSessionInsights(MethodView):
    @auth_required(roles=THERAPISTS)
    @operation("listPatientSessionInsights")
    @blp.arguments(SessionInsightQuerySchema, location="query")
    @blp.response(200, SessionInsightPageSchema, headers=PAGE_HEADERS)
    def get(self, query, patient_id):
        """A patient's treatment sessions with PHQ-9 and GAD-7 before and after each.

        404, the same as for a patient who does not exist, unless the patient has an active link
        to you with both the `sessions` and the `assessments` scopes.
        """
        reader = therapist(
            patient_id,
            scopes=(scope_of(kinds.sessions), scope_of(kinds.assessments)),
            audit_type=SESSION_INSIGHTS,
        )
        return sessions(reader, query)


def follow_ups(reader):
    return plans.adherence(reader.patient_id, sessions_shown=SESSIONS_SHOWN, conditions=reader.shared())


@blp.route("/insights/follow-ups")
class FollowUpInsights(MethodView):
    @auth_required(roles=PATIENTS)
    @operation("getFollowUpInsights")
    @blp.response(200, FollowUpInsightsSchema)
    def get(self):
        """How your follow-ups are kept: due, done, missed and the median delay.

        Overall, over the last 14 days and per session. The rate is the share done of those
        settled (done, missed or dismissed).
        """
        return follow_ups(service.own(current_user))


@blp.route("/patients/<uuid:patient_id>/insights/follow-ups")
class PatientFollowUpInsights(MethodView):
    @auth_required(roles=THERAPISTS)
    @operation("getPatientFollowUpInsights")
    @blp.response(200, FollowUpInsightsSchema)
    def get(self, patient_id):
        """How a patient's follow-ups are kept, as they see it.

        404, the same as for a patient who does not exist, unless the patient has an active link
        to you with the `plan` scope. It shares the plan's follow-ups and when each was done (so
        that a record of its kind was made then), never the records themselves, which their own
        scopes share.
        """
        return follow_ups(therapist(patient_id, scopes=(PLAN_SCOPE,), audit_type=FOLLOW_UP_INSIGHTS))
