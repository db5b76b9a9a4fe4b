"""The export's query and, for the spec, the shapes of its JSON and FHIR documents."""

import enum

import marshmallow as ma

from api.accounts.schemas import UserSchema
from api.export.document import FORMAT_NAME, FORMAT_VERSION
from api.export.service import SECTIONS
from api.fields import Timestamp
from api.plans.schemas import PlanSchema

# No journal has this many records of one kind; the bound is there because every array in the
# spec has one (OWASP API4), and it is not enforced.
MAX_RECORDS = 10_000_000


class ExportFormat(enum.StrEnum):
    """What GET /v1/me/export writes: `json` (one document), `csv` (a zip of CSV files) or
    `fhir` (a FHIR R4 Bundle)."""

    JSON = "json"
    CSV = "csv"
    FHIR = "fhir"


class ExportQuerySchema(ma.Schema):
    format = ma.fields.Enum(
        ExportFormat,
        by_value=True,
        load_default=ExportFormat.JSON,
        metadata={"description": "Default `json`."},
    )


def _sections():
    return {
        section.name: ma.fields.List(
            ma.fields.Nested(section.schema),
            dump_only=True,
            validate=ma.validate.Length(max=MAX_RECORDS),
            metadata={"description": f"Every live record of yours in `{section.name}`, oldest first."},
        )
        for section in SECTIONS
    }


JournalExportSchema = ma.Schema.from_dict(
    {
        "format": ma.fields.Constant(FORMAT_NAME, dump_only=True),
        "format_version": ma.fields.Integer(
            dump_only=True,
            metadata={
                "minimum": FORMAT_VERSION,
                "maximum": FORMAT_VERSION,
                "description": "The layout of this document; a change to it gets a new number.",
            },
        ),
        "exported_at": Timestamp(dump_only=True),
        "profile": ma.fields.Nested(UserSchema, dump_only=True),
        "integration_plan": ma.fields.Nested(
            PlanSchema,
            dump_only=True,
            metadata={
                "description": "Your integration plan (the default one while you have none of your own)."
            },
        ),
        **_sections(),
    },
    name="JournalExport",
)


class FhirEntrySchema(ma.Schema):
    fullUrl = ma.fields.String(
        dump_only=True, metadata={"maxLength": 45, "example": "urn:uuid:6f1c2a9e-7b4d-4e2a-9c1f-5d6e7a8b9c0d"}
    )
    resource = ma.fields.Dict(
        dump_only=True,
        metadata={
            "description": "A FHIR R4 resource: Patient, MedicationAdministration, Observation "
            "or QuestionnaireResponse."
        },
    )


class FhirBundleSchema(ma.Schema):
    resourceType = ma.fields.Constant("Bundle", dump_only=True)
    id = ma.fields.UUID(dump_only=True)
    type = ma.fields.Constant("collection", dump_only=True)
    timestamp = Timestamp(dump_only=True)
    entry = ma.fields.List(
        ma.fields.Nested(FhirEntrySchema), dump_only=True, validate=ma.validate.Length(max=MAX_RECORDS)
    )
