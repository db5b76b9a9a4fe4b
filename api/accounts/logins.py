"""Logins: sign-in, refresh-token rotation with reuse detection, sign-out, revocation."""

from datetime import timedelta
from typing import cast

from flask import current_app
from sqlalchemy import CursorResult, select, update

from api.accounts.models import RefreshToken, TokenFamily, User
from api.accounts.passwords import passwords
from api.accounts.tokens import token_pair
from api.errors import Unauthorized
from api.extensions import db
from api.models import new_id, utcnow
from api.records import hold_account


class InvalidCredentials(Unauthorized):
    def __init__(self):
        # One message for an unknown e-mail and a wrong password, so neither reveals an account.
        super().__init__(
            "The e-mail address or password is not correct.", error=None, slug="invalid-credentials"
        )


class RefreshTokenReused(Unauthorized):
    keep_writes = True  # the revoked login stays revoked

    def __init__(self):
        super().__init__(
            "This refresh token was already used, so this login has been signed out; sign in again.",
            slug="refresh-token-reused",
        )


def _new_refresh_token(*, family_id, now):
    return RefreshToken(
        jti=new_id(),
        family_id=family_id,
        issued_at=now,
        expires_at=now + current_app.config["JWT_REFRESH_TOKEN_EXPIRES"],
    )


def log_in(*, email, password):
    """Check the password and open a new token family; returns a fresh token pair."""
    user = db.session.execute(select(User).where(User.email == email.strip().lower())).scalar_one_or_none()
    if user is None:
        passwords().spend_equal_time(password)
        raise InvalidCredentials()
    if not passwords().verify(user.password_hash, password):
        raise InvalidCredentials()
    if passwords().needs_rehash(user.password_hash):
        # Upgrade the hash unless another sign-in has just done so (then keep theirs).
        db.session.execute(
            update(User)
            .where(User.id == user.id, User.password_hash == user.password_hash)
            .values(password_hash=passwords().hash(password), version=User.version + 1)
            .execution_options(synchronize_session=False)
        )
    now = utcnow()
    family = TokenFamily(id=new_id(), user_id=user.id, created_at=now)
    refresh_token = _new_refresh_token(family_id=family.id, now=now)
    db.session.add(family)
    db.session.flush()  # the family row must exist before its first refresh token
    db.session.add(refresh_token)
    db.session.flush()
    return token_pair(user_id=user.id, refresh_token=refresh_token, fresh=True)


def rotate_refresh_token(*, user_id, family_id, jti):
    """Exchange a refresh token for a new pair; each refresh token works once.

    The claim is one conditional UPDATE, so of two concurrent requests with the same token
    exactly one wins (PostgreSQL row lock, SQLite database lock). A repeat within the grace
    window, while the winner's child is still unused, gets that same child back: a phone that
    lost the response retries safely. Any other repeat is reuse: the whole family is revoked.
    The account is held first (records.hold_account), so an erasure never deadlocks with this.
    """
    if not hold_account(user_id):
        raise Unauthorized("The token has been revoked; sign in again.", slug="token-revoked")  # erased
    now = utcnow()
    claim = db.session.execute(
        update(RefreshToken)
        .where(RefreshToken.jti == jti, RefreshToken.family_id == family_id, RefreshToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    claimed = cast(CursorResult, claim).rowcount
    if claimed == 1:
        child = _new_refresh_token(family_id=family_id, now=now)
        db.session.add(child)
        db.session.flush()
        db.session.execute(
            update(RefreshToken)
            .where(RefreshToken.jti == jti)
            .values(replaced_by=child.jti)
            .execution_options(synchronize_session=False)
        )
        return token_pair(user_id=user_id, refresh_token=child, fresh=False)

    used = db.session.get(RefreshToken, jti, populate_existing=True)
    if used is not None and used.family_id == family_id and used.replaced_by is not None:
        grace = timedelta(seconds=current_app.config["REFRESH_REUSE_GRACE_SECONDS"])
        child = db.session.get(RefreshToken, used.replaced_by, populate_existing=True)
        if now - used.used_at <= grace and child is not None and child.used_at is None:
            return token_pair(user_id=user_id, refresh_token=child, fresh=False)
    revoke_family(family_id=family_id, reason="refresh_reuse")
    raise RefreshTokenReused()


def revoke_family(*, family_id, reason):
    db.session.execute(
        update(TokenFamily)
        .where(TokenFamily.id == family_id, TokenFamily.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
        .execution_options(synchronize_session=False)
    )


def revoke_families(*, user_id, reason, keep_family_id=None):
    condition = [TokenFamily.user_id == user_id, TokenFamily.revoked_at.is_(None)]
    if keep_family_id is not None:
        condition.append(TokenFamily.id != keep_family_id)
    db.session.execute(
        update(TokenFamily)
        .where(*condition)
        .values(revoked_at=utcnow(), revoked_reason=reason)
        .execution_options(synchronize_session=False)
    )


def log_out(*, family_id):
    """End one login: its access and refresh tokens stop working at once."""
    revoke_family(family_id=family_id, reason="logout")
