"""Questionnaire rules: the server scores every result; a result may name one of your sessions."""

from api.assessments import safety_models  # noqa: F401  (the safety tables)
from api.assessments.scoring import REGISTRY, score
from api.sessions.service import require_own_session


def prepare_create(data, *, owner_id):
    require_own_session(data.get("session_id"), owner_id=owner_id)
    result = score(REGISTRY[data["instrument"]], data["answers"])
    data["score"], data["severity"] = result.total, result.severity
    data["threshold_met"], data["safety_flag"] = result.threshold_met, result.safety_flag
    return data
