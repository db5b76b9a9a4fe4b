"""Holistic practices done: meditation, exercise, therapy ..."""

import enum
from datetime import datetime

from sqlalchemy import Integer, SmallInteger
from sqlalchemy.orm import Mapped, mapped_column

from api.encryption import EncryptedText
from api.extensions import Model
from api.models import string_enum
from api.records import OwnedRecord


class PracticeKind(enum.StrEnum):
    """An integration practice."""

    MEDITATION = "meditation"
    BREATHWORK = "breathwork"
    EXERCISE = "exercise"
    YOGA = "yoga"
    THERAPY = "therapy"
    JOURNALING = "journaling"
    NATURE = "nature"
    ART = "art"
    MUSIC = "music"
    NUTRITION = "nutrition"
    SLEEP_HYGIENE = "sleep_hygiene"
    COMMUNITY = "community"
    OTHER = "other"


class Intensity(enum.StrEnum):
    """How demanding a practice was."""

    LOW = "low"
    MODERATE = "moderate"
    HIGH = "high"


class Practice(OwnedRecord, Model):
    __tablename__ = "practices"
    TIME_FIELD = "performed_at"

    practice: Mapped[PracticeKind] = mapped_column(string_enum(PracticeKind, "practice"))
    performed_at: Mapped[datetime]
    duration_minutes: Mapped[int | None] = mapped_column(Integer)
    intensity: Mapped[Intensity | None] = mapped_column(string_enum(Intensity, "intensity"))
    mood_before: Mapped[int | None] = mapped_column(SmallInteger)
    mood_after: Mapped[int | None] = mapped_column(SmallInteger)
    notes: Mapped[str | None] = mapped_column(EncryptedText("practices.notes"))
