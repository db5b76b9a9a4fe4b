"""A journal kind, declared once, and the HTTP face every kind shares.

Each kind's package declares a `JournalKind` in its resource.py: its model and schemas, the
operationId and summary of each of its operations, its type in the sync feed and, when linked
therapists may read it, how it is shared. api/kinds.py lists the kinds, and everything that
covers every kind derives from that list: the blueprints, the sync feed, the therapist's routes,
the care-team scopes and the audit types.

`register_views` gives a kind its collection view (list, create) and item view (read, update,
delete), with the same auth, paging, ETag, idempotency and sync behaviour everywhere.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import current_app, request, url_for
from flask.views import MethodView
from flask_jwt_extended import current_user

from api import records
from api.access import PATIENTS, auth_required
from api.idempotency import idempotent
from api.jsonlists import contains, contains_blind
from api.pagination import PAGE_HEADERS, page_position, page_response
from api.smorest import Blueprint
from api.smorest.conventions import operation
from api.smorest.etags import (
    CREATED_HEADERS,
    created_response,
    etag_headers,
    item_response,
    not_modified_version,
    require_if_match,
    versioned,
)
from api.smorest.parsing import takes_no_body


@dataclass(frozen=True)
class Operation:
    """An operation's operationId, its summary (the first line of its docs) and further notes."""

    id: str
    summary: str
    notes: str = ""

    def doc(self, *more):
        return "\n\n".join(part for part in (self.summary, self.notes, *more) if part)


@dataclass(frozen=True)
class Schemas:
    record: type  # the record as every read returns it
    create: type
    query: type  # the list's filters
    page: type
    update: type | None = None  # None: records are never changed, only deleted (assessments)
    created: type | None = None  # what a 201 shows, when more than the record


@dataclass(frozen=True)
class Sharing:
    """How linked therapists read a kind.

    `scope` is the care-team scope that shares it and its path under /v1/patients/{patient_id}/;
    `audit_type` names its reads in the patient's access log; `when` holds any further SQL
    conditions a record must meet to be shared, and `notes` says so in both operations' docs.
    """

    scope: str
    audit_type: str
    list: Operation
    read: Operation
    when: tuple = ()
    notes: str = ""


@dataclass(frozen=True)
class Synced:
    """Records of one type in a patient's /v1/sync feed: an OwnedRecord model, the `type` of its
    changes, and the schema its `data` is dumped with (the record as its own GET returns it)."""

    sync_type: str
    model: Any
    schema: type


def unchanged(data, *, owner_id):
    return data


def nothing_more(record):
    return record


@dataclass(frozen=True)
class JournalKind:
    blueprint: Blueprint
    model: Any  # a records.OwnedRecord model
    schemas: Schemas
    sync_type: str  # the `type` of its changes in /v1/sync
    list: Operation
    create: Operation
    read: Operation
    delete: Operation
    update: Operation | None = None  # with schemas.update
    sharing: Sharing | None = None  # None: never shared (contacts)
    # Query parameters that filter by equality, and ones that must be in a JSON list column:
    # {"tag": "tags"} keeps records whose `tags` holds the `tag` asked for.
    match: tuple = ()
    contains: dict = field(default_factory=dict)
    # The same for an encrypted list (api.encryption.EncryptedList), through its blind index; it
    # matches ignoring case.
    contains_encrypted: dict = field(default_factory=dict)
    # The kind's own rules on what a create or an update may hold: (data, owner_id=) -> data,
    # may raise a 422.
    prepare_create: Callable = unchanged
    prepare_update: Callable = unchanged
    # Called with a person's id before their account is erased, for records of other people
    # that name them (an entry acknowledged by a therapist).
    forget_person: Callable | None = None
    # What else a create does in its unit of work, given the new record.
    after_create: Callable | None = None
    # What a 201 (and its replay) shows of a new record: schemas.created dumps it.
    present_created: Callable = nothing_more
    # Called with a record about to be deleted, for what goes with it.
    before_delete: Callable | None = None
    # What else an update does in its unit of work, given the changed record and the changes.
    after_update: Callable | None = None
    # Records the kind makes of its own, in the patient's sync feed beside the kind's records.
    also_synced: tuple[Synced, ...] = ()
    # For a kind whose records complete follow-ups (api/plans): given a new record and the
    # `follow_up_id` its create named (or None), in the create's unit of work. The create schema
    # then carries `follow_up_id`.
    completes: Callable | None = None
    # ... and, given a record about to be deleted, opens again the follow-up it completed.
    reopens: Callable | None = None

    @property
    def synced(self):
        """The kind's own records in the sync feed, then what else it puts there."""
        return (Synced(self.sync_type, self.model, self.schemas.record), *self.also_synced)

    def make(self, data, *, owner_id):
        """A new record of this kind for its owner, with whatever the kind makes with it (its
        rules on the data, then its after_create and the follow-up it completes), in the
        caller's unit of work."""
        follow_up_id = data.pop("follow_up_id", None)
        data = self.prepare_create(data, owner_id=owner_id)
        record = records.create_owned(self.model, owner_id=owner_id, data=data)
        if self.after_create is not None:
            self.after_create(record)
        if self.completes is not None:
            self.completes(record, follow_up_id)
        return record

    def filters(self, query, *, owner_id):
        """WHERE conditions for the list of `owner_id`'s records: its time range and the kind's
        own filters."""
        model = self.model
        conditions = records.time_range(model, query)
        conditions += [
            getattr(model, name) == query[name] for name in self.match if query.get(name) is not None
        ]
        conditions += [
            contains(getattr(model, column), query[name])
            for name, column in self.contains.items()
            if query.get(name)
        ]
        conditions += [
            contains_blind(getattr(model, column), query[name], owner_id)
            for name, column in self.contains_encrypted.items()
            if query.get(name)
        ]
        return conditions


