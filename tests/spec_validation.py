"""Every response a test receives is checked against the OpenAPI document the app serves.

tests/conftest.py makes `SpecCheckingClient` the test client of every Flask app (the session's
and the ones tests build with create_app), builds one `SpecChecker` per session from the `spec`
fixture, and fails a test whose responses (in its setup or body) broke the contract:

* the request's operation (method + path template) is looked up in the spec by openapi-core.
  A request that matches no operation (/docs, /static/..., /openapi.json, OPTIONS preflights, an
  unknown path or a method the path lacks) is not looked up further, but an error answer (>= 400)
  must still be application/problem+json matching components/schemas/Problem (a HEAD answer has
  no body to check);
* the status must be listed for the operation. An error status (>= 400) that is not listed falls
  back to `default` (that is what `default` is for) and is checked against it; a 1xx-3xx status
  that is not listed is a mismatch;
* the body must be of a documented content type and match its schema (required fields, types
  and nullability, formats, patterns, enums, lengths, no unknown fields where the schema says
  so), and each header the spec documents for that status must match its schema (a required
  one must be there), as openapi-core's response validator checks them (see SpecChecker);
* a response whose status documents no content must have no body;
* a header the server sends that the spec does not document for that status is a mismatch,
  unless it is in IGNORED_HEADERS (see there why each is left out).

`outside_the_contract(reason)` exempts the responses received inside its block, for a test that
deliberately provokes something the spec does not promise.

SPEC_VALIDATION=off turns the checks off (e.g. to time the suite without them);
SPEC_VALIDATION=report records mismatches without failing tests; SPEC_VALIDATION_LOG=<file>
appends every mismatch, as one JSON object per line, to that file.
"""

import json
import os
import re
from collections import Counter
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from urllib.parse import urljoin

from flask.testing import FlaskClient
from jsonschema_path import SchemaPath
from openapi_core.casting.schemas import oas31_schema_casters_factory
from openapi_core.casting.schemas.factories import SchemaCastersFactory
from openapi_core.deserializing.exceptions import DeserializeError
from openapi_core.deserializing.media_types import media_type_deserializers
from openapi_core.deserializing.media_types.factories import MediaTypeDeserializersFactory
from openapi_core.deserializing.media_types.util import json_loads
from openapi_core.deserializing.styles import style_deserializers
from openapi_core.deserializing.styles.factories import StyleDeserializersFactory
from openapi_core.schema.parameters import get_style_and_explode
from openapi_core.templating.media_types.exceptions import MediaTypeNotFound
from openapi_core.templating.media_types.finders import MediaTypeFinder
from openapi_core.templating.paths.exceptions import PathError
from openapi_core.templating.paths.finders import APICallPathFinder
from openapi_core.validation.schemas import oas31_schema_validators_factory
from openapi_core.validation.schemas.exceptions import InvalidSchemaValue
from openapi_spec_validator import validate as validate_spec

PROBLEM_JSON = "application/problem+json"

# Headers a response may carry without the spec listing them: none is part of what a client of
# this API reads from an answer.
# * Content-Type: checked, as the `content` media type the body is validated under.
# * Content-Length, Date, Server: HTTP framing and server metadata (RFC 9110), never per API.
# * Vary: a cache directive that follows from the request headers used (Origin, with CORS).
# * Cache-Control: set on every response by the app (no-store, stated in info.description); a
#   cache directive, not data a client parses.
# * X-Content-Type-Options, Referrer-Policy, X-Frame-Options, Content-Security-Policy and (over
#   TLS) Strict-Transport-Security: browser hardening headers, set on every response in one place
#   (api/security_headers.py), not data a client of the API reads.
# * Access-Control-* (prefix): the CORS protocol, answered by flask-cors for browsers; the ones
#   the spec does document (Access-Control-Allow-Origin) are still validated by openapi-core.
IGNORED_HEADERS = frozenset(
    {
        "content-type",
        "content-length",
        "date",
        "server",
        "vary",
        "cache-control",
        "x-content-type-options",
        "referrer-policy",
        "x-frame-options",
        "content-security-policy",
        "strict-transport-security",
    }
)
IGNORED_HEADER_PREFIXES = ("access-control-",)

# A kind of Mismatch that is logged but fails no test: an error status that only `default` covers.
NOTE = "status-via-default"

MODE = os.environ.get("SPEC_VALIDATION", "on").lower()
LOG = os.environ.get("SPEC_VALIDATION_LOG")


