"""Insights computed from a patient's live records by SQL aggregates: mood by local day or week,
the mood change around each practice, and PHQ-9/GAD-7 around each treatment session.

Each insight is a fixed, small number of statements whatever the size of the journal, and reads
through the `(owner_id, time, id)` index of its table. A therapist's read is allowed by an active
link granting the insight's scopes (checked once, and again in each statement's WHERE, so a link
revoked meanwhile shows nothing), and audited whether allowed or not.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import (
    BigInteger,
    String,
    and_,
    cast,
    column,
    func,
    literal,
    literal_column,
    select,
    union_all,
    values,
)
from sqlalchemy.types import Uuid

from api.accounts.models import User
from api.assessments.models import Assessment
from api.assessments.scoring import Instrument
from api.audit import service as audit
from api.audit.models import Action, Outcome
from api.care_team.service import shared_with
from api.errors import NotShared, ValidationFailed
from api.extensions import db
from api.insights.schemas import MAX_DAY_BUCKETS, MAX_WEEK_BUCKETS, InsightBucket
from api.insights.statistics import mean_interval
from api.models import UTCDateTime
from api.moods.models import Mood
from api.practices.models import Practice
from api.records import list_page, time_range
from api.sessions.models import Session

DAY = timedelta(days=1)
WEEK = timedelta(weeks=1)
# Every UTC offset since 1900 is within ±15 hours: the UTC range that can hold a local day.
WIDEST_OFFSET = timedelta(hours=15)
DEFAULT_DAYS = 30
DEFAULT_WEEKS = 12
MIN_SAMPLES_FOR_INTERVAL = 3
# Rows of the zones' offset periods one mood insight may join (4 bound values each, well inside
# SQLite's 32,766): a year of days in 300 zones that change offset twice a year is about 900.
MAX_PERIODS = 5000
DECIMALS = 2
BEFORE_SESSION = timedelta(days=14)
AFTER_SESSION_FROM = timedelta(days=1)
AFTER_SESSION_TO = timedelta(days=14)
# The measures the session insights compare (API.md §5); other instruments (PCL-5) are left out.
SESSION_MEASURES = (Instrument("phq9"), Instrument("gad7"))


@dataclass(frozen=True)
class Reader:
    """Whose records an insight reads, and, for a therapist, the scopes their link must grant
    (put in every statement's WHERE)."""

    patient_id: object
    timezone: str
    therapist_id: object = None
    scopes: tuple[str, ...] = ()

    def shared(self):
        if self.therapist_id is None:
            return []
        return [
            shared_with(therapist_id=self.therapist_id, patient_id=self.patient_id, scope=scope)
            for scope in self.scopes
        ]


def own(user):
    """A patient reading their own insights."""
    return Reader(patient_id=user.id, timezone=user.timezone)


def shared_reader(*, actor, patient_id, scopes, audit_type, request_id):
    """A therapist reading a patient's insights: 404 (and a `denied` event) unless an active link
    grants every one of `scopes`; an `allowed` event otherwise. One statement, which also reads
    the patient's profile time zone."""
    timezone = db.session.execute(
        select(User.timezone).where(
            User.id == patient_id,
            *(shared_with(therapist_id=actor.id, patient_id=patient_id, scope=scope) for scope in scopes),
        )
    ).scalar_one_or_none()
    audit.record(
        actor=actor,
        patient_ids=[patient_id],
        action=Action.READ,
        resource_type=audit_type,
        outcome=Outcome.DENIED if timezone is None else Outcome.ALLOWED,
        request_id=request_id,
    )
    if timezone is None:
        raise NotShared()
    return Reader(patient_id=patient_id, timezone=timezone, therapist_id=actor.id, scopes=tuple(scopes))


def _rounded(value):
    return None if value is None else round(value, DECIMALS)


def _zone(name):
    """The zone of that name; UTC for one the server's tzdata no longer knows."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def epoch_seconds(column):
    """SQL: whole seconds since 1970-01-01T00:00:00Z of a UTC time column, rounded down."""
    if db.session.get_bind().dialect.name == "sqlite":
        return cast(func.strftime("%s", column), BigInteger)
    return cast(func.floor(func.extract("epoch", column)), BigInteger)


def _as_utc(day):
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


# --- mood by local day or week -----------------------------------------------------------------


def mood_range(*, first, last, bucket, timezone):
    """The days a mood insight covers: the defaults filled in, weeks made whole (Monday to
    Sunday), and the bounds checked (422 naming `from`)."""
    if last is None:
        last = datetime.now(_zone(timezone)).date()
    if first is None:
        first = (
            last - (DEFAULT_DAYS - 1) * DAY
            if bucket == InsightBucket.DAY
            else last - (DEFAULT_WEEKS - 1) * WEEK
        )
    if first > last:
        raise ValidationFailed("from", f"Must be on or before `to` ({last.isoformat()}).")
    if bucket == InsightBucket.WEEK:
        first -= first.weekday() * DAY
        last += (6 - last.weekday()) * DAY
        if (last - first).days + 1 > MAX_WEEK_BUCKETS * 7:
            raise ValidationFailed("from", f"At most {MAX_WEEK_BUCKETS} weeks from `from` to `to`.")
    elif (last - first).days + 1 > MAX_DAY_BUCKETS:
        raise ValidationFailed("from", f"At most {MAX_DAY_BUCKETS} days from `from` to `to`.")
    return first, last


def _offset(zone, moment):
    offset = moment.astimezone(zone).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def offset_periods(zone, start, end):
    """[(from, to, offset seconds)]: [start, end) cut where the zone's UTC offset changes.

    Steps a day at a time and bisects each change down to the second (offsets change at most
    once a day in every zone's history since 1900)."""
    periods = []
    period_start, offset, moment = start, _offset(zone, start), start
    while moment < end:
        step_end = min(moment + DAY, end)
        if _offset(zone, step_end) == offset:
            moment = step_end
            continue
        before, after = moment, step_end  # the offset is still `offset` at `before`, not at `after`
        while after - before > timedelta(seconds=1):
            middle = before + (after - before) / 2
            middle = middle.replace(microsecond=0)
            if _offset(zone, middle) == offset:
                before = middle
            else:
                after = middle
        periods.append((period_start, after, offset))
        period_start, offset, moment = after, _offset(zone, after), after
    periods.append((period_start, end, offset))
    return periods


def local_window_periods(zone_names, *, first, last):
    """[(zone name, from, to, offset seconds)]: for each zone, the UTC instants whose local time
    falls between `first` 00:00 and the end of `last`, cut into periods of one UTC offset."""
    window_start, window_end = _as_utc(first), _as_utc(last + DAY)
    rows = []
    for name in sorted(zone_names):
        zone = _zone(name)
        for start, end, offset in offset_periods(
            zone, window_start - WIDEST_OFFSET, window_end + WIDEST_OFFSET
        ):
            shift = timedelta(seconds=offset)
            # Local time = UTC + offset: keep only the instants whose local time is in the window.
            start, end = max(start, window_start - shift), min(end, window_end - shift)
            if start < end:
                rows.append((name, start, end, offset))
    return rows


def _table(name, columns, rows):
    """A literal table of bound values: a VALUES list in a CTE, which both databases take and
    which SQLite's limit of 500 terms in a compound SELECT does not apply to."""
    return values(*(column(label, type_) for label, type_ in columns), name=name).data(rows).cte(name)


def mood_insights(reader, *, first, last, bucket):
    """Mood per local day or week from `first` to `last` (whole weeks for `week`), empty ones too.

    Two statements (after the token check): the zones the check-ins of the range were made in,
    then one GROUP BY over the check-ins joined to their zones' periods of constant UTC offset, computing
    each one's local day (or week) from its UTC time and that offset.
    """
    first, last = mood_range(first=first, last=last, bucket=bucket, timezone=reader.timezone)
    unit = WEEK if bucket == InsightBucket.WEEK else DAY
    count = (last - first).days // unit.days + 1
    window_start, window_end = _as_utc(first), _as_utc(last + DAY)
    zone_of = func.coalesce(Mood.timezone, literal(reader.timezone, String))
    in_range = [
        Mood.owner_id == reader.patient_id,
        Mood.deleted_at.is_(None),
        Mood.recorded_at >= window_start - WIDEST_OFFSET,
        Mood.recorded_at < window_end + WIDEST_OFFSET,
        *reader.shared(),
    ]
    zones = db.session.execute(select(zone_of).where(*in_range).distinct()).scalars().all()
    totals = {}
    if zones:
        cut = local_window_periods(zones, first=first, last=last)
        if len(cut) > MAX_PERIODS:
            raise ValidationFailed(
                "from", "Check-ins in this range were made in too many time zones; ask for a shorter range."
            )
        periods = _table(
            "periods",
            [("zone", String()), ("starts", UTCDateTime()), ("ends", UTCDateTime()), ("shift", BigInteger())],
            [(zone, start, end, offset - int(window_start.timestamp())) for zone, start, end, offset in cut],
        )
        # Seconds since the window's first local midnight: never negative (the periods hold only
        # instants inside the window), so the integer division rounds down as it should.
        index = (
            (epoch_seconds(Mood.recorded_at) + periods.c.shift)
            // literal_column(str(int(unit.total_seconds())))
        ).label("bucket")
        rows = db.session.execute(
            select(index, func.count(), func.sum(Mood.mood), func.min(Mood.mood), func.max(Mood.mood))
            .select_from(Mood)
            .join(
                periods,
                and_(
                    periods.c.zone == zone_of,
                    Mood.recorded_at >= periods.c.starts,
                    Mood.recorded_at < periods.c.ends,
                ),
            )
            .where(*in_range)
            .group_by(literal_column("bucket"))
        ).all()
        totals = {int(row[0]): row[1:] for row in rows}
    buckets = []
    for number in range(count):
        checkins, total, lowest, highest = totals.get(number, (0, None, None, None))
        buckets.append(
            {
                "start": first + number * unit,
                "count": checkins,
                "mean": _rounded(int(total) / checkins) if checkins else None,
                "min": lowest,
                "max": highest,
            }
        )
    return {"bucket": bucket, "from_": first, "to": last, "timezone": reader.timezone, "buckets": buckets}


# --- practices ---------------------------------------------------------------------------------


def practice_insights(reader, *, query):
    """Per practice done in the range: how often, for how long, and the mood change around it
    with its 95% interval (from 3 samples on). One GROUP BY; the interval from its sums."""
    change = Practice.mood_after - Practice.mood_before  # NULL unless both are given
    rows = db.session.execute(
        select(
            Practice.practice,
            func.count(),
            func.sum(Practice.duration_minutes),  # these sums are NULL when nothing is given
            func.count(change),
            func.sum(change),
            func.sum(change * change),
        )
        .where(
            Practice.owner_id == reader.patient_id,
            Practice.deleted_at.is_(None),
            *time_range(Practice, query),
            *reader.shared(),
        )
        .group_by(Practice.practice)
        .order_by(Practice.practice)
    ).all()
    practices = []
    for practice, done, minutes, samples, total, squares in rows:
        mean = low = high = None
        if samples >= MIN_SAMPLES_FOR_INTERVAL:
            mean, low, high = mean_interval(samples, int(total or 0), int(squares or 0))
        practices.append(
            {
                "practice": practice,
                "count": done,
                "total_minutes": int(minutes or 0),
                "mood_change": {
                    "n": samples,
                    "mean": _rounded(mean),
                    "ci_low": _rounded(low),
                    "ci_high": _rounded(high),
                },
            }
        )
    return {"from_": query.get("from_"), "to": query.get("to"), "practices": practices}


# --- PHQ-9 and GAD-7 around treatment sessions -------------------------------------------------


def _nearest(bounds, reader, *, side, lower, upper, newest_first):
    """Each session's assessments on one side of it, ranked per instrument, nearest first."""
    order = (
        (Assessment.taken_at.desc(), Assessment.id.desc())
        if newest_first
        else (Assessment.taken_at, Assessment.id)
    )
    return (
        select(
            bounds.c.session_id,
            literal(side, String).label("side"),
            Assessment.instrument,
            Assessment.id,
            Assessment.score,
            Assessment.taken_at,
            func.row_number()
            .over(partition_by=(bounds.c.session_id, Assessment.instrument), order_by=order)
            .label("rank"),
        )
        .select_from(bounds)
        .join(Assessment, and_(Assessment.taken_at >= lower, Assessment.taken_at <= upper))
        .where(
            Assessment.owner_id == reader.patient_id,
            Assessment.deleted_at.is_(None),
            Assessment.instrument.in_(SESSION_MEASURES),
            *reader.shared(),
        )
    )


def _score_change(before, after):
    change = response = remission = None
    if before is not None and after is not None:
        change = after["score"] - before["score"]
        response = before["score"] > 0 and 2 * after["score"] <= before["score"]
        remission = before["score"] >= 10 and after["score"] < 5
    return change, response, remission


def session_insights(reader, *, limit, after):
    """A page of treatment sessions, newest first, each with the nearest PHQ-9 and GAD-7 before
    it (within the 14 days up to its start) and after it (1 to 14 days after), and what changed.

    Two statements: the page (keyset, on the sessions' owner/time index), then every page
    session's nearest assessments at once, ranked by a window function.
    """
    sessions, more = list_page(
        Session, owner_id=reader.patient_id, filters=reader.shared(), limit=limit, after=after
    )
    nearest: dict = {}
    if sessions:
        bounds = _table(
            "bounds",
            [
                ("session_id", Uuid()),
                ("before_from", UTCDateTime()),
                ("started_at", UTCDateTime()),
                ("after_from", UTCDateTime()),
                ("after_to", UTCDateTime()),
            ],
            [
                (
                    session.id,
                    session.started_at - BEFORE_SESSION,
                    session.started_at,
                    session.started_at + AFTER_SESSION_FROM,
                    session.started_at + AFTER_SESSION_TO,
                )
                for session in sessions
            ],
        )
        ranked = union_all(
            _nearest(
                bounds,
                reader,
                side="before",
                lower=bounds.c.before_from,
                upper=bounds.c.started_at,
                newest_first=True,
            ),
            _nearest(
                bounds,
                reader,
                side="after",
                lower=bounds.c.after_from,
                upper=bounds.c.after_to,
                newest_first=False,
            ),
        ).subquery("ranked")
        rows = db.session.execute(select(ranked).where(ranked.c.rank == 1)).all()
        for row in rows:
            nearest[(row.session_id, Instrument(row.instrument), row.side)] = {
                "assessment_id": row.id,
                "score": row.score,
                "taken_at": row.taken_at,
            }
    items = []
    for session in sessions:
        item = {"session_id": session.id, "started_at": session.started_at}
        for instrument in SESSION_MEASURES:
            before = nearest.get((session.id, instrument, "before"))
            after_ = nearest.get((session.id, instrument, "after"))
            change, response, remission = _score_change(before, after_)
            item[instrument.value] = {
                "instrument": instrument,
                "before": before,
                "after": after_,
                "change": change,
                "response": response,
                "remission": remission,
            }
        items.append(item)
    return sessions, more, items
