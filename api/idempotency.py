"""Idempotency-Key on creating POSTs: a retried create replays the first answer, never makes two.

The stored answer is added to the same transaction as the record it answers for (see
api/transactions.py), so a key is either unused or answered: a request that dies before its
commit leaves nothing behind, and its retry simply runs. The answer holds the status and the
record's id, never the body: a replay shows the record as it is now, and no journal text is
kept beside it. Answers are kept 24 hours.
"""

import hashlib
import json
import re
import threading
import uuid
from datetime import datetime, timedelta
from functools import wraps
from typing import cast

import click
from flask import current_app, request
from flask.cli import with_appcontext
from flask_jwt_extended import current_user
from sqlalchemy import CursorResult, ForeignKey, String, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from api.body import json_body
from api.encryption import keyring
from api.errors import NotFound, NotShared, Problem, ValidationFailed
from api.extensions import Model, db
from api.models import utcnow
from api.smorest.conventions import document
from api.transactions import unit_of_work

HEADER = "Idempotency-Key"
KEY_PATTERN = re.compile("[\x20-\x7e]{1,255}")
KEY_SPEC_PATTERN = "^[\\x20-\\x7E]+$"
REPLAY_WINDOW = timedelta(hours=24)


class IdempotencyKey(Model):
    """The answer to a create that carried an Idempotency-Key: committed with the record it made."""

    __tablename__ = "idempotency_keys"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    status_code: Mapped[int]
    resource_id: Mapped[uuid.UUID]


class KeyReusedWithAnotherBody(Problem):
    status = 422
    slug = "idempotency-key-reused"

    def __init__(self):
        super().__init__(
            "This Idempotency-Key was used with a different request body; use a new key for a new request.",
            errors={HEADER: ["Already used with a different body."]},
        )


class RequestInFlight(Problem):
    status = 409
    slug = "request-in-progress"

    def __init__(self):
        super().__init__("A request with this Idempotency-Key is still being processed; retry shortly.")


class CreatedRecordGone(Problem):
    status = 410
    slug = "created-record-gone"

    def __init__(self):
        super().__init__(
            "The first request with this Idempotency-Key created the record, and it has since been deleted."
        )


def request_fingerprinted():
    """Method, path and body; JSON is canonicalised so a retry may order its keys differently."""
    body = json.dumps(json_body(), sort_keys=True, separators=(",", ":")).encode()
    return f"{request.method} {request.path}\n".encode() + body


def same_request(stored, message):
    """Whether a stored fingerprint is this request's: under any configured data key, or the
    plain SHA-256 that answers stored before fingerprints were keyed have (kept 24 hours)."""
    return (
        stored in keyring().fingerprints_of_any_key(message) or stored == hashlib.sha256(message).hexdigest()
    )


def requested_key():
    """The request's Idempotency-Key, or None; 422 when it is not 1-255 printable ASCII characters."""
    key = request.headers.get(HEADER)
    if key is not None and not KEY_PATTERN.fullmatch(key):
        raise ValidationFailed(HEADER, "Must be 1 to 255 printable ASCII characters.")
    return key


def expired_answers(*conditions):
    return delete(IdempotencyKey).where(IdempotencyKey.created_at < utcnow() - REPLAY_WINDOW, *conditions)


@click.command("purge-idempotency-keys")
@with_appcontext
def purge_expired_answers():
    """Delete every stored Idempotency-Key answer older than 24 hours (schedule it daily).

    Each keyed create already clears its caller's old answers; this clears those of people who
    have not written since.
    """
    with unit_of_work():
        deleted = cast(CursorResult, db.session.execute(expired_answers())).rowcount
    click.echo(f"Deleted {deleted} answer(s) older than 24 hours.")


def _answer(user_id, key):
    """The stored answer for this key if it is within the replay window, else None."""
    return db.session.execute(
        select(IdempotencyKey).where(
            IdempotencyKey.user_id == user_id,
            IdempotencyKey.key == key,
            IdempotencyKey.created_at >= utcnow() - REPLAY_WINDOW,
        )
    ).scalar_one_or_none()


class KeysHeldHere:
    """The keys this app's requests are creating with right now (SQLite has no advisory locks)."""

    def __init__(self):
        self.keys = set()
        self.lock = threading.Lock()


def _held_here():
    return current_app.extensions.setdefault("idempotency_keys_held", KeysHeldHere())


