"""GET /v1/me/export: everything the patient owns, once, in JSON, a zip of CSVs or a FHIR Bundle;
only for the patient, with a fresh token, throttled, audited, streamed in batches."""

import csv
import io
import json
import re
import uuid
import zipfile
from datetime import UTC, datetime

import pytest
from fhir.resources.R4B.bundle import Bundle

from api.export import service, streams
from api.export.document import json_export
from api.export.fhir import fhir_bundle
from api.export.service import SECTIONS
from api.export.tables import TABLES, csv_zip
from tests.helpers import assert_problem, bearer
from tests.spec_validation import outside_the_contract

# A body of each kind, and how many to make of it.
BODIES = {
    "sessions": lambda n: {
        "started_at": f"2026-03-0{n + 1}T09:00:00+01:00",
        "route": ["iv", "im", "other"][n % 3],
        "dose_mg": 35.0 + n,
        "duration_minutes": 60,
        "side_effects": ["nausea", "dissociation"],
        "vitals": [
            {"taken_at": f"2026-03-0{n + 1}T08:55:00Z", "systolic": 128, "diastolic": 82, "heart_rate": 76},
            {"taken_at": f"2026-03-0{n + 1}T09:30:00Z", "heart_rate": 80},
        ],
        "notes": f"session {n}",
    },
    "entries": lambda n: {
        "body": f"entry {n}",
        "title": f"title {n}",
        "tags": ["family", f"tag-{n}"],
        "emotions": ["hopeful"],
    },
    "moods": lambda n: {"mood": 3 + n, "energy": 5, "anxiety": 4, "sleep_hours": 7.5, "emotions": ["tender"]},
    "contacts": lambda n: {"name": f"Contact {n}", "relationship": "friend", "phone": "+1 555 0100"},
    "practices": lambda n: {"practice": "meditation", "performed_at": f"2026-03-0{n + 1}T07:00:00Z"},
    "assessments": lambda n: (
        {"instrument": "phq9", "answers": [1, 2, 1, 1, 0, 1, 2, 1, n % 2]}
        if n % 2
        else {"instrument": "gad7", "answers": [1, 1, 2, 1, 0, 3, 1]}
    ),
}
EACH = 3


def export(client, account, export_format=None, headers=None):
    query = "" if export_format is None else f"?format={export_format}"
    return client.get(f"/v1/me/export{query}", headers=headers or account.headers)


def fill_journal(client, account, each=EACH):
    """`each` records of every kind (a flagged PHQ-9 among the assessments, so a safety event),
    plus one more of each kind that is deleted. Returns the live records, as their GETs show them,
    by section, and the deleted ids."""
    live, deleted = {}, set()
    for path, body in BODIES.items():
        made = []
        for n in range(each + 1):
            created = client.post(f"/v1/{path}", headers=account.headers, json=body(n))
            assert created.status_code == 201, created.json
            made.append(created.json)
        gone = made.pop()
        removed = client.delete(
            f"/v1/{path}/{gone['id']}", headers={**account.headers, "If-Match": f'"{gone["version"]}"'}
        )
        assert removed.status_code == 204
        deleted.add(gone["id"])
        live[path] = {
            record["id"]: client.get(f"/v1/{path}/{record['id']}", headers=account.headers).json
            for record in made
        }
    follow_ups = client.get("/v1/follow-ups?limit=100", headers=account.headers).json["items"]
    live["follow_ups"] = {item["id"]: item for item in follow_ups}
    assert len(follow_ups) == 8 * each  # the live sessions' follow-ups; the deleted one's went with it
    events = client.get("/v1/sync?limit=100", headers=account.headers).json["changes"]
    live["safety_events"] = {
        change["id"]: change["data"]
        for change in events
        if change["type"] == "safety_event" and change["data"]
    }
    assert live["safety_events"] or each < 2  # the PHQ-9s with item 9 above 0 (n odd) opened them
    return live, deleted


