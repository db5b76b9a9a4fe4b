"""The schema comes from the Alembic revisions, and they match the models exactly."""

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import flask_migrate
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import JSON, DateTime, Uuid, column, create_engine, inspect, table, text
from sqlalchemy.dialects import postgresql

from api.app import create_app
from api.extensions import db
from config import TestingConfig
from tests.helpers import PASSWORD


def test_migrations_match_the_models(app):
    with app.app_context(), db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), db.metadata)
    assert differences == [], "models and migrations drifted: run `make migration m=...`"


def test_the_test_database_is_at_the_head_revision(app):
    with app.app_context(), db.engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_heads()
        script = ScriptDirectory.from_config(app.extensions["migrate"].migrate.get_config())
        assert set(current) == set(script.get_heads())
        assert len(script.get_heads()) == 1, "migration history has branched"


def test_downgrade_to_base_and_upgrade_again(tmp_path):
    config = type(
        "Fresh", (TestingConfig,), {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'fresh.db'}"}
    )
    app = create_app(config)
    with app.app_context():
        flask_migrate.upgrade()
        flask_migrate.downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) == {"alembic_version"}
        flask_migrate.upgrade()
        assert {"users", "token_families", "refresh_tokens"} <= set(inspect(db.engine).get_table_names())
        db.session.remove()


@pytest.fixture
def scratch_database_url(tmp_path, config_class):
    """An empty database of this test's own: a SQLite file, or a scratch database on the PostgreSQL server."""
    url = config_class.SQLALCHEMY_DATABASE_URI
    if not url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'scratch.db'}"
        return
    name = f"journal_migration_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield url.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def test_stored_idempotent_answers_survive_the_move_to_record_ids(scratch_database_url):
    """Answers stored with whole response bodies keep replaying (their id comes from the stored
    Location); claims left in flight by a request that died are dropped, so their key is free."""
    app = create_app(type("Scratch", (TestingConfig,), {"SQLALCHEMY_DATABASE_URI": scratch_database_url}))
    user_id, record_id = uuid.uuid4(), uuid.uuid4()
    with app.app_context():
        flask_migrate.upgrade(revision="1963fa011cfd")
        users = table(
            "users",
            *(
                column(name)
                for name in ("email", "password_hash", "display_name", "role", "timezone", "version")
            ),
            column("id", Uuid()),
            column("created_at", DateTime(timezone=True)),
            column("updated_at", DateTime(timezone=True)),
        )
        keys = table(
            "idempotency_keys",
            column("user_id", Uuid()),
            column("key"),
            column("fingerprint"),
            column("created_at", DateTime(timezone=True)),
            column("status_code"),
            column("response_body"),
            column("response_headers"),
        )
        now = datetime.now(UTC)
        db.session.execute(
            users.insert().values(
                id=user_id,
                email="old@example.org",
                password_hash="x",
                display_name="Old",
                role="patient",
                timezone="UTC",
                version=1,
                created_at=now,
                updated_at=now,
            )
        )
        db.session.execute(
            keys.insert().values(
                user_id=user_id,
                key="answered",
                fingerprint="f",
                created_at=now,
                status_code=201,
                response_body='{"note": "private"}',
                response_headers=json.dumps({"Location": f"/v1/moods/{record_id}", "ETag": '"1"'}),
            )
        )
        db.session.execute(
            keys.insert().values(user_id=user_id, key="in-flight", fingerprint="f", created_at=now)
        )
        db.session.execute(
            keys.insert().values(
                user_id=user_id,
                key="expired",
                fingerprint="f",
                created_at=now - timedelta(days=2),
                status_code=201,
                response_headers=json.dumps({"Location": f"/v1/moods/{uuid.uuid4()}"}),
            )
        )
        db.session.commit()
        flask_migrate.upgrade()
        rows = db.session.execute(text("SELECT key, status_code, resource_id FROM idempotency_keys")).all()
        assert [(key, status, uuid.UUID(str(resource))) for key, status, resource in rows] == [
            ("answered", 201, record_id)
        ]
        columns = {column["name"] for column in inspect(db.engine).get_columns("idempotency_keys")}
        assert not {"response_body", "response_headers"} & columns
        db.session.remove()
        db.engine.dispose()


