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
