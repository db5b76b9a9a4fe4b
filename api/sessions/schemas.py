"""Treatment session schemas."""

import marshmallow as ma

from api.fields import BoundedList, Text, Timestamp
from api.pagination import PageQuerySchema, page_schema
from api.schemas import RecordCreateSchema, RecordSchema, TimeRangeQuerySchema
from api.sessions.models import SIDE_EFFECTS, Medicine, Route, Setting


class VitalsSchema(ma.Schema):
    taken_at: ma.fields.Field = Timestamp(required=True)
    systolic = ma.fields.Integer(
        strict=True, validate=ma.validate.Range(50, 260), allow_none=True, metadata={"description": "mmHg"}
    )
    diastolic = ma.fields.Integer(
        strict=True, validate=ma.validate.Range(30, 160), allow_none=True, metadata={"description": "mmHg"}
    )
    heart_rate = ma.fields.Integer(
        strict=True,
        validate=ma.validate.Range(20, 250),
        allow_none=True,
        metadata={"description": "beats per minute"},
    )


class StoredVitalsSchema(VitalsSchema):
    """Vitals as stored (JSON, timestamps already RFC 3339 text in UTC)."""

    taken_at = ma.fields.String(metadata={"format": "date-time", "maxLength": 40})


class SessionFields(ma.Schema):
    started_at = Timestamp(required=True)
    medicine = ma.fields.Enum(Medicine, by_value=True, metadata={"description": "Default `ketamine`."})
    route = ma.fields.Enum(Route, by_value=True, allow_none=True)
    dose_mg = ma.fields.Float(
        allow_none=True,
        validate=ma.validate.Range(0, 10000, min_inclusive=False),
        metadata={"exclusiveMinimum": 0, "description": "Milligrams, above 0."},
    )
    duration_minutes = ma.fields.Integer(strict=True, allow_none=True, validate=ma.validate.Range(1, 1440))
    setting = ma.fields.Enum(Setting, by_value=True, allow_none=True)
    provider = Text(max_length=200, allow_none=True)
    intention = Text(max_length=5000, allow_none=True)
    side_effects = BoundedList(
        ma.fields.String(validate=ma.validate.OneOf(SIDE_EFFECTS)), max_items=len(SIDE_EFFECTS)
    )
    vitals: ma.fields.Field = BoundedList(ma.fields.Nested(VitalsSchema), max_items=50)
    notes = Text(max_length=10000, allow_none=True)

    @ma.validates("side_effects")
    def no_repeats(self, value, **kwargs):
        if len(set(value)) != len(value):
            raise ma.ValidationError("List each side effect once.")


class SessionSchema(RecordSchema, SessionFields):
    vitals = ma.fields.List(ma.fields.Nested(StoredVitalsSchema), validate=ma.validate.Length(max=50))


class SessionCreateSchema(RecordCreateSchema, SessionFields):
    pass


class SessionUpdateSchema(SessionFields):
    started_at = Timestamp()


class SessionQuerySchema(PageQuerySchema, TimeRangeQuerySchema):
    medicine = ma.fields.Enum(Medicine, by_value=True)


SessionPageSchema = page_schema(SessionSchema, "SessionPage")
