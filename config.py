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


def env_float(name, default):
    value = env_str(name)
    return float(value) if value is not None else default


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
    # create_app adds the pool, autocommit reads and the server-side timeouts for PostgreSQL
    # (engine_options, api/connections.py).
    SQLALCHEMY_ENGINE_OPTIONS = {"hide_parameters": True}
    # Connections per worker process: a request holds one at a time, so GUNICORN_THREADS of them,
    # plus a little overflow. See the README for sizing against max_connections.
    DB_POOL_SIZE = env_int("DB_POOL_SIZE", 4)
    DB_MAX_OVERFLOW = env_int("DB_MAX_OVERFLOW", 2)
    # Seconds a request waits for a free connection before it is answered 503 with Retry-After.
    DB_POOL_TIMEOUT = env_float("DB_POOL_TIMEOUT", 5.0)
    DB_POOL_RECYCLE = env_int("DB_POOL_RECYCLE", 1800)
    DB_CONNECT_TIMEOUT = env_int("DB_CONNECT_TIMEOUT", 5)
    # A pooled connection idle for longer is pinged before a request gets it (api/connections.py).
    DB_PING_AFTER_IDLE_SECONDS = env_float("DB_PING_AFTER_IDLE_SECONDS", 5.0)
    # PostgreSQL cancels a statement after this long (0: never), so a slow query cannot hold a
    # worker; the request is answered 503 with Retry-After.
    DB_STATEMENT_TIMEOUT_MS = env_int("DB_STATEMENT_TIMEOUT_MS", 10000)
    DB_LOCK_TIMEOUT_MS = env_int("DB_LOCK_TIMEOUT_MS", 5000)
    DB_IDLE_IN_TRANSACTION_TIMEOUT_MS = env_int("DB_IDLE_IN_TRANSACTION_TIMEOUT_MS", 0)

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

    # key_id:key pairs, newest first (api/encryption.py); production refuses to start without one.
    DATA_ENCRYPTION_KEYS = env_str("DATA_ENCRYPTION_KEYS")
    DATA_ENCRYPTION_KEY_FILE: Path | None = None

    MAX_CONTENT_LENGTH = env_int("MAX_CONTENT_LENGTH", 1024 * 1024)

    REDIS_URL = env_str("REDIS_URL")
    # Without Redis, counters live in a SQLite file that every worker process of this instance
    # shares (api/ratelimit_storage.py): per-worker memory would multiply every limit. With Redis,
    # every instance shares its counters, and while Redis does not answer each instance counts in
    # that file again (limits then hold per instance), trying Redis every few seconds.
    RATELIMIT_FILE = env_str("RATELIMIT_FILE", str(BASE_DIR / "instance" / "ratelimits.sqlite"))
    RATELIMIT_FILE_URI = f"sqlite-file://{RATELIMIT_FILE}"
    RATELIMIT_STORAGE_URI = env_str(
        "RATELIMIT_STORAGE_URI", "redis-failover://" if REDIS_URL else RATELIMIT_FILE_URI
    )
    RATELIMIT_STORAGE_OPTIONS = (
        {
            "primary": REDIS_URL,
            "fallback": RATELIMIT_FILE_URI,
            "retry_seconds": env_float("RATELIMIT_REDIS_RETRY_SECONDS", 5.0),
        }
        if RATELIMIT_STORAGE_URI == "redis-failover://"
        else {}
    )
    RATELIMIT_HEADERS_ENABLED = True
    # The last resort, if the counter file itself fails: count in each worker process's memory
    # until it works again rather than fail every request (a limit then holds per worker).
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
        from api.encryption import HOW_TO_MAKE_A_KEY, Keyring, KeyringError

        if not cls.DATA_ENCRYPTION_KEYS:
            raise RuntimeError(
                "DATA_ENCRYPTION_KEYS must be set: comma-separated key_id:key pairs, newest first, each "
                f"key 32 random bytes in base64url; {HOW_TO_MAKE_A_KEY}"
            )
        try:
            Keyring.parse(cls.DATA_ENCRYPTION_KEYS)
        except KeyringError as error:
            raise RuntimeError(str(error)) from None


class DevelopmentConfig(Config):
    APP_ENV = "development"
    # For `make run` on a developer's machine only; ProductionConfig never falls back to it.
    JWT_SECRET_KEY = env_str("JWT_SECRET_KEY", "development-only-secret-do-not-deploy-0123456789")
    # Without DATA_ENCRYPTION_KEYS, `make run` makes a key once and keeps it here (mode 0600).
    DATA_ENCRYPTION_KEY_FILE = BASE_DIR / "instance" / "data-encryption-keys"
    LOG_FORMAT = env_str("LOG_FORMAT", "text").lower()


class TestingConfig(Config):
    APP_ENV = "testing"
    TESTING = True
    SQLALCHEMY_DATABASE_URI = database_url(env_str("TEST_DATABASE_URL", "sqlite://"))
    JWT_SECRET_KEY = "testing-secret-key-long-enough-for-every-hmac-algorithm-0123456789"
    DATA_ENCRYPTION_KEYS = "test:dGVzdGluZy1vbmx5LWtleS10aGlydHktdHdvLWJ5dGU"
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST = 1024
    ARGON2_PARALLELISM = 1
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_STORAGE_OPTIONS: dict = {}
    RATELIMIT_DEFAULT = "10000 per minute"
    RATELIMIT_REGISTER_PER_IP = "10000 per hour"
    RATELIMIT_LOGIN_PER_IP = "10000 per minute"
    CORS_ALLOWED_ORIGINS = ["https://therapist.example"]


def engine_options(config):
    """SQLALCHEMY_ENGINE_OPTIONS for `config` (a Flask config or a config class's attributes).

    PostgreSQL gets a sized pool and server-side timeouts set on every connection it opens;
    SQLite keeps SQLAlchemy's defaults (one file, no server to protect).
    """
    options = dict(config["SQLALCHEMY_ENGINE_OPTIONS"])
    if not config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        return options
    settings = {
        "statement_timeout": config["DB_STATEMENT_TIMEOUT_MS"],
        "lock_timeout": config["DB_LOCK_TIMEOUT_MS"],
        "idle_in_transaction_session_timeout": config["DB_IDLE_IN_TRANSACTION_TIMEOUT_MS"],
    }
    connect_args = dict(options.get("connect_args", {}))
    connect_args.setdefault("connect_timeout", config["DB_CONNECT_TIMEOUT"])
    # A timeout of 0 is not sent: the server's own setting (the role's, the database's) applies.
    # With every one 0 no startup options go out at all, as a PgBouncer in transaction mode needs.
    sent = {name: int(value) for name, value in settings.items() if int(value)}
    if sent:
        connect_args.setdefault("options", " ".join(f"-c {name}={value}" for name, value in sent.items()))
    options.update(
        # Reads run outside a transaction; api/connections.py sends BEGIN before the first write.
        isolation_level="AUTOCOMMIT",
        pool_size=config["DB_POOL_SIZE"],
        max_overflow=config["DB_MAX_OVERFLOW"],
        pool_timeout=config["DB_POOL_TIMEOUT"],
        pool_recycle=config["DB_POOL_RECYCLE"],
        connect_args=connect_args,
    )
    return options


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
