"""Flask extensions, created unbound here and bound to an app in create_app (rate limits:
api/ratelimit.py)."""

from typing import TYPE_CHECKING

from flask_cors import CORS
from flask_jwt_extended import JWTManager
from flask_jwt_extended.config import config
from flask_jwt_extended.tokens import _decode_jwt
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from jwt import ExpiredSignatureError, get_unverified_header

from api.models import Base

db = SQLAlchemy(model_class=Base)

# The base class of every table: Flask-SQLAlchemy's db.Model, which type checkers know as Base.
if TYPE_CHECKING:
    Model = Base
else:
    Model = db.Model
migrate = Migrate()


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
