"""Treatment session schemas."""

import marshmallow as ma

from api.fields import BoundedList, Number, Text, Timestamp, WholeNumber
from api.pagination import PageQuerySchema, page_schema
from api.schemas import RecordCreateSchema, RecordSchema, TimeRangeQuerySchema
from api.sessions.models import SIDE_EFFECTS, Medicine, Route, Setting


class VitalsSchema(ma.Schema):
    taken_at: ma.fields.Field = Timestamp(required=True)
    systolic = WholeNumber(
        validate=ma.validate.Range(50, 260),
        allow_none=True,
        dump_default=None,  # stored without the key when left out; comes back as null
        metadata={"description": "mmHg", "example": 128},
    )
    diastolic = WholeNumber(
        validate=ma.validate.Range(30, 160),
        allow_none=True,
        dump_default=None,
        metadata={"description": "mmHg", "example": 82},
    )
    heart_rate = WholeNumber(
        validate=ma.validate.Range(20, 250),
        allow_none=True,
        dump_default=None,
        metadata={"description": "beats per minute", "example": 76},
    )


class StoredVitalsSchema(VitalsSchema):
    """Vitals as stored (JSON, timestamps already RFC 3339 text in UTC). A reading left out when
    the vitals were sent is stored without its key and comes back as null, as the spec says."""

    taken_at = ma.fields.String(metadata={"format": "date-time", "maxLength": 40})


class SessionFields(ma.Schema):
    started_at = Timestamp(required=True)
    medicine = ma.fields.Enum(Medicine, by_value=True, metadata={"description": "Default `ketamine`."})
    route = ma.fields.Enum(Route, by_value=True, allow_none=True)
    dose_mg = Number(
        allow_none=True,
        validate=ma.validate.Range(0, 10000, min_inclusive=False),
        metadata={"description": "Milligrams, above 0.", "example": 35.0},
    )
    duration_minutes = WholeNumber(
        allow_none=True, validate=ma.validate.Range(1, 1440), metadata={"example": 60}
    )
    setting = ma.fields.Enum(Setting, by_value=True, allow_none=True)
    provider = Text(max_length=200, allow_none=True, metadata={"example": "Riverside Ketamine Clinic"})
    intention = Text(
        max_length=5000,
        allow_none=True,
        metadata={"example": "Meet my grief with curiosity instead of fear."},
    )
    side_effects = BoundedList(
        ma.fields.String(validate=ma.validate.OneOf(SIDE_EFFECTS), metadata={"enum_name": "SideEffect"}),
        max_items=len(SIDE_EFFECTS),
        metadata={"example": ["nausea", "dissociation"], "uniqueItems": True},
    )
    vitals: ma.fields.Field = BoundedList(ma.fields.Nested(VitalsSchema), max_items=50)
    notes = Text(
        max_length=10000,
        allow_none=True,
        metadata={"example": "A wave of sadness at twenty minutes, then a wide, quiet space."},
    )

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
