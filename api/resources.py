"""The HTTP face every journal resource shares, built once from a ResourceSpec.

Each resource package declares its model, schemas, names and rules; `register_resource` gives
it a collection view (list, create) and an item view (read, update, delete) with the same
auth, paging, ETag, idempotency and sync behaviour everywhere.
"""

from dataclasses import dataclass, field
from typing import Callable

from flask import url_for
from flask.views import MethodView
from flask_jwt_extended import current_user

from api import records
from api.access import PATIENTS, auth_required
from api.idempotency import idempotent
from api.jsonlists import contains
from api.pagination import page_position, page_response
from api.smorest import (
    CREATED_HEADERS,
    created_response,
    etag_headers,
    item_response,
    operation,
    require_if_match,
    takes_no_body,
    versioned,
)
from api.sync import service as sync


def unchanged(data, *, owner_id):
    return data


@dataclass
class ResourceSpec:
    model: type
    schema: type
    create_schema: type
    query_schema: type
    page_schema: type
    singular: str  # "Entry": operationIds createEntry, getEntry ...
    plural: str  # "Entries": listEntries
    noun: str  # "journal entry", for summaries
    plural_noun: str  # "journal entries"
    update_schema: type | None = None  # None: no PATCH (e.g. assessments)
    # Query parameters that filter by equality, and ones that must be in a JSON list column:
    # {"tag": "tags"} keeps records whose `tags` holds the `tag` asked for.
    match: tuple = ()
    contains: dict = field(default_factory=dict)
    # The care-team scope that shares this resource with linked therapists (None: never shared),
    # and any further SQL conditions a record must meet to be shared.
    scope: str | None = None
    shared_when: tuple = ()
    prepare_create: Callable = unchanged  # (data, owner_id=) -> data, may raise a 422
    prepare_update: Callable = unchanged  # (changes, owner_id=) -> changes
    list_notes: str = ""
    create_notes: str = ""


def query_filters(spec, query):
    """WHERE conditions for the resource's own filters (time ranges are common to all)."""
    model = spec.model
    conditions = [getattr(model, name) == query[name] for name in spec.match if query.get(name) is not None]
    conditions += [contains(getattr(model, column), query[name]) for name, column in spec.contains.items() if query.get(name)]
    return conditions


def _doc(summary, notes=""):
    return f"{summary}\n\n{notes}" if notes else summary


def decorate(func, *decorators):
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def register_resource(blp, spec):
    model, id_arg = spec.model, f"{spec.singular.lower()}_id"
    item_endpoint = f".{spec.singular}Item"
    sync.register(model, spec.schema)

    def get_record(path):
        return records.get_owned(model, owner_id=current_user.id, record_id=path[id_arg])

    def list_records(self, query):
        after = page_position(query)
        filters = records.time_range(model, query) + query_filters(spec, query)
        rows, more = records.list_page(model, owner_id=current_user.id, filters=filters, limit=query["limit"], after=after)
        return page_response(rows, more, time_field=model.TIME_FIELD)

    def created(record):
        return created_response(record, location=url_for(item_endpoint, **{id_arg: record.id}))

    def create_record(self, data):
        data = spec.prepare_create(data, owner_id=current_user.id)
        return created(records.create_owned(model, owner_id=current_user.id, data=data))

    def replay_create(record_id):
        return created(records.get_owned(model, owner_id=current_user.id, record_id=record_id))

    def read_record(self, **path):
        return item_response(get_record(path))

    def update_record(self, changes, **path):
        record = get_record(path)
        require_if_match(record, spec.schema())
        changes = spec.prepare_update(changes, owner_id=current_user.id)
        records.update_owned(record, changes=changes, current=spec.schema().dump)
        return record, etag_headers(record)

    def delete_record(self, **path):
        record = get_record(path)
        require_if_match(record, spec.schema())
        records.delete_owned(record, current=spec.schema().dump)

    list_records.__doc__ = _doc(f"List your {spec.plural_noun}, newest first.", spec.list_notes)
    create_record.__doc__ = _doc(f"Create a {spec.noun}.", spec.create_notes)
    read_record.__doc__ = f"Read one {spec.noun}."
    update_record.__doc__ = _doc(f"Change a {spec.noun}.", "Needs If-Match with its current ETag (428 without, 412 when stale).")
    delete_record.__doc__ = _doc(f"Delete a {spec.noun}.", "Needs If-Match. It leaves reads at once; /v1/sync reports a tombstone.")

    patient_only = auth_required(roles=PATIENTS)
    collection = {
        "get": decorate(
            list_records,
            patient_only,
            operation(f"list{spec.plural}"),
            blp.arguments(spec.query_schema, location="query"),
            blp.response(200, spec.page_schema),
        ),
        "post": decorate(
            create_record,
            patient_only,
            operation(f"create{spec.singular}"),
            blp.arguments(spec.create_schema),
            blp.response(201, spec.schema, headers=CREATED_HEADERS),
            idempotent(replay_create),
        ),
    }
    item = {
        "get": decorate(read_record, patient_only, operation(f"get{spec.singular}"), versioned, blp.response(200, spec.schema)),
        "delete": decorate(
            delete_record, patient_only, takes_no_body, operation(f"delete{spec.singular}"), versioned, blp.response(204)
        ),
    }
    if spec.update_schema is not None:
        item["patch"] = decorate(
            update_record,
            patient_only,
            operation(f"update{spec.singular}"),
            versioned,
            blp.arguments(spec.update_schema),
            blp.response(200, spec.schema),
        )
    blp.route("")(type(f"{spec.singular}List", (MethodView,), collection))
    blp.route(f"/<uuid:{id_arg}>")(type(f"{spec.singular}Item", (MethodView,), item))
