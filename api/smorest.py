"""Project Api/Blueprint classes: problem errors, argument parsing, ETags and spec conventions."""

import http
import re
from functools import wraps

import apispec.ext.marshmallow
import flask_smorest
import marshmallow as ma
from apispec import BasePlugin
from flask import current_app, request
from flask_smorest.utils import prepare_response
from webargs.core import is_json
from webargs.flaskparser import FlaskParser

from api.body import FORBIDDEN_TEXT_MESSAGE, forbidden_text, has_body, json_body, raw_body
from api.errors import (
    PROBLEM_MEDIA_TYPE,
    PreconditionFailed,
    PreconditionRequired,
    Problem,
    ValidationFailed,
    http_exception_response,
)

UUID_MAX_LENGTH = 36
TIMESTAMP_MAX_LENGTH = 40
TEXT_LIMIT = 500


class UnsupportedMediaType(Problem):
    status = 415

    def __init__(self):
        super().__init__("Send the request body as application/json.")


class Parser(FlaskParser):
    """webargs parser: JSON bodies only, read through api.body's limits; unknown fields are
    errors in every location; no query value may hold NUL or a lone surrogate."""

    DEFAULT_UNKNOWN_BY_LOCATION = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "query": ma.RAISE,
        "querystring": ma.RAISE,
    }

    def load_json(self, req, schema):
        if not has_body():
            raise ValidationFailed("_schema", "This request needs a JSON object body.")
        if not is_json(req.mimetype):
            raise UnsupportedMediaType()
        return json_body()

    def load_querystring(self, req, schema):
        errors = {name: [FORBIDDEN_TEXT_MESSAGE] for name, values in req.args.lists() if any(map(forbidden_text, values))}
        if errors:
            raise ValidationFailed(errors=errors)
        return super().load_querystring(req, schema)


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details (documentation only: errors.py builds the bodies)."""

    type = ma.fields.String(
        required=True,
        validate=ma.validate.Length(max=200),
        metadata={"format": "uri", "description": "Stable URI naming the kind of problem."},
    )
    title = ma.fields.String(required=True, validate=ma.validate.Length(max=200))
    status = ma.fields.Integer(required=True, validate=ma.validate.Range(400, 599))
    detail = ma.fields.String(required=True, validate=ma.validate.Length(max=1000))
    errors = ma.fields.Dict(
        metadata={
            "maxProperties": 100,
            "description": "422 only: messages per field. A nested field (an item of a list, a field of an "
            "object) has an object of its own errors, keyed by index or name.",
            "additionalProperties": {
                "oneOf": [
                    {"type": "array", "maxItems": 50, "items": {"type": "string", "maxLength": TEXT_LIMIT}},
                    {"type": "object", "maxProperties": 100},
                ]
            },
        },
    )
    error_count = ma.fields.Integer(
        validate=ma.validate.Range(1, 1000000),
        metadata={
            "description": "422 only, when `errors` lists just the first 20 problems: how many there are in all."
        },
    )
    current = ma.fields.Dict(
        metadata={"description": "412 only: the record as it is now.", "maxProperties": 100},
    )


# Response headers documented on every operation; X-RateLimit-* come from flask-limiter.
COMMON_HEADERS = {
    "X-Request-ID": {
        "description": "Echo of the request's X-Request-ID, or one the server made; quote it in support requests.",
        "schema": {"type": "string", "maxLength": 128},
    },
    "X-RateLimit-Limit": {
        "description": "Requests allowed in the current window.",
        "schema": {"type": "integer", "format": "int32", "minimum": 0, "maximum": 1000000},
    },
    "X-RateLimit-Remaining": {
        "description": "Requests left in the current window.",
        "schema": {"type": "integer", "format": "int32", "minimum": 0, "maximum": 1000000},
    },
    "X-RateLimit-Reset": {
        "description": "Unix time at which the window resets.",
        "schema": {"type": "integer", "format": "int64", "minimum": 0, "maximum": 99999999999},
    },
    "Access-Control-Allow-Origin": {
        "description": "Present when the request's Origin is one of CORS_ALLOWED_ORIGINS.",
        "schema": {"type": "string", "maxLength": 2048},
    },
}
EXTRA_HEADERS_BY_STATUS = {
    "401": {
        "WWW-Authenticate": {
            "description": "RFC 6750 Bearer challenge.",
            "schema": {"type": "string", "maxLength": 500},
        }
    },
    "429": {
        "Retry-After": {
            "description": "Seconds to wait before retrying.",
            "schema": {"type": "integer", "format": "int32", "minimum": 0, "maximum": 86400},
        }
    },
    "503": {
        "Retry-After": {
            "description": "Seconds to wait before retrying.",
            "schema": {"type": "integer", "format": "int32", "minimum": 0, "maximum": 86400},
        }
    },
}


def _with_headers(response, status):
    headers = response.setdefault("headers", {})
    for name in COMMON_HEADERS:
        headers.setdefault(name, name)
    for name in EXTRA_HEADERS_BY_STATUS.get(str(status), {}):
        headers.setdefault(name, name)
    return response


class ConventionsPlugin(BasePlugin):
    """Adds to every operation the errors and headers that the app's shared machinery produces.

    Documented here once so no route can forget them: 401 (unless public), 404 (path with an id),
    400/413/415 (JSON body), 429 (every route is rate limited), 500, and the common headers.
    """

    def init_spec(self, spec):
        for name, header in COMMON_HEADERS.items():
            spec.components.header(name, header, lazy=True)
        for headers in EXTRA_HEADERS_BY_STATUS.values():
            for name, header in headers.items():
                spec.components.header(name, header, lazy=True)

    def response_helper(self, response, **kwargs):
        status = kwargs.get("status")
        return _with_headers(response, status) if status else response

    def operation_helper(self, path=None, operations=None, **kwargs):
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            responses = {str(status): value for status, value in operation.get("responses", {}).items()}
            operation["responses"] = responses
            problems = [429, 500]
            if operation.get("security") != []:
                problems.append(401)
            if "{" in (path or ""):
                problems.append(404)
            if "requestBody" in operation:
                problems.extend([400, 413, 415])
            for status in problems:
                responses.setdefault(str(status), http.HTTPStatus(status).name)
            for status, response in responses.items():
                if isinstance(response, dict):
                    _with_headers(response, status)


def bounded_field_properties(converter, field, ret, **kwargs):
    """Give generated schemas the bounds that the parsers already enforce (OWASP API4)."""
    extra = {}
    types = ret.get("type")
    types = types if isinstance(types, list) else [types]
    if "integer" in types and "format" not in ret:
        extra["format"] = "int64" if ret.get("maximum", 0) > 2**31 - 1 else "int32"
    if "string" in types and not ({"maxLength", "enum", "const"} & ret.keys()):
        fmt = ret.get("format")
        if fmt == "uuid":
            extra["maxLength"] = UUID_MAX_LENGTH
        elif fmt == "date-time":
            extra["maxLength"] = TIMESTAMP_MAX_LENGTH
    return extra


class MarshmallowPlugin(apispec.ext.marshmallow.MarshmallowPlugin):
    def init_spec(self, spec):
        super().init_spec(spec)
        self.converter.add_attribute_function(bounded_field_properties)


class Api(flask_smorest.Api):
    ERROR_SCHEMA = ProblemSchema

    def __init__(self, app=None, **kwargs):
        spec_kwargs = kwargs.setdefault("spec_kwargs", {})
        spec_kwargs.setdefault("marshmallow_plugin", MarshmallowPlugin())
        spec_kwargs.setdefault("extra_plugins", [ConventionsPlugin()])
        super().__init__(app, **kwargs)

    def _register_responses(self):
        self.spec.components.response(
            "NOT_MODIFIED", {"description": "Not Modified: the ETag still matches."}, lazy=True, status=304
        )
        for status in http.HTTPStatus:
            if status < 400:
                continue
            response = {"description": status.phrase, "schema": self.ERROR_SCHEMA}
            prepare_response(response, self.spec, PROBLEM_MEDIA_TYPE)
            self.spec.components.response(status.name, response, lazy=True, status=int(status))
        response = {"description": "Any other error, as problem+json.", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_MEDIA_TYPE)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)

    def _register_etag_headers(self):
        tag = {"type": "string", "maxLength": 64}
        self.spec.components.parameter(
            "IF_NONE_MATCH",
            "header",
            {"name": "If-None-Match", "description": "ETag the client holds; 304 when unchanged.", "schema": tag},
            lazy=True,
        )
        self.spec.components.parameter(
            "IF_MATCH",
            "header",
            {
                "name": "If-Match",
                "required": True,
                "description": "The record's current ETag: 428 without it, 412 when stale.",
                "schema": tag,
            },
            lazy=True,
        )
        self.spec.components.header(
            "ETAG", {"description": "The record's version, for If-Match and If-None-Match.", "schema": tag}, lazy=True
        )

    def _register_pagination_header(self):
        """Lists page by keyset cursor (Link header), not by smorest's page numbers."""

    def handle_http_exception(self, error):
        return http_exception_response(error)


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = Parser()


