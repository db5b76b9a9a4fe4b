"""The project's flask-smorest layer: an Api whose spec follows our conventions and whose HTTP
errors are problem+json, and a Blueprint whose arguments are parsed our way.

conventions.py says what every operation documents, parsing.py how arguments are read, and
etags.py how record versions guard reads and writes.
"""

import flask_smorest
import marshmallow as ma

from api.errors import http_exception_response
from api.smorest import shapes
from api.smorest.conventions import ConventionsPlugin, MarshmallowPlugin, register_components
from api.smorest.parsing import Parser
from api.smorest.problems import ProblemSchema


class Api(flask_smorest.Api):
    ERROR_SCHEMA = ProblemSchema

    def __init__(self, app=None, **kwargs):
        spec_kwargs = kwargs.setdefault("spec_kwargs", {})
        spec_kwargs.setdefault("marshmallow_plugin", MarshmallowPlugin())
        spec_kwargs.setdefault("extra_plugins", [ConventionsPlugin()])
        super().__init__(app, **kwargs)

    def init_app(self, app, *, spec_kwargs=None):
        super().init_app(app, spec_kwargs=spec_kwargs)
        register_components(self.spec, self.ERROR_SCHEMA)

    def finish_spec(self):
        """Once every blueprint is registered: required and examples by direction (shapes.py)."""
        shapes.finish(self.spec)

    def handle_http_exception(self, error):
        return http_exception_response(error)


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = Parser()

    def arguments(self, schema, *args, **kwargs):
        """As flask-smorest's, with a schema class made an instance once, here: webargs would
        build one (deep-copying every field) on every request. Loading keeps no state in the
        instance, so the requests of every thread share it."""
        if isinstance(schema, type) and issubclass(schema, ma.Schema):
            schema = schema()
        return super().arguments(schema, *args, **kwargs)
