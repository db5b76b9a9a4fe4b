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
REQUIRED = ["detail", "status", "title", "type"]


def schema_ref(name):
    """A reference to the component schema `name`."""
    return {"$ref": f"#/components/schemas/{name}"}


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


def _problem_with(problem_properties, extra, required):
    """A flat problem schema: the Problem's properties plus those of one use."""
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {**problem_properties, **extra},
        "required": sorted([*REQUIRED, *required]),
    }


def validation_problem(problem_properties):
    return _problem_with(
        problem_properties,
        {
            "errors": schema_ref("FieldErrors"),
            "error_count": {
                "type": "integer",
                "format": "int32",
                "minimum": 1,
                "maximum": 1000000,
                "description": "Present when `errors` lists just the first 20 problems: how many "
                "there are in all.",
            },
        },
        ["errors"],
    )


def precondition_failed(problem_properties, record_name):
    return _problem_with(
        problem_properties,
        {"current": {**schema_ref(record_name), "description": "The record as it is now."}},
        ["current"],
    )


def register(spec):
    """Add FieldErrors and ValidationProblem beside the Problem schema already registered."""
    problem_properties = spec.components.schemas[PROBLEM]["properties"]
    spec.components.schema("FieldErrors", FIELD_ERRORS)
    spec.components.schema("ValidationProblem", validation_problem(problem_properties))


def precondition_failed_ref(spec, record_ref):
    """The `<Record>PreconditionFailed` schema for a record's $ref, registered on first use."""
    record_name = record_ref.rsplit("/", 1)[-1]
    name = f"{record_name}PreconditionFailed"
    if name not in spec.components.schemas:
        problem_properties = spec.components.schemas[PROBLEM]["properties"]
        spec.components.schema(name, precondition_failed(problem_properties, record_name))
    return schema_ref(name)
