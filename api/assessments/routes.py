"""/v1/assessments: PHQ-9 and GAD-7, scored by the server (create, read, list, delete)."""

from api.assessments.models import Assessment
from api.assessments.schemas import AssessmentCreateSchema, AssessmentPageSchema, AssessmentQuerySchema, AssessmentSchema
from api.assessments.scoring import score
from api.models import utcnow
from api.records import require_own_session
from api.resources import ResourceSpec, register_resource
from api.smorest import Blueprint

blp = Blueprint("assessments", __name__, url_prefix="/v1/assessments", description="PHQ-9 and GAD-7 questionnaires.")


def scored(data, *, owner_id):
    if data.get("session_id") is not None:
        require_own_session(data["session_id"], owner_id=owner_id)
    data.setdefault("taken_at", utcnow())
    data["score"], data["severity"], data["safety_flag"] = score(data["instrument"], data["answers"])
    return data


spec = ResourceSpec(
    model=Assessment,
    schema=AssessmentSchema,
    create_schema=AssessmentCreateSchema,
    query_schema=AssessmentQuerySchema,
    page_schema=AssessmentPageSchema,
    scope="assessments",
    singular="Assessment",
    plural="Assessments",
    noun="questionnaire result",
    plural_noun="questionnaire results",
    match=("instrument", "session_id"),
    prepare_create=scored,
    list_notes="Filter by `from`/`to` (on `taken_at`), `instrument` and `session_id`.",
    create_notes="The server computes `score`, `severity` and `safety_flag` (PHQ-9 item 9 above 0). "
    "Answers are not edited afterwards: delete and take it again.",
)
register_resource(blp, spec)
