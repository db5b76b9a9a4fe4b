"""The application factory: binds extensions, builds the Api, registers every blueprint."""

import re
import sqlite3
import uuid
from pathlib import Path

from flask import Flask, g, request
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import UUIDConverter

from api import connections, encryption, logs, ratelimit, security_headers, transactions
from api.accounts import passwords
from api.accounts.routes import auth, me
from api.audit.routes import blp as access_log
from api.care_team.routes import care_team, invitations
from api.demo import seed_demo
from api.errors import register_error_handlers
from api.export.routes import blp as export
from api.extensions import cors, db, jwt, migrate
from api.health.routes import blp as health
from api.idempotency import purge_expired_answers
from api.insights.routes import blp as insights
from api.key_rotation import rotate_keys
from api.kinds import KINDS
from api.models import render_migration_type
from api.patients.routes import blp as patients
from api.plans.routes import blp as plans
from api.reference.routes import blp as reference
from api.safety.routes import blp as safety
from api.smorest import Api
from api.sync.routes import blp as sync
from config import BASE_DIR, config_from_env, engine_options

REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,128}")

# Headers a browser client may read (CORS); mobile apps see every header anyway.
EXPOSED_HEADERS = [
    "ETag",
    "Location",
    "Link",
    "Retry-After",
    "X-Request-ID",
    "Idempotent-Replayed",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
]
ALLOWED_REQUEST_HEADERS = [
    "Authorization",
    "Content-Type",
    "If-Match",
    "If-None-Match",
    "Idempotency-Key",
    "X-Request-ID",
]

API_DESCRIPTION = """\
The integration journal of people in ketamine-assisted and other psychedelic-assisted or
psychiatric therapy: what their apps record, and what they choose to share with their therapists.

* **Auth**: `Authorization: Bearer <access token>` from `POST /v1/auth/login`; access tokens live
  15 minutes, refresh tokens rotate on every use (`POST /v1/auth/refresh`).
* **Errors** are RFC 9457 `application/problem+json`; switch on `type`, show `detail`;
  422 adds `errors` per field.
* Every response carries `X-Request-ID`; authenticated responses are `Cache-Control: no-store`.
"""


def blueprints():
    """Every blueprint, in the order the docs list them; the journal kinds come from api.kinds."""
    return [
        health,
        auth,
        me,
        access_log,
        export,
        *(kind.blueprint for kind in KINDS),
        plans,
        sync,
        insights,
        invitations,
        care_team,
        patients,
        safety,
        reference,
    ]


def create_app(config_class=None):
    config_class = config_class or config_from_env()
    config_class.validate()

    app = Flask(__name__)
    app.config.from_object(config_class)
    app.config.setdefault(
        "API_SPEC_OPTIONS",
        {
            "info": {
                "description": API_DESCRIPTION,
                "contact": {"name": "Integration Journal API team", "email": "api@integration-journal.org"},
                "license": {"name": "Proprietary", "identifier": "LicenseRef-Proprietary"},
            },
            "security": [{"bearerAuth": []}],
            "servers": [
                {
                    "url": "/",
                    "description": "The server that serves this document: local (make run), staging "
                    "or production alike.",
                    "x-internal": False,
                }
            ],
        },
    )
    if app.config["PROXY_FIX_X_FOR"]:
        hops = app.config["PROXY_FIX_X_FOR"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]

    _prepare_sqlite_directory(app.config["SQLALCHEMY_DATABASE_URI"])
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(app.config)
    db.init_app(app)
    with app.app_context():
        connections.init_app(db.engine, ping_after_idle=app.config["DB_PING_AFTER_IDLE_SECONDS"])
    encryption.init_app(app)
    migrate.init_app(
        app,
        db,
        directory=str(BASE_DIR / "migrations"),
        render_as_batch=True,  # SQLite can only ALTER through table copies
        render_item=render_migration_type,
    )
    jwt.init_app(app)
    # First, so every later hook (the rate limits' among them) runs with the request's id.
    _register_request_hooks(app)
    if app.config["CORS_ALLOWED_ORIGINS"]:
        cors.init_app(
            app,
            origins=app.config["CORS_ALLOWED_ORIGINS"],
            expose_headers=EXPOSED_HEADERS,
            allow_headers=ALLOWED_REQUEST_HEADERS,
            max_age=600,
        )
    passwords.init_app(app)

    api = Api(app)
    api.register_converter(
        UUIDConverter, lambda converter: {"type": "string", "format": "uuid", "maxLength": 36}
    )
    api.spec.components.security_scheme(
        "bearerAuth",
        {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "Access token from POST /v1/auth/login (HS256 JWT, handled per RFC8725: "
            "fixed algorithm, issuer and audience checked, 15-minute lifetime, revocable).",
        },
    )
    app.extensions["journal_kinds"] = KINDS
    api.spec.components.security_scheme(
        "refreshToken",
        {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "The refresh token of a token pair, for POST /v1/auth/refresh only (HS256 "
            "JWT, handled per RFC8725 like the access token: 30-day lifetime, single use).",
        },
    )
    for blueprint in blueprints():
        api.register_blueprint(blueprint)
    api.finish_spec()
    transactions.init_app(app)
    ratelimit.init_app(app)

    register_error_handlers(app)
    security_headers.init_app(app)
    logs.init_app(app)

    app.cli.add_command(seed_demo)
    app.cli.add_command(purge_expired_answers)
    app.cli.add_command(rotate_keys)
    return app


def _prepare_sqlite_directory(uri):
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)


@event.listens_for(Engine, "connect")
def _configure_sqlite(dbapi_connection, connection_record):
    """SQLite: enforce foreign keys (off by default), use WAL so readers never block writers, and
    zero what is deleted or overwritten (secure_delete)."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        # What a write replaces or deletes is zeroed in the file, not left in free pages.
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()


def _register_request_hooks(app):
    @app.before_request
    def assign_request_id():
        """The server's own id goes into audit events and logs; a client's X-Request-ID is
        echoed and logged beside it (it matches REQUEST_ID_PATTERN, so it cannot forge a line),
        never stored as ours."""
        logs.request_started()
        g.request_id = uuid.uuid4().hex
        request.environ["journal.request_id"] = g.request_id  # for gunicorn's access log, if on
        given = request.headers.get("X-Request-ID", "")
        g.client_request_id = given if REQUEST_ID_PATTERN.fullmatch(given) else None

    @app.after_request
    def common_headers(response):
        response.headers["X-Request-ID"] = (
            g.get("client_request_id") or g.get("request_id") or uuid.uuid4().hex
        )
        response.headers.setdefault("Cache-Control", "no-store")
        g.response_status = response.status_code
        if response.is_streamed:
            logs.request_line_after_body(response)
        return response

    @app.teardown_request
    def log_request(error):
        """The request's one log line, once it is over (a streamed body: once it is sent)."""
        if not logs.request_line_deferred():
            logs.request_finished(500 if error is not None else g.get("response_status", 500))
