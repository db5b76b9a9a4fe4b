"""Who may call what and see what: the token and role an operation needs, and the care-team
link through which a therapist sees a patient's shared records."""

from functools import wraps

from flask_jwt_extended import current_user, verify_jwt_in_request
from sqlalchemy import select

from api.care_team.models import CareLink
from api.errors import Forbidden
from api.jsonlists import contains
from api.smorest import document_responses
from api.users.models import Role

PATIENTS = frozenset({Role.PATIENT})
THERAPISTS = frozenset({Role.THERAPIST})


def auth_required(*, roles=None, fresh=False, refresh=False):
    """Demand a valid token (refresh=True: a refresh token; fresh=True: from a password sign-in).

    With `roles`, a signed-in caller of another role gets 403. Put it outermost, so an anonymous
    caller is told 401 before anything else about the request is checked.
    """

    def decorator(func):
        @wraps(func)
        def wrapper(*args, **kwargs):
            verify_jwt_in_request(fresh=fresh, refresh=refresh)
            if roles and current_user.role not in roles:
                raise Forbidden(f"Only {' or '.join(sorted(roles))} accounts may do this.")
            return func(*args, **kwargs)

        return document_responses(403)(wrapper) if roles else wrapper

    return decorator


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
