"""Marshmallow fields shared by resources: timestamps, e-mail, time zones, countries, text."""

import functools
import importlib.resources
import re
import uuid
from datetime import UTC, datetime

import marshmallow as ma
import pycountry

from api.smorest.conventions import TIMESTAMP_MAX_LENGTH

# The instants a timestamp may name: far enough either way for any journal, and near enough
# that converting to UTC can never leave the range a datetime can hold. Checked in UTC, so every
# timestamp the API returns can be sent back. The spec's pattern documents the years 1901 to
# 2198 as written, which any UTC offset keeps inside the range.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
RFC_3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
YEAR_PATTERN = "^(19(0[1-9]|[1-9][0-9])|20[0-9]{2}|21([0-8][0-9]|9[0-8]))-"


class Timestamp(ma.fields.AwareDateTime):
    """RFC 3339 date-time that must carry an offset, from 1900 to 2199 in UTC; loaded as UTC."""

    default_error_messages = {"out_of_range": "Must be from 1900-01-01T00:00:00Z to 2199-12-31T23:59:59Z."}

    def __init__(self, **kwargs):
        kwargs.setdefault("format", "iso")
        # Only what a client sends carries the pattern: shapes.py drops it from response schemas.
        kwargs["metadata"] = {"pattern": YEAR_PATTERN, **kwargs.get("metadata", {})}
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        # RFC 3339 only: Python's fromisoformat would also take week dates, basic forms, a space
        # for T, minutes without seconds and offsets with seconds.
        if not (isinstance(value, str) and len(value) <= TIMESTAMP_MAX_LENGTH and RFC_3339.fullmatch(value)):
            raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE)
        moment = super()._deserialize(value.upper(), attr, data, **kwargs)
        # Years 1 and 9999 could overflow on the way to UTC; they are far outside the range anyway.
        if not 2 <= moment.year <= 9998 or not EARLIEST <= moment.astimezone(UTC) < LATEST:
            raise self.make_error("out_of_range")
        return moment.astimezone(UTC)


class BoundedList(ma.fields.List):
    """A list with a maximum length that is checked before its items are: a body with 200,000
    bad items costs one error, not 200,000. (The Length validator also gives the spec its
    minItems/maxItems.)"""

    def __init__(self, cls_or_instance, *, max_items, min_items=None, validate=(), **kwargs):
        self.max_items = max_items
        self.length = ma.validate.Length(min=min_items, max=max_items)
        extra = [validate] if callable(validate) else list(validate)
        super().__init__(cls_or_instance, validate=[self.length, *extra], **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, list | tuple) and len(value) > self.max_items:
            raise ma.ValidationError(self.length.message_max.format(max=self.max_items))
        return super()._deserialize(value, attr, data, **kwargs)


class Text(ma.fields.String):
    """A string trimmed of surrounding white space, with a length range (always bounded)."""

    def __init__(self, *, max_length, min_length=None, **kwargs):
        kwargs.setdefault("validate", ma.validate.Length(min=min_length, max=max_length))
        if min_length:
            # White space alone trims to nothing, and the spec says so: some character that is not
            # white space as str.strip() sees it (which also strips \x1c-\x1f and \x85, characters
            # not every regex engine counts in \s).
            kwargs["metadata"] = {"pattern": r"[^\s\x1c-\x1f\x85]", **kwargs.get("metadata", {})}
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).strip()


class EmailAddress(ma.fields.Email):
    """An e-mail address, normalised to lower case so uniqueness ignores case."""

    def __init__(self, **kwargs):
        kwargs.setdefault("validate", ma.validate.Length(max=254))
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            value = value.strip().lower()
        return super()._deserialize(value, attr, data, **kwargs)


@functools.cache
def time_zone_names():
    """The zone names of the pinned tzdata package: the same on every machine (the system's own
    zone files may add names such as `localtime`), and the spec's TimeZone enum."""
    return tuple(sorted(importlib.resources.files("tzdata").joinpath("zones").read_text().split()))


class TimeZoneName(ma.fields.String):
    """An IANA time zone name such as America/New_York."""

    def __init__(self, **kwargs):
        kwargs.setdefault(
            "validate",
            ma.validate.OneOf(
                time_zone_names(), error="Not an IANA time zone name (for example Europe/Berlin)."
            ),
        )
        kwargs["metadata"] = {
            "example": "Europe/Berlin",
            "enum_name": "TimeZone",
            "enum_description": "An IANA time zone name, as the tz database of the server's pinned "
            "tzdata release lists it.",
            **kwargs.get("metadata", {}),
        }
        super().__init__(**kwargs)


@functools.cache
def country_codes():
    """The ISO 3166-1 alpha-2 codes of the pinned pycountry, sorted: the spec's Country enum."""
    return tuple(sorted(country.alpha_2 for country in pycountry.countries))


class CountryCode(ma.fields.String):
    """An ISO 3166-1 alpha-2 country code, upper-cased; `UK` (ISO's reserved alias) means GB."""

    def __init__(self, **kwargs):
        kwargs.setdefault(
            "validate",
            ma.validate.OneOf(
                country_codes(), error="Not an ISO 3166-1 alpha-2 country code (for example US)."
            ),
        )
        kwargs["metadata"] = {
            "example": "US",
            "enum_name": "Country",
            "enum_description": "An ISO 3166-1 alpha-2 country code. On input, lower case and `UK` "
            "(for GB) are accepted too; the server stores and returns the code as listed.",
            **kwargs.get("metadata", {}),
        }
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and value.upper() == "UK":
            value = "GB"
        return super()._deserialize(value.upper() if isinstance(value, str) else value, attr, data, **kwargs)


def Version(**kwargs):
    """A record's version: 1 when created, one more with each change; its ETag is `"<version>"`."""
    return ma.fields.Integer(
        dump_only=True, metadata={"minimum": 1, "maximum": 2**31 - 1, "example": 3}, **kwargs
    )


class WholeNumber(ma.fields.Integer):
    """A JSON integer: 7, or 7.0 (JSON Schema counts a number with no fraction as an integer, and
    some clients write every number with one). Not "7", not 7.5, not true."""

    def __init__(self, **kwargs):
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return super()._deserialize(value, attr, data, **kwargs)


class Number(ma.fields.Float):
    """A JSON number: not "7" or "1_0", which float() would take and a `type: number` schema
    refuses. -0.0 is stored as 0.0, so every read gives the same answer."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid", input=value)
        return super()._deserialize(value, attr, data, **kwargs) + 0.0


UUID_FORM = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


class UUID(ma.fields.UUID):
    """A UUID in its usual 8-4-4-4-12 form, the spec's `format: uuid`: not the braces, URN or bare
    hex forms uuid.UUID() would also take."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, uuid.UUID):  # the demo and other server-side callers pass UUIDs
            return value
        if not (isinstance(value, str) and UUID_FORM.fullmatch(value)):
            raise self.make_error("invalid_uuid")
        return super()._deserialize(value, attr, data, **kwargs)


class StrictBoolean(ma.fields.Boolean):
    """JSON true or false; not 1, 0, "yes" or "true", which a `type: boolean` schema refuses too."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


def Score(low, high, **kwargs):
    """An integer rating on a closed scale, e.g. mood 1-10."""
    return WholeNumber(validate=ma.validate.Range(low, high), **kwargs)
