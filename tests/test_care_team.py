"""Invitations and care-team links: codes that are single-use, expire, cannot be probed; scopes
the patient changes and links they revoke, effective on the therapist's next request."""

import re
import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from api.care_team import codes
from api.care_team.models import CareLink, Invitation
from api.extensions import db
from api.models import utcnow
from tests.helpers import assert_problem

CODE_SHAPE = re.compile(
    r"[23456789ABCDEFGHJKMNPQRSTVWXYZ]{5}-[23456789ABCDEFGHJKMNPQRSTVWXYZ]{5}-[23456789ABCDEFGHJKMNPQRSTVWXYZ]{5}"
)


def redeem(client, patient, code, scopes=("moods",)):
    return client.post("/v1/care-team", headers=patient.headers, json={"code": code, "scopes": list(scopes)})


# --- invitations ---------------------------------------------------------------------------------


def test_an_invitation_shows_its_code_once_and_stores_only_a_hash(app, client, therapist):
    created = client.post("/v1/invitations", headers=therapist.headers)
    assert created.status_code == 201
    invitation = created.json
    assert CODE_SHAPE.fullmatch(invitation["code"])
    assert created.headers["Location"] == f"/v1/invitations/{invitation['id']}"
    assert invitation["status"] == "open" and invitation["used_at"] is None
    lifetime = datetime.fromisoformat(invitation["expires_at"]) - datetime.fromisoformat(
        invitation["created_at"]
    )
    assert lifetime == timedelta(hours=72)
    # never shown again: not in the list, not in the item
    listed = client.get("/v1/invitations", headers=therapist.headers).json["items"]
    assert [item["id"] for item in listed] == [invitation["id"]] and "code" not in listed[0]
    assert "code" not in client.get(created.headers["Location"], headers=therapist.headers).json
    # the database holds its SHA-256, never the code
    with app.app_context():
        stored = db.session.execute(select(Invitation)).scalar_one()
        assert stored.code_hash == codes.code_hash(invitation["code"])
        assert invitation["code"].replace("-", "") not in repr(stored.__dict__)


def test_codes_carry_at_least_64_bits_and_no_ambiguous_characters():
    assert codes.ENTROPY_BITS >= 64
    assert not set("01OIL") & set(codes.ALPHABET)
    made = {codes.new_code() for _ in range(2000)}
    assert len(made) == 2000
    # every position draws on the whole alphabet
    assert set("".join(made).replace("-", "")) == set(codes.ALPHABET)


def test_codes_are_forgiving_about_case_spaces_and_dashes(client, make_account, invite):
    therapist, patient = make_account("therapist"), make_account()
    code = invite(therapist)["code"]
    typed = " " + code.lower().replace("-", " ") + " "
    assert redeem(client, patient, typed).status_code == 201


def test_only_therapists_make_invitations(client, patient, therapist):
    for method, path in (
        ("post", "/v1/invitations"),
        ("get", "/v1/invitations"),
        ("get", f"/v1/invitations/{uuid.uuid4()}"),
    ):
        assert_problem(client.open(path, method=method, headers=patient.headers), 403)
        assert_problem(client.open(path, method=method), 401)


def test_another_therapists_invitation_is_404_like_a_missing_one(client, make_account, invite):
    owner, other = make_account("therapist"), make_account("therapist")
    invitation = invite(owner)
    headers = {**other.headers, "If-Match": '"1"'}
    for method in ("get", "delete"):
        theirs = client.open(f"/v1/invitations/{invitation['id']}", method=method, headers=headers)
        missing = client.open(f"/v1/invitations/{uuid.uuid4()}", method=method, headers=headers)
        assert theirs.status_code == missing.status_code == 404
        assert theirs.get_data() == missing.get_data()
    assert client.get("/v1/invitations", headers=other.headers).json["items"] == []