def test_json_has_the_profile_and_every_live_record_once_as_its_get_shows_it(client, patient):
    live, deleted = fill_journal(client, patient)
    response = export(client, patient, "json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    today = datetime.now(UTC).date().isoformat()
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="integration-journal-{today}.json"'
    )
    document = json.loads(response.get_data())
    assert list(document) == [
        "format",
        "format_version",
        "exported_at",
        "profile",
        "integration_plan",
        "sessions",
        "follow_ups",
        "entries",
        "moods",
        "contacts",
        "practices",
        "assessments",
        "safety_events",
    ]
    assert (document["format"], document["format_version"]) == ("integration-journal-export", 1)
    assert document["exported_at"].startswith(today)
    assert document["profile"] == client.get("/v1/me", headers=patient.headers).json
    for name, records in live.items():
        exported = document[name]
        assert len(exported) == len({record["id"] for record in exported}), name  # each once
        assert {record["id"]: record for record in exported} == records, name
        assert not deleted & {record["id"] for record in exported}


def test_format_defaults_to_json(client, patient):
    response = export(client, patient)
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert json.loads(response.get_data())["profile"]["id"] == patient.id


def test_more_records_than_one_batch_come_out_exactly_once(client, patient, monkeypatch):
    monkeypatch.setattr(service, "BATCH_SIZE", 2)
    ids = {
        client.post("/v1/moods", headers=patient.headers, json={"mood": 1 + n % 10}).json["id"]
        for n in range(7)
    }
    sessions = {client.post("/v1/sessions", headers=patient.headers, json=BODIES["sessions"](0)).json["id"]}
    sessions |= {client.post("/v1/sessions", headers=patient.headers, json=BODIES["sessions"](1)).json["id"]}
    sessions |= {client.post("/v1/sessions", headers=patient.headers, json=BODIES["sessions"](2)).json["id"]}

    moods = [record["id"] for record in json.loads(export(client, patient, "json").get_data())["moods"]]
    assert sorted(moods) == sorted(ids)

    with zipfile.ZipFile(io.BytesIO(export(client, patient, "csv").get_data())) as archive:
        rows = list(csv.DictReader(io.TextIOWrapper(archive.open("moods.csv"), encoding="utf-8")))
        vitals = list(csv.DictReader(io.TextIOWrapper(archive.open("session_vitals.csv"), encoding="utf-8")))
    assert sorted(row["id"] for row in rows) == sorted(ids)
    assert sorted(row["session_id"] for row in vitals) == sorted([*sessions, *sessions])

    bundle = json.loads(export(client, patient, "fhir").get_data())
    resources = [entry["resource"] for entry in bundle["entry"]]
    observed = [r["id"] for r in resources if r["resourceType"] == "Observation" and "partOf" not in r]
    assert sorted(observed) == sorted(ids)
    administered = [r["id"] for r in resources if r["resourceType"] == "MedicationAdministration"]
    assert sorted(administered) == sorted(sessions)