def journal_table(name, *columns, json_columns=()):
    """A table of a journal kind as a revision before encryption had it, for plain inserts."""
    json_list = JSON().with_variant(postgresql.JSONB(), "postgresql")
    return table(
        name,
        column("id", Uuid()),
        column("owner_id", Uuid()),
        column("version"),
        column("sync_seq"),
        column("created_at", DateTime(timezone=True)),
        column("updated_at", DateTime(timezone=True)),
        *(column(name, DateTime(timezone=True)) for name in columns if name.endswith("_at")),
        *(column(name, Uuid()) for name in columns if name.endswith("_id")),
        *(column(name) for name in columns if not name.endswith(("_at", "_id"))),
        *(column(name, json_list) for name in json_columns),
    )


def test_journal_text_already_stored_is_encrypted_by_the_migration_and_back_by_its_downgrade(
    scratch_database_url,
):
    app = create_app(type("Scratch", (TestingConfig,), {"SQLALCHEMY_DATABASE_URI": scratch_database_url}))
    before_encryption = "5e0c8a1f3b92"
    with app.app_context():
        flask_migrate.upgrade(revision=before_encryption)
    client = app.test_client()
    account = {"email": "old@example.org", "password": PASSWORD, "display_name": "Old", "role": "patient"}
    owner_id = uuid.UUID(client.post("/v1/auth/register", json=account).json["id"])
    ids = {
        name: uuid.uuid4()
        for name in ("session", "entry", "mood", "practice", "contact", "phq9", "event", "ack")
    }
    then = datetime(2026, 3, 1, 9, tzinfo=UTC)
    common = {"owner_id": owner_id, "version": 3, "created_at": then, "updated_at": then}
    rows = [
        (
            journal_table(
                "sessions",
                "started_at",
                "medicine",
                "provider",
                "intention",
                "notes",
                json_columns=("side_effects", "vitals"),
            ),
            {
                "id": ids["session"],
                "sync_seq": 1,
                "started_at": then,
                "medicine": "ketamine",
                "provider": "Old clinic",
                "intention": "old intention",
                "notes": "old session notes",
                "side_effects": [],
                "vitals": [],
            },
        ),
        (
            journal_table(
                "entries",
                "occurred_at",
                "body",
                "title",
                "kind",
                "visibility",
                "session_id",
                json_columns=("emotions", "tags"),
            ),
            {
                "id": ids["entry"],
                "sync_seq": 2,
                "occurred_at": then,
                "body": "old body",
                "title": "old title",
                "kind": "general",
                "visibility": "private",
                "session_id": ids["session"],
                "emotions": [],
                "tags": ["Old tag", "lake"],
            },
        ),
        (
            journal_table("moods", "recorded_at", "mood", "note", json_columns=("emotions",)),
            {
                "id": ids["mood"],
                "sync_seq": 3,
                "recorded_at": then,
                "mood": 5,
                "note": "old mood note",
                "emotions": [],
            },
        ),
        (
            journal_table("practices", "performed_at", "practice", "notes"),
            {
                "id": ids["practice"],
                "sync_seq": 4,
                "performed_at": then,
                "practice": "yoga",
                "notes": "old practice notes",
            },
        ),
        (
            journal_table(
                "contacts",
                "name",
                "relationship",
                "phone",
                "email",
                "notes",
                "is_emergency_contact",
                "is_session_support",
            ),
            {
                "id": ids["contact"],
                "sync_seq": 5,
                "name": "Old friend",
                "relationship": "friend",
                "phone": "+1 555 0100",
                "email": "friend@example.org",
                "notes": None,
                "is_emergency_contact": False,
                "is_session_support": False,
            },
        ),
        (
            journal_table(
                "assessments",
                "taken_at",
                "instrument",
                "score",
                "severity",
                "safety_flag",
                "session_id",
                json_columns=("answers",),
            ),
            {
                "id": ids["phq9"],
                "session_id": ids["session"],
                "sync_seq": 6,
                "taken_at": then,
                "instrument": "phq9",
                "score": 12,
                "severity": "moderate",
                "safety_flag": True,
                "answers": [2, 2, 2, 1, 1, 1, 1, 1, 1],
            },
        ),
        (
            journal_table(
                "safety_events",
                "occurred_at",
                "acknowledged_at",
                "assessment_id",
                "score",
                "severity",
                "item9_answer",
            ),
            {
                "id": ids["event"],
                "sync_seq": 7,
                "occurred_at": then,
                "acknowledged_at": then,
                "assessment_id": ids["phq9"],
                "score": 12,
                "severity": "moderate",
                "item9_answer": 1,
            },
        ),
    ]
    acknowledgements = table(
        "safety_acknowledgements",
        column("id", Uuid()),
        column("event_id", Uuid()),
        column("acknowledged_at", DateTime(timezone=True)),
        column("note"),
    )
    stored = [
        ("entries", "body", "old body"),
        ("entries", "title", "old title"),
        ("sessions", "provider", "Old clinic"),
        ("sessions", "intention", "old intention"),
        ("sessions", "notes", "old session notes"),
        ("moods", "note", "old mood note"),
        ("practices", "notes", "old practice notes"),
        ("contacts", "name", "Old friend"),
        ("contacts", "phone", "+1 555 0100"),
        ("contacts", "email", "friend@example.org"),
        ("safety_acknowledgements", "note", "old acknowledgement note"),
    ]

    def raw(table_name, column_name):
        return db.session.execute(text(f"SELECT {column_name} FROM {table_name}")).scalar_one()

    with app.app_context():
        for journal, values in rows:
            db.session.execute(journal.insert().values(**common, **values))
        db.session.execute(
            acknowledgements.insert().values(
                id=ids["ack"], event_id=ids["event"], acknowledged_at=then, note="old acknowledgement note"
            )
        )
        db.session.execute(text("UPDATE sync_clocks SET last_seq = 7"))
        db.session.commit()
        flask_migrate.upgrade()
        # Stored as ciphertext under the configured key ...
        for table_name, column_name, plaintext in stored:
            value = raw(table_name, column_name)
            assert value.startswith("v1:test:") and plaintext not in value, (table_name, column_name)
        assert raw("entries", "tags").startswith("v1:test:")
        assert raw("contacts", "notes") is None
        db.session.remove()

    # ... and read back through the API as before, versions unchanged.
    token = client.post("/v1/auth/login", json={"email": account["email"], "password": PASSWORD}).json
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    entry = client.get(f"/v1/entries/{ids['entry']}", headers=headers)
    assert (entry.json["body"], entry.json["title"], entry.json["tags"]) == (
        "old body",
        "old title",
        ["Old tag", "lake"],
    )
    assert entry.headers["ETag"] == '"3"'
    # The sessions table is rebuilt on SQLite; the records that name a session keep naming it.
    assert entry.json["session_id"] == str(ids["session"])
    phq9 = client.get(f"/v1/assessments/{ids['phq9']}", headers=headers).json
    assert phq9["session_id"] == str(ids["session"])
    assert [item["id"] for item in client.get("/v1/entries?tag=old TAG", headers=headers).json["items"]] == [
        str(ids["entry"])
    ]
    session = client.get(f"/v1/sessions/{ids['session']}", headers=headers).json
    assert (session["provider"], session["intention"], session["notes"]) == (
        "Old clinic",
        "old intention",
        "old session notes",
    )
    assert client.get(f"/v1/moods/{ids['mood']}", headers=headers).json["note"] == "old mood note"
    assert (
        client.get(f"/v1/practices/{ids['practice']}", headers=headers).json["notes"] == "old practice notes"
    )
    contact = client.get(f"/v1/contacts/{ids['contact']}", headers=headers).json
    assert (contact["name"], contact["phone"], contact["email"]) == (
        "Old friend",
        "+1 555 0100",
        "friend@example.org",
    )
    assert client.get("/v1/sync", headers=headers).json["next_cursor"] is not None

    with app.app_context():
        flask_migrate.downgrade(revision=before_encryption)
        for table_name, column_name, plaintext in stored:
            assert raw(table_name, column_name) == plaintext, (table_name, column_name)
        tags = raw("entries", "tags")
        assert (json.loads(tags) if isinstance(tags, str) else tags) == ["Old tag", "lake"]
        db.session.remove()
        db.engine.dispose()


