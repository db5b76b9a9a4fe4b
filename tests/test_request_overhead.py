"""Per-request work that could be done once is done once: reads build no marshmallow schema."""

import collections

import marshmallow
import pytest

from tests.resources import RESOURCES


@pytest.fixture
def schemas_built(monkeypatch):
    """The marshmallow schemas instantiated while the test runs, by class name."""
    built = collections.Counter()
    original = marshmallow.Schema.__init__

    def counting(self, *args, **kwargs):
        built[type(self).__name__] += 1
        original(self, *args, **kwargs)

    monkeypatch.setattr(marshmallow.Schema, "__init__", counting)
    return built


def test_reads_build_no_schema_per_request(client, patient, therapist, link, schemas_built):
    """Lists (the patient's and a therapist's), item reads, 304s and /v1/sync use schemas built
    once (by flask-smorest, or here at import): building one deep-copies every field, which
    costs about as much as dumping a page of records."""
    link(patient, therapist)
    reads = []
    for kind, (body, _change) in RESOURCES.items():
        created = client.post(f"/v1/{kind}", headers=patient.headers, json=body)
        assert created.status_code == 201, created.json
        item = f"/v1/{kind}/{created.json['id']}"
        reads += [
            (f"/v1/{kind}?limit=20", patient.headers, 200),
            (item, patient.headers, 200),
            (item, {**patient.headers, "If-None-Match": created.headers["ETag"]}, 304),
        ]
        if kind != "contacts":  # never shared
            reads.append((f"/v1/patients/{patient.id}/{kind}", therapist.headers, 200))
    reads.append(("/v1/sync?limit=100", patient.headers, 200))
    for path, headers, status in reads:  # what is built once, lazily (nested schemas)
        assert client.get(path, headers=headers).status_code == status
    schemas_built.clear()
    for path, headers, status in reads:
        assert client.get(path, headers=headers).status_code == status
    assert schemas_built == {}


def test_a_304_is_answered_from_the_version_without_loading_the_record(app, client, patient, monkeypatch):
    """If-None-Match naming the current version: the token check and one SELECT of the version;
    the entry's text is not loaded or decrypted. A changed record is loaded and sent as ever."""
    from sqlalchemy import event

    from api import encryption
    from api.extensions import db

    created = client.post("/v1/entries", headers=patient.headers, json={"title": "t", "body": "b"})
    path, etag = f"/v1/entries/{created.json['id']}", created.headers["ETag"]
    decrypted, statements = [], []
    original = encryption.Keyring.decrypt
    monkeypatch.setattr(
        encryption.Keyring, "decrypt", lambda self, *args: decrypted.append(args) or original(self, *args)
    )
    with app.app_context():
        engine = db.engine
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        current = client.get(path, headers={**patient.headers, "If-None-Match": etag})
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert current.status_code == 304 and current.headers["ETag"] == etag and current.data == b""
    assert decrypted == [] and len(statements) == 2
    assert "body" not in statements[1] and "version" in statements[1]

    changed = client.patch(path, headers={**patient.headers, "If-Match": etag}, json={"title": "new"})
    assert changed.status_code == 200
    stale = client.get(path, headers={**patient.headers, "If-None-Match": etag})
    assert stale.status_code == 200 and stale.json == changed.json and stale.headers["ETag"] == '"2"'
    deleted = client.delete(path, headers={**patient.headers, "If-Match": '"2"'})
    assert deleted.status_code == 204
    gone = client.get(path, headers={**patient.headers, "If-None-Match": '"2"'})
    assert gone.status_code == 404


@pytest.fixture
def parses(monkeypatch):
    """One item for each token PyJWT parses."""
    import jwt as pyjwt

    parsed = []
    original = pyjwt.PyJWT.decode_complete

    def counting(self, *args, **kwargs):
        parsed.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(pyjwt.PyJWT, "decode_complete", counting)
    return parsed


def test_a_token_is_verified_in_one_parse(client, patient, parses):
    """flask-jwt-extended parses a token unverified (for a key loader the API has not) and then
    verified; the API verifies it in one parse, with the same answers for an expired, a forged
    and a refresh token in its place."""
    assert client.get("/v1/moods", headers=patient.headers).status_code == 200
    assert len(parses) == 1

    forged = patient.access_token[:-4] + ("AAAA" if not patient.access_token.endswith("AAAA") else "BBBB")
    refused = client.get("/v1/moods", headers={"Authorization": f"Bearer {forged}"})
    assert refused.status_code == 401 and refused.json["type"].endswith("/invalid-token")


def test_with_a_key_loader_the_token_is_parsed_as_the_library_does(parses):
    """The one parse relies on the API's single key; an app that chose its key by the claims
    would get flask-jwt-extended's own unverified parse first, and the loader would be asked."""
    from flask import Flask
    from flask_jwt_extended import create_access_token, decode_token

    from api.extensions import OneDecodeJWTManager

    app = Flask("keyed")
    app.config["JWT_SECRET_KEY"] = "a key of thirty-two bytes or more, for HS256"
    manager = OneDecodeJWTManager(app)
    asked = []

    @manager.decode_key_loader
    def key_for(header, claims):
        asked.append(claims["sub"])
        return app.config["JWT_SECRET_KEY"]

    with app.app_context():
        assert decode_token(create_access_token("someone"))["sub"] == "someone"
    assert asked == ["someone"] and len(parses) == 2
