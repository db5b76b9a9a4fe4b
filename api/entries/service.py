"""Entry rules that reach beyond the request's own record."""

from sqlalchemy import select
from sqlalchemy.exc import NoResultFound

from api.entries.models import Entry
from api.extensions import db
from api.records import next_sync_seq


def forget_acknowledger(therapist_id):
    """Before a therapist's account is erased: their name leaves every entry they marked read.

    The acknowledgement's time stays. Each entry changes the way any edit does, with a new
    version and a new sync number, so the patients' devices and cached ETags see it; the
    foreign key's SET NULL alone would change the entries behind their backs.
    """
    entries = db.session.execute(
        select(Entry)
        .where(Entry.acknowledged_by_id == therapist_id, Entry.deleted_at.is_(None))
        .order_by(Entry.owner_id)  # take the patients' sync clocks in one order
    ).scalars()
    for entry in entries:
        try:
            sync_seq = next_sync_seq(entry.owner_id)
        except NoResultFound:
            # The patient's account was erased at the same moment, and the entry with it.
            db.session.expunge(entry)
            continue
        entry.acknowledged_by = None
        entry.sync_seq = sync_seq
    db.session.flush()
