"""Helpers shared by the tests."""

import threading
from contextlib import contextmanager

from sqlalchemy import event

from api.extensions import db

PASSWORD = "correct horse battery staple"


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def assert_problem(response, status, type_suffix=None):
    """Every error is problem+json with type/title/status/detail."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == status
    if type_suffix:
        assert body["type"].endswith("/" + type_suffix), body["type"]
    return body


@contextmanager
def meanwhile(app, when, then, *, at="before_cursor_execute"):
    """Within the block, the first time this thread sends a statement for which `when(statement)`
    holds, run `then()` in another thread (its own request, its own connection) to its end:
    before that statement goes out, or just after it with at="after_cursor_execute"."""
    this_thread, ran = threading.get_ident(), []

    def hook(conn, cursor, statement, *rest):
        if threading.get_ident() == this_thread and not ran and when(statement):
            ran.append(True)
            other = threading.Thread(target=then)
            other.start()
            other.join()

    with app.app_context():
        engine = db.engine
    event.listen(engine, at, hook)
    try:
        yield ran
    finally:
        event.remove(engine, at, hook)
