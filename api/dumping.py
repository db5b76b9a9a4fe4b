"""Dumping records without marshmallow's per-field machinery, to the same output.

Marshmallow serialises each field of each object through four calls (`Field.serialize`, the
field's `get_value`, the schema's accessor, `utils.get_value`) before the field formats its value:
a page of 100 records pays that about 1,300 times. `FastDump` plans each schema once instead: for
every field, the attribute to read and a function formatting its value, taken from the field's
own class so the result is what marshmallow gives. A field whose formatting only it knows keeps
its own `_serialize`; one that reads its value its own way (a Method, a Function, a Constant, a
dotted attribute) keeps its own `serialize`; a schema with dump hooks, an accessor or `_serialize`
of its own, or an object that marshmallow would index by key (a mapping) is left to marshmallow
whole. tests/test_dumping.py holds the two to the same output for every schema that uses it.
"""

import operator
from collections.abc import Callable

import marshmallow as ma
from marshmallow import fields
from marshmallow.decorators import POST_DUMP, PRE_DUMP
from marshmallow.utils import ensure_text_type
from sqlalchemy.engine import Row


def _same(value):
    return value


def _text(value):
    return value if type(value) is str else ensure_text_type(value)


def formatter(field):
    """What `field._serialize(value, ...)` gives for a value that is not None, as a function of the
    value alone; None where the field's own class decides it some other way."""
    serialize = type(field)._serialize
    if serialize is fields.Field._serialize:  # Raw, and any field that passes its value through
        return _same
    if serialize is fields.String._serialize:
        return _text
    if serialize is fields.UUID._serialize:
        return str
    if (
        serialize is fields.Number._serialize
        and type(field)._format_num is fields.Number._format_num
        and not field.as_string
    ):
        return field.num_type
    if serialize is fields.DateTime._serialize:
        form = field.format or field.DEFAULT_FORMAT
        return field.SERIALIZATION_FUNCS.get(form) or operator.methodcaller("strftime", form)
    if serialize is fields.List._serialize:
        inner = formatter(field.inner)
        if inner is None:
            return None
        return lambda items: [None if item is None else inner(item) for item in items]
    if serialize is fields.Enum._serialize:
        inner = formatter(field.field)
        if inner is None:
            return None
        if field.by_value:
            return lambda member: inner(member.value)
        return lambda member: inner(member.name)
    return None


def reads_plainly(field, attr):
    """Whether marshmallow would take the field's value as getattr(obj, attr) (for an object that
    is not a mapping) and hand it to the field's `_serialize`."""
    kind = type(field)
    return (
        kind.serialize is fields.Field.serialize
        and kind.get_value is fields.Field.get_value
        and field._CHECK_ATTRIBUTE
        and "." not in attr
    )


_MISSING = ma.missing


def plan(schema):
    """The function dumping one object as `schema` would, or None if the schema must do it."""
    if (
        schema._hooks[PRE_DUMP]
        or schema._hooks[POST_DUMP]
        or type(schema).get_attribute is not ma.Schema.get_attribute
        or schema.dict_class is not dict
        or type(schema)._serialize is not ma.Schema._serialize
    ):
        return None
    planned = []
    for name, field in schema.dump_fields.items():
        key = field.data_key if field.data_key is not None else name
        attr = field.attribute if field.attribute is not None else name
        if reads_plainly(field, attr):
            planned.append((key, attr, formatter(field), field, name))
        else:
            planned.append((key, None, None, field, name))
    steps = tuple(planned)
    accessor = schema.get_attribute

    def dump_one(obj):
        out = {}
        for key, attr, format_value, field, name in steps:
            value = _MISSING if attr is None else getattr(obj, attr, _MISSING)
            if value is _MISSING:
                # The field's own way, with its default: what marshmallow does for every field.
                value = field.serialize(name, obj, accessor=accessor)
                if value is _MISSING:
                    continue
            elif value is None:
                value = None if format_value is not None else field._serialize(None, name, obj)
            elif format_value is not None:
                value = format_value(value)
            else:
                value = field._serialize(value, name, obj)
            out[key] = value
        return out

    return dump_one


class FastDump(ma.Schema):
    """A schema that dumps objects through its plan (see above) and anything else as marshmallow."""

    _dump_one: Callable | None = None
    _planned = False

    def dump(self, obj, *, many=None):
        many = self.many if many is None else bool(many)
        if not self._planned:
            self._dump_one, self._planned = plan(self), True
        dump_one = self._dump_one
        if dump_one is None or obj is None:
            return super().dump(obj, many=many)
        if many:
            items = obj if isinstance(obj, list) else list(obj)
            if not all(_read_by_attribute(item) for item in items):
                return super().dump(items, many=many)
            return [dump_one(item) for item in items]
        if not _read_by_attribute(obj):
            return super().dump(obj, many=many)
        return dump_one(obj)


def _read_by_attribute(obj):
    """Whether marshmallow would read obj's values as attributes: it tries obj[key] first on
    anything indexable, which for a tuple (a namedtuple) or a SQLAlchemy Row fails on a name."""
    return not hasattr(type(obj), "__getitem__") or isinstance(obj, tuple | Row)
