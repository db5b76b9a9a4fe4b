"""What the logs may hold: exception types, route templates, request ids and code locations.

Never SQL parameters, request bodies, query strings, tokens, passwords or journal text. An
exception's message can quote any of those (a database error quotes the row it refused), so a
failure is logged by its type and where it was raised, not by what it says. The engine hides
SQL parameters too (`hide_parameters`, config.py), for any log that does carry a message.
"""

import logging
import re
import traceback

from flask import g, request

log = logging.getLogger("api")

# "GET /v1/moods?tag=x HTTP/1.1" -> "GET /v1/moods HTTP/1.1"
QUERY_STRING = re.compile(r"\?[^ ]*")


def request_ids():
    """The server's own id for this request and, when one was sent, the client's X-Request-ID."""
    ids = f"request_id={g.get('request_id', '-')}"
    client = g.get("client_request_id")
    return f"{ids} client_request_id={client}" if client else ids


def route():
    rule = request.url_rule.rule if request.url_rule is not None else "(no route)"
    return f"{request.method} {rule}"


def exception_types(error):
    """`Outer <- Cause <- ...`: the chain of exception types, without their messages."""
    names, seen = [], set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        names.append(f"{type(error).__module__}.{type(error).__qualname__}")
        error = error.__cause__ or error.__context__
    return " <- ".join(names)


def code_locations(error):
    """Where the exception passed through, innermost last: file, line and function, no values."""
    frames = traceback.extract_tb(error.__traceback__)
    return "\n".join(f"  {frame.filename}:{frame.lineno} in {frame.name}" for frame in frames)


def unexpected_error(error):
    log.error("unhandled %s in %s %s\n%s", exception_types(error), route(), request_ids(), code_locations(error))


def refused_by_database(error, status):
    log.warning("database refused (%s) %s in %s %s", status, exception_types(error), route(), request_ids())


class WithoutQueryStrings(logging.Filter):
    """For the development server's request log (werkzeug), which writes the request line."""

    def filter(self, record):
        if isinstance(record.args, tuple) and record.args and isinstance(record.args[0], str):
            record.args = (QUERY_STRING.sub("", record.args[0], count=1), *record.args[1:])
        return True


def init_app(app):
    werkzeug = logging.getLogger("werkzeug")
    if not any(isinstance(existing, WithoutQueryStrings) for existing in werkzeug.filters):
        werkzeug.addFilter(WithoutQueryStrings())
