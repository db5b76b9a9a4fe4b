"""Writing audit events, and reading a patient's access log."""

from sqlalchemy import insert, select

from api.audit.models import AuditEvent
from api.extensions import db
from api.pagination import fetch_page

WRITE_EVENTS = insert(AuditEvent)


def record(*, actor, patient_ids, action, resource_type, outcome, request_id, resource_id=None):
    """Write one event per patient in the request's transaction.

    An allowed read's events commit with the request, before its response leaves: a read that
    cannot be logged does not happen. A refused read raises a Problem whose `keep_writes` makes
    its event commit although the answer is a 404 (see api/transactions.py). The INSERT goes out
    at once through Core (built once): an event is never read back or changed in the request,
    and the ORM's unit of work cost more than the statement on every therapist read.
    """
    if not patient_ids:
        return
    db.session.connection().execute(
        WRITE_EVENTS,
        [
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
        ],
    )


def access_log(*, patient_id, filters=(), limit, after=None):
    """The events about one patient, newest first (served by ix_audit_events_patient_time)."""
    query = select(AuditEvent).where(AuditEvent.patient_id == patient_id, *filters)
    return fetch_page(
        query, time_column=AuditEvent.occurred_at, id_column=AuditEvent.id, limit=limit, after=after
    )
