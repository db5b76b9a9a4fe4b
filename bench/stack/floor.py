"""The floor of `make bench-stack`: the API's work for four operations, written by hand on the
same libraries, so the API's figures can be read against what that work costs at least.

    POST /v1/moods, POST /v1/entries   create (201), as the API's createMood / createEntry
    GET  /v1/moods,  GET  /v1/entries  first page of 20, newest first, as listMoods / listEntries

Each request does what the API must do and nothing else:

- verify the access token with PyJWT: HS256, the API's secret, issuer, audience, `type: access`,
  and the `sub`, `fam` and `jti` claims the API requires;
- check the login is live with one indexed query: the token family joined to its user, not
  revoked (what api/accounts/tokens.py runs), loading the user row; the caller must be a patient;
- create: validate the body with a marshmallow schema (the same fields, ranges and emotion
  vocabulary as the API's), then in one short transaction take the owner's next sync number
  (`UPDATE sync_clocks ... RETURNING`, which holds the clock until commit, as the API does) and
  INSERT the row through SQLAlchemy Core with every column the API fills: id, owner, version 1,
  timestamps, sync_seq, the note / body / title / tags encrypted with the API's keyring
  (AES-256-GCM bound to the column) and the tags' blind index. The API reads these rows as its
  own (the column types are the API's tables', so storage formats are the same);
- list: one SELECT on the owner's live records ordered by (time, id) descending, LIMIT 21 (served
  by the same `owner_time` index), decrypting what is encrypted; entries LEFT JOIN the user who
  acknowledged them;
- dump JSON with a marshmallow schema: the same fields as the API's record, and for a list
  `{items, next_cursor}`.

What it leaves out is what the issue measures the API's overhead by: flask-smorest, the ORM
session and unit of work, rate limiting, request logs, audit, ETags, security headers, problem
documents (errors here are a bare status and JSON), the Idempotency-Key machinery.

Settings come from the environment the API reads: DATABASE_URL, JWT_SECRET_KEY,
DATA_ENCRYPTION_KEYS, DB_POOL_SIZE / DB_MAX_OVERFLOW (PostgreSQL pool, as config.engine_options).
"""

import base64
import json
import os
import sqlite3
import uuid
from datetime import UTC, datetime

import jwt
import marshmallow as ma
from flask import Flask, abort, g, request
from sqlalchemy import create_engine, event, select, update

from api.accounts.models import TokenFamily, User
from api.encryption import Keyring
from api.entries.models import Entry, EntryKind, Visibility
from api.moods.models import Mood
from api.records import SyncClock
from api.reference.data import emotion_names

ISSUER = "integration-journal"
AUDIENCE = "integration-journal-api"
PAGE = 20

users = User.__table__
families = TokenFamily.__table__
clocks = SyncClock.__table__
moods = Mood.__table__
entries = Entry.__table__


def _engine():
    url = os.environ["DATABASE_URL"]
    if url.startswith("postgresql"):
        return create_engine(
            url,
            pool_pre_ping=True,
            hide_parameters=True,
            pool_size=int(os.environ.get("DB_POOL_SIZE", "4")),
            max_overflow=int(os.environ.get("DB_MAX_OVERFLOW", "2")),
        )
    engine = create_engine(url, pool_pre_ping=True, hide_parameters=True)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, connection_record):
        # The API's SQLite settings (api/app.py).
        if isinstance(dbapi_connection, sqlite3.Connection):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.close()

    return engine


EMOTIONS = ma.validate.OneOf(emotion_names())


def emotion_list():
    return ma.fields.List(ma.fields.String(validate=EMOTIONS), validate=ma.validate.Length(max=20))


def when():
    return ma.fields.AwareDateTime(format="iso")


class MoodIn(ma.Schema):
    id = ma.fields.UUID(load_default=None)
    mood = ma.fields.Integer(required=True, strict=True, validate=ma.validate.Range(1, 10))
    energy = ma.fields.Integer(allow_none=True, strict=True, validate=ma.validate.Range(1, 10))
    anxiety = ma.fields.Integer(allow_none=True, strict=True, validate=ma.validate.Range(1, 10))
    sleep_hours = ma.fields.Float(allow_none=True, validate=ma.validate.Range(0, 24))
    emotions = emotion_list()
    note = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=2000))
    recorded_at = when()
    timezone = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=64))


class RecordOut(ma.Schema):
    id = ma.fields.UUID()
    version = ma.fields.Integer()
    created_at = when()
    updated_at = when()


class MoodOut(RecordOut):
    mood = ma.fields.Integer()
    energy = ma.fields.Integer(allow_none=True)
    anxiety = ma.fields.Integer(allow_none=True)
    sleep_hours = ma.fields.Float(allow_none=True)
    emotions = ma.fields.List(ma.fields.String())
    note = ma.fields.String(allow_none=True)
    recorded_at = when()
    timezone = ma.fields.String(allow_none=True)


class EntryIn(ma.Schema):
    id = ma.fields.UUID(load_default=None)
    body = ma.fields.String(required=True, validate=ma.validate.Length(1, 20000))
    kind = ma.fields.Enum(EntryKind, by_value=True)
    title = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=200))
    emotions = emotion_list()
    tags = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(1, 50)), validate=ma.validate.Length(max=30)
    )
    occurred_at = when()
    visibility = ma.fields.Enum(Visibility, by_value=True)

    @ma.validates("tags")
    def tags_are_unique(self, value, **kwargs):
        if len({tag.lower() for tag in value}) != len(value):
            raise ma.ValidationError("List each tag once.")


class PersonOut(ma.Schema):
    id = ma.fields.UUID()
    display_name = ma.fields.String()


