"""Invitation and care-team link schemas."""

import marshmallow as ma

from api.accounts.schemas import PersonSchema
from api.care_team import codes
from api.fields import BoundedList, Timestamp, Version
from api.kinds import SCOPES
from api.pagination import page_schema


class InvitationSchema(ma.Schema):
    id = ma.fields.UUID(dump_only=True)
    version = Version()
    created_at = Timestamp(dump_only=True)
    expires_at = Timestamp(dump_only=True)
    used_at = Timestamp(
        dump_only=True, allow_none=True, metadata={"description": "When a patient redeemed it."}
    )
    status = ma.fields.String(
        dump_only=True,
        metadata={
            "enum": ["open", "used", "expired"],
            "enum_name": "InvitationStatus",
            "description": "`open` until used or expired.",
        },
    )


class InvitationCreatedSchema(InvitationSchema):
    code = ma.fields.String(
        dump_only=True,
        metadata={
            "description": f"Give it to the patient. Shown only in this response; {codes.LENGTH} characters "
            f"in groups of {codes.GROUP}, no 0/O or 1/I/L; case, spaces and dashes are ignored on input.",
            "maxLength": 32,
            "pattern": "^[2-9A-HJKMNP-TV-Z]{5}-[2-9A-HJKMNP-TV-Z]{5}-[2-9A-HJKMNP-TV-Z]{5}$",
            "example": "K7QXM-3PW9D-HT4RC",
        },
    )


InvitationPageSchema = page_schema(InvitationSchema, "InvitationPage")


def _listed_once(scopes):
    if len(set(scopes)) != len(scopes):
        raise ma.ValidationError("List each scope once.")


def Scopes(**kwargs):
    return BoundedList(
        ma.fields.String(validate=ma.validate.OneOf(SCOPES), metadata={"enum_name": "Scope"}),
        max_items=len(SCOPES),
        validate=_listed_once,
        metadata={
            "uniqueItems": True,
            "description": "What the therapist may read. Entries also need `visibility: care_team`; "
            "contacts are never shared.",
            "example": ["moods", "assessments"],
        },
        **kwargs,
    )


class CareLinkSchema(ma.Schema):
    id = ma.fields.UUID(dump_only=True)
    version = Version()
    therapist = ma.fields.Nested(PersonSchema, dump_only=True)
    scopes = Scopes(dump_only=True)
    created_at = Timestamp(dump_only=True)
    updated_at = Timestamp(dump_only=True)


class CareLinkCreateSchema(ma.Schema):
    code = ma.fields.String(
        required=True,
        load_only=True,
        validate=ma.validate.Length(min=1, max=64),
        metadata={
            "description": "The invitation code from your therapist; case, spaces and dashes do not matter.",
            "pattern": "^[A-Za-z0-9 ._-]+$",
            "example": "K7QXM-3PW9D-HT4RC",
        },
    )
    scopes = Scopes(required=True)


class CareLinkUpdateSchema(ma.Schema):
    scopes = Scopes(required=True)


CareLinkPageSchema = page_schema(CareLinkSchema, "CareLinkPage")
