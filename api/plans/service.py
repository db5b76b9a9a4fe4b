"""Plan and follow-up rules. Services add and flush; the request's unit of work commits.

A session's follow-ups are made, moved and removed in the unit of work that records, edits or
deletes the session (the sessions kind's hooks), and completed in the one that creates the
completing record (the other kinds' hooks), so a phone never sees a session without them or a
record whose follow-up is still open.
"""

import statistics
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import or_, select

from api.accounts.models import User
from api.errors import NotFound, ValidationFailed
from api.extensions import db
from api.models import utcnow
from api.plans.data import default_plan_data, prompt_for_day, prompt_texts
from api.plans.models import FollowUp, FollowUpStatus, IntegrationPlan, StepKind
from api.plans.schemas import WINDOW_HOURS, PlanSchema, step_key
from api.records import OwnerErased, flush_versioned, hold_account, list_page, live, time_range
from api.smorest.etags import require_if_match

WINDOW = timedelta(hours=WINDOW_HOURS)

# --- the plan ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DefaultPlan:
    """The plan of a patient who has none of their own: version 1, so its ETag guards the first
    change like any other (a stored plan starts at version 2)."""

    steps: list
    version: int = 1
    is_default: bool = True
    updated_at: None = None
    updated_by: None = None


def default_plan():
    return DefaultPlan(steps=sorted_steps(default_plan_data()["steps"]))


def sorted_steps(steps):
    return sorted(({**step} for step in steps), key=step_key)


def plan_of(patient_id):
    """The patient's own plan, else the default one."""
    plan = db.session.get(IntegrationPlan, patient_id, populate_existing=True)
    return plan if plan is not None else default_plan()


def set_plan(patient_id, steps, *, actor_id):
    """Replace the patient's plan; needs If-Match with its current ETag (428/412).

    The patient's account is held first (records.hold_account), so two changes of one plan take
    turns and the second finds the first's version: the loser's If-Match is stale (412), never a
    lost update. Sessions already recorded keep their follow-ups; the plan applies to the next.
    """
    if not hold_account(patient_id):
        raise OwnerErased()
    current = plan_of(patient_id)
    require_if_match(current, PlanSchema())
    steps = sorted_steps(steps)
    if isinstance(current, DefaultPlan):  # no row yet, and none can come while the account is held
        plan = IntegrationPlan(patient_id=patient_id, steps=steps, updated_by_id=actor_id)
        db.session.add(plan)
        db.session.flush()
        return plan
    current.steps = steps
    current.updated_by_id = actor_id
    flush_versioned(current, PlanSchema().dump)
    db.session.refresh(current, ["updated_by"])
    return current


def forget_author(person_id):
    """Before an account is erased: it leaves `updated_by` of every other patient's plan it set.

    Each plan changes as an edit does (a new version, so a device's copy is stale), the patients'
    accounts held one by one in one order, as the acknowledgements' erasure does
    (assessments/safety.py). A patient's own plan goes with their account.
    """
    authored = (
        select(IntegrationPlan.patient_id)
        .where(IntegrationPlan.updated_by_id == person_id, IntegrationPlan.patient_id != person_id)
        .order_by(IntegrationPlan.patient_id)
    )
    patients = [
        patient_id for patient_id in db.session.execute(authored).scalars() if hold_account(patient_id)
    ]
    if not patients:
        return
    plans = db.session.execute(
        select(IntegrationPlan).where(
            IntegrationPlan.patient_id.in_(patients), IntegrationPlan.updated_by_id == person_id
        )
    ).scalars()
    for plan in plans:
        plan.updated_by_id = None
    db.session.flush()


# --- scheduling --------------------------------------------------------------------------------


def zone_of(owner_id):
    """(name, ZoneInfo) of the patient's profile time zone (UTC if it is not one zoneinfo knows)."""
    owner = db.session.get(User, owner_id)  # the caller, already loaded
    name = owner.timezone if owner is not None else "UTC"
    try:
        return name, ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return "UTC", ZoneInfo("UTC")


