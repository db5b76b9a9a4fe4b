"""/v1/me/export: the patient's whole journal, streamed, in the format they ask for."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from flask import Response, g, request, stream_with_context
from flask.views import MethodView
from flask_jwt_extended import current_user
from werkzeug.exceptions import MethodNotAllowed

from api import logs
from api.access import PATIENTS, auth_required
from api.export import service
from api.export.document import json_export
from api.export.fhir import fhir_bundle
from api.export.schemas import (
    ExportFormat,
    ExportQuerySchema,
    FhirBundleSchema,
    JournalExportSchema,
)
from api.export.tables import csv_zip, described
from api.extensions import db
from api.models import utcnow
from api.ratelimit import account_key, rate_limit
from api.smorest import Blueprint
from api.smorest.conventions import document, operation

blp = Blueprint(
    "export", __name__, url_prefix="/v1/me/export", description="Everything you own, to take with you."
)


@dataclass(frozen=True)
class Writer:
    media_type: str
    extension: str
    write: Callable[..., Iterator[bytes]]  # (owner_id=, exported_at=) -> the export's bytes


WRITERS = {
    ExportFormat.JSON: Writer("application/json", "json", json_export),
    ExportFormat.CSV: Writer("application/zip", "zip", csv_zip),
    ExportFormat.FHIR: Writer("application/fhir+json", "fhir.json", fhir_bundle),
}

CONTENT_DISPOSITION = {
    "Content-Disposition": {
        "description": "Save as `integration-journal-<UTC date>.json`, `.zip` or `.fhir.json`.",
        "required": True,
        "schema": {
            "type": "string",
            "maxLength": 80,
            "pattern": r'^attachment; filename="integration-journal-[0-9]{4}-[0-9]{2}-[0-9]{2}'
            r'\.(json|zip|fhir\.json)"$',
        },
    }
}

ZIP_EXAMPLE = "(a zip archive of the CSV files listed above)"
FHIR_EXAMPLE = {
    "resourceType": "Bundle",
    "id": "0b3e2a8c-4f5d-5e6a-8b7c-9d0e1f2a3b4c",
    "type": "collection",
    "timestamp": "2026-03-14T09:30:00+00:00",
    "entry": [
        {
            "fullUrl": "urn:uuid:6f1c2a9e-7b4d-4e2a-9c1f-5d6e7a8b9c0d",
            "resource": {
                "resourceType": "Patient",
                "id": "6f1c2a9e-7b4d-4e2a-9c1f-5d6e7a8b9c0d",
                "name": [{"text": "Ana Lima"}],
                "telecom": [{"system": "email", "value": "ana@example.org"}],
            },
        }
    ],
}

# Exports are counted when they are made (a 200): a request refused for its format or its token
# does not use one up.
export_limit = rate_limit(
    "RATELIMIT_EXPORT_PER_USER", key_func=account_key, counts=lambda answered: answered == 200
)


def streamed(chunks, export_format):
    """The export's bytes, read in their own transaction after the request's has committed.

    Once the first byte is out, the status (200) can no longer change. If reading fails midway
    (the database goes away), the error is logged (its type, no data) and raised on: the server
    ends the response without its last chunk, and what was sent cannot be taken for an export,
    because each format is only readable whole (a JSON document without its closing brackets, a
    zip without its central directory).
    """
    try:
        service.begin_snapshot()
        yield from chunks
    except Exception as error:
        logs.failure("export_interrupted", error, format=export_format)
        raise
    finally:
        db.session.rollback()


@blp.route("")
class Export(MethodView):
    @auth_required(roles=PATIENTS, fresh=True)
    @operation("exportMyData")
    @export_limit
    @blp.arguments(ExportQuerySchema, location="query")
    @blp.response(200, JournalExportSchema, headers=CONTENT_DISPOSITION)
    @document(
        responses={
            200: {
                "content": {
                    "application/zip": {
                        # OpenAPI 3.1 names binary content by its media type alone (no `type`:
                        # the body is bytes, not a JSON string).
                        "schema": {
                            "contentMediaType": "application/zip",
                            "description": "A zip archive of CSV files.",
                        },
                        "example": ZIP_EXAMPLE,
                    },
                    "application/fhir+json": {
                        "schema": FhirBundleSchema,
                        "example": FHIR_EXAMPLE,
                    },
                }
            }
        }
    )
    def get(self, query):
        """Download everything you own: your profile and every record.

        Needs a fresh token (from a password sign-in, not a refresh) and is limited per account
        (`RATELIMIT_EXPORT_PER_USER`, 5 per hour by default; 429 with `Retry-After` beyond). Each
        export is an `export` event in your access log. Deleted records are left out. The
        response streams, so a long journal starts downloading at once; a download that ends
        early is never a readable file.

        `format` picks what you get (default `json`):

        - `json` (`application/json`): one document: `format`, `format_version`, `exported_at`,
          `profile`, then `sessions`, `entries`, `moods`, `contacts`, `practices`, `assessments`
          and `safety_events`, each record as the API shows it (its GET; safety events as
          `GET /v1/me/safety-events` lists them), oldest first.
        - `csv` (`application/zip`): a zip of UTF-8 CSV files with a header row. A list is one
          cell, its values joined with `;` (a `;` or `\\` inside a value is escaped with `\\`);
          an empty cell is null. A text cell that starts with `=`, `+`, `-`, `@`, a tab or a
          carriage return gets an apostrophe in front, so that spreadsheet programs show it as
          text instead of running it as a formula. The files and their columns:

          {tables}

        - `fhir` (`application/fhir+json`): a FHIR R4 `Bundle` of type `collection`: the
          `Patient`; each session as a `MedicationAdministration` (route as SNOMED CT, dose in
          mg) with its vitals as vital-signs `Observation`s part of it (blood pressure panel
          85354-9 with systolic 8480-6 and diastolic 8462-4; heart rate 8867-4); each mood
          check-in as an `Observation`; each assessment as a `QuestionnaireResponse` (answers
          under the LOINC item codes, or under the item numbers where
          `GET /v1/reference/instruments` has no LOINC code, as for PCL-5) and a survey
          `Observation` of its total (LOINC 44261-6 PHQ-9, 70274-6 GAD-7, 101698-9 PCL-5)
          derived from it. Entries are `urn:uuid:` ids; ids are stable from one export to the
          next.
        """
        if request.method == "HEAD":
            # A HEAD keeps no audit event (api/transactions.py), but its 200 would still use up
            # one of the account's exports.
            raise MethodNotAllowed(valid_methods=["GET"])
        writer = WRITERS[query["format"]]
        service.record_export(actor=current_user, request_id=g.request_id)
        exported_at = utcnow()
        chunks = writer.write(owner_id=current_user.id, exported_at=exported_at)
        filename = f"integration-journal-{exported_at.date().isoformat()}.{writer.extension}"
        return Response(
            stream_with_context(streamed(chunks, query["format"].value)),
            mimetype=writer.media_type,
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    get.__doc__ = (get.__doc__ or "").replace("{tables}", described().replace("\n", "\n          "))
