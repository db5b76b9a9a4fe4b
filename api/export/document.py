"""format=json: one JSON document, the API's own field names and record shapes."""

from api.accounts.schemas import UserSchema
from api.export.service import SECTIONS, each_dumped, integration_plan, owner
from api.export.streams import in_chunks, json_bytes

FORMAT_NAME = "integration-journal-export"
FORMAT_VERSION = 1


def json_export(*, owner_id, exported_at):
    """`{format, format_version, exported_at, profile, integration_plan, sessions: [...], ...,
    safety_events: [...]}`, written record by record."""
    return in_chunks(_pieces(owner_id, exported_at))


def _pieces(owner_id, exported_at):
    profile = UserSchema().dump(owner(owner_id))
    yield b'{"format":' + json_bytes(FORMAT_NAME)
    yield b',"format_version":' + json_bytes(FORMAT_VERSION)
    yield b',"exported_at":' + json_bytes(exported_at.isoformat())
    yield b',\n"profile":' + json_bytes(profile)
    yield b',\n"integration_plan":' + json_bytes(integration_plan(owner_id))
    for section in SECTIONS:
        yield b",\n" + json_bytes(section.name) + b":["
        separator = b"\n"
        for record in each_dumped(section, owner_id=owner_id):
            yield separator + json_bytes(record)
            separator = b",\n"
        yield b"]"
    yield b"}\n"
