"""What an export reads, and how: the patient's live records of every kind, in batches.

Records are read BATCH_SIZE at a time in (created_at, id) order, each batch starting after the
last one read: a key no edit changes, served by ix_<table>_owner_created (contacts and safety
events, whose own time is created_at: ix_<table>_owner_time). The session holds loaded rows
weakly, so a batch is let go once the next is read: nothing collects a whole table, and memory
stays flat however long the journal is. On PostgreSQL the reads share one REPEATABLE READ
snapshot, so the export is the journal as it was at one moment; elsewhere each batch sees the
latest commits, and the immutable key still gives every record that lives through the export
exactly once.
"""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import tuple_

from api.accounts.models import User
from api.audit import service as audit
from api.audit.models import EXPORT, Action, Outcome
from api.extensions import db
from api.kinds import SYNCED
from api.plans import service as plans
from api.plans.schemas import PlanSchema
from api.records import live

BATCH_SIZE = 500


@dataclass(frozen=True)
class Section:
    """One kind of record in an export: its name there (its table's), model and the schema its
    own GET dumps it with."""

    name: str
    model: Any
    schema: type


# Every kind's records, then what the kinds make of their own (safety events): the sync feed's
# list, so a new kind is exported as soon as it is registered.
SECTIONS = tuple(Section(synced.model.__tablename__, synced.model, synced.schema) for synced in SYNCED)


def record_export(*, actor, request_id):
    """The export's event in the patient's access log, in the request's unit of work: it commits
    before the first byte of the export is sent, or the export does not start."""
    audit.record(
        actor=actor,
        patient_ids=[actor.id],
        action=Action.EXPORT,
        resource_type=EXPORT,
        outcome=Outcome.ALLOWED,
        request_id=request_id,
    )


def begin_snapshot():
    """Start the export's reading transaction; on PostgreSQL, one snapshot for all of it.

    Called first thing when the response starts streaming: the request's own transaction has
    committed (the audit event), so this opens a new one.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def owner(owner_id: uuid.UUID) -> User:
    user = db.session.get(User, owner_id)
    if user is None:  # erased between the request's commit and its first byte
        raise LookupError("the exported account is gone")
    return user


def integration_plan(owner_id: uuid.UUID) -> dict:
    """The patient's integration plan as its GET shows it (the default one while they have none)."""
    return PlanSchema().dump(plans.plan_of(owner_id))


def each_record(model, *, owner_id) -> Iterator[Any]:
    """The owner's live records of one model, oldest created first, read batch by batch."""
    after = None
    while True:
        query = live(model, owner_id).order_by(model.created_at, model.id).limit(BATCH_SIZE)
        if after is not None:
            query = query.where(tuple_(model.created_at, model.id) > tuple_(*after))
        batch = db.session.execute(query).scalars().all()
        yield from batch
        if len(batch) < BATCH_SIZE:
            return
        after = (batch[-1].created_at, batch[-1].id)


def each_dumped(section, *, owner_id) -> Iterator[dict]:
    """A section's records as their own GET shows them."""
    schema = section.schema()
    for record in each_record(section.model, owner_id=owner_id):
        yield schema.dump(record)