def local_instant(day: date, local_time: str, zone: ZoneInfo) -> datetime:
    """The instant a local time on a local day names in a zone.

    A time the clocks skip (02:30 on the night they spring forward) is read with the offset before
    the change, so it falls as much later on the clock (03:30); a time that happens twice (the
    night they fall back) is its first occurrence. Both are what zoneinfo gives for fold=0.
    """
    hour, minute = (int(part) for part in local_time.split(":"))
    return datetime.combine(day, time(hour, minute), tzinfo=zone).astimezone(UTC)


def schedule_times(steps, started_at, zone):
    """[(due_at, window_ends_at)] for steps after a session started at `started_at`: each step's
    local time on the session's local day plus its days (never before the session started), due
    until the next step that is due later, or for WINDOW, whichever ends sooner."""
    first_day = started_at.astimezone(zone).date()
    # A step of the session's own day whose time is already past when it starts is due at its start.
    dues = [
        max(
            started_at,
            local_instant(first_day + timedelta(days=step["offset_days"]), step["local_time"], zone),
        )
        for step in steps
    ]
    ordered = sorted(set(dues))
    times = []
    for due in dues:
        later = [other for other in ordered if other > due]
        times.append((due, min(due + WINDOW, later[0]) if later else due + WINDOW))
    return times


def _prompt(step):
    if step["kind"] != StepKind.ENTRY:
        return None, None
    text = prompt_texts().get(step.get("prompt_id") or "")
    if text is not None:
        return step["prompt_id"], text
    # None named, or one the prompts file no longer has (a plan outlives a data change).
    return prompt_for_day(step["offset_days"])


def schedule(session):
    """The session's follow-ups from its owner's plan, in the session's unit of work."""
    steps = plan_of(session.owner_id).steps
    if not steps:
        return []
    zone_name, zone = zone_of(session.owner_id)
    times = schedule_times(steps, session.started_at, zone)
    follow_ups = []
    for position, (step, (due_at, window_ends_at)) in enumerate(zip(steps, times, strict=True)):
        prompt_id, prompt_text = _prompt(step)
        follow_ups.append(
            FollowUp(
                owner_id=session.owner_id,
                session_id=session.id,
                session_started_at=session.started_at,
                step=position,
                kind=StepKind(step["kind"]),
                instrument=step.get("instrument"),
                prompt_id=prompt_id,
                prompt_text=prompt_text,
                offset_days=step["offset_days"],
                local_time=step["local_time"],
                time_zone=zone_name,
                due_at=due_at,
                window_ends_at=window_ends_at,
            )
        )
    db.session.add_all(follow_ups)
    return follow_ups


def _of_session(session):
    return (
        db.session.execute(
            live(FollowUp, session.owner_id).where(FollowUp.session_id == session.id).order_by(FollowUp.step)
        )
        .scalars()
        .all()
    )


def reschedule(session):
    """After the session's `started_at` changed: its open follow-ups move with it (done and
    dismissed ones keep the times they had, and learn the new start), each a change in /v1/sync.
    The zone is the patient's profile time zone now."""
    follow_ups = _of_session(session)
    if not follow_ups:
        return
    zone_name, zone = zone_of(session.owner_id)
    steps = [{"offset_days": f.offset_days, "local_time": f.local_time} for f in follow_ups]
    times = schedule_times(steps, session.started_at, zone)
    for follow_up, (due_at, window_ends_at) in zip(follow_ups, times, strict=True):
        if follow_up.session_started_at != session.started_at:
            follow_up.session_started_at = session.started_at
        if not follow_up.is_open:
            continue
        moved = (due_at, window_ends_at, zone_name)
        if (follow_up.due_at, follow_up.window_ends_at, follow_up.time_zone) != moved:
            follow_up.due_at, follow_up.window_ends_at, follow_up.time_zone = moved


def reschedule_if_moved(session, changes):
    """The sessions kind's after_update: reschedule when the change gave a new `started_at`."""
    if "started_at" in changes:
        reschedule(session)


def remove(session):
    """With the session: its follow-ups leave every read, and /v1/sync reports their tombstones.

    The patient's account is held first (records.hold_account), as a create that completes one of
    them holds it, so they are read as the last completion left them (never a stale version that
    would fail the delete with a 412).
    """
    if not hold_account(session.owner_id):
        raise OwnerErased()
    now = utcnow()
    for follow_up in _of_session(session):
        follow_up.deleted_at = now


# --- completion --------------------------------------------------------------------------------


