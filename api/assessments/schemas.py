"""Assessment schemas; their bounds and enums come from the instrument registry."""

import marshmallow as ma

from api.assessments.scoring import REGISTRY, Instrument, answer_problems
from api.fields import UUID, BoundedList, Timestamp, WholeNumber
from api.pagination import PageQuerySchema, page_schema
from api.plans.schemas import FollowUpReference
from api.schemas import RecordCreateSchema, RecordSchema, TimeRangeQuerySchema


def Severity(description=None, **kwargs):
    """The band a score falls in (the spec's Severity enum: every band name in the registry)."""
    metadata = {"enum": list(REGISTRY.severities), "enum_name": "Severity"}
    if description:
        metadata["description"] = description
    return ma.fields.String(dump_only=True, metadata=metadata, **kwargs)


def _answers_per_instrument():
    return "; ".join(
        f"{entry['name']} {len(entry['items'])} answers "
        f"{entry['answer_options'][0]['value']}-{entry['answer_options'][-1]['value']}"
        for entry in REGISTRY
    )


class AssessmentFields(ma.Schema):
    instrument = ma.fields.Enum(Instrument, by_value=True, required=True)
    answers = BoundedList(
        WholeNumber(
            validate=ma.validate.Range(
                REGISTRY.min_answer,
                REGISTRY.max_answer,
                error="No instrument takes it: answers are {min} to {max} at most, and each instrument's "
                "own range is in GET /v1/reference/instruments.",
            )
        ),
        required=True,
        min_items=REGISTRY.min_items,
        max_items=REGISTRY.max_items,
        metadata={
            "description": "One answer per item, in questionnaire order, each one of the instrument's "
            f"answer option values ({_answers_per_instrument()}; GET /v1/reference/instruments).",
            "example": [1, 2, 1, 1, 0, 1, 2, 1, 0],
        },
    )
    taken_at = Timestamp(metadata={"description": "Default now."})
    session_id = UUID(allow_none=True, metadata={"description": "One of your treatment sessions."})

    @ma.validates_schema
    def answers_match_the_instrument(self, data, **kwargs):
        instrument, answers = data.get("instrument"), data.get("answers")
        if instrument is not None and answers is not None:
            problems = answer_problems(REGISTRY[instrument], answers)
            if problems:
                raise ma.ValidationError(problems, "answers")


class AssessmentSchema(RecordSchema, AssessmentFields):
    score = ma.fields.Integer(
        dump_only=True,
        metadata={"minimum": REGISTRY.min_total, "maximum": REGISTRY.max_total, "example": 9},
    )
    severity = Severity(
        allow_none=True,
        description="The band the total falls in (GET /v1/reference/instruments lists each "
        "instrument's); null for an instrument without severity bands (PCL-5).",
    )
    threshold_met = ma.fields.Boolean(
        dump_only=True,
        allow_none=True,
        metadata={
            "description": "Whether the total reaches the instrument's threshold: for PCL-5, 33 or "
            "more, a provisional PTSD diagnosis (a screen, not a diagnosis: it calls for a clinical "
            "interview). Null for an instrument without a threshold (PHQ-9, GAD-7)."
        },
    )
    safety_flag = ma.fields.Boolean(
        dump_only=True,
        metadata={"description": "The instrument's safety rule is met: PHQ-9 item 9 (self-harm) above 0."},
    )


class AssessmentCreateSchema(RecordCreateSchema, AssessmentFields):
    follow_up_id = FollowUpReference()


class AssessmentQuerySchema(PageQuerySchema, TimeRangeQuerySchema):
    instrument = ma.fields.Enum(Instrument, by_value=True)
    session_id = UUID()


AssessmentPageSchema = page_schema(AssessmentSchema, "AssessmentPage")
