"""The patient's support network. Never shared with therapists."""

import enum

from sqlalchemy import Boolean
from sqlalchemy.orm import Mapped, mapped_column

from api.encryption import EncryptedText
from api.extensions import Model
from api.models import string_enum
from api.records import OwnedRecord


class Relationship(enum.StrEnum):
    """Who a contact is to the patient."""

    PARTNER = "partner"
    FAMILY = "family"
    FRIEND = "friend"
    THERAPIST = "therapist"
    PSYCHIATRIST = "psychiatrist"
    PHYSICIAN = "physician"
    PEER_SUPPORT = "peer_support"
    SITTER = "sitter"
    CRISIS_LINE = "crisis_line"
    OTHER = "other"


class Contact(OwnedRecord, Model):
    __tablename__ = "contacts"
    TIME_FIELD = "created_at"

    name: Mapped[str] = mapped_column(EncryptedText("contacts.name"))
    relationship: Mapped[Relationship] = mapped_column(string_enum(Relationship, "relationship"))
    phone: Mapped[str | None] = mapped_column(EncryptedText("contacts.phone"))
    email: Mapped[str | None] = mapped_column(EncryptedText("contacts.email"))
    notes: Mapped[str | None] = mapped_column(EncryptedText("contacts.notes"))
    is_emergency_contact: Mapped[bool] = mapped_column(Boolean, default=False)
    is_session_support: Mapped[bool] = mapped_column(Boolean, default=False)
