"""Encryption at rest: no planted text in the raw tables or the SQLite file, keys that rotate
without a change a client would see, and values that fail loudly rather than read wrong."""

import base64
import logging
import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import Text, select, text, type_coerce

from api import encryption, key_rotation
from api.app import create_app
from api.encryption import DecryptionFailed, Keyring, KeyringError, UnknownDataKey
from api.entries.models import Entry
from api.extensions import db
from config import DevelopmentConfig, ProductionConfig
from tests.helpers import assert_problem

KEY_A = "a:" + base64.urlsafe_b64encode(b"A" * 32).decode().rstrip("=")
KEY_B = "b:" + base64.urlsafe_b64encode(b"B" * 32).decode()  # padded, as `basenc --base64url` writes it

# Every encrypted column, as api/encryption.py's types declare them.
ENCRYPTED_COLUMNS = {
    ("entries", "body"),
    ("entries", "title"),
    ("entries", "tags"),
    ("sessions", "provider"),
    ("sessions", "intention"),
    ("sessions", "notes"),
    ("moods", "note"),
    ("practices", "notes"),
    ("contacts", "name"),
    ("contacts", "phone"),
    ("contacts", "email"),
    ("contacts", "notes"),
    ("safety_acknowledgements", "note"),
}

# One marker per field; none is a substring of another, and all are easy to grep for.
MARKERS = {
    "session_provider": "Qzprovidermarker",
    "session_intention": "Qzintentionmarker",
    "session_notes": "Qzsessionnotesmarker",
    "entry_title": "Qzentrytitlemarker",
    "entry_body": "Qzentrybodymarker",
    "entry_tag": "Qzentrytagmarker",
    "mood_note": "Qzmoodnotemarker",
    "practice_notes": "Qzpracticenotesmarker",
    "contact_name": "Qzcontactnamemarker",
    "contact_phone": "+1 555 7319 2846",
    "contact_email": "qzcontactemailmarker@example.org",
    "contact_notes": "Qzcontactnotesmarker",
    "acknowledgement_note": "Qzacknowledgementmarker",
}


def app_with(config_class, keys, **settings):
    """Another app on a database: the same configuration but for its data keys."""
    return create_app(type("Keys", (config_class,), {"DATA_ENCRYPTION_KEYS": keys, **settings}))


def dispose(app):
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def created(response):
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.json


def plant(client, patient, therapist, link_code):
    """Through the API, one record of every kind with a marker in every encrypted field, and a
    safety event the linked therapist acknowledges with a note. Returns {path: [ids]}."""
    session = created(
        client.post(
            "/v1/sessions",
            headers=patient.headers,
            json={
                "started_at": "2026-03-01T09:00:00Z",
                "provider": MARKERS["session_provider"],
                "intention": MARKERS["session_intention"],
                "notes": MARKERS["session_notes"],
            },
        )
    )
    entry = created(
        client.post(
            "/v1/entries",
            headers=patient.headers,
            json={
                "title": MARKERS["entry_title"],
                "body": MARKERS["entry_body"],
                "tags": [MARKERS["entry_tag"], "grief"],
                "session_id": session["id"],
                "visibility": "care_team",
            },
        )
    )
    mood = created(
        client.post("/v1/moods", headers=patient.headers, json={"mood": 4, "note": MARKERS["mood_note"]})
    )
    practice = created(
        client.post(
            "/v1/practices",
            headers=patient.headers,
            json={
                "practice": "yoga",
                "performed_at": "2026-03-02T07:00:00Z",
                "notes": MARKERS["practice_notes"],
            },
        )
    )
    contact = created(
        client.post(
            "/v1/contacts",
            headers=patient.headers,
            json={
                "name": MARKERS["contact_name"],
                "relationship": "friend",
                "phone": MARKERS["contact_phone"],
                "email": MARKERS["contact_email"],
                "notes": MARKERS["contact_notes"],
            },
        )
    )
    created(
        client.post(
            "/v1/care-team",
            headers=patient.headers,
            json={"code": link_code, "scopes": ["entries", "assessments", "sessions"]},
        )
    )
    assessment = created(
        client.post(
            "/v1/assessments",
            headers=patient.headers,
            json={"instrument": "phq9", "answers": [2, 2, 2, 2, 1, 1, 1, 1, 2]},
        )
    )
    events = client.get("/v1/safety-events", headers=therapist.headers).json["items"]
    (event,) = events
    created(
        client.post(
            f"/v1/safety-events/{event['id']}/acknowledgement",
            headers=therapist.headers,
            json={"note": MARKERS["acknowledgement_note"]},
        )
    )
    return {
        "sessions": [session["id"]],
        "entries": [entry["id"]],
        "moods": [mood["id"]],
        "practices": [practice["id"]],
        "contacts": [contact["id"]],
        "assessments": [assessment["id"]],
    }


