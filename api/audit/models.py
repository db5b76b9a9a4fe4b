"""Audit events: who read (or tried to read) which patient's data. Ids and enums only, never
health text. The application only ever inserts them (see `_refuse_changes`)."""

import enum
import uuid
from datetime import datetime

from sqlalchemy import Enum, Index, String, event
from sqlalchemy.orm import Mapped, foreign, mapped_column, relationship

from api.access import Role
from api.accounts.models import User
from api.extensions import Model
from api.kinds import KINDS
from api.models import new_id, string_enum, utcnow


class Action(enum.StrEnum):
    """What was done with a patient's data: a therapist's `list`, `read`, `acknowledge` or
    `update` (of the integration plan), or the patient's own `export`."""

    LIST = "list"
    READ = "read"
    ACKNOWLEDGE = "acknowledge"
    EXPORT = "export"
    UPDATE = "update"


class Outcome(enum.StrEnum):
    """Whether a read was allowed or refused (refused reads answered 404)."""

    ALLOWED = "allowed"
    DENIED = "denied"


# What an event is about: a line of the therapist's patient list, a record of a shared kind, a
# safety event, one of the insights computed from shared records, the integration plan, or the
# patient's own export.
PATIENT_SUMMARY = "patient_summary"
SAFETY_EVENT = "safety_event"
MOOD_INSIGHTS = "mood_insights"
PRACTICE_INSIGHTS = "practice_insights"
SESSION_INSIGHTS = "session_insights"
FOLLOW_UP_INSIGHTS = "follow_up_insights"
INTEGRATION_PLAN = "integration_plan"
EXPORT = "export"
RESOURCE_TYPES = (
    PATIENT_SUMMARY,
    *(kind.sharing.audit_type for kind in KINDS if kind.sharing is not None),
    SAFETY_EVENT,
    MOOD_INSIGHTS,
    PRACTICE_INSIGHTS,
    SESSION_INSIGHTS,
    FOLLOW_UP_INSIGHTS,
    INTEGRATION_PLAN,
    EXPORT,
)


class AuditEvent(Model):
    __tablename__ = "audit_events"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Bare ids, not foreign keys: events outlive the accounts they mention (API.md §2, erasure).
    actor_id: Mapped[uuid.UUID]
    actor_role: Mapped[str] = mapped_column(String(16))
    patient_id: Mapped[uuid.UUID]
    action: Mapped[Action] = mapped_column(string_enum(Action, "audit_action"))
    resource_type: Mapped[str] = mapped_column(
        Enum(
            *RESOURCE_TYPES, native_enum=False, create_constraint=True, length=32, name="audit_resource_type"
        )
    )
    resource_id: Mapped[uuid.UUID | None]
    outcome: Mapped[Outcome] = mapped_column(string_enum(Outcome, "audit_outcome"))
    request_id: Mapped[str] = mapped_column(String(128))

    # The actor's current name, if the account still exists; erased accounts leave only the id.
    actor: Mapped[User | None] = relationship(
        primaryjoin=lambda: foreign(AuditEvent.actor_id) == User.id, viewonly=True, lazy="selectin"
    )

    __table_args__ = (Index("ix_audit_events_patient_time", "patient_id", "occurred_at", "id"),)

    @property
    def actor_summary(self):
        return {
            "id": self.actor_id,
            "display_name": self.actor.display_name if self.actor else None,
            "role": Role(self.actor_role),
        }


class AuditLogIsAppendOnly(RuntimeError):
    pass


@event.listens_for(AuditEvent, "before_update")
@event.listens_for(AuditEvent, "before_delete")
def _refuse_changes(mapper, connection, target):
    """No code path may change or delete an audit event once written."""
    raise AuditLogIsAppendOnly("audit events are append-only")
