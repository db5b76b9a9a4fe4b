"""Insight schemas: the queries (calendar dates, bucket size) and the computed answers."""

import enum
import re
from datetime import date

import marshmallow as ma

from api.assessments.scoring import Instrument
from api.fields import Timestamp, TimeZoneName
from api.pagination import PageQuerySchema, page_schema
from api.practices.models import PracticeKind
from api.schemas import TimeRangeQuerySchema

MAX_DAY_BUCKETS = 366
MAX_WEEK_BUCKETS = 260
DATE_MAX_LENGTH = 10
COUNT_MAX = 2**31 - 1
MINUTES_MAX = 2**53 - 1
# The mean of a difference of two 1-10 ratings, and an interval around it (which can reach
# beyond the possible values when the samples disagree a lot).
CHANGE_RANGE = {"minimum": -9, "maximum": 9}
INTERVAL_RANGE = {"minimum": -1000000, "maximum": 1000000}


class InsightBucket(enum.StrEnum):
    """The period mood insights are summed up by: a local `day`, or a Monday-to-Sunday `week`."""

    DAY = "day"
    WEEK = "week"


class CalendarDate(ma.fields.Date):
    """A calendar date written YYYY-MM-DD, from 1900-01-01 to 2199-12-31.

    Strict on its form: date.fromisoformat would also take 20260301 and week dates, and a regex's
    \\d other scripts' digits, none of which the spec's `format: date` allows.
    """

    FORM = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
    EARLIEST = date(1900, 1, 1)
    LATEST = date(2199, 12, 31)

    def __init__(self, **kwargs):
        kwargs.setdefault(
            "validate",
            ma.validate.Range(
                self.EARLIEST, self.LATEST, error="Must be a date from 1900-01-01 to 2199-12-31."
            ),
        )
        kwargs["metadata"] = {
            "maxLength": DATE_MAX_LENGTH,
            "pattern": "^(19[0-9]{2}|2[01][0-9]{2})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$",
            **kwargs.get("metadata", {}),
        }
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if not (isinstance(value, str) and self.FORM.fullmatch(value)):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class MoodInsightQuerySchema(ma.Schema):
    from_ = CalendarDate(
        data_key="from",
        metadata={
            "description": "First local day (inclusive). Default: 29 days before `to` for `day`, "
            "11 weeks before it for `week`.",
            "example": "2026-03-01",
        },
    )
    to = CalendarDate(
        metadata={
            "description": "Last local day (inclusive). Default: today in your profile's time zone.",
            "example": "2026-03-30",
        }
    )
    bucket = ma.fields.Enum(InsightBucket, by_value=True, load_default=InsightBucket.DAY)


class MoodBucketSchema(ma.Schema):
    start = ma.fields.Date(
        dump_only=True,
        metadata={
            "maxLength": DATE_MAX_LENGTH,
            "description": "The local day, or the Monday that starts the week.",
            "example": "2026-03-09",
        },
    )
    count = ma.fields.Integer(dump_only=True, metadata={"minimum": 0, "maximum": COUNT_MAX, "example": 3})
    mean = ma.fields.Float(
        dump_only=True,
        allow_none=True,
        metadata={
            "minimum": 1,
            "maximum": 10,
            "description": "Mean mood, to 2 decimals; null when `count` is 0.",
            "example": 6.33,
        },
    )
    min = ma.fields.Integer(
        dump_only=True,
        allow_none=True,
        metadata={"minimum": 1, "maximum": 10, "description": "Null when `count` is 0.", "example": 5},
    )
    max = ma.fields.Integer(
        dump_only=True,
        allow_none=True,
        metadata={"minimum": 1, "maximum": 10, "description": "Null when `count` is 0.", "example": 8},
    )


class MoodInsightsSchema(ma.Schema):
    bucket = ma.fields.Enum(InsightBucket, by_value=True, dump_only=True)
    from_ = ma.fields.Date(
        data_key="from",
        dump_only=True,
        metadata={
            "maxLength": DATE_MAX_LENGTH,
            "description": "The first day covered (for `week`, the Monday on or before the `from` asked).",
            "example": "2026-03-02",
        },
    )
    to = ma.fields.Date(
        dump_only=True,
        metadata={
            "maxLength": DATE_MAX_LENGTH,
            "description": "The last day covered (for `week`, the Sunday on or after the `to` asked).",
            "example": "2026-03-29",
        },
    )
    timezone = TimeZoneName(
        dump_only=True,
        metadata={"description": "Your profile's zone: the day of a check-in made without a `timezone`."},
    )
    buckets = ma.fields.List(
        ma.fields.Nested(MoodBucketSchema),
        dump_only=True,
        validate=ma.validate.Length(max=MAX_DAY_BUCKETS),
        metadata={"description": "Every day or week of the range, oldest first, empty ones included."},
    )


class PracticeInsightQuerySchema(TimeRangeQuerySchema):
    pass


class PracticeMoodChangeSchema(ma.Schema):
    n = ma.fields.Integer(
        dump_only=True,
        metadata={
            "minimum": 0,
            "maximum": COUNT_MAX,
            "description": "Practices with both `mood_before` and `mood_after`.",
            "example": 4,
        },
    )
    mean = ma.fields.Float(
        dump_only=True,
        allow_none=True,
        metadata={
            **CHANGE_RANGE,
            "description": "Mean of `mood_after - mood_before`, to 2 decimals; null when `n` < 3.",
            "example": 1.75,
        },
    )
    ci_low = ma.fields.Float(
        dump_only=True,
        allow_none=True,
        metadata={
            **INTERVAL_RANGE,
            "description": "Lower end of the 95% Student-t interval, to 2 decimals; null when `n` < 3.",
            "example": 0.23,
        },
    )
    ci_high = ma.fields.Float(
        dump_only=True,
        allow_none=True,
        metadata={
            **INTERVAL_RANGE,
            "description": "Upper end of the 95% interval, to 2 decimals; null when `n` < 3.",
            "example": 3.27,
        },
    )


