"""Journal entry schemas."""

import marshmallow as ma

from api.accounts.schemas import PersonSchema
from api.entries.models import EntryKind, Visibility
from api.fields import UUID, BoundedList, Text, Timestamp
from api.pagination import PageQuerySchema, page_schema
from api.plans.schemas import FollowUpReference
from api.reference.fields import EmotionList, EmotionName
from api.schemas import RecordCreateSchema, RecordSchema, TimeRangeQuerySchema

TAG_MAX_LENGTH = 50


def Tag(**kwargs):
    return Text(min_length=1, max_length=TAG_MAX_LENGTH, **kwargs)


class EntryFields(ma.Schema):
    body = Text(
        required=True,
        min_length=1,
        max_length=20000,
        metadata={
            "example": "In the session I saw my father at the lake house and, for once, I was not "
            "angry. I want to call him this week."
        },
    )
    kind = ma.fields.Enum(EntryKind, by_value=True, metadata={"description": "Default `general`."})
    title = Text(max_length=200, allow_none=True, metadata={"example": "What the lake showed me"})
    session_id = UUID(allow_none=True, metadata={"description": "One of your treatment sessions."})
    emotions = EmotionList(metadata={"example": ["tender", "hopeful"]})
    tags = BoundedList(
        Tag(),
        max_items=30,
        metadata={
            "example": ["family", "insight"],
            "uniqueItems": True,
            "description": "Each tag once, ignoring case.",
        },
    )
    occurred_at = Timestamp(metadata={"description": "Default now."})
    visibility = ma.fields.Enum(
        Visibility,
        by_value=True,
        metadata={"description": "`private` (default) or `care_team`: shared with linked therapists."},
    )

    @ma.validates("tags")
    def tags_are_unique(self, value, **kwargs):
        if len({tag.lower() for tag in value}) != len(value):
            raise ma.ValidationError("List each tag once.")


class EntrySchema(RecordSchema, EntryFields):
    acknowledged_by = ma.fields.Nested(
        PersonSchema,
        dump_only=True,
        allow_none=True,
        metadata={"description": "The linked therapist who marked this shared entry read; null until then."},
    )
    acknowledged_at = Timestamp(dump_only=True, allow_none=True)


class EntryCreateSchema(RecordCreateSchema, EntryFields):
    follow_up_id = FollowUpReference()


class EntryUpdateSchema(EntryFields):
    body = Text(
        min_length=1,
        max_length=20000,
        metadata={"example": "I called him. We talked for an hour about the lake house."},
    )


class EntryQuerySchema(PageQuerySchema, TimeRangeQuerySchema):
    kind = ma.fields.Enum(EntryKind, by_value=True)
    tag = Tag(metadata={"description": "Entries with this tag, ignoring case."})
    emotion = EmotionName()
    session_id = UUID()
    visibility = ma.fields.Enum(Visibility, by_value=True)


EntryPageSchema = page_schema(EntrySchema, "EntryPage")
