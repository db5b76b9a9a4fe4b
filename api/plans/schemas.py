"""Integration plan and follow-up schemas."""

import marshmallow as ma

from api.accounts.schemas import PersonSchema
from api.fields import UUID, BoundedList, StrictBoolean, Timestamp, Version, WholeNumber
from api.pagination import PageQuerySchema, page_schema
from api.plans.data import prompt_texts
from api.plans.models import FollowUpStatus, StepKind
from api.reference.instruments import Instrument
from api.schemas import RecordSchema, TimeRangeQuerySchema

MAX_STEPS = 50
MAX_OFFSET_DAYS = 365
LOCAL_TIME = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
# The longest a follow-up stays due when no later step comes sooner.
WINDOW_HOURS = 48


def StepKindField(**kwargs):
    return ma.fields.Enum(StepKind, by_value=True, **kwargs)


def known_prompt(prompt_id):
    """A prompt of the reference data. Not an enum in the spec: prompts are added as data, and an
    app generated from an older spec must still read a step that names a newer one."""
    if prompt_id not in prompt_texts():
        raise ma.ValidationError("No reflection prompt has this id (GET /v1/reference/prompts).")


class PlanStepSchema(ma.Schema):
    """One step: an `assessment` names its `instrument` (and only it has one); only an `entry` may
    name a `prompt_id`. A plan lists each step once."""

    offset_days = WholeNumber(
        required=True,
        validate=ma.validate.Range(0, MAX_OFFSET_DAYS),
        metadata={"description": "Days after the session's local day (0: that day).", "example": 1},
    )
    local_time = ma.fields.String(
        required=True,
        # \Z, not $: Python's $ also matches before a final newline.
        validate=ma.validate.Regexp(r"\A([01][0-9]|2[0-3]):[0-5][0-9]\Z", error="A local time, HH:MM."),
        metadata={
            "pattern": LOCAL_TIME,
            "maxLength": 5,
            "description": "The local time of day the step is due, HH:MM, in the patient's time zone.",
            "example": "20:00",
        },
    )
    kind = StepKindField(required=True)
    instrument = ma.fields.Enum(
        Instrument,
        by_value=True,
        allow_none=True,
        load_default=None,
        metadata={"description": "Required for `assessment` (GET /v1/reference/instruments), else null."},
    )
    prompt_id = ma.fields.String(
        allow_none=True,
        load_default=None,
        validate=[ma.validate.Length(max=64), known_prompt],
        metadata={
            "description": "For an `entry`: the reflection prompt to show (GET /v1/reference/prompts). "
            "Null: the first prompt that suits the step's day. Null for other kinds.",
            "example": "insights-one-sentence",
        },
    )

    @ma.validates_schema
    def fits_the_kind(self, data, **kwargs):
        kind = data.get("kind")
        if kind is None:
            return
        if kind == StepKind.ASSESSMENT and data.get("instrument") is None:
            raise ma.ValidationError("An assessment step names its instrument.", "instrument")
        if kind != StepKind.ASSESSMENT and data.get("instrument") is not None:
            raise ma.ValidationError("Only an assessment step has an instrument.", "instrument")
        if kind != StepKind.ENTRY and data.get("prompt_id") is not None:
            raise ma.ValidationError("Only an entry step has a prompt.", "prompt_id")


def step_key(step):
    """What makes a step itself, and the order of a plan: day, time, kind, instrument, prompt (any
    of them missing where the step failed validation)."""
    return (
        step.get("offset_days", 0),
        step.get("local_time", ""),
        step.get("kind", ""),
        step.get("instrument") or "",
        step.get("prompt_id") or "",
    )


class PlanChangeSchema(ma.Schema):
    steps = BoundedList(
        ma.fields.Nested(PlanStepSchema),
        required=True,
        max_items=MAX_STEPS,
        metadata={
            "description": "The steps, in any order; stored and returned by day and time. Empty: no "
            "follow-ups for sessions recorded from now on."
        },
    )

    @ma.validates("steps")
    def each_once(self, steps, **kwargs):
        keys = [step_key(step) for step in steps]
        if len(set(keys)) != len(keys):
            raise ma.ValidationError("List each step once.")


