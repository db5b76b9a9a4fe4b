"""Per-request work that could be done once is done once: reads build no marshmallow schema."""

import collections

import marshmallow
import pytest

from tests.resources import RESOURCES


@pytest.fixture
def schemas_built(monkeypatch):
    """The marshmallow schemas instantiated while the test runs, by class name."""
    built = collections.Counter()
    original = marshmallow.Schema.__init__

    def counting(self, *args, **kwargs):
        built[type(self).__name__] += 1
        original(self, *args, **kwargs)

    monkeypatch.setattr(marshmallow.Schema, "__init__", counting)
    return built


def test_reads_build_no_schema_per_request(client, patient, therapist, link, schemas_built):
    """Lists (the patient's and a therapist's), item reads, 304s and /v1/sync use schemas built
    once (by flask-smorest, or here at import): building one deep-copies every field, which
    costs about as much as dumping a page of records."""
    link(patient, therapist)
    reads = []
    for kind, (body, _change) in RESOURCES.items():
        created = client.post(f"/v1/{kind}", headers=patient.headers, json=body)
        assert created.status_code == 201, created.json
        item = f"/v1/{kind}/{created.json['id']}"
        reads += [
            (f"/v1/{kind}?limit=20", patient.headers, 200),
            (item, patient.headers, 200),
            (item, {**patient.headers, "If-None-Match": created.headers["ETag"]}, 304),
        ]
        if kind != "contacts":  # never shared
            reads.append((f"/v1/patients/{patient.id}/{kind}", therapist.headers, 200))
    reads.append(("/v1/sync?limit=100", patient.headers, 200))
    for path, headers, status in reads:  # what is built once, lazily (nested schemas)
        assert client.get(path, headers=headers).status_code == status
    schemas_built.clear()
    for path, headers, status in reads:
        assert client.get(path, headers=headers).status_code == status
    assert schemas_built == {}
