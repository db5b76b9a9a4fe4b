"""Journal entry rules: defaults, the session an entry may name, what therapists see of it, and
their acknowledgements."""

from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from api.entries.models import Entry, Kind, Visibility
from api.errors import Conflict
from api.extensions import db
from api.models import utcnow
from api.records import SyncClock
from api.sessions.service import require_own_session

# Only entries the patient marked for their care team are shared; private ones never are.
SHARED_WHEN = (Entry.visibility == Visibility.CARE_TEAM,)


def prepare_create(data, *, owner_id):
    data.setdefault("kind", Kind.GENERAL)
    data.setdefault("visibility", Visibility.PRIVATE)
    data.setdefault("occurred_at", utcnow())
    data.setdefault("emotions", [])
    data.setdefault("tags", [])
    return prepare_update(data, owner_id=owner_id)


def prepare_update(changes, *, owner_id):
    require_own_session(changes.get("session_id"), owner_id=owner_id)
    return changes


def acknowledge(entry, *, therapist):
    """A linked therapist marks a shared entry read. The first acknowledgement stands; repeating
    it changes nothing. The patient's devices see it through /v1/sync, like their own edits."""
    if entry.acknowledged_at is not None:
        return entry
    entry.acknowledged_by = therapist
    entry.acknowledged_at = utcnow()
    try:
        db.session.flush()
    except StaleDataError:
        raise Conflict("The entry changed while it was being acknowledged; try again.") from None
    return entry


def forget_acknowledger(person_id):
    """Before a therapist's account is erased: their name leaves every entry they marked read.

    The acknowledgement's time stays. Each entry changes the way any edit does, with a new
    version and a new sync number, so the patients' devices and cached ETags see it; the
    foreign key's SET NULL alone would change the entries behind their backs. The patients'
    sync clocks are locked first, in one order: a patient erased meanwhile has no clock left,
    and their entries are gone with them.
    """
    owners = (
        select(SyncClock.user_id)
        .where(SyncClock.user_id.in_(select(Entry.owner_id).where(Entry.acknowledged_by_id == person_id)))
        .order_by(SyncClock.user_id)
        .with_for_update()
    )
    patients = db.session.execute(owners).scalars().all()
    entries = db.session.execute(
        select(Entry).where(
            Entry.acknowledged_by_id == person_id, Entry.deleted_at.is_(None), Entry.owner_id.in_(patients)
        )
    ).scalars()
    for entry in entries:
        entry.acknowledged_by = None
    db.session.flush()
