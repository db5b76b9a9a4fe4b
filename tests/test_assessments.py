"""PHQ-9 and GAD-7: server-side score, severity band at every edge, and the safety flag."""

import pytest

from tests.helpers import assert_problem


def take(client, account, instrument, answers, **extra):
    return client.post(
        "/v1/assessments",
        headers=account.headers,
        json={"instrument": instrument, "answers": answers, **extra},
    )


def answers_totalling(total, items):
    """Answers (0-3 each) adding up to `total`, filled from the first item."""
    answers = []
    for _ in range(items):
        answers.append(min(3, total))
        total -= answers[-1]
    return answers


# Known questionnaires -> (score, severity, safety_flag)
PHQ9_TABLE = [
    ([0, 0, 0, 0, 0, 0, 0, 0, 0], 0, "minimal", False),
    ([1, 1, 1, 1, 0, 0, 0, 0, 0], 4, "minimal", False),
    ([1, 1, 1, 1, 1, 0, 0, 0, 0], 5, "mild", False),
    ([2, 2, 1, 1, 1, 1, 1, 0, 0], 9, "mild", False),
    ([2, 2, 2, 1, 1, 1, 1, 0, 0], 10, "moderate", False),
    ([0, 0, 0, 0, 0, 0, 0, 0, 1], 1, "minimal", True),
    ([3, 3, 2, 2, 2, 2, 1, 0, 0], 15, "moderately_severe", False),
    ([3, 3, 3, 3, 3, 2, 2, 0, 1], 20, "severe", True),
    ([3, 3, 3, 3, 3, 3, 3, 3, 3], 27, "severe", True),
]


@pytest.mark.parametrize("answers, score, severity, flag", PHQ9_TABLE)
def test_phq9_known_answers(client, patient, answers, score, severity, flag):
    result = take(client, patient, "phq9", answers).json
    assert (result["score"], result["severity"], result["safety_flag"]) == (score, severity, flag)
    assert result["answers"] == answers


@pytest.mark.parametrize(
    "total, severity",
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "moderately_severe"),
        (19, "moderately_severe"),
        (20, "severe"),
        (27, "severe"),
    ],
)
def test_phq9_band_edges(client, patient, total, severity):
    answers = answers_totalling(total, 8) + [0]  # item 9 stays 0: edges without the safety flag
    if sum(answers) != total:
        answers = answers_totalling(total, 9)
    result = take(client, patient, "phq9", answers).json
    assert result["score"] == total and result["severity"] == severity


@pytest.mark.parametrize(
    "total, severity",
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "severe"),
        (21, "severe"),
    ],
)
def test_gad7_band_edges(client, patient, total, severity):
    result = take(client, patient, "gad7", answers_totalling(total, 7)).json
    assert (result["score"], result["severity"], result["safety_flag"]) == (total, severity, False)


@pytest.mark.parametrize(
    "instrument, answers",
    [
        ("phq9", [0] * 8),
        ("phq9", [0] * 10),
        ("gad7", [0] * 9),
        ("gad7", [0] * 6),
        ("phq9", [0] * 8 + [4]),
        ("gad7", [-1] + [0] * 6),
        ("gad7", [1.5] + [0] * 6),
        ("gad7", ["1"] + [0] * 6),
        ("bdi", [0] * 9),
        ("phq9", None),
    ],
)
def test_invalid_answers_are_422(client, patient, instrument, answers):
    response = take(client, patient, instrument, answers)
    assert_problem(response, 422)
    assert client.get("/v1/assessments", headers=patient.headers).json["items"] == []


def test_scores_are_read_only(client, patient):
    response = take(client, patient, "gad7", [0] * 7, score=21, severity="severe")
    assert {"score", "severity"} <= assert_problem(response, 422)["errors"].keys()


def test_assessments_cannot_be_edited(client, patient):
    result = take(client, patient, "gad7", [0] * 7).json
    response = client.patch(
        f"/v1/assessments/{result['id']}",
        headers={**patient.headers, "If-Match": '"1"'},
        json={"answers": [3] * 7},
    )
    assert_problem(response, 405)
    assert "PATCH" not in response.headers["Allow"]


def test_link_to_own_session_and_filters(client, make_account):
    patient, other = make_account(), make_account()
    session = client.post(
        "/v1/sessions", headers=patient.headers, json={"started_at": "2026-03-01T09:00:00Z"}
    ).json
    theirs = client.post(
        "/v1/sessions", headers=other.headers, json={"started_at": "2026-03-01T09:00:00Z"}
    ).json
    assert take(client, patient, "phq9", [1] * 9, session_id=session["id"]).status_code == 201
    assert_problem(take(client, patient, "phq9", [1] * 9, session_id=theirs["id"]), 422)
    take(client, patient, "gad7", [1] * 7, taken_at="2026-02-01T10:00:00Z")
    instruments = lambda query: [
        a["instrument"] for a in client.get(f"/v1/assessments?{query}", headers=patient.headers).json["items"]
    ]
    assert instruments("instrument=gad7") == ["gad7"]
    assert instruments(f"session_id={session['id']}") == ["phq9"]
    assert sorted(instruments("")) == ["gad7", "phq9"]
