"""Invitations (a therapist's single-use codes) and care-team links (a patient's consent, by scope)."""

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.accounts.models import User
from api.extensions import Model, db
from api.jsonlists import JSONList
from api.models import new_id, utcnow


class Invitation(Model):
    __tablename__ = "invitations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    therapist_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # SHA-256 of the normalised code; the code itself is shown once and never stored.
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (Index("ix_invitations_therapist_created", "therapist_id", "created_at", "id"),)

    @property
    def status(self):
        if self.used_at is not None:
            return "used"
        return "expired" if self.expires_at <= utcnow() else "open"


class CareLink(Model):
    """A patient's link to one therapist. Revoking keeps the row (revoked_at) but ends all access.

    `scopes` names what the therapist may read (api.kinds.SCOPES): the scopes of the shared
    journal kinds, which are also their paths under /v1/patients/{id}/, and `plan`, the patient's
    integration plan and how its follow-ups are kept.
    """

    __tablename__ = "care_links"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    therapist_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    scopes: Mapped[list] = mapped_column(JSONList, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    revoked_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    therapist: Mapped[User] = relationship(foreign_keys=[therapist_id])
    patient: Mapped[User] = relationship(foreign_keys=[patient_id])

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        # At most one active link per patient and therapist.
        Index(
            "ix_care_links_active_pair",
            "patient_id",
            "therapist_id",
            unique=True,
            sqlite_where=db.text("revoked_at IS NULL"),
            postgresql_where=db.text("revoked_at IS NULL"),
        ),
        # The patient's care team and the therapist's patients: active links, newest first.
        Index(
            "ix_care_links_patient_created",
            "patient_id",
            "created_at",
            "id",
            sqlite_where=db.text("revoked_at IS NULL"),
            postgresql_where=db.text("revoked_at IS NULL"),
        ),
        Index(
            "ix_care_links_therapist_created",
            "therapist_id",
            "created_at",
            "id",
            sqlite_where=db.text("revoked_at IS NULL"),
            postgresql_where=db.text("revoked_at IS NULL"),
        ),
    )
