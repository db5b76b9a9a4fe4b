"""Support contact rules."""


def prepare_create(data, *, owner_id):
    data.setdefault("is_emergency_contact", False)
    data.setdefault("is_session_support", False)
    return data