@dataclass(frozen=True)
class Mismatch:
    kind: str  # status | header | undocumented-header | body | not-a-problem | NOTE
    method: str
    template: str  # the spec's path template, or the request's path when no operation matched
    status: int
    detail: str  # what mismatched, with what the server sent
    key: str = ""  # `detail` without the values that vary from request to request, for grouping

    def __str__(self):
        return f"{self.method} {self.template} -> {self.status}: [{self.kind}] {self.detail}"


class _Memoized:
    """An openapi-core factory whose create() answers the same object for the same arguments:
    openapi-core builds a new schema validator (deep-copying its format checker), caster or
    deserializer each time it checks a value; the ones for a given schema never change."""

    def __init__(self, factory):
        self._factory = factory
        self._made = {}

    def __getattr__(self, name):
        return getattr(self._factory, name)

    def create(self, *args, **kwargs):
        key = tuple(map(_hashable, args)) + tuple((k, _hashable(v)) for k, v in sorted(kwargs.items()))
        made = self._made.get(key)
        if made is None:
            made = self._made[key] = self._factory.create(*args, **kwargs)
        return made


def _hashable(value):
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    try:
        hash(value)
    except TypeError:
        return ("id", id(value))
    return value


@dataclass
class _Answer:
    """One entry of an operation's `responses`, with openapi-core's objects for it built once."""

    slot: str  # the key the status fell to: "200", "4XX" or "default"
    spec: dict  # the entry, $ref resolved
    content: SchemaPath | None
    headers: list  # (name, required, style deserializer, schema validator)
    documented: frozenset  # its header names, lower case
    media_types: dict  # response mimetype -> (MediaType | MediaTypeNotFound, deserializer, validator)


