"""Journal entries."""

import enum
import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from api.extensions import db
from api.jsonlists import JSONList
from api.models import string_enum, utcnow
from api.records import OwnedRecord


class Kind(enum.StrEnum):
    INSIGHT = "insight"
    REFLECTION = "reflection"
    INTENTION = "intention"
    GRATITUDE = "gratitude"
    DREAM = "dream"
    BODY = "body"
    GENERAL = "general"


class Visibility(enum.StrEnum):
    PRIVATE = "private"
    CARE_TEAM = "care_team"


class Entry(OwnedRecord, db.Model):
    __tablename__ = "entries"
    TIME_FIELD = "occurred_at"
    SYNC_TYPE = "entry"

    body: Mapped[str] = mapped_column(Text)
    kind: Mapped[Kind] = mapped_column(string_enum(Kind, "entry_kind"), default=Kind.GENERAL)
    title: Mapped[str | None] = mapped_column(String(200))
    session_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("sessions.id", ondelete="SET NULL"), index=True)
    emotions: Mapped[list] = mapped_column(JSONList, default=list)
    tags: Mapped[list] = mapped_column(JSONList, default=list)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    visibility: Mapped[Visibility] = mapped_column(string_enum(Visibility, "visibility"), default=Visibility.PRIVATE)
