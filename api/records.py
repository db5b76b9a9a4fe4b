"""What every journal record shares: ownership, versions, soft delete, the sync sequence,
and the service functions that read and write records scoped to their owner in SQL.

Services add and flush; the request's unit of work commits (api/transactions.py).
"""

import functools
import uuid
from collections import defaultdict
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    FromClause,
    Index,
    Integer,
    bindparam,
    event,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError, InvalidRequestError
from sqlalchemy.orm import Mapped, declared_attr, make_transient_to_detached, mapped_column
from sqlalchemy.orm.exc import StaleDataError

from api.encryption import index_lists
from api.errors import Conflict, NotFound, PreconditionFailed
from api.extensions import Model, db
from api.models import new_id, utcnow
from api.pagination import fetch_page, keyset


class SyncClock(Model):
    """One counter per user. Every write takes the next value while holding this row's lock
    until commit, so a user's changes commit in sequence order and a sync reader paging by
    sequence can never miss one that commits late."""

    __tablename__ = "sync_clocks"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)


class OwnerErased(NotFound):
    """The account whose records a request writes was erased meanwhile: its records are gone,
    and, as for any record that is gone, the answer is the same 404 as for one never made."""


def hold_account(user_id):
    """Lock the account's sync clock row until the request commits; False if it is gone.

    The clock is the account's lock. An erasure takes it before anything else, so a write that
    also takes it before it locks anything an erasure touches (the account's row, its logins,
    its invitations, its stored answers) waits for the erasure or is waited for, and never
    deadlocks with it; the erasure sees every such write that committed before it. Journal
    writes take it first through number_changes; acknowledgements, refresh-token rotation and
    redeeming an invitation (for the therapist's account) call this. On PostgreSQL a row lock;
    on SQLite an UPDATE, which takes the database's write lock.
    """
    clock = select(SyncClock.user_id).where(SyncClock.user_id == user_id)
    if db.session.get_bind().dialect.name == "postgresql":
        return db.session.execute(clock.with_for_update()).scalar_one_or_none() is not None
    held = db.session.execute(
        update(SyncClock)
        .where(SyncClock.user_id == user_id)
        .values(last_seq=SyncClock.last_seq)
        .returning(SyncClock.user_id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    return held is not None


class OwnedRecord:
    """Mixin for a patient's journal record. Subclasses set TIME_FIELD: their own time column,
    which lists order by."""

    TIME_FIELD = "created_at"

    if TYPE_CHECKING:  # set by the models and by declarative mapping
        __tablename__: str
        __table__: ClassVar[FromClause]

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None]
    sync_seq: Mapped[int] = mapped_column(BigInteger)

    @declared_attr
    def owner_id(cls) -> Mapped[uuid.UUID]:
        return mapped_column(ForeignKey("users.id", ondelete="CASCADE"))

    @declared_attr.directive
    def __mapper_args__(cls):
        return {"version_id_col": cls.__table__.c.version}

    @declared_attr.directive
    def __table_args__(cls):
        return (
            # A page of a list is one index range scan, however long the journal.
            Index(f"ix_{cls.__tablename__}_owner_time", "owner_id", cls.TIME_FIELD, "id"),
            # /v1/sync reads a user's changes in sequence order.
            Index(f"ix_{cls.__tablename__}_owner_sync", "owner_id", "sync_seq", unique=True),
            *cls.creation_index(),
            *cls.extra_indexes(),
        )

    @classmethod
    def creation_index(cls):
        """The export reads a journal in batches by (created_at, id), a key no edit changes, so a
        record edited while its export streams is still read exactly once; one range scan per
        batch. A table whose own time is created_at (contacts, safety events) has it as its owner_time
        index."""
        if cls.TIME_FIELD == "created_at":
            return ()
        return (Index(f"ix_{cls.__tablename__}_owner_created", "owner_id", "created_at", "id"),)

    @classmethod
    def extra_indexes(cls):
        return ()

    @classmethod
    def time_column(cls):
        return getattr(cls, cls.TIME_FIELD)


# Built once and run on the flush's own connection as Core: building the expression and the
# ORM's bulk-update path cost more than the round trip, on every write.
TAKE_NUMBERS = (
    update(SyncClock)
    .where(SyncClock.user_id == bindparam("clock_owner"))
    .values(last_seq=SyncClock.last_seq + bindparam("taken"))
    .returning(SyncClock.last_seq)
)


@event.listens_for(db.session, "before_flush")
def number_changes(session, flush_context, instances):
    """Every journal record a flush inserts or changes takes its owner's next sync number.

    No service has to remember it: a create, an edit, a delete, an acknowledgement all go out
    with their number in the same INSERT or UPDATE (so a change bumps the version once). Each
    owner's clock is taken with one UPDATE, owners in one order, so two requests writing for
    the same people cannot deadlock; its row stays locked until the request commits.
    """
    changed = defaultdict(list)
    for record in session.new:
        if isinstance(record, OwnedRecord):
            changed[record.owner_id].append(record)
    for record in session.dirty:
        if isinstance(record, OwnedRecord) and session.is_modified(record):
            changed[record.owner_id].append(record)
    for owner_id in sorted(changed):
        taken = changed[owner_id]
        last = take_numbers(session, owner_id, len(taken))
        for number, record in enumerate(taken, start=last - len(taken) + 1):
            record.sync_seq = number


def take_numbers(session, owner_id, count):
    """Take the owner's next `count` sync numbers; the last one (OwnerErased if the account is gone)."""
    last = (
        session.connection()
        .execute(TAKE_NUMBERS, {"clock_owner": owner_id, "taken": count})
        .scalar_one_or_none()
    )
    if last is None:
        raise OwnerErased()
    return last


def live(model, owner_id):
    """Records of one owner that are not deleted: the WHERE every read starts from."""
    return select(model).where(model.owner_id == owner_id, model.deleted_at.is_(None))


@functools.cache
def _reads(model):
    """The reads every request of a kind makes, built once per model with the owner, the record
    and the page size as parameters: building a statement and its cache key on each request
    cost as much as running it. The same WHERE as `live`, the same order as `keyset`."""
    mine = live(model, bindparam("owner"))
    one = mine.where(model.id == bindparam("record"))
    first_page = keyset(
        mine, time_column=model.time_column(), id_column=model.id, limit=bindparam("page_size", type_=Integer)
    )
    return one, one.with_only_columns(model.version), first_page


def get_owned(model, *, owner_id, record_id):
    """The owner's live record; anyone else's, a deleted one and a missing one are the same 404."""
    one, _, _ = _reads(model)
    record = db.session.execute(one, {"owner": owner_id, "record": record_id}).scalar_one_or_none()
    if record is None:
        raise NotFound()
    return record


def live_version(model, *, owner_id, record_id):
    """The version of the owner's live record, or None (a 304 needs no more)."""
    _, version, _ = _reads(model)
    return db.session.execute(version, {"owner": owner_id, "record": record_id}).scalar_one_or_none()


def list_page(model, *, owner_id, filters=(), limit, after=None):
    """One page of the owner's live records, newest first; served by ix_<table>_owner_time."""
    if not filters and after is None:  # the first page, unfiltered: what an app asks most
        _, _, first_page = _reads(model)
        rows = db.session.execute(first_page, {"owner": owner_id, "page_size": limit}).scalars().all()
        return rows[:limit], len(rows) > limit
    query = live(model, owner_id).where(*filters)
    return fetch_page(query, time_column=model.time_column(), id_column=model.id, limit=limit, after=after)


ID_TAKEN = "A record with this id already exists."


def create_owned(model, *, owner_id, data):
    """Insert a record (the client may choose its id, so records can be made offline).

    A chosen id that is taken (by any record of any owner, deleted ones too) is the INSERT's
    primary key to refuse, as a 409: no SELECT asks first.

    The record is written with one Core INSERT, not through the ORM's flush, which cost more than
    the statement: every column is set here (the given data, then each column's default), its
    sync number taken and its blind indexes computed as the flush would, and the object then
    joins the session as the persistent record it now is, for what the kind makes with it
    (its after_create) and for the 201.
    """
    record_id = data.pop("id", None) or new_id()
    now = utcnow()
    # The data first: nothing in it can set the owner, the id or the version.
    values = {
        **data,
        "id": record_id,
        "owner_id": owner_id,
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }
    defaults = _column_defaults(model)
    record = model(**values, **{name: default() for name, default in defaults.items() if name not in values})
    index_lists(record)
    record.sync_seq = take_numbers(db.session, owner_id, 1)
    row = {column: getattr(record, name) for column, name in _column_attributes(model)}
    try:
        db.session.connection().execute(insert(model), [row])
    except IntegrityError:
        raise Conflict(ID_TAKEN) from None
    make_transient_to_detached(record)
    db.session.add(record)
    return record


@functools.cache
def _column_attributes(model):
    """(column key, attribute name) of each of the model's columns."""
    return tuple((attribute.columns[0].key, attribute.key) for attribute in inspect(model).column_attrs)


@functools.cache
def _column_defaults(model):
    """attribute name -> a function giving the value a new record has when none is given: the
    column's own default (Python-side, as every model here declares them), else None."""
    defaults = {}
    for attribute in inspect(model).column_attrs:
        column, default = attribute.columns[0], attribute.columns[0].default
        if column.server_default is not None or (
            default is not None and not (default.is_scalar or default.is_callable)
        ):
            raise TypeError(f"{model.__name__}.{attribute.key}: a default only the database knows")
        if default is not None and default.is_callable:
            defaults[attribute.key] = functools.partial(default.arg, None)  # SQLAlchemy's (context) form
        else:
            defaults[attribute.key] = functools.partial(
                lambda value: value, None if default is None else default.arg
            )
    return defaults


def is_deleted(record):
    return record.deleted_at is not None


def update_owned(record, *, changes, current):
    """Apply changes under optimistic locking; `current` dumps the record for a 412."""
    for name, value in changes.items():
        setattr(record, name, value)
    return flush_versioned(record, current, gone=is_deleted)


def delete_owned(record, *, current):
    """Soft delete: gone from reads at once; /v1/sync reports a tombstone."""
    record.deleted_at = utcnow()
    return flush_versioned(record, current, gone=is_deleted)


def flush_versioned(record, current, *, gone=lambda record: False):
    """Write the changes to a record that has a version column; `current` dumps it for a 412.

    If-Match was checked before the write; the version in the UPDATE's WHERE catches another
    request that changed the record in between: 412 with the record as it is now. If that
    request deleted it (the row is gone, or `gone(record)` says so: a soft delete, a revoked
    link), it is the 404 any read of it now gives.

    The rollback ends the request's transaction on its way to refusing the request; nothing it
    wrote before stays.
    """
    try:
        db.session.flush()
    except StaleDataError:
        db.session.rollback()
        try:
            db.session.refresh(record)
        except InvalidRequestError:
            raise NotFound() from None
        if gone(record):
            raise NotFound() from None
        raise PreconditionFailed(current=current(record)) from None
    return record


def time_range(model, query):
    """Filters for `from` (inclusive) and `to` (exclusive) on the record's own time."""
    return time_filters(model.time_column(), query)


def time_filters(column, query):
    """`from` (inclusive) and `to` (exclusive) of a TimeRangeQuerySchema, on any time column."""
    filters = []
    if query.get("from_") is not None:
        filters.append(column >= query["from_"])
    if query.get("to") is not None:
        filters.append(column < query["to"])
    return filters