class SpecChecker:
    """Checks responses against one OpenAPI 3.1 document (a dict, as /openapi.json serves it).

    openapi-core does the checking: its path finder finds the operation, its media type finder
    the documented content, its deserializers and casters read the body and headers, and its
    OpenAPI 3.1 schema validators (JSON Schema 2020-12 plus OpenAPI's formats) check them. What
    openapi-core's V31ResponseValidator would re-read from the spec for every response (about
    2.5 ms of SchemaPath lookups per response, over half of it the headers) is prepared here once
    per operation, status and media type."""

    def __init__(self, spec):
        validate_spec(spec)  # what OpenAPI.from_dict() checks: a broken spec fails here, once
        self.spec = spec
        self.spec_path = SchemaPath.from_dict(spec)
        self.validators = _Memoized(oas31_schema_validators_factory)
        casters = SchemaCastersFactory(self.validators, oas31_schema_casters_factory.types_caster)
        self.styles = _Memoized(StyleDeserializersFactory(casters, style_deserializers=style_deserializers))
        self.media_types = _Memoized(
            MediaTypeDeserializersFactory(self.styles, media_type_deserializers=media_type_deserializers)
        )
        self.finder = APICallPathFinder(self.spec_path)
        self.problem_validator = self.validators.create(
            self.spec_path, self.spec_path / "components" / "schemas" / "Problem"
        )
        self._operations = {}
        self._answers = {}
        self._header_verdicts = {}

    def check(self, request, response):
        """The ways `response` (a Flask test response to `request`) breaks the spec."""
        method, status = request.method, response.status_code
        template = self._operation(method.lower(), request.host_url, request.root_path + request.path)
        if template is None:
            return self._check_unmatched(method, request.path, response)
        answer = self._answer(template, method.lower(), status)
        out = []

        def add(kind, detail, key=None):
            out.append(Mismatch(kind, method, template, status, detail, key or detail))

        if answer.slot == "default":
            listed = ", ".join(self.spec["paths"][template][method.lower()]["responses"])
            if status < 400:
                add("status", f"status {status} is not documented (only {listed})")
                return out
            add(NOTE, f"status {status} is not listed ({listed}): checked against default")
        for kind, detail, key in self._body_errors(answer, response):
            add(kind, detail, key)
        for kind, detail, key in self._header_errors(answer, response):
            add(kind, detail, key)
        for name in sorted({name.lower() for name in response.headers.keys()}):
            if (
                name in answer.documented
                or name in IGNORED_HEADERS
                or name.startswith(IGNORED_HEADER_PREFIXES)
            ):
                continue
            shown = _header_name(response, name)
            add("undocumented-header", f"header {shown} is not documented for {answer.slot}")
        return out

    def _operation(self, method, host_url, path):
        """The spec's path template for the request, or None when no operation matches."""
        key = (method, path)
        if key not in self._operations:
            try:
                found = self.finder.find(method, urljoin(host_url, path))
            except PathError:
                self._operations[key] = None
            else:
                self._operations[key] = found.path.parts[-1]
        return self._operations[key]

    def _answer(self, template, method, status):
        """The responses entry a status falls to, as openapi-core's ResponseFinder picks it:
        the status itself, then its range (4XX), then `default`."""
        key = (template, method, status)
        if key not in self._answers:
            listed = self.spec["paths"][template][method]["responses"]
            slot = next(s for s in (str(status), f"{str(status)[0]}XX", "default") if s in listed)
            entry = self._resolve(listed[slot])
            path = self.spec_path / "paths" / template / method / "responses" / slot
            headers = []
            for name in entry.get("headers", {}):
                if name.lower() == "content-type":  # as openapi-core: Content-Type is the media type
                    continue
                header = path / "headers" / name
                schema = header / "schema"
                style, explode = get_style_and_explode(header)
                headers.append(
                    (
                        name,
                        bool(self._resolve(entry["headers"][name]).get("required")),
                        self.styles.create(self.spec_path, schema, style, explode, name=name),
                        self.validators.create(self.spec_path, schema),
                    )
                )
            self._answers[key] = _Answer(
                slot,
                entry,
                path / "content" if "content" in entry else None,
                headers,
                frozenset(name.lower() for name in entry.get("headers", {})),
                {},
            )
        return self._answers[key]

    def _media_type(self, answer, mimetype):
        if mimetype not in answer.media_types:
            try:
                found = MediaTypeFinder(answer.content).find(mimetype)
            except MediaTypeNotFound as error:
                answer.media_types[mimetype] = (error, None, None)
            else:
                schema = found.media_type / "schema" if "schema" in found.media_type else None
                validator = self.validators.create(self.spec_path, schema) if schema is not None else None
                deserializer = self.media_types.create(
                    self.spec_path,
                    found.mime_type,
                    schema=schema,
                    schema_validator=validator,
                    parameters=found.parameters,
                    # application/problem+json, application/fhir+json: JSON by their suffix (RFC 6839)
                    extra_media_type_deserializers={found.mime_type: json_loads}
                    if found.mime_type.endswith("+json")
                    else {},
                )
                answer.media_types[mimetype] = (found, deserializer, validator)
        return answer.media_types[mimetype]

    def _body_errors(self, answer, response):
        data = response.get_data()
        if answer.content is None:
            if data:
                yield "body", f"a body ({response.mimetype}) where the spec documents none", None
            return
        if not data:
            yield "body", "no body where the spec documents content", None
            return
        found, deserializer, validator = self._media_type(answer, response.mimetype)
        if isinstance(found, MediaTypeNotFound):
            documented = ", ".join(found.availableMimetypes)
            yield "body", f"content type {response.mimetype!r} is not documented (only {documented})", None
            return
        try:
            value = deserializer.deserialize(data)
        except DeserializeError as error:
            yield "body", f"body is not {found.mime_type}: {error!r}", "body cannot be read"
            return
        if validator is None:
            return
        try:
            validator.validate(value)
        except InvalidSchemaValue as error:
            schema = answer.spec["content"].get(found.mime_type, {}).get("schema", {})
            for e in error.schema_errors:
                yield ("body", *_schema_error(e, schema, self.spec))

    def _header_errors(self, answer, response):
        for header in answer.headers:
            sent = response.headers.get(header[0])
            key = (id(header), sent)  # a header's verdict depends on its value only: keep it
            if len(self._header_verdicts) > 4096:  # request ids are all new: bound the memo
                self._header_verdicts.clear()
            if key not in self._header_verdicts:
                self._header_verdicts[key] = list(self._header_verdict(*header, sent))
            yield from self._header_verdicts[key]

    def _header_verdict(self, name, required, deserializer, validator, sent):
        if sent is None:
            if required:
                yield "header", f"required header {name} is missing", None
            return
        try:
            value = deserializer.deserialize({name: sent})
        except DeserializeError as error:  # includes CastError: e.g. not an integer
            yield "header", f"header {name}: {sent!r}: {error}", f"header {name}: cannot be read"
            return
        try:
            validator.validate(value)
        except InvalidSchemaValue as error:
            reasons = "; ".join(e.message for e in error.schema_errors)
            kinds = ", ".join(sorted({str(e.validator) for e in error.schema_errors}))
            yield "header", f"header {name}: {value!r}: {reasons}", f"header {name}: fails {kinds}"

    def _check_unmatched(self, method, path, response):
        """A request no operation matches: nothing to look up, but an error is still a problem."""
        if response.status_code < 400 or method == "HEAD":
            return []
        status = response.status_code

        def mismatch(detail, key):
            return [Mismatch("not-a-problem", method, path, status, detail, key)]

        if response.mimetype != PROBLEM_JSON:
            return mismatch(
                f"error answered as {response.mimetype!r}, not {PROBLEM_JSON}", "not problem+json"
            )
        try:
            self.problem_validator.validate(json.loads(response.get_data()))
        except ValueError as error:
            return mismatch(f"body is not JSON: {error}", "body is not JSON")
        except InvalidSchemaValue as error:
            schema = {"$ref": "#/components/schemas/Problem"}
            details = [_schema_error(e, schema, self.spec) for e in error.schema_errors]
            return mismatch("; ".join(d for d, _ in details), "; ".join(k for _, k in details))
        return []

    def _resolve(self, node):
        while "$ref" in node:
            kind, name = node["$ref"].split("/")[-2:]
            node = self.spec["components"][kind][name]
        return node


