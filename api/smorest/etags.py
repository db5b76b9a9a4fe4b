"""Record versions as ETags: If-None-Match gives 304 on reads; If-Match guards every write.

A versioned PATCH, PUT or DELETE must call `require_if_match` before it writes. One that forgets
fails at once (500, its write rolled back by the request's unit of work) instead of overwriting
another device's change: the test suite's every write then finds it.
"""

import re
from functools import wraps

from flask import current_app, g, request

from api.errors import PreconditionFailed, PreconditionRequired, ValidationFailed
from api.smorest.conventions import CHECKS_NOT_MODIFIED, ETAG_PATTERN, NEEDS_IF_MATCH, document_versions

ETAG = re.compile(ETAG_PATTERN)


class IfMatchNotChecked(RuntimeError):
    """A versioned write returned without calling require_if_match: a programming error."""


def versioned(func):
    """An operation on a versioned record: ETag on success, If-None-Match/304 on GET,
    If-Match/412/428 on PATCH and DELETE (which must call require_if_match)."""

    @wraps(func)
    def wrapper(*args, **kwargs):
        _check_etag_form()
        result = func(*args, **kwargs)
        if request.method.lower() in NEEDS_IF_MATCH and not g.get("if_match_checked"):
            raise IfMatchNotChecked(f"{request.endpoint} wrote without require_if_match")
        return result

    return document_versions(wrapper)


def _check_etag_form():
    """A conditional header holds one ETag as this API writes it (`"3"`, or `W/"3"`): anything
    else (empty, `*`, a list, a made-up tag) is a 422, not a condition quietly met or ignored."""
    method = request.method.lower()
    names = ["If-None-Match"] if method in CHECKS_NOT_MODIFIED else []
    names += ["If-Match"] if method in NEEDS_IF_MATCH else []
    for name in names:
        value = request.headers.get(name)
        if value is not None and not ETAG.fullmatch(value):
            raise ValidationFailed(name, 'Not an ETag of this API (for example "3").')


def etag_of(record):
    return f'"{record.version}"'


def etag_headers(record):
    return {"ETag": etag_of(record)}


def not_modified(record):
    """The 304 response when the client's If-None-Match still names this version, else None."""
    return not_modified_version(record.version)


def not_modified_version(version):
    """The 304 response when the client's If-None-Match names `version`, else None."""
    if version is not None and request.if_none_match.contains_weak(str(version)):
        response = current_app.response_class(status=304)
        response.headers["ETag"] = f'"{version}"'
        return response
    return None


def require_if_match(record, schema):
    """Guard a write: 428 without If-Match, 412 (with the current record) when it is stale."""
    g.if_match_checked = True
    if "If-Match" not in request.headers:
        raise PreconditionRequired()
    if not request.if_match.contains(str(record.version)):
        raise PreconditionFailed(current=schema.dump(record))


def item_response(record):
    """A record with its ETag, or 304 when the client's copy is current."""
    return not_modified(record) or (record, etag_headers(record))


def created_response(record, *, location):
    return record, 201, {"Location": location, "ETag": etag_of(record)}


CREATED_HEADERS = {
    "Location": {
        "description": "URL of the created record.",
        "schema": {"type": "string", "format": "uri-reference", "maxLength": 2048},
    },
    "ETag": "ETAG",
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored answer to an earlier request "
        "with the same Idempotency-Key.",
        "schema": {"type": "string", "const": "true"},
    },
}
