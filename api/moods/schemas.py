"""Mood check-in schemas."""

import marshmallow as ma

from api.fields import Number, Score, Text, Timestamp, TimeZoneName
from api.pagination import PageQuerySchema, page_schema
from api.plans.schemas import FollowUpReference
from api.reference.fields import EmotionList, EmotionName
from api.schemas import RecordCreateSchema, RecordSchema, TimeRangeQuerySchema


class MoodFields(ma.Schema):
    mood = Score(1, 10, required=True, metadata={"description": "1 (worst) to 10 (best).", "example": 7})
    energy = Score(1, 10, allow_none=True, metadata={"example": 6})
    anxiety = Score(
        1, 10, allow_none=True, metadata={"description": "1 (none) to 10 (extreme).", "example": 3}
    )
    sleep_hours = Number(allow_none=True, validate=ma.validate.Range(0, 24), metadata={"example": 7.5})
    emotions = EmotionList(metadata={"example": ["calm", "hopeful"]})
    note = Text(
        max_length=2000,
        allow_none=True,
        metadata={"example": "Slept well after Tuesday's session; the heaviness in my chest has eased."},
    )
    recorded_at = Timestamp(metadata={"description": "When the check-in was made; default now."})
    timezone = TimeZoneName(allow_none=True, metadata={"description": "The device's IANA zone."})


class MoodSchema(RecordSchema, MoodFields):
    pass


class MoodCreateSchema(RecordCreateSchema, MoodFields):
    follow_up_id = FollowUpReference()


class MoodUpdateSchema(MoodFields):
    mood = Score(1, 10, metadata={"example": 6})


class MoodQuerySchema(PageQuerySchema, TimeRangeQuerySchema):
    emotion = EmotionName()


MoodPageSchema = page_schema(MoodSchema, "MoodPage")
