"""Practice schemas."""

import marshmallow as ma

from api.fields import Score, Text, Timestamp, WholeNumber
from api.pagination import PageQuerySchema, page_schema
from api.plans.schemas import FollowUpReference
from api.practices.models import Intensity, PracticeKind
from api.schemas import RecordCreateSchema, RecordSchema, TimeRangeQuerySchema


class PracticeFields(ma.Schema):
    practice = ma.fields.Enum(PracticeKind, by_value=True, required=True)
    performed_at = Timestamp(required=True)
    duration_minutes = WholeNumber(
        allow_none=True, validate=ma.validate.Range(1, 1440), metadata={"example": 20}
    )
    intensity = ma.fields.Enum(Intensity, by_value=True, allow_none=True)
    mood_before = Score(1, 10, allow_none=True, metadata={"example": 4})
    mood_after = Score(1, 10, allow_none=True, metadata={"example": 6})
    notes = Text(
        max_length=5000, allow_none=True, metadata={"example": "Body scan after work; my jaw finally let go."}
    )


class PracticeSchema(RecordSchema, PracticeFields):
    pass


class PracticeCreateSchema(RecordCreateSchema, PracticeFields):
    follow_up_id = FollowUpReference()


class PracticeUpdateSchema(PracticeFields):
    practice = ma.fields.Enum(PracticeKind, by_value=True)
    performed_at = Timestamp()


class PracticeQuerySchema(PageQuerySchema, TimeRangeQuerySchema):
    practice = ma.fields.Enum(PracticeKind, by_value=True)


PracticePageSchema = page_schema(PracticeSchema, "PracticePage")
