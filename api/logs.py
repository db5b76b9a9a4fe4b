"""What the logs may hold: exception types, route templates, request ids and code locations.

Never SQL parameters, request bodies, query strings, tokens, passwords or journal text. An
exception's message can quote any of those (a database error quotes the row it refused), so a
failure is logged by its type and where it was raised, not by what it says. The engine hides
SQL parameters too (`hide_parameters`, config.py), for any log that does carry a message.
"""

import logging
import re
import sys
import traceback
from urllib.parse import quote, urlsplit

from flask import g, request
from gunicorn import glogging

log = logging.getLogger("api")

# "GET /v1/moods?tag=x HTTP/1.1" -> "GET /v1/moods HTTP/1.1"
QUERY_STRING = re.compile(r"\?[^ ]*")
# A logged path keeps these as they are; anything else (spaces, control characters, non-ASCII)
# is percent-encoded.
LOGGED_PATH_CHARACTERS = "/-._~:@!$&'()*+,;="
UNPARSEABLE_PREFIX = "Invalid request from ip="


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
    log.error(
        "unhandled %s in %s %s\n%s", exception_types(error), route(), request_ids(), code_locations(error)
    )


def refused_by_database(error, status):
    log.warning("database refused (%s) %s in %s %s", status, exception_types(error), route(), request_ids())


class GunicornLogger(glogging.Logger):
    """gunicorn's own logging, held to the same rule (gunicorn.conf.py sets `logger_class`).

    The access log gets the path percent-encoded (a decoded `%0A` would start a forged line)
    and never the query string, whatever the format asks for. A request gunicorn cannot parse
    is logged by the client's address and the kind of failure: gunicorn's message quotes the
    request line or header it refused, query string and all.
    """

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        # PATH_INFO holds the path's bytes as Latin-1 characters (PEP 3333): encode those bytes.
        path = quote((atoms["U"] or "").encode("latin-1", "replace"), safe=LOGGED_PATH_CHARACTERS)
        atoms.update(U=path, q="-", r=f"{atoms['m']} {path} {atoms['H']}")
        return atoms

    def warning(self, msg, *args, **kwargs):
        if isinstance(msg, str) and msg.startswith(UNPARSEABLE_PREFIX):
            client = msg[len(UNPARSEABLE_PREFIX) :].split(":", 1)[0]
            error = sys.exc_info()[1]
            kind = type(error).__name__ if error is not None else "unparseable request"
            msg = "Invalid request from ip=%s: %s (not quoted: it can hold a query string)"
            args = (client, kind)
        super().warning(msg, *args, **kwargs)

    def exception(self, msg, *args, **kwargs):
        """gunicorn's "Error handling request <method> <uri>": the path only, and the error by type."""
        error = sys.exc_info()[1]
        uri = urlsplit(str(args[-1])).path if args else ""
        super().error(
            "Error handling request %s: %s\n%s",
            quote(uri, safe=LOGGED_PATH_CHARACTERS),
            exception_types(error),
            code_locations(error) if error else "",
        )


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
