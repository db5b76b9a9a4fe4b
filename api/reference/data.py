"""Reference data read once from the JSON files beside this module."""

import functools
import json
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent


@functools.cache
def emotion_vocabulary():
    return json.loads((DATA_DIR / "emotions.json").read_text())


@functools.cache
def emotion_names():
    """Every emotion name, in vocabulary order (used to validate entries and moods)."""
    return tuple(name for group in emotion_vocabulary()["groups"] for name in group["emotions"])


@functools.cache
def crisis_resources_data():
    return json.loads((DATA_DIR / "crisis_resources.json").read_text())


def crisis_resources(country):
    """Lines for a country: its own list, else its region's (the EU's), else the international
    one (also when the country is unknown)."""
    data = crisis_resources_data()
    countries = data["countries"]
    if country in countries and country != data["fallback"]:
        return {"country": country, "coverage": "national", "resources": countries[country]}
    for name, region in data["regions"].items():
        if country in region["countries"]:
            return {"country": None, "coverage": name.lower(), "resources": region["resources"]}
    return {"country": None, "coverage": "international", "resources": countries[data["fallback"]]}


PROMPT_THEMES = ("body", "emotions", "insights", "relationships", "intentions")


@functools.cache
def reflection_prompts():
    """The reflection prompts for the days after a session, in file order."""
    return json.loads((DATA_DIR / "prompts.json").read_text())


def prompts(*, theme=None, day=None, language=None):
    """The prompts of a theme, suiting a day after the session, in a language (each if given;
    a language is matched on its first subtag, as the prompts are tagged: `en-GB` reads `en`)."""
    primary = language.split("-")[0].lower() if language else None
    return [
        prompt
        for prompt in reflection_prompts()["prompts"]
        if (theme is None or prompt["theme"] == theme)
        and (day is None or prompt["days_from"] <= day <= prompt["days_to"])
        and (primary is None or prompt["language"] == primary)
    ]
