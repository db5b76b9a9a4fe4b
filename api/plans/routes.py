"""/v1/me/integration-plan and /v1/follow-ups: a patient's plan for the days after a session, and
the follow-ups each session makes from it."""

from flask import request
from flask.views import MethodView
from flask_jwt_extended import current_user

from api import records
from api.access import PATIENTS, auth_required
from api.pagination import PAGE_HEADERS, page_position, page_response
from api.plans import service
from api.plans.models import FollowUp
from api.plans.schemas import (
    FollowUpDismissalSchema,
    FollowUpPageSchema,
    FollowUpQuerySchema,
    FollowUpSchema,
    PlanChangeSchema,
    PlanSchema,
)
from api.smorest import Blueprint
from api.smorest.conventions import operation
from api.smorest.etags import etag_headers, item_response, not_modified_version, require_if_match, versioned

blp = Blueprint(
    "plans",
    __name__,
    url_prefix="/v1",
    description="Your integration plan, and the follow-ups it makes after each session (also in /v1/sync).",
)


@blp.route("/me/integration-plan")
class MyIntegrationPlan(MethodView):
    @auth_required(roles=PATIENTS)
    @operation("getMyIntegrationPlan")
    @versioned
    @blp.response(200, PlanSchema)
    def get(self):
        """Read your integration plan.

        The default plan (`is_default: true`, version 1) until you or a linked therapist with the
        `plan` scope set one; `updated_by` says who set it last. Carries an `ETag`.

        Each step is a day after the session (`offset_days`), a local time and what to do: an
        `entry` with a reflection prompt, a `mood` check-in, an `assessment` (with its
        `instrument`) or a `practice`. Recording a session makes one follow-up per step.
        """
        return item_response(service.plan_of(current_user.id))

    @auth_required(roles=PATIENTS)
    @operation("setMyIntegrationPlan")
    @versioned
    @blp.arguments(PlanChangeSchema)
    @blp.response(200, PlanSchema)
    def put(self, data):
        """Set your integration plan.

        Needs `If-Match` with the plan's current ETag (the default plan's is `"1"`): 428 without it,
        412 with the plan as it is now when it changed meanwhile. Sessions recorded from now on
        follow it; those already recorded keep their follow-ups.
        """
        plan = service.set_plan(current_user.id, data["steps"], actor_id=current_user.id)
        return plan, etag_headers(plan)


@blp.route("/follow-ups")
class FollowUpList(MethodView):
    @auth_required(roles=PATIENTS)
    @operation("listFollowUps")
    @blp.arguments(FollowUpQuerySchema, location="query")
    @blp.response(200, FollowUpPageSchema, headers=PAGE_HEADERS)
    def get(self, query):
        """List your follow-ups, the latest due first.

        Filter by `from`/`to` (on `due_at`), `session_id` and `status`, which is worked out from
        the time now and each one's times: `done` once a record completed it (`completed_at`),
        `dismissed` once you dismissed it (`dismissed_at`), else `upcoming` before `due_at`, `due`
        until `window_ends_at` and `missed` after it. A device works it out the same way offline.
        """
        rows, more = service.list_follow_ups(
            owner_id=current_user.id, query=query, limit=query["limit"], after=page_position(query)
        )
        return page_response(rows, more, time_field="due_at")


@blp.route("/follow-ups/<uuid:follow_up_id>")
class FollowUpItem(MethodView):
    @auth_required(roles=PATIENTS)
    @operation("getFollowUp")
    @versioned
    @blp.response(200, FollowUpSchema)
    def get(self, follow_up_id):
        """Read one follow-up."""
        if request.if_none_match:  # answered from the version alone, as every record's GET is
            version = records.live_version(FollowUp, owner_id=current_user.id, record_id=follow_up_id)
            unchanged = not_modified_version(version)
            if unchanged is not None:
                return unchanged
        return item_response(records.get_owned(FollowUp, owner_id=current_user.id, record_id=follow_up_id))

    @auth_required(roles=PATIENTS)
    @operation("updateFollowUp")
    @versioned
    @blp.arguments(FollowUpDismissalSchema)
    @blp.response(200, FollowUpSchema)
    def patch(self, data, follow_up_id):
        """Dismiss a follow-up, or take that back.

        A dismissed follow-up is not counted as missed, and no record completes it. A done one
        cannot be dismissed (422). Needs `If-Match` with its current ETag (428 without, 412 when
        stale).
        """
        follow_up = records.get_owned(FollowUp, owner_id=current_user.id, record_id=follow_up_id)
        require_if_match(follow_up, FollowUpSchema())
        service.set_dismissed(follow_up, dismissed=data["dismissed"], current=FollowUpSchema().dump)
        return follow_up, etag_headers(follow_up)
