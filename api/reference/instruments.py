"""The instrument registry: every standard questionnaire as data (instruments.json), read and
checked once, when this module is imported.

Scoring, answer checks, severity bands, thresholds, the safety rule, the FHIR codes, the spec's
`Instrument` and `Severity` enums and the answers' bounds all come from here, so adding an
instrument scored by a plain sum is a change to the file (and a test), not to the code. A file
that does not pass the published schema (api/reference/schemas.py, its field bounds and the
rules that make an entry hang together) stops the API at start, naming what is wrong.
"""

import enum
import json
from pathlib import Path

import marshmallow as ma

from api.reference.schemas import InstrumentListSchema

REGISTRY_FILE = Path(__file__).resolve().parent / "instruments.json"


class InvalidRegistry(ValueError):
    """instruments.json breaks the published schema; the message says where."""


class Registry:
    """The checked registry, by id, with the bounds the assessment schemas take from it."""

    def __init__(self, document):
        self.document = document
        self.instruments = {instrument["id"]: instrument for instrument in document["instruments"]}
        every = self.instruments.values()
        self.min_items = min(len(instrument["items"]) for instrument in every)
        self.max_items = max(len(instrument["items"]) for instrument in every)
        self.min_answer = min(instrument["answer_options"][0]["value"] for instrument in every)
        self.max_answer = max(instrument["answer_options"][-1]["value"] for instrument in every)
        self.min_total = min(instrument["min_total"] for instrument in every)
        self.max_total = max(instrument["max_total"] for instrument in every)
        # Every band name, in the order the file first uses them (PHQ-9's run lowest to highest).
        self.severities = tuple(
            dict.fromkeys(band["severity"] for instrument in every for band in instrument["bands"])
        )

    def __getitem__(self, instrument_id):
        return self.instruments[str(instrument_id)]

    def __iter__(self):
        return iter(self.instruments.values())


def load_registry(path=REGISTRY_FILE):
    """Read and check a registry file; InvalidRegistry names every problem found."""
    try:
        document = InstrumentListSchema().load(json.loads(Path(path).read_text()))
    except (ValueError, ma.ValidationError) as problem:
        detail = problem.messages if isinstance(problem, ma.ValidationError) else problem
        raise InvalidRegistry(f"{path}: {detail}") from problem
    return Registry(document)


REGISTRY = load_registry()

# A StrEnum whose members are the registry's ids (PHQ9 = "phq9", ...): the assessments' column
# type and CHECK constraint, and the spec's `Instrument` enum. mypy cannot see members made from
# data; code names one by value, Instrument("phq9").
Instrument = enum.StrEnum(  # type: ignore[misc]
    "Instrument", {entry["id"].upper(): entry["id"] for entry in REGISTRY}, module=__name__
)
Instrument.__doc__ = (
    "A standard questionnaire (GET /v1/reference/instruments): "
    + ", ".join(f"`{entry['id']}` {entry['name']} ({len(entry['items'])} items)" for entry in REGISTRY)
    + "."
)