def raw_tables(app):
    """Every row of every table, read with plain SQL: no column type decrypts anything."""
    with app.app_context():
        try:
            return {
                table.name: [tuple(row) for row in db.session.execute(text(f"SELECT * FROM {table.name}"))]
                for table in db.metadata.sorted_tables
            }
        finally:
            db.session.remove()


def stored_values(app):
    """{(table, column): [stored text, ...]} of every encrypted column, NULLs left out."""
    with app.app_context():
        try:
            return {
                (table, column): db.session.execute(
                    text(f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL")
                )
                .scalars()
                .all()
                for table, column in ENCRYPTED_COLUMNS
            }
        finally:
            db.session.remove()


def snapshot(client, patient, ids):
    """What the patient reads of each planted record: its body and ETag."""
    seen = {}
    for path, record_ids in ids.items():
        for record_id in record_ids:
            response = client.get(f"/v1/{path}/{record_id}", headers=patient.headers)
            assert response.status_code == 200, response.get_data(as_text=True)
            seen[(path, record_id)] = (response.json, response.headers["ETag"])
    seen["safety"] = client.get("/v1/me/safety-events", headers=patient.headers).json
    return seen


@pytest.fixture
def care_team(make_account, invite):
    therapist = make_account("therapist", display_name="Dr Ada")
    return make_account("patient"), therapist, invite(therapist)["code"]


# --- the keyring ---------------------------------------------------------------------------


def test_a_keyring_reads_ids_and_32_byte_keys_padded_or_not():
    ring = Keyring.parse(f" {KEY_B} , {KEY_A} ")
    assert [key.key_id for key in ring.keys] == ["b", "a"]
    assert ring.newest.key_id == "b"


@pytest.mark.parametrize(
    "value, complaint",
    [
        ("", "names no key"),
        ("a", "key_id:key"),
        (KEY_A + "," + KEY_A, "listed twice"),
        ("bad id:" + KEY_A.split(":")[1], "key id"),
        ("x" * 33 + ":" + KEY_A.split(":")[1], "key id"),
        (KEY_A.split(":")[1] + ":a", "item 1 has no valid key id"),  # key and id swapped
        ("a:" + base64.urlsafe_b64encode(b"A" * 16).decode(), "16 bytes, not 32"),
        ("a:not/base64+at-all", "not base64url"),
    ],
)
def test_a_malformed_keyring_is_refused_without_quoting_the_key(value, complaint):
    with pytest.raises(KeyringError, match=complaint) as refused:
        Keyring.parse(value)
    assert "QUFB" not in str(refused.value)  # no key material in the message


def test_each_value_has_its_own_nonce_and_decrypts_only_in_its_column_under_its_key():
    ring = Keyring.parse(KEY_A)
    first, second = (
        ring.encrypt("the lake house", "entries.body"),
        ring.encrypt("the lake house", "entries.body"),
    )
    assert first != second and first.startswith("v1:a:")
    assert ring.decrypt(first, "entries.body") == "the lake house"
    # copied into another column
    with pytest.raises(DecryptionFailed, match="entries.title"):
        ring.decrypt(first, "entries.title")
    # tampered: one character of the ciphertext changed
    payload = first.rsplit(":", 1)[1]
    flipped = payload[:10] + ("A" if payload[10] != "A" else "B") + payload[11:]
    with pytest.raises(DecryptionFailed, match="does not decrypt"):
        ring.decrypt("v1:a:" + flipped, "entries.body")
    # truncated, or not encrypted data at all
    with pytest.raises(DecryptionFailed):
        ring.decrypt(first[:-8], "entries.body")
    with pytest.raises(DecryptionFailed, match="not encrypted"):
        ring.decrypt("the lake house", "entries.body")
    # a key with the same id but other bytes
    with pytest.raises(DecryptionFailed, match="does not decrypt"):
        Keyring.parse("a:" + KEY_B.split(":")[1]).decrypt(first, "entries.body")
    # a key id no longer configured
    with pytest.raises(UnknownDataKey, match="key id 'a'.*does not list"):
        Keyring.parse(KEY_B).decrypt(first, "entries.body")


# --- configuration --------------------------------------------------------------------------


def production(keys):
    return type(
        "Production",
        (ProductionConfig,),
        {"JWT_SECRET_KEY": "s" * 32, "DATA_ENCRYPTION_KEYS": keys, "SQLALCHEMY_DATABASE_URI": "sqlite://"},
    )


@pytest.mark.parametrize("keys", [None, ""])
def test_production_refuses_to_start_without_a_data_key_and_says_how_to_make_one(keys):
    with pytest.raises(RuntimeError, match="DATA_ENCRYPTION_KEYS must be set.*openssl rand 32"):
        create_app(production(keys))


def test_production_refuses_a_malformed_data_key():
    with pytest.raises(RuntimeError, match="not 32"):
        create_app(production("k1:" + base64.urlsafe_b64encode(b"short").decode()))


def test_production_starts_with_a_data_key():
    app = create_app(production(KEY_A))
    assert app.extensions["data_encryption"].newest.key_id == "a"


def test_development_makes_a_key_file_once_that_only_its_owner_reads(tmp_path):
    key_file = tmp_path / "instance" / "data-encryption-keys"
    config = type(
        "Development",
        (DevelopmentConfig,),
        {
            "DATA_ENCRYPTION_KEYS": None,
            "DATA_ENCRYPTION_KEY_FILE": key_file,
            "SQLALCHEMY_DATABASE_URI": "sqlite://",
        },
    )
    first = create_app(config).extensions["data_encryption"]
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    again = create_app(config).extensions["data_encryption"]
    assert again.newest.key_id == first.newest.key_id
    sealed = first.encrypt("kept across restarts", "moods.note")
    assert again.decrypt(sealed, "moods.note") == "kept across restarts"


def test_the_key_file_is_not_committed():
    ignored = (Path(__file__).resolve().parent.parent / ".gitignore").read_text().split()
    assert "instance/" in ignored
    assert Path(DevelopmentConfig.DATA_ENCRYPTION_KEY_FILE).parent.name == "instance"


# --- what is stored -------------------------------------------------------------------------


def test_no_planted_text_is_in_the_raw_tables_or_the_sqlite_files(
    tmp_path, config_class, make_account, invite
):
    """Own SQLite file, so its bytes (and its write-ahead log) can be read too."""
    import flask_migrate

    database = tmp_path / "journal-test.db"
    app = app_with(config_class, KEY_A, SQLALCHEMY_DATABASE_URI=f"sqlite:///{database}")
    with app.app_context():
        flask_migrate.upgrade()
    client = app.test_client()
    try:
        from tests.conftest import Account

        def account(role, **fields):
            email = f"{role}-{os.urandom(4).hex()}@example.org"
            body = {"email": email, "password": "a long passphrase", "display_name": "Dr Ada", "role": role}
            registered = created(client.post("/v1/auth/register", json={**body, **fields}))
            tokens = client.post(
                "/v1/auth/login", json={"email": email, "password": "a long passphrase"}
            ).json
            return Account(registered["id"], email, "", role, tokens["access_token"], tokens["refresh_token"])

        patient, therapist = account("patient"), account("therapist")
        code = created(client.post("/v1/invitations", headers=therapist.headers))["code"]
        ids = plant(client, patient, therapist, code)

        # Everything reads back through the API.
        entry = client.get(f"/v1/entries/{ids['entries'][0]}", headers=patient.headers).json
        assert (entry["title"], entry["body"], entry["tags"]) == (
            MARKERS["entry_title"],
            MARKERS["entry_body"],
            [MARKERS["entry_tag"], "grief"],
        )
        trail = client.get(
            "/v1/safety-events", headers=therapist.headers, query_string={"status": "acknowledged"}
        )
        assert trail.json["items"][0]["acknowledgements"][0]["note"] == MARKERS["acknowledgement_note"]

        # Every encrypted column holds ciphertext under the key, and none is empty.
        stored = stored_values(app)
        assert all(stored[column] for column in ENCRYPTED_COLUMNS), stored
        assert all(value.startswith("v1:a:") for values in stored.values() for value in values)

        raw = repr(raw_tables(app)).lower()
        files = b"".join(path.read_bytes() for path in tmp_path.glob("journal-test.db*")).lower()
        assert Path(f"{database}-wal").exists()  # WAL mode: recent pages are there, not yet in the file
        for name, marker in MARKERS.items():
            assert marker.lower() not in raw, name
            assert marker.lower().encode() not in files, name
    finally:
        dispose(app)


def test_the_tag_filter_works_on_the_blind_index_ignoring_case_under_any_configured_key(
    client, config_class, patient
):
    under_a = app_with(config_class, KEY_A)
    under_b_then_a = app_with(config_class, f"{KEY_B},{KEY_A}")
    try:
        old = created(
            under_a.test_client().post(
                "/v1/entries", headers=patient.headers, json={"body": "old", "tags": ["Grief", "lake"]}
            )
        )
        new = created(
            under_b_then_a.test_client().post(
                "/v1/entries", headers=patient.headers, json={"body": "new", "tags": ["grief"]}
            )
        )
        created(
            under_b_then_a.test_client().post(
                "/v1/entries", headers=patient.headers, json={"body": "other", "tags": ["lakes"]}
            )
        )
        found = (
            under_b_then_a.test_client().get("/v1/entries?tag=GRIEF", headers=patient.headers).json["items"]
        )
        assert [item["id"] for item in found] == [new["id"], old["id"]]
        found = (
            under_b_then_a.test_client().get("/v1/entries?tag=lake", headers=patient.headers).json["items"]
        )
        assert [item["id"] for item in found] == [old["id"]]
        # An edit of the tags recomputes the index under the newest key (the body is written
        # again too, so that B alone reads the entry).
        changed = under_b_then_a.test_client().patch(
            f"/v1/entries/{old['id']}",
            headers={**patient.headers, "If-Match": '"1"'},
            json={"tags": ["sea"], "body": "old, edited"},
        )
        assert changed.status_code == 200, changed.json
        only_b = app_with(config_class, KEY_B).test_client()
        found = only_b.get("/v1/entries?tag=sea", headers=patient.headers).json["items"]
        assert [item["body"] for item in found] == ["old, edited"]
        assert only_b.get("/v1/entries?tag=lake", headers=patient.headers).json["items"] == []
        with under_a.app_context():
            indexes = db.session.execute(select(Entry.tag_index)).scalars().all()
        assert sorted(len(index) for index in indexes) == [1, 1, 1]
        assert all(len(digest) == 32 for index in indexes for digest in index)
    finally:
        dispose(under_a)
        dispose(under_b_then_a)


def test_the_same_tag_of_two_patients_has_two_digests_and_each_filter_finds_its_own(
    app, client, make_account, therapist, link
):
    """A dump tells no one which patients share a tag: the blind index is per owner. The
    therapist's filter over a patient's shared entries uses that patient's digests."""
    first, second = make_account("patient"), make_account("patient")
    link(first, therapist, scopes=["entries"])
    made = {}
    for account in (first, second):
        made[account.id] = created(
            client.post(
                "/v1/entries",
                headers=account.headers,
                json={"body": "x", "tags": ["Grief"], "visibility": "care_team"},
            )
        )
    with app.app_context():
        indexes = db.session.execute(select(Entry.tag_index)).scalars().all()
    assert len(indexes) == 2 and indexes[0] != indexes[1]
    for account in (first, second):
        found = client.get("/v1/entries?tag=grief", headers=account.headers).json["items"]
        assert [item["id"] for item in found] == [made[account.id]["id"]]
    shared = client.get(f"/v1/patients/{first.id}/entries?tag=GRIEF", headers=therapist.headers)
    assert [item["id"] for item in shared.json["items"]] == [made[first.id]["id"]]


def test_the_tag_filter_ignores_unicode_normalisation(client, patient):
    """One phone types "Café" precomposed (NFC), another with a combining accent (NFD)."""
    entry = created(client.post("/v1/entries", headers=patient.headers, json={"body": "x", "tags": ["Café"]}))
    found = client.get("/v1/entries", query_string={"tag": "cafe\u0301"}, headers=patient.headers)
    assert [item["id"] for item in found.json["items"]] == [entry["id"]]


def test_keys_rotate_without_a_change_a_client_would_see(app, client, config_class, care_team, caplog):
    patient, therapist, code = care_team
    under_a = app_with(config_class, KEY_A)
    under_b_then_a = app_with(config_class, f"{KEY_B},{KEY_A}")
    only_b = app_with(config_class, KEY_B)
    try:
        ids = plant(under_a.test_client(), patient, therapist, code)
        # a second entry, so a batch of 1 takes several
        ids["entries"].append(
            created(
                under_a.test_client().post(
                    "/v1/entries", headers=patient.headers, json={"body": "second", "tags": ["Lake"]}
                )
            )["id"]
        )
        before = snapshot(under_a.test_client(), patient, ids)
        cursor = under_a.test_client().get("/v1/sync", headers=patient.headers).json["next_cursor"]
        with under_a.app_context():
            updated_at = sorted(
                map(repr, db.session.execute(text("SELECT id, updated_at FROM entries")).all())
            )

        # B is added as the newest key: old rows still read, new writes use B.
        assert snapshot(under_b_then_a.test_client(), patient, ids) == before
        mood = created(
            under_b_then_a.test_client().post(
                "/v1/moods", headers=patient.headers, json={"mood": 5, "note": "under b"}
            )
        )
        ids["moods"].append(mood["id"])
        before = snapshot(under_b_then_a.test_client(), patient, ids)
        cursor = (
            under_b_then_a.test_client()
            .get(f"/v1/sync?cursor={cursor}", headers=patient.headers)
            .json["next_cursor"]
        )
        assert {value[:5] for values in stored_values(app).values() for value in values} == {"v1:a:", "v1:b:"}

        rotated = under_b_then_a.test_cli_runner().invoke(args=["rotate-keys", "--batch-size", "1"])
        assert rotated.exit_code == 0, rotated.output
        assert "entries: 2 rows re-encrypted under 'b'" in rotated.output
        assert "moods: 1 rows re-encrypted under 'b'" in rotated.output  # the one under b was left alone
        assert "safety_acknowledgements: 1 rows re-encrypted under 'b'" in rotated.output
        assert all(value.startswith("v1:b:") for values in stored_values(app).values() for value in values)

        # Only B now: every value reads the same, with the same version and ETag, and the
        # change feed has nothing new.
        reader = only_b.test_client()
        assert snapshot(reader, patient, ids) == before
        assert reader.get(f"/v1/sync?cursor={cursor}", headers=patient.headers).json["changes"] == []
        with only_b.app_context():
            assert (
                sorted(map(repr, db.session.execute(text("SELECT id, updated_at FROM entries")).all()))
                == updated_at
            )
        tagged = reader.get(f"/v1/entries?tag={MARKERS['entry_tag']}", headers=patient.headers).json["items"]
        assert [item["id"] for item in tagged] == ids["entries"][:1]
        assert (
            reader.get("/v1/entries?tag=lake", headers=patient.headers).json["items"][0]["body"] == "second"
        )
        shared = reader.get(f"/v1/patients/{patient.id}/entries", headers=therapist.headers).json["items"]
        assert shared[0]["body"] == MARKERS["entry_body"]
        fresh = reader.post(
            "/v1/auth/login", json={"email": patient.email, "password": patient.password}
        ).json["access_token"]
        export = reader.get("/v1/me/export", headers={"Authorization": f"Bearer {fresh}"})
        assert export.status_code == 200
        assert MARKERS["contact_notes"] in export.get_data(as_text=True)

        # Run again: nothing left to do.
        again = only_b.test_cli_runner().invoke(args=["rotate-keys"])
        assert again.exit_code == 0 and "entries: 0 rows re-encrypted" in again.output

        # A only: a value under a key it does not know is a clear error, never garbage: a 503
        # (an instance not yet given a new key, during a rollout: a retry may reach one that has
        # it), logged with the error's type.
        caplog.set_level(logging.ERROR)
        unreadable = under_a.test_client().get(f"/v1/entries/{ids['entries'][0]}", headers=patient.headers)
        assert_problem(unreadable, 503)
        assert unreadable.headers["Retry-After"] == "5"
        assert MARKERS["entry_body"] not in unreadable.get_data(as_text=True)
        assert "UnknownDataKey" in caplog.text
        refused = under_a.test_cli_runner().invoke(args=["rotate-keys"])
        assert refused.exit_code != 0
        assert "under key id 'b', which DATA_ENCRYPTION_KEYS does not list" in refused.output
    finally:
        for each in (under_a, under_b_then_a, only_b):
            dispose(each)


def test_rotation_never_overwrites_an_edit_made_while_it_runs(client, config_class, patient):
    under_a = app_with(config_class, KEY_A)
    under_b_then_a = app_with(config_class, f"{KEY_B},{KEY_A}")
    try:
        mood = created(
            under_a.test_client().post(
                "/v1/moods", headers=patient.headers, json={"mood": 3, "note": "first"}
            )
        )
        with under_b_then_a.app_context():
            table = db.metadata.tables["moods"]
            columns = encryption.encrypted_columns(table)
            # rotate-keys has read the row ...
            row = db.session.execute(select(table.c.id, type_coerce(table.c.note, Text).label("note"))).one()
            # ... when the patient edits it
            edited = under_b_then_a.test_client().patch(
                f"/v1/moods/{mood['id']}",
                headers={**patient.headers, "If-Match": '"1"'},
                json={"note": "edited"},
            )
            assert edited.status_code == 200, edited.json
            assert key_rotation.rotate_row(table, row, columns, encryption.keyring()) is False
            db.session.commit()
        reread = under_b_then_a.test_client().get(f"/v1/moods/{mood['id']}", headers=patient.headers)
        assert (reread.json["note"], reread.headers["ETag"]) == ("edited", '"2"')
    finally:
        dispose(under_a)
        dispose(under_b_then_a)


def test_stored_base64_reads_as_the_standard_library_reads_it():
    """_unb64 gives urlsafe_b64decode's bytes for every length, and refuses what it refuses."""
    import base64
    import binascii
    import os

    from api.encryption import _b64, _unb64

    for length in range(0, 70):
        data = os.urandom(length)
        assert _unb64(_b64(data)) == data == base64.urlsafe_b64decode(_b64(data) + "=" * (-length % 3))
    for bad in ("A", "AAAAA", "é" + "A" * 15):
        with pytest.raises((binascii.Error, ValueError)):
            base64.urlsafe_b64decode(bad + "=" * (-len(bad) % 4))
        with pytest.raises((binascii.Error, ValueError)):
            _unb64(bad)
