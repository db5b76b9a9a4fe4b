"""The one place that shapes every error response as RFC 9457 application/problem+json."""

from http import HTTPStatus

from flask import current_app, json
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from api import logs
from api.encryption import UnknownDataKey
from api.extensions import db

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://integration-journal.org/problems/"

# One stable `type` per kind of problem; clients switch on it, never on `detail`.
SLUG_BY_STATUS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    412: "precondition-failed",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    428: "precondition-required",
    429: "rate-limited",
    500: "internal-error",
    503: "service-unavailable",
}

DEFAULT_DETAIL = {
    404: "No such resource.",
    422: "The request has invalid fields; see `errors`.",
    500: "The server failed to handle this request. It has been logged; quote the X-Request-ID.",
}


def problem_type(slug):
    return PROBLEM_TYPE_BASE + slug


# A 422 lists at most this many messages (and counts them all), so a body of a hundred thousand
# bad fields costs a small answer, not a large one.
MAX_LISTED_ERRORS = 20


def cap_errors(errors, limit=MAX_LISTED_ERRORS):
    """(the first `limit` messages, in the same nesting, and the count of all of them)."""
    total = 0

    def take(node):
        nonlocal total
        if isinstance(node, dict):
            kept = {}
            for key, child in node.items():
                child = take(child)
                if child:
                    kept[key] = child
            return kept
        messages = node if isinstance(node, list) else [node]
        room = max(limit - total, 0)
        total += len(messages)
        return messages[:room]

    return take(errors), total


