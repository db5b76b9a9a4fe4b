"""What a therapist may read of a patient: shared records through an active care-team link, each
read (and each refused attempt) written to the audit log, in the same unit of work as the read.

Who may see a record is three rules, each kept by its owner and put together here, in SQL: the
record is live (api/records.py), the therapist holds an active link granting the kind's scope
(api/care_team/service.py), and it meets the kind's own condition (its Sharing.when, e.g. an
entry's visibility).
"""

from sqlalchemy import Integer, Select, bindparam, func, select
from sqlalchemy.orm import joinedload, lazyload

from api import kinds
from api.accounts.models import User
from api.assessments.models import Assessment
from api.assessments.safety_models import SafetyEvent
from api.assessments.scoring import Instrument
from api.audit import service as audit
from api.audit.models import INTEGRATION_PLAN, PATIENT_SUMMARY, Action, Outcome
from api.care_team.models import CareLink
from api.care_team.service import grants, shared_with
from api.entries import service as entries
from api.errors import NotShared, PreconditionFailed
from api.extensions import db
from api.moods.models import Mood
from api.pagination import fetch_page, keyset
from api.patients.schemas import OPEN_SAFETY_EVENTS_SHOWN
from api.plans import service as plans
from api.plans.models import PLAN_SCOPE
from api.records import hold_account, live

# The measures the patient list shows the latest of (API.md §4), by value: Instrument's members
# come from the registry, so mypy cannot name them.
PHQ9, GAD7 = Instrument("phq9"), Instrument("gad7")


def shared_records(kind, *, therapist_id, patient_id):
    """The patient's live records of this kind that the therapist may see, scoped in SQL."""
    sharing = kind.sharing
    return live(kind.model, patient_id).where(
        shared_with(therapist_id=therapist_id, patient_id=patient_id, scope=sharing.scope), *sharing.when
    )


_SHARED_FIRST_PAGES: dict[tuple[str, str], Select] = {}


def _shared_first_page(kind):
    """The first page of shared_records, built once per kind and dialect (the scope test is
    written per dialect, api/jsonlists.py) with the therapist, the patient and the page size as
    parameters: building it on each request cost as much as running it."""
    key = (kind.sync_type, db.engine.dialect.name)
    if key not in _SHARED_FIRST_PAGES:
        query = shared_records(kind, therapist_id=bindparam("therapist"), patient_id=bindparam("patient"))
        page_size = bindparam("page_size", type_=Integer)
        _SHARED_FIRST_PAGES[key] = keyset(
            query, time_column=kind.model.time_column(), id_column=kind.model.id, limit=page_size
        )
    return _SHARED_FIRST_PAGES[key]


def _log(kind, *, actor, patient_id, action, resource_id=None, allowed, request_id):
    audit.record(
        actor=actor,
        patient_ids=[patient_id],
        action=action,
        resource_type=kind.sharing.audit_type,
        resource_id=resource_id,
        outcome=Outcome.ALLOWED if allowed else Outcome.DENIED,
        request_id=request_id,
    )


def list_shared(kind, *, actor, patient_id, filters, limit, after, request_id):
    """A page of shared records; 404 (and a `denied` event) without an active link and scope.

    The page's own WHERE holds the link and scope (shared_records), so a page with records
    shows they were shared when it was read, and only an empty page needs asking whether the
    link is there at all (an empty page, or the 404): the common read is the token check, the
    page and its audit event, no more. The event commits with the request, before the page
    leaves, as ever.
    """
    model = kind.model
    if not filters and after is None:  # the first page, unfiltered: what a therapist opens most
        rows = (
            db.session.execute(
                _shared_first_page(kind), {"therapist": actor.id, "patient": patient_id, "page_size": limit}
            )
            .scalars()
            .all()
        )
        rows, more = rows[:limit], len(rows) > limit
    else:
        query = shared_records(kind, therapist_id=actor.id, patient_id=patient_id).where(*filters)
        rows, more = fetch_page(
            query, time_column=model.time_column(), id_column=model.id, limit=limit, after=after
        )
    allowed = (
        bool(rows)
        or db.session.execute(
            select(shared_with(therapist_id=actor.id, patient_id=patient_id, scope=kind.sharing.scope))
        ).scalar_one()
    )
    _log(kind, actor=actor, patient_id=patient_id, action=Action.LIST, allowed=allowed, request_id=request_id)
    if not allowed:
        raise NotShared()
    return rows, more


