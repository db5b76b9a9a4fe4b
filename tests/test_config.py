"""Configuration: secrets from the environment, database settings, and the README documenting them."""

import json
import os
import re
import subprocess
import sys

import pytest
from sqlalchemy import text

from api.app import create_app
from api.extensions import db
from config import (
    BASE_DIR,
    CONFIGS,
    DevelopmentConfig,
    ProductionConfig,
    TestingConfig,
    config_from_env,
    database_url,
)


def production_config(secret):
    return type(
        "Production",
        (ProductionConfig,),
        {
            "JWT_SECRET_KEY": secret,
            "DATA_ENCRYPTION_KEYS": TestingConfig.DATA_ENCRYPTION_KEYS,
            "SQLALCHEMY_DATABASE_URI": "sqlite://",
        },
    )


@pytest.mark.parametrize("secret", [None, "", "too-short", "x" * 31])
def test_production_refuses_to_start_without_a_real_secret(secret):
    with pytest.raises(RuntimeError, match="JWT_SECRET_KEY"):
        create_app(production_config(secret))


def test_production_starts_with_a_secret_of_32_bytes():
    app = create_app(production_config("s" * 32))
    assert app.config["APP_ENV"] == "production"
    assert not app.debug and not app.testing


def test_production_is_the_default_environment(monkeypatch):
    monkeypatch.delenv("APP_ENV", raising=False)
    assert config_from_env() is ProductionConfig


def test_an_unknown_environment_is_refused(monkeypatch):
    monkeypatch.setenv("APP_ENV", "staging-ish")
    with pytest.raises(RuntimeError, match="APP_ENV"):
        config_from_env()


def test_only_development_has_a_default_secret():
    assert len(DevelopmentConfig.JWT_SECRET_KEY.encode()) >= 32
    assert ProductionConfig.JWT_SECRET_KEY is None or "development" not in ProductionConfig.JWT_SECRET_KEY


def test_token_lifetimes_respect_the_contract():
    for config in CONFIGS.values():
        assert config.JWT_ACCESS_TOKEN_EXPIRES.total_seconds() <= 15 * 60
        assert config.JWT_REFRESH_TOKEN_EXPIRES.days <= 30
        assert config.REFRESH_REUSE_GRACE_SECONDS <= 30


@pytest.mark.parametrize(
    "given, expected",
    [
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_database_urls_use_psycopg_3(given, expected):
    assert database_url(given) == expected


def test_sqlite_runs_with_foreign_keys_and_wal(tmp_path):
    config = type(
        "Sqlite", (DevelopmentConfig,), {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}"}
    )
    app = create_app(config)
    with app.app_context():
        assert db.session.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert db.session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        db.session.remove()


def test_postgresql_uses_psycopg_3_in_autocommit_pinging_only_idle_connections():
    """Reads outside a transaction, no ping on every checkout (api/connections.py)."""
    config = type(
        "Pg",
        (DevelopmentConfig,),
        {"SQLALCHEMY_DATABASE_URI": database_url("postgresql://postgres@127.0.0.1/x")},
    )
    app = create_app(config)
    with app.app_context():
        assert db.engine.dialect.driver == "psycopg"
        assert db.engine.pool._pre_ping is False
        assert db.engine.get_execution_options().get("isolation_level") is None
        assert db.engine.dialect._on_connect_isolation_level == "AUTOCOMMIT"


def test_readme_documents_every_environment_variable():
    source = (BASE_DIR / "config.py").read_text()
    variables = set(re.findall(r'env_(?:str|int|float|list)\("([A-Z_0-9]+)"', source))
    readme = (BASE_DIR / "README.md").read_text()
    assert variables, "config.py reads no environment variables?"
    missing = sorted(name for name in variables if f"`{name}`" not in readme)
    assert not missing, f"README.md does not document {missing}"
    assert "TEST_DATABASE_URL" in readme and "APP_ENV" in readme


FILE = f"sqlite-file://{BASE_DIR / 'instance' / 'ratelimits.sqlite'}"


@pytest.mark.parametrize(
    "environment, storage, options",
    [
        ({}, FILE, {}),
        (
            {"REDIS_URL": "redis://cache:6379/0"},
            "redis-failover://",
            {"primary": "redis://cache:6379/0", "fallback": FILE, "retry_seconds": 5.0},
        ),
        (
            {"REDIS_URL": "redis://cache:6379/0", "RATELIMIT_FILE": "/srv/a/limits.sqlite"},
            "redis-failover://",
            {
                "primary": "redis://cache:6379/0",
                "fallback": "sqlite-file:///srv/a/limits.sqlite",
                "retry_seconds": 5.0,
            },
        ),
        ({"REDIS_URL": "redis://cache:6379/0", "RATELIMIT_STORAGE_URI": "memory://"}, "memory://", {}),
    ],
)
def test_rate_limits_are_shared_by_the_instance_by_default(environment, storage, options):
    """Without Redis, every worker process of an instance counts in one file; never per-process
    memory. With Redis, every instance counts there, each falling back to its own file."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("REDIS_URL", "RATELIMIT_STORAGE_URI", "RATELIMIT_FILE")
    }
    printed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json; from config import ProductionConfig as c; "
            "print(json.dumps([c.RATELIMIT_STORAGE_URI, c.RATELIMIT_STORAGE_OPTIONS]))",
        ],
        cwd=BASE_DIR,
        env={**env, **environment},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert json.loads(printed) == [storage, options]
