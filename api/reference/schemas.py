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


# --- the instrument registry (instruments.json), as GET /v1/reference/instruments shows it ---------

# Ids and band names are stored in 32-character columns (the assessment's instrument and severity).
INSTRUMENT_ID = "^[a-z][a-z0-9]*$"
SEVERITY_NAME = "^[a-z][a-z_]*$"
LOINC_CODE = "^[0-9]{1,7}-[0-9]$"
LOINC_ANSWER_CODE = "^LA[0-9]{1,8}-[0-9]$"
ITEM_NUMBER = ma.validate.Range(min=1, max=100)
ANSWER_VALUE = ma.validate.Range(min=0, max=100)
TOTAL = ma.validate.Range(min=0, max=10_000)
SCORING_METHODS = ("sum",)


def registry_text(max_length, **metadata):
    """A required text of the registry, with its length limit checked when the file is read."""
    return ma.fields.String(
        required=True, validate=ma.validate.Length(min=1, max=max_length), metadata=metadata
    )


def registry_number(validate, **metadata):
    """A required whole number of the registry (a JSON integer, not 7.0), in its range."""
    return ma.fields.Integer(required=True, strict=True, validate=validate, metadata=metadata)


def loinc_code(pattern, max_length, **metadata):
    return ma.fields.String(
        required=True,
        allow_none=True,
        validate=[ma.validate.Regexp(pattern), ma.validate.Length(max=max_length)],
        metadata=metadata,
    )


class InstrumentItemSchema(ma.Schema):
    number = registry_number(
        ITEM_NUMBER, description="1 for the first item; `answers[number - 1]` answers it.", example=9
    )
    text = registry_text(
        500,
        description="The item as the respondent reads it.",
        example="Thoughts that you would be better off dead, or of hurting yourself in some way",
    )
    loinc = loinc_code(
        LOINC_CODE,
        10,
        description="The item's LOINC code; null where none was verified.",
        example="44260-8",
    )


class AnswerOptionSchema(ma.Schema):
    value = registry_number(
        ANSWER_VALUE, description="What an answer holds, and what it adds to the total.", example=1
    )
    label = registry_text(100, description="The option as the respondent reads it.", example="Several days")
    loinc = loinc_code(
        LOINC_ANSWER_CODE,
        12,
        description="The option's LOINC answer code; null where none was verified.",
        example="LA6569-3",
    )


class SeverityBandSchema(ma.Schema):
    min = registry_number(TOTAL, description="Lowest total.", example=10)
    max = registry_number(TOTAL, description="Highest total, included.", example=14)
    severity = ma.fields.String(
        required=True,
        validate=[ma.validate.Regexp(SEVERITY_NAME), ma.validate.Length(max=32)],
        metadata={"description": "The `severity` a result in this band has.", "example": "moderate"},
    )
    label = registry_text(100, description="The band in words.", example="Moderate depression")


class ThresholdSchema(ma.Schema):
    min_total = registry_number(
        TOTAL, description="A total this high or higher meets it (`threshold_met`).", example=33
    )
    label = registry_text(100, description="What meeting it suggests.", example="Provisional PTSD diagnosis")
    description = registry_text(
        500,
        description="How to read it: a screen, not a diagnosis.",
        example="A total of 33 or more suggests probable PTSD: a screen, not a diagnosis.",
    )


class SafetyRuleSchema(ma.Schema):
    item = registry_number(ITEM_NUMBER, description="The item the rule watches.", example=9)
    min_answer = registry_number(
        ANSWER_VALUE,
        description="An answer this high or higher sets `safety_flag` and opens a safety event.",
        example=1,
    )
    description = registry_text(
        500,
        description="What the rule is for and what it sets off.",
        example="Any answer above Not at all to item 9 opens a safety event.",
    )


class LoincConceptSchema(ma.Schema):
    code = ma.fields.String(
        required=True,
        validate=[ma.validate.Regexp(LOINC_CODE), ma.validate.Length(max=10)],
        metadata={"example": "44261-6"},
    )
    display = registry_text(
        200,
        description="LOINC's name for it.",
        example="Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]",
    )


class InstrumentSourceSchema(ma.Schema):
    copyright = registry_text(
        500,
        description="Who made it, and on what terms it may be used.",
        example="Developed by Drs. Robert L. Spitzer, Janet B.W. Williams, Kurt Kroenke and colleagues, "
        "with an educational grant from Pfizer Inc. No permission required to reproduce, translate, "
        "display or distribute.",
    )
    url = ma.fields.String(
        required=True,
        validate=[ma.validate.URL(schemes={"https"}), ma.validate.Length(max=500)],
        metadata={
            "maxLength": 500,
            "format": "uri",
            "description": "The page that publishes it.",
            "example": "https://www.phqscreeners.com/",
        },
    )


