"""format=fhir: a FHIR R4 Bundle (type `collection`) of the clinical part of the journal.

The Patient; each treatment session as a MedicationAdministration, with its vitals as
vital-signs Observations that are `partOf` it; each mood check-in as an Observation; each
assessment as a QuestionnaireResponse (item answers under their LOINC item codes) and an
Observation of its total score `derivedFrom` it, with the codes of the instrument registry
(api/reference/instruments.json), which has a verified LOINC code for some items, answers and
totals and not others (PCL-5's items and answers). Entries, practices, contacts and safety events
have no FHIR resource here: the json and csv formats carry them.

Resources made from a record have the record's id; those derived from one (a score, a reading)
a uuid5 of it, so exporting again gives the same ids. Every entry's fullUrl is `urn:uuid:<id>`
and every reference points at one of them.
"""

import uuid
from datetime import timedelta

from api.assessments.models import Assessment
from api.assessments.scoring import REGISTRY
from api.export import service
from api.export.streams import in_chunks, json_bytes
from api.moods.models import Mood
from api.sessions.models import Session

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
DATA_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
# The journal's own codes, for what no standard terminology names (a 1-10 mood rating).
JOURNAL_CODES = "https://integration-journal.org/fhir/CodeSystem/journal"
# Ids of derived resources: uuid5 in this namespace of "<record id>/<what>".
DERIVED_IDS = uuid.uuid5(uuid.NAMESPACE_URL, "https://integration-journal.org/fhir/derived")


def derived_id(record_id, what):
    return uuid.uuid5(DERIVED_IDS, f"{record_id}/{what}")


def ref(resource_id):
    return {"reference": f"urn:uuid:{resource_id}"}


def coding(system, code, display=None):
    found = {"system": system, "code": code}
    if display:
        found["display"] = display
    return found


def concept(system, code, display, text=None):
    return {"coding": [coding(system, code, display)], "text": text or display}


def instant(moment):
    return moment.isoformat()


def category(code, display):
    return [{"coding": [coding(OBSERVATION_CATEGORY, code, display)]}]


# --- questionnaires ---------------------------------------------------------------------------


def answer_value(entry, answer):
    """An answer as its LOINC answer code (PHQ-9 and GAD-7: LL358-3), else as its value: the
    registry has no verified LOINC answer codes for every instrument (PCL-5)."""
    option = next(option for option in entry["answer_options"] if option["value"] == answer)
    if option["loinc"] is None:
        return {"valueInteger": answer}
    return {"valueCoding": coding(LOINC, option["loinc"], option["label"])}


def total_interpretation(entry, assessment):
    """The band and, where the instrument has one, which side of its threshold the total is."""
    found = []
    if assessment.severity is not None:
        found.append({"text": assessment.severity})
    threshold = entry["threshold"]
    if threshold is not None and assessment.threshold_met is not None:
        side = "At or above" if assessment.threshold_met else "Below"
        found.append({"text": f"{side} the threshold of {threshold['min_total']}: {threshold['label']}"})
    return found


def assessment_resources(assessment, patient):
    """Codes, texts and answers from the instrument registry: an item is under its LOINC code
    (its `linkId`), or its number where the registry has no verified code (PCL-5's items); a
    total without a verified LOINC code is named by text alone."""
    entry = REGISTRY[assessment.instrument]
    response: dict = {"resourceType": "QuestionnaireResponse", "id": str(assessment.id)}
    if entry["loinc_form"] is not None:
        response["questionnaire"] = f"{LOINC}/q/{entry['loinc_form']['code']}"
    response |= {
        "status": "completed",
        "subject": ref(patient),
        "authored": instant(assessment.taken_at),
        "item": [
            {
                "linkId": item["loinc"] or str(item["number"]),
                "text": item["text"],
                "answer": [answer_value(entry, answer)],
            }
            for item, answer in zip(entry["items"], assessment.answers, strict=True)
        ],
    }
    loinc_total = entry["loinc_total"]
    total: dict = {
        "resourceType": "Observation",
        "id": str(derived_id(assessment.id, "total")),
        "status": "final",
        "category": category("survey", "Survey"),
        "code": (
            concept(LOINC, loinc_total["code"], loinc_total["display"])
            if loinc_total is not None
            else {"text": f"{entry['name']} total score"}
        ),
        "subject": ref(patient),
        "effectiveDateTime": instant(assessment.taken_at),
        "valueInteger": assessment.score,
    }
    interpretation = total_interpretation(entry, assessment)
    if interpretation:
        total["interpretation"] = interpretation
    total["derivedFrom"] = [ref(assessment.id)]
    return response, total


# --- mood check-ins ---------------------------------------------------------------------------


def rating(code, display, value):
    return {"code": concept(JOURNAL_CODES, code, display), "valueInteger": value}


def mood_resource(mood, patient):
    components = []
    if mood.energy is not None:
        components.append(rating("energy", "Energy, self-rated 1-10", mood.energy))
    if mood.anxiety is not None:
        components.append(rating("anxiety", "Anxiety, self-rated 1-10", mood.anxiety))
    if mood.sleep_hours is not None:
        components.append(
            {
                "code": concept(JOURNAL_CODES, "sleep-hours", "Hours slept"),
                "valueQuantity": {"value": mood.sleep_hours, "unit": "h", "system": UCUM, "code": "h"},
            }
        )
    if mood.emotions:
        components.append(
            {"code": concept(JOURNAL_CODES, "emotions", "Emotions"), "valueString": ", ".join(mood.emotions)}
        )
    resource = {
        "resourceType": "Observation",
        "id": str(mood.id),
        "status": "final",
        "category": category("survey", "Survey"),
        "code": concept(JOURNAL_CODES, "mood", "Mood, self-rated 1-10"),
        "subject": ref(patient),
        "effectiveDateTime": instant(mood.recorded_at),
        "valueInteger": mood.mood,
    }
    if components:
        resource["component"] = components
    if mood.note:
        resource["note"] = [{"text": mood.note}]
    return resource


