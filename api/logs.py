"""What the logs may hold: exception types, route templates, request ids and code locations.

Never SQL parameters, request bodies, query strings, tokens, passwords or journal text. An
exception's message can quote any of those (a database error quotes the row it refused), so a
failure is logged by its type and where it was raised, not by what it says. The engine hides
SQL parameters too (`hide_parameters`, config.py), for any log that does carry a message.
"""

import json
import logging
import os
import re
import socket
import sys
import time
import traceback
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

from flask import current_app, g, has_app_context, request
from flask.logging import default_handler
from gunicorn import glogging

log = logging.getLogger("api")
requests_log = logging.getLogger("api.requests")

HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})

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


def route_template():
    """The URL rule that matched (`/v1/entries/<uuid:entry_id>`), never the path; None without one."""
    return request.url_rule.rule if request.url_rule is not None else None


def route():
    return f"{logged_method()} {route_template() or '(no route)'}"


def logged_method():
    """The request's method when it is one of HTTP's; any other token a client made up is OTHER."""
    return request.method if request.method in HTTP_METHODS else "OTHER"


def exception_types(error):
    """`Outer <- Cause <- ...`: the chain of exception types, without their messages."""
    names, seen = [], set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        names.append(f"{type(error).__module__}.{type(error).__qualname__}")
        error = error.__cause__ or error.__context__
    return " <- ".join(names)


def frames(error):
    """Where the exception passed through, innermost last: `file:line:function`, no values."""
    return [
        f"{frame.filename}:{frame.lineno}:{frame.name}" for frame in traceback.extract_tb(error.__traceback__)
    ]


def code_locations(error):
    return "\n".join(f"  {frame}" for frame in frames(error))


_HOST: dict[int, str] = {}  # "host:pid" by process id: a forked worker names itself anew


def instance_name():
    """This process, as an operator finds it: INSTANCE_NAME, else host name and process id.

    The host name is asked once per process: asking is a system call that lets go of the GIL,
    and on every request line its thread then waited for the GIL behind the worker's others."""
    configured = current_app.config.get("INSTANCE_NAME") if has_app_context() else None
    if configured:
        return configured
    pid = os.getpid()
    name = _HOST.get(pid)
    if name is None:
        name = _HOST[pid] = f"{socket.gethostname()}:{pid}"
    return name


def user_id():
    """The subject of the token this request verified (the user's UUID), else None.

    flask-jwt-extended keeps the claims once the signature, claims and user lookup have all
    passed (the family is live); a token that failed any of them leaves nothing.
    """
    claims = g.get("_jwt_extended_jwt")
    return claims.get("sub") if isinstance(claims, dict) else None


def _request_fields():
    return {
        "request_id": g.get("request_id"),
        "client_request_id": g.get("client_request_id"),
        "method": logged_method(),
        "route": route_template(),
    }


def request_started():
    g.request_started = time.perf_counter()


def request_finished(status):
    """The request's one line: who (by id), which route, the status and how long it took."""
    fields = {
        "event": "request",
        **_request_fields(),
        "user_id": user_id(),
        "status": status,
        "duration_ms": None,
        "instance": instance_name(),
    }
    write_request_line(fields, g.get("request_started"))


def request_line_after_body(response):
    """A streamed response (the export) ends after the request does: its line is written when
    the server closes it, with the time its body took, and not at the request's end."""
    g.request_line_deferred = True
    fields = {
        "event": "request",
        **_request_fields(),
        "user_id": user_id(),
        "status": response.status_code,
        "duration_ms": None,
        "instance": instance_name(),
    }
    started = g.get("request_started")
    response.call_on_close(lambda: write_request_line(fields, started))


def request_line_deferred():
    return g.get("request_line_deferred", False)


def write_request_line(fields, started):
    if started is not None:
        fields["duration_ms"] = round((time.perf_counter() - started) * 1000, 2)
    route_text = fields["route"] or "(no route)"
    requests_log.info("%s %s %s", fields["method"], route_text, fields["status"], extra={"fields": fields})


def failure(event, error, *, level=logging.ERROR, **details):
    """A failure of this request: its type chain and code locations, never its message."""
    fields = {
        "event": event,
        **_request_fields(),
        **details,
        "exception": exception_types(error),
        "locations": frames(error),
        "instance": instance_name(),
    }
    log.log(
        level, "%s %s in %s %s", event, fields["exception"], route(), request_ids(), extra={"fields": fields}
    )


def unexpected_error(error):
    failure("error", error)


def refused_by_database(error, status):
    failure("database_refused", error, level=logging.WARNING, status=status)


