"""Account rules: registration, profile edits, password change and erasure."""

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from api.accounts import logins
from api.accounts.models import User
from api.accounts.passwords import passwords
from api.accounts.schemas import UserSchema
from api.errors import Conflict, Problem
from api.extensions import db
from api.records import SyncClock, flush_versioned, hold_account
from api.resources import registered_kinds


class WrongPassword(Problem):
    status = 403
    slug = "wrong-password"
    title = "Wrong password"

    def __init__(self):
        super().__init__("The password is not correct.")


EMAIL_TAKEN = "An account with this e-mail address already exists."


def register(*, email, password, display_name, role, timezone, country):
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(EMAIL_TAKEN)
    user = User(
        email=email,
        password_hash=passwords().hash(password),
        display_name=display_name,
        role=role,
        timezone=timezone,
        country=country,
    )
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError:
        raise Conflict(EMAIL_TAKEN) from None
    db.session.add(SyncClock(user_id=user.id, last_seq=0))
    try:
        db.session.flush()
    except IntegrityError:
        raise Conflict(EMAIL_TAKEN) from None
    return user


def update_profile(*, user, changes):
    for name, value in changes.items():
        setattr(user, name, value)
    return flush_versioned(user, UserSchema().dump)


def check_password(*, user, password):
    if not passwords().verify(user.password_hash, password):
        raise WrongPassword()


class AccountChangedMeanwhile(Conflict):
    def __init__(self):
        super().__init__(
            "Your account changed at the same moment (on another device?); read it again and retry."
        )


def change_password(*, user, family_id, current_password, new_password):
    """Set a new password and sign out every other login; this one stays signed in."""
    check_password(user=user, password=current_password)
    try:
        user.password_hash = passwords().hash(new_password)
        logins.revoke_families(user_id=user.id, reason="password_change", keep_family_id=family_id)
        db.session.flush()
    except StaleDataError:
        # Another request changed or erased the account between reading and writing it.
        raise AccountChangedMeanwhile() from None


def erase_account(*, user, password):
    """Delete the account; the database cascades to every row it owns.

    First every journal kind forgets the person where other people's records name them (a
    therapist's acknowledgements). Erasing an account that another request erased a moment ago
    succeeds: it is gone.
    """
    check_password(user=user, password=password)
    user_id = user.id
    # Held first, as every write for this account holds it first: they never deadlock, and
    # the erasure sees all that committed before it (api/records.py, hold_account).
    if not hold_account(user_id):
        return  # erased a moment ago by another request
    try:
        for kind in registered_kinds():
            if kind.forget_person is not None:
                kind.forget_person(user_id)
        db.session.delete(user)
        db.session.flush()
    except StaleDataError:
        db.session.rollback()
        if db.session.get(User, user_id) is not None:
            raise AccountChangedMeanwhile() from None
