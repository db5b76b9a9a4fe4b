"""The schema comes from the Alembic revisions, and they match the models exactly."""

import flask_migrate
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from api import create_app
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
    config = type("Fresh", (TestingConfig,), {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'fresh.db'}"})
    app = create_app(config)
    with app.app_context():
        flask_migrate.upgrade()
        flask_migrate.downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) == {"alembic_version"}
        flask_migrate.upgrade()
        assert {"users", "token_families", "refresh_tokens"} <= set(inspect(db.engine).get_table_names())
        db.session.remove()
