"""The problem+json bodies as the spec documents them, typed per use (errors.py builds them).

Every error is a `Problem`. A 422 is a `ValidationProblem`, whose `errors` say what is wrong with
each field; a 412 on a versioned record is that resource's `<Record>PreconditionFailed`, whose
`current` is the record as it is now, so a generated client reads it without a cast.
"""

import marshmallow as ma

TEXT_LIMIT = 500


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details."""

    type = ma.fields.String(
        required=True,
        validate=ma.validate.Length(max=200),
        metadata={"format": "uri", "description": "Stable URI naming the kind of problem."},
    )
    title = ma.fields.String(required=True, validate=ma.validate.Length(max=200))
    status = ma.fields.Integer(required=True, validate=ma.validate.Range(400, 599))
    detail = ma.fields.String(required=True, validate=ma.validate.Length(max=1000))


PROBLEM = "Problem"


def schema_ref(name):
    """A reference to the component schema `name`."""
    return {"$ref": f"#/components/schemas/{name}"}


def register_schema(spec, name, schema):
    """Register a component, or check that the one already registered under that name is the same."""
    if name in spec.components.schemas:
        if spec.components.schemas[name] != schema:
            raise ValueError(f"two different schemas are both named {name}")
    else:
        spec.components.schema(name, schema)
    return schema_ref(name)


FIELD_ERRORS = {
    "type": "object",
    "description": "Messages per field. A nested field (an item of a list, a field of an object) has "
    "an object of its own errors, keyed by index or name.",
    "maxProperties": 100,
    "additionalProperties": {
        "anyOf": [
            {"type": "array", "maxItems": 50, "items": {"type": "string", "maxLength": TEXT_LIMIT}},
            schema_ref("FieldErrors"),
        ]
    },
    "example": {"mood": ["Must be greater than or equal to 1 and less than or equal to 10."]},
}
ERROR_COUNT = {
    "type": "integer",
    "format": "int32",
    "minimum": 1,
    "maximum": 1000000,
    "description": "Present when `errors` lists just the first 20 problems: how many there are in all.",
}


def _problem_with(spec, name, extra):
    """Register `name`: the Problem schema plus the properties of one use, `extra`, which are
    required unless their value says `"optional": True`."""
    problem = spec.components.schemas[PROBLEM]
    required = [key for key, prop in extra.items() if not prop.pop("optional", False)]
    schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {**problem["properties"], **extra},
        "required": sorted([*problem["required"], *required]),
    }
    return register_schema(spec, name, schema)


def register(spec):
    """Add FieldErrors and ValidationProblem beside the Problem schema already registered."""
    register_schema(spec, "FieldErrors", FIELD_ERRORS)
    _problem_with(
        spec,
        "ValidationProblem",
        {"errors": schema_ref("FieldErrors"), "error_count": {**ERROR_COUNT, "optional": True}},
    )


def precondition_failed_ref(spec, record_ref):
    """The `<Record>PreconditionFailed` schema for a record's $ref, registered on first use."""
    record_name = record_ref.rsplit("/", 1)[-1]
    current = {**schema_ref(record_name), "description": "The record as it is now."}
    return _problem_with(spec, f"{record_name}PreconditionFailed", {"current": current})