def problem_response(status, detail=None, *, slug=None, title=None, errors=None, headers=None, extra=None):
    """Build a problem+json response; every error leaving the API goes through here."""
    body = {
        "type": problem_type(slug or SLUG_BY_STATUS.get(status, f"http-{status}")),
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail or DEFAULT_DETAIL.get(status) or HTTPStatus(status).description,
    }
    if errors is not None:
        body["errors"], count = cap_errors(errors)
        if count > MAX_LISTED_ERRORS:
            body["error_count"] = count
            body["detail"] = (
                f"{body['detail']} Only the first {MAX_LISTED_ERRORS} of {count} problems are listed."
            )
    if extra:
        body.update(extra)
    response = current_app.response_class(json.dumps(body), status=status, mimetype=PROBLEM_MEDIA_TYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


class Problem(Exception):
    """A domain error that becomes a problem response; raise a subclass from services or routes.

    The request's writes are rolled back (api/transactions.py), unless the refusal is itself
    something to record: a subclass with `keep_writes = True` commits what the request wrote
    before refusing (the audit event of a denied read, a login revoked for token reuse).
    """

    status = 400
    slug: str | None = None
    title: str | None = None
    keep_writes = False

    def __init__(self, detail=None, *, errors=None, headers=None, extra=None):
        super().__init__(detail or self.title or HTTPStatus(self.status).phrase)
        self.detail = detail
        self.errors = errors
        self.headers = headers
        self.extra = extra

    def to_response(self):
        return problem_response(
            self.status,
            self.detail,
            slug=self.slug,
            title=self.title,
            errors=self.errors,
            headers=self.headers,
            extra=self.extra,
        )


def bearer_challenge(error=None):
    """RFC 6750 challenge; `error` is left out when no token was presented at all."""
    challenge = 'Bearer realm="integration-journal"'
    return f'{challenge}, error="{error}"' if error else challenge


class Unauthorized(Problem):
    status = 401

    def __init__(self, detail, *, slug, error="invalid_token"):
        self.slug = slug
        super().__init__(detail, headers={"WWW-Authenticate": bearer_challenge(error)})


class Forbidden(Problem):
    status = 403


class NotFound(Problem):
    status = 404


class NotShared(NotFound):
    """A record the caller may not see: the same 404 as for one that does not exist. Raised after
    the refused attempt's audit event was added, which `keep_writes` commits."""

    keep_writes = True


class Conflict(Problem):
    status = 409


class ValidationFailed(Problem):
    """A 422 with field errors: one field's message, or `errors` nested as marshmallow nests them."""

    status = 422

    def __init__(self, field=None, message=None, *, errors=None):
        super().__init__(errors=errors if errors is not None else {field: [message]})


class PreconditionRequired(Problem):
    status = 428

    def __init__(self):
        super().__init__("This request needs an If-Match header with the record's current ETag.")


class PreconditionFailed(Problem):
    status = 412

    def __init__(self, current):
        super().__init__(
            "The record has changed since that ETag; `current` holds what it is now.",
            extra={"current": current},
        )


def unauthorized_response(detail, *, error=None, slug="unauthorized"):
    return problem_response(401, detail, slug=slug, headers={"WWW-Authenticate": bearer_challenge(error)})


def flatten_webargs_messages(messages):
    """webargs nests errors by location ({"json": {...}, "query": {...}}); clients want fields."""
    errors = {}
    for location_errors in messages.values():
        if isinstance(location_errors, dict):
            errors.update(location_errors)
        else:
            errors.setdefault("_schema", []).extend(location_errors)
    return errors


def http_exception_response(error):
    """Shape werkzeug/flask-smorest/flask-limiter HTTP errors as problems."""
    if error.code is None:
        return error
    data = getattr(error, "data", None) or {}
    headers = {name: value for name, value in error.get_headers() if name.lower() != "content-type"}
    headers.update(data.get("headers") or {})
    errors = data.get("errors")
    if errors is None and "messages" in data:
        errors = flatten_webargs_messages(data["messages"])
    detail = data.get("message")
    if detail is None and error.code not in DEFAULT_DETAIL:
        detail = error.description
    if error.code == 429:
        detail = f"Too many requests ({error.description}); retry after the seconds in Retry-After."
    if error.code == 422 and errors is None:
        errors = {}
    return problem_response(error.code, detail, errors=errors, headers=headers)


def handle_problem(error):
    return error.to_response()


def handle_integrity_error(error):
    db.session.rollback()
    logs.refused_by_database(error, 409)
    return problem_response(409, "The request conflicts with data that already exists.")


def handle_stale_data(error):
    """A versioned row changed between this request's read and its write, and no service turned
    that into a more precise answer (a 412 with the current record)."""
    db.session.rollback()
    logs.refused_by_database(error, 409)
    return problem_response(
        409, "The data changed while this request was writing it; read it again and retry."
    )


# PostgreSQL's deadlock_detected and serialization_failure: this request lost a race with
# another one, and the same request sent again will most likely pass.
LOST_A_RACE = {"40P01", "40001"}


# PostgreSQL's query_canceled (DB_STATEMENT_TIMEOUT_MS passed) and lock_not_available
# (DB_LOCK_TIMEOUT_MS passed waiting for a row another request holds).
TOOK_TOO_LONG = {"57014", "55P03"}


def handle_database_unavailable(error):
    db.session.rollback()
    logs.refused_by_database(error, 503)
    sqlstate = getattr(error.orig, "sqlstate", None)
    if sqlstate in LOST_A_RACE:
        return problem_response(
            503,
            "The request collided with another one at the same moment; retry it.",
            headers={"Retry-After": "1"},
        )
    if sqlstate in TOOK_TOO_LONG:
        return problem_response(
            503,
            "The database took too long over this request and stopped it; retry shortly.",
            headers={"Retry-After": "2"},
        )
    return problem_response(503, "The database is unavailable; retry shortly.", headers={"Retry-After": "5"})


def handle_database_busy(error):
    """Every connection of this worker's pool stayed in use for DB_POOL_TIMEOUT seconds."""
    db.session.rollback()
    logs.refused_by_database(error, 503)
    return problem_response(503, "The server is busy; retry shortly.", headers={"Retry-After": "2"})


def handle_unknown_data_key(error):
    """A value under a data key this instance does not hold: during a key's rollout, one not yet
    restarted with it (README, "Encryption at rest"). A retry may reach one that has it; the
    operator finds the key id in the log."""
    db.session.rollback()
    logs.unexpected_error(error)
    return problem_response(
        503, "This server cannot read this data yet; retry shortly.", headers={"Retry-After": "5"}
    )


def handle_unexpected_error(error):
    if isinstance(error, HTTPException):
        return http_exception_response(error)
    db.session.rollback()
    logs.unexpected_error(error)
    return problem_response(500)


def register_error_handlers(app):
    app.register_error_handler(Problem, handle_problem)
    app.register_error_handler(IntegrityError, handle_integrity_error)
    app.register_error_handler(StaleDataError, handle_stale_data)
    app.register_error_handler(OperationalError, handle_database_unavailable)
    app.register_error_handler(PoolTimeout, handle_database_busy)
    app.register_error_handler(UnknownDataKey, handle_unknown_data_key)
    app.register_error_handler(Exception, handle_unexpected_error)
