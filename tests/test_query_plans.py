"""Lists are one index range scan on (owner, time, id), so a page costs the same however long
the journal (bench/README.md has the figures at 1,000,000+ rows)."""

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import event

from api import records
from api.contacts.models import Contact
from api.entries.models import Entry
from api.extensions import db
from api.moods.models import Mood
from api.practices.models import Practice
from api.sessions.models import Session
from api.assessments.models import Assessment


def executed_statement(app, run):
    """The SQL and driver parameters that `run` sends, captured as they leave SQLAlchemy."""
    captured = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        captured.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        run()
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    return captured[-1]


@pytest.mark.parametrize("model", [Mood, Entry, Session, Contact, Practice, Assessment])
@pytest.mark.parametrize("deep", [False, True])
def test_a_page_is_an_index_range_scan(app, model, deep):
    after = (datetime(2026, 1, 1, tzinfo=UTC), uuid.uuid4()) if deep else None
    with app.app_context():
        statement, parameters = executed_statement(
            app, lambda: records.list_page(model, owner_id=uuid.uuid4(), limit=20, after=after)
        )
        connection = db.session.connection()
        if db.engine.dialect.name == "sqlite":
            plan = " ".join(str(row) for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters))
            assert f"ix_{model.__tablename__}_owner_time" in plan, plan
            assert "TEMP B-TREE" not in plan, "the ORDER BY must come from the index, not a sort"
        else:
            connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
            plan = " ".join(row[0] for row in connection.exec_driver_sql(f"EXPLAIN {statement}", parameters))
            assert f"ix_{model.__tablename__}_owner_time" in plan, plan
            assert "Sort" not in plan, plan
        db.session.rollback()
