"""The request body at the edge: read and parsed once, with limits on size, nesting, numbers and text.

Everything that looks at a JSON body (the argument parser, the Idempotency-Key fingerprint, the
per-e-mail sign-in limit) reads it through `json_body`, so a body that would break one of them
is refused once, the same way, before any of them runs: 413 over MAX_CONTENT_LENGTH (chunked
bodies too), 400 for what is not JSON we accept, 422 for text no field may hold.
"""

import json
import re
from collections import deque

from flask import g, request
from gunicorn.http.errors import ParseException
from werkzeug.exceptions import RequestEntityTooLarge

from api.errors import Problem, ValidationFailed

# The deepest body any operation takes is three levels (a session's list of vitals readings).
MAX_DEPTH = 10
# Big enough for any integer a field accepts; Python would otherwise parse thousands of digits.
MAX_INTEGER_DIGITS = 20
# NUL (which PostgreSQL cannot store in text) and UTF-16 surrogates that are not part of a pair.
FORBIDDEN_TEXT = re.compile("[\x00\ud800-\udfff]")
FORBIDDEN_TEXT_MESSAGE = "Text may not contain NUL characters or unpaired UTF-16 surrogates."


class UnreadableBody(Problem):
    status = 400

    def __init__(self, detail="The request body is not valid JSON."):
        super().__init__(detail)


class NumberTooLarge(UnreadableBody):
    def __init__(self):
        super().__init__(f"The request body holds an integer of more than {MAX_INTEGER_DIGITS} digits.")


def has_body():
    return bool(request.content_length) or "chunked" in request.headers.get("Transfer-Encoding", "").lower()


def transfer_codings():
    return [
        coding.strip().lower()
        for coding in request.headers.get("Transfer-Encoding", "").split(",")
        if coding.strip()
    ]


def raw_body():
    """The body's bytes; 413 when it is longer than MAX_CONTENT_LENGTH, chunked or not.

    Werkzeug refuses a Content-Length over the limit, but stops reading a chunked body at the
    limit and returns what it read; whether more was sent is only known from the input itself.
    """
    if any(coding != "chunked" for coding in transfer_codings()):
        # The server undoes only the chunking: a body in another transfer coding cannot be read.
        raise UnreadableBody("The only Transfer-Encoding accepted is chunked.")
    try:
        data = request.get_data(cache=True)
    except (OSError, ParseException):
        # The server could not decode the body's framing (a chunk size that is not hex, a chunk
        # without its terminator): gunicorn raises ParseException, werkzeug's server OSError.
        raise UnreadableBody("The request body could not be read: its chunked encoding is broken.") from None
    if request.content_length is not None and len(data) < request.content_length:
        # The client stopped sending early: what arrived is not the body it announced.
        raise UnreadableBody("The request body is shorter than its Content-Length.")
    limit = request.max_content_length
    chunked_to_the_limit = request.content_length is None and limit is not None and len(data) >= limit
    if chunked_to_the_limit and request.environ["wsgi.input"].read(1):
        raise RequestEntityTooLarge()
    return data


def _bounded_integer(text):
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise NumberTooLarge()
    return int(text)


def _no_constant(name):
    raise UnreadableBody(f"The request body holds {name}, which is not a JSON number.")


def _parse(raw):
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UnreadableBody("The request body is not UTF-8.") from None
    try:
        value = json.loads(text, parse_int=_bounded_integer, parse_constant=_no_constant)
    except RecursionError:
        raise UnreadableBody(f"The request body is nested more than {MAX_DEPTH} levels deep.") from None
    except ValueError:
        raise UnreadableBody() from None
    _check_depth(value)
    if "\\u" in text:  # NUL and surrogates can only arrive escaped
        _check_text(value)
    return value


def _check_depth(value):
    pending = [(value, 1)] if isinstance(value, (dict, list)) else []
    while pending:
        node, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise UnreadableBody(f"The request body is nested more than {MAX_DEPTH} levels deep.")
        children = node.values() if isinstance(node, dict) else node
        pending.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))


def forbidden_text(value):
    return isinstance(value, str) and FORBIDDEN_TEXT.search(value) is not None


def _check_text(value):
    """422 naming each place where a string holds NUL or a lone surrogate (nested as marshmallow nests)."""
    errors: dict = {}

    def report(path):
        node = errors
        for step in path[:-1]:
            node = node.setdefault(step, {})
        node.setdefault(path[-1], []).append(FORBIDDEN_TEXT_MESSAGE)

    # First in, first out: problems are listed in document order.
    pending: deque[tuple[object, tuple]] = deque([(value, ())])
    while pending:
        node, path = pending.popleft()
        if isinstance(node, dict):
            for key, child in node.items():
                if forbidden_text(key):
                    report((*path, "_schema"))
                else:
                    pending.append((child, (*path, key)))
        elif isinstance(node, list):
            pending.extend((child, (*path, index)) for index, child in enumerate(node))
        elif forbidden_text(node):
            report(path or ("_schema",))
    if errors:
        raise ValidationFailed(errors=errors)


def json_body():
    """The parsed JSON body, or None when the request has none. Parsed once per request; a
    body that cannot be accepted raises the same problem to every caller."""
    if "json_body" not in g:
        try:
            g.json_body = (_parse(raw_body()) if has_body() else None), None
        except (Problem, RequestEntityTooLarge) as refused:
            g.json_body = None, refused
    value, problem = g.json_body
    if problem is not None:
        raise problem
    return value
