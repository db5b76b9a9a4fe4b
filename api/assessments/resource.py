"""/v1/assessments: the registry's questionnaires (PHQ-9, GAD-7, PCL-5), scored by the server
(create, read, list, delete)."""

from api.assessments import safety, service
from api.assessments.models import Assessment
from api.assessments.safety_models import SafetyEvent
from api.assessments.schemas import (
    AssessmentCreateSchema,
    AssessmentPageSchema,
    AssessmentQuerySchema,
    AssessmentSchema,
)
from api.plans import service as follow_ups
from api.plans.models import StepKind
from api.resources import JournalKind, Operation, Schemas, Sharing, Synced, register_views
from api.smorest import Blueprint

blp = Blueprint(
    "assessments",
    __name__,
    url_prefix="/v1/assessments",
    description="Standard questionnaires: PHQ-9, GAD-7 and PCL-5.",
)

kind = JournalKind(
    blueprint=blp,
    model=Assessment,
    schemas=Schemas(
        record=AssessmentSchema,
        create=AssessmentCreateSchema,
        query=AssessmentQuerySchema,
        page=AssessmentPageSchema,
        created=safety.AssessmentCreatedSchema,
    ),
    sync_type="assessment",
    list=Operation(
        "listAssessments",
        "List your questionnaire results, newest first.",
        "Filter by `from`/`to` (on `taken_at`), `instrument` and `session_id`.",
    ),
    create=Operation(
        "createAssessment",
        "Create a questionnaire result.",
        "`answers` has one answer per item of the instrument, each one of its answer option values "
        "(`GET /v1/reference/instruments`). The server computes `score` (the sum), `severity` (the "
        "instrument's band; null for PCL-5, which has none), `threshold_met` (PCL-5: 33 or more, a "
        "provisional PTSD diagnosis; null for an instrument without a threshold) and `safety_flag` "
        "(PHQ-9 item 9 above 0). "
        "Answers are not edited afterwards: delete and take it again.\n\n"
        "A PHQ-9 with item 9 above 0 also opens a safety event, in the same transaction: your linked "
        "therapists with the `assessments` scope see it until one acknowledges it, you see it at "
        "`GET /v1/me/safety-events` and in `/v1/sync`, and this response carries `crisis_resources`. "
        "Deleting the assessment deletes its event.",
    ),
    read=Operation("getAssessment", "Read one questionnaire result."),
    delete=Operation("deleteAssessment", "Delete a questionnaire result."),
    sharing=Sharing(
        scope="assessments",
        audit_type="assessment",
        list=Operation(
            "listPatientAssessments", "List a patient's shared questionnaire results, newest first."
        ),
        read=Operation("getPatientAssessment", "Read one of a patient's shared questionnaire results."),
    ),
    match=("instrument", "session_id"),
    prepare_create=service.prepare_create,
    after_create=safety.open_safety_event,
    present_created=safety.present_created,
    before_delete=safety.delete_with_assessment,
    forget_person=safety.forget_acknowledger,
    also_synced=(Synced("safety_event", SafetyEvent, safety.SafetyEventSchema),),
    completes=follow_ups.completes(StepKind.ASSESSMENT),
    reopens=follow_ups.reopen,
)
register_views(kind)
