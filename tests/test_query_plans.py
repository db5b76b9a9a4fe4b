"""Lists are one index range scan on (owner, time, id), so a page costs the same however long
the journal (bench/README.md has the figures at 1,000,000+ rows)."""

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import event

from api import records
from api.assessments.models import Assessment
from api.contacts.models import Contact
from api.entries.models import Entry
from api.extensions import db
from api.kinds import SHARED, SYNCED
from api.moods.models import Mood
from api.practices.models import Practice
from api.sessions.models import Session


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
            plan = " ".join(
                str(row) for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            )
            assert f"ix_{model.__tablename__}_owner_time" in plan, plan
            assert "TEMP B-TREE" not in plan, "the ORDER BY must come from the index, not a sort"
        else:
            # Tests run on near-empty tables, whose statistics make any plan look cheap: ask
            # whether the index can serve the page in order, as it does at scale.
            connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
            connection.exec_driver_sql("SET LOCAL enable_sort = off")
            plan = " ".join(row[0] for row in connection.exec_driver_sql(f"EXPLAIN {statement}", parameters))
            assert f"ix_{model.__tablename__}_owner_time" in plan, plan
            assert "Sort" not in plan, plan
        db.session.rollback()


def plan_of(statement, parameters):
    connection = db.session.connection()
    if db.engine.dialect.name == "sqlite":
        plan = " ".join(
            str(row) for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
        )
        return plan, "TEMP B-TREE"
    # Tests run on near-empty tables, where any plan is cheap; ask whether the index can serve
    # the page in order, as it does at scale (bench/README.md).
    connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    connection.exec_driver_sql("SET LOCAL enable_bitmapscan = off")
    connection.exec_driver_sql("SET LOCAL enable_sort = off")
    return " ".join(row[0] for row in connection.exec_driver_sql(f"EXPLAIN {statement}", parameters)), "Sort"


def assert_range_scan(app, run, index):
    with app.app_context():
        statement, parameters = executed_statement(app, run)
        plan, sort = plan_of(statement, parameters)
        assert index in plan, plan
        assert sort not in plan, "the ORDER BY must come from the index, not a sort: " + plan
        db.session.rollback()


@pytest.mark.parametrize("kind", SHARED, ids=lambda kind: kind.sharing.scope)
@pytest.mark.parametrize("deep", [False, True])
def test_a_therapists_page_of_shared_records_is_an_index_range_scan(app, kind, deep):
    """Entries use the partial index of shared entries, so private ones cost nothing to skip."""
    from api.pagination import fetch_page
    from api.patients.service import shared_records

    model = kind.model
    after = (datetime(2026, 1, 1, tzinfo=UTC), uuid.uuid4()) if deep else None
    therapist_id, patient_id = uuid.uuid4(), uuid.uuid4()
    index = "ix_entries_owner_shared_time" if model is Entry else f"ix_{model.__tablename__}_owner_time"
    assert_range_scan(
        app,
        lambda: fetch_page(
            shared_records(kind, therapist_id=therapist_id, patient_id=patient_id),
            time_column=model.time_column(),
            id_column=model.id,
            limit=20,
            after=after,
        ),
        index,
    )


@pytest.mark.parametrize("deep", [False, True])
def test_the_access_log_and_care_team_lists_are_index_range_scans(app, deep):
    from api.audit import service as audit
    from api.care_team import service as care_team

    after = (datetime(2026, 1, 1, tzinfo=UTC), uuid.uuid4()) if deep else None
    someone = uuid.uuid4()
    assert_range_scan(
        app,
        lambda: audit.access_log(patient_id=someone, limit=20, after=after),
        "ix_audit_events_patient_time",
    )
    assert_range_scan(
        app,
        lambda: care_team.list_links(patient_id=someone, limit=20, after=after),
        "ix_care_links_patient_created",
    )
    assert_range_scan(
        app,
        lambda: care_team.list_invitations(therapist_id=someone, limit=20, after=after),
        "ix_invitations_therapist_created",
    )


def test_a_sync_page_reads_every_table_through_its_sync_index(app):
    """The feed's one statement is a range scan of ix_<table>_owner_sync per kind; only the
    merge of those few rows (at most limit + 1 from each) is sorted."""
    from api.sync import service as sync

    with app.app_context():
        statement, parameters = executed_statement(
            app, lambda: sync.changes_since(owner_id=uuid.uuid4(), after_seq=150_000, limit=100)
        )
        assert statement.count("UNION ALL") == len(SYNCED) - 1, statement
        plan, _ = plan_of(statement, parameters)
        for synced in SYNCED:
            assert f"ix_{synced.model.__tablename__}_owner_sync" in plan, plan
        db.session.rollback()


@pytest.mark.parametrize("synced", SYNCED, ids=lambda synced: synced.sync_type)
def test_a_sync_page_loads_each_type_by_its_sync_index(app, synced):
    """After the positions, each type's records on the page are read by the page's range of
    sequence numbers: a range scan of ix_<table>_owner_sync, whatever the journal's size."""
    from api.sync import service as sync

    bounds = {"owner_id": uuid.uuid4(), "after_seq": 150_000, "last_seq": 150_100}
    with app.app_context():
        statement, parameters = executed_statement(
            app, lambda: list(sync.LOADS[synced.sync_type].load(bounds))
        )
        plan, _ = plan_of(statement, parameters)
        assert f"ix_{synced.model.__tablename__}_owner_sync" in plan, plan
        db.session.rollback()
