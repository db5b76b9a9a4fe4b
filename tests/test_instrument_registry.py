"""The instrument registry (api/reference/instruments.py): read and checked at import, so a broken
file stops the API; an instrument scored by a plain sum is added as data, with no code."""

import copy
import importlib.util
import json
import shutil

import pytest

from api.assessments.scoring import answer_problems, score
from api.reference import instruments
from api.reference.instruments import InvalidRegistry, load_registry

DOCUMENT = json.loads(instruments.REGISTRY_FILE.read_text())

# A made-up instrument, as someone adding one would write it: 3 items answered 0-5, bands and
# a threshold, no LOINC codes.
WELLBEING = {
    "id": "wb3",
    "name": "WB-3",
    "title": "Three-item wellbeing check (made up for this test)",
    "measures": "How well the person has felt.",
    "recall_period": "the last week",
    "prompt": "Over the last week, how often have you:",
    "items": [
        {"number": 1, "text": "Felt cheerful", "loinc": None},
        {"number": 2, "text": "Felt rested", "loinc": None},
        {"number": 3, "text": "Felt close to others", "loinc": None},
    ],
    "answer_options": [
        {"value": value, "label": label, "loinc": None}
        for value, label in enumerate(("Never", "Rarely", "Sometimes", "Often", "Mostly", "Always"))
    ],
    "scoring": "sum",
    "min_total": 0,
    "max_total": 15,
    "bands": [
        {"min": 0, "max": 5, "severity": "low", "label": "Low wellbeing"},
        {"min": 6, "max": 15, "severity": "usual", "label": "Usual wellbeing"},
    ],
    "threshold": {"min_total": 12, "label": "Flourishing", "description": "12 or more: a good week."},
    "safety_rule": None,
    "loinc_form": None,
    "loinc_total": None,
    "source": {"copyright": "Made up for a test; not an instrument.", "url": "https://example.org/wb3"},
}


def registry_module(tmp_path, document):
    """api/reference/instruments.py imported afresh, beside `document` as its instruments.json:
    what the API does at start with that file."""
    shutil.copy(instruments.__file__, tmp_path / "instruments.py")
    (tmp_path / "instruments.json").write_text(json.dumps(document))
    spec = importlib.util.spec_from_file_location("registry_under_test", tmp_path / "instruments.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_an_instrument_with_sum_scoring_is_added_as_data(tmp_path):
    document = copy.deepcopy(DOCUMENT)
    document["instruments"].append(WELLBEING)
    module = registry_module(tmp_path, document)

    assert [member.value for member in module.Instrument] == ["phq9", "gad7", "pcl5", "wb3"]
    assert module.Instrument("wb3") == "wb3" and "`wb3` WB-3 (3 items)" in module.Instrument.__doc__
    registry = module.REGISTRY
    assert (registry.min_items, registry.max_items, registry.max_answer) == (3, 20, 5)
    assert registry.severities[-2:] == ("low", "usual")
    entry = registry["wb3"]
    # its answers are checked and scored by the same code as every other instrument's
    assert answer_problems(entry, [5, 5, 5]) == []
    assert answer_problems(entry, [6, 0, 0]) == ["wb3 answers are 0 to 5: item 1 is 6."]
    assert answer_problems(entry, [0, 0]) == ["wb3 has exactly 3 answers."]
    assert score(entry, [0, 2, 3]) == (5, "low", False, False)
    assert score(entry, [4, 4, 3]) == (11, "usual", False, False)
    assert score(entry, [4, 4, 4]) == (12, "usual", True, False)
    assert score(entry, [5, 5, 5]) == (15, "usual", True, False)
    # the instruments already there are as they were
    assert score(registry["pcl5"], [2] * 16 + [1] * 4) == (36, None, True, False)
    assert score(registry["phq9"], [3] * 8 + [1]) == (25, "severe", None, True)


def broken(change):
    document = copy.deepcopy(DOCUMENT)
    change(document["instruments"])
    return document


def phq9(instruments):
    return instruments[0]


def pcl5(instruments):
    return instruments[2]


# What goes wrong -> the change to the file, and what the refusal says.
BROKEN = {
    "items out of order": (lambda i: phq9(i)["items"].reverse(), "Items are numbered 1 to n"),
    "a missing item text": (lambda i: phq9(i)["items"][0].pop("text"), "Missing data for required field"),
    "answer values with a gap": (
        lambda i: pcl5(i)["answer_options"].pop(2),
        "Answer option values are consecutive",
    ),
    "a total that is not the sum": (lambda i: pcl5(i).update(max_total=81), "20 answers add up to 0 to 80"),
    "bands with a gap": (lambda i: phq9(i)["bands"][1].update(min=6), "cover each total from 0 to 27 once"),
    "bands that overlap": (lambda i: phq9(i)["bands"][1].update(min=4), "cover each total from 0 to 27 once"),
    "bands short of the top": (
        lambda i: phq9(i)["bands"][-1].update(max=26),
        "cover each total from 0 to 27 once",
    ),
    "a threshold above the top": (
        lambda i: pcl5(i)["threshold"].update(min_total=81),
        "A threshold is above 0 and at most 80",
    ),
    "a safety rule on no item": (
        lambda i: phq9(i)["safety_rule"].update(item=10),
        "A safety rule names an item",
    ),
    "a safety rule without bands": (
        lambda i: pcl5(i).update(safety_rule=phq9(i)["safety_rule"]),
        "A safety rule needs severity bands",
    ),
    "a scoring other than sum": (lambda i: pcl5(i).update(scoring="mean"), "Must be one of: sum"),
    "a made-up LOINC code": (
        lambda i: pcl5(i)["loinc_total"].update(code="PCL5-TOTAL"),
        "does not match expected pattern",
    ),
    "two instruments with one id": (
        lambda i: i.append(copy.deepcopy(i[0])),
        "Each instrument has its own id",
    ),
    "an id too long for its column": (lambda i: pcl5(i).update(id="p" * 33), "Longer than maximum length 32"),
    "an answer value as text": (
        lambda i: pcl5(i)["answer_options"][0].update(value="0"),
        "Not a valid integer",
    ),
}


@pytest.mark.parametrize("change, message", BROKEN.values(), ids=BROKEN.keys())
def test_a_registry_that_does_not_hang_together_is_refused(tmp_path, change, message):
    path = tmp_path / "instruments.json"
    path.write_text(json.dumps(broken(change)))
    with pytest.raises(InvalidRegistry, match=message):
        load_registry(path)


def test_a_broken_registry_file_stops_the_api_at_start(tmp_path):
    # (the fresh module's own InvalidRegistry, a ValueError)
    with pytest.raises(ValueError, match="Bands, lowest first, cover each total from 0 to 27 once"):
        registry_module(tmp_path, broken(BROKEN["bands with a gap"][0]))
    (tmp_path / "instruments.json").write_text("{not json")
    with pytest.raises(InvalidRegistry):
        load_registry(tmp_path / "instruments.json")


def test_the_registry_loaded_at_start_is_the_file():
    assert instruments.REGISTRY.document == DOCUMENT
    assert [member.value for member in instruments.Instrument] == ["phq9", "gad7", "pcl5"]
