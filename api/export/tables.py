"""format=csv: a zip of CSV files, one per kind, written as it is read.

TABLES is the one description of the files: the code writes them from it and the operation's
description lists their columns from it. A column is a field of the record as its GET shows it;
`a.b` is field `b` of the object in field `a`.
"""

import csv
import io
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from api.accounts.schemas import UserSchema
from api.export import streams
from api.export.service import SECTIONS, each_dumped, integration_plan, owner

RECORD_COLUMNS = ("id", "version", "created_at", "updated_at")

# A cell that starts with one of these is a formula to a spreadsheet program (OWASP "CSV
# injection"): such a text cell is written with an apostrophe in front, which makes it text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
LIST_SEPARATOR = ";"


@dataclass(frozen=True)
class Table:
    file: str
    section: str  # the export section whose records it is written from ("profile": the account)
    columns: tuple[str, ...]
    about: str = ""
    # For a list of objects inside each record (a session's vitals): its field, and the column
    # that names the record each row belongs to. The record's own file leaves that field out.
    nested: str | None = None
    parent_column: str = ""

    def rows(self, record) -> Iterable[dict]:
        if self.nested is None:
            return (record,)
        return ({self.parent_column: record["id"], **item} for item in record[self.nested])


TABLES = (
    Table(
        "profile.csv",
        "profile",
        ("id", "email", "display_name", "role", "timezone", "country", "version", "created_at", "updated_at"),
        about="your account, one row",
    ),
    Table(
        "integration_plan.csv",
        "integration_plan",
        ("offset_days", "local_time", "kind", "instrument", "prompt_id"),
        about="the steps of your integration plan (the default one while you have none of your own)",
    ),
    Table(
        "sessions.csv",
        "sessions",
        (
            *RECORD_COLUMNS,
            "started_at",
            "medicine",
            "route",
            "dose_mg",
            "duration_minutes",
            "setting",
            "provider",
            "intention",
            "side_effects",
            "notes",
        ),
    ),
    Table(
        "session_vitals.csv",
        "sessions",
        ("session_id", "taken_at", "systolic", "diastolic", "heart_rate"),
        nested="vitals",
        parent_column="session_id",
        about="one row per reading in a session's `vitals`",
    ),
    Table(
        "follow_ups.csv",
        "follow_ups",
        (
            *RECORD_COLUMNS,
            "session_id",
            "session_started_at",
            "step",
            "kind",
            "instrument",
            "prompt_id",
            "prompt_text",
            "offset_days",
            "local_time",
            "time_zone",
            "due_at",
            "window_ends_at",
            "completed_at",
            "completed_by.type",
            "completed_by.id",
            "dismissed_at",
        ),
        about="what each session's integration plan asked for, and what completed it",
    ),
    Table(
        "entries.csv",
        "entries",
        (
            *RECORD_COLUMNS,
            "occurred_at",
            "kind",
            "title",
            "body",
            "session_id",
            "emotions",
            "tags",
            "visibility",
            "acknowledged_by.id",
            "acknowledged_by.display_name",
            "acknowledged_at",
        ),
    ),
    Table(
        "moods.csv",
        "moods",
        (
            *RECORD_COLUMNS,
            "recorded_at",
            "timezone",
            "mood",
            "energy",
            "anxiety",
            "sleep_hours",
            "emotions",
            "note",
        ),
    ),
    Table(
        "contacts.csv",
        "contacts",
        (
            *RECORD_COLUMNS,
            "name",
            "relationship",
            "phone",
            "email",
            "notes",
            "is_emergency_contact",
            "is_session_support",
        ),
    ),
    Table(
        "practices.csv",
        "practices",
        (
            *RECORD_COLUMNS,
            "performed_at",
            "practice",
            "duration_minutes",
            "intensity",
            "mood_before",
            "mood_after",
            "notes",
        ),
    ),
    Table(
        "assessments.csv",
        "assessments",
        (
            *RECORD_COLUMNS,
            "taken_at",
            "instrument",
            "answers",
            "score",
            "severity",
            "threshold_met",
            "safety_flag",
            "session_id",
        ),
    ),
    Table(
        "safety_events.csv",
        "safety_events",
        (
            *RECORD_COLUMNS,
            "occurred_at",
            "assessment_id",
            "score",
            "severity",
            "item9_answer",
            "status",
            "acknowledged_at",
        ),
    ),
    Table(
        "safety_event_acknowledgements.csv",
        "safety_events",
        ("safety_event_id", "acknowledged_at", "acknowledged_by.id", "acknowledged_by.display_name"),
        nested="acknowledgements",
        parent_column="safety_event_id",
        about="one row per acknowledgement of a safety event, oldest first",
    ),
)


def described():
    """The files and their columns, for the operation's description (Markdown)."""
    lines = []
    for table in TABLES:
        about = f" ({table.about})" if table.about else ""
        columns = ", ".join(f"`{column}`" for column in table.columns)
        lines.append(f"- `{table.file}`{about}: {columns}")
    return "\n".join(lines)


def looked_up(row, column):
    value = row
    for name in column.split("."):
        value = None if value is None else value.get(name)
    return value


def text_cell(text):
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def list_item(value):
    """A list's item, with `\\` and the separator escaped so the cell splits back unambiguously."""
    return str(value).replace("\\", "\\\\").replace(LIST_SEPARATOR, "\\" + LIST_SEPARATOR)


def cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return text_cell(LIST_SEPARATOR.join(list_item(item) for item in value))
    return text_cell(str(value))


def _records(table, owner_id):
    if table.section == "profile":
        return (UserSchema().dump(owner(owner_id)),)
    if table.section == "integration_plan":
        return integration_plan(owner_id)["steps"]
    section = next(section for section in SECTIONS if section.name == table.section)
    return each_dumped(section, owner_id=owner_id)


def csv_zip(*, owner_id, exported_at) -> Iterator[bytes]:
    """The zip, written to a stream that cannot seek, handed out about CHUNK_BYTES at a time.

    Members are zip64 (their sizes are not known when they start) and deflated; each is
    readable by its owner only (mode 0600) once unpacked. A zip's members follow one another,
    so a table of nested rows (session_vitals.csv) reads its section again rather than holding
    the rows until its turn.
    """
    outbox = streams.Outbox()
    with zipfile.ZipFile(outbox, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for table in TABLES:
            info = zipfile.ZipInfo(table.file, date_time=exported_at.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            with archive.open(info, "w", force_zip64=True) as member:
                text = io.StringIO()
                writer = csv.writer(text, lineterminator="\r\n")
                writer.writerow(table.columns)
                for record in _records(table, owner_id):
                    for row in table.rows(record):
                        writer.writerow([cell(looked_up(row, column)) for column in table.columns])
                    if text.tell() >= streams.CHUNK_BYTES:
                        member.write(text.getvalue().encode())
                        text.seek(0)
                        text.truncate()
                    if outbox.held >= streams.CHUNK_BYTES:
                        yield outbox.take()
                member.write(text.getvalue().encode())
            yield outbox.take()
    yield outbox.take()
