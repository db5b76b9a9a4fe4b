"""Reference data schemas other packages show too (an assessment's 201 shows crisis lines)."""

import marshmallow as ma

from api.fields import CountryCode
from api.pagination import QueryInteger
from api.reference.data import PROMPT_THEMES


class CrisisResourceSchema(ma.Schema):
    name = ma.fields.String(metadata={"maxLength": 200, "example": "988 Suicide & Crisis Lifeline"})
    phone = ma.fields.String(allow_none=True, metadata={"maxLength": 40, "example": "988"})
    sms = ma.fields.String(allow_none=True, metadata={"maxLength": 40, "example": "988"})
    url = ma.fields.String(
        allow_none=True, metadata={"maxLength": 500, "format": "uri", "example": "https://988lifeline.org/"}
    )
    source = ma.fields.String(
        metadata={
            "maxLength": 500,
            "format": "uri",
            "example": "https://988lifeline.org/",
            "description": "The page that publishes this line, where it was checked.",
        }
    )


class CrisisResourcesSchema(ma.Schema):
    country = CountryCode(
        allow_none=True,
        metadata={
            "description": "The country the lines are for; null for a regional or the international list."
        },
    )
    coverage = ma.fields.String(
        metadata={
            "enum": ["national", "eu", "international"],
            "enum_name": "CrisisCoverage",
            "enum_description": "`national`: the country's own lines; `eu`: the numbers every EU member "
            "state routes (112, 116 123), for one without a list of its own; `international`: when the "
            "country is unknown or has no list.",
        }
    )
    resources = ma.fields.List(ma.fields.Nested(CrisisResourceSchema), validate=ma.validate.Length(max=50))


PROMPT_ID = {"pattern": "^[a-z0-9]+(-[a-z0-9]+)*$", "maxLength": 64, "example": "insights-one-sentence"}
PROMPT_THEME = {
    "enum_name": "PromptTheme",
    "enum_description": "What a prompt turns the patient toward: `body` (sensations, rest, grounding), "
    "`emotions`, `insights` (what the session showed), `relationships` (others and oneself) or "
    "`intentions` (what to carry into daily life).",
    "example": "insights",
}
LANGUAGE_TAG = "^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$"
PROMPT_LANGUAGE = {"pattern": LANGUAGE_TAG, "maxLength": 35, "example": "en"}
PROMPT_DAY = ma.validate.Range(min=0, max=365)


class PromptSchema(ma.Schema):
    id = ma.fields.String(metadata={**PROMPT_ID, "description": "Stable: a client may keep it."})
    theme = ma.fields.String(validate=ma.validate.OneOf(PROMPT_THEMES), metadata=PROMPT_THEME)
    language = ma.fields.String(
        metadata={**PROMPT_LANGUAGE, "description": "The prompt's language, a BCP 47 tag (`en`)."}
    )
    text = ma.fields.String(
        metadata={
            "maxLength": 500,
            "example": "If you had to put the most important thing you learned "
            "into one sentence, what would it be?",
        }
    )
    days_from = ma.fields.Integer(
        validate=PROMPT_DAY,
        metadata={
            "description": "The first day after a session this prompt suits (0: the session's day).",
            "example": 1,
        },
    )
    days_to = ma.fields.Integer(
        validate=PROMPT_DAY, metadata={"description": "The last day it suits, included.", "example": 7}
    )


class PromptListSchema(ma.Schema):
    description = ma.fields.String(
        metadata={"maxLength": 500, "example": "Reflection prompts for the days after a session."}
    )
    care_note = ma.fields.String(
        metadata={
            "maxLength": 500,
            "description": "To show with the prompts: writing can stir up what the session did; where "
            "to turn when it is too much.",
            "example": "Writing can bring up strong feelings. Go at your own pace.",
        }
    )
    prompts = ma.fields.List(ma.fields.Nested(PromptSchema), validate=ma.validate.Length(max=500))


class PromptQuerySchema(ma.Schema):
    theme = ma.fields.String(validate=ma.validate.OneOf(PROMPT_THEMES), metadata=PROMPT_THEME)
    day = QueryInteger(
        validate=PROMPT_DAY,
        metadata={"description": "Only prompts that suit this day after a session (0: the session's day)."},
    )
    language = ma.fields.String(
        validate=[ma.validate.Regexp(LANGUAGE_TAG), ma.validate.Length(max=35)],
        metadata={
            **PROMPT_LANGUAGE,
            "description": "A BCP 47 tag: prompts in its language (`en-GB` gives the `en` prompts); "
            "none when there are none in it.",
        },
    )
