"""The change feed: every upsert and tombstone of a patient's records, in commit order."""

import operator
from collections import namedtuple
from operator import itemgetter

import marshmallow as ma
from sqlalchemy import Column, Integer, String, bindparam, inspect, literal, select, union_all
from sqlalchemy.engine import Row
from sqlalchemy.orm import MANYTOONE
from sqlalchemy.sql.elements import BinaryExpression

from api.dumping import reads_plainly
from api.errors import ValidationFailed
from api.extensions import db
from api.kinds import SYNCED
from api.pagination import decode_cursor, encode_cursor

# Sequence numbers are BIGINT: a cursor beyond that range is not one of ours.
MAX_SEQ = 2**63 - 1

# One schema instance per type of change, built once: a marshmallow schema deep-copies its
# fields (and builds its nested schemas) on instantiation, which per record cost more than
# the dump itself. Dumping holds no state in the instance, so threads share them.
DUMPERS = {synced.sync_type: synced.schema() for synced in SYNCED}


def encode_sync_cursor(seq):
    return encode_cursor({"seq": seq})


def decode_sync_cursor(cursor):
    try:
        seq = decode_cursor(cursor)["seq"]
        # type(), not isinstance(): JSON `true` is a bool, and a bool is an int to Python.
        if type(seq) is not int or not 0 <= seq <= MAX_SEQ:
            raise ValueError
        return seq
    except (ValueError, TypeError, KeyError):
        raise ValidationFailed("cursor", "Not a cursor from /v1/sync.") from None


def _positions_statement():
    """(type, sync_seq) of an owner's next changes, oldest first, read in ONE statement.

    One statement sees one snapshot of every table. Six separate SELECTs would each see the
    database at a different moment, and a newer change in a table read later could move the
    cursor past an older one that committed in between. Each branch is one range scan of
    ix_<table>_owner_sync. Built once, with the owner, the position and the count as
    parameters: building the union and its cache key cost more than running it.
    """
    taken = bindparam("taken", type_=Integer)
    branches = [
        select(
            literal(synced.sync_type, String).label("type"),
            synced.model.sync_seq.label("seq"),
        )
        .where(synced.model.owner_id == bindparam("owner_id"), synced.model.sync_seq > bindparam("after_seq"))
        .order_by(synced.model.sync_seq)
        .limit(taken)
        .subquery()
        .select()
        for synced in SYNCED
    ]
    feed = union_all(*branches).subquery()
    return select(feed).order_by(feed.c.seq).limit(taken)


POSITIONS = _positions_statement()


class _Loader:
    """How one type's records on a page are read: `statement`, an owner's records of the type in
    a range of sequence numbers, and `make`, which turns what it returns into what the type's
    schema dumps. The range, read in the index's order, keeps the read to ix_<table>_owner_sync
    around the page, under PostgreSQL's generic plan for a prepared statement too (reading by id
    and owner, such a plan could read every record of the owner: a journal of 200,000 check-ins
    took ten times as long as one of 1,000).

    Where the schema dumps only columns, and records of another table one foreign key away (an
    entry's `acknowledged_by`), the records are read as rows, through SQLAlchemy Core: the ORM's
    instance state, identity map and attribute events for each record were a third of a sync
    request. The types whose schema needs more (a property, a list of related records) are read
    as ORM instances. tests/test_sync.py holds both to what each record's own GET returns.
    """

    def __init__(self, synced):
        model = synced.model
        bounds = (
            model.owner_id == bindparam("owner_id"),
            model.sync_seq > bindparam("after_seq"),
            model.sync_seq <= bindparam("last_seq"),
        )
        plan = _row_plan(synced)
        self.as_rows, self.make = plan is not None, None
        if plan is None:
            self.statement = select(model).where(*bounds).order_by(model.sync_seq)
            return
        columns, joins, self.make = plan
        statement = select(*columns).select_from(model.__table__)
        for target, onclause in joins:
            statement = statement.outerjoin(target, onclause)
        self.statement = statement.where(*bounds).order_by(model.sync_seq)

    def load(self, parameters):
        if not self.as_rows:
            return db.session.execute(self.statement, parameters).scalars()
        rows = db.session.connection().execute(self.statement, parameters)
        return rows if self.make is None else map(self.make, rows)


