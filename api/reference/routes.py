"""/v1/reference: the emotion vocabulary, crisis resources, reflection prompts and the instrument
registry, served from data files."""

import marshmallow as ma
from flask_jwt_extended import current_user

from api.access import auth_required
from api.errors import NotFound
from api.fields import CountryCode
from api.reference.data import crisis_resources, emotion_vocabulary, prompts, reflection_prompts
from api.reference.fields import EmotionName
from api.reference.instruments import REGISTRY
from api.reference.schemas import (
    CrisisResourcesSchema,
    InstrumentDefinitionSchema,
    InstrumentListSchema,
    PromptListSchema,
    PromptQuerySchema,
)
from api.smorest import Blueprint
from api.smorest.conventions import operation

blp = Blueprint(
    "reference", __name__, url_prefix="/v1/reference", description="Reference data for pickers and safety."
)


class EmotionGroupSchema(ma.Schema):
    name = ma.fields.String(metadata={"maxLength": 50, "example": "peaceful"})
    label = ma.fields.String(metadata={"maxLength": 100, "example": "Peaceful"})
    emotions = ma.fields.List(
        EmotionName(), validate=ma.validate.Length(max=100), metadata={"example": ["calm", "relaxed", "safe"]}
    )


class EmotionVocabularySchema(ma.Schema):
    description = ma.fields.String(
        metadata={"maxLength": 500, "example": "Emotions grouped for a picker; store the names."}
    )
    groups = ma.fields.List(ma.fields.Nested(EmotionGroupSchema), validate=ma.validate.Length(max=50))


class CrisisQuerySchema(ma.Schema):
    country = CountryCode(metadata={"description": "ISO 3166-1 alpha-2; default your profile's country."})


@blp.route("/emotions")
@auth_required()
@operation("listEmotions")
@blp.response(200, EmotionVocabularySchema)
def emotions():
    """The emotion vocabulary, grouped; entries and moods accept these names."""
    return emotion_vocabulary()


@blp.route("/crisis-resources")
@auth_required()
@operation("listCrisisResources")
@blp.arguments(CrisisQuerySchema, location="query")
@blp.response(200, CrisisResourcesSchema)
def crisis(query):
    """Crisis lines for a country (default: yours), or international ones when none are listed.

    If you are in danger now, call your local emergency number.
    """
    return crisis_resources(query.get("country") or current_user.country)


@blp.route("/prompts")
@auth_required()
@operation("listPrompts")
@blp.arguments(PromptQuerySchema, location="query")
@blp.response(200, PromptListSchema)
def reflection(query):
    """Reflection prompts for the days after a session.

    All of them, in a stable order, or those of a theme, suiting a day after the session (0: the
    session's day), in a language. Each is a question a journal entry may answer; show the care
    note with them. Ids are stable: a client may keep them.
    """
    data = reflection_prompts()
    return {"description": data["description"], "care_note": data["care_note"], "prompts": prompts(**query)}


@blp.route("/instruments")
@auth_required()
@operation("listInstruments")
@blp.response(200, InstrumentListSchema, example=REGISTRY.document)
def instruments():
    """The standard questionnaires an assessment may be, as data.

    Each with its items and answer options (an assessment's `answers` hold one option value per
    item, in order), how it is scored, its severity bands, its threshold and safety rule where it
    has them, its LOINC codes where they were verified, and its source. In a stable order; ids
    are stable. They are screens, not diagnoses.
    """
    return REGISTRY.document


# The path names an instrument by id; the spec says which ids (the registry's `Instrument`), and
# any other string is a 404 from the route, after the token is checked.
INSTRUMENT_IN_PATH = {
    "in": "path",
    "name": "instrument",
    "required": True,
    "description": "An instrument's id, as `GET /v1/reference/instruments` lists them.",
    "schema": {"$ref": "#/components/schemas/Instrument"},
}


@blp.route("/instruments/<instrument>", parameters=[INSTRUMENT_IN_PATH])
@auth_required()
@operation("getInstrument")
@blp.response(200, InstrumentDefinitionSchema, example=REGISTRY["pcl5"])
def instrument(instrument):
    """One standard questionnaire, by its id (an assessment's `instrument`).

    The same entry `GET /v1/reference/instruments` lists, for a client that needs only one: a
    form to show, or an assessment to read. 404 for an id that is not in the registry.
    """
    if instrument not in REGISTRY.instruments:
        raise NotFound("No such instrument: GET /v1/reference/instruments lists them.")
    return REGISTRY[instrument]
