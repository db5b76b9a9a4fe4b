"""The journal kinds: the one list everything that covers every kind derives from.

A kind is a package with a `kind` declaration in its resource.py (api/resources.py says what it
holds). Adding a kind means adding its package and its line here. From this list come the
blueprints the app registers, the sync feed's types, the therapist's routes under
/v1/patients/{patient_id}/, the care-team scopes and the audit log's resource types; a test
(tests/test_kinds.py) proves each of them agrees with it, the database's constraints included.
"""

from api.assessments.resource import kind as assessments
from api.contacts.resource import kind as contacts
from api.entries.resource import kind as entries
from api.moods.resource import kind as moods
from api.plans.models import PLAN_SCOPE
from api.practices.resource import kind as practices
from api.sessions.resource import kind as sessions

KINDS = (sessions, entries, moods, contacts, practices, assessments)

# What a patient's /v1/sync carries: every kind's records, and what the kinds make of their own
# (an assessment's safety event).
SYNCED = tuple(synced for kind in KINDS for synced in kind.synced)

# The kinds linked therapists may read, each under its care-team scope; and the scopes a link may
# grant: theirs, and `plan` (the integration plan and how its follow-ups are kept).
SHARED = tuple(kind for kind in KINDS if kind.sharing is not None)
SCOPES = (*(kind.sharing.scope for kind in KINDS if kind.sharing is not None), PLAN_SCOPE)


def scope_of(kind) -> str:
    """The care-team scope that shares this kind (what a read derived from its records needs)."""
    if kind.sharing is None:
        raise ValueError(f"{kind.sync_type} records are never shared")
    return kind.sharing.scope