def _header_name(response, lowered):
    return next(name for name in response.headers.keys() if name.lower() == lowered)


def _schema_error(error, schema, spec):
    """A jsonschema error as 'Schema at .field: message', and a grouping key without the values
    that vary between requests. `schema` is the media type's schema the error's path starts at."""
    name = schema["$ref"].split("/")[-1] if "$ref" in schema else "(inline schema)"
    node = schema
    for part in list(error.schema_path)[:-1]:  # jsonschema leaves `$ref` out of the path
        while isinstance(node, dict) and part not in node and "$ref" in node:
            name = node["$ref"].split("/")[-1]
            node = spec["components"]["schemas"][name]
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            break
    while isinstance(node, dict) and "$ref" in node and error.validator not in node:
        name = node["$ref"].split("/")[-1]
        node = spec["components"]["schemas"][name]
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path) or "(root)"
    message = error.message if len(error.message) <= 240 else error.message[:240] + "..."
    if error.validator == "type":
        reason = f"{_json_type(error.instance)} is not of type {error.validator_value!r}"
    elif error.validator in ("required", "additionalProperties"):
        reason = error.message
    elif error.validator == "enum":
        reason = f"not one of {error.validator_value}"
    else:
        reason = f"fails {error.validator}: {error.validator_value!r}"
    generic = re.sub(r"\[\d+\]", "[*]", where)
    return f"{name} at {where}: {message}", f"{name} at {generic}: {reason}"


def _json_type(value):
    if value is None:
        return "null"
    return {
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        list: "array",
        dict: "object",
    }.get(type(value), type(value).__name__)


# The current test's mismatches, one list per response that had any; None between tests (the
# conftest hooks begin and end it around each test's setup and call, and its teardown).
_collected = None
_exempt = []
checker = None  # the session's SpecChecker, set by the conftest fixture


@contextmanager
def outside_the_contract(reason):
    """Responses received inside the block (in any thread) are not checked: for a test that
    deliberately provokes an answer the spec does not promise. `reason` says why."""
    assert reason, "say why these responses are outside the contract"
    _exempt.append(reason)
    try:
        yield
    finally:
        _exempt.remove(reason)


def begin():
    global _collected
    _collected = []


def end():
    """The current test's mismatches (a list per response), and stop collecting."""
    global _collected
    found, _collected = _collected or [], None
    return found


def record(response):
    if checker is None or _collected is None or _exempt or MODE == "off":
        return
    request = response.request
    try:
        found = checker.check(request, response)
    except Exception as error:  # a bug of the checker's must show, not pass
        found = [Mismatch("checker-error", request.method, request.path, response.status_code, repr(error))]
    if found:
        _collected.append(found)


def failing(responses):
    """The responses' mismatches that fail a test (all but notes), a list per response."""
    return [kept for found in responses if (kept := [m for m in found if m.kind != NOTE])]


def failure_message(responses):
    counts = Counter(m for found in responses for m in found)
    lines = [f"{len(responses)} response(s) do not match the OpenAPI document:"]
    lines += [f"  {m}" + (f"  (x{n})" if n > 1 else "") for m, n in counts.items()]
    return "\n".join(lines)


def log(nodeid, responses):
    if LOG and responses:
        with open(LOG, "a", encoding="utf-8") as file:
            for number, found in enumerate(responses):
                for m in found:
                    file.write(json.dumps({"test": nodeid, "response": number, **asdict(m)}) + "\n")


class SpecCheckingClient(FlaskClient):
    """Flask's test client, checking every response it receives against the spec."""

    def open(self, *args, **kwargs):
        response = super().open(*args, **kwargs)
        record(response)
        return response
