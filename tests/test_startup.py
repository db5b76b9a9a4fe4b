"""What a serving worker loads: only what requests use. Migration tooling and the Redis client are
imported when something needs them (`flask db`, a migration run in process, REDIS_URL), so
every gunicorn worker is spared their memory."""

import json
import subprocess
import sys

import flask_migrate.cli

from api.app import create_app
from config import BASE_DIR, TestingConfig

# Imported only where they are used; each of these used to be loaded by every worker.
NOT_LOADED_TO_SERVE = ("alembic", "flask_migrate", "redis")


def test_a_serving_worker_loads_no_migration_tool_and_no_redis_client(tmp_path):
    """`wsgi:app` as gunicorn loads it in production on SQLite without REDIS_URL (in a process of
    its own: this one has imported them all)."""
    env = {
        "PATH": "/usr/bin:/bin",
        "APP_ENV": "production",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'journal.db'}",
        "JWT_SECRET_KEY": "s" * 48,
        "DATA_ENCRYPTION_KEYS": TestingConfig.DATA_ENCRYPTION_KEYS,
        "RATELIMIT_FILE": str(tmp_path / "ratelimits.sqlite"),
    }
    code = (
        "import json, sys; import wsgi; "
        f"print(json.dumps([name for name in {NOT_LOADED_TO_SERVE!r} if name in sys.modules]))"
    )
    printed = subprocess.run(
        [sys.executable, "-c", code], cwd=BASE_DIR, env=env, capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(printed.splitlines()[-1]) == []


def test_flask_db_loads_flask_migrate_when_it_runs(config_class):
    """The `db` group is Flask-Migrate's own once it runs, on an app that had not used it yet."""
    app = create_app(config_class)
    runner = app.test_cli_runner()
    stand_in = app.cli.get_command(None, "db")
    assert stand_in is not flask_migrate.cli.db
    assert stand_in.get_short_help_str() == flask_migrate.cli.db.get_short_help_str()
    listed = runner.invoke(args=["--help"])
    assert listed.exit_code == 0
    assert f"db {flask_migrate.cli.db.get_short_help_str()}" in " ".join(listed.output.split())

    # (alembic prints the revision to the sys.stdout it found when imported, not the runner's)
    current = runner.invoke(args=["db", "current"])
    assert current.exit_code == 0, current.output
    assert app.cli.get_command(None, "db") is flask_migrate.cli.db
    assert isinstance(app.extensions["migrate"], flask_migrate._MigrateConfig)


def test_the_migrate_extension_binds_flask_migrate_on_first_use(config_class):
    app = create_app(config_class)
    stand_in = app.extensions["migrate"]
    assert not isinstance(stand_in, flask_migrate._MigrateConfig)
    assert stand_in.directory == str(BASE_DIR / "migrations")
    assert stand_in.configure_args["render_as_batch"] is True
    assert isinstance(app.extensions["migrate"], flask_migrate._MigrateConfig)
    assert app.extensions["migrate"].db is stand_in.db