def read_shared(kind, *, actor, patient_id, record_id, request_id, action=Action.READ):
    """One shared record; a missing, private, unscoped or unlinked one is the same 404."""
    model = kind.model
    record = db.session.execute(
        shared_records(kind, therapist_id=actor.id, patient_id=patient_id).where(model.id == record_id)
    ).scalar_one_or_none()
    _log(
        kind,
        actor=actor,
        patient_id=patient_id,
        action=action,
        resource_id=record_id,
        allowed=record is not None,
        request_id=request_id,
    )
    if record is None:
        raise NotShared()
    return record


def acknowledge_entry(*, actor, patient_id, entry_id, request_id):
    """Mark a shared entry read (the entries' rule: the first acknowledgement stands)."""
    entry = read_shared(
        kinds.entries,
        actor=actor,
        patient_id=patient_id,
        record_id=entry_id,
        request_id=request_id,
        action=Action.ACKNOWLEDGE,
    )
    return entries.acknowledge(entry, therapist=actor)


# --- the patient's integration plan ------------------------------------------------------------


class StalePlanShown(PreconditionFailed):
    """A 412 shows the plan as it is now: a read, whose audit event is kept."""

    keep_writes = True


def _plan_allowed(actor, patient_id):
    return db.session.execute(
        select(shared_with(therapist_id=actor.id, patient_id=patient_id, scope=PLAN_SCOPE))
    ).scalar_one()


def _log_plan(*, actor, patient_id, action, allowed, request_id):
    audit.record(
        actor=actor,
        patient_ids=[patient_id],
        action=action,
        resource_type=INTEGRATION_PLAN,
        outcome=Outcome.ALLOWED if allowed else Outcome.DENIED,
        request_id=request_id,
    )


def read_plan(*, actor, patient_id, request_id):
    """The patient's plan, with the `plan` scope; else the same 404 as for no such patient."""
    allowed = _plan_allowed(actor, patient_id)
    _log_plan(actor=actor, patient_id=patient_id, action=Action.READ, allowed=allowed, request_id=request_id)
    if not allowed:
        raise NotShared()
    return plans.plan_of(patient_id)


def set_plan(*, actor, patient_id, steps, request_id):
    """Set the patient's plan, with the `plan` scope (If-Match as for the patient's own change).

    The link is read first, so a therapist without it holds nothing of the patient's; then the
    patient's account is held and the link read again, as revoking a link or changing its scopes
    holds it: a change that commits after a revocation is refused by it. The access log
    gets an `update` (or, refused, a denied one); a 412 shows the plan, so it is logged as a
    `read`; a 428 shows and changes nothing, and is not logged.
    """
    allowed = (
        _plan_allowed(actor, patient_id) and hold_account(patient_id) and _plan_allowed(actor, patient_id)
    )
    if not allowed:
        _log_plan(
            actor=actor, patient_id=patient_id, action=Action.UPDATE, allowed=False, request_id=request_id
        )
        raise NotShared()
    try:
        plan = plans.set_plan(patient_id, steps, actor_id=actor.id)
    except PreconditionFailed as stale:
        _log_plan(actor=actor, patient_id=patient_id, action=Action.READ, allowed=True, request_id=request_id)
        raise StalePlanShown(stale.extra["current"]) from None
    _log_plan(actor=actor, patient_id=patient_id, action=Action.UPDATE, allowed=True, request_id=request_id)
    return plan


# --- the therapist's patient list -------------------------------------------------------------