def test_withdrawing_an_invitation_needs_if_match_and_kills_the_code(client, therapist, patient, invite):
    invitation = invite(therapist)
    url = f"/v1/invitations/{invitation['id']}"
    assert_problem(client.delete(url, headers=therapist.headers), 428)
    assert_problem(client.delete(url, headers={**therapist.headers, "If-Match": '"7"'}), 412)
    assert client.delete(url, headers={**therapist.headers, "If-Match": '"1"'}).status_code == 204
    assert_problem(client.get(url, headers=therapist.headers), 404)
    assert_problem(redeem(client, patient, invitation["code"]), 422)


def test_invitations_page_newest_first(client, therapist, invite):
    made = [invite(therapist)["id"] for _ in range(5)]
    first = client.get("/v1/invitations?limit=3", headers=therapist.headers)
    second = client.get(
        f"/v1/invitations?limit=3&cursor={first.json['next_cursor']}", headers=therapist.headers
    )
    assert 'rel="next"' in first.headers["Link"]
    seen = [item["id"] for item in first.json["items"] + second.json["items"]]
    assert sorted(seen) == sorted(made) and len(seen) == 5 and second.json["next_cursor"] is None


# --- redeeming codes ------------------------------------------------------------------------------


def test_redeeming_links_the_patient_and_uses_the_code_up(client, make_account, invite):
    therapist, patient, other = make_account("therapist"), make_account(), make_account()
    invitation = invite(therapist)
    linked = redeem(client, patient, invitation["code"], scopes=("entries", "moods"))
    assert linked.status_code == 201, linked.json
    link = linked.json
    assert link["therapist"] == {"id": therapist.id, "display_name": "Test therapist"}
    assert link["scopes"] == ["entries", "moods"] and link["version"] == 1
    assert linked.headers["Location"] == f"/v1/care-team/{link['id']}" and linked.headers["ETag"] == '"1"'
    assert client.get("/v1/care-team", headers=patient.headers).json["items"] == [link]
    # the therapist sees the invitation used
    listed = client.get("/v1/invitations", headers=therapist.headers).json["items"][0]
    assert listed["status"] == "used" and listed["used_at"] is not None
    # single use: nobody can redeem it again
    again = redeem(client, other, invitation["code"])
    assert_problem(again, 422, "validation-error")
    assert client.get("/v1/care-team", headers=other.headers).json["items"] == []


