"""/v1/moods: the patient's mood check-ins."""

from api.moods.models import Mood
from api.moods.schemas import MoodCreateSchema, MoodPageSchema, MoodQuerySchema, MoodSchema, MoodUpdateSchema
from api.plans import service as follow_ups
from api.plans.models import StepKind
from api.resources import JournalKind, Operation, Schemas, Sharing, register_views
from api.smorest import Blueprint

blp = Blueprint(
    "moods",
    __name__,
    url_prefix="/v1/moods",
    description="Mood check-ins: mood, energy, anxiety, sleep, emotions.",
)

kind = JournalKind(
    blueprint=blp,
    model=Mood,
    schemas=Schemas(
        record=MoodSchema,
        create=MoodCreateSchema,
        update=MoodUpdateSchema,
        query=MoodQuerySchema,
        page=MoodPageSchema,
    ),
    sync_type="mood",
    list=Operation(
        "listMoods",
        "List your mood check-ins, newest first.",
        "Filter by `from`/`to` (on `recorded_at`) and `emotion`; page with `cursor`.",
    ),
    create=Operation(
        "createMood",
        "Create a mood check-in.",
        "`recorded_at` defaults to now; send the device's `timezone` so insights use its local day.",
    ),
    read=Operation("getMood", "Read one mood check-in."),
    update=Operation("updateMood", "Change a mood check-in."),
    delete=Operation("deleteMood", "Delete a mood check-in."),
    sharing=Sharing(
        scope="moods",
        audit_type="mood",
        list=Operation("listPatientMoods", "List a patient's shared mood check-ins, newest first."),
        read=Operation("getPatientMood", "Read one of a patient's shared mood check-ins."),
    ),
    contains={"emotion": "emotions"},
    completes=follow_ups.completes(StepKind.MOOD),
    reopens=follow_ups.reopen,
)
register_views(kind)