def complete(record, *, kind, follow_up_id, instrument=None):
    """A new record of `kind` completes a follow-up: the one it names, else an open one of its kind
    (and instrument) whose window holds the record's own time, the earliest due first.

    Called after the record's INSERT, which took its owner's sync clock (records.take_numbers):
    the owner's writes take turns from there, so two records never complete one follow-up.
    """
    at = getattr(record, record.TIME_FIELD)
    if follow_up_id is not None:
        follow_up = db.session.execute(
            live(FollowUp, record.owner_id).where(FollowUp.id == follow_up_id)
        ).scalar_one_or_none()
        if follow_up is None:
            raise NotFound("No follow-up of yours has this follow_up_id.")
        _check_match(follow_up, kind=kind, instrument=instrument, at=at)
    else:
        # No window is longer than WINDOW: the read is one short range of ix_follow_ups_owner_time.
        conditions = [
            FollowUp.kind == kind,
            FollowUp.due_at > at - WINDOW,
            FollowUp.due_at <= at,
            FollowUp.window_ends_at > at,
            *_open(),
        ]
        if instrument is not None:
            conditions.append(FollowUp.instrument == instrument)
        follow_up = db.session.execute(
            live(FollowUp, record.owner_id).where(*conditions).order_by(FollowUp.due_at, FollowUp.id).limit(1)
        ).scalar_one_or_none()
        if follow_up is None:
            return None
    follow_up.completed_at = at
    follow_up.completed_by_id = record.id
    return follow_up


def _check_match(follow_up, *, kind, instrument, at):
    if follow_up.kind != kind:
        raise ValidationFailed(
            "follow_up_id",
            f"This follow-up's kind is `{follow_up.kind.value}`, not `{StepKind(kind).value}`.",
        )
    if follow_up.instrument != instrument:
        raise ValidationFailed(
            "follow_up_id", f"This follow-up's instrument is `{follow_up.instrument}`, not `{instrument}`."
        )
    if follow_up.completed_at is not None:
        raise ValidationFailed("follow_up_id", "This follow-up is already done.")
    if at < follow_up.session_started_at:
        raise ValidationFailed(
            "follow_up_id", "A record from before the session cannot complete its follow-up."
        )
    if follow_up.dismissed_at is not None:
        raise ValidationFailed("follow_up_id", "This follow-up was dismissed; take that back first.")


def _open():
    return [FollowUp.completed_at.is_(None), FollowUp.dismissed_at.is_(None)]


# --- reading and dismissing --------------------------------------------------------------------


def status_filter(status, now):
    """SQL for a status, as FollowUp.status_at works it out."""
    if status == FollowUpStatus.DONE:
        return [FollowUp.completed_at.is_not(None)]
    if status == FollowUpStatus.DISMISSED:
        return [FollowUp.completed_at.is_(None), FollowUp.dismissed_at.is_not(None)]
    if status == FollowUpStatus.UPCOMING:
        return [*_open(), FollowUp.due_at > now]
    if status == FollowUpStatus.DUE:
        return [*_open(), FollowUp.due_at <= now, FollowUp.window_ends_at > now]
    return [*_open(), FollowUp.window_ends_at <= now]


def list_follow_ups(*, owner_id, query, limit, after=None):
    """A page of the owner's live follow-ups, the latest due first as every list reads: (rows,
    more). One range scan of ix_follow_ups_owner_time."""
    conditions = time_range(FollowUp, query)
    if query.get("status") is not None:
        conditions += status_filter(query["status"], utcnow())
    if query.get("session_id") is not None:
        conditions.append(FollowUp.session_id == query["session_id"])
    return list_page(FollowUp, owner_id=owner_id, filters=conditions, limit=limit, after=after)


def set_dismissed(follow_up, *, dismissed, current):
    """Dismiss a follow-up (or take it back). A done one stays done: 422."""
    if follow_up.completed_at is not None:
        raise ValidationFailed("dismissed", "This follow-up is already done.")
    if dismissed and follow_up.dismissed_at is None:
        follow_up.dismissed_at = utcnow()
    elif not dismissed and follow_up.dismissed_at is not None:
        follow_up.dismissed_at = None
    return flush_versioned(follow_up, current, gone=lambda record: record.deleted_at is not None)