class JsonFormatter(logging.Formatter):
    """One JSON object per line. A record of this project's code carries its `fields`; any other
    record (gunicorn's, a library's) gives its message. An attached exception is given by type
    and code locations: its message and traceback text can quote the data."""

    def format(self, record):
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        else:
            line.update(event="log", message=record.getMessage())
        if record.exc_info and record.exc_info[1] is not None and "exception" not in line:
            line.update(exception=exception_types(record.exc_info[1]), locations=frames(record.exc_info[1]))
        return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    """The same records, readable, for development (LOG_FORMAT=text); held to the same rule."""

    def format(self, record):
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            text = " ".join(
                f"{name}={value}"
                for name, value in fields.items()
                if value is not None and name != "locations"
            )
        else:
            text = record.getMessage()
        error = record.exc_info[1] if record.exc_info else None
        if error is not None:
            text = f"{text} ({exception_types(error)})\n{code_locations(error)}"
        elif isinstance(fields, dict) and fields.get("locations"):
            text = text + "\n" + "\n".join(f"  {frame}" for frame in fields["locations"])
        time_text = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        return f"{time_text} {record.levelname} {record.name} {text}"


FORMATTERS = {"json": JsonFormatter, "text": TextFormatter}


class WithoutRows(logging.Filter):
    """SQLAlchemy's engine log at DEBUG writes each row a query returns: journal text."""

    def filter(self, record):
        return not (isinstance(record.msg, str) and record.msg.startswith("Row "))


class GunicornLogger(glogging.Logger):
    """gunicorn's own logging, held to the same rule (gunicorn.conf.py sets `logger_class`).

    Its lines are JSON like the app's (LOG_FORMAT=json, the default outside development). The
    app writes each request's line, so gunicorn's access log is off (gunicorn.conf.py); if it is
    turned on, the path is percent-encoded (a decoded `%0A` would start a forged line) and never
    has its query string, whatever the format asks for. A request gunicorn cannot parse is logged
    by the client's address and the kind of failure: gunicorn's message quotes the request line
    or header it refused, query string and all.
    """

    def setup(self, cfg):
        super().setup(cfg)
        formatter = FORMATTERS[log_format_from_env()]()
        for handler in (*self.error_log.handlers, *self.access_log.handlers):
            handler.setFormatter(formatter)

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
            kwargs["extra"] = {"fields": {"event": "invalid_request", "client": client, "error": kind}}
        super().warning(msg, *args, **kwargs)

    def exception(self, msg, *args, **kwargs):
        """gunicorn's "Error handling request <method> <uri>": the path only, and the error by type."""
        error = sys.exc_info()[1]
        uri = urlsplit(str(args[-1])).path if args else ""
        path = quote(uri, safe=LOGGED_PATH_CHARACTERS)
        types = exception_types(error)
        locations = frames(error) if error else []
        super().error(
            "Error handling request %s: %s\n%s",
            path,
            types,
            "\n".join(f"  {frame}" for frame in locations),
            extra={
                "fields": {"event": "server_error", "path": path, "exception": types, "locations": locations}
            },
        )


class WithoutQueryStrings(logging.Filter):
    """For the development server's request log (werkzeug), which writes the request line."""

    def filter(self, record):
        if isinstance(record.args, tuple) and record.args and isinstance(record.args[0], str):
            record.args = (QUERY_STRING.sub("", record.args[0], count=1), *record.args[1:])
        return True


def log_format_from_env():
    """LOG_FORMAT for gunicorn's own logger, which starts before any app: json unless text."""
    return "text" if os.environ.get("LOG_FORMAT", "").lower() == "text" else "json"


def _add_filter_once(logger_name, kind):
    logger = logging.getLogger(logger_name)
    if not any(isinstance(existing, kind) for existing in logger.filters):
        logger.addFilter(kind())


def configure(level, log_format):
    """Every record of this process to stderr, one per line, in `log_format` (json or text).

    Replaces the handler an earlier app of this process installed, and Flask's own default
    handler, so each record is written once.
    """
    root = logging.getLogger()
    for handler in [handler for handler in root.handlers if getattr(handler, "journal", False)]:
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.journal = True  # type: ignore[attr-defined]
    handler.setFormatter(FORMATTERS[log_format]())
    root.addHandler(handler)
    root.setLevel(level)


def init_app(app):
    _add_filter_once("werkzeug", WithoutQueryStrings)
    _add_filter_once("sqlalchemy.engine.Engine", WithoutRows)
    if app.config["LOG_FORMAT"] not in FORMATTERS:
        raise RuntimeError(
            f"LOG_FORMAT must be one of {', '.join(FORMATTERS)}, not {app.config['LOG_FORMAT']!r}"
        )
    if not app.testing:  # the test suite captures records itself (pytest's caplog)
        app.logger.removeHandler(default_handler)
        configure(app.config["LOG_LEVEL"], app.config["LOG_FORMAT"])
