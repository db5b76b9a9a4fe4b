"""/v1/moods: the patient's mood check-ins."""

from api.moods.models import Mood
from api.moods.schemas import MoodCreateSchema, MoodPageSchema, MoodQuerySchema, MoodSchema, MoodUpdateSchema
from api.models import utcnow
from api.resources import ResourceSpec, register_resource
from api.smorest import Blueprint

blp = Blueprint(
    "moods", __name__, url_prefix="/v1/moods", description="Mood check-ins: mood, energy, anxiety, sleep, emotions."
)


def defaults(data, *, owner_id):
    data.setdefault("recorded_at", utcnow())
    data.setdefault("emotions", [])
    return data


spec = ResourceSpec(
    model=Mood,
    schema=MoodSchema,
    create_schema=MoodCreateSchema,
    update_schema=MoodUpdateSchema,
    query_schema=MoodQuerySchema,
    page_schema=MoodPageSchema,
    scope="moods",
    singular="Mood",
    plural="Moods",
    noun="mood check-in",
    plural_noun="mood check-ins",
    contains={"emotion": "emotions"},
    prepare_create=defaults,
    list_notes="Filter by `from`/`to` (on `recorded_at`) and `emotion`; page with `cursor`.",
    create_notes="`recorded_at` defaults to now; send the device's `timezone` so insights use its local day.",
)
register_resource(blp, spec)
