"""Care-team rules: therapists' invitation codes, patients' links with the scopes they grant, and
the SQL condition through which a link lets a therapist read."""

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from api.care_team import codes
from api.care_team.models import CareLink, Invitation
from api.errors import Conflict, NotFound, PreconditionFailed, ValidationFailed
from api.extensions import db
from api.jsonlists import contains
from api.models import utcnow
from api.pagination import fetch_page
from api.records import flush_versioned, hold_account

INVITATION_LIFETIME = timedelta(hours=72)


class InvalidCode(ValidationFailed):
    """The one answer for every code that cannot be redeemed, so codes cannot be probed."""

    def __init__(self):
        super().__init__(
            "code",
            "This code cannot be used: it may be mistyped, used, expired or withdrawn. "
            "Ask your therapist for a new one.",
        )


class AlreadyLinked(Conflict):
    def __init__(self):
        super().__init__(
            "This therapist is already on your care team; change the scopes of that link instead."
        )


# --- invitations (therapists) ---------------------------------------------------------------


def create_invitation(*, therapist_id):
    """A new invitation and its code; the code is returned once and only its hash is kept."""
    code = codes.new_code()
    now = utcnow()
    invitation = Invitation(
        therapist_id=therapist_id,
        code_hash=codes.code_hash(code),
        created_at=now,
        expires_at=now + INVITATION_LIFETIME,
    )
    db.session.add(invitation)
    db.session.flush()
    return invitation, code


def list_invitations(*, therapist_id, limit, after=None):
    query = select(Invitation).where(Invitation.therapist_id == therapist_id)
    return fetch_page(
        query, time_column=Invitation.created_at, id_column=Invitation.id, limit=limit, after=after
    )


def get_invitation(*, therapist_id, invitation_id):
    invitation = db.session.execute(
        select(Invitation).where(Invitation.id == invitation_id, Invitation.therapist_id == therapist_id)
    ).scalar_one_or_none()
    if invitation is None:
        raise NotFound()
    return invitation


def delete_invitation(invitation, *, current):
    """Withdraw an invitation: its code stops working at once. Links made with it stay."""
    db.session.delete(invitation)
    try:
        db.session.flush()
    except StaleDataError:
        # Redeemed (or withdrawn) between the If-Match check and this delete.
        db.session.rollback()
        now = db.session.get(Invitation, invitation.id)
        if now is None:
            raise NotFound() from None
        raise PreconditionFailed(current=current(now)) from None


# --- links (patients) -----------------------------------------------------------------------


def redeem(*, patient_id, code, scopes):
    """Link the patient to the therapist whose open invitation this is, using the code up.

    One conditional UPDATE claims the code, so two patients racing for it cannot both win; a
    link that cannot be made rolls the claim back, and the code stays usable. The therapist's
    account is held first, so an erasure of it waits for the link or refuses the code.
    """
    now = utcnow()
    code_hash = codes.code_hash(code)
    invited_by = db.session.scalar(select(Invitation.therapist_id).where(Invitation.code_hash == code_hash))
    if invited_by is None or not hold_account(invited_by):
        raise InvalidCode()
    therapist_id = db.session.execute(
        update(Invitation)
        .where(
            Invitation.code_hash == code_hash,
            Invitation.used_at.is_(None),
            Invitation.expires_at > now,
        )
        .values(used_at=now, version=Invitation.version + 1)
        .returning(Invitation.therapist_id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if therapist_id is None:
        raise InvalidCode()
    link = CareLink(
        patient_id=patient_id, therapist_id=therapist_id, scopes=list(scopes), created_at=now, updated_at=now
    )
    db.session.add(link)
    try:
        db.session.flush()
    except IntegrityError:
        raise AlreadyLinked() from None
    return link


def active_links(patient_id):
    """The patient's active links, each with its therapist (shown as `therapist`) in one more query."""
    return (
        select(CareLink)
        .options(selectinload(CareLink.therapist))
        .where(CareLink.patient_id == patient_id, CareLink.revoked_at.is_(None))
    )


def list_links(*, patient_id, limit, after=None):
    return fetch_page(
        active_links(patient_id),
        time_column=CareLink.created_at,
        id_column=CareLink.id,
        limit=limit,
        after=after,
    )


def get_link(*, patient_id, link_id):
    link = db.session.execute(active_links(patient_id).where(CareLink.id == link_id)).scalar_one_or_none()
    if link is None:
        raise NotFound()
    return link


def is_revoked(link):
    return link.revoked_at is not None


def change_scopes(link, *, scopes, current):
    """New scopes apply to the therapist's very next request.

    The patient's account is held first, as a therapist's write about the patient (a safety
    event's acknowledgement) holds it before checking the link again: one that has not checked
    yet sees the new scopes, one that has commits first."""
    hold_account(link.patient_id)
    link.scopes = list(scopes)
    return flush_versioned(link, current, gone=is_revoked)


def revoke(link, *, current):
    """End the link: the therapist loses every view of the patient on the next request (the
    patient's account is held first, as for change_scopes)."""
    hold_account(link.patient_id)
    link.revoked_at = utcnow()
    return flush_versioned(link, current, gone=is_revoked)


# --- what a link lets a therapist read --------------------------------------------------------


def grants(link, kind):
    """Whether the link lets its therapist read this journal kind."""
    return kind.sharing is not None and kind.sharing.scope in link.scopes


def patients_sharing(*, therapist_id, scope):
    """SQL: the ids of the patients whose active link grants the therapist `scope` (for reads
    across all of a therapist's patients, such as their safety events)."""
    return select(CareLink.patient_id).where(
        CareLink.therapist_id == therapist_id, CareLink.revoked_at.is_(None), contains(CareLink.scopes, scope)
    )


def shared_with(*, therapist_id, patient_id, scope):
    """SQL condition: the therapist holds an active link to the patient that grants `scope`.

    Every therapist read puts this in its WHERE, so a revoked link or a withdrawn scope takes
    effect on the very next request.
    """
    return (
        select(CareLink.id)
        .where(
            CareLink.therapist_id == therapist_id,
            CareLink.patient_id == patient_id,
            CareLink.revoked_at.is_(None),
            contains(CareLink.scopes, scope),
        )
        .exists()
    )
