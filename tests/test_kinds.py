"""Everything that covers every journal kind agrees with the one registry, api.kinds."""

import re
from pathlib import Path

from sqlalchemy import inspect

from api.audit import models as audit
from api.extensions import db
from api.kinds import KINDS, SCOPES, SHARED, SYNCED
from api.records import OwnedRecord
from config import BASE_DIR
from tests.resources import RESOURCES

API = BASE_DIR / "api"

SYNC_TYPES = [synced.sync_type for synced in SYNCED]


def journal_models():
    return {mapper.class_ for mapper in db.Model.registry.mappers if issubclass(mapper.class_, OwnedRecord)}


def test_every_journal_table_is_one_kind_and_every_kind_has_its_own_package():
    assert {kind.model for kind in KINDS} <= journal_models()
    # Every patient-owned table is in the sync feed once: a kind, or what a kind makes of its own.
    assert sorted(synced.model.__name__ for synced in SYNCED) == sorted(
        model.__name__ for model in journal_models()
    )
    assert len(set(SYNC_TYPES)) == len(SYNCED)
    for kind in KINDS:
        package = kind.model.__module__.rsplit(".", 1)[0]
        assert kind.blueprint.import_name == f"{package}.resource"
        assert kind.prepare_create.__module__ in (f"{package}.service", "api.resources")


def test_every_kind_blueprint_is_registered_with_its_views(app):
    rules = {rule.rule: rule.methods for rule in app.url_map.iter_rules()}
    for kind in KINDS:
        assert app.blueprints[kind.blueprint.name] is kind.blueprint
        prefix = kind.blueprint.url_prefix
        assert {"GET", "POST"} <= rules[prefix]
        item = rules[f"{prefix}/<uuid:{kind.model.__name__.lower()}_id>"]
        assert {"GET", "DELETE"} <= item
        assert ("PATCH" in item) == (kind.update is not None) == (kind.schemas.update is not None)
    assert set(RESOURCES) == {kind.blueprint.url_prefix.removeprefix("/v1/") for kind in KINDS}


def test_the_sync_feed_carries_every_kind_and_only_those(client, patient, spec):
    schemas = spec["components"]["schemas"]
    variants = [
        schemas[ref.rsplit("/", 1)[1]] for ref in schemas["Change"]["discriminator"]["mapping"].values()
    ]
    assert [variant["properties"]["type"]["const"] for variant in variants] == list(SYNC_TYPES)
    assert list(schemas["Change"]["discriminator"]["mapping"]) == list(SYNC_TYPES)
    for name, (body, _) in RESOURCES.items():
        assert client.post(f"/v1/{name}", headers=patient.headers, json=body).status_code == 201
    flagged = {"instrument": "phq9", "answers": [0, 0, 0, 0, 0, 0, 0, 0, 1]}  # opens a safety event
    assert client.post("/v1/assessments", headers=patient.headers, json=flagged).status_code == 201
    feed = client.get("/v1/sync?limit=500", headers=patient.headers).json
    assert sorted({change["type"] for change in feed["changes"]}) == sorted(SYNC_TYPES)


def test_therapist_routes_are_the_shared_kinds_and_only_those(app):
    shared = set()
    for rule in app.url_map.iter_rules():
        match = re.fullmatch(r"/v1/patients/<uuid:patient_id>/([a-z_]+)(/<uuid:([a-z]+)_id>)?", rule.rule)
        if match and match.group(1) in {kind.blueprint.url_prefix.removeprefix("/v1/") for kind in KINDS}:
            assert rule.methods - {"HEAD", "OPTIONS"} == {"GET"}, rule.rule
            shared.add((match.group(1), bool(match.group(2))))
    kind_scopes = tuple(kind.sharing.scope for kind in SHARED)
    assert shared == {(scope, item) for scope in kind_scopes for item in (False, True)}
    assert "contacts" not in SCOPES  # a support network is never shared
    # The shared kinds' scopes, and `plan`: the integration plan, read and set at
    # /v1/patients/{patient_id}/integration-plan (tests/test_plans.py).
    assert SCOPES == (*kind_scopes, "plan")


def test_care_team_scopes_are_the_shared_kinds(client, make_account, invite, spec):
    scopes = spec["components"]["schemas"]["CareLinkCreate"]["properties"]["scopes"]
    assert scopes["items"] == {"$ref": "#/components/schemas/Scope"}
    assert spec["components"]["schemas"]["Scope"]["enum"] == list(SCOPES)
    assert scopes["maxItems"] == len(SCOPES)
    patient, therapist = make_account(), make_account("therapist")
    refused = client.post(
        "/v1/care-team",
        headers=patient.headers,
        json={"code": invite(therapist)["code"], "scopes": ["contacts"]},
    )
    assert refused.status_code == 422 and "scopes" in refused.json["errors"]
    linked = client.post(
        "/v1/care-team",
        headers=patient.headers,
        json={"code": invite(therapist)["code"], "scopes": list(SCOPES)},
    )
    assert linked.status_code == 201 and linked.json["scopes"] == list(SCOPES)


def test_audit_types_agree_with_the_kinds_the_spec_and_the_migrated_database(app, spec):
    RESOURCE_TYPES = audit.RESOURCE_TYPES
    assert RESOURCE_TYPES[:1] == (audit.PATIENT_SUMMARY,)
    assert {kind.sharing.audit_type for kind in SHARED} <= set(RESOURCE_TYPES)
    event = spec["components"]["schemas"]["AccessEvent"]["properties"]["resource_type"]
    assert event == {"$ref": "#/components/schemas/AuditResourceType"}
    assert spec["components"]["schemas"]["AuditResourceType"]["enum"] == list(RESOURCE_TYPES)
    with app.app_context():
        checks = inspect(db.engine).get_check_constraints("audit_events")
    (check,) = [check for check in checks if check["name"] == "ck_audit_events_audit_resource_type"]
    assert set(re.findall(r"'([a-z_]+)'", check["sqltext"])) == set(RESOURCE_TYPES)


def test_every_operation_is_declared_literally_in_the_package_that_owns_it(spec):
    """`grep -rn createMood api/` lands on its declaration: each operationId, and its summary,
    is literal text in exactly one module, and that module belongs to the operation's package."""
    sources = {path: path.read_text() for path in API.rglob("*.py")}
    operations = [op for path in spec["paths"].values() for op in path.values() if isinstance(op, dict)]
    assert len(operations) > 50
    for operation in operations:
        operation_id = operation["operationId"]
        declared = [path for path, text in sources.items() if re.search(rf"[\"']{operation_id}[\"']", text)]
        assert len(declared) == 1, (operation_id, declared)
        (module,) = declared
        assert operation["summary"] in sources[module], (operation_id, module)
        assert module.parent != API, f"{operation_id} is declared in the shared core ({module.name})"


def test_a_kind_is_one_package_and_one_line_in_the_registry():
    registry = (API / "kinds.py").read_text()
    for kind in KINDS:
        package = kind.blueprint.import_name.removesuffix(".resource")
        assert registry.count(f"from {package}.resource import kind as") == 1
        assert Path(API, *package.split(".")[1:], "resource.py").exists()
