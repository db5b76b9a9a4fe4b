"""Journal entry rules: defaults, the session an entry may name, what therapists see of it, and
their acknowledgements."""

from sqlalchemy import select
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.orm import lazyload
from sqlalchemy.orm.exc import StaleDataError

from api.entries.models import Entry, Visibility
from api.errors import Conflict, NotFound
from api.extensions import db
from api.models import utcnow
from api.records import hold_account
from api.sessions.service import require_own_session

# Only entries the patient marked for their care team are shared; private ones never are.
SHARED_WHEN = (Entry.visibility == Visibility.CARE_TEAM,)


def prepare(data, *, owner_id):
    """A create or a change may name only one of the author's live sessions. (What is left
    out takes the model's defaults: a private, general entry, now.)"""
    require_own_session(data.get("session_id"), owner_id=owner_id)
    return data


def acknowledge(entry, *, therapist):
    """A linked therapist marks a shared entry read. The first acknowledgement stands; repeating
    it changes nothing. The patient's devices see it through /v1/sync, like their own edits.

    The therapist's account is held first (records.hold_account): an erasure of that account
    either waits for this acknowledgement, and then forgets it like any other, or has already
    happened, and the acknowledgement is refused.
    """
    if entry.acknowledged_at is not None:
        return entry
    if not hold_account(therapist.id):
        raise NotFound()
    entry.acknowledged_by = therapist
    entry.acknowledged_at = utcnow()
    try:
        db.session.flush()
    except StaleDataError:
        # The patient changed the entry meanwhile. Deleted or made private, it is the 404 any
        # read of it now gives; otherwise the therapist may try again.
        db.session.rollback()
        try:
            db.session.refresh(entry)
        except InvalidRequestError:
            raise NotFound() from None
        if entry.deleted_at is not None or entry.visibility != Visibility.CARE_TEAM:
            raise NotFound() from None
        raise Conflict("The entry changed while it was being acknowledged; try again.") from None
    return entry


def forget_acknowledger(person_id):
    """Before an account is erased: its name leaves every entry it marked read.

    The acknowledgement's time stays. Each entry changes the way any edit does, with a new
    version and a new sync number, so the patients' devices and cached ETags see it; the
    foreign key's SET NULL alone would change the entries behind their backs. The caller holds
    the account being erased, so no acknowledgement of it is still on its way; the patients'
    accounts are held next, one by one in one order. A patient erased meanwhile has nothing
    left to hold, and their entries are gone with them.
    """
    acknowledged = select(Entry.owner_id).where(Entry.acknowledged_by_id == person_id)
    owners = db.session.execute(acknowledged.distinct().order_by(Entry.owner_id)).scalars().all()
    patients = [owner_id for owner_id in owners if hold_account(owner_id)]
    if not patients:
        return
    entries = db.session.execute(
        select(Entry)
        .options(lazyload(Entry.acknowledged_by))  # never read here: only its id changes
        .where(Entry.acknowledged_by_id == person_id, Entry.deleted_at.is_(None))
        .where(Entry.owner_id.in_(patients))
    ).scalars()
    for entry in entries:
        entry.acknowledged_by_id = None
    db.session.flush()
