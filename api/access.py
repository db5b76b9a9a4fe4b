"""Who may call what: the roles, and the token and role an operation needs.

What a therapist may read of a patient is the care team's rule (api/care_team/service.py).
"""

import enum
from functools import wraps

from flask_jwt_extended import current_user, verify_jwt_in_request

from api.errors import Forbidden
from api.smorest.conventions import document_responses


class Role(enum.StrEnum):
    """What an account is: a patient keeps a journal; a therapist reads what linked patients share."""

    PATIENT = "patient"
    THERAPIST = "therapist"


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

        return document_responses(403)(wrapper) if roles or fresh else wrapper

    return decorator