def _row_plan(synced):
    """(columns, outer joins, make) reading a type's records as rows, or None if its schema reads
    anything but columns and to-one relationships whose nested schema reads only columns."""
    mapper = inspect(synced.model)
    columns = {attr.key: attr.columns[0] for attr in mapper.column_attrs if len(attr.columns) == 1}
    wanted = {"id", "sync_seq", "deleted_at", "version"}
    related = {}
    for name, field in DUMPERS[synced.sync_type].dump_fields.items():
        attr = field.attribute or name
        if not reads_plainly(field, attr):
            return None  # a Method, Function or value read its own way wants the ORM instance
        if attr in columns:
            wanted.add(attr)
            continue
        relationship = mapper.relationships.get(attr)
        if (
            relationship is None
            or relationship.direction is not MANYTOONE
            or not isinstance(field, ma.fields.Nested)
            or len(relationship.local_remote_pairs) != 1
            or not _plain_equality(relationship.primaryjoin)
        ):
            return None
        target = inspect(relationship.mapper.class_)
        their = {a.key: a.columns[0] for a in target.column_attrs if len(a.columns) == 1}
        names = []
        for nested_name, nested_field in field.schema.dump_fields.items():
            nested_attr = nested_field.attribute or nested_name
            if nested_attr not in their or not reads_plainly(nested_field, nested_attr):
                return None
            names.append(nested_attr)
        related[attr] = (relationship, names, their)
    if any(not isinstance(columns[attr], Column) for attr in wanted):
        return None
    if any(hasattr(Row, attr) for attr in wanted):
        return None  # a column named like one of Row's own methods (count, index) would read as it
    own = sorted(wanted)
    selected = [columns[attr].label(attr) for attr in own]
    joins, builders = [], []
    for attr, (relationship, names, their) in related.items():
        alias = relationship.mapper.local_table.alias(f"{attr}_")
        ((local, remote),) = relationship.local_remote_pairs
        joins.append((alias, alias.c[remote.key] == local))
        labels = [f"{attr}__{name}" for name in names]
        selected += [alias.c[their[name].key].label(label) for name, label in zip(names, labels, strict=True)]
        # The joined key tells a related record from none (a LEFT JOIN that found nothing).
        present = f"{attr}__key"
        selected.append(alias.c[remote.key].label(present))
        builders.append((present, labels, namedtuple("RelatedRow", names)))  # noqa: PYI024
    if not builders:
        return selected, joins, None  # a Row reads as its columns' names already
    Record = namedtuple("SyncRow", [*own, *related])  # type: ignore[misc]  # noqa: PYI024

    def make(row):
        """The row's own columns, and each related record (None where the key is null)."""
        values = row._mapping
        extra = [
            None if values[present] is None else Related(*(values[label] for label in labels))
            for present, labels, Related in builders
        ]
        return Record(*(values[attr] for attr in own), *extra)

    return selected, joins, make


def _plain_equality(condition):
    """Whether a relationship joins on one column equal to another and nothing more (the LEFT
    JOIN that `_row_plan` writes reproduces only that)."""
    return isinstance(condition, BinaryExpression) and condition.operator is operator.eq


LOADS = {synced.sync_type: _Loader(synced) for synced in SYNCED}


def _positions(*, owner_id, after_seq, limit):
    """The next limit + 1 changes after `after_seq` (POSITIONS)."""
    parameters = {"owner_id": owner_id, "after_seq": after_seq, "taken": limit + 1}
    return db.session.connection().execute(POSITIONS, parameters).all()


def changes_since(*, owner_id, after_seq, limit):
    """Up to `limit` changes after `after_seq`, oldest first.

    Every write takes the owner's next sequence number under a lock held until commit (see
    api/records.py's SyncClock), so sequence order is commit order: when `_positions` sees the
    page's last number committed, every lower number is committed too, and no record can take
    one of them later. So each type's records numbered in the page's range are the page: read
    after the positions, a record that has changed again since carries a number beyond the
    range, and is left for the later page where it belongs. Cost follows the page size, not
    the size of the journal.
    """
    positions = _positions(owner_id=owner_id, after_seq=after_seq, limit=limit)
    page, has_more = positions[:limit], len(positions) > limit
    last_seq = page[-1].seq if page else after_seq
    bounds = {"owner_id": owner_id, "after_seq": after_seq, "last_seq": last_seq}
    loaded = []
    for sync_type in {position.type for position in page}:
        dump = DUMPERS[sync_type].dump
        loaded += [(row.sync_seq, sync_type, row, dump) for row in LOADS[sync_type].load(bounds)]
    loaded.sort(key=itemgetter(0))
    changes = []
    for _, sync_type, row, dump in loaded:
        deleted = row.deleted_at is not None
        changes.append(
            {
                "type": sync_type,
                "id": str(row.id),
                "op": "delete" if deleted else "upsert",
                "version": row.version,
                "data": None if deleted else dump(row),
            }
        )
    return {"changes": changes, "next_cursor": encode_sync_cursor(last_seq), "has_more": has_more}