def test_no_plaintext_is_left_in_the_table_files_after_the_encryption_migration(scratch_database_url):
    """The migration UPDATEs each row; the old row versions (plaintext) stay in the table's pages
    (PostgreSQL's dead tuples; SQLite's free pages and WAL, where secure_delete is off) until
    the files are rewritten, and a file-level backup, a disk image or a replica would hold them.
    The migration rewrites them: no page of the table files holds the text."""
    app = create_app(type("Scratch", (TestingConfig,), {"SQLALCHEMY_DATABASE_URI": scratch_database_url}))
    with app.app_context():
        flask_migrate.upgrade(revision="5e0c8a1f3b92")
    client = app.test_client()
    account = {"email": "old@example.org", "password": PASSWORD, "display_name": "Old", "role": "patient"}
    owner_id = client.post("/v1/auth/register", json=account).json["id"]
    then = datetime(2026, 3, 1, 9, tzinfo=UTC)
    with app.app_context():
        for number in range(50):
            db.session.execute(
                text(
                    "INSERT INTO moods (id, owner_id, version, sync_seq, created_at, updated_at,"
                    " recorded_at, mood, note, emotions)"
                    " VALUES (:id, :owner, 1, :seq, :then, :then, :then, 5, :note, '[]')"
                ),
                {
                    "id": uuid.uuid4().hex,  # as both databases take it in plain SQL
                    "owner": uuid.UUID(owner_id).hex,
                    "seq": number + 1,
                    "then": then,
                    "note": f"Qzleft{number}",
                },
            )
        db.session.execute(text("UPDATE sync_clocks SET last_seq = 50"))
        db.session.commit()
        flask_migrate.upgrade()
        assert db.session.execute(text("SELECT count(*) FROM moods WHERE note LIKE 'Qzleft%'")).scalar() == 0
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("CREATE EXTENSION IF NOT EXISTS pageinspect"))
            pages_with_plaintext = db.session.execute(
                text(
                    "SELECT count(*) FROM generate_series(0, pg_relation_size('moods') / 8192 - 1) AS page"
                    " WHERE position('Qzleft'::bytea IN get_raw_page('moods', page::int)) > 0"
                )
            ).scalar()
        else:
            path = Path(scratch_database_url.removeprefix("sqlite:///"))
            files = [path, path.with_name(path.name + "-wal")]
            pages_with_plaintext = sum(file.read_bytes().count(b"Qzleft") for file in files if file.exists())
        db.session.remove()
        db.engine.dispose()
    assert pages_with_plaintext == 0