def patient_summaries(*, actor, limit, after, request_id):
    """A page of the therapist's linked patients with what each one's scopes allow.

    A fixed number of queries per page, whatever its size: the links, then one query per kind
    of summary for all the page's patients. Each patient shown gets an audit event.
    """
    links, more = fetch_page(
        select(CareLink)
        .options(joinedload(CareLink.patient))
        .where(CareLink.therapist_id == actor.id, CareLink.revoked_at.is_(None)),
        time_column=CareLink.created_at,
        id_column=CareLink.id,
        limit=limit,
        after=after,
    )
    if links:
        audit.record(
            actor=actor,
            patient_ids=[link.patient_id for link in links],
            action=Action.LIST,
            resource_type=PATIENT_SUMMARY,
            outcome=Outcome.ALLOWED,
            request_id=request_id,
        )

    sharing_moods = [link.patient_id for link in links if grants(link, kinds.moods)]
    sharing_assessments = [link.patient_id for link in links if grants(link, kinds.assessments)]
    moods = _latest_per_patient(Mood, sharing_moods)
    phq9 = _latest_per_patient(Assessment, sharing_assessments, Assessment.instrument == PHQ9)
    gad7 = _latest_per_patient(Assessment, sharing_assessments, Assessment.instrument == GAD7)
    open_events = _open_safety_events(sharing_assessments)
    follow_up_rates = plans.recent_rates([link.patient_id for link in links if PLAN_SCOPE in link.scopes])

    summaries = [
        {
            "patient_id": link.patient_id,
            "display_name": link.patient.display_name,
            "link_id": link.id,
            "linked_at": link.created_at,
            "scopes": link.scopes,
            "latest_mood": moods.get(link.patient_id),
            "latest_phq9": phq9.get(link.patient_id),
            "latest_gad7": gad7.get(link.patient_id),
            "open_safety_events": open_events.get(link.patient_id, [])
            if grants(link, kinds.assessments)
            else None,
            "open_safety_flags": [as_flag(event) for event in open_events.get(link.patient_id, [])]
            if grants(link, kinds.assessments)
            else None,
            "follow_up_rate_14d": follow_up_rates.get(link.patient_id),
        }
        for link in links
    ]
    return links, more, summaries


def _latest_per_patient(model, patient_ids, *conditions):
    """{patient id: their newest live record of `model`}: one query, one index probe per patient."""
    if not patient_ids:
        return {}
    newest = (
        select(model.id)
        .where(model.owner_id == User.id, model.deleted_at.is_(None), *conditions)
        .order_by(model.time_column().desc(), model.id.desc())
        .limit(1)
        .correlate(User)
        .scalar_subquery()
    )
    ids = select(newest).select_from(User).where(User.id.in_(patient_ids))
    records = db.session.execute(select(model).where(model.id.in_(ids))).scalars()
    return {record.owner_id: record for record in records}


def _open_safety_events(patient_ids):
    """{patient id: their newest open safety events}, up to OPEN_SAFETY_EVENTS_SHOWN each, in one query."""
    if not patient_ids:
        return {}
    ranked = (
        select(
            SafetyEvent.id,
            func.row_number()
            .over(
                partition_by=SafetyEvent.owner_id,
                order_by=(SafetyEvent.created_at.desc(), SafetyEvent.id.desc()),
            )
            .label("rank"),
        )
        .where(
            SafetyEvent.owner_id.in_(patient_ids),
            SafetyEvent.deleted_at.is_(None),
            SafetyEvent.acknowledged_at.is_(None),
        )
        .subquery()
    )
    events = db.session.execute(
        select(SafetyEvent)
        .options(lazyload(SafetyEvent.acknowledgements))
        .join(ranked, ranked.c.id == SafetyEvent.id)
        .where(ranked.c.rank <= OPEN_SAFETY_EVENTS_SHOWN)
        .order_by(SafetyEvent.created_at.desc(), SafetyEvent.id.desc())
    ).scalars()
    by_patient: dict = {}
    for event in events:
        by_patient.setdefault(event.owner_id, []).append(event)
    return by_patient


def as_flag(event):
    """An open event as the older `open_safety_flags` showed it: its PHQ-9."""
    return {
        "id": event.assessment_id,
        "instrument": PHQ9,
        "score": event.score,
        "severity": event.severity,
        "safety_flag": True,
        "taken_at": event.occurred_at,
    }