def _hold(user_id, key):
    """Hold the key while this create runs; False when another request holds it.

    On PostgreSQL an advisory lock, held by the transaction until it ends, on every instance.
    On SQLite a note in this process, let go when the create returns: a second request that
    slips in before the commit queues on the database lock and then finds the answer.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        digest = hashlib.sha256(f"idempotency {user_id} {key}".encode()).digest()
        lock_id = int.from_bytes(digest[:8], "big", signed=True)
        return db.session.execute(select(func.pg_try_advisory_xact_lock(lock_id))).scalar_one()
    held = _held_here()
    with held.lock:
        if (user_id, key) in held.keys:
            return False
        held.keys.add((user_id, key))
        return True


def _let_go(user_id, key):
    held = _held_here()
    with held.lock:
        held.keys.discard((user_id, key))


def _replay(answer, message, replay):
    if not same_request(answer.fingerprint, message):
        raise KeyReusedWithAnotherBody()
    try:
        record, _, headers = replay(answer.resource_id)
    except NotShared:
        raise  # not gone: no longer the caller's to see, the 404 the request gets without a key
    except NotFound:
        raise CreatedRecordGone() from None
    return record, answer.status_code, {**headers, "Idempotent-Replayed": "true"}


def _create_and_answer(func, args, kwargs, *, user_id, key, fingerprint):
    """Run the create and add its answer to the same transaction (flushed: a key taken meanwhile
    shows here, as an IntegrityError)."""
    record, status, headers = func(*args, **kwargs)
    # An answer older than the window no longer counts; clear the caller's old ones (after the
    # create, which took the caller's account first: records.hold_account).
    db.session.execute(expired_answers(IdempotencyKey.user_id == user_id))
    answer = IdempotencyKey(
        user_id=user_id, key=key, fingerprint=fingerprint, status_code=status, resource_id=record.id
    )
    db.session.add(answer)
    db.session.flush()
    return record, status, headers


def idempotent(replay):
    """Honour Idempotency-Key (API.md §1) on a create whose view returns (record, status, headers).

    `replay(record_id)` answers again for a record this key created: the same (record, status,
    headers), built from the record as it is now. Goes right above the view, below
    arguments/response, so a replay is serialised exactly as the first answer was.
    """

    def decorator(func):
        @wraps(func)
        def wrapper(*args, **kwargs):
            key = requested_key()
            if key is None:
                return func(*args, **kwargs)
            user_id, message = current_user.id, request_fingerprinted()
            # Hold the key first and then look for its answer: one lookup, not one before and
            # one after (the request that held the key may have committed just before we took it).
            if not _hold(user_id, key):
                # Another request holds it: a create still running (409), or a replay of an
                # answered one, which is answered again here too.
                answer = _answer(user_id, key)
                if answer is None:
                    raise RequestInFlight()
                return _replay(answer, message, replay)
            try:
                answer = _answer(user_id, key)
                if answer is None:
                    try:
                        return _create_and_answer(
                            func,
                            args,
                            kwargs,
                            user_id=user_id,
                            key=key,
                            fingerprint=keyring().fingerprint(message),
                        )
                    except (IntegrityError, Problem) as failure:
                        if isinstance(failure, Problem) and failure.keep_writes:
                            raise  # what it recorded commits (api/transactions.py)
                        # Did another request with this key commit first? Then this one failed
                        # only for that: the answer exists, its record took the client-chosen id,
                        # or it used up the invitation code. (On SQLite, where writers queue on
                        # the database lock, this is where the second one learns it.)
                        db.session.rollback()
                        answer = _answer(user_id, key)
                        if answer is None:
                            raise
            finally:
                _let_go(user_id, key)
            return _replay(answer, message, replay)

        return document(
            parameters=[
                {
                    "name": HEADER,
                    "in": "header",
                    "required": False,
                    "description": "1-255 printable ASCII characters, unique per create. A retry within 24 h "
                    "with the same body replays the first answer (`Idempotent-Replayed: true`): the same "
                    "status and Location, with the record as it is now (410 if it has since been "
                    "deleted). Same key, other body: 422; first request still running: 409.",
                    "schema": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": 255,
                        "pattern": KEY_SPEC_PATTERN,
                    },
                }
            ],
            responses={"409": "CONFLICT", "410": "GONE"},
        )(wrapper)

    return decorator
