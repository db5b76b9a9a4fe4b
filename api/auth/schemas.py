"""Sign-in request and token-pair response schemas."""

import marshmallow as ma

from api.users.schemas import PASSWORD_MAX_LENGTH


class LoginSchema(ma.Schema):
    email = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=254), metadata={"format": "email"})
    password = ma.fields.String(
        required=True, load_only=True, validate=ma.validate.Length(min=1, max=PASSWORD_MAX_LENGTH),
        metadata={"format": "password"},
    )


class TokenPairSchema(ma.Schema):
    access_token = ma.fields.String(metadata={"maxLength": 2048, "description": "JWT; send as `Authorization: Bearer`."})
    refresh_token = ma.fields.String(
        metadata={"maxLength": 2048, "description": "Single-use JWT for POST /v1/auth/refresh."}
    )
    token_type = ma.fields.String(metadata={"enum": ["Bearer"]})
    expires_in = ma.fields.Integer(metadata={"minimum": 1, "maximum": 900, "description": "Access token lifetime, seconds."})
