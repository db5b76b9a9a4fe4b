"""Fields that take their vocabulary from the reference data (entries and moods use them)."""

import marshmallow as ma

from api.fields import BoundedList
from api.reference.data import emotion_names


def EmotionName(**kwargs):
    """One name from GET /v1/reference/emotions (the error names the endpoint, not all 60 names)."""
    metadata = {
        "enum_name": "Emotion",
        "enum_description": "A name from GET /v1/reference/emotions, which groups them with labels.",
        **kwargs.pop("metadata", {}),
    }
    return ma.fields.String(
        validate=ma.validate.OneOf(
            emotion_names(), error="Not an emotion name from GET /v1/reference/emotions."
        ),
        metadata=metadata,
        **kwargs,
    )


def EmotionList(**kwargs):
    """Names from GET /v1/reference/emotions."""
    metadata = {"description": "Names from GET /v1/reference/emotions.", **kwargs.pop("metadata", {})}
    return BoundedList(EmotionName(), max_items=20, metadata=metadata, **kwargs)