def public(func):
    """Mark an operation as needing no token (it must also be on the tested allow-list)."""
    return Blueprint.doc(security=[])(func)


def operation(operation_id):
    """A stable camelCase operationId: generated mobile clients are named after it."""
    if not re.fullmatch(r"[a-z][a-zA-Z0-9]+", operation_id):
        raise ValueError(f"operationId {operation_id!r} is not camelCase")
    return Blueprint.doc(operationId=operation_id)


def document_responses(*statuses):
    """Document extra problem responses an operation can answer (e.g. 403, 409)."""

    def decorator(func):
        responses = {str(status): http.HTTPStatus(status).name for status in statuses}
        return Blueprint.doc(responses=responses)(func)

    return decorator


def takes_no_body(func):
    """For operations without a request body: a body sent anyway is a 422, as an unknown field
    would be, not silently ignored. Goes right below auth_required."""

    @wraps(func)
    def wrapper(*args, **kwargs):
        if has_body() and raw_body():
            raise ValidationFailed("_schema", "This operation takes no request body.")
        return func(*args, **kwargs)

    return document_responses(422)(wrapper)


# --- versions and ETags ---------------------------------------------------------------------


def versioned(func):
    """Document ETag, If-None-Match/304 (GET) or If-Match/412/428 (PATCH, DELETE) on an operation."""

    @wraps(func)
    def wrapper(*args, **kwargs):
        return func(*args, **kwargs)

    wrapper._apidoc = dict(getattr(func, "_apidoc", {}), etag=True)
    return wrapper


def etag_of(record):
    return f'"{record.version}"'


def etag_headers(record):
    return {"ETag": etag_of(record)}


def not_modified(record):
    """The 304 response when the client's If-None-Match still names this version, else None."""
    if request.if_none_match.contains_weak(str(record.version)):
        response = current_app.response_class(status=304)
        response.headers["ETag"] = etag_of(record)
        return response
    return None


def require_if_match(record, schema):
    """Guard a write: 428 without If-Match, 412 (with the current record) when it is stale."""
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
        "description": "`true` when this is the stored answer to an earlier request with the same Idempotency-Key.",
        "schema": {"type": "string", "enum": ["true"]},
    },
}
