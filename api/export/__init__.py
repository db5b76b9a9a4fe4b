"""GET /v1/me/export: everything a patient owns, streamed as JSON, a zip of CSVs or a FHIR Bundle."""
