"""Idempotency-Key on creating POSTs: a retried create replays the first answer, never makes two."""

import hashlib
import json
import re
import uuid
from datetime import datetime, timedelta
from functools import wraps

from flask import current_app, request
from flask_jwt_extended import current_user
from sqlalchemy import ForeignKey, String, Text, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from api.body import json_body
from api.errors import Problem, ValidationFailed
from api.extensions import db
from api.models import utcnow
from api.smorest import Blueprint

HEADER = "Idempotency-Key"
KEY_PATTERN = re.compile("[\x20-\x7e]{1,255}")
REPLAY_WINDOW = timedelta(hours=24)
# A claim still in flight after this long belonged to a request that died; a retry takes it over.
ABANDONED_AFTER = timedelta(minutes=2)
REPLAYED_HEADERS = ("Location", "ETag")


class IdempotencyKey(db.Model):
    __tablename__ = "idempotency_keys"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # None while the first request is in flight.
    status_code: Mapped[int | None]
    response_body: Mapped[str | None] = mapped_column(Text)
    response_headers: Mapped[str | None] = mapped_column(Text)


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


def fingerprint_request():
    """Method, path and body; JSON is canonicalised so a retry may order its keys differently."""
    body = json.dumps(json_body(), sort_keys=True, separators=(",", ":")).encode()
    digest = hashlib.sha256(f"{request.method} {request.path}\n".encode())
    digest.update(body)
    return digest.hexdigest()


def _claim(user_id, key, fingerprint):
    """Insert the in-flight claim, or return the row that already holds this key."""
    now = utcnow()
    existing = db.session.get(IdempotencyKey, (user_id, key), populate_existing=True)
    if existing is not None:
        expired = existing.created_at < now - REPLAY_WINDOW
        abandoned = existing.status_code is None and existing.created_at < now - ABANDONED_AFTER
        if not (expired or abandoned):
            return existing
        db.session.delete(existing)
        db.session.flush()
    db.session.add(IdempotencyKey(user_id=user_id, key=key, fingerprint=fingerprint, created_at=now))
    try:
        db.session.commit()
    except IntegrityError:
        # Another request with the same key claimed it first.
        db.session.rollback()
        return db.session.get(IdempotencyKey, (user_id, key), populate_existing=True)
    return None


def _release(user_id, key):
    db.session.rollback()
    db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key))
    db.session.commit()


def _store(user_id, key, response):
    claim = db.session.execute(
        select(IdempotencyKey).where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
    ).scalar_one()
    claim.status_code = response.status_code
    claim.response_body = response.get_data(as_text=True)
    claim.response_headers = json.dumps({name: response.headers[name] for name in REPLAYED_HEADERS if name in response.headers})
    db.session.commit()


def _replay(claim):
    response = current_app.response_class(claim.response_body, status=claim.status_code, mimetype="application/json")
    for name, value in json.loads(claim.response_headers or "{}").items():
        response.headers[name] = value
    response.headers["Idempotent-Replayed"] = "true"
    return response


def idempotent(func):
    """Honour Idempotency-Key (API.md §1). Goes below auth_required and above arguments/response."""

    @wraps(func)
    def wrapper(*args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return func(*args, **kwargs)
        if not KEY_PATTERN.fullmatch(key):
            raise ValidationFailed(HEADER, "Must be 1 to 255 printable ASCII characters.")
        user_id = current_user.id
        fingerprint = fingerprint_request()
        claim = _claim(user_id, key, fingerprint)
        if claim is not None:
            if claim.fingerprint != fingerprint:
                raise KeyReusedWithAnotherBody()
            if claim.status_code is None:
                raise RequestInFlight()
            return _replay(claim)
        try:
            response = current_app.make_response(func(*args, **kwargs))
        except BaseException:
            _release(user_id, key)
            raise
        if 200 <= response.status_code < 300:
            _store(user_id, key, response)
        else:
            _release(user_id, key)
        return response

    return Blueprint.doc(
        parameters=[
            {
                "name": HEADER,
                "in": "header",
                "required": False,
                "description": "1-255 characters, unique per create; a retry within 24 h with the same body "
                "replays the first response (`Idempotent-Replayed: true`). Same key, other body: 422; "
                "first request still running: 409.",
                "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x20-\\x7E]+$"},
            }
        ],
        responses={"409": "CONFLICT"},
    )(wrapper)
