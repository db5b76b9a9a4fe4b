"""Journal entries."""

import enum
import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.accounts.models import User
from api.encryption import EncryptedList, EncryptedText
from api.extensions import Model
from api.jsonlists import JSONList
from api.models import string_enum, utcnow
from api.records import OwnedRecord


class EntryKind(enum.StrEnum):
    """What a journal entry is about."""

    INSIGHT = "insight"
    REFLECTION = "reflection"
    INTENTION = "intention"
    GRATITUDE = "gratitude"
    DREAM = "dream"
    BODY = "body"
    GENERAL = "general"


class Visibility(enum.StrEnum):
    """`private` (only you) or `care_team` (linked therapists with the `entries` scope)."""

    PRIVATE = "private"
    CARE_TEAM = "care_team"


class Entry(OwnedRecord, Model):
    __tablename__ = "entries"
    TIME_FIELD = "occurred_at"

    body: Mapped[str] = mapped_column(EncryptedText("entries.body"))
    kind: Mapped[EntryKind] = mapped_column(string_enum(EntryKind, "entry_kind"), default=EntryKind.GENERAL)
    title: Mapped[str | None] = mapped_column(EncryptedText("entries.title"))
    session_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("sessions.id", ondelete="SET NULL"), index=True
    )
    emotions: Mapped[list] = mapped_column(JSONList, default=list)
    # Tags are a patient's own words: encrypted, with a blind index for the `tag` filter.
    tags: Mapped[list] = mapped_column(EncryptedList("entries.tags", blind_index="tag_index"), default=list)
    tag_index: Mapped[list] = mapped_column(JSONList, default=list)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    visibility: Mapped[Visibility] = mapped_column(
        string_enum(Visibility, "visibility"), default=Visibility.PRIVATE
    )
    # Set when a linked therapist marks the shared entry read (API.md §4).
    acknowledged_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    acknowledged_at: Mapped[datetime | None]

    acknowledged_by: Mapped[User | None] = relationship(foreign_keys=[acknowledged_by_id], lazy="selectin")

    @classmethod
    def extra_indexes(cls):
        # A therapist's page of shared entries stays one range scan however many are private.
        # Its predicate is entries.service.SHARED_WHEN and records.live written as SQL;
        # tests/test_query_plans.py proves the therapist's query uses it.
        shared = "visibility = 'care_team' AND deleted_at IS NULL"
        return (
            Index(
                "ix_entries_owner_shared_time",
                "owner_id",
                "occurred_at",
                "id",
                sqlite_where=text(shared),
                postgresql_where=text(shared),
            ),
            # Erasing an account finds the entries it acknowledged (and the foreign key's SET
            # NULL finds them too) without reading every entry.
            Index(
                "ix_entries_acknowledged_by",
                "acknowledged_by_id",
                sqlite_where=text("acknowledged_by_id IS NOT NULL"),
                postgresql_where=text("acknowledged_by_id IS NOT NULL"),
            ),
        )
