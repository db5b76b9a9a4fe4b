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
    """Lines for a country, or the international ones when it has none listed (or no country)."""
    data = crisis_resources_data()
    countries = data["countries"]
    listed = country in countries and country != data["fallback"]
    return {
        "country": country if listed else None,
        "resources": countries[country if listed else data["fallback"]],
    }
