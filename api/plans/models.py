"""The integration plan (one per patient) and the follow-ups a session makes from it."""

import enum
import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.accounts.models import User
from api.extensions import Model
from api.jsonlists import JSONList
from api.models import string_enum, utcnow
from api.records import OwnedRecord

# The care-team scope under which a linked therapist reads and sets a patient's plan and sees how
# its follow-ups are kept (not a journal kind's scope: api/kinds.py adds it to theirs).
PLAN_SCOPE = "plan"


class StepKind(enum.StrEnum):
    """What a step asks for: an `entry` (a reflection prompt), a `mood` check-in, an `assessment`
    (a questionnaire, named by `instrument`) or a `practice`."""

    ENTRY = "entry"
    MOOD = "mood"
    ASSESSMENT = "assessment"
    PRACTICE = "practice"


class FollowUpStatus(enum.StrEnum):
    """Derived from time and completion, never stored: `upcoming` before `due_at`; `due` from
    `due_at` until `window_ends_at`; `missed` after it; `done` once a record completed it;
    `dismissed` once the patient dismissed it."""

    UPCOMING = "upcoming"
    DUE = "due"
    MISSED = "missed"
    DONE = "done"
    DISMISSED = "dismissed"


class IntegrationPlan(Model):
    """A patient's own plan. A patient without a row follows the default plan (api/plans/data.py),
    which is not stored: the first change stores it."""

    __tablename__ = "integration_plans"

    patient_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    steps: Mapped[list] = mapped_column(JSONList)
    version: Mapped[int] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Who set it last: the patient or a linked therapist; null once that account is erased.
    updated_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )

    updated_by: Mapped[User | None] = relationship(foreign_keys=[updated_by_id], lazy="selectin")

    # Version 1 is the default plan (not stored), so a stored plan starts at 2: a device's copy of
    # the default never passes for the patient's own plan.
    __mapper_args__ = {"version_id_col": version, "version_id_generator": lambda current: (current or 1) + 1}

    is_default = False


class FollowUp(OwnedRecord, Model):
    """One step of the plan for one session: when it is due, until when, and what completed it.

    The step itself (its day, local time, kind, instrument and prompt) is copied in when the session
    is recorded, so a later change of the plan leaves the sessions already recorded as they were.
    """

    __tablename__ = "follow_ups"
    TIME_FIELD = "due_at"

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    # The session's start, as it is now: nothing recorded before it completes the follow-up.
    session_started_at: Mapped[datetime]
    step: Mapped[int] = mapped_column(SmallInteger)  # its position in the plan, from 0
    kind: Mapped[StepKind] = mapped_column(string_enum(StepKind, "follow_up_kind"))
    # Checked against the instrument registry when the plan is set (no CHECK: the registry grows).
    instrument: Mapped[str | None] = mapped_column(String(32))
    prompt_id: Mapped[str | None] = mapped_column(String(64))
    prompt_text: Mapped[str | None] = mapped_column(Text)  # reference text, not the patient's
    offset_days: Mapped[int] = mapped_column(SmallInteger)
    local_time: Mapped[str] = mapped_column(String(5))  # HH:MM
    time_zone: Mapped[str] = mapped_column(String(64))
    due_at: Mapped[datetime]
    window_ends_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    completed_by_id: Mapped[uuid.UUID | None]  # a record of `kind`; not a key: it may be deleted later
    dismissed_at: Mapped[datetime | None]

    @classmethod
    def extra_indexes(cls):
        # A session's follow-ups, to reschedule or remove them with it; the one a record
        # completed, to open it again when the record is deleted.
        return (
            Index("ix_follow_ups_session", "session_id"),
            Index("ix_follow_ups_completed_by", "completed_by_id"),
        )

    def status_at(self, now):
        if self.completed_at is not None:
            return FollowUpStatus.DONE
        if self.dismissed_at is not None:
            return FollowUpStatus.DISMISSED
        if now < self.due_at:
            return FollowUpStatus.UPCOMING
        return FollowUpStatus.DUE if now < self.window_ends_at else FollowUpStatus.MISSED

    @property
    def is_open(self):
        return self.completed_at is None and self.dismissed_at is None

    @property
    def completed_by(self):
        if self.completed_by_id is None:
            return None
        return {"type": self.kind, "id": self.completed_by_id}
