"""What every operation's OpenAPI description says, written once: problem+json errors, the
headers every response carries, bounds on generated schemas, operationIds, and the ETag
parameters and responses of versioned operations."""

import copy
import functools
import http
import re

import apispec.ext.marshmallow
import marshmallow as ma
from apispec import BasePlugin
from apispec.ext.marshmallow.common import resolve_schema_cls
from flask import current_app
from flask_smorest.pagination import PaginationMetadataSchema
from flask_smorest.utils import deepupdate, prepare_response

from api.errors import PROBLEM_MEDIA_TYPE
from api.smorest import problems

UUID_MAX_LENGTH = 36
TIMESTAMP_MAX_LENGTH = 40

# Set by etags.versioned on an operation's doc; the plugin turns it into the ETag parameters,
# headers and responses, and leaves it out of the spec.
VERSIONED = "x-journal-versioned"
CHECKS_NOT_MODIFIED = {"get", "head"}
NEEDS_IF_MATCH = {"put", "patch", "delete"}
SETS_ETAG = {"get", "head", "post", "put", "patch"}


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
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer", "format": "int32", "minimum": 0, "maximum": 86400},
    }
}
EXTRA_HEADERS_BY_STATUS = {
    "401": {
        "WWW-Authenticate": {
            "description": "RFC 6750 Bearer challenge.",
            "schema": {"type": "string", "maxLength": 500},
        }
    },
    "429": RETRY_AFTER,
    "503": RETRY_AFTER,
}


def _with_headers(response, status):
    headers = response.setdefault("headers", {})
    for name in COMMON_HEADERS:
        headers.setdefault(name, name)
    for name in EXTRA_HEADERS_BY_STATUS.get(str(status), {}):
        headers.setdefault(name, name)
    return response


def _record_ref(operations):
    """The $ref of the record a versioned path serves: the 200 of its GET, PATCH or PUT."""
    for method in ("get", "patch", "put"):
        response = operations.get(method, {}).get("responses", {}).get("200")
        if isinstance(response, dict):
            return response["content"]["application/json"]["schema"]["$ref"]
    return None


def _document_versions(spec, method, operation, operations):
    """ETag on success, If-None-Match and 304 on reads, If-Match with 412 and 428 on writes.

    A 412 carries the record as it is now, so it is typed per resource.
    """
    responses, parameters = operation["responses"], operation.setdefault("parameters", [])
    responses.setdefault("422", "UNPROCESSABLE_ENTITY")  # a conditional header not in ETag form
    if method in CHECKS_NOT_MODIFIED:
        responses["304"] = "NOT_MODIFIED"
        parameters.append("IF_NONE_MATCH")
    if method in NEEDS_IF_MATCH:
        record_ref = _record_ref(operations)
        if record_ref is None:
            raise ValueError(f"{method} on a versioned path without a record to answer a 412 with")
        responses["412"] = {
            "description": "Precondition Failed: the record changed since your copy; `current` is it now.",
            "content": {PROBLEM_MEDIA_TYPE: {"schema": problems.precondition_failed_ref(spec, record_ref)}},
        }
        responses["428"] = "PRECONDITION_REQUIRED"
        parameters.append("IF_MATCH")
    if method in SETS_ETAG:
        for status, response in responses.items():
            if status.startswith("2") and isinstance(response, dict):
                response.setdefault("headers", {})["ETag"] = "ETAG"


class ConventionsPlugin(BasePlugin):
    """Adds to every operation the errors and headers that the app's shared machinery produces.

    Documented here once so no route can forget them: 401 (unless public), 404 (path with an id),
    400/413/415 (JSON body), 409 (a write that loses a race to another writer of the same row),
    429 (every route is rate limited), 500, 503 (the database or the rate-limit counters cannot
    be reached, or two writers collided), and the common headers.
    """

    def init_spec(self, spec):
        self.spec = spec
        for name, header in COMMON_HEADERS.items():
            spec.components.header(name, header, lazy=True)
        for headers in EXTRA_HEADERS_BY_STATUS.values():
            for name, header in headers.items():
                spec.components.header(name, header, lazy=True)

    def response_helper(self, response, **kwargs):
        status = kwargs.get("status")
        return _with_headers(response, status) if status else response

    def operation_helper(self, path=None, operations=None, **kwargs):
        operations = {method: op for method, op in operations.items() if isinstance(op, dict)}
        for operation in operations.values():
            responses = {str(status): value for status, value in operation.get("responses", {}).items()}
            operation["responses"] = responses
        for method, operation in operations.items():
            responses = operation["responses"]
            if operation.pop(VERSIONED, False):
                _document_versions(self.spec, method, operation, operations)
            statuses = [429, 500, 503]
            if operation.get("security") != []:
                statuses.append(401)
            if "{" in (path or ""):
                statuses.append(404)
            if "requestBody" in operation:
                statuses.extend([400, 413, 415])
            if method in NEEDS_IF_MATCH:
                statuses.append(409)
            for status in statuses:
                responses.setdefault(str(status), http.HTTPStatus(status).name)
            for status, response in responses.items():
                if isinstance(response, dict):
                    _with_headers(response, status)


