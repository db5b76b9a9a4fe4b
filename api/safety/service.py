"""Safety events as the care team and the patient read them, and the care team's
acknowledgements (API.md §5).

A therapist sees a patient's events only through an active link with the `assessments` scope,
checked in SQL in every statement that reads them: a revoked link or a withdrawn scope hides
them on the very next request. Every read, acknowledgement and refused attempt is audited in
the request's unit of work.
"""

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from api.assessments.safety import MAX_ACKNOWLEDGEMENTS
from api.assessments.safety_models import SafetyAcknowledgement, SafetyEvent, SafetyStatus
from api.audit import service as audit
from api.audit.models import SAFETY_EVENT, Action, Outcome
from api.care_team.service import patients_sharing, shared_with
from api.errors import Conflict, NotFound, NotShared
from api.extensions import db
from api.kinds import assessments, scope_of
from api.models import utcnow
from api.pagination import fetch_page
from api.records import hold_account, list_page

SCOPE = scope_of(assessments)  # a safety event is shared as its assessment is


class TrailFull(Conflict):
    def __init__(self):
        super().__init__(f"This event already has {MAX_ACKNOWLEDGEMENTS} acknowledgements.")


def status_filter(status):
    if status == SafetyStatus.OPEN:
        return SafetyEvent.acknowledged_at.is_(None)
    return SafetyEvent.acknowledged_at.is_not(None)


def shared_events(therapist_id):
    """The live events the therapist may see, scoped in SQL, with the patient each names."""
    return (
        select(SafetyEvent)
        .options(selectinload(SafetyEvent.patient))
        .where(
            SafetyEvent.owner_id.in_(patients_sharing(therapist_id=therapist_id, scope=SCOPE)),
            SafetyEvent.deleted_at.is_(None),
        )
    )


def _log(*, actor, patient_ids, action, allowed, request_id, event_id=None):
    audit.record(
        actor=actor,
        patient_ids=patient_ids,
        action=action,
        resource_type=SAFETY_EVENT,
        resource_id=event_id,
        outcome=Outcome.ALLOWED if allowed else Outcome.DENIED,
        request_id=request_id,
    )


def list_for_therapist(*, actor, status, patient_id, limit, after, request_id):
    """A page of the events of every patient sharing assessments with the therapist, newest
    first; one audit event for each patient shown."""
    query = shared_events(actor.id).where(status_filter(status))
    if patient_id is not None:
        # One patient's events: like any read of one patient, a refusal is the 404 of a patient
        # who does not exist, and it is in that patient's access log.
        allowed = db.session.execute(
            select(shared_with(therapist_id=actor.id, patient_id=patient_id, scope=SCOPE))
        ).scalar_one()
        if not allowed:
            _log(
                actor=actor,
                patient_ids=[patient_id],
                action=Action.LIST,
                allowed=False,
                request_id=request_id,
            )
            raise NotShared()
        query = query.where(SafetyEvent.owner_id == patient_id)
    events, more = fetch_page(
        query, time_column=SafetyEvent.time_column(), id_column=SafetyEvent.id, limit=limit, after=after
    )
    patients = list(dict.fromkeys(event.owner_id for event in events))
    if patients:
        _log(actor=actor, patient_ids=patients, action=Action.LIST, allowed=True, request_id=request_id)
    return events, more


def _owner_of(event_id):
    return db.session.scalar(select(SafetyEvent.owner_id).where(SafetyEvent.id == event_id))


def _find_shared(actor, event_id, *, fresh=False):
    query = shared_events(actor.id).where(SafetyEvent.id == event_id)
    if fresh:  # as it is now, not as this request read it before
        query = query.execution_options(populate_existing=True)
    return db.session.execute(query).scalar_one_or_none()


def _allowed(actor, event, *, action, request_id):
    _log(
        actor=actor,
        patient_ids=[event.owner_id],
        action=action,
        allowed=True,
        request_id=request_id,
        event_id=event.id,
    )
    return event


def _refused(actor, event_id, *, action, request_id):
    """The 404 of an event that does not exist. When it exists, its patient's access log keeps
    the attempt."""
    owner_id = _owner_of(event_id)
    if owner_id is not None:
        _log(
            actor=actor,
            patient_ids=[owner_id],
            action=action,
            allowed=False,
            request_id=request_id,
            event_id=event_id,
        )
    return NotShared()


def read_for_therapist(*, actor, event_id, request_id):
    """One event the therapist may see. Missing, deleted, unscoped or unlinked: the same 404."""
    event = _find_shared(actor, event_id)
    if event is None:
        raise _refused(actor, event_id, action=Action.READ, request_id=request_id)
    return _allowed(actor, event, action=Action.READ, request_id=request_id)


def replay_for_therapist(*, actor, event_id, request_id):
    """An acknowledgement's event again, for an Idempotency-Key replay: as it is now, the 404 of
    any read when it is no longer shared with the therapist, or (the 410 of a replay) gone when
    it was deleted with its assessment."""
    shared_patient = SafetyEvent.owner_id.in_(patients_sharing(therapist_id=actor.id, scope=SCOPE))
    deleted = db.session.scalar(
        select(SafetyEvent.deleted_at.is_not(None)).where(SafetyEvent.id == event_id, shared_patient)
    )
    if deleted:
        raise NotFound()
    return read_for_therapist(actor=actor, event_id=event_id, request_id=request_id)


def acknowledge(*, actor, event_id, note, request_id):
    """Record the therapist's acknowledgement: the first closes the event, later ones join its trail.

    The event must be shared with the therapist before anything is held. Then the therapist's
    account is held, then the patient's (records.hold_account; the order an erasure of the
    therapist takes them too), and the event is read again under them: two therapists
    acknowledging at once take turns and the second sees the first's acknowledgement, and a
    link revoked or a scope withdrawn meanwhile (which hold the patient's account too) is seen.
    Each acknowledgement changes the event the way an edit does, with a new version and sync
    number, so the patient's devices see it.
    """
    found = _find_shared(actor, event_id)
    if found is None or not hold_account(actor.id) or not hold_account(found.owner_id):
        raise _refused(actor, event_id, action=Action.ACKNOWLEDGE, request_id=request_id)
    event = _find_shared(actor, event_id, fresh=True)
    if event is None:  # unshared, deleted or erased meanwhile
        raise _refused(actor, event_id, action=Action.ACKNOWLEDGE, request_id=request_id)
    _allowed(actor, event, action=Action.ACKNOWLEDGE, request_id=request_id)
    if len(event.acknowledgements) >= MAX_ACKNOWLEDGEMENTS:
        raise TrailFull()
    now = utcnow()
    db.session.add(
        SafetyAcknowledgement(event_id=event.id, therapist_id=actor.id, acknowledged_at=now, note=note)
    )
    if event.acknowledged_at is None:
        event.acknowledged_at = now
    event.updated_at = now
    db.session.flush()
    db.session.expire(event, ["acknowledgements"])
    return event


def list_own(*, patient_id, status, limit, after):
    """A page of the patient's own events, newest first."""
    filters = () if status is None else (status_filter(status),)
    return list_page(SafetyEvent, owner_id=patient_id, filters=filters, limit=limit, after=after)
