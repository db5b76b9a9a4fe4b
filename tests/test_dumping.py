"""Records dump through a plan (api/dumping.py) to exactly what marshmallow would give."""

import decimal
import enum
import uuid
from datetime import UTC, date, datetime
from types import SimpleNamespace

import marshmallow as ma
import pytest

from api.dumping import FastDump
from api.schemas import RecordSchema


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Inner(ma.Schema):
    id = ma.fields.UUID()
    name = ma.fields.String()


class Everything(FastDump):
    """Every kind of field a schema may hold: those the plan formats itself and those it leaves to
    the field (a Method, a Decimal, a Nested, a dump default, a dotted attribute, one of its own
    that formats with the name it is dumped under)."""

    id = ma.fields.UUID()
    count = ma.fields.Integer()
    count_text = ma.fields.Integer(as_string=True, attribute="count", dump_only=True)
    share = ma.fields.Float()
    price = ma.fields.Decimal()
    label = ma.fields.String(data_key="title")
    raw = ma.fields.Raw()
    when = ma.fields.AwareDateTime(format="iso")
    when_rfc = ma.fields.DateTime(format="rfc", attribute="when", dump_only=True)
    when_custom = ma.fields.DateTime(format="%Y/%m/%d", attribute="when", dump_only=True)
    day = ma.fields.Date()
    colour = ma.fields.Enum(Colour, by_value=True)
    colour_name = ma.fields.Enum(Colour, attribute="colour", dump_only=True)
    tags = ma.fields.List(ma.fields.String())
    ids = ma.fields.List(ma.fields.UUID())
    flag = ma.fields.Boolean()
    inner = ma.fields.Nested(Inner, allow_none=True)
    inner_name = ma.fields.String(attribute="inner.name", dump_only=True)
    shout = ma.fields.Method("loud")
    constant = ma.fields.Constant("always")
    fallback = ma.fields.String(dump_default="none given")
    absent = ma.fields.Integer()

    def loud(self, obj):
        return None if obj.label is None else obj.label.upper()


class Named(ma.fields.Field):
    """Formats with the name marshmallow passes: the schema's field name, not the attribute."""

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else f"{attr}={value}"


Everything._declared_fields["named"] = Named(attribute="label", dump_only=True)


def thing(**overrides):
    values = {
        "id": uuid.uuid4(),
        "count": 7,
        "share": 0.25,
        "price": decimal.Decimal("9.90"),
        "label": "Lake",
        "raw": {"any": [1, "two"]},
        "when": datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC),
        "day": date(2026, 3, 1),
        "colour": Colour.BLUE,
        "tags": ["calm", "open"],
        "ids": [uuid.uuid4(), None],
        "flag": 1,
        "inner": SimpleNamespace(id=uuid.uuid4(), name="Ana"),
    }
    return SimpleNamespace(**{**values, **overrides})


def nulls():
    empty = dict.fromkeys(
        ("id", "count", "share", "price", "label", "raw", "when", "day", "colour", "tags", "ids", "flag"),
        None,
    )
    return thing(**empty, inner=SimpleNamespace(id=None, name=None))


@pytest.mark.parametrize("make", [thing, nulls], ids=["values", "nulls"])
def test_a_plan_dumps_what_marshmallow_dumps(make):
    schema, obj = Everything(), make()
    if make is nulls:
        obj.label = "x"  # the Method field upper-cases it
    assert schema.dump(obj) == ma.Schema.dump(schema, obj)
    objs = [obj, make()]
    assert schema.dump(objs, many=True) == ma.Schema.dump(schema, objs, many=True)
    assert "absent" not in schema.dump(obj) and schema.dump(obj)["fallback"] == "none given"


def test_only_exclude_and_a_generator_are_honoured():
    schema, objs = Everything(only=("id", "label", "shout")), [thing(), thing()]
    assert schema.dump(iter(objs), many=True) == ma.Schema.dump(schema, objs, many=True)
    assert set(schema.dump(objs[0])) == {"id", "title", "shout"}


