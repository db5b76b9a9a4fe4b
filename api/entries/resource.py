"""/v1/entries: journal entries, optionally linked to one of the author's sessions."""

from api.entries import service
from api.entries.models import Entry
from api.entries.schemas import (
    EntryCreateSchema,
    EntryPageSchema,
    EntryQuerySchema,
    EntrySchema,
    EntryUpdateSchema,
)
from api.plans import service as follow_ups
from api.plans.models import StepKind
from api.resources import JournalKind, Operation, Schemas, Sharing, register_views
from api.smorest import Blueprint

blp = Blueprint(
    "entries",
    __name__,
    url_prefix="/v1/entries",
    description="Journal entries: insights, reflections, dreams ...",
)

kind = JournalKind(
    blueprint=blp,
    model=Entry,
    schemas=Schemas(
        record=EntrySchema,
        create=EntryCreateSchema,
        update=EntryUpdateSchema,
        query=EntryQuerySchema,
        page=EntryPageSchema,
    ),
    sync_type="entry",
    list=Operation(
        "listEntries",
        "List your journal entries, newest first.",
        "Filter by `from`/`to` (on `occurred_at`), `kind`, `tag`, `emotion`, `session_id`, `visibility`.",
    ),
    create=Operation(
        "createEntry",
        "Create a journal entry.",
        "Entries are `private` unless `visibility` is `care_team`. `session_id` must be one of your "
        "sessions (422 otherwise, also for a deleted one).",
    ),
    read=Operation("getEntry", "Read one journal entry."),
    update=Operation("updateEntry", "Change a journal entry."),
    delete=Operation("deleteEntry", "Delete a journal entry."),
    sharing=Sharing(
        scope="entries",
        audit_type="entry",
        list=Operation("listPatientEntries", "List a patient's shared journal entries, newest first."),
        read=Operation("getPatientEntry", "Read one of a patient's shared journal entries."),
        when=service.SHARED_WHEN,
        notes="Only entries the patient marked `visibility: care_team` are shared.",
    ),
    match=("kind", "session_id", "visibility"),
    contains={"emotion": "emotions"},
    contains_encrypted={"tag": "tags"},
    prepare_create=service.prepare,
    prepare_update=service.prepare,
    forget_person=service.forget_acknowledger,
    completes=follow_ups.completes(StepKind.ENTRY),
    reopens=follow_ups.reopen,
)
register_views(kind)
