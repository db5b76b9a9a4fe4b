"""/v1/practices: meditation, exercise, therapy and other practices, with mood before/after."""

from api.practices.models import Practice
from api.practices.schemas import (
    PracticeCreateSchema,
    PracticePageSchema,
    PracticeQuerySchema,
    PracticeSchema,
    PracticeUpdateSchema,
)
from api.resources import ResourceSpec, register_resource
from api.smorest import Blueprint

blp = Blueprint("practices", __name__, url_prefix="/v1/practices", description="Holistic practices and how they felt.")


spec = ResourceSpec(
    model=Practice,
    schema=PracticeSchema,
    create_schema=PracticeCreateSchema,
    update_schema=PracticeUpdateSchema,
    query_schema=PracticeQuerySchema,
    page_schema=PracticePageSchema,
    scope="practices",
    singular="Practice",
    plural="Practices",
    noun="practice",
    plural_noun="practices",
    match=("practice",),
    list_notes="Filter by `from`/`to` (on `performed_at`) and `practice`.",
)
register_resource(blp, spec)
