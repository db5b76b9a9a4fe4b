"""Reference data schemas other packages show too (an assessment's 201 shows crisis lines)."""

import marshmallow as ma

from api.fields import CountryCode


class CrisisResourceSchema(ma.Schema):
    name = ma.fields.String(metadata={"maxLength": 200, "example": "988 Suicide & Crisis Lifeline"})
    phone = ma.fields.String(allow_none=True, metadata={"maxLength": 40, "example": "988"})
    sms = ma.fields.String(allow_none=True, metadata={"maxLength": 40, "example": "988"})
    url = ma.fields.String(
        allow_none=True, metadata={"maxLength": 500, "format": "uri", "example": "https://988lifeline.org/"}
    )


class CrisisResourcesSchema(ma.Schema):
    country = CountryCode(allow_none=True, metadata={"description": "null: the international list."})
    resources = ma.fields.List(ma.fields.Nested(CrisisResourceSchema), validate=ma.validate.Length(max=50))
