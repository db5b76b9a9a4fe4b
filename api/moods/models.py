"""Mood check-ins."""

from datetime import datetime

from sqlalchemy import Float, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from api.encryption import EncryptedText
from api.extensions import Model
from api.jsonlists import JSONList
from api.models import utcnow
from api.records import OwnedRecord


class Mood(OwnedRecord, Model):
    __tablename__ = "moods"
    TIME_FIELD = "recorded_at"

    mood: Mapped[int] = mapped_column(SmallInteger)
    energy: Mapped[int | None] = mapped_column(SmallInteger)
    anxiety: Mapped[int | None] = mapped_column(SmallInteger)
    sleep_hours: Mapped[float | None] = mapped_column(Float)
    emotions: Mapped[list] = mapped_column(JSONList, default=list)
    note: Mapped[str | None] = mapped_column(EncryptedText("moods.note"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The device's IANA zone when the check-in was made, so insights use the local day.
    timezone: Mapped[str | None] = mapped_column(String(64))