def test_the_instrument_registry_revision_keeps_stored_results_and_their_safety_events(scratch_database_url):
    """bdb58171c62c (PCL-5, a nullable severity, threshold_met) keeps every stored result, and the
    safety event and acknowledgement that hang on a PHQ-9 (SQLite rebuilds the table, and a drop
    with foreign keys on would cascade to them); its downgrade removes only the PCL-5 results."""
    app = create_app(type("Scratch", (TestingConfig,), {"SQLALCHEMY_DATABASE_URI": scratch_database_url}))
    before_registry = "a1b3ae579fea"
    with app.app_context():
        flask_migrate.upgrade(revision=before_registry)
    client = app.test_client()
    account = {"email": "old@example.org", "password": PASSWORD, "display_name": "Old", "role": "patient"}
    client.post("/v1/auth/register", json=account)
    token = client.post("/v1/auth/login", json={"email": account["email"], "password": PASSWORD}).json
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    phq9_id, gad7_id, event_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    then = datetime(2026, 3, 1, 9, tzinfo=UTC)
    with app.app_context():
        # a flagged PHQ-9 with its acknowledged safety event, and a GAD-7, as the revision before has them
        stored = [
            (phq9_id, 1, "phq9", "[2, 2, 2, 1, 1, 1, 1, 1, 1]", 12, "moderate", True),
            (gad7_id, 2, "gad7", "[1, 1, 1, 1, 1, 1, 1]", 7, "mild", False),
        ]
        for record_id, seq, instrument, answers, score, severity, flag in stored:
            db.session.execute(
                text(
                    "INSERT INTO assessments (id, owner_id, version, sync_seq, created_at, updated_at,"
                    " taken_at, instrument, answers, score, severity, safety_flag)"
                    " SELECT :id, id, 1, :seq, :then, :then, :then, :instrument, :answers, :score,"
                    " :severity, :flag FROM users"
                ),
                {
                    "id": record_id.hex,
                    "seq": seq,
                    "then": then,
                    "instrument": instrument,
                    "answers": answers,
                    "score": score,
                    "severity": severity,
                    "flag": flag,
                },
            )
        db.session.execute(
            text(
                "INSERT INTO safety_events (id, owner_id, version, sync_seq, created_at, updated_at,"
                " occurred_at, assessment_id, score, severity, item9_answer, acknowledged_at)"
                " SELECT :id, id, 1, 3, :then, :then, :then, :assessment, 12, 'moderate', 1, :then FROM users"
            ),
            {"id": event_id.hex, "then": then, "assessment": phq9_id.hex},
        )
        db.session.execute(
            text(
                "INSERT INTO safety_acknowledgements (id, event_id, acknowledged_at)"
                " VALUES (:id, :event, :then)"
            ),
            {"id": uuid.uuid4().hex, "event": event_id.hex, "then": then},
        )
        db.session.execute(text("UPDATE sync_clocks SET last_seq = 3"))
        db.session.commit()
        flask_migrate.upgrade()
        counts = {
            table: db.session.execute(text(f"SELECT count(*) FROM {table}")).scalar()
            for table in ("assessments", "safety_events", "safety_acknowledgements")
        }
        assert counts == {"assessments": 2, "safety_events": 1, "safety_acknowledgements": 1}
        db.session.remove()

    # read as before, with no threshold; the event and its acknowledgement still hang on the PHQ-9
    phq9 = client.get(f"/v1/assessments/{phq9_id}", headers=headers).json
    assert (phq9["score"], phq9["severity"], phq9["threshold_met"], phq9["safety_flag"]) == (
        12,
        "moderate",
        None,
        True,
    )
    events = client.get("/v1/me/safety-events", headers=headers).json["items"]
    assert [(event["assessment_id"], len(event["acknowledgements"])) for event in events] == [
        (str(phq9_id), 1)
    ]
    pcl5 = client.post("/v1/assessments", headers=headers, json={"instrument": "pcl5", "answers": [2] * 20})
    assert pcl5.status_code == 201 and pcl5.json["severity"] is None and pcl5.json["threshold_met"] is True

    with app.app_context():
        flask_migrate.downgrade(revision=before_registry)
        left = db.session.execute(text("SELECT instrument FROM assessments ORDER BY instrument")).scalars()
        assert list(left) == ["gad7", "phq9"]
        assert db.session.execute(text("SELECT count(*) FROM safety_acknowledgements")).scalar() == 1
        columns = {column["name"] for column in inspect(db.engine).get_columns("assessments")}
        assert "threshold_met" not in columns
        db.session.remove()
        db.engine.dispose()
