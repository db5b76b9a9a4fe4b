"""Render the OpenAPI document; `python -m api.spec openapi/openapi.json` (make spec) writes it."""

import json
import sys
from pathlib import Path


def render(app):
    """The spec exactly as GET /openapi.json serves it, with stable key order for review."""
    spec = app.extensions["flask-smorest"]["apis"][""]["ext_obj"].spec.to_dict()
    return json.dumps(spec, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(path):
    from api.app import create_app
    from config import TestingConfig

    Path(path).write_text(render(create_app(TestingConfig)))


if __name__ == "__main__":
    main(sys.argv[1])