def test_what_marshmallow_would_index_by_key_and_a_schema_of_its_own_are_left_to_it():
    class Indexable:
        """Not a mapping, but marshmallow reads obj[key] before obj.key."""

        label = "attribute"

        def __getitem__(self, key):
            return "by key"

    schema = Everything(only=("label",))
    assert schema.dump(Indexable()) == ma.Schema.dump(schema, Indexable()) == {"title": "by key"}
    assert schema.dump([Indexable()], many=True) == [{"title": "by key"}]

    class Serialized(FastDump):
        name = ma.fields.String()

        def _serialize(self, obj, *, many=False):
            return {"own": True}

    assert Serialized().dump(SimpleNamespace(name="ana")) == {"own": True}


def test_mappings_and_hooks_are_left_to_marshmallow():
    data = {"id": uuid.uuid4(), "label": "from a dict", "count": 3}
    schema = Everything(only=("id", "label", "count"))
    assert schema.dump(data) == {"id": str(data["id"]), "title": "from a dict", "count": 3}
    assert schema.dump([data], many=True) == [schema.dump(data)]

    class Hooked(FastDump):
        name = ma.fields.String()

        @ma.post_dump
        def shout(self, data, **kwargs):
            return {"name": data["name"].upper()}

    assert Hooked().dump(SimpleNamespace(name="ana")) == {"name": "ANA"}


def record_schemas():
    import api.app  # noqa: F401  (every kind's schemas)

    found, todo = [], [RecordSchema]
    while todo:
        schema = todo.pop()
        found.append(schema)
        todo.extend(schema.__subclasses__())
    return sorted(found[1:], key=lambda schema: schema.__name__)


def test_every_record_schema_dumps_through_a_plan_that_leaves_little_to_the_fields():
    """What the plan hands back to a field is only what formats itself its own way (a nested
    person or acknowledgement, a constant): never a record's text, number, time or id."""
    from marshmallow import fields

    for schema_class in record_schemas():
        schema = schema_class()
        for name, field in schema.dump_fields.items():
            if isinstance(field, fields.Nested | fields.Boolean | fields.Constant) or (
                isinstance(field, fields.List) and isinstance(field.inner, fields.Nested)
            ):
                continue
            from api.dumping import formatter

            assert formatter(field) is not None, (schema_class.__name__, name)


def test_a_longer_page_calls_no_marshmallow_field_per_record(client, patient, monkeypatch):
    """Field.serialize (marshmallow's per-field path) runs as often for a page of 20 records as
    for a page of 1: the page's own fields, none of the records'."""
    for number in range(20):
        body = {"mood": number % 10 + 1, "note": "n", "emotions": ["calm"]}
        assert client.post("/v1/moods", headers=patient.headers, json=body).status_code == 201
    calls = []
    serialize = ma.fields.Field.serialize

    def counting(self, *args, **kwargs):
        calls.append(type(self).__name__)
        return serialize(self, *args, **kwargs)

    monkeypatch.setattr(ma.fields.Field, "serialize", counting)
    one = client.get("/v1/moods?limit=1", headers=patient.headers)
    for_one, calls[:] = len(calls), []
    twenty = client.get("/v1/moods?limit=20", headers=patient.headers)
    assert one.status_code == twenty.status_code == 200 and len(twenty.json["items"]) == 20
    assert len(calls) == for_one, calls


def test_every_synced_record_dumps_as_marshmallow_would(app, client, patient):
    """Real records of every type, read from the database: the plan's dump is marshmallow's."""
    from sqlalchemy import select

    from api.extensions import db
    from api.kinds import SYNCED
    from tests.resources import RESOURCES

    for kind, (body, _) in RESOURCES.items():
        assert client.post(f"/v1/{kind}", headers=patient.headers, json=body).status_code == 201
    flagged = {"instrument": "phq9", "answers": [0, 0, 0, 0, 0, 0, 0, 0, 1]}  # and a safety event
    assert client.post("/v1/assessments", headers=patient.headers, json=flagged).status_code == 201
    with app.app_context():
        for synced in SYNCED:
            records = db.session.scalars(
                select(synced.model).where(synced.model.owner_id == uuid.UUID(patient.id))
            ).all()
            assert records, synced.sync_type
            schema = synced.schema()
            assert schema.dump(records, many=True) == ma.Schema.dump(schema, records, many=True)
        db.session.rollback()
