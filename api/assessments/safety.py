"""The loop a PHQ-9's item 9 opens: a safety event made with the assessment, and the crisis
lines its 201 shows the patient (API.md §5). Which answer opens it is the instrument's safety
rule, in the registry (api/reference/instruments.json)."""

import marshmallow as ma
from sqlalchemy import select, update

from api.accounts.models import User
from api.accounts.schemas import PersonSchema
from api.assessments.safety_models import SafetyAcknowledgement, SafetyEvent, SafetyStatus
from api.assessments.schemas import AssessmentSchema, Severity
from api.assessments.scoring import REGISTRY
from api.extensions import db
from api.fields import Timestamp
from api.models import utcnow
from api.records import OwnerErased, hold_account
from api.reference.data import crisis_resources
from api.reference.schemas import CrisisResourcesSchema
from api.schemas import RecordSchema

# --- with the assessment's create and delete (the kind's hooks) --------------------------------


def open_safety_event(assessment):
    """In the assessment's unit of work: a result that meets its instrument's safety rule (a PHQ-9
    with item 9 above 0) makes its safety event, which records the answer to the rule's item.

    A replayed create (Idempotency-Key) never runs this again, and the unique assessment_id
    would refuse a second event if anything did.
    """
    if not assessment.safety_flag:
        return
    rule = REGISTRY[assessment.instrument]["safety_rule"]
    db.session.add(
        SafetyEvent(
            owner_id=assessment.owner_id,
            assessment_id=assessment.id,
            occurred_at=assessment.taken_at,
            score=assessment.score,
            severity=assessment.severity,
            item9_answer=assessment.answers[rule["item"] - 1],
        )
    )
    db.session.flush()


def delete_with_assessment(assessment):
    """Deleting the assessment deletes its event: a tombstone in the feed, gone from every list.

    The patient's account is held first (records.hold_account), as an acknowledgement holds it
    before it changes the event, so the event is read as the last acknowledgement left it.
    """
    if not hold_account(assessment.owner_id):
        raise OwnerErased()
    event = db.session.execute(
        select(SafetyEvent).where(
            SafetyEvent.assessment_id == assessment.id, SafetyEvent.deleted_at.is_(None)
        )
    ).scalar_one_or_none()
    if event is not None:
        event.deleted_at = utcnow()


def forget_acknowledger(person_id):
    """Before a therapist's account is erased: their name leaves every acknowledgement they made.

    The time and note stay. Each event changes as an edit does (a new version and sync number),
    so the patients' devices drop the name too; the patients' accounts are held one by one in
    one order, after the therapist's, which the erasure holds.
    """
    acknowledged = (
        select(SafetyEvent.owner_id)
        .join(SafetyAcknowledgement, SafetyAcknowledgement.event_id == SafetyEvent.id)
        .where(SafetyAcknowledgement.therapist_id == person_id)
    )
    owners = db.session.execute(acknowledged.distinct().order_by(SafetyEvent.owner_id)).scalars().all()
    patients = [owner_id for owner_id in owners if hold_account(owner_id)]
    if not patients:
        return
    events = db.session.execute(
        select(SafetyEvent).where(
            SafetyEvent.owner_id.in_(patients),
            SafetyEvent.id.in_(
                select(SafetyAcknowledgement.event_id).where(SafetyAcknowledgement.therapist_id == person_id)
            ),
        )
    ).scalars()
    now = utcnow()
    for event in events:
        event.updated_at = now
    db.session.execute(
        update(SafetyAcknowledgement)
        .where(SafetyAcknowledgement.therapist_id == person_id)
        .values(therapist_id=None)
        .execution_options(synchronize_session=False)
    )
    db.session.flush()


class CreatedAssessment:
    """An assessment as its 201 shows it: the record, and the crisis lines when it was flagged."""

    def __init__(self, assessment, crisis_resources):
        self._assessment = assessment
        self.crisis_resources = crisis_resources

    def __getattr__(self, name):
        return getattr(self._assessment, name)


def present_created(assessment):
    """The patient's country's crisis lines (the reference data; international ones when the
    country is unknown or has none listed) with a flagged result; null otherwise."""
    if not assessment.safety_flag:
        return CreatedAssessment(assessment, None)
    owner = db.session.get(User, assessment.owner_id)  # the caller, already loaded
    return CreatedAssessment(assessment, crisis_resources(owner.country if owner else None))


# --- schemas -----------------------------------------------------------------------------------


class AssessmentCreatedSchema(AssessmentSchema):
    crisis_resources = ma.fields.Nested(
        CrisisResourcesSchema,
        dump_only=True,
        allow_none=True,
        metadata={
            "description": "With `safety_flag`: crisis lines for your profile's country (international "
            "ones when it is unknown), to show at once; your linked therapists with the `assessments` "
            "scope see a safety event. Null otherwise."
        },
    )


MAX_ACKNOWLEDGEMENTS = 100


class SafetyEventFields(ma.Schema):
    assessment_id = ma.fields.UUID(dump_only=True, metadata={"description": "The PHQ-9 that opened it."})
    occurred_at = Timestamp(dump_only=True, metadata={"description": "When the PHQ-9 was taken."})
    score = ma.fields.Integer(dump_only=True, metadata={"minimum": 0, "maximum": 27, "example": 14})
    severity = Severity()
    item9_answer = ma.fields.Integer(
        dump_only=True,
        metadata={
            "minimum": 1,
            "maximum": 3,
            "example": 1,
            "description": "The answer to item 9 (thoughts of self-harm): 1 several days, 2 more than "
            "half the days, 3 nearly every day.",
        },
    )
    status = ma.fields.Enum(SafetyStatus, by_value=True, dump_only=True)
    acknowledged_at = Timestamp(
        dump_only=True,
        allow_none=True,
        metadata={"description": "The first acknowledgement; null while open."},
    )


class SafetyAcknowledgementSchema(ma.Schema):
    acknowledged_at = Timestamp(dump_only=True)
    acknowledged_by = ma.fields.Nested(
        PersonSchema,
        dump_only=True,
        allow_none=True,
        attribute="therapist",
        metadata={"description": "The therapist; null once their account is erased."},
    )


class SafetyEventSchema(RecordSchema, SafetyEventFields):
    """A safety event as the patient sees it (and as /v1/sync carries it)."""

    acknowledgements = ma.fields.List(
        ma.fields.Nested(SafetyAcknowledgementSchema),
        dump_only=True,
        validate=ma.validate.Length(max=MAX_ACKNOWLEDGEMENTS),  # the spec's maxItems; the service keeps to it
        metadata={"description": "Who acknowledged it and when, oldest first."},
    )
