"""The schema comes from the Alembic revisions, and they match the models exactly."""

import json
import uuid
from datetime import UTC, datetime, timedelta

import flask_migrate
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import DateTime, Uuid, column, create_engine, inspect, table, text

from api.app import create_app
from api.extensions import db
from config import TestingConfig


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