def registered_kinds():
    """The app's journal kinds (api/kinds.py), for code below them that must reach every kind
    while a request runs (erasing an account asks each kind to forget the person)."""
    return current_app.extensions["journal_kinds"]


def decorate(func, *decorators):
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


IF_MATCH_NOTE = "Needs If-Match with its current ETag (428 without, 412 when stale)."
DELETE_NOTE = "Needs If-Match. It leaves reads at once; /v1/sync reports a tombstone."


def register_views(kind):
    """Give the kind's blueprint its collection and item views."""
    blp, model, schemas = kind.blueprint, kind.model, kind.schemas
    id_arg = f"{model.__name__.lower()}_id"
    item_endpoint = f".{model.__name__}Item"

    def get_record(path):
        return records.get_owned(model, owner_id=current_user.id, record_id=path[id_arg])

    def list_records(self, query):
        rows, more = records.list_page(
            model,
            owner_id=current_user.id,
            filters=kind.filters(query, owner_id=current_user.id),
            limit=query["limit"],
            after=page_position(query),
        )
        return page_response(rows, more, time_field=model.TIME_FIELD)

    def created(record):
        location = url_for(item_endpoint, **{id_arg: record.id})
        return created_response(kind.present_created(record), location=location)

    def create_record(self, data):
        return created(kind.make(data, owner_id=current_user.id))

    def replay_create(record_id):
        return created(records.get_owned(model, owner_id=current_user.id, record_id=record_id))

    def read_record(self, **path):
        if request.if_none_match:
            # A device asking whether its copy is current is answered from the version alone:
            # the record is loaded (and its text decrypted) only when it has changed.
            version = records.live_version(model, owner_id=current_user.id, record_id=path[id_arg])
            unchanged = not_modified_version(version)
            if unchanged is not None:
                return unchanged
        return item_response(get_record(path))

    def update_record(self, changes, **path):
        record = get_record(path)
        require_if_match(record, schemas.record())
        changes = kind.prepare_update(changes, owner_id=current_user.id)
        records.update_owned(record, changes=changes, current=schemas.record().dump)
        if kind.after_update is not None:
            kind.after_update(record, changes)
        return record, etag_headers(record)

    def delete_record(self, **path):
        record = get_record(path)
        require_if_match(record, schemas.record())
        if kind.before_delete is not None:
            kind.before_delete(record)
        if kind.reopens is not None:
            kind.reopens(record)
        records.delete_owned(record, current=schemas.record().dump)

    list_records.__doc__ = kind.list.doc()
    create_record.__doc__ = kind.create.doc()
    read_record.__doc__ = kind.read.doc()
    delete_record.__doc__ = kind.delete.doc(DELETE_NOTE)

    patient_only = auth_required(roles=PATIENTS)
    collection = {
        "get": decorate(
            list_records,
            patient_only,
            operation(kind.list.id),
            blp.arguments(schemas.query, location="query"),
            blp.response(200, schemas.page, headers=PAGE_HEADERS),
        ),
        "post": decorate(
            create_record,
            patient_only,
            operation(kind.create.id),
            blp.arguments(schemas.create),
            blp.response(201, schemas.created or schemas.record, headers=CREATED_HEADERS),
            idempotent(replay_create),
        ),
    }
    item = {
        "get": decorate(
            read_record, patient_only, operation(kind.read.id), versioned, blp.response(200, schemas.record)
        ),
        "delete": decorate(
            delete_record,
            patient_only,
            takes_no_body,
            operation(kind.delete.id),
            versioned,
            blp.response(204),
        ),
    }
    if kind.update is not None:
        update_record.__doc__ = kind.update.doc(IF_MATCH_NOTE)
        item["patch"] = decorate(
            update_record,
            patient_only,
            operation(kind.update.id),
            versioned,
            blp.arguments(schemas.update),
            blp.response(200, schemas.record),
        )
    blp.route("")(type(f"{model.__name__}List", (MethodView,), collection))
    blp.route(f"/<uuid:{id_arg}>")(type(f"{model.__name__}Item", (MethodView,), item))
