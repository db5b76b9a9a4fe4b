"""/v1/patients: a therapist's linked patients, the records each one shares (read-only), and the
acknowledgement of a shared entry."""

from flask import g
from flask.views import MethodView
from flask_jwt_extended import current_user

from api.access import THERAPISTS, auth_required
from api.kinds import SHARED, entries
from api.pagination import PAGE_HEADERS, page_position, page_response
from api.patients import service
from api.patients.schemas import PatientListQuerySchema, PatientSummaryPageSchema
from api.plans.schemas import PlanChangeSchema, PlanSchema
from api.resources import decorate
from api.smorest import Blueprint
from api.smorest.conventions import document_responses, operation
from api.smorest.etags import etag_headers, item_response, versioned
from api.smorest.parsing import takes_no_body

blp = Blueprint(
    "patients",
    __name__,
    url_prefix="/v1/patients",
    description="For therapists: linked patients and what they share, read-only. Every read is in the "
    "patient's access log.",
)

NOT_SHARED_404 = (
    "404, the same as for a patient who does not exist, unless the patient has an active link to you "
    "with the `{scope}` scope."
)


@blp.route("")
class PatientList(MethodView):
    @auth_required(roles=THERAPISTS)
    @operation("listPatients")
    @blp.arguments(PatientListQuerySchema, location="query")
    @blp.response(200, PatientSummaryPageSchema, headers=PAGE_HEADERS)
    def get(self, query):
        """List the patients linked to you, newest link first.

        Each with the scopes they grant and, as those allow, their latest mood check-in, latest
        PHQ-9 and GAD-7 with severity, and open safety events.
        """
        links, more, summaries = service.patient_summaries(
            actor=current_user, limit=query["limit"], after=page_position(query), request_id=g.request_id
        )
        return page_response(links, more, time_field="created_at", items=summaries)


def register_shared_views(blp, kind):
    """Read-only views of one shared kind: /{patient_id}/{scope} and /{patient_id}/{scope}/{id}."""
    sharing, model, schemas = kind.sharing, kind.model, kind.schemas
    id_arg = f"{model.__name__.lower()}_id"
    denied = NOT_SHARED_404.format(scope=sharing.scope)

    def list_records(self, query, patient_id):
        rows, more = service.list_shared(
            kind,
            actor=current_user,
            patient_id=patient_id,
            filters=kind.filters(query, owner_id=patient_id),
            limit=query["limit"],
            after=page_position(query),
            request_id=g.request_id,
        )
        return page_response(rows, more, time_field=model.TIME_FIELD)

    def read_record(self, patient_id, **path):
        record = service.read_shared(
            kind, actor=current_user, patient_id=patient_id, record_id=path[id_arg], request_id=g.request_id
        )
        return item_response(record)

    same_as_own = "Same paging and filters as the patient's own list."
    list_records.__doc__ = sharing.list.doc(
        " ".join(part for part in (same_as_own, sharing.notes, denied) if part)
    )
    read_record.__doc__ = sharing.read.doc(" ".join(part for part in (denied, sharing.notes) if part))

    therapists_only = auth_required(roles=THERAPISTS)
    collection = {
        "get": decorate(
            list_records,
            therapists_only,
            operation(sharing.list.id),
            blp.arguments(schemas.query, location="query"),
            blp.response(200, schemas.page, headers=PAGE_HEADERS),
        )
    }
    item = {
        "get": decorate(
            read_record,
            therapists_only,
            operation(sharing.read.id),
            versioned,
            blp.response(200, schemas.record),
        )
    }
    base = f"/<uuid:patient_id>/{sharing.scope}"
    blp.route(base)(type(f"Patient{model.__name__}List", (MethodView,), collection))
    blp.route(f"{base}/<uuid:{id_arg}>")(type(f"Patient{model.__name__}Item", (MethodView,), item))


for kind in SHARED:
    register_shared_views(blp, kind)


@blp.route("/<uuid:patient_id>/entries/<uuid:entry_id>/acknowledgement")
class PatientEntryAcknowledgement(MethodView):
    @auth_required(roles=THERAPISTS)
    @takes_no_body
    @operation("acknowledgePatientEntry")
    @document_responses(409)
    @blp.response(200, entries.schemas.record, headers={"ETag": "ETAG"})
    def post(self, patient_id, entry_id):
        """Mark a patient's shared entry read.

        The patient then sees `acknowledged_by` (you) and `acknowledged_at` on the entry. The
        first acknowledgement stands; repeating it changes nothing. No request body. 404 unless
        the entry is shared with you (link with the `entries` scope and `visibility: care_team`).
        """
        entry = service.acknowledge_entry(
            actor=current_user, patient_id=patient_id, entry_id=entry_id, request_id=g.request_id
        )
        return entry, etag_headers(entry)


@blp.route("/<uuid:patient_id>/integration-plan")
class PatientIntegrationPlan(MethodView):
    @auth_required(roles=THERAPISTS)
    @operation("getPatientIntegrationPlan")
    @versioned
    @blp.response(200, PlanSchema)
    def get(self, patient_id):
        """Read a patient's integration plan.

        404, the same as for a patient who does not exist, unless the patient has an active link to
        you with the `plan` scope. In the patient's access log.
        """
        plan = service.read_plan(actor=current_user, patient_id=patient_id, request_id=g.request_id)
        return item_response(plan)

    @auth_required(roles=THERAPISTS)
    @operation("setPatientIntegrationPlan")
    @versioned
    @blp.arguments(PlanChangeSchema)
    @blp.response(200, PlanSchema)
    def put(self, data, patient_id):
        """Set a patient's integration plan.

        Needs `If-Match` with the plan's current ETag (428 without, 412 with the plan as it is now).
        The patient sees you as `updated_by`; sessions they record from now on follow it. 404
        unless the patient has an active link to you with the `plan` scope. In the patient's
        access log.
        """
        plan = service.set_plan(
            actor=current_user, patient_id=patient_id, steps=data["steps"], request_id=g.request_id
        )
        return plan, etag_headers(plan)
