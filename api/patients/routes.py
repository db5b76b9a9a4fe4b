"""/v1/patients: a therapist's linked patients and, read-only, the records each one shares."""

from flask import g
from flask.views import MethodView
from flask_jwt_extended import current_user

from api.access import THERAPISTS, auth_required
from api.assessments.routes import spec as assessments
from api.entries.routes import spec as entries
from api.entries.schemas import EntrySchema
from api.moods.routes import spec as moods
from api.pagination import page_position, page_response
from api.patients import service
from api.patients.schemas import PatientListQuerySchema, PatientSummaryPageSchema
from api.practices.routes import spec as practices
from api.records import time_range
from api.resources import decorate, query_filters
from api.sessions.routes import spec as sessions
from api.smorest import (
    Blueprint,
    document_responses,
    etag_headers,
    item_response,
    operation,
    takes_no_body,
    versioned,
)

blp = Blueprint(
    "patients",
    __name__,
    url_prefix="/v1/patients",
    description="For therapists: linked patients and what they share, read-only. Every read is in the "
    "patient's access log.",
)

# What a care-team link can share; contacts never are.
SHARED = (entries, moods, assessments, practices, sessions)

NOT_SHARED_404 = (
    "404, the same as for a patient who does not exist, unless the patient has an active link to you "
    "with the `{scope}` scope."
)


@blp.route("")
class PatientList(MethodView):
    @auth_required(roles=THERAPISTS)
    @operation("listPatients")
    @blp.arguments(PatientListQuerySchema, location="query")
    @blp.response(200, PatientSummaryPageSchema)
    def get(self, query):
        """List the patients linked to you, newest link first.

        Each with the scopes they grant and, as those allow, their latest mood check-in, latest
        PHQ-9 and GAD-7 with severity, and open safety flags.
        """
        links, more, summaries = service.patient_summaries(
            actor=current_user, limit=query["limit"], after=page_position(query), request_id=g.request_id
        )
        return page_response(links, more, time_field="created_at", items=summaries)


def register_shared_resource(blp, spec):
    """Read-only views of one shared resource: /{patient_id}/{scope} and /{patient_id}/{scope}/{id}."""
    id_arg = f"{spec.singular.lower()}_id"
    entries_note = (
        " Only entries the patient marked `visibility: care_team` are shared." if spec.scope == "entries" else ""
    )
    denied = NOT_SHARED_404.format(scope=spec.scope)

    def list_records(self, query, patient_id):
        filters = time_range(spec.model, query) + query_filters(spec, query)
        rows, more = service.list_shared(
            spec,
            actor=current_user,
            patient_id=patient_id,
            filters=filters,
            limit=query["limit"],
            after=page_position(query),
            request_id=g.request_id,
        )
        return page_response(rows, more, time_field=spec.model.TIME_FIELD)

    def read_record(self, patient_id, **path):
        record = service.read_shared(
            spec, actor=current_user, patient_id=patient_id, record_id=path[id_arg], request_id=g.request_id
        )
        return item_response(record)

    list_records.__doc__ = (
        f"List a patient's shared {spec.plural_noun}, newest first.\n\n"
        f"Same paging and filters as the patient's own list.{entries_note} {denied}"
    )
    read_record.__doc__ = f"Read one of a patient's shared {spec.plural_noun}.\n\n{denied}{entries_note}"

    therapists_only = auth_required(roles=THERAPISTS)
    collection = {
        "get": decorate(
            list_records,
            therapists_only,
            operation(f"listPatient{spec.plural}"),
            blp.arguments(spec.query_schema, location="query"),
            blp.response(200, spec.page_schema),
        )
    }
    item = {
        "get": decorate(
            read_record, therapists_only, operation(f"getPatient{spec.singular}"), versioned, blp.response(200, spec.schema)
        )
    }
    base = f"/<uuid:patient_id>/{spec.scope}"
    blp.route(base)(type(f"Patient{spec.singular}List", (MethodView,), collection))
    blp.route(f"{base}/<uuid:{id_arg}>")(type(f"Patient{spec.singular}Item", (MethodView,), item))


for shared in SHARED:
    register_shared_resource(blp, shared)


@blp.route("/<uuid:patient_id>/entries/<uuid:entry_id>/acknowledgement")
class PatientEntryAcknowledgement(MethodView):
    @auth_required(roles=THERAPISTS)
    @takes_no_body
    @operation("acknowledgePatientEntry")
    @document_responses(409)
    @blp.response(200, EntrySchema)
    def post(self, patient_id, entry_id):
        """Mark a patient's shared entry read.

        The patient then sees `acknowledged_by` (you) and `acknowledged_at` on the entry. The
        first acknowledgement stands; repeating it changes nothing. No request body. 404 unless
        the entry is shared with you (link with the `entries` scope and `visibility: care_team`).
        """
        entry = service.acknowledge_entry(
            entries, actor=current_user, patient_id=patient_id, entry_id=entry_id, request_id=g.request_id
        )
        return entry, etag_headers(entry)
