"""Support-network contact schemas."""

import marshmallow as ma

from api.contacts.models import Relationship
from api.fields import StrictBoolean, Text
from api.pagination import PageQuerySchema, page_schema
from api.schemas import RecordCreateSchema, RecordSchema, TimeRangeQuerySchema

PHONE_PATTERN = r"^\+?[0-9 ()./-]{2,40}$"


class ContactFields(ma.Schema):
    name = Text(required=True, min_length=1, max_length=100, metadata={"example": "Sam Rivera"})
    relationship = ma.fields.Enum(Relationship, by_value=True, required=True)
    phone = ma.fields.String(
        allow_none=True,
        validate=[ma.validate.Length(max=40), ma.validate.Regexp(PHONE_PATTERN, error="Not a phone number.")],
        metadata={"pattern": PHONE_PATTERN, "example": "+1 555 0100"},
    )
    email = ma.fields.Email(allow_none=True, validate=ma.validate.Length(max=254))
    notes = Text(max_length=2000, allow_none=True, metadata={"example": "Drives me home after sessions."})
    is_emergency_contact = StrictBoolean()
    is_session_support = StrictBoolean(
        metadata={"description": "Supports you on session days (ride, sitter)."}
    )


class ContactSchema(RecordSchema, ContactFields):
    pass


class ContactCreateSchema(RecordCreateSchema, ContactFields):
    pass


class ContactUpdateSchema(ContactFields):
    name = Text(min_length=1, max_length=100, metadata={"example": "Sam Rivera"})
    relationship = ma.fields.Enum(Relationship, by_value=True)


class ContactQuerySchema(PageQuerySchema, TimeRangeQuerySchema):
    relationship = ma.fields.Enum(Relationship, by_value=True)


ContactPageSchema = page_schema(ContactSchema, "ContactPage")
