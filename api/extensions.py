"""Flask extensions, created unbound here and bound to an app in create_app (rate limits:
api/ratelimit.py)."""

import logging
from typing import TYPE_CHECKING, Any

import click
from flask_cors import CORS
from flask_jwt_extended import JWTManager
from flask_jwt_extended.config import config
from flask_jwt_extended.default_callbacks import default_decode_key_callback
from flask_jwt_extended.tokens import _decode_jwt
from flask_sqlalchemy import SQLAlchemy
from jwt import ExpiredSignatureError, get_unverified_header

from api.models import Base

db = SQLAlchemy(model_class=Base)

# The base class of every table: Flask-SQLAlchemy's db.Model, which type checkers know as Base.
if TYPE_CHECKING:
    Model = Base
else:
    Model = db.Model


class DeferredMigrate:
    """Flask-Migrate, imported and bound to an app the first time its migrations are used.

    Importing flask_migrate imports alembic, and with it mako and pygments: about 9 MB in every
    gunicorn worker, for what only `flask db` and migrations run in process (the tests) use.
    `init_app` puts two stand-ins where Flask-Migrate's own `init_app` puts its objects:
    `app.extensions["migrate"]` and the `db` command group. The first use of either (reading an
    attribute of the one; running the other, or asking for its help) binds Flask-Migrate with the
    same arguments, which puts its own objects in their places, and goes on with those.
    """

    def init_app(self, app, db, **options):
        app.extensions["migrate"] = MigrateConfigStandIn(app, db, options)
        app.cli.add_command(DeferredCommand("db", lambda: _migrate_group(app), help=DB_GROUP_HELP))


# flask_migrate.cli.db's help line, which `flask --help` lists before the group is imported.
DB_GROUP_HELP = "Perform database migrations."


class MigrateConfigStandIn:
    """app.extensions["migrate"] until Flask-Migrate is bound; then a view of its config."""

    def __init__(self, app, db, options):
        self.app, self.db, self.options = app, db, options

    def __getattr__(self, name):
        # Only names the instance lacks get here: migrate, directory, configure_args, metadata.
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(_bound_migrate_config(self.app), name)


def _bound_migrate_config(app):
    """Flask-Migrate's config of `app`, binding Flask-Migrate first if the stand-in is there."""
    config = app.extensions["migrate"]
    if isinstance(config, MigrateConfigStandIn):
        _import_flask_migrate().Migrate().init_app(app, config.db, **config.options)
        config = app.extensions["migrate"]
    return config


def _migrate_group(app):
    _bound_migrate_config(app)
    return _import_flask_migrate().cli.db


def _import_flask_migrate():
    """flask_migrate and its cli, without the INFO lines alembic logs as it sets up its built-in
    plugins: imported before the app set its logging up, as it used to be, they went nowhere."""
    alembic_log = logging.getLogger("alembic")
    level = alembic_log.level
    alembic_log.setLevel(logging.WARNING)
    try:
        import flask_migrate
        import flask_migrate.cli
    finally:
        alembic_log.setLevel(level)
    return flask_migrate


class DeferredCommand(click.Command):
    """A command imported when it is run or its help is asked for: `load()` returns it.

    Until then `flask --help` lists it by the name and help given here. Click parses a command's
    arguments in the context that its `make_context` returns and then runs that context's
    command, so the loaded command parses and runs exactly as if it had been registered itself.
    """

    def __init__(self, name, load, **kwargs):
        super().__init__(name, **kwargs)
        self.load = load

    def make_context(self, info_name, args, parent=None, **extra: Any) -> click.Context:
        return self.load().make_context(info_name, args, parent=parent, **extra)


migrate = DeferredMigrate()


class OneDecodeJWTManager(JWTManager):
    """flask-jwt-extended, reading each token once.

    The library parses a token without verifying it first, so that a key loader may choose the
    key by its claims, then parses and verifies it. The API has one key (JWT_SECRET_KEY) and no
    key loader, so the token is verified in its one parse: the same checks (signature, algorithm,
    expiry, issuer, audience, the identity claim) and the same defaults for absent claims, half the
    work on every authenticated request. An expired token still carries its header and claims to
    the expired-token handler, as the library does.
    """

    def _decode_jwt_from_config(self, encoded_token, csrf_value=None, allow_expired=False):
        if self._decode_key_callback is not default_decode_key_callback:
            # A key loader chooses the key by the claims: the library's two parses, as it has them.
            return super()._decode_jwt_from_config(encoded_token, csrf_value, allow_expired)
        options = {
            "algorithms": config.decode_algorithms,
            "audience": config.decode_audience,
            "csrf_value": csrf_value,
            "encoded_token": encoded_token,
            "identity_claim_key": config.identity_claim_key,
            "issuer": config.decode_issuer,
            "leeway": config.leeway,
            "secret": config.decode_key,
            "verify_aud": config.decode_audience is not None,
            "verify_sub": config.verify_sub,
        }
        try:
            return _decode_jwt(**options, allow_expired=allow_expired)
        except ExpiredSignatureError as expired:
            expired.jwt_header = get_unverified_header(encoded_token)  # type: ignore[attr-defined]
            expired.jwt_data = _decode_jwt(**options, allow_expired=True)  # type: ignore[attr-defined]
            raise


jwt = OneDecodeJWTManager()
cors = CORS()
