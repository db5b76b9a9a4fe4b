"""Safety events: a PHQ-9 whose item 9 (thoughts of self-harm) is above 0, and the trail of the
care team's acknowledgements of it (API.md §5)."""

import enum
import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, SmallInteger, String
from sqlalchemy.orm import Mapped, foreign, mapped_column, relationship

from api.accounts.models import User
from api.encryption import EncryptedText
from api.extensions import Model
from api.models import new_id, utcnow
from api.records import OwnedRecord


class SafetyStatus(enum.StrEnum):
    """`open` until a linked therapist acknowledges the event, then `acknowledged`."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"


class SafetyEvent(OwnedRecord, Model):
    """Made with its assessment, in the same unit of work; it belongs to the patient, so it is
    in their sync feed, and it changes (a new version and sync number) with each acknowledgement.
    Deleting the assessment deletes it."""

    __tablename__ = "safety_events"
    # Lists show the newest first by when the event opened (the PHQ-9 reached the server), not by
    # the PHQ-9's own taken_at: one written offline days ago and synced now is news now.
    TIME_FIELD = "created_at"

    assessment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("assessments.id", ondelete="CASCADE"), unique=True
    )
    occurred_at: Mapped[datetime]  # the assessment's taken_at
    score: Mapped[int] = mapped_column(SmallInteger)
    severity: Mapped[str] = mapped_column(String(32))
    item9_answer: Mapped[int] = mapped_column(SmallInteger)
    # The first acknowledgement closes the event; later ones join the trail.
    acknowledged_at: Mapped[datetime | None]

    acknowledgements: Mapped[list["SafetyAcknowledgement"]] = relationship(
        order_by="SafetyAcknowledgement.acknowledged_at, SafetyAcknowledgement.id",
        lazy="selectin",
        viewonly=True,
    )

    # The patient, as the care team's view names them: loaded only where that view asks for it
    # (selectinload, a whole page in one query); the patient's own reads and the sync feed never do.
    patient: Mapped[User] = relationship(
        primaryjoin=lambda: foreign(SafetyEvent.owner_id) == User.id, viewonly=True, lazy="raise"
    )

    @property
    def status(self):
        return SafetyStatus.OPEN if self.acknowledged_at is None else SafetyStatus.ACKNOWLEDGED

    @property
    def seconds_to_acknowledge(self):
        if self.acknowledged_at is None:
            return None
        return max(0, int((self.acknowledged_at - self.created_at).total_seconds()))


class SafetyAcknowledgement(Model):
    """One therapist's acknowledgement of an event, with an optional note for the care team."""

    __tablename__ = "safety_acknowledgements"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("safety_events.id", ondelete="CASCADE"))
    # Null once the therapist's account is erased: the time stays, the name goes.
    therapist_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    acknowledged_at: Mapped[datetime] = mapped_column(default=utcnow)
    note: Mapped[str | None] = mapped_column(EncryptedText("safety_acknowledgements.note"))

    therapist: Mapped[User | None] = relationship(lazy="selectin")

    __table_args__ = (Index("ix_safety_acknowledgements_event_time", "event_id", "acknowledged_at", "id"),)