def test_csv_is_a_zip_of_the_documented_files_and_headers(client, patient, spec):
    live, deleted = fill_journal(client, patient)
    risky = client.post(
        "/v1/entries",
        headers=patient.headers,
        json={"body": '=HYPERLINK("https://evil.example","x")', "title": "@SUM(A1)", "tags": ["a;b", "-1"]},
    ).json
    live["entries"][risky["id"]] = risky
    response = export(client, patient, "csv")
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    assert re.fullmatch(
        r'attachment; filename="integration-journal-\d{4}-\d{2}-\d{2}\.zip"',
        response.headers["Content-Disposition"],
    )
    description = spec["paths"]["/v1/me/export"]["get"]["description"]
    with zipfile.ZipFile(io.BytesIO(response.get_data())) as archive:
        assert archive.testzip() is None
        assert archive.namelist() == [table.file for table in TABLES]
        files = {}
        for table in TABLES:
            text = archive.read(table.file).decode("utf-8")
            rows = list(csv.reader(io.StringIO(text, newline="")))
            assert tuple(rows[0]) == table.columns, table.file
            assert ", ".join(f"`{column}`" for column in table.columns) in description
            files[table.file] = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]

    [profile] = files["profile.csv"]
    assert profile["id"] == patient.id and profile["email"] == patient.email
    for section in SECTIONS:
        rows = files[f"{section.name}.csv"]
        assert sorted(row["id"] for row in rows) == sorted(live[section.name]), section.name
        assert not deleted & {row["id"] for row in rows}
    vitals = files["session_vitals.csv"]
    assert len(vitals) == 2 * EACH
    assert {"systolic": "128", "diastolic": "82", "heart_rate": "76"}.items() <= vitals[0].items()
    assert vitals[1]["systolic"] == ""  # left out: null
    entries = {row["id"]: row for row in files["entries.csv"]}
    # formulas are text; lists are ;-joined, a ; inside a value escaped
    assert entries[risky["id"]]["body"] == '\'=HYPERLINK("https://evil.example","x")'
    assert entries[risky["id"]]["title"] == "'@SUM(A1)"
    assert entries[risky["id"]]["tags"] == "a\\;b;-1"
    some_entry = next(iter(live["entries"].values()))
    assert entries[some_entry["id"]]["tags"] == ";".join(some_entry["tags"])
    contacts = files["contacts.csv"]
    assert {row["phone"] for row in contacts} == {"'+1 555 0100"}
    assert {row["is_emergency_contact"] for row in contacts} == {"false"}
    assessments = {row["id"]: row for row in files["assessments.csv"]}
    for record in live["assessments"].values():
        assert assessments[record["id"]]["answers"] == ";".join(map(str, record["answers"]))


def test_the_csv_columns_cover_every_field_of_the_records(app):
    from api.accounts.schemas import UserSchema

    with app.app_context():
        for section in SECTIONS:
            [table] = [t for t in TABLES if t.file == f"{section.name}.csv"]
            nested = {t.nested for t in TABLES if t.section == section.name and t.nested is not None}
            fields = set(section.schema().fields) - nested
            assert {column.split(".")[0] for column in table.columns} == fields, section.name
            # and the files of nested rows: every field of the nested objects, and the parent's id
            for table in (t for t in TABLES if t.section == section.name and t.nested is not None):
                item = section.schema().fields[table.nested].inner.schema
                assert {column.split(".")[0] for column in table.columns} == {
                    table.parent_column,
                    *item.fields,
                }, table.file
        assert {t.file for t in TABLES if t.section == "profile"} == {"profile.csv"}
        [profile] = [t for t in TABLES if t.section == "profile"]
        assert set(profile.columns) == set(UserSchema().fields)


def test_safety_acknowledgements_are_exported(client, patient, therapist, link):
    """Made as the API makes them (a flagged PHQ-9, a linked therapist's acknowledgement), in the
    CSV's file of acknowledgements and in the JSON's events, without the care team's note."""
    link(patient, therapist, scopes=("assessments",))
    client.post("/v1/assessments", headers=patient.headers, json=BODIES["assessments"](1))
    (event,) = client.get("/v1/safety-events", headers=therapist.headers).json["items"]
    acknowledged = client.post(
        f"/v1/safety-events/{event['id']}/acknowledgement", headers=therapist.headers, json={"note": "seen"}
    )
    assert acknowledged.status_code == 201
    event_id = event["id"]
    with zipfile.ZipFile(io.BytesIO(export(client, patient, "csv").get_data())) as archive:
        rows = list(csv.DictReader(io.StringIO(archive.read("safety_event_acknowledgements.csv").decode())))
        (closed,) = csv.DictReader(io.StringIO(archive.read("safety_events.csv").decode()))
    assert [(row["safety_event_id"], row["acknowledged_by.id"]) for row in rows] == [(event_id, therapist.id)]
    assert rows[0]["acknowledged_by.display_name"] == "Test therapist"
    assert (closed["id"], closed["status"]) == (event_id, "acknowledged")
    (exported,) = json.loads(export(client, patient, "json").get_data())["safety_events"]
    assert exported["status"] == "acknowledged"
    assert exported["acknowledgements"] == [
        {
            "acknowledged_at": acknowledged.json["acknowledged_at"],
            "acknowledged_by": {"id": therapist.id, "display_name": "Test therapist"},
        }
    ]


