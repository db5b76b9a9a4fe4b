"""Questionnaire rules: the server scores every result; a result may name one of your sessions."""

from api.assessments import safety_models  # noqa: F401  (the safety tables)
from api.assessments.scoring import score
from api.sessions.service import require_own_session


def prepare_create(data, *, owner_id):
    require_own_session(data.get("session_id"), owner_id=owner_id)
    data["score"], data["severity"], data["safety_flag"] = score(data["instrument"], data["answers"])
    return data
