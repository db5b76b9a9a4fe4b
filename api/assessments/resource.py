"""/v1/assessments: PHQ-9 and GAD-7, scored by the server (create, read, list, delete)."""

from api.assessments import service
from api.assessments.models import Assessment
from api.assessments.schemas import (
    AssessmentCreateSchema,
    AssessmentPageSchema,
    AssessmentQuerySchema,
    AssessmentSchema,
)
from api.resources import JournalKind, Operation, Schemas, Sharing, register_views
from api.smorest import Blueprint

blp = Blueprint(
    "assessments", __name__, url_prefix="/v1/assessments", description="PHQ-9 and GAD-7 questionnaires."
)

kind = JournalKind(
    blueprint=blp,
    model=Assessment,
    schemas=Schemas(
        record=AssessmentSchema,
        create=AssessmentCreateSchema,
        query=AssessmentQuerySchema,
        page=AssessmentPageSchema,
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
        "The server computes `score`, `severity` and `safety_flag` (PHQ-9 item 9 above 0). "
        "Answers are not edited afterwards: delete and take it again.",
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
)
register_views(kind)