def references(node):
    if isinstance(node, dict):
        if isinstance(node.get("reference"), str):
            yield node["reference"]
        for value in node.values():
            yield from references(value)
    elif isinstance(node, list):
        for value in node:
            yield from references(value)


def codes(resource):
    return {coding["code"] for coding in resource["code"]["coding"]}


PHQ9_ITEMS = [
    "44250-9",
    "44255-8",
    "44259-0",
    "44254-1",
    "44251-7",
    "44258-2",
    "44252-5",
    "44253-3",
    "44260-8",
]
GAD7_ITEMS = ["69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7"]


def test_fhir_is_a_valid_bundle_with_the_standard_codes(client, patient):
    live, _ = fill_journal(client, patient)
    response = export(client, patient, "fhir")
    assert response.status_code == 200
    assert response.mimetype == "application/fhir+json"
    assert response.headers["Content-Disposition"].endswith('.fhir.json"')
    document = json.loads(response.get_data())
    Bundle.model_validate(document)  # the FHIR models accept it
    assert (document["resourceType"], document["type"]) == ("Bundle", "collection")

    entries = document["entry"]
    full_urls = [entry["fullUrl"] for entry in entries]
    assert len(set(full_urls)) == len(full_urls)
    assert all(entry["fullUrl"] == f"urn:uuid:{entry['resource']['id']}" for entry in entries)
    assert set(references(entries)) <= set(full_urls)  # every reference resolves inside the bundle
    by_id = {entry["resource"]["id"]: entry["resource"] for entry in entries}
    patient_resource = by_id[patient.id]
    assert patient_resource["resourceType"] == "Patient"

    # each assessment: a QuestionnaireResponse with its answers under LOINC item codes, and its total
    for assessment in live["assessments"].values():
        response_resource = by_id[assessment["id"]]
        assert response_resource["resourceType"] == "QuestionnaireResponse"
        items = PHQ9_ITEMS if assessment["instrument"] == "phq9" else GAD7_ITEMS
        assert [item["linkId"] for item in response_resource["item"]] == items
        answers = ["LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9"]
        assert [item["answer"][0]["valueCoding"]["code"] for item in response_resource["item"]] == [
            answers[answer] for answer in assessment["answers"]
        ]
        [total] = [
            r
            for r in by_id.values()
            if r.get("derivedFrom") == [{"reference": f"urn:uuid:{assessment['id']}"}]
        ]
        assert codes(total) == {"44261-6" if assessment["instrument"] == "phq9" else "70274-6"}
        assert total["valueInteger"] == assessment["score"]
        assert total["category"][0]["coding"][0]["code"] == "survey"

    for mood in live["moods"].values():
        assert by_id[mood["id"]]["resourceType"] == "Observation"
        assert by_id[mood["id"]]["valueInteger"] == mood["mood"]

    for session in live["sessions"].values():
        administration = by_id[session["id"]]
        assert administration["resourceType"] == "MedicationAdministration"
        assert administration["dosage"]["dose"] == {
            "value": session["dose_mg"],
            "unit": "mg",
            "system": "http://unitsofmeasure.org",
            "code": "mg",
        }
        route = administration["dosage"]["route"]
        if session["route"] == "iv":
            assert route["coding"][0] == {
                "system": "http://snomed.info/sct",
                "code": "47625008",
                "display": "Intravenous route",
            }
        vitals = [
            r for r in by_id.values() if r.get("partOf") == [{"reference": f"urn:uuid:{session['id']}"}]
        ]
        assert all(r["category"][0]["coding"][0]["code"] == "vital-signs" for r in vitals)
        found = {code for r in vitals for code in codes(r)}
        found |= {code for r in vitals for c in r.get("component", []) for code in codes(c)}
        assert {"8480-6", "8462-4", "8867-4"} <= found
        assert len([r for r in vitals if "8867-4" in codes(r)]) == 2

    # the same records give the same ids in the next export
    again = json.loads(export(client, patient, "fhir").get_data())
    assert [entry["fullUrl"] for entry in again["entry"]] == full_urls


