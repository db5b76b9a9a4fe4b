"""Scoring by the instrument registry (api/reference/instruments.py): the answers each instrument
takes, its total, severity band, threshold and safety flag.

Each function takes an instrument's registry entry, so an instrument added to the data file is
checked and scored here with no change to this code.
"""

from typing import NamedTuple

from api.reference.instruments import REGISTRY, Instrument

__all__ = ["REGISTRY", "Instrument", "Score", "answer_problems", "score"]


class Score(NamedTuple):
    total: int
    severity: str | None  # null for an instrument without bands (PCL-5)
    threshold_met: bool | None  # null for an instrument without a threshold (PHQ-9, GAD-7)
    safety_flag: bool


def answer_problems(entry, answers):
    """What is wrong with `answers` for this instrument, in words that name it (empty when right):
    one answer per item, each one of its answer option values."""
    count = len(entry["items"])
    if len(answers) != count:
        return [f"{entry['id']} has exactly {count} answers."]
    lowest, highest = entry["answer_options"][0]["value"], entry["answer_options"][-1]["value"]
    wrong = [
        f"item {number} is {answer}"
        for number, answer in enumerate(answers, start=1)
        if not lowest <= answer <= highest
    ]
    return [f"{entry['id']} answers are {lowest} to {highest}: {', '.join(wrong)}."] if wrong else []


def score(entry, answers):
    """The total (the registry's only scoring so far is `sum`), the band it falls in, whether it
    reaches the threshold, and whether the safety rule's item is answered at or above its mark."""
    total = sum(answers)
    severity = next(
        (band["severity"] for band in entry["bands"] if band["min"] <= total <= band["max"]), None
    )
    threshold = entry["threshold"]
    rule = entry["safety_rule"]
    return Score(
        total=total,
        severity=severity,
        threshold_met=None if threshold is None else total >= threshold["min_total"],
        safety_flag=rule is not None and answers[rule["item"] - 1] >= rule["min_answer"],
    )
