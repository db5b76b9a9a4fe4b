"""The therapist's view of a linked patient: who, what they share, and the latest measures."""

import marshmallow as ma

from api.assessments.schemas import Severity
from api.assessments.scoring import Instrument
from api.care_team.schemas import Scopes
from api.fields import Timestamp
from api.pagination import PageQuerySchema, page_schema

# GET /v1/patients shows at most this many of a patient's open safety events.
OPEN_SAFETY_EVENTS_SHOWN = 5


class MoodSnapshotSchema(ma.Schema):
    id = ma.fields.UUID(dump_only=True)
    mood = ma.fields.Integer(dump_only=True, metadata={"minimum": 1, "maximum": 10, "example": 7})
    energy = ma.fields.Integer(
        dump_only=True, allow_none=True, metadata={"minimum": 1, "maximum": 10, "example": 6}
    )
    anxiety = ma.fields.Integer(
        dump_only=True, allow_none=True, metadata={"minimum": 1, "maximum": 10, "example": 3}
    )
    recorded_at = Timestamp(dump_only=True)


class AssessmentSnapshotSchema(ma.Schema):
    id = ma.fields.UUID(dump_only=True)
    instrument = ma.fields.Enum(Instrument, by_value=True, dump_only=True)
    score = ma.fields.Integer(dump_only=True, metadata={"minimum": 0, "maximum": 27, "example": 9})
    severity = Severity()
    safety_flag = ma.fields.Boolean(dump_only=True)
    taken_at = Timestamp(dump_only=True)


class SafetyEventSnapshotSchema(ma.Schema):
    id = ma.fields.UUID(dump_only=True)
    assessment_id = ma.fields.UUID(dump_only=True)
    occurred_at = Timestamp(dump_only=True)
    score = ma.fields.Integer(dump_only=True, metadata={"minimum": 0, "maximum": 27, "example": 14})
    severity = Severity()
    item9_answer = ma.fields.Integer(dump_only=True, metadata={"minimum": 1, "maximum": 3, "example": 1})


class PatientSummarySchema(ma.Schema):
    patient_id = ma.fields.UUID(dump_only=True)
    display_name = ma.fields.String(dump_only=True, metadata={"maxLength": 100, "example": "Ana Lima"})
    link_id = ma.fields.UUID(dump_only=True)
    linked_at = Timestamp(dump_only=True)
    scopes = Scopes(dump_only=True)
    latest_mood = ma.fields.Nested(
        MoodSnapshotSchema,
        dump_only=True,
        allow_none=True,
        metadata={"description": "Null without the `moods` scope, or before the first check-in."},
    )
    latest_phq9 = ma.fields.Nested(
        AssessmentSnapshotSchema,
        dump_only=True,
        allow_none=True,
        metadata={"description": "Null without the `assessments` scope, or before the first PHQ-9."},
    )
    latest_gad7 = ma.fields.Nested(
        AssessmentSnapshotSchema,
        dump_only=True,
        allow_none=True,
        metadata={"description": "Null without the `assessments` scope, or before the first GAD-7."},
    )
    follow_up_rate_14d = ma.fields.Float(
        dump_only=True,
        allow_none=True,
        metadata={
            "minimum": 0,
            "maximum": 1,
            "example": 0.75,
            "description": "Of the follow-ups due in the last 14 days that are settled (done, missed or "
            "dismissed), the share done. Null without the `plan` scope, or when none is settled.",
        },
    )
    open_safety_events = ma.fields.List(
        ma.fields.Nested(SafetyEventSnapshotSchema),
        dump_only=True,
        allow_none=True,
        validate=ma.validate.Length(max=OPEN_SAFETY_EVENTS_SHOWN),
        metadata={
            "description": "The newest (up to 5) safety events no one has acknowledged yet, newest first "
            "(`GET /v1/safety-events` lists them all); null without the `assessments` scope."
        },
    )
    open_safety_flags = ma.fields.List(
        ma.fields.Nested(AssessmentSnapshotSchema),
        dump_only=True,
        allow_none=True,
        validate=ma.validate.Length(max=OPEN_SAFETY_EVENTS_SHOWN),
        metadata={
            "description": "Deprecated: the PHQ-9s of `open_safety_events`, as earlier versions showed "
            "them. Null without the `assessments` scope.",
            "deprecated": True,
        },
    )


PatientSummaryPageSchema = page_schema(PatientSummarySchema, "PatientSummaryPage")


class PatientListQuerySchema(PageQuerySchema):
    pass
