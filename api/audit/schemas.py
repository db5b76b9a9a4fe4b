"""The access log as the patient reads it."""

import marshmallow as ma

from api.access import Role
from api.audit.models import RESOURCE_TYPES, Action, Outcome
from api.fields import Timestamp
from api.pagination import PageQuerySchema, page_schema
from api.schemas import TimeRangeQuerySchema


class ActorSchema(ma.Schema):
    id = ma.fields.UUID(dump_only=True)
    display_name = ma.fields.String(
        dump_only=True,
        allow_none=True,
        metadata={
            "maxLength": 100,
            "description": "Null once that account is erased.",
            "example": "Dr. Maya Chen",
        },
    )
    role = ma.fields.Enum(Role, by_value=True, dump_only=True)


class AccessEventSchema(ma.Schema):
    id = ma.fields.UUID(dump_only=True)
    occurred_at = Timestamp(dump_only=True)
    actor = ma.fields.Nested(ActorSchema, attribute="actor_summary", dump_only=True)
    action = ma.fields.Enum(Action, by_value=True, dump_only=True, metadata={"enum_name": "AccessAction"})
    resource_type = ma.fields.String(
        dump_only=True, metadata={"enum": list(RESOURCE_TYPES), "enum_name": "AuditResourceType"}
    )
    resource_id = ma.fields.UUID(
        dump_only=True, allow_none=True, metadata={"description": "The record read; null for a list."}
    )
    outcome = ma.fields.Enum(
        Outcome,
        by_value=True,
        dump_only=True,
        metadata={"description": "`denied`: the read was refused (404).", "enum_name": "AccessOutcome"},
    )
    request_id = ma.fields.String(
        dump_only=True, metadata={"maxLength": 128, "example": "4f9d2c1e8a7b4c3d9e0f"}
    )


class AccessLogQuerySchema(PageQuerySchema, TimeRangeQuerySchema):
    pass


AccessLogPageSchema = page_schema(AccessEventSchema, "AccessLogPage")
