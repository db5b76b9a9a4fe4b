"""/v1/contacts: the patient's support network (never shared with therapists)."""

from api.contacts.models import Contact
from api.contacts.schemas import (
    ContactCreateSchema,
    ContactPageSchema,
    ContactQuerySchema,
    ContactSchema,
    ContactUpdateSchema,
)
from api.resources import ResourceSpec, register_resource
from api.smorest import Blueprint

blp = Blueprint("contacts", __name__, url_prefix="/v1/contacts", description="Your support network; never shared.")


def defaults(data, *, owner_id):
    data.setdefault("is_emergency_contact", False)
    data.setdefault("is_session_support", False)
    return data


spec = ResourceSpec(
    model=Contact,
    schema=ContactSchema,
    create_schema=ContactCreateSchema,
    update_schema=ContactUpdateSchema,
    query_schema=ContactQuerySchema,
    page_schema=ContactPageSchema,
    singular="Contact",
    plural="Contacts",
    noun="support contact",
    plural_noun="support contacts",
    match=("relationship",),
    prepare_create=defaults,
    list_notes="Newest first by `created_at`; filter by `relationship` and `from`/`to`.",
)
register_resource(blp, spec)