def bounded_field_properties(converter, field, ret, **kwargs):
    """Give generated schemas the bounds that the parsers already enforce (OWASP API4).

    An exclusive bound of a Range is written as exclusiveMinimum/exclusiveMaximum alone (apispec
    would write it as an inclusive one too).
    """
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
    for validator in field.validators:
        if isinstance(validator, ma.validate.Range):
            if validator.min is not None and not validator.min_inclusive:
                extra["exclusiveMinimum"] = ret.pop("minimum")
            if validator.max is not None and not validator.max_inclusive:
                extra["exclusiveMaximum"] = ret.pop("maximum")
    return extra


# --- enums, constants and unions as named, typed components -----------------------------------

ENUM_NAME = "enum_name"


def enum_name(field):
    """The component name of a field's closed set of values: `metadata["enum_name"]`, else the
    name of the Python Enum class of an Enum field; None when the field has no closed set."""
    if ENUM_NAME in field.metadata:
        return field.metadata[ENUM_NAME]
    if isinstance(field, ma.fields.Enum):
        return field.enum.__name__
    return None


def named_enum_properties(converter, field, ret, **kwargs):
    """Every closed set of values is a `type: string` component, referenced where it is used (a
    generated client then has one Emotion type, not ten copies); a single value is a `const`."""
    if isinstance(field, ma.fields.Constant):
        ret.pop("default", None)  # a constant is its value, not a default
        return {"type": "string", "const": field.constant}
    values = ret.get("enum")
    if values is None:
        return {}
    choices = [value for value in values if value is not None]
    if len(choices) == 1 and len(values) == 1:
        ret.pop("enum")
        return {"type": "string", "const": choices[0]}
    name = enum_name(field)
    if name is None:
        raise ValueError(f"{field!r}: a closed set of values needs a component name (metadata enum_name)")
    ret.pop("enum")
    ret.pop("type", None)
    component = {"type": "string", "enum": choices}
    enum = getattr(field, "enum", None)
    if enum is not None and enum.__doc__ and "__doc__" in vars(enum):
        component["description"] = " ".join(enum.__doc__.split())
    if "enum_description" in field.metadata:
        component["description"] = field.metadata["enum_description"]
    ref = problems.register_schema(converter.spec, name, component)
    if len(choices) < len(values) or field.allow_none:
        return {"anyOf": [ref, {"type": "null"}]}
    return ref


class OneOf(ma.fields.Raw):
    """A value that is one of several schemas, told apart by the value of one property.

    Values pass through as they are (they are dumped before); in the spec the field refers to a
    `oneOf` component named `name` with a discriminator, so a generated client narrows on it.
    Each schema must declare the discriminating property as a Constant.
    """

    def __init__(self, schemas, *, name, discriminator, **kwargs):
        super().__init__(**kwargs)
        self.schemas = tuple(schemas)
        self.name = name
        self.discriminator = discriminator


def one_of_properties(converter, field, ret, **kwargs):
    if not isinstance(field, OneOf):
        return {}
    refs = {}
    for schema in field.schemas:
        value = schema._declared_fields[field.discriminator].constant
        refs[value] = converter.resolve_nested_schema(schema)["$ref"]
    union = {
        "oneOf": [{"$ref": ref} for ref in refs.values()],
        "discriminator": {"propertyName": field.discriminator, "mapping": refs},
    }
    return problems.register_schema(converter.spec, field.name, union)


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
        self.converter.add_attribute_function(named_enum_properties)
        self.converter.add_attribute_function(one_of_properties)