# --- adherence ---------------------------------------------------------------------------------

RECENT_DAYS = 14


def _delay_minutes(follow_up):
    """Minutes from due to done; one done before it was due counts as on time (0). The median of
    an even count of them is the lower middle one."""
    return max(0, int((follow_up.completed_at - follow_up.due_at).total_seconds() // 60))


def tally(follow_ups, now):
    counts = dict.fromkeys(FollowUpStatus, 0)
    delays = []
    for follow_up in follow_ups:
        counts[follow_up.status_at(now)] += 1
        if follow_up.completed_at is not None:
            delays.append(_delay_minutes(follow_up))
    settled = counts[FollowUpStatus.DONE] + counts[FollowUpStatus.MISSED] + counts[FollowUpStatus.DISMISSED]
    return {
        "total": len(follow_ups),
        **{status.value: count for status, count in counts.items()},
        "rate": round(counts[FollowUpStatus.DONE] / settled, 4) if settled else None,
        "median_delay_minutes": statistics.median_low(delays) if delays else None,
    }


def adherence(owner_id, *, sessions_shown, conditions=()):
    """Overall, over the last RECENT_DAYS, and per session (the `sessions_shown` whose follow-ups
    began last). `conditions` are a therapist's link and scope, in the statement's WHERE."""
    now = utcnow()
    query = live(FollowUp, owner_id).where(*conditions).order_by(FollowUp.due_at, FollowUp.id)
    follow_ups = db.session.execute(query).scalars().all()
    by_session: dict[uuid.UUID, list] = {}
    for follow_up in follow_ups:
        by_session.setdefault(follow_up.session_id, []).append(follow_up)
    newest = sorted(
        by_session, key=lambda session_id: (by_session[session_id][0].due_at, session_id), reverse=True
    )
    return {
        "overall": tally(follow_ups, now),
        "recent": recent_tally(follow_ups, now),
        "sessions": [
            {"session_id": session_id, **tally(by_session[session_id], now)}
            for session_id in newest[:sessions_shown]
        ],
    }


def recent_tally(follow_ups, now):
    since = now - timedelta(days=RECENT_DAYS)
    return tally([f for f in follow_ups if since <= f.due_at <= now], now)


def recent_rates(patient_ids):
    """{patient id: the share of their follow-ups due in the last RECENT_DAYS that were done (of the
    done, missed and dismissed ones), or None}: one query for the page's patients."""
    if not patient_ids:
        return {}
    now = utcnow()
    rows = db.session.execute(
        select(FollowUp).where(
            FollowUp.owner_id.in_(patient_ids),
            FollowUp.deleted_at.is_(None),
            FollowUp.due_at >= now - timedelta(days=RECENT_DAYS),
            FollowUp.due_at <= now,
            or_(
                FollowUp.completed_at.is_not(None),
                FollowUp.dismissed_at.is_not(None),
                FollowUp.window_ends_at <= now,
            ),
        )
    ).scalars()
    grouped: dict[uuid.UUID, list] = {}
    for follow_up in rows:
        grouped.setdefault(follow_up.owner_id, []).append(follow_up)
    return {patient_id: tally(grouped.get(patient_id, []), now)["rate"] for patient_id in patient_ids}


def reopen(record):
    """Deleting a record that completed a follow-up opens it again: no `completed_by` naming a
    record that is gone, and its status from the clock again (a change in /v1/sync). When there is
    one, the account is held before it is read, as for every change of a follow-up outside a
    create."""
    completed = live(FollowUp, record.owner_id).where(FollowUp.completed_by_id == record.id)
    if db.session.execute(completed.with_only_columns(FollowUp.id).limit(1)).first() is None:
        return  # most records complete nothing: no hold, one index probe
    if not hold_account(record.owner_id):
        raise OwnerErased()
    for follow_up in db.session.execute(completed).scalars():
        follow_up.completed_at = None
        follow_up.completed_by_id = None


def completes(kind):
    """The `completes` hook of a kind whose records complete follow-ups of `kind` (an assessment
    matches on its instrument too)."""

    def hook(record, follow_up_id):
        complete(record, kind=kind, follow_up_id=follow_up_id, instrument=getattr(record, "instrument", None))

    return hook
