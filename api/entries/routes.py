"""/v1/entries: journal entries, optionally linked to one of the author's sessions."""

from api.entries.models import Entry, Kind, Visibility
from api.entries.schemas import EntryCreateSchema, EntryPageSchema, EntryQuerySchema, EntrySchema, EntryUpdateSchema
from api.models import utcnow
from api.records import require_own_session
from api.resources import ResourceSpec, register_resource
from api.smorest import Blueprint

blp = Blueprint("entries", __name__, url_prefix="/v1/entries", description="Journal entries: insights, reflections, dreams ...")


def prepare_create(data, *, owner_id):
    data.setdefault("kind", Kind.GENERAL)
    data.setdefault("visibility", Visibility.PRIVATE)
    data.setdefault("occurred_at", utcnow())
    data.setdefault("emotions", [])
    data.setdefault("tags", [])
    return prepare_update(data, owner_id=owner_id)


def prepare_update(changes, *, owner_id):
    if changes.get("session_id") is not None:
        require_own_session(changes["session_id"], owner_id=owner_id)
    return changes


spec = ResourceSpec(
    model=Entry,
    schema=EntrySchema,
    create_schema=EntryCreateSchema,
    update_schema=EntryUpdateSchema,
    query_schema=EntryQuerySchema,
    page_schema=EntryPageSchema,
    scope="entries",
    shared_when=(Entry.visibility == Visibility.CARE_TEAM,),  # private entries are never shared
    singular="Entry",
    plural="Entries",
    noun="journal entry",
    plural_noun="journal entries",
    match=("kind", "session_id", "visibility"),
    contains={"tag": "tags", "emotion": "emotions"},
    prepare_create=prepare_create,
    prepare_update=prepare_update,
    list_notes="Filter by `from`/`to` (on `occurred_at`), `kind`, `tag`, `emotion`, `session_id`, `visibility`.",
    create_notes="Entries are `private` unless `visibility` is `care_team`. `session_id` must be one of your "
    "sessions (422 otherwise, also for a deleted one).",
)
register_resource(blp, spec)
