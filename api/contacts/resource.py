"""/v1/contacts: the patient's support network (never shared with therapists)."""

from api.contacts.models import Contact
from api.contacts.schemas import (
    ContactCreateSchema,
    ContactPageSchema,
    ContactQuerySchema,
    ContactSchema,
    ContactUpdateSchema,
)
from api.resources import JournalKind, Operation, Schemas, register_views
from api.smorest import Blueprint

blp = Blueprint(
    "contacts", __name__, url_prefix="/v1/contacts", description="Your support network; never shared."
)

kind = JournalKind(
    blueprint=blp,
    model=Contact,
    schemas=Schemas(
        record=ContactSchema,
        create=ContactCreateSchema,
        update=ContactUpdateSchema,
        query=ContactQuerySchema,
        page=ContactPageSchema,
    ),
    sync_type="contact",
    list=Operation(
        "listContacts",
        "List your support contacts, newest first.",
        "Newest first by `created_at`; filter by `relationship` and `from`/`to`.",
    ),
    create=Operation("createContact", "Create a support contact."),
    read=Operation("getContact", "Read one support contact."),
    update=Operation("updateContact", "Change a support contact."),
    delete=Operation("deleteContact", "Delete a support contact."),
    sharing=None,  # contacts are never shared
    match=("relationship",),
)
register_views(kind)
