"""Standard questionnaires (the instrument registry's) with their server-side scores."""

import uuid
from datetime import datetime

from sqlalchemy import Boolean, Enum, ForeignKey, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from api.assessments.scoring import Instrument
from api.extensions import Model
from api.jsonlists import JSONList
from api.models import utcnow
from api.records import OwnedRecord


class Assessment(OwnedRecord, Model):
    __tablename__ = "assessments"
    TIME_FIELD = "taken_at"

    # The registry's ids, with no CHECK: the registry says which there are, so adding one is a
    # change to its data alone (the schemas refuse any other id before it gets here).
    instrument: Mapped[Instrument] = mapped_column(
        Enum(
            Instrument,
            native_enum=False,
            create_constraint=False,
            length=32,
            values_callable=lambda members: [member.value for member in members],
        )
    )
    answers: Mapped[list] = mapped_column(JSONList)
    taken_at: Mapped[datetime] = mapped_column(default=utcnow)
    session_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("sessions.id", ondelete="SET NULL"), index=True
    )
    score: Mapped[int] = mapped_column(SmallInteger)
    # Null for an instrument without severity bands (PCL-5).
    severity: Mapped[str | None] = mapped_column(String(32))
    # Whether the total reaches the instrument's threshold; null for one without (PHQ-9, GAD-7).
    threshold_met: Mapped[bool | None] = mapped_column(Boolean)
    safety_flag: Mapped[bool] = mapped_column(Boolean)
