"""PHQ-9 and GAD-7 scoring: total, severity band, and the PHQ-9 item-9 safety flag."""

import enum


class Instrument(enum.StrEnum):
    """A standard questionnaire: `phq9` (depression, 9 items) or `gad7` (anxiety, 7 items)."""

    PHQ9 = "phq9"
    GAD7 = "gad7"


ITEM_COUNT = {Instrument.PHQ9: 9, Instrument.GAD7: 7}

# (lowest total of the band, band name), highest first.
BANDS = {
    Instrument.PHQ9: [
        (20, "severe"),
        (15, "moderately_severe"),
        (10, "moderate"),
        (5, "mild"),
        (0, "minimal"),
    ],
    Instrument.GAD7: [(15, "severe"), (10, "moderate"), (5, "mild"), (0, "minimal")],
}

SEVERITIES = ("minimal", "mild", "moderate", "moderately_severe", "severe")

# PHQ-9 item 9, "thoughts that you would be better off dead, or of hurting yourself", by index.
SELF_HARM_ITEM = 8


def score(instrument, answers):
    """(total, severity, safety_flag). PHQ-9 item 9 asks about thoughts of self-harm."""
    total = sum(answers)
    severity = next(name for lowest, name in BANDS[instrument] if total >= lowest)
    safety_flag = instrument == Instrument.PHQ9 and answers[SELF_HARM_ITEM] > 0
    return total, severity, safety_flag
