"""/v1/me/access-log: the patient's view of who read their shared data, and who was refused."""

from flask.views import MethodView
from flask_jwt_extended import current_user

from api.access import PATIENTS, auth_required
from api.audit import service
from api.audit.models import AuditEvent
from api.audit.schemas import AccessLogPageSchema, AccessLogQuerySchema
from api.pagination import PAGE_HEADERS, page_position, page_response
from api.records import time_filters
from api.smorest import Blueprint
from api.smorest.conventions import operation

blp = Blueprint(
    "access_log",
    __name__,
    url_prefix="/v1/me/access-log",
    description="Every therapist read of your data, and every refused attempt.",
)


@blp.route("")
class AccessLog(MethodView):
    @auth_required(roles=PATIENTS)
    @operation("listAccessLog")
    @blp.arguments(AccessLogQuerySchema, location="query")
    @blp.response(200, AccessLogPageSchema, headers=PAGE_HEADERS)
    def get(self, query):
        """List who read your shared data, newest first.

        One event per therapist read (a list page or a record), acknowledgement and refused
        attempt: who, their role, what kind of record (and which, for a single one), when, and
        whether it was allowed. Events hold no health text. Filter by `from`/`to`.
        """
        events, more = service.access_log(
            patient_id=current_user.id,
            filters=time_filters(AuditEvent.occurred_at, query),
            limit=query["limit"],
            after=page_position(query),
        )
        return page_response(events, more, time_field="occurred_at")
