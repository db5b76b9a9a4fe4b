"""Treatment sessions (e.g. a ketamine infusion)."""

import enum
from datetime import datetime

from sqlalchemy import Enum, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from api.extensions import db
from api.jsonlists import JSONList
from api.records import OwnedRecord


def string_enum(enum_class, name):
    """Enums stored as their values in a VARCHAR with a CHECK constraint (portable, readable)."""
    return Enum(
        enum_class, native_enum=False, create_constraint=True, length=32, name=name,
        values_callable=lambda members: [member.value for member in members],
    )


class Medicine(enum.StrEnum):
    KETAMINE = "ketamine"
    ESKETAMINE = "esketamine"
    PSILOCYBIN = "psilocybin"
    MDMA = "mdma"
    OTHER = "other"


class Route(enum.StrEnum):
    IV = "iv"
    IM = "im"
    INTRANASAL = "intranasal"
    SUBLINGUAL = "sublingual"
    ORAL = "oral"
    OTHER = "other"


class Setting(enum.StrEnum):
    CLINIC = "clinic"
    HOME = "home"
    OTHER = "other"


SIDE_EFFECTS = (
    "nausea", "dizziness", "dissociation", "headache", "elevated_blood_pressure", "elevated_heart_rate",
    "anxiety", "vomiting", "blurred_vision", "fatigue", "other",
)


class Session(OwnedRecord, db.Model):
    __tablename__ = "sessions"
    TIME_FIELD = "started_at"
    SYNC_TYPE = "session"

    started_at: Mapped[datetime]
    medicine: Mapped[Medicine] = mapped_column(string_enum(Medicine, "medicine"), default=Medicine.KETAMINE)
    route: Mapped[Route | None] = mapped_column(string_enum(Route, "route"))
    dose_mg: Mapped[float | None] = mapped_column(Float)
    duration_minutes: Mapped[int | None] = mapped_column(Integer)
    setting: Mapped[Setting | None] = mapped_column(string_enum(Setting, "setting"))
    provider: Mapped[str | None] = mapped_column(String(200))
    intention: Mapped[str | None] = mapped_column(Text)
    side_effects: Mapped[list] = mapped_column(JSONList, default=list)
    vitals: Mapped[list] = mapped_column(JSONList, default=list)
    notes: Mapped[str | None] = mapped_column(Text)
