"""Assessment schemas."""

import marshmallow as ma

from api.assessments.scoring import ITEM_COUNT, SEVERITIES, Instrument
from api.fields import UUID, BoundedList, Timestamp, WholeNumber
from api.pagination import PageQuerySchema, page_schema
from api.plans.schemas import FollowUpReference
from api.schemas import RecordCreateSchema, RecordSchema, TimeRangeQuerySchema


def Severity(**kwargs):
    """The band a score falls in (the spec's Severity enum)."""
    return ma.fields.String(
        dump_only=True, metadata={"enum": list(SEVERITIES), "enum_name": "Severity"}, **kwargs
    )


class AssessmentFields(ma.Schema):
    instrument = ma.fields.Enum(Instrument, by_value=True, required=True)
    answers = BoundedList(
        WholeNumber(validate=ma.validate.Range(0, 3)),
        required=True,
        min_items=7,
        max_items=9,
        metadata={
            "description": "Item answers 0-3 in questionnaire order: 9 for PHQ-9, 7 for GAD-7.",
            "example": [1, 2, 1, 1, 0, 1, 2, 1, 0],
        },
    )
    taken_at = Timestamp(metadata={"description": "Default now."})
    session_id = UUID(allow_none=True, metadata={"description": "One of your treatment sessions."})

    @ma.validates_schema
    def answers_match_the_instrument(self, data, **kwargs):
        instrument, answers = data.get("instrument"), data.get("answers")
        if instrument is not None and answers is not None and len(answers) != ITEM_COUNT[instrument]:
            raise ma.ValidationError(
                f"{instrument.value} has exactly {ITEM_COUNT[instrument]} answers.", "answers"
            )


class AssessmentSchema(RecordSchema, AssessmentFields):
    score = ma.fields.Integer(dump_only=True, metadata={"minimum": 0, "maximum": 27, "example": 9})
    severity = Severity()
    safety_flag = ma.fields.Boolean(
        dump_only=True, metadata={"description": "PHQ-9 item 9 (self-harm) above 0."}
    )


class AssessmentCreateSchema(RecordCreateSchema, AssessmentFields):
    follow_up_id = FollowUpReference()


class AssessmentQuerySchema(PageQuerySchema, TimeRangeQuerySchema):
    instrument = ma.fields.Enum(Instrument, by_value=True)
    session_id = UUID()


AssessmentPageSchema = page_schema(AssessmentSchema, "AssessmentPage")