def test_pcl5_exports_with_its_verified_codes_and_its_threshold(client, patient):
    """A PCL-5 is a QuestionnaireResponse of the PCL-5 panel (LOINC 101697-1) with its items under
    their numbers and answers as values (the registry has no verified LOINC codes for them), and
    an Observation of its total (101698-9) that says which side of 33 it is; json and csv carry
    `severity` null and `threshold_met`."""
    take = lambda answers: (
        client.post(  # noqa: E731
            "/v1/assessments", headers=patient.headers, json={"instrument": "pcl5", "answers": answers}
        ).json
    )
    below, above = take([1] * 20), take([2] * 16 + [1] * 4)
    document = json.loads(export(client, patient, "fhir").get_data())
    Bundle.model_validate(document)
    by_id = {entry["resource"]["id"]: entry["resource"] for entry in document["entry"]}
    for assessment, side in ((below, "Below"), (above, "At or above")):
        response = by_id[assessment["id"]]
        assert response["resourceType"] == "QuestionnaireResponse"
        assert response["questionnaire"] == "http://loinc.org/q/101697-1"
        assert [item["linkId"] for item in response["item"]] == [str(n) for n in range(1, 21)]
        assert [item["answer"] for item in response["item"]] == [
            [{"valueInteger": answer}] for answer in assessment["answers"]
        ]
        assert response["item"][17]["text"] == "Feeling jumpy or easily startled?"
        [total] = [
            r
            for r in by_id.values()
            if r.get("derivedFrom") == [{"reference": f"urn:uuid:{assessment['id']}"}]
        ]
        assert total["code"]["coding"] == [
            {"system": "http://loinc.org", "code": "101698-9", "display": "PTSD PCL-5 score [PCL-5]"}
        ]
        assert total["valueInteger"] == assessment["score"]
        assert total["interpretation"] == [
            {"text": f"{side} the threshold of 33: Provisional PTSD diagnosis"}
        ]

    exported = {
        record["id"]: record
        for record in json.loads(export(client, patient, "json").get_data())["assessments"]
    }
    assert (exported[below["id"]]["severity"], exported[below["id"]]["threshold_met"]) == (None, False)
    assert (exported[above["id"]]["severity"], exported[above["id"]]["threshold_met"]) == (None, True)
    with zipfile.ZipFile(io.BytesIO(export(client, patient, "csv").get_data())) as archive:
        rows = list(csv.DictReader(io.StringIO(archive.read("assessments.csv").decode("utf-8"), newline="")))
    by_row = {row["id"]: row for row in rows}
    assert (by_row[above["id"]]["severity"], by_row[above["id"]]["threshold_met"]) == ("", "true")
    assert by_row[below["id"]]["threshold_met"] == "false"


def test_each_patient_exports_only_their_own_data(client, make_account):
    ana, ben = make_account(), make_account()
    fill_journal(client, ana, each=1)
    ben_mood = client.post("/v1/moods", headers=ben.headers, json={"mood": 4}).json
    for export_format in ("json", "csv", "fhir"):
        body = export(client, ben, export_format).get_data()
        if export_format == "csv":
            with zipfile.ZipFile(io.BytesIO(body)) as archive:
                body = b"".join(archive.read(name) for name in archive.namelist())
        text = body.decode()
        assert ben.id in text and ben_mood["id"] in text
        assert ana.id not in text and ana.email not in text and "entry 0" not in text, export_format
    document = json.loads(export(client, ben, "json").get_data())
    assert [mood["id"] for mood in document["moods"]] == [ben_mood["id"]]
    assert all(document[section.name] == [] for section in SECTIONS if section.name != "moods")


