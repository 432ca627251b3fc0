"""The published API as the tests know it: the transcribed schema (spec/) and the spec's example item."""

from __future__ import annotations

import json
from pathlib import Path

from jsonschema import Draft202012Validator

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "spec" / "usersnap-api-v0.1.schema.json").read_text())


def spec_example_item() -> dict:
    """The feedback item of the spec's own example, verbatim."""
    return json.loads((ROOT / "tests" / "fixtures" / "spec_example_feedback.json").read_text())


def published(definition: str) -> Draft202012Validator:
    """A validator for one object of the schema (``Feedback``, ``FeedbackListResponse``, …)."""
    return Draft202012Validator({"$ref": f"#/$defs/{definition}", "$defs": SCHEMA["$defs"]})


def violations(definition: str, instance) -> list[str]:
    return [f"{'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}"
            for error in published(definition).iter_errors(instance)]