class PracticeInsightSchema(ma.Schema):
    practice = ma.fields.Enum(PracticeKind, by_value=True, dump_only=True)
    count = ma.fields.Integer(dump_only=True, metadata={"minimum": 1, "maximum": COUNT_MAX, "example": 5})
    total_minutes = ma.fields.Integer(
        dump_only=True,
        metadata={
            "minimum": 0,
            "maximum": MINUTES_MAX,
            "description": "Sum of the `duration_minutes` given.",
            "example": 95,
        },
    )
    mood_change = ma.fields.Nested(PracticeMoodChangeSchema, dump_only=True)


class PracticeInsightsSchema(ma.Schema):
    from_ = Timestamp(
        data_key="from", dump_only=True, allow_none=True, metadata={"description": "As asked; null: none."}
    )
    to = Timestamp(dump_only=True, allow_none=True, metadata={"description": "As asked; null: none."})
    practices = ma.fields.List(
        ma.fields.Nested(PracticeInsightSchema),
        dump_only=True,
        validate=ma.validate.Length(max=len(PracticeKind)),
        metadata={"description": "Each practice done in the range, by name; none that was not."},
    )


class SessionInsightQuerySchema(PageQuerySchema):
    pass


class AssessmentPointSchema(ma.Schema):
    assessment_id = ma.fields.UUID(dump_only=True)
    score = ma.fields.Integer(dump_only=True, metadata={"minimum": 0, "maximum": 27, "example": 14})
    taken_at = Timestamp(dump_only=True)


class ScoreChangeSchema(ma.Schema):
    instrument = ma.fields.Enum(Instrument, by_value=True, dump_only=True)
    before = ma.fields.Nested(
        AssessmentPointSchema,
        dump_only=True,
        allow_none=True,
        metadata={"description": "The latest taken in the 14 days up to `started_at`; null if none."},
    )
    after = ma.fields.Nested(
        AssessmentPointSchema,
        dump_only=True,
        allow_none=True,
        metadata={"description": "The earliest taken 1 to 14 days after `started_at`; null if none."},
    )
    change = ma.fields.Integer(
        dump_only=True,
        allow_none=True,
        metadata={
            "minimum": -27,
            "maximum": 27,
            "description": "`after.score - before.score`; null when a side is missing.",
            "example": -8,
        },
    )
    response = ma.fields.Boolean(
        dump_only=True,
        allow_none=True,
        metadata={
            "description": "A drop of at least 50% (2 x after <= before; false when before is 0); "
            "null when a side is missing."
        },
    )
    remission = ma.fields.Boolean(
        dump_only=True,
        allow_none=True,
        metadata={
            "description": "After below 5 from a baseline of 10 or more (false from a lower baseline); "
            "null when a side is missing."
        },
    )


class SessionInsightSchema(ma.Schema):
    session_id = ma.fields.UUID(dump_only=True)
    started_at = Timestamp(dump_only=True)
    phq9 = ma.fields.Nested(ScoreChangeSchema, dump_only=True)
    gad7 = ma.fields.Nested(ScoreChangeSchema, dump_only=True)


SessionInsightPageSchema = page_schema(SessionInsightSchema, "SessionInsightPage")


# --- follow-ups ------------------------------------------------------------------------------

SESSIONS_SHOWN = 50
MAX_COUNT = 2**31 - 1


def Count(*, example):
    return ma.fields.Integer(
        dump_only=True, metadata={"minimum": 0, "maximum": MAX_COUNT, "example": example}
    )


class FollowUpTallySchema(ma.Schema):
    total = Count(example=8)
    upcoming = Count(example=2)
    due = Count(example=1)
    missed = Count(example=1)
    done = Count(example=4)
    dismissed = Count(example=0)
    rate = ma.fields.Float(
        dump_only=True,
        allow_none=True,
        metadata={
            "minimum": 0,
            "maximum": 1,
            "example": 0.8,
            "description": "done / (done + missed + dismissed); null while none is settled.",
        },
    )
    median_delay_minutes = ma.fields.Integer(
        dump_only=True,
        allow_none=True,
        metadata={
            "minimum": 0,
            "maximum": MAX_COUNT,
            "example": 95,
            "description": "Median minutes from `due_at` to completion of the done ones (one done early "
            "counts 0); null while none is done.",
        },
    )


class SessionFollowUpsSchema(FollowUpTallySchema):
    session_id = ma.fields.UUID(dump_only=True)


class FollowUpInsightsSchema(ma.Schema):
    overall = ma.fields.Nested(
        FollowUpTallySchema, dump_only=True, metadata={"description": "Every follow-up."}
    )
    recent = ma.fields.Nested(
        FollowUpTallySchema,
        dump_only=True,
        metadata={
            "description": "The follow-ups due in the last 14 days (the rate `GET /v1/patients` shows)."
        },
    )
    sessions = ma.fields.List(
        ma.fields.Nested(SessionFollowUpsSchema),
        dump_only=True,
        validate=ma.validate.Length(max=SESSIONS_SHOWN),
        metadata={"description": f"Per session, the {SESSIONS_SHOWN} whose follow-ups began last first."},
    )