class StoredStepKind(ma.fields.Enum):
    """A step's kind as a plan stores it (JSON text), dumped as the StepKind enum."""

    def __init__(self, **kwargs):
        super().__init__(StepKind, by_value=True, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return super()._serialize(None if value is None else StepKind(value), attr, obj, **kwargs)


class StoredPlanStepSchema(ma.Schema):
    """A step as a plan returns it (PlanStepSchema is what a change sends)."""

    offset_days = ma.fields.Integer(dump_only=True, metadata={"minimum": 0, "maximum": MAX_OFFSET_DAYS})
    local_time = ma.fields.String(
        dump_only=True, metadata={"pattern": LOCAL_TIME, "maxLength": 5, "example": "20:00"}
    )
    kind = StoredStepKind(dump_only=True)
    instrument = ma.fields.String(
        dump_only=True,
        allow_none=True,
        metadata={"maxLength": 32, "example": "phq9", "description": "For `assessment`: the questionnaire."},
    )
    prompt_id = ma.fields.String(
        dump_only=True,
        allow_none=True,
        metadata={
            "maxLength": 64,
            "description": "For `entry`: the prompt; null: the first that suits the day.",
        },
    )


class PlanSchema(ma.Schema):
    steps = ma.fields.List(
        ma.fields.Nested(StoredPlanStepSchema),
        dump_only=True,
        validate=ma.validate.Length(max=MAX_STEPS),
        metadata={"description": "By day, then local time."},
    )
    is_default = ma.fields.Boolean(
        dump_only=True,
        metadata={"description": "True until the patient or a therapist sets a plan: the default plan."},
    )
    version = Version()
    updated_at = Timestamp(
        dump_only=True,
        allow_none=True,
        metadata={"description": "When it was last set; null for the default."},
    )
    updated_by = ma.fields.Nested(
        PersonSchema,
        dump_only=True,
        allow_none=True,
        metadata={
            "description": "Who set it last: the patient or a linked therapist. Null for the default plan "
            "and once that account is erased."
        },
    )


class CompletedBySchema(ma.Schema):
    type = StepKindField(dump_only=True, metadata={"description": "The record's type, as in /v1/sync."})
    id = ma.fields.UUID(dump_only=True)


class FollowUpSchema(RecordSchema):
    """A follow-up holds its times, not its status, which changes with the clock alone (so an
    ETag could not follow it): `done` once `completed_at` is set, `dismissed` once `dismissed_at`
    is, else `upcoming` before `due_at`, `due` until `window_ends_at`, `missed` after it."""

    session_id = ma.fields.UUID(dump_only=True, metadata={"description": "The session it follows."})
    session_started_at = Timestamp(
        dump_only=True,
        metadata={"description": "The session's `started_at`: a record from before it completes nothing."},
    )
    step = ma.fields.Integer(
        dump_only=True,
        metadata={"minimum": 0, "maximum": MAX_STEPS - 1, "description": "Its step's position in the plan."},
    )
    kind = StepKindField(dump_only=True)
    instrument = ma.fields.String(
        dump_only=True,
        allow_none=True,
        metadata={"maxLength": 32, "example": "phq9", "description": "For `assessment`: the questionnaire."},
    )
    prompt_id = ma.fields.String(dump_only=True, allow_none=True, metadata={"maxLength": 64})
    prompt_text = ma.fields.String(
        dump_only=True,
        allow_none=True,
        metadata={"maxLength": 2000, "description": "For `entry`: the reflection prompt to show."},
    )
    offset_days = ma.fields.Integer(dump_only=True, metadata={"minimum": 0, "maximum": MAX_OFFSET_DAYS})
    local_time = ma.fields.String(
        dump_only=True, metadata={"pattern": LOCAL_TIME, "maxLength": 5, "example": "20:00"}
    )
    time_zone = ma.fields.String(
        dump_only=True,
        metadata={
            "maxLength": 64,
            "example": "America/Los_Angeles",
            "description": "The zone `due_at` was "
            "worked out in: the patient's profile time zone when it was scheduled.",
        },
    )
    due_at = Timestamp(
        dump_only=True,
        metadata={
            "description": "The step's local time on its local day, as an instant (UTC). A local time "
            "the clocks skip is read with the offset before the change; a repeated one is its first."
        },
    )
    window_ends_at = Timestamp(
        dump_only=True,
        metadata={
            "description": f"Due until the session's next later step is due, or {WINDOW_HOURS} h after "
            "`due_at`, whichever is sooner."
        },
    )
    completed_at = Timestamp(
        dump_only=True,
        allow_none=True,
        metadata={"description": "The completing record's own time (e.g. a mood's `recorded_at`)."},
    )
    completed_by = ma.fields.Nested(
        CompletedBySchema,
        dump_only=True,
        allow_none=True,
        metadata={"description": "The record that completed it; null while not done."},
    )
    dismissed_at = Timestamp(dump_only=True, allow_none=True)


class FollowUpQuerySchema(PageQuerySchema, TimeRangeQuerySchema):
    status = ma.fields.Enum(
        FollowUpStatus, by_value=True, metadata={"description": "Only follow-ups in this status now."}
    )
    session_id = UUID(metadata={"description": "Only the follow-ups of this session."})


class FollowUpDismissalSchema(ma.Schema):
    dismissed = StrictBoolean(
        required=True,
        metadata={
            "description": "`true` dismisses it (it is not counted as missed); `false` takes that back."
        },
    )


FollowUpPageSchema = page_schema(FollowUpSchema, "FollowUpPage")


def FollowUpReference(**kwargs):
    """The `follow_up_id` a record's create may carry: the follow-up it completes."""
    return UUID(
        load_only=True,
        allow_none=True,
        load_default=None,
        metadata={
            "description": "One of your open follow-ups of this kind (and instrument), which this record "
            "completes; 422 if it is of another kind or not open, 404 if it is not yours. Without it, "
            "the record completes an open follow-up of its kind whose window holds its own time."
        },
        **kwargs,
    )
