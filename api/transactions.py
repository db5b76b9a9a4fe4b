"""One unit of work per request: what a request writes commits once, together, or not at all.

Every view runs inside `in_one_transaction`: once the response is built, a success (below 400)
commits and anything else rolls back. Creates add and flush (records.create_owned, care-team
redeem), so a record and whatever must be true with it (its sync number, its stored idempotent
answer) commit in this one transaction. A commit the database refuses becomes the error
handlers' 503 or 409, never a half-made write.

Not every service is there yet: updates, deletes (records.commit_versioned, which turns a lost
race into a 412), sign-in, invitations, acknowledgements and audit events still commit where
they are, and this commit then has nothing left to do. A create must not commit on its own: that
would split it from its idempotent answer, and end the PostgreSQL advisory lock that holds its key.
"""

from functools import wraps

from flask import current_app

from api.extensions import db


def in_one_transaction(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        try:
            response = current_app.make_response(view(*args, **kwargs))
        except BaseException:
            db.session.rollback()
            raise
        if response.status_code < 400:
            db.session.commit()
        else:
            db.session.rollback()
        return response

    return wrapper


def init_app(app):
    """Wrap every registered view (after the blueprints, before the rate limits)."""
    for endpoint, view in list(app.view_functions.items()):
        app.view_functions[endpoint] = in_one_transaction(view)
