"""/v1/practices: meditation, exercise, therapy and other practices, with mood before/after."""

from api.plans import service as follow_ups
from api.plans.models import StepKind
from api.practices.models import Practice
from api.practices.schemas import (
    PracticeCreateSchema,
    PracticePageSchema,
    PracticeQuerySchema,
    PracticeSchema,
    PracticeUpdateSchema,
)
from api.resources import JournalKind, Operation, Schemas, Sharing, register_views
from api.smorest import Blueprint

blp = Blueprint(
    "practices", __name__, url_prefix="/v1/practices", description="Holistic practices and how they felt."
)

kind = JournalKind(
    blueprint=blp,
    model=Practice,
    schemas=Schemas(
        record=PracticeSchema,
        create=PracticeCreateSchema,
        update=PracticeUpdateSchema,
        query=PracticeQuerySchema,
        page=PracticePageSchema,
    ),
    sync_type="practice",
    list=Operation(
        "listPractices",
        "List your practices, newest first.",
        "Filter by `from`/`to` (on `performed_at`) and `practice`.",
    ),
    create=Operation("createPractice", "Create a practice."),
    read=Operation("getPractice", "Read one practice."),
    update=Operation("updatePractice", "Change a practice."),
    delete=Operation("deletePractice", "Delete a practice."),
    sharing=Sharing(
        scope="practices",
        audit_type="practice",
        list=Operation("listPatientPractices", "List a patient's shared practices, newest first."),
        read=Operation("getPatientPractice", "Read one of a patient's shared practices."),
    ),
    match=("practice",),
    completes=follow_ups.completes(StepKind.PRACTICE),
    reopens=follow_ups.reopen,
)
register_views(kind)