@pytest.mark.parametrize("query", ["?format=xml", "?format=", "?format=JSON"])
def test_an_unknown_format_is_a_422_naming_format(client, patient, query):
    problem = assert_problem(client.get(f"/v1/me/export{query}", headers=patient.headers), 422)
    assert "format" in problem["errors"]


def test_only_a_patient_may_export(client, therapist):
    assert_problem(export(client, therapist, "json"), 403)


def test_export_needs_a_fresh_token(client, patient):
    refreshed = client.post("/v1/auth/refresh", headers=bearer(patient.refresh_token)).json["access_token"]
    # as for a password change or an erasure (tests/test_me.py): 401 fresh-login-required
    assert_problem(export(client, patient, "json", headers=bearer(refreshed)), 401, "fresh-login-required")


def test_export_needs_a_token(client):
    assert_problem(client.get("/v1/me/export"), 401)


def test_exports_are_throttled_per_account(app, client, patient, make_account, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_EXPORT_PER_USER", "2 per hour")
    assert_problem(export(client, patient, "xml"), 422)  # a refused request uses none up
    assert export(client, patient, "json").status_code == 200
    assert export(client, patient, "csv").status_code == 200
    response = export(client, patient, "fhir")
    assert_problem(response, 429, "rate-limited")
    assert 0 < int(response.headers["Retry-After"]) <= 3600
    # a new sign-in is the same account; another account has its own count
    again = client.post("/v1/auth/login", json={"email": patient.email, "password": patient.password}).json
    assert_problem(export(client, patient, "json", headers=bearer(again["access_token"])), 429)
    assert export(client, make_account(), "json").status_code == 200


def test_each_export_is_in_the_access_log(client, patient):
    assert client.get("/v1/me/access-log", headers=patient.headers).json["items"] == []
    export(client, patient, "csv")
    [event] = client.get("/v1/me/access-log", headers=patient.headers).json["items"]
    assert (event["action"], event["resource_type"], event["outcome"]) == ("export", "export", "allowed")
    assert event["actor"]["id"] == patient.id


def test_head_exports_nothing_and_logs_nothing(client, patient):
    """HEAD would run GET's view: an export event for an export no one received."""
    answer = client.head("/v1/me/export?format=json", headers=patient.headers)
    assert answer.status_code == 405 and "GET" in answer.headers["Allow"]
    assert client.get("/v1/me/access-log", headers=patient.headers).json["items"] == []


def test_a_database_error_mid_stream_leaves_no_readable_export(app, client, patient, monkeypatch):
    for n in range(5):
        client.post("/v1/moods", headers=patient.headers, json={"mood": 1 + n})
    monkeypatch.setattr(service, "BATCH_SIZE", 2)
    monkeypatch.setattr(streams, "CHUNK_BYTES", 1)  # every piece leaves at once
    real = service.each_record

    def failing(model, *, owner_id):
        for number, record in enumerate(real(model, owner_id=owner_id)):
            if number == 3:
                raise ConnectionError("the database went away")
            yield record

    monkeypatch.setattr(service, "each_record", failing)
    for export_format in ("json", "csv", "fhir"):
        # the 200 is sent; the error surfaces while the body streams, and the response breaks off
        with outside_the_contract("the stream breaks after its 200 was sent"), pytest.raises(ConnectionError):
            export(client, patient, export_format).get_data()
    # the audit events committed before the first byte
    log = client.get("/v1/me/access-log", headers=patient.headers).json["items"]
    assert [event["action"] for event in log] == ["export"] * 3

    # what was sent before the error is not a readable export
    for write in (json_export, fhir_bundle, csv_zip):
        sent = []
        with app.app_context(), pytest.raises(ConnectionError):
            for chunk in write(owner_id=uuid.UUID(patient.id), exported_at=datetime.now(UTC)):
                sent.append(chunk)
        assert sent, write  # some of it had left
        if write is csv_zip:
            with pytest.raises(zipfile.BadZipFile):
                zipfile.ZipFile(io.BytesIO(b"".join(sent)))
        else:
            with pytest.raises(ValueError):
                json.loads(b"".join(sent))