def test_wrong_used_expired_and_withdrawn_codes_look_identical(app, client, make_account, invite):
    therapist, patient, first = make_account("therapist"), make_account(), make_account()
    used = invite(therapist)["code"]
    redeem(client, first, used)
    expired = invite(therapist)["code"]
    with app.app_context():
        db.session.execute(
            update(Invitation)
            .where(Invitation.code_hash == codes.code_hash(expired))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
    withdrawn_invitation = invite(therapist)
    client.delete(
        f"/v1/invitations/{withdrawn_invitation['id']}", headers={**therapist.headers, "If-Match": '"1"'}
    )
    never_issued = codes.new_code()
    answers = [
        redeem(client, patient, code)
        for code in (used, expired, withdrawn_invitation["code"], never_issued, "hello", "x" * 64)
    ]
    for answer in answers:
        assert_problem(answer, 422)
    assert len({answer.get_data() for answer in answers}) == 1
    assert "code" in answers[0].json["errors"]
    assert client.get("/v1/care-team", headers=patient.headers).json["items"] == []


def test_a_code_expires_after_72_hours(app, client, make_account, invite):
    therapist, patient = make_account("therapist"), make_account()
    invitation = invite(therapist)
    with app.app_context():
        db.session.execute(update(Invitation).values(expires_at=utcnow() - timedelta(microseconds=1)))
        db.session.commit()
    assert (
        client.get(f"/v1/invitations/{invitation['id']}", headers=therapist.headers).json["status"]
        == "expired"
    )
    assert_problem(redeem(client, patient, invitation["code"]), 422)


def test_linking_the_same_therapist_twice_is_409_and_keeps_the_code(client, make_account, invite, link):
    therapist, patient, other = make_account("therapist"), make_account(), make_account()
    link(patient, therapist)
    spare = invite(therapist)["code"]
    assert_problem(redeem(client, patient, spare), 409)
    # the failed request changed nothing: the code still works for someone else
    assert redeem(client, other, spare).status_code == 201


def test_scopes_are_checked(client, make_account, invite):
    therapist, patient = make_account("therapist"), make_account()
    code = invite(therapist)["code"]
    for scopes in (["contacts"], ["moods", "moods"], "moods", ["everything"]):
        problem = assert_problem(redeem(client, patient, code, scopes=scopes), 422)
        assert "scopes" in problem["errors"]
    assert_problem(client.post("/v1/care-team", headers=patient.headers, json={"code": code}), 422)
    # the code survived all of that
    assert redeem(client, patient, code).status_code == 201


def test_only_patients_redeem_codes(client, make_account, invite):
    therapist, colleague = make_account("therapist"), make_account("therapist")
    code = invite(therapist)["code"]
    assert_problem(redeem(client, colleague, code), 403)
    assert_problem(client.post("/v1/care-team", json={"code": code, "scopes": []}), 401)


def test_wrong_codes_are_throttled(app, client, make_account, invite, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_CODE_FAILURES_PER_ACCOUNT", "3 per hour")
    therapist, patient = make_account("therapist"), make_account()
    for _ in range(3):
        assert_problem(redeem(client, patient, codes.new_code()), 422)
    throttled = redeem(client, patient, invite(therapist)["code"])
    assert_problem(throttled, 429)
    assert int(throttled.headers["Retry-After"]) > 0


def test_successful_redemptions_do_not_count_towards_the_throttle(
    app, client, make_account, invite, monkeypatch
):
    monkeypatch.setitem(app.config, "RATELIMIT_CODE_FAILURES_PER_ACCOUNT", "1 per hour")
    patient = make_account()
    for _ in range(3):
        assert redeem(client, patient, invite(make_account("therapist"))["code"]).status_code == 201


def test_two_patients_racing_for_one_code_cannot_both_win(app, make_account, invite):
    import threading

    therapist = make_account("therapist")
    racers = [make_account() for _ in range(4)]
    code = invite(therapist)["code"]
    statuses, refusals = [], []
    barrier = threading.Barrier(len(racers))

    def race(patient):
        with app.test_client() as own_client:
            barrier.wait()
            response = redeem(own_client, patient, code)
            statuses.append(response.status_code)
            if response.status_code != 201:
                refusals.append(response)

    threads = [threading.Thread(target=race, args=(racer,)) for racer in racers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201, 422, 422, 422]
    # the losers see exactly what a used code looks like: the same problem, naming the code
    for refusal in refusals:
        assert "code" in assert_problem(refusal, 422, "validation-error")["errors"]
    assert len({refusal.get_data() for refusal in refusals}) == 1
    assert refusals[0].get_data() == redeem(app.test_client(), make_account(), codes.new_code()).get_data()
    with app.app_context():
        assert len(db.session.execute(select(CareLink)).scalars().all()) == 1


def test_redeeming_is_idempotent_with_a_key(client, make_account, invite):
    therapist, patient = make_account("therapist"), make_account()
    body = {"code": invite(therapist)["code"], "scopes": ["moods"]}
    headers = {**patient.headers, "Idempotency-Key": "link-1"}
    first = client.post("/v1/care-team", headers=headers, json=body)
    again = client.post("/v1/care-team", headers=headers, json=body)
    assert first.status_code == again.status_code == 201
    assert again.json == first.json and again.headers["Idempotent-Replayed"] == "true"


# --- the patient's care team ------------------------------------------------------------------


def test_scopes_change_with_if_match(client, make_account, link):
    therapist, patient = make_account("therapist"), make_account()
    made = link(patient, therapist, scopes=("moods",))
    url = f"/v1/care-team/{made['id']}"
    assert client.get(url, headers=patient.headers).json == made
    assert_problem(client.patch(url, headers=patient.headers, json={"scopes": ["entries"]}), 428)
    stale = client.patch(url, headers={**patient.headers, "If-Match": '"9"'}, json={"scopes": ["entries"]})
    assert assert_problem(stale, 412)["current"] == made
    changed = client.patch(
        url, headers={**patient.headers, "If-Match": '"1"'}, json={"scopes": ["entries", "sessions"]}
    )
    assert changed.status_code == 200 and changed.json["scopes"] == ["entries", "sessions"]
    assert changed.json["version"] == 2 and changed.headers["ETag"] == '"2"'


def test_revoking_removes_the_link(client, make_account, link):
    therapist, patient = make_account("therapist"), make_account()
    made = link(patient, therapist)
    url = f"/v1/care-team/{made['id']}"
    assert_problem(client.delete(url, headers=patient.headers), 428)
    assert client.delete(url, headers={**patient.headers, "If-Match": '"1"'}).status_code == 204
    assert_problem(client.get(url, headers=patient.headers), 404)
    assert client.get("/v1/care-team", headers=patient.headers).json["items"] == []
    assert client.get("/v1/patients", headers=therapist.headers).json["items"] == []


def test_a_revoked_therapist_can_be_invited_back(client, make_account, link):
    therapist, patient = make_account("therapist"), make_account()
    first = link(patient, therapist)
    client.delete(f"/v1/care-team/{first['id']}", headers={**patient.headers, "If-Match": '"1"'})
    second = link(patient, therapist, scopes=("moods",))
    assert second["id"] != first["id"]
    assert [item["id"] for item in client.get("/v1/care-team", headers=patient.headers).json["items"]] == [
        second["id"]
    ]


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_someone_elses_link_is_404_like_a_missing_one(client, make_account, link, method):
    therapist, owner, other = make_account("therapist"), make_account(), make_account()
    made = link(owner, therapist)
    headers = {**other.headers, "If-Match": '"1"'}
    body = {"scopes": []} if method == "patch" else None
    theirs = client.open(f"/v1/care-team/{made['id']}", method=method, headers=headers, json=body)
    missing = client.open(f"/v1/care-team/{uuid.uuid4()}", method=method, headers=headers, json=body)
    assert theirs.status_code == missing.status_code == 404
    assert theirs.get_data() == missing.get_data()
    assert client.get(f"/v1/care-team/{made['id']}", headers=owner.headers).json == made


def test_therapists_cannot_use_the_care_team_routes(client, make_account, link):
    therapist, patient = make_account("therapist"), make_account()
    made = link(patient, therapist)
    for method, path in (
        ("get", "/v1/care-team"),
        ("get", f"/v1/care-team/{made['id']}"),
        ("delete", f"/v1/care-team/{made['id']}"),
    ):
        assert_problem(
            client.open(path, method=method, headers={**therapist.headers, "If-Match": '"1"'}), 403
        )


def test_an_invitation_code_is_never_kept_for_a_replay(app, client, therapist):
    """Replaying a create would mean storing its code, so Idempotency-Key is not honoured here."""
    headers = {**therapist.headers, "Idempotency-Key": "invite-1"}
    first, retry = (client.post("/v1/invitations", headers=headers) for _ in range(2))
    assert first.status_code == retry.status_code == 201
    assert first.json["code"] != retry.json["code"] and "Idempotent-Replayed" not in retry.headers
    with app.app_context():
        stored = db.session.execute(db.text("SELECT * FROM idempotency_keys")).all()
    assert not any(
        code.replace("-", "") in repr(stored).replace("-", "")
        for code in (first.json["code"], retry.json["code"])
    )
    # the key is not honoured at all: no answer is stored for it
    assert stored == []


def test_an_invitation_carries_an_etag(client, therapist, invite):
    invitation = invite(therapist)
    url = f"/v1/invitations/{invitation['id']}"
    read = client.get(url, headers=therapist.headers)
    assert read.headers["ETag"] == '"1"'
    assert client.get(url, headers={**therapist.headers, "If-None-Match": '"1"'}).status_code == 304
