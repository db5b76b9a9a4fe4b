"""What the spec can only say once every operation is in it: which way each schema travels, and
an example of every body.

Every object schema travels one way (the build fails otherwise), so `readOnly` and `writeOnly`
mean nothing and are left out. A schema that only travels in 2xx responses lists every property as
`required`: the server always sends each one (null when empty, and the schema then says `null`),
so a generated client needs no presence checks; its times carry no input year pattern (a stored
time comes back in UTC, which may fall in 1900 or 2199). A schema only sent by the client has no
`default` (generators would make such a property required): the default is in the description.

Every request body and 2xx JSON response gets an example built from the examples of its fields,
so Swagger UI and ReDoc show a realistic journal (tests/test_openapi.py validates each one
against its schema).
"""

from apispec import APISpec

REF_PREFIX = "#/components/schemas/"
METHODS = ("get", "put", "post", "patch", "delete")

# For a property with no example of its own: a value of its format, or of its type.
EXAMPLE_BY_FORMAT = {
    "uuid": "6f1c2a9e-7b4d-4e2a-9c1f-5d6e7a8b9c0d",
    "date-time": "2026-03-14T09:30:00Z",
    "email": "ana@example.org",
    "uri": "https://example.org/",
    "uri-reference": "/v1/moods/6f1c2a9e-7b4d-4e2a-9c1f-5d6e7a8b9c0d",
}
EXAMPLE_BY_TYPE = {"string": "text", "integer": 1, "number": 1.5, "boolean": False}


def finish(spec: APISpec) -> None:
    schemas = spec.components.schemas
    operations = [op for item in spec._paths.values() for m, op in item.items() if m in METHODS]
    sent = _closure(schemas, [_request_roots(op) for op in operations])
    received = _closure(schemas, [_response_roots(op) for op in operations])
    both_ways = sorted(name for name in sent & received if "properties" in schemas[name])
    if both_ways:
        raise ValueError(f"split into a request and a response schema: {', '.join(both_ways)}")
    for name, schema in schemas.items():
        for prop in schema.get("properties", {}).values():
            prop.pop("readOnly", None)
            prop.pop("writeOnly", None)
            if name in received:
                if prop.get("format") == "date-time":
                    prop.pop("pattern", None)
            elif name in sent:
                _default_into_description(prop)
        if name in received and "properties" in schema:
            schema["required"] = sorted(schema["properties"])
    for operation in operations:
        _add_examples(operation, schemas)


def _refs(node, found):
    """Names of the component schemas a node refers to, not following the references."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF_PREFIX):
            found.add(ref[len(REF_PREFIX) :])
        for value in node.values():
            _refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found)
    return found


def _closure(schemas, roots):
    todo = set().union(*roots)
    seen = set()
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo |= _refs(schemas[name], set())
    return seen


def _request_roots(operation):
    found = _refs(operation.get("requestBody", {}), set())
    for parameter in operation.get("parameters", []):
        if isinstance(parameter, dict):
            _refs(parameter.get("schema", {}), found)
    return found


def _success_media(operation):
    for status, response in operation.get("responses", {}).items():
        if str(status).startswith("2") and isinstance(response, dict):
            yield from response.get("content", {}).values()


def _response_roots(operation):
    found: set[str] = set()
    for media in _success_media(operation):
        _refs(media.get("schema", {}), found)
    return found


def _default_into_description(prop):
    if "default" not in prop:
        return
    default = prop.pop("default")
    if default is None:
        return
    description = prop.get("description", "")
    if "default" not in description.lower():
        prop["description"] = f"{description} Default `{default}`.".strip()


# --- examples ------------------------------------------------------------------------------------


def _add_examples(operation, schemas):
    bodies = list(operation.get("requestBody", {}).get("content", {}).values())
    for media in bodies:
        if "example" not in media and "schema" in media:
            media["example"] = example_of(media["schema"], schemas, request=True)
    for media in _success_media(operation):
        if "example" not in media and "schema" in media:
            media["example"] = example_of(media["schema"], schemas, request=False)


def example_of(schema, schemas, *, request, depth=0):
    """An example value of a schema: its own example, else one made from its parts. A request
    example holds the required properties and those with an example of their own."""
    if depth > 12:
        raise ValueError("example nesting too deep (a recursive schema needs an example of its own)")
    schema = _resolve(schema, schemas)
    for key in ("example", "const"):
        if key in schema:
            return schema[key]
    if "enum" in schema:
        return next(value for value in schema["enum"] if value is not None)
    for key in ("oneOf", "anyOf"):
        if key in schema:
            options = [option for option in schema[key] if option.get("type") != "null"]
            return example_of(options[0], schemas, request=request, depth=depth + 1)
    kinds = schema.get("type", "object")
    kind = next(kind for kind in kinds if kind != "null") if isinstance(kinds, list) else kinds
    if kind == "object":
        required = set(schema.get("required", ()))
        return {
            name: example_of(prop, schemas, request=request, depth=depth + 1)
            for name, prop in schema.get("properties", {}).items()
            if not request or name in required or _has_example(prop, schemas)
        }
    if kind == "array":
        items = schema.get("items", {})
        union = _resolve(items, schemas).get("oneOf")
        if union:  # one item of each kind
            return [example_of(option, schemas, request=request, depth=depth + 1) for option in union]
        count = max(1, schema.get("minItems", 1))
        return [example_of(items, schemas, request=request, depth=depth + 1)] * count
    if kind == "string" and schema.get("format") in EXAMPLE_BY_FORMAT:
        return EXAMPLE_BY_FORMAT[schema["format"]]
    if kind in ("integer", "number") and "minimum" in schema:
        return schema["minimum"]
    return EXAMPLE_BY_TYPE[kind]


def _resolve(schema, schemas):
    """Follow $refs to the schema they name, stopping at one with an example of its own."""
    while "$ref" in schema and "example" not in schema:
        schema = schemas[schema["$ref"][len(REF_PREFIX) :]]
    return schema


def _has_example(prop, schemas):
    return "example" in _resolve(prop, schemas)