# An ETag is a record version in quotes, strong or weak; etags.versioned refuses any other form.
ETAG_PATTERN = '^(W/)?"[1-9][0-9]{0,9}"$'


def register_components(spec, error_schema):
    """The spec's shared responses, parameters and headers in the project's own words.

    flask-smorest registers its defaults lazily (only what an operation refers to is written);
    registering ours under the same names replaces them: every error is problem+json (a 422 a
    ValidationProblem), and ETags are record versions.
    """
    if problems.PROBLEM not in spec.components.schemas:
        spec.components.schema(problems.PROBLEM, schema=error_schema)
    problems.register(spec)
    tag = {"type": "string", "maxLength": 14, "pattern": ETAG_PATTERN, "example": '"3"'}
    spec.components.parameter(
        "IF_NONE_MATCH",
        "header",
        {
            "name": "If-None-Match",
            "description": 'The ETag of the copy you hold (for example `"3"`); 304 when unchanged.',
            "schema": tag,
        },
        lazy=True,
    )
    spec.components.parameter(
        "IF_MATCH",
        "header",
        {
            "name": "If-Match",
            "required": True,
            "description": 'The ETag of the copy you changed (for example `"3"`): 428 without it, '
            "412 when the record has changed since.",
            "schema": tag,
        },
        lazy=True,
    )
    spec.components.header(
        "ETAG",
        {"description": "The record's version, for If-Match and If-None-Match.", "schema": tag},
        lazy=True,
    )
    spec.components.response(
        "NOT_MODIFIED",
        {"description": "Not Modified: the ETag still matches.", "headers": {"ETag": "ETAG"}},
        lazy=True,
        status=304,
    )
    for status in http.HTTPStatus:
        if status < 400:
            continue
        schema = "ValidationProblem" if status == 422 else problems.PROBLEM
        response = {
            "description": status.phrase,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": problems.schema_ref(schema)}},
        }
        spec.components.response(status.name, response, lazy=True, status=int(status))
    response = {"description": "Any other error, as problem+json.", "schema": error_schema}
    prepare_response(response, spec, PROBLEM_MEDIA_TYPE)
    spec.components.response("DEFAULT_ERROR", _with_headers(response, "default"), lazy=True)


# --- what an operation declares ---------------------------------------------------------------


def doc(**kwargs):
    """flask-smorest's `Blueprint.doc` (`kwargs` merged into the operation's manual doc), without
    its deep copy of the doc info of the function it wraps.

    That copy took every schema instance the decorators below had put there (arguments,
    responses) along, and each copy stayed alive on its wrapper, a few per operation: about 1 MB
    in every worker, for documentation alone. Only the manual doc changes here, and it is copied
    before it does; the rest is shared with the wrapped function. flask-smorest's own decorators
    copy what they change, and so does the Api when it registers the doc, so nothing changes it
    where it is shared, and the spec is the same.
    """

    def decorator(func):
        @functools.wraps(func)
        def wrapper(*f_args, **f_kwargs):
            return current_app.ensure_sync(func)(*f_args, **f_kwargs)

        apidoc = dict(getattr(func, "_apidoc", {}))
        apidoc["manual_doc"] = deepupdate(copy.deepcopy(apidoc.get("manual_doc", {})), kwargs)
        wrapper._apidoc = apidoc  # type: ignore[attr-defined]
        return wrapper

    return decorator


def document(**kwargs):
    """Add to an operation's description: parameters, responses and the like."""
    return doc(**kwargs)


def public(func):
    """Mark an operation as needing no token (it must also be on the tested allow-list)."""
    return doc(security=[])(func)


def operation(operation_id):
    """A stable camelCase operationId: generated mobile clients are named after it."""
    if not re.fullmatch(r"[a-z][a-zA-Z0-9]+", operation_id):
        raise ValueError(f"operationId {operation_id!r} is not camelCase")
    return doc(operationId=operation_id)


def document_responses(*statuses):
    """Document extra problem responses an operation can answer (e.g. 403, 409)."""

    def decorator(func):
        responses = {str(status): http.HTTPStatus(status).name for status in statuses}
        return doc(responses=responses)(func)

    return decorator


def document_versions(func):
    """Document the ETag behaviour of an operation on a versioned record (see etags.versioned)."""
    return doc(**{VERSIONED: True})(func)
