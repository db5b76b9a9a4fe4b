"""Minting access/refresh tokens for a family, and the flask-jwt-extended callbacks verifying them."""

import uuid

from flask import current_app, g, request
from flask_jwt_extended import create_access_token, create_refresh_token, get_jwt
from sqlalchemy import bindparam, select

from api.accounts.models import TokenFamily, User
from api.errors import unauthorized_response
from api.extensions import db, jwt


def mint_access_token(*, user_id, family_id, fresh):
    return create_access_token(identity=str(user_id), fresh=fresh, additional_claims={"fam": str(family_id)})


def mint_refresh_token(*, user_id, refresh_token):
    """Encode a stored refresh token; the same row always gives the same claims.

    That is what lets a phone whose refresh response was lost get the very same child back.
    """
    return create_refresh_token(
        identity=str(user_id),
        additional_claims={
            "fam": str(refresh_token.family_id),
            "jti": str(refresh_token.jti),
            "iat": refresh_token.issued_at,
            "nbf": refresh_token.issued_at,
            "exp": refresh_token.expires_at,
        },
    )


def token_pair(*, user_id, refresh_token, fresh):
    expires_in = int(current_app.config["JWT_ACCESS_TOKEN_EXPIRES"].total_seconds())
    return {
        "access_token": mint_access_token(user_id=user_id, family_id=refresh_token.family_id, fresh=fresh),
        "refresh_token": mint_refresh_token(user_id=user_id, refresh_token=refresh_token),
        "token_type": "Bearer",
        "expires_in": expires_in,
    }


def _uuid_claim(payload, name):
    try:
        return uuid.UUID(str(payload[name]))
    except (KeyError, ValueError, TypeError):
        return None


def current_token_ids():
    """(family id, jti) of the verified token of this request, as UUIDs."""
    claims = get_jwt()
    return _uuid_claim(claims, "fam"), _uuid_claim(claims, "jti")


# The one statement that authenticates a request, built once; its parameters are the token's.
LIVE_LOGIN = (
    select(User)
    .join(TokenFamily, TokenFamily.user_id == User.id)
    .where(
        TokenFamily.id == bindparam("family_id"),
        User.id == bindparam("user_id"),
        TokenFamily.revoked_at.is_(None),
    )
)


@jwt.token_in_blocklist_loader
def token_is_revoked(jwt_header, jwt_payload):
    """A token is good only with a jti, and while its family is live and belongs to its subject.

    The one query also loads the user, so authenticating a request costs one round trip.
    """
    user_id = _uuid_claim(jwt_payload, "sub")
    family_id = _uuid_claim(jwt_payload, "fam")
    if user_id is None or family_id is None or _uuid_claim(jwt_payload, "jti") is None:
        return True
    user = db.session.execute(LIVE_LOGIN, {"family_id": family_id, "user_id": user_id}).scalar_one_or_none()
    g.authenticated_user = user
    return user is None


@jwt.user_lookup_loader
def load_user(jwt_header, jwt_payload):
    return g.pop("authenticated_user", None)


@jwt.unauthorized_loader
def missing_token(reason):
    kind = "refresh" if request.endpoint == "auth.refresh" else "access"
    return unauthorized_response(f"This request needs a token: send `Authorization: Bearer <{kind} token>`.")


@jwt.invalid_token_loader
def invalid_token(reason):
    return unauthorized_response("The token is invalid.", error="invalid_token", slug="invalid-token")


@jwt.expired_token_loader
def expired_token(jwt_header, jwt_payload):
    return unauthorized_response(
        "The token has expired; refresh it or sign in again.", error="invalid_token", slug="token-expired"
    )


@jwt.revoked_token_loader
def revoked_token(jwt_header, jwt_payload):
    return unauthorized_response(
        "The token has been revoked; sign in again.", error="invalid_token", slug="token-revoked"
    )


@jwt.user_lookup_error_loader
def unknown_user(jwt_header, jwt_payload):
    return revoked_token(jwt_header, jwt_payload)


@jwt.token_verification_failed_loader
def failed_verification(jwt_header, jwt_payload):
    return invalid_token("claims verification failed")


@jwt.needs_fresh_token_loader
def needs_fresh_token(jwt_header, jwt_payload):
    return unauthorized_response(
        "This action needs a token from a password sign-in, not a refreshed one; sign in again.",
        error="insufficient_user_authentication",
        slug="fresh-login-required",
    )
