"""Safety events as the care team sees them, and the queries and body their operations take."""

import marshmallow as ma

from api.accounts.schemas import PersonSchema
from api.assessments.safety import MAX_ACKNOWLEDGEMENTS, SafetyAcknowledgementSchema, SafetyEventFields
from api.assessments.safety_models import SafetyStatus
from api.fields import UUID, Text, Timestamp, Version
from api.pagination import PageQuerySchema, page_schema

NOTE_MAX_LENGTH = 2000


class CareTeamAcknowledgementSchema(SafetyAcknowledgementSchema):
    """An acknowledgement as the care team sees it: the patient's view, with its id and note."""

    id = ma.fields.UUID(dump_only=True)
    note = ma.fields.String(
        dump_only=True,
        allow_none=True,
        metadata={"maxLength": NOTE_MAX_LENGTH, "example": "Called Ana; she is safe and has her plan."},
    )


class CareTeamSafetyEventSchema(SafetyEventFields):
    """A safety event as a linked therapist sees it."""

    id = ma.fields.UUID(dump_only=True)
    version = Version()
    created_at = Timestamp(
        dump_only=True, metadata={"description": "When the event opened (the PHQ-9 reached the server)."}
    )
    patient = ma.fields.Nested(PersonSchema, dump_only=True)
    seconds_to_acknowledge = ma.fields.Integer(
        dump_only=True,
        allow_none=True,
        metadata={
            "minimum": 0,
            "maximum": 2**31 - 1,
            "example": 1260,
            "description": "From `created_at` (when the event opened) to the first acknowledgement; "
            "null while open.",
        },
    )
    acknowledgements = ma.fields.List(
        ma.fields.Nested(CareTeamAcknowledgementSchema),
        dump_only=True,
        validate=ma.validate.Length(max=MAX_ACKNOWLEDGEMENTS),  # the spec's maxItems; the service keeps to it
        metadata={"description": "Every acknowledgement, oldest first: the first closed the event."},
    )


CareTeamSafetyEventPageSchema = page_schema(CareTeamSafetyEventSchema, "CareTeamSafetyEventPage")


class MySafetyEventQuerySchema(PageQuerySchema):
    status = ma.fields.Enum(
        SafetyStatus, by_value=True, metadata={"description": "Only `open` or only `acknowledged` events."}
    )


class CareTeamSafetyEventQuerySchema(PageQuerySchema):
    status = ma.fields.Enum(
        SafetyStatus,
        by_value=True,
        load_default=SafetyStatus.OPEN,
        metadata={"description": "`open` (default): not yet acknowledged; `acknowledged`: closed."},
    )
    patient_id = UUID(metadata={"description": "Only this patient's events."})


class AcknowledgementSchema(ma.Schema):
    note = Text(
        allow_none=True,
        min_length=1,
        max_length=NOTE_MAX_LENGTH,
        metadata={
            "description": "For the care team (the patient sees who acknowledged and when, not the note).",
            "example": "Called Ana; she is safe and has her plan.",
        },
    )
