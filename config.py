"""Configuration classes; every setting comes from an environment variable (see README)."""

import os
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent

MIN_SECRET_BYTES = 32


def env_str(name, default=None):
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def env_int(name, default):
    value = env_str(name)
    return int(value) if value is not None else default


def env_list(name):
    return [item.strip() for item in env_str(name, "").split(",") if item.strip()]


def database_url(value):
    """Accept the usual `postgres://` URLs of hosting platforms and pick psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if value.startswith(prefix):
            return "postgresql+psycopg://" + value[len(prefix) :]
    return value


class Config:
    APP_ENV = "production"
    TESTING = False

    SQLALCHEMY_DATABASE_URI = database_url(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'instance' / 'journal.db'}")
    )
    # hide_parameters: SQL parameters hold journal text, and never appear in a log or an error.
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True, "hide_parameters": True}

    JWT_SECRET_KEY = env_str("JWT_SECRET_KEY")
    JWT_ALGORITHM = "HS256"
    JWT_DECODE_ALGORITHMS = ["HS256"]
    JWT_TOKEN_LOCATION = ["headers"]
    JWT_COOKIE_CSRF_PROTECT = False  # tokens travel in headers only, never cookies
    JWT_ENCODE_ISSUER = "integration-journal"
    JWT_DECODE_ISSUER = "integration-journal"
    JWT_ENCODE_AUDIENCE = "integration-journal-api"
    JWT_DECODE_AUDIENCE = "integration-journal-api"
    # API.md §2: access tokens live at most 15 minutes, refresh tokens at most 30 days.
    JWT_ACCESS_TOKEN_EXPIRES = timedelta(minutes=min(env_int("ACCESS_TOKEN_MINUTES", 15), 15))
    JWT_REFRESH_TOKEN_EXPIRES = timedelta(days=min(env_int("REFRESH_TOKEN_DAYS", 30), 30))
    REFRESH_REUSE_GRACE_SECONDS = min(env_int("REFRESH_REUSE_GRACE_SECONDS", 30), 30)

    ARGON2_TIME_COST = env_int("ARGON2_TIME_COST", 3)
    ARGON2_MEMORY_COST = env_int("ARGON2_MEMORY_COST", 65536)
    ARGON2_PARALLELISM = env_int("ARGON2_PARALLELISM", 4)

    MAX_CONTENT_LENGTH = env_int("MAX_CONTENT_LENGTH", 1024 * 1024)

    REDIS_URL = env_str("REDIS_URL")
    # Without Redis, counters live in a SQLite file that every worker process of this instance
    # shares (api/ratelimit_storage.py): per-worker memory would multiply every limit.
    RATELIMIT_STORAGE_URI = env_str(
        "RATELIMIT_STORAGE_URI", REDIS_URL or f"sqlite-file://{BASE_DIR / 'instance' / 'ratelimits.sqlite'}"
    )
    RATELIMIT_HEADERS_ENABLED = True
    # If Redis goes away, count in each worker process's memory until it returns rather than fail
    # every request (a limit then holds per worker).
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_KEY_PREFIX = "ij"
    RATELIMIT_DEFAULT = env_str("RATELIMIT_DEFAULT", "600 per minute")
    RATELIMIT_LOGIN_PER_IP = env_str("RATELIMIT_LOGIN_PER_IP", "30 per minute")
    RATELIMIT_LOGIN_FAILURES_PER_EMAIL = env_str("RATELIMIT_LOGIN_FAILURES_PER_EMAIL", "5 per 15 minutes")
    RATELIMIT_REGISTER_PER_IP = env_str("RATELIMIT_REGISTER_PER_IP", "20 per hour")
    RATELIMIT_PASSWORD_CHECK_PER_USER = env_str("RATELIMIT_PASSWORD_CHECK_PER_USER", "5 per 15 minutes")
    RATELIMIT_CODE_FAILURES_PER_ACCOUNT = env_str("RATELIMIT_CODE_FAILURES_PER_ACCOUNT", "10 per hour")
    RATELIMIT_CODE_FAILURES_PER_IP = env_str("RATELIMIT_CODE_FAILURES_PER_IP", "30 per hour")
    RATELIMIT_EXPORT_PER_USER = env_str("RATELIMIT_EXPORT_PER_USER", "5 per hour")

    CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS")
    PROXY_FIX_X_FOR = env_int("PROXY_FIX_X_FOR", 0)

    # Logs (api/logs.py): one JSON object per line, one line per request.
    LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
    LOG_FORMAT = env_str("LOG_FORMAT", "json").lower()
    INSTANCE_NAME = env_str("INSTANCE_NAME")  # None: host name and process id

    # flask-smorest / OpenAPI
    API_TITLE = "Integration Journal API"
    API_VERSION = "1.0.0"
    OPENAPI_VERSION = "3.1.0"
    OPENAPI_URL_PREFIX = "/"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "/docs"
    OPENAPI_SWAGGER_UI_URL = "/static/docs/swagger-ui/"
    OPENAPI_SWAGGER_UI_CONFIG = {"validatorUrl": None, "displayOperationId": True}  # no calls out
    OPENAPI_REDOC_PATH = "/redoc"
    OPENAPI_REDOC_URL = "/static/docs/redoc/redoc.standalone.js"

    @classmethod
    def validate(cls):
        """Refuse to start with a configuration that is unsafe for this environment."""


class ProductionConfig(Config):
    @classmethod
    def validate(cls):
        secret = cls.JWT_SECRET_KEY or ""
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise RuntimeError(
                f"JWT_SECRET_KEY must be set to a random value of at least {MIN_SECRET_BYTES} bytes "
                "(for example: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )


class DevelopmentConfig(Config):
    APP_ENV = "development"
    # For `make run` on a developer's machine only; ProductionConfig never falls back to it.
    JWT_SECRET_KEY = env_str("JWT_SECRET_KEY", "development-only-secret-do-not-deploy-0123456789")
    LOG_FORMAT = env_str("LOG_FORMAT", "text").lower()


class TestingConfig(Config):
    APP_ENV = "testing"
    TESTING = True
    SQLALCHEMY_DATABASE_URI = database_url(env_str("TEST_DATABASE_URL", "sqlite://"))
    JWT_SECRET_KEY = "testing-secret-key-long-enough-for-every-hmac-algorithm-0123456789"
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST = 1024
    ARGON2_PARALLELISM = 1
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_DEFAULT = "10000 per minute"
    RATELIMIT_REGISTER_PER_IP = "10000 per hour"
    RATELIMIT_LOGIN_PER_IP = "10000 per minute"
    CORS_ALLOWED_ORIGINS = ["https://therapist.example"]


CONFIGS = {
    "production": ProductionConfig,
    "development": DevelopmentConfig,
    "testing": TestingConfig,
}


def config_from_env():
    name = env_str("APP_ENV", "production")
    try:
        return CONFIGS[name]
    except KeyError:
        raise RuntimeError(f"APP_ENV must be one of {', '.join(CONFIGS)}, not {name!r}") from None
