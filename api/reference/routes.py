"""/v1/reference: the emotion vocabulary, crisis resources and reflection prompts, served from data
files."""

import marshmallow as ma
from flask_jwt_extended import current_user

from api.access import auth_required
from api.fields import CountryCode
from api.reference.data import crisis_resources, emotion_vocabulary, prompts, reflection_prompts
from api.reference.fields import EmotionName
from api.reference.schemas import CrisisResourcesSchema, PromptListSchema, PromptQuerySchema
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