class EntryOut(RecordOut):
    body = ma.fields.String()
    kind = ma.fields.Enum(EntryKind, by_value=True)
    title = ma.fields.String(allow_none=True)
    session_id = ma.fields.UUID(allow_none=True)
    emotions = ma.fields.List(ma.fields.String())
    tags = ma.fields.List(ma.fields.String())
    occurred_at = when()
    visibility = ma.fields.Enum(Visibility, by_value=True)
    acknowledged_by = ma.fields.Nested(PersonOut, allow_none=True)
    acknowledged_at = when()


MOOD_IN, MOOD_OUT, MOODS_OUT = MoodIn(), MoodOut(), MoodOut(many=True)
ENTRY_IN, ENTRY_OUT, ENTRIES_OUT = EntryIn(), EntryOut(), EntryOut(many=True)

app = Flask(__name__)
# The API's column types encrypt through the app's keyring (api/encryption.py keyring()).
app.extensions["data_encryption"] = KEYRING = Keyring.parse(os.environ["DATA_ENCRYPTION_KEYS"])
SECRET = os.environ["JWT_SECRET_KEY"]
engine = _engine()


def authenticate(connection):
    """The patient this request's access token is live for, or 401/403."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        abort(401)
    try:
        claims = jwt.decode(
            header[7:],
            SECRET,
            algorithms=["HS256"],
            issuer=ISSUER,
            audience=AUDIENCE,
            options={"require": ["exp", "sub", "jti"]},
        )
        user_id, family_id = uuid.UUID(claims["sub"]), uuid.UUID(claims["fam"])
        uuid.UUID(claims["jti"])
    except (jwt.PyJWTError, KeyError, ValueError, TypeError):
        abort(401)
    if claims.get("type") != "access":
        abort(401)
    user = connection.execute(
        select(users)
        .join(families, families.c.user_id == users.c.id)
        .where(families.c.id == family_id, users.c.id == user_id, families.c.revoked_at.is_(None))
    ).one_or_none()
    if user is None:
        abort(401)
    if user.role != "patient":
        abort(403)
    return user


def load(schema):
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400)
    try:
        return schema.load(body)
    except ma.ValidationError as error:
        g.errors = error.messages
        abort(422)


def insert_owned(connection, table, owner_id, values):
    """The owner's next sync number (the clock row stays locked until commit), then the row."""
    now = datetime.now(UTC)
    with connection.begin():
        seq = connection.execute(
            update(clocks)
            .where(clocks.c.user_id == owner_id)
            .values(last_seq=clocks.c.last_seq + 1)
            .returning(clocks.c.last_seq)
        ).scalar_one()
        row = {
            **values,
            "id": values.get("id") or uuid.uuid4(),
            "owner_id": owner_id,
            "version": 1,
            "created_at": now,
            "updated_at": now,
            "deleted_at": None,
            "sync_seq": seq,
        }
        connection.execute(table.insert().values(row))
    return row


def cursor(row, time_field):
    raw = json.dumps([getattr(row, time_field).isoformat(), str(row.id)])
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode()


def page(connection, query, time_field, dump):
    rows = connection.execute(query.limit(PAGE + 1)).all()
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    return {"items": dump(rows), "next_cursor": cursor(rows[-1], time_field) if more else None}


@app.post("/v1/moods")
def create_mood():
    with engine.connect() as connection:
        user = authenticate(connection)
        connection.commit()
        data = load(MOOD_IN)
        data.setdefault("recorded_at", datetime.now(UTC))
        data.setdefault("emotions", [])
        row = insert_owned(connection, moods, user.id, data)
    return MOOD_OUT.dump(row), 201


@app.post("/v1/entries")
def create_entry():
    with engine.connect() as connection:
        user = authenticate(connection)
        connection.commit()
        data = load(ENTRY_IN)
        data.setdefault("occurred_at", datetime.now(UTC))
        data.setdefault("kind", EntryKind.GENERAL)
        data.setdefault("visibility", Visibility.PRIVATE)
        data.setdefault("emotions", [])
        data.setdefault("tags", [])
        data["tag_index"] = KEYRING.index(data["tags"], "entries.tags", user.id)
        row = insert_owned(connection, entries, user.id, data)
    return ENTRY_OUT.dump({**row, "acknowledged_by": None, "acknowledged_at": None}), 201


@app.get("/v1/moods")
def list_moods():
    with engine.connect() as connection:
        user = authenticate(connection)
        query = (
            select(moods)
            .where(moods.c.owner_id == user.id, moods.c.deleted_at.is_(None))
            .order_by(moods.c.recorded_at.desc(), moods.c.id.desc())
        )
        return page(connection, query, "recorded_at", MOODS_OUT.dump)


@app.get("/v1/entries")
def list_entries():
    acknowledger = users.alias("acknowledger")
    with engine.connect() as connection:
        user = authenticate(connection)
        query = (
            select(entries, acknowledger.c.display_name.label("acknowledger_name"))
            .outerjoin(acknowledger, acknowledger.c.id == entries.c.acknowledged_by_id)
            .where(entries.c.owner_id == user.id, entries.c.deleted_at.is_(None))
            .order_by(entries.c.occurred_at.desc(), entries.c.id.desc())
        )

        def dump(rows):
            return ENTRIES_OUT.dump(
                {
                    **row._mapping,
                    "acknowledged_by": (
                        {"id": row.acknowledged_by_id, "display_name": row.acknowledger_name}
                        if row.acknowledged_by_id
                        else None
                    ),
                }
                for row in rows
            )

        return page(connection, query, "occurred_at", dump)


@app.errorhandler(422)
def invalid(error):
    return {"errors": g.get("errors", {})}, 422
