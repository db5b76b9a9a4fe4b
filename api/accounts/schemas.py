"""Account schemas: registration, sign-in and token pairs, the profile, password change and erasure."""

import marshmallow as ma

from api.access import Role
from api.fields import CountryCode, EmailAddress, Text, Timestamp, TimeZoneName, Version

PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 1024


PASSWORD_EXAMPLE = "lake house in late summer"


def Password(**kwargs):
    return ma.fields.String(
        load_only=True,
        validate=ma.validate.Length(min=PASSWORD_MIN_LENGTH, max=PASSWORD_MAX_LENGTH),
        metadata={"format": "password", "example": PASSWORD_EXAMPLE},
        **kwargs,
    )


class UserSchema(ma.Schema):
    id = ma.fields.UUID(dump_only=True)
    email = ma.fields.Email(dump_only=True, metadata={"maxLength": 254})
    display_name = ma.fields.String(dump_only=True, metadata={"maxLength": 100, "example": "Ana Lima"})
    role = ma.fields.Enum(Role, by_value=True, dump_only=True)
    timezone = TimeZoneName(dump_only=True)
    country = CountryCode(dump_only=True, allow_none=True)
    version = Version()
    created_at = Timestamp(dump_only=True)
    updated_at = Timestamp(dump_only=True)


class PersonSchema(ma.Schema):
    """Another account as the caller may see it: its id and display name, nothing more."""

    id = ma.fields.UUID(dump_only=True)
    display_name = ma.fields.String(dump_only=True, metadata={"maxLength": 100, "example": "Dr. Maya Chen"})


class RegistrationSchema(ma.Schema):
    email = EmailAddress(required=True)
    password = Password(required=True)
    display_name = Text(required=True, min_length=1, max_length=100, metadata={"example": "Ana Lima"})
    role = ma.fields.Enum(Role, by_value=True, required=True)
    timezone = TimeZoneName(load_default="UTC")
    country = CountryCode(load_default=None, allow_none=True)


class ProfileUpdateSchema(ma.Schema):
    display_name = Text(min_length=1, max_length=100, metadata={"example": "Ana"})
    timezone = TimeZoneName()
    country = CountryCode(allow_none=True)


class PasswordChangeSchema(ma.Schema):
    current_password = ma.fields.String(
        required=True,
        load_only=True,
        validate=ma.validate.Length(min=1, max=PASSWORD_MAX_LENGTH),
        metadata={"format": "password", "example": PASSWORD_EXAMPLE},
    )
    new_password = Password(required=True)


class AccountErasureSchema(ma.Schema):
    password = ma.fields.String(
        required=True,
        load_only=True,
        validate=ma.validate.Length(min=1, max=PASSWORD_MAX_LENGTH),
        metadata={"format": "password", "example": PASSWORD_EXAMPLE},
    )


class LoginSchema(ma.Schema):
    email = ma.fields.String(
        required=True, validate=ma.validate.Length(min=1, max=254), metadata={"format": "email"}
    )
    password = ma.fields.String(
        required=True,
        load_only=True,
        validate=ma.validate.Length(min=1, max=PASSWORD_MAX_LENGTH),
        metadata={"format": "password", "example": PASSWORD_EXAMPLE},
    )


class TokenPairSchema(ma.Schema):
    access_token = ma.fields.String(
        metadata={
            "maxLength": 2048,
            "description": "JWT; send as `Authorization: Bearer`.",
            "example": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI2ZjFjMmE5ZSJ9.c2lnbmF0dXJl",
        }
    )
    refresh_token = ma.fields.String(
        metadata={
            "maxLength": 2048,
            "description": "Single-use JWT for POST /v1/auth/refresh.",
            "example": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0eXBlIjoicmVmcmVzaCJ9.c2lnbmF0dXJl",
        }
    )
    token_type = ma.fields.Constant("Bearer")
    expires_in = ma.fields.Integer(
        metadata={
            "minimum": 1,
            "maximum": 900,
            "description": "Access token lifetime, seconds.",
            "example": 900,
        }
    )
