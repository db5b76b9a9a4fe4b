"""PHQ-9, GAD-7 and PCL-5: server-side score, severity band at every edge, the PCL-5 threshold,
the safety flag, and the answers each instrument takes (all from the instrument registry)."""

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


# --- PCL-5 (20 items, 0-4 each; no bands; 33 or more is a provisional PTSD diagnosis) -------------


# Known questionnaires -> (score, threshold_met)
PCL5_TABLE = [
    ([0] * 20, 0, False),
    ([1] * 20, 20, False),
    ([4] * 8 + [0] * 12, 32, False),
    ([2] * 16 + [0] * 4, 32, False),
    ([4] * 8 + [1] + [0] * 11, 33, True),
    ([1] * 7 + [2] * 13, 33, True),
    ([2] * 16 + [1] * 4, 36, True),
    ([3] * 20, 60, True),
    ([4] * 19 + [3], 79, True),
    ([4] * 20, 80, True),
]


@pytest.mark.parametrize("answers, score, threshold_met", PCL5_TABLE)
def test_pcl5_known_answers(client, patient, answers, score, threshold_met):
    response = take(client, patient, "pcl5", answers)
    assert response.status_code == 201, response.json
    result = response.json
    assert (result["score"], result["threshold_met"]) == (score, threshold_met)
    assert (result["severity"], result["safety_flag"], result["crisis_resources"]) == (None, False, None)
    assert result["answers"] == answers
    assert client.get(f"/v1/assessments/{result['id']}", headers=patient.headers).json == {
        key: value for key, value in result.items() if key != "crisis_resources"
    }


NO_INSTRUMENT_TAKES_IT = (
    "No instrument takes it: answers are 0 to 4 at most, and each instrument's own range is in "
    "GET /v1/reference/instruments."
)


@pytest.mark.parametrize(
    "answers, errors",
    [
        ([5] + [0] * 19, {"0": [NO_INSTRUMENT_TAKES_IT]}),
        ([0] * 19 + [-1], {"19": [NO_INSTRUMENT_TAKES_IT]}),
        ([0] * 19, ["pcl5 has exactly 20 answers."]),
        ([4] * 19, ["pcl5 has exactly 20 answers."]),
        ([0] * 21, ["Longer than maximum length 20."]),
    ],
)
def test_pcl5_answers_out_of_range_or_of_the_wrong_count_are_422(client, patient, answers, errors):
    problem = assert_problem(take(client, patient, "pcl5", answers), 422)
    assert problem["errors"] == {"answers": errors}
    assert client.get("/v1/assessments", headers=patient.headers).json["items"] == []


@pytest.mark.parametrize(
    "instrument, answers, message",
    [
        ("phq9", [0] * 8 + [4], "phq9 answers are 0 to 3: item 9 is 4."),
        ("phq9", [3, 4, 3, 3, 3, 3, 3, 3, 4], "phq9 answers are 0 to 3: item 2 is 4, item 9 is 4."),
        ("gad7", [0, 0, 4, 0, 0, 0, 0], "gad7 answers are 0 to 3: item 3 is 4."),
        ("phq9", [0] * 20, "phq9 has exactly 9 answers."),
    ],
)
def test_phq9_and_gad7_take_0_to_3_though_the_list_takes_pcl5s_0_to_4(
    client, patient, instrument, answers, message
):
    problem = assert_problem(take(client, patient, instrument, answers), 422)
    assert problem["errors"] == {"answers": [message]}


def test_phq9_and_gad7_results_have_no_threshold(client, patient):
    assert take(client, patient, "phq9", [3] * 9).json["threshold_met"] is None
    assert take(client, patient, "gad7", [3] * 7).json["threshold_met"] is None


def test_every_instrument_in_the_registry_is_stored(client, patient):
    """Each id in instruments.json is taken and stored: the table has no CHECK of its own to widen
    (migrations/versions/bdb58171c62c_... dropped it), so an instrument added to the file needs
    no revision."""
    from api.reference.instruments import REGISTRY

    for entry in REGISTRY:
        lowest = [entry["answer_options"][0]["value"]] * len(entry["items"])
        response = take(client, patient, entry["id"], lowest)
        assert response.status_code == 201, (entry["id"], response.json)
    listed = client.get("/v1/assessments", headers=patient.headers).json["items"]
    assert sorted(item["instrument"] for item in listed) == sorted(entry["id"] for entry in REGISTRY)


def test_pcl5_results_filter_and_sync_like_the_others(client, patient):
    take(client, patient, "phq9", [0] * 9)
    pcl5 = take(client, patient, "pcl5", [2] * 20).json
    listed = client.get("/v1/assessments?instrument=pcl5", headers=patient.headers).json["items"]
    assert [item["id"] for item in listed] == [pcl5["id"]]
    changes = client.get("/v1/sync", headers=patient.headers).json["changes"]
    [synced] = [change["data"] for change in changes if change["id"] == pcl5["id"]]
    assert (synced["score"], synced["severity"], synced["threshold_met"]) == (40, None, True)