# --- treatment sessions and their vitals ------------------------------------------------------

ROUTES = {
    "iv": ("47625008", "Intravenous route"),
    "im": ("78421000", "Intramuscular route"),
    "intranasal": ("46713006", "Nasal route"),
    "sublingual": ("37839007", "Sublingual route"),
    "oral": ("26643006", "Oral route"),
}


def route_concept(route):
    if route.value in ROUTES:
        return concept(SNOMED, *ROUTES[route.value], text=route.value)
    return {"text": route.value}


def session_resources(session, patient):
    administration = {
        "resourceType": "MedicationAdministration",
        "id": str(session.id),
        "status": "completed",
        "medicationCodeableConcept": {"text": session.medicine.value},
        "subject": ref(patient),
    }
    if session.duration_minutes:
        end = session.started_at + timedelta(minutes=session.duration_minutes)
        administration["effectivePeriod"] = {"start": instant(session.started_at), "end": instant(end)}
    else:
        administration["effectiveDateTime"] = instant(session.started_at)
    notes = []
    if session.dose_mg is not None:
        # A dosage needs a dose (FHIR mad-1), so the route goes with it.
        dosage: dict = {"dose": {"value": session.dose_mg, "unit": "mg", "system": UCUM, "code": "mg"}}
        if session.route is not None:
            dosage["route"] = route_concept(session.route)
        administration["dosage"] = dosage
    elif session.route is not None:
        notes.append(f"Route: {session.route.value}")
    if session.setting is not None:
        notes.append(f"Setting: {session.setting.value}")
    if session.provider:
        notes.append(f"Provider: {session.provider}")
    if session.side_effects:
        notes.append("Side effects: " + ", ".join(session.side_effects))
    if session.intention:
        notes.append(f"Intention: {session.intention}")
    if session.notes:
        notes.append(f"Notes: {session.notes}")
    if notes:
        administration["note"] = [{"text": note} for note in notes]
    yield administration
    for index, reading in enumerate(session.vitals):
        yield from vitals_resources(session, index, reading, patient)


def mm_hg(code, display, value):
    component: dict = {"code": concept(LOINC, code, display)}
    if value is None:
        component["dataAbsentReason"] = concept(DATA_ABSENT, "unknown", "Unknown")
    else:
        component["valueQuantity"] = {"value": value, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"}
    return component


def vitals_resources(session, index, reading, patient):
    """A reading's blood pressure (a panel of systolic and diastolic, as FHIR's vital signs
    profile has it) and heart rate, each an Observation that is part of the session."""
    common = {
        "resourceType": "Observation",
        "status": "final",
        "category": category("vital-signs", "Vital Signs"),
        "subject": ref(patient),
        "effectiveDateTime": reading["taken_at"],
        "partOf": [ref(session.id)],
    }
    systolic, diastolic = reading.get("systolic"), reading.get("diastolic")
    if systolic is not None or diastolic is not None:
        yield {
            **common,
            "id": str(derived_id(session.id, f"vitals/{index}/blood-pressure")),
            "code": concept(LOINC, "85354-9", "Blood pressure panel with all children optional"),
            "component": [
                mm_hg("8480-6", "Systolic blood pressure", systolic),
                mm_hg("8462-4", "Diastolic blood pressure", diastolic),
            ],
        }
    heart_rate = reading.get("heart_rate")
    if heart_rate is not None:
        yield {
            **common,
            "id": str(derived_id(session.id, f"vitals/{index}/heart-rate")),
            "code": concept(LOINC, "8867-4", "Heart rate"),
            "valueQuantity": {"value": heart_rate, "unit": "beats/minute", "system": UCUM, "code": "/min"},
        }


# --- the bundle -------------------------------------------------------------------------------


def patient_resource(user):
    resource = {
        "resourceType": "Patient",
        "id": str(user.id),
        "name": [{"text": user.display_name}],
        "telecom": [{"system": "email", "value": user.email}],
    }
    if user.country:
        resource["address"] = [{"country": user.country}]
    return resource


def resources(owner_id):
    user = service.owner(owner_id)
    yield patient_resource(user)
    for session in service.each_record(Session, owner_id=owner_id):
        yield from session_resources(session, owner_id)
    for mood in service.each_record(Mood, owner_id=owner_id):
        yield mood_resource(mood, owner_id)
    for assessment in service.each_record(Assessment, owner_id=owner_id):
        yield from assessment_resources(assessment, owner_id)


def fhir_bundle(*, owner_id, exported_at):
    return in_chunks(_pieces(owner_id, exported_at))


def _pieces(owner_id, exported_at):
    bundle_id = derived_id(owner_id, f"export/{exported_at.isoformat()}")
    yield (
        b'{"resourceType":"Bundle","id":'
        + json_bytes(str(bundle_id))
        + b',"type":"collection","timestamp":'
        + json_bytes(instant(exported_at))
        + b',"entry":['
    )
    separator = b"\n"
    for resource in resources(owner_id):
        entry = {"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource}
        yield separator + json_bytes(entry)
        separator = b",\n"
    yield b"]}\n"
