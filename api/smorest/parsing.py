"""How operations read their arguments: JSON bodies only, through api.body's limits; unknown
fields are errors in every location; an operation without a body refuses one."""

from functools import wraps

import marshmallow as ma
from webargs.core import is_json
from webargs.flaskparser import FlaskParser

from api.body import FORBIDDEN_TEXT_MESSAGE, forbidden_text, has_body, json_body, raw_body
from api.errors import Problem, ValidationFailed
from api.smorest.conventions import document_responses


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
        errors = {
            name: [FORBIDDEN_TEXT_MESSAGE]
            for name, values in req.args.lists()
            if any(map(forbidden_text, values))
        }
        if errors:
            raise ValidationFailed(errors=errors)
        return super().load_querystring(req, schema)


def takes_no_body(func):
    """For operations without a request body: a body sent anyway is a 422, as an unknown field
    would be, not silently ignored. Goes right below auth_required."""

    @wraps(func)
    def wrapper(*args, **kwargs):
        if has_body() and raw_body():
            raise ValidationFailed("_schema", "This operation takes no request body.")
        return func(*args, **kwargs)

    return document_responses(422)(wrapper)
