"""Writing audit events, and reading a patient's access log."""

from sqlalchemy import event, insert, select

from api.audit.models import AuditEvent
from api.connections import ALONE
from api.extensions import db
from api.pagination import fetch_page

WRITE_EVENTS = insert(AuditEvent)


PENDING = "audit_events"  # the session's events not yet written (Session.info)


def record(*, actor, patient_ids, action, resource_type, outcome, request_id, resource_id=None):
    """Write one event per patient as the request's transaction commits.

    An allowed read's events commit with the request, before its response leaves: a read that
    cannot be logged does not happen. A refused read raises a Problem whose `keep_writes` makes
    its event commit although the answer is a 404 (see api/transactions.py).

    The events go out in one Core INSERT (built once) right before the COMMIT, not when the read
    happens: an event is never read back or changed in its request, and written first it made a
    read a write transaction from that moment, holding SQLite's one write lock (and a
    PostgreSQL transaction) through the rest of the request: the page's dump and its JSON. So an
    event's `occurred_at` is when its request committed, the moment the data was let go. A
    request that wrote nothing else sends its one event as a transaction of its own
    (api/connections.py's ALONE; on SQLite, with the events of other reads waiting at the same
    moment); with other writes, or several events, they commit together in one. A transaction
    that rolls back forgets them (`_forget`). Inside a savepoint (none in the API today) the
    events are written at once, to go or stay with it.
    """
    if not patient_ids:
        return
    events = [
        {
            "actor_id": actor.id,
            "actor_role": actor.role.value,
            "patient_id": patient_id,
            "action": action,
            "resource_type": resource_type,
            "resource_id": resource_id,
            "outcome": outcome,
            "request_id": request_id,
        }
        for patient_id in patient_ids
    ]
    connection = db.session.connection()  # begins the session's transaction, whose end forgets them
    if db.session().in_nested_transaction():
        connection.execute(WRITE_EVENTS, events)
        return
    db.session.info.setdefault(PENDING, []).extend(events)


@event.listens_for(db.session, "before_commit")
def _write(session):
    if session.in_nested_transaction():
        return  # a savepoint's release: the events wait for the commit of the transaction
    events = session.info.pop(PENDING, None)
    if not events:
        return
    if len(events) == 1 and not (session.new or session.dirty or session.deleted):
        # A read's one event, with nothing else to write: a transaction of its own, with no
        # BEGIN or COMMIT (api/connections.py). It is the request's last statement, so it
        # stands where a COMMIT would: nothing the request does after it can fail and undo it,
        # and an answer lost on the way back (a 503) leaves the event written, as a lost answer
        # to a COMMIT would. A list of one would take the driver's executemany path, so the
        # event goes out as one statement.
        session.connection().execute(WRITE_EVENTS, events[0], execution_options={ALONE: True})
        return
    session.connection().execute(WRITE_EVENTS, events)


@event.listens_for(db.session, "after_transaction_end")
def _forget(session, transaction):
    if transaction.parent is None:  # the session's own transaction, not a savepoint in it
        session.info.pop(PENDING, None)


def access_log(*, patient_id, filters=(), limit, after=None):
    """The events about one patient, newest first (served by ix_audit_events_patient_time)."""
    query = select(AuditEvent).where(AuditEvent.patient_id == patient_id, *filters)
    return fetch_page(
        query, time_column=AuditEvent.occurred_at, id_column=AuditEvent.id, limit=limit, after=after
    )
