"""One unit of work per request: what a request writes commits once, here, or not at all.

Services add and flush; none of them commits. Every view runs inside `in_one_transaction`: once
its response is built, a success (below 400) commits and anything else rolls back. So a record
and whatever must be true with it (its sync number, its stored idempotent answer, an audit
event, a second record) commit together without any service having to remember it, and a
failed request changes nothing. A refusal that is itself a fact to record raises a Problem with
`keep_writes` (api/errors.py), and what the request wrote before refusing commits.

A commit the database refuses becomes the error handlers' 503 or 409: the response that was
built never leaves, so no data is shown that was not committed (an audit event) and no write is
acknowledged that did not happen. `unit_of_work` is the same rule for command-line tasks.
"""

from contextlib import contextmanager
from functools import wraps

from flask import current_app, request

from api.errors import Problem
from api.extensions import db


def in_one_transaction(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        # HEAD runs its GET's view (Flask) but sends no body: nothing was read, so nothing it
        # wrote (a read's audit event) is kept.
        keeps = request.method != "HEAD"
        try:
            response = current_app.make_response(view(*args, **kwargs))
        except Problem as problem:
            finish(commit=keeps and problem.keep_writes)
            raise
        except BaseException:
            db.session.rollback()
            raise
        finish(commit=keeps and response.status_code < 400)
        return response

    return wrapper


def finish(*, commit):
    if commit:
        db.session.commit()
    else:
        db.session.rollback()


@contextmanager
def unit_of_work():
    """Commit what the block wrote if it ends normally; roll it back if it raises."""
    try:
        yield
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()


def init_app(app):
    """Wrap every registered view (after the blueprints, before the rate limits)."""
    for endpoint, view in list(app.view_functions.items()):
        app.view_functions[endpoint] = in_one_transaction(view)