class InstrumentDefinitionSchema(ma.Schema):
    """A standard questionnaire: what it asks, how it is scored and how a total reads.

    Beyond each field's own bounds, a registry entry must hang together (checked when the API
    starts, so a broken file stops it): items numbered 1 to n in order; answer option values
    consecutive, lowest first; `min_total` and `max_total` the sums of n lowest and n highest
    answers; bands, lowest first, covering every total once; a threshold and a safety rule
    within range, and a safety rule only with bands (a safety event records the band).
    """

    id = ma.fields.String(
        required=True,
        validate=[ma.validate.Regexp(INSTRUMENT_ID), ma.validate.Length(max=32)],
        metadata={"description": "Stable: the `instrument` of an assessment.", "example": "phq9"},
    )
    name = registry_text(50, description="Its usual short name.", example="PHQ-9")
    title = registry_text(200, description="Its full name.", example="Patient Health Questionnaire, 9 items")
    measures = registry_text(
        300,
        description="What it measures.",
        example="Depression: how often each of the nine DSM-IV criteria of major depression bothered "
        "the person.",
    )
    recall_period = registry_text(
        100, description="The time the answers are about.", example="the last 2 weeks"
    )
    prompt = registry_text(
        300,
        description="The question put before the items.",
        example="Over the last 2 weeks, how often have you been bothered by any of the following problems?",
    )
    items = ma.fields.List(
        ma.fields.Nested(InstrumentItemSchema),
        required=True,
        validate=ma.validate.Length(min=1, max=100),
        metadata={"description": "In order; an assessment has one answer per item."},
    )
    answer_options = ma.fields.List(
        ma.fields.Nested(AnswerOptionSchema),
        required=True,
        validate=ma.validate.Length(min=2, max=20),
        metadata={"description": "The same for every item, lowest value first."},
    )
    scoring = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(SCORING_METHODS),
        metadata={"description": "How the total is made: `sum`, the answers added up."},
    )
    min_total = registry_number(TOTAL, description="Lowest total.", example=0)
    max_total = registry_number(TOTAL, description="Highest total.", example=27)
    bands = ma.fields.List(
        ma.fields.Nested(SeverityBandSchema),
        required=True,
        validate=ma.validate.Length(max=20),
        metadata={
            "description": "Severity bands, lowest first, covering every total; empty where the "
            "instrument has none (PCL-5), and then an assessment's `severity` is null."
        },
    )
    threshold = ma.fields.Nested(
        ThresholdSchema,
        required=True,
        allow_none=True,
        metadata={
            "description": "A cut-off total (PCL-5: 33, a provisional PTSD diagnosis); null where the "
            "instrument has none, and then an assessment's `threshold_met` is null."
        },
    )
    safety_rule = ma.fields.Nested(
        SafetyRuleSchema,
        required=True,
        allow_none=True,
        metadata={
            "description": "The answer that flags a result for the care team (PHQ-9 item 9); null if none."
        },
    )
    loinc_form = ma.fields.Nested(
        LoincConceptSchema,
        required=True,
        allow_none=True,
        metadata={
            "description": "The LOINC code of the questionnaire (a panel); null where none was verified."
        },
    )
    loinc_total = ma.fields.Nested(
        LoincConceptSchema,
        required=True,
        allow_none=True,
        metadata={"description": "The LOINC code of its total score; null where none was verified."},
    )
    source = ma.fields.Nested(InstrumentSourceSchema, required=True)

    @ma.validates_schema(skip_on_field_errors=True)
    def hangs_together(self, data, **kwargs):
        items, values = data["items"], [option["value"] for option in data["answer_options"]]
        if [item["number"] for item in items] != list(range(1, len(items) + 1)):
            raise ma.ValidationError("Items are numbered 1 to n, in order.", "items")
        if values != list(range(values[0], values[0] + len(values))):
            raise ma.ValidationError("Answer option values are consecutive, lowest first.", "answer_options")
        lowest, highest = len(items) * values[0], len(items) * values[-1]
        if (data["min_total"], data["max_total"]) != (lowest, highest):
            raise ma.ValidationError(f"{len(items)} answers add up to {lowest} to {highest}.", "max_total")
        if data["bands"]:
            starts = [band["min"] for band in data["bands"]]
            ends = [band["max"] for band in data["bands"]]
            joined = starts == [lowest, *(end + 1 for end in ends[:-1])] and ends[-1] == highest
            if not joined or any(start > end for start, end in zip(starts, ends, strict=True)):
                raise ma.ValidationError(
                    f"Bands, lowest first, cover each total from {lowest} to {highest} once.", "bands"
                )
        threshold, rule = data["threshold"], data["safety_rule"]
        if threshold is not None and not lowest < threshold["min_total"] <= highest:
            raise ma.ValidationError(f"A threshold is above {lowest} and at most {highest}.", "threshold")
        if rule is not None and (
            rule["item"] > len(items) or not values[0] < rule["min_answer"] <= values[-1]
        ):
            raise ma.ValidationError(
                "A safety rule names an item and an answer above the lowest.", "safety_rule"
            )
        if rule is not None and not data["bands"]:
            raise ma.ValidationError(
                "A safety rule needs severity bands: its event records one.", "safety_rule"
            )


class InstrumentListSchema(ma.Schema):
    description = registry_text(
        500, example="Standard questionnaires, as data. They are screens, not diagnoses."
    )
    instruments = ma.fields.List(
        ma.fields.Nested(InstrumentDefinitionSchema),
        required=True,
        validate=ma.validate.Length(min=1, max=50),
    )

    @ma.validates_schema(skip_on_field_errors=True)
    def ids_are_unique(self, data, **kwargs):
        ids = [instrument["id"] for instrument in data["instruments"]]
        if len(set(ids)) != len(ids):
            raise ma.ValidationError("Each instrument has its own id.", "instruments")
