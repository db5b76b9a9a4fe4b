"""Treatment sessions (e.g. a ketamine infusion)."""

import enum
from datetime import datetime

from sqlalchemy import Float, Integer
from sqlalchemy.orm import Mapped, mapped_column

from api.encryption import EncryptedText
from api.extensions import Model
from api.jsonlists import JSONList
from api.models import string_enum
from api.records import OwnedRecord


class Medicine(enum.StrEnum):
    """The medicine of a treatment session."""

    KETAMINE = "ketamine"
    ESKETAMINE = "esketamine"
    PSILOCYBIN = "psilocybin"
    MDMA = "mdma"
    OTHER = "other"


class Route(enum.StrEnum):
    """How the medicine was given."""

    IV = "iv"
    IM = "im"
    INTRANASAL = "intranasal"
    SUBLINGUAL = "sublingual"
    ORAL = "oral"
    OTHER = "other"


class Setting(enum.StrEnum):
    """Where the session took place."""

    CLINIC = "clinic"
    HOME = "home"
    OTHER = "other"


SIDE_EFFECTS = (
    "nausea",
    "dizziness",
    "dissociation",
    "headache",
    "elevated_blood_pressure",
    "elevated_heart_rate",
    "anxiety",
    "vomiting",
    "blurred_vision",
    "fatigue",
    "other",
)


class Session(OwnedRecord, Model):
    __tablename__ = "sessions"
    TIME_FIELD = "started_at"

    started_at: Mapped[datetime]
    medicine: Mapped[Medicine] = mapped_column(string_enum(Medicine, "medicine"), default=Medicine.KETAMINE)
    route: Mapped[Route | None] = mapped_column(string_enum(Route, "route"))
    dose_mg: Mapped[float | None] = mapped_column(Float)
    duration_minutes: Mapped[int | None] = mapped_column(Integer)
    setting: Mapped[Setting | None] = mapped_column(string_enum(Setting, "setting"))
    provider: Mapped[str | None] = mapped_column(EncryptedText("sessions.provider"))
    intention: Mapped[str | None] = mapped_column(EncryptedText("sessions.intention"))
    side_effects: Mapped[list] = mapped_column(JSONList, default=list)
    vitals: Mapped[list] = mapped_column(JSONList, default=list)
    notes: Mapped[str | None] = mapped_column(EncryptedText("sessions.notes"))
