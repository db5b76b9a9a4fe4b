"""What every operation's OpenAPI description says, written once: problem+json errors, the
headers every response carries, bounds on generated schemas, operationIds, and the ETag
parameters and responses of versioned operations."""

import http
import re

import apispec.ext.marshmallow
import flask_smorest
import marshmallow as ma
from apispec import BasePlugin
from apispec.ext.marshmallow.common import resolve_schema_cls
from flask_smorest.pagination import PaginationMetadataSchema
from flask_smorest.utils import prepare_response

from api.errors import PROBLEM_MEDIA_TYPE

UUID_MAX_LENGTH = 36
TIMESTAMP_MAX_LENGTH = 40
TEXT_LIMIT = 500

# Set by etags.versioned on an operation's doc; the plugin turns it into the ETag parameters,
# headers and responses, and leaves it out of the spec.
VERSIONED = "x-journal-versioned"
CHECKS_NOT_MODIFIED = {"get", "head"}
NEEDS_IF_MATCH = {"put", "patch", "delete"}
SETS_ETAG = {"get", "head", "post", "put", "patch"}


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
            "description": "422 only, when `errors` lists just the first 20 problems: "
            "how many there are in all."
        },
    )
    current = ma.fields.Dict(
        metadata={"description": "412 only: the record as it is now.", "maxProperties": 100},
    )


# Response headers documented on every operation; X-RateLimit-* come from flask-limiter.
COMMON_HEADERS = {
    "X-Request-ID": {
        "description": "Echo of the request's X-Request-ID, or one the server made; "
        "quote it in support requests.",
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


def _document_versions(method, operation):
    """ETag on success, If-None-Match and 304 on reads, If-Match with 412 and 428 on writes."""
    responses, parameters = operation["responses"], operation.setdefault("parameters", [])
    if method in CHECKS_NOT_MODIFIED:
        responses["304"] = "NOT_MODIFIED"
        parameters.append("IF_NONE_MATCH")
    if method in NEEDS_IF_MATCH:
        responses["412"] = "PRECONDITION_FAILED"
        responses["428"] = "PRECONDITION_REQUIRED"
        parameters.append("IF_MATCH")
    if method in SETS_ETAG:
        for status, response in responses.items():
            if status.startswith("2") and isinstance(response, dict):
                response.setdefault("headers", {})["ETag"] = "ETAG"


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
        for method, operation in operations.items():
            if not isinstance(operation, dict):
                continue
            responses = {str(status): value for status, value in operation.get("responses", {}).items()}
            operation["responses"] = responses
            if operation.pop(VERSIONED, False):
                _document_versions(method, operation)
            problems = [429, 500]
            if operation.get("security") != []:
                problems.append(401)
            if "{" in (path or ""):
                problems.append(404)
            if "requestBody" in operation:
                problems.extend([400, 413, 415])
            for problem in problems:
                responses.setdefault(str(problem), http.HTTPStatus(problem).name)
            for status, response in responses.items():
                if isinstance(response, dict):
                    _with_headers(response, status)


def bounded_field_properties(converter, field, ret, **kwargs):
    """Give generated schemas the bounds that the parsers already enforce (OWASP API4)."""
    extra: dict[str, object] = {}
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


def schema_name(schema):
    """A schema's component name: its class name without "Schema" (apispec's rule).

    flask-smorest's page-number pagination metadata gets none: lists here page by keyset cursor,
    so nothing refers to it, and an unnamed schema is not written into the spec.
    """
    if resolve_schema_cls(schema) is PaginationMetadataSchema:
        return None
    return apispec.ext.marshmallow.resolver(schema)


class MarshmallowPlugin(apispec.ext.marshmallow.MarshmallowPlugin):
    def __init__(self):
        super().__init__(schema_name_resolver=schema_name)

    def init_spec(self, spec):
        super().init_spec(spec)
        assert self.converter is not None  # made by init_spec
        self.converter.add_attribute_function(bounded_field_properties)


def register_components(spec, error_schema):
    """The spec's shared responses, parameters and headers in the project's own words.

    flask-smorest registers its defaults lazily (only what an operation refers to is written);
    registering ours under the same names replaces them: every error is problem+json, and ETags
    are record versions.
    """
    spec.components.response(
        "NOT_MODIFIED", {"description": "Not Modified: the ETag still matches."}, lazy=True, status=304
    )
    for status in http.HTTPStatus:
        if status < 400:
            continue
        response = {"description": status.phrase, "schema": error_schema}
        prepare_response(response, spec, PROBLEM_MEDIA_TYPE)
        spec.components.response(status.name, response, lazy=True, status=int(status))
    response = {"description": "Any other error, as problem+json.", "schema": error_schema}
    prepare_response(response, spec, PROBLEM_MEDIA_TYPE)
    spec.components.response("DEFAULT_ERROR", response, lazy=True)

    tag = {"type": "string", "maxLength": 64}
    spec.components.parameter(
        "IF_NONE_MATCH",
        "header",
        {"name": "If-None-Match", "description": "ETag the client holds; 304 when unchanged.", "schema": tag},
        lazy=True,
    )
    spec.components.parameter(
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
    spec.components.header(
        "ETAG",
        {"description": "The record's version, for If-Match and If-None-Match.", "schema": tag},
        lazy=True,
    )


# --- what an operation declares ---------------------------------------------------------------


def document(**doc):
    """Add to an operation's description: parameters, responses and the like."""
    return flask_smorest.Blueprint.doc(**doc)


def public(func):
    """Mark an operation as needing no token (it must also be on the tested allow-list)."""
    return flask_smorest.Blueprint.doc(security=[])(func)


def operation(operation_id):
    """A stable camelCase operationId: generated mobile clients are named after it."""
    if not re.fullmatch(r"[a-z][a-zA-Z0-9]+", operation_id):
        raise ValueError(f"operationId {operation_id!r} is not camelCase")
    return flask_smorest.Blueprint.doc(operationId=operation_id)


def document_responses(*statuses):
    """Document extra problem responses an operation can answer (e.g. 403, 409)."""

    def decorator(func):
        responses = {str(status): http.HTTPStatus(status).name for status in statuses}
        return flask_smorest.Blueprint.doc(responses=responses)(func)

    return decorator


def document_versions(func):
    """Document the ETag behaviour of an operation on a versioned record (see etags.versioned)."""
    return flask_smorest.Blueprint.doc(**{VERSIONED: True})(func)
